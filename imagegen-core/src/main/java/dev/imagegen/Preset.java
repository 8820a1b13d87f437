package dev.imagegen;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * A named partial request: a prompt template and defaults for the fields a request leaves unset.
 * A request that names a preset keeps every field it sets; the preset fills the rest.
 *
 * <p>The template's {@code {prompt}} is replaced with the request's prompt; a template without
 * {@code {prompt}} is appended to it after {@code ", "}. Immutable.
 *
 * @param name the name requests use
 * @param promptTemplate the prompt template
 * @param negativePrompt the negative prompt, or null
 * @param model the model, or null
 * @param width width, or null
 * @param height height, or null
 * @param steps steps, or null
 * @param guidanceScale guidance, or null
 * @param style a style, or null
 * @param qualityEnhancers enhancers
 */
public record Preset(String name, String promptTemplate, @Nullable String negativePrompt, @Nullable String model,
    @Nullable Integer width, @Nullable Integer height, @Nullable Integer steps, @Nullable Double guidanceScale,
    @Nullable String style, List<String> qualityEnhancers) {

  /** Scattered flowers on a plain background, for product and shop imagery. */
  public static final Preset SCATTER_FLOWERS = new Preset("scatter_flowers",
      "{prompt}, flowers scattered loosely across a clean flat surface, top-down view, soft natural light, pastel tones",
      "clutter, text, watermark, people, hands, blurry", null, 1024, 1024, null, null, null, List.of("high_detail"));

  /** A wide, calm hero image for a web page header, with space for text. */
  public static final Preset HERO_BACKGROUND = new Preset("hero_background",
      "{prompt}, wide hero background, negative space for headline text, soft gradient lighting, uncluttered composition",
      "text, watermark, logo, busy background, people, blurry", null, 1536, 640, null, null, null,
      List.of("professional_lighting", "cinematic"));

  /** Copies the list. */
  public Preset {
    qualityEnhancers = List.copyOf(qualityEnhancers);
  }

  /** The built-in presets. */
  public static List<Preset> builtIns() {
    return List.of(SCATTER_FLOWERS, HERO_BACKGROUND);
  }

  /**
   * The prompt for a request's prompt.
   *
   * @param prompt the request's prompt
   */
  public String prompt(String prompt) {
    if (promptTemplate.contains("{prompt}")) {
      return promptTemplate.replace("{prompt}", prompt.strip());
    }
    return prompt.strip() + ", " + promptTemplate;
  }

  /**
   * Fills what a request leaves unset.
   *
   * @param r the request (its preset names this preset)
   * @return the merged request, validated again
   */
  public ImageGenerationRequest applyTo(ImageGenerationRequest r) {
    ImageGenerationRequest.Builder b = r.toBuilder().prompt(prompt(r.prompt())).preset(null);
    if (r.negativePrompt() == null && negativePrompt != null) {
      b.negativePrompt(negativePrompt);
    }
    if (r.model() == null) {
      b.model(model);
    }
    if (r.width() == null && r.height() == null && width != null && height != null) {
      b.size(width, height);
    }
    if (r.steps() == null) {
      b.steps(steps);
    }
    if (r.guidanceScale() == null) {
      b.guidanceScale(guidanceScale);
    }
    if (r.style() == null) {
      b.style(style);
    }
    if (r.qualityEnhancers().isEmpty()) {
      b.qualityEnhancers(qualityEnhancers);
    }
    return b.build();
  }

  /**
   * Loads presets from a JSON file (an object of name to fields: {@code prompt}, {@code negative_prompt},
   * {@code model}, {@code width}, {@code height}, {@code steps}, {@code guidance}, {@code style},
   * {@code enhancers}) or a properties file ({@code <name>.prompt=...}, same field names).
   *
   * @param file a {@code .json} or {@code .properties} file
   * @return the presets, in file order for JSON
   * @throws InvalidRequestException listing every problem in the file
   * @throws UncheckedIOException when the file cannot be read
   */
  public static List<Preset> load(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      Map<String, Map<String, String>> raw = new LinkedHashMap<>();
      if (file.getFileName().toString().endsWith(".json")) {
        JsonNode root = new ObjectMapper().readTree(in);
        if (root == null || !root.isObject()) {
          throw new InvalidRequestException("preset file " + file + " must hold a JSON object of presets", null);
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> e = it.next();
          Map<String, String> fields = new LinkedHashMap<>();
          e.getValue().fields().forEachRemaining(f -> fields.put(f.getKey(),
              f.getValue().isArray() ? join(f.getValue()) : f.getValue().asText()));
          raw.put(e.getKey(), fields);
        }
      } else {
        Properties p = new Properties();
        p.load(in);
        for (String k : new TreeSet<>(p.stringPropertyNames())) {
          int dot = k.indexOf('.');
          if (dot > 0) {
            raw.computeIfAbsent(k.substring(0, dot), x -> new LinkedHashMap<>()).put(k.substring(dot + 1), p.getProperty(k));
          }
        }
      }
      List<String> problems = new ArrayList<>();
      List<Preset> out = new ArrayList<>();
      raw.forEach((name, f) -> {
        try {
          out.add(fromFields(name, f));
        } catch (RuntimeException e) {
          problems.add("preset '" + name + "': " + e.getMessage());
        }
      });
      if (!problems.isEmpty()) {
        throw new InvalidRequestException(problems, null, null);
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read presets from " + file, e);
    }
  }

  private static String join(JsonNode arr) {
    List<String> s = new ArrayList<>();
    arr.forEach(x -> s.add(x.asText()));
    return String.join(",", s);
  }

  private static Preset fromFields(String name, Map<String, String> f) {
    String prompt = f.get("prompt");
    if (prompt == null || prompt.isBlank()) {
      throw new IllegalArgumentException("needs a prompt template");
    }
    String style = f.get("style");
    if (style != null && PromptStyles.styleText(style) == null) {
      throw new IllegalArgumentException("unknown style '" + style + "'");
    }
    List<String> enh = new ArrayList<>();
    if (f.get("enhancers") != null) {
      for (String e : f.get("enhancers").split(",")) {
        if (!e.isBlank()) {
          if (PromptStyles.enhancerText(e.strip()) == null) {
            throw new IllegalArgumentException("unknown quality enhancer '" + e.strip() + "'");
          }
          enh.add(e.strip());
        }
      }
    }
    return new Preset(name, prompt, f.get("negative_prompt"), f.get("model"), integer(f.get("width")), integer(f.get("height")),
        integer(f.get("steps")), f.get("guidance") == null ? null : Double.valueOf(f.get("guidance")), style, enh);
  }

  private static @Nullable Integer integer(@Nullable String s) {
    return s == null ? null : Integer.valueOf(s.strip());
  }
}
