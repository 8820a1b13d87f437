package dev.imagegen.provider.runpod;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.DoubleNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.spi.SoftInput;
import java.io.UncheckedIOException;
import java.util.Base64;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Maps a request onto a worker's {@code input}: the contract of runpod-workers/worker-sdxl by
 * default, or an operator's JSON template whose {@code {{placeholders}}} are replaced by the
 * request's values. Immutable and thread-safe.
 *
 * <p>worker-sdxl input (unknown keys are rejected, types are strict):
 * <pre>{"prompt":"a red fox","negative_prompt":"blurry","width":1024,"height":1024,"seed":42,
 *  "num_inference_steps":25,"guidance_scale":7.5,"num_images":1,"scheduler":"K_EULER"}</pre>
 */
final class RunPodInput {
  /** The placeholders a template may use. */
  static final Set<String> PLACEHOLDERS = Set.of("prompt", "negative_prompt", "width", "height", "seed", "steps", "guidance",
      "num_images", "image", "mask", "strength", "sampler", "model", "output_format");
  /** worker-sdxl's most images per job. */
  static final int SDXL_MAX_IMAGES = 2;

  private static final Pattern ANY = Pattern.compile("\\{\\{\\s*([^{}]*?)\\s*\\}\\}");
  private static final Pattern WHOLE = Pattern.compile("^\\{\\{\\s*([A-Za-z_]+)\\s*\\}\\}$");
  private static final Map<String, String> SCHEDULERS = schedulers();

  private final @Nullable JsonNode template;
  private final Set<String> used;
  private final String source;

  private RunPodInput(@Nullable JsonNode template, Set<String> used, String source) {
    this.template = template;
    this.used = Set.copyOf(used);
    this.source = source;
  }

  /** worker-sdxl's input contract. */
  static RunPodInput sdxl() {
    return new RunPodInput(null, Set.of(), "worker-sdxl");
  }

  /**
   * An operator's template.
   *
   * @param providerId the provider id, for messages
   * @param key the configuration key it came from
   * @param text the JSON text of the {@code input} object
   * @param mapper the JSON mapper
   * @throws IllegalStateException naming the key when the text is not a JSON object or uses an unknown placeholder
   */
  static RunPodInput template(String providerId, String key, String text, ObjectMapper mapper) {
    String json = quoteBarePlaceholders(text);
    Set<String> used = new LinkedHashSet<>();
    Set<String> unknown = new TreeSet<>();
    Matcher m = ANY.matcher(json);
    while (m.find()) {
      String name = m.group(1);
      if (PLACEHOLDERS.contains(name)) {
        used.add(name);
      } else {
        unknown.add("{{" + name + "}}");
      }
    }
    if (!unknown.isEmpty()) {
      throw new IllegalStateException(providerId + ": '" + key + "' uses unknown placeholders " + unknown + " (known: "
          + new TreeSet<>(PLACEHOLDERS) + ")");
    }
    JsonNode tree;
    try {
      tree = mapper.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(providerId + ": '" + key + "' is not valid JSON: " + e.getOriginalMessage());
    }
    if (tree == null || !tree.isObject()) {
      throw new IllegalStateException(providerId + ": '" + key + "' must be a JSON object (the job's input)");
    }
    return new RunPodInput(tree, used, key);
  }

  /** Whether this is an operator's template rather than worker-sdxl's contract. */
  boolean isTemplate() {
    return template != null;
  }

  /** Where the mapping comes from: {@code worker-sdxl} or the configuration key of the template. */
  String source() {
    return source;
  }

  /**
   * The soft inputs this mapping cannot carry: for a template, those whose placeholder
   * ({@code {{negative_prompt}}}, {@code {{sampler}}}, {@code {{guidance}}}, {@code {{steps}}}) it
   * does not use; none for worker-sdxl's contract.
   */
  Set<SoftInput> ignoredInputs() {
    EnumSet<SoftInput> out = EnumSet.noneOf(SoftInput.class);
    if (template == null) {
      return out;
    }
    if (!used.contains("negative_prompt")) {
      out.add(SoftInput.NEGATIVE_PROMPT);
    }
    if (!used.contains("sampler")) {
      out.add(SoftInput.SAMPLER);
    }
    if (!used.contains("guidance")) {
      out.add(SoftInput.GUIDANCE);
    }
    if (!used.contains("steps")) {
      out.add(SoftInput.STEPS);
    }
    return out;
  }

  /** Whether the mapping carries a seed. */
  boolean seed() {
    return template == null || used.contains("seed");
  }

  /** Whether the mapping carries an init image. */
  boolean img2img() {
    return template != null && used.contains("image");
  }

  /** Whether the mapping carries an inpainting mask. */
  boolean mask() {
    return template != null && used.contains("mask");
  }

  /**
   * The most images one job of this mapping can produce.
   *
   * @param configured the operator's {@code max-images}, or null
   */
  int maxImages(@Nullable Integer configured) {
    if (template != null && !used.contains("num_images")) {
      return 1;
    }
    if (configured != null) {
      return configured;
    }
    return template == null ? SDXL_MAX_IMAGES : ImageGenerationRequest.MAX_IMAGES;
  }

  /**
   * Builds the job's {@code input}.
   *
   * @param request the request (prompt final)
   * @param model the model name to put in {@code {{model}}}, or null
   * @param providerId the provider id, for messages
   * @param mapper the JSON mapper
   * @param warnings receives what the caller should know (a sampler the worker does not take)
   * @throws InvalidRequestException when the request cannot be expressed in this mapping
   */
  ObjectNode render(ImageGenerationRequest request, @Nullable String model, String providerId, ObjectMapper mapper,
      List<String> warnings) {
    if (template == null) {
      return sdxlInput(request, providerId, mapper, warnings);
    }
    Map<String, JsonNode> values = values(request, model, providerId);
    JsonNode out = substitute(template, values);
    return out instanceof ObjectNode o ? o : mapper.createObjectNode();
  }

  private static ObjectNode sdxlInput(ImageGenerationRequest r, String providerId, ObjectMapper mapper, List<String> warnings) {
    if (!r.inputImages().isEmpty()) {
      throw new InvalidRequestException("worker-sdxl's default input mapping takes no input images; configure an"
          + " input-template with {{image}} for a worker that does", providerId);
    }
    ObjectNode in = mapper.createObjectNode();
    in.put("prompt", r.prompt());
    String negative = r.effectiveNegativePrompt();
    if (negative != null) {
      in.put("negative_prompt", negative);
    }
    if (r.width() != null) {
      in.put("width", r.width().intValue());
    }
    if (r.height() != null) {
      in.put("height", r.height().intValue());
    }
    if (r.seed() != null) {
      in.put("seed", r.seed().longValue());
    }
    if (r.steps() != null) {
      in.put("num_inference_steps", r.steps().intValue());
    }
    if (r.guidanceScale() != null) {
      in.put("guidance_scale", r.guidanceScale().doubleValue());
    }
    in.put("num_images", r.numImages());
    if (r.sampler() != null && !r.sampler().isBlank()) {
      String scheduler = scheduler(r.sampler());
      if (scheduler != null) {
        in.put("scheduler", scheduler);
      } else {
        warnings.add("sampler '" + r.sampler() + "' is not one of worker-sdxl's schedulers " + new TreeSet<>(SCHEDULERS.values())
            + "; the worker's default was used");
      }
    }
    return in;
  }

  /**
   * worker-sdxl's scheduler for a sampler name, or null when it has none.
   *
   * @param sampler e.g. {@code euler_a}, {@code K_EULER_ANCESTRAL}, {@code DPM++ 2M}
   */
  static @Nullable String scheduler(String sampler) {
    String k = sampler.toLowerCase(Locale.ROOT).replaceAll("[\\s_+\\-]", "").replace("karras", "");
    return SCHEDULERS.get(k);
  }

  private static Map<String, String> schedulers() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("ddim", "DDIM");
    m.put("pndm", "PNDM");
    m.put("klms", "KLMS");
    m.put("lms", "KLMS");
    m.put("keuler", "K_EULER");
    m.put("euler", "K_EULER");
    m.put("keulerancestral", "K_EULER_ANCESTRAL");
    m.put("eulerancestral", "K_EULER_ANCESTRAL");
    m.put("eulera", "K_EULER_ANCESTRAL");
    m.put("dpmsolvermultistep", "DPMSolverMultistep");
    m.put("dpm2m", "DPMSolverMultistep");
    m.put("dpmpp2m", "DPMSolverMultistep");
    m.put("dpmsolversinglestep", "DPMSolverSinglestep");
    m.put("dpm2s", "DPMSolverSinglestep");
    m.put("dpmpp2s", "DPMSolverSinglestep");
    return Map.copyOf(m);
  }

  private Map<String, JsonNode> values(ImageGenerationRequest r, @Nullable String model, String providerId) {
    Map<String, JsonNode> v = new LinkedHashMap<>();
    v.put("prompt", TextNode.valueOf(r.prompt()));
    String negative = r.effectiveNegativePrompt();
    if (negative != null) {
      v.put("negative_prompt", TextNode.valueOf(negative));
    }
    if (r.width() != null) {
      v.put("width", IntNode.valueOf(r.width()));
    }
    if (r.height() != null) {
      v.put("height", IntNode.valueOf(r.height()));
    }
    if (r.seed() != null) {
      v.put("seed", LongNode.valueOf(r.seed()));
    }
    if (r.steps() != null) {
      v.put("steps", IntNode.valueOf(r.steps()));
    }
    if (r.guidanceScale() != null) {
      v.put("guidance", DoubleNode.valueOf(r.guidanceScale()));
    }
    v.put("num_images", IntNode.valueOf(r.numImages()));
    if (r.strength() != null) {
      v.put("strength", DoubleNode.valueOf(r.strength()));
    }
    if (r.sampler() != null) {
      v.put("sampler", TextNode.valueOf(r.sampler()));
    }
    if (model != null) {
      v.put("model", TextNode.valueOf(model));
    }
    if (r.outputFormat() != null) {
      v.put("output_format", TextNode.valueOf(r.outputFormat()));
    }
    InputImage init = r.initImage();
    if (init != null && used.contains("image")) {
      v.put("image", TextNode.valueOf(imageValue(init, providerId)));
    }
    InputImage mask = r.mask();
    if (mask != null && used.contains("mask")) {
      v.put("mask", TextNode.valueOf(imageValue(mask, providerId)));
    }
    return v;
  }

  private static String imageValue(InputImage image, String providerId) {
    if (image.url() != null) {
      return image.url().toString();
    }
    byte[] bytes;
    try {
      bytes = image.bytes();
    } catch (UncheckedIOException e) {
      throw new InvalidRequestException("cannot read " + image.role().name().toLowerCase(Locale.ROOT) + " image: "
          + e.getMessage(), providerId);
    }
    ImageFormat f = ImageFormat.sniff(bytes);
    return "data:" + (f == null ? "image/png" : f.mediaType()) + ";base64," + Base64.getEncoder().encodeToString(bytes);
  }

  /** A marker for a value whose placeholder had nothing to put in: the field or element is left out. */
  private static final JsonNode ABSENT = JsonNodeFactory.instance.missingNode();

  private static JsonNode substitute(JsonNode node, Map<String, JsonNode> values) {
    if (node.isObject()) {
      ObjectNode out = JsonNodeFactory.instance.objectNode();
      Iterator<Map.Entry<String, JsonNode>> it = node.fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        JsonNode v = substitute(e.getValue(), values);
        if (v != ABSENT) {
          out.set(e.getKey(), v);
        }
      }
      return out;
    }
    if (node.isArray()) {
      ArrayNode out = JsonNodeFactory.instance.arrayNode();
      for (JsonNode e : node) {
        JsonNode v = substitute(e, values);
        if (v != ABSENT) {
          out.add(v);
        }
      }
      return out;
    }
    if (node.isTextual()) {
      String text = node.asText();
      Matcher whole = WHOLE.matcher(text);
      if (whole.matches()) {
        JsonNode v = values.get(whole.group(1));
        return v == null ? ABSENT : v.deepCopy();
      }
      if (text.contains("{{")) {
        Matcher m = ANY.matcher(text);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
          JsonNode v = values.get(m.group(1));
          String s = v == null ? "" : v.isTextual() ? v.asText() : v.toString();
          m.appendReplacement(sb, Matcher.quoteReplacement(s));
        }
        m.appendTail(sb);
        return TextNode.valueOf(sb.toString());
      }
      return node;
    }
    return node.deepCopy();
  }

  /**
   * Puts quotes around placeholders written as bare JSON values ({@code "width": {{width}}}) so
   * that the template parses; a placeholder that is a whole string value is replaced by a JSON value
   * of the right type either way.
   */
  static String quoteBarePlaceholders(String text) {
    StringBuilder sb = new StringBuilder(text.length() + 16);
    boolean inString = false;
    boolean escaped = false;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (inString) {
        sb.append(c);
        if (escaped) {
          escaped = false;
        } else if (c == '\\') {
          escaped = true;
        } else if (c == '"') {
          inString = false;
        }
        continue;
      }
      if (c == '"') {
        inString = true;
        sb.append(c);
        continue;
      }
      if (c == '{' && text.startsWith("{{", i)) {
        int end = text.indexOf("}}", i + 2);
        if (end > 0) {
          sb.append('"').append(text, i, end + 2).append('"');
          i = end + 1;
          continue;
        }
      }
      sb.append(c);
    }
    return sb.toString();
  }

  /**
   * Merges a request's {@code providerOptions("runpod")} into an input: objects merge key by key,
   * anything else replaces what was there, a null value removes the key.
   *
   * @param input the input to change
   * @param options the options, as a JSON object
   */
  static void merge(ObjectNode input, JsonNode options) {
    Iterator<Map.Entry<String, JsonNode>> it = options.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      JsonNode v = e.getValue();
      JsonNode old = input.get(e.getKey());
      if (v == null || v.isNull()) {
        input.remove(e.getKey());
      } else if (v.isObject() && old != null && old.isObject()) {
        merge((ObjectNode) old, v);
      } else {
        input.set(e.getKey(), v.deepCopy());
      }
    }
  }
}
