package dev.imagegen.provider.runpod;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.spi.ImageBytes;
import dev.imagegen.spi.SoftInput;
import java.io.UncheckedIOException;
import java.util.EnumSet;
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

  /** worker-sdxl's input contract as a template; its {@code {{sampler}}} takes worker-sdxl's scheduler names. */
  private static final String SDXL = "{\"prompt\": {{prompt}}, \"negative_prompt\": {{negative_prompt}}, \"width\": {{width}},"
      + " \"height\": {{height}}, \"seed\": {{seed}}, \"num_inference_steps\": {{steps}}, \"guidance_scale\": {{guidance}},"
      + " \"num_images\": {{num_images}}, \"scheduler\": {{sampler}}}";
  private static final Pattern ANY = Pattern.compile("\\{\\{\\s*([^{}]*?)\\s*\\}\\}");
  private static final Pattern WHOLE = Pattern.compile("^\\{\\{\\s*([A-Za-z_]+)\\s*\\}\\}$");
  private static final Map<String, String> SCHEDULERS = new LinkedHashMap<>();
  /** The soft inputs a template may drop, with the placeholder that carries each. */
  private static final Map<SoftInput, String> SOFT_INPUTS = Map.of(SoftInput.NEGATIVE_PROMPT, "negative_prompt",
      SoftInput.SAMPLER, "sampler", SoftInput.GUIDANCE, "guidance", SoftInput.STEPS, "steps");

  static {
    alias("DDIM", "ddim");
    alias("PNDM", "pndm");
    alias("KLMS", "klms", "lms");
    alias("K_EULER", "keuler", "euler");
    alias("K_EULER_ANCESTRAL", "keulerancestral", "eulerancestral", "eulera");
    alias("DPMSolverMultistep", "dpmsolvermultistep", "dpm2m", "dpmpp2m");
    alias("DPMSolverSinglestep", "dpmsolversinglestep", "dpm2s", "dpmpp2s");
  }

  private final JsonNode template;
  private final Set<String> used;
  /** Whether this is worker-sdxl's contract rather than an operator's template. */
  private final boolean sdxl;

  private RunPodInput(JsonNode template, Set<String> used, boolean sdxl) {
    this.template = template;
    this.used = Set.copyOf(used);
    this.sdxl = sdxl;
  }

  private static void alias(String name, String... samplers) {
    for (String s : samplers) {
      SCHEDULERS.put(s, name);
    }
  }

  /**
   * worker-sdxl's input contract.
   *
   * @param mapper the JSON mapper
   */
  static RunPodInput sdxl(ObjectMapper mapper) {
    RunPodInput t = template("runpod", "worker-sdxl", SDXL, mapper);
    return new RunPodInput(t.template, t.used, true);
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
    return new RunPodInput(tree, used, false);
  }

  /**
   * The soft inputs this mapping cannot carry: for a template, those whose placeholder
   * ({@code {{negative_prompt}}}, {@code {{sampler}}}, {@code {{guidance}}}, {@code {{steps}}}) it
   * does not use; none for worker-sdxl's contract.
   */
  Set<SoftInput> ignoredInputs() {
    Set<SoftInput> out = EnumSet.copyOf(SOFT_INPUTS.keySet());
    out.removeIf(input -> used.contains(SOFT_INPUTS.get(input)));
    return out;
  }

  /** Whether the mapping carries a seed. */
  boolean seed() {
    return used.contains("seed");
  }

  /** Whether the mapping carries an init image. */
  boolean img2img() {
    return used.contains("image");
  }

  /** Whether the mapping carries an inpainting mask. */
  boolean mask() {
    return used.contains("mask");
  }

  /**
   * The most images one job of this mapping can produce.
   *
   * @param configured the operator's {@code max-images}, or null
   */
  int maxImages(@Nullable Integer configured) {
    if (!used.contains("num_images")) {
      return 1;
    }
    if (configured != null) {
      return configured;
    }
    return sdxl ? SDXL_MAX_IMAGES : ImageGenerationRequest.MAX_IMAGES;
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
    if (sdxl && !request.inputImages().isEmpty()) {
      throw new InvalidRequestException("worker-sdxl's default input mapping takes no input images; configure an"
          + " input-template with {{image}} for a worker that does", providerId);
    }
    Map<String, JsonNode> values = new LinkedHashMap<>();
    values(request, model, providerId, warnings).forEach((k, v) -> {
      if (v != null) {
        values.put(k, mapper.valueToTree(v));
      }
    });
    JsonNode out = substitute(template, values);
    return out instanceof ObjectNode o ? o : mapper.createObjectNode();
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

  /** The placeholders' values; null where the request has none. */
  private Map<String, @Nullable Object> values(ImageGenerationRequest r, @Nullable String model, String providerId,
      List<String> warnings) {
    Map<String, @Nullable Object> v = new LinkedHashMap<>();
    v.put("prompt", r.prompt());
    v.put("negative_prompt", r.effectiveNegativePrompt());
    v.put("width", r.width());
    v.put("height", r.height());
    v.put("seed", r.seed());
    v.put("steps", r.steps());
    v.put("guidance", r.guidanceScale());
    v.put("num_images", r.numImages());
    v.put("strength", r.strength());
    v.put("sampler", r.sampler());
    if (sdxl) {
      String scheduler = r.sampler() == null || r.sampler().isBlank() ? null : scheduler(r.sampler());
      if (r.sampler() != null && !r.sampler().isBlank() && scheduler == null) {
        warnings.add("sampler '" + r.sampler() + "' is not one of worker-sdxl's schedulers "
            + new TreeSet<>(SCHEDULERS.values()) + "; the worker's default was used");
      }
      v.put("sampler", scheduler);
    }
    v.put("model", model);
    v.put("output_format", r.outputFormat());
    InputImage init = r.initImage();
    if (init != null && used.contains("image")) {
      v.put("image", imageValue(init, providerId));
    }
    InputImage mask = r.mask();
    if (mask != null && used.contains("mask")) {
      v.put("mask", imageValue(mask, providerId));
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
    return ImageBytes.dataUri(bytes, f == null ? "image/png" : f.mediaType());
  }

  /** A marker for a value whose placeholder had nothing to put in: the field or element is left out. */
  private static final JsonNode ABSENT = JsonNodeFactory.instance.missingNode();

  private static JsonNode substitute(JsonNode node, Map<String, JsonNode> values) {
    if (node.isObject()) {
      ObjectNode out = JsonNodeFactory.instance.objectNode();
      node.fields().forEachRemaining(e -> {
        JsonNode v = substitute(e.getValue(), values);
        if (v != ABSENT) {
          out.set(e.getKey(), v);
        }
      });
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
}
