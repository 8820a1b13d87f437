package dev.imagegen.provider.bedrock;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.provider.bedrock.BedrockModels.Family;
import dev.imagegen.spi.ImageDownloader;
import dev.imagegen.spi.ProviderSupport;
import dev.imagegen.spi.SoftInput;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The request bodies of each model family and the reading of their answers. Thread-safe; all
 * methods are static.
 */
final class BedrockMapping {
  /** Nova Canvas's styles ({@code textToImageParams.style}). */
  static final Set<String> NOVA_STYLES = Set.of("3D_ANIMATED_FAMILY_FILM", "DESIGN_SKETCH", "FLAT_VECTOR_ILLUSTRATION",
      "GRAPHIC_NOVEL_ILLUSTRATION", "MAXIMALISM", "MIDCENTURY_RETRO", "PHOTOREALISM", "SOFT_DIGITAL_PAINTING");
  /** Stability's aspect ratios on Bedrock. */
  static final List<String> STABILITY_RATIOS = List.of("16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21");
  /** The {@code providerOptions} keys read. */
  static final Set<String> OPTION_KEYS = Set.of("quality", "style", "similarityStrength", "maskPrompt");
  static final long NOVA_MAX_SEED = 858_993_459L;
  static final long TITAN_MAX_SEED = 2_147_483_646L;
  static final long STABILITY_MAX_SEED = 4_294_967_294L;
  static final int NOVA_MAX_TEXT = 1024;
  static final int TITAN_MAX_TEXT = 512;
  static final int MAX_IMAGES = 5;

  private BedrockMapping() {}

  /** The images a request brings, as bare base64. */
  record Inputs(@Nullable String init, @Nullable String mask, List<String> references) {}

  /**
   * A body to send and what goes with it.
   *
   * @param body the JSON body
   * @param task Nova's {@code taskType}, or Stability's {@code mode}
   * @param images how many images the answer should carry
   * @param seed the seed sent, or null
   * @param warnings what was changed or left out
   */
  record Plan(ObjectNode body, String task, int images, @Nullable Long seed, List<String> warnings) {}

  /**
   * The body for a request on a model, after the checks the model's own limits need (those the
   * provider-wide capabilities cannot express).
   *
   * @throws ProviderUnavailableException failover allowed, nothing sent, when this model cannot serve it
   * @throws InvalidRequestException when a provider option is wrong
   */
  static Plan plan(ImageGenerationRequest r, String modelId, Family family, Inputs in, List<String> softWarnings,
      Set<SoftInput> dropped, ObjectMapper json, String id) {
    List<String> warnings = new ArrayList<>(softWarnings);
    Map<String, Object> options = r.providerOptions(id);
    return family == Family.STABILITY ? stability(r, modelId, in, warnings, dropped, options, json, id)
        : nova(r, modelId, family, in, warnings, dropped, options, json, id);
  }

  private static Plan nova(ImageGenerationRequest r, String modelId, Family family, Inputs in, List<String> warnings,
      Set<SoftInput> dropped, Map<String, Object> options, ObjectMapper json, String id) {
    String name = family == Family.NOVA ? "Nova Canvas" : "Titan Image Generator v2";
    int maxText = family == Family.NOVA ? NOVA_MAX_TEXT : TITAN_MAX_TEXT;
    int length = r.prompt().codePointCount(0, r.prompt().length());
    if (length > maxText) {
      throw refuse(id, modelId, "the prompt is " + length + " characters; " + name + " takes at most " + maxText);
    }
    int w = r.width() != null ? r.width() : 1024;
    int h = r.height() != null ? r.height() : 1024;
    if (family == Family.NOVA) {
      checkNovaSize(w, h, id, modelId);
    }
    String maskPrompt = option(options, "maskPrompt", id);
    ObjectNode body = json.createObjectNode();
    ObjectNode params = json.createObjectNode();
    String task;
    boolean sized = true;
    if (in.mask() != null || maskPrompt != null) {
      if (in.init() == null) {
        throw refuse(id, modelId, "inpainting needs an init image besides the " + (in.mask() != null ? "mask" : "maskPrompt"));
      }
      if (!in.references().isEmpty()) {
        throw refuse(id, modelId, "inpainting takes no reference images");
      }
      task = "INPAINTING";
      params.put("image", in.init());
      if (in.mask() != null) {
        params.put("maskImage", in.mask());
      } else {
        params.put("maskPrompt", maskPrompt);
      }
      // the output has the input image's size
      sized = false;
      if (r.width() != null) {
        warnings.add("size " + w + "x" + h + " not sent: inpainting keeps the init image's size");
      }
    } else if (in.init() != null || !in.references().isEmpty()) {
      task = "IMAGE_VARIATION";
      ArrayNode images = params.putArray("images");
      if (in.init() != null) {
        images.add(in.init());
      }
      in.references().forEach(images::add);
      if (images.size() > MAX_IMAGES) {
        throw refuse(id, modelId, images.size() + " images to vary; " + name + " takes at most " + MAX_IMAGES);
      }
      Double similarity = number(options, "similarityStrength", id);
      if (similarity == null && r.strength() != null) {
        similarity = Math.max(0.2, Math.min(1.0, 1.0 - r.strength()));
      }
      if (similarity != null) {
        params.put("similarityStrength", similarity);
      }
    } else {
      task = "TEXT_IMAGE";
      String style = option(options, "style", id);
      if (style != null) {
        if (family != Family.NOVA) {
          throw new InvalidRequestException(List.of("providerOptions for '" + id + "': 'style' is Nova Canvas's; "
              + name + " has none"), id, null);
        }
        String s = style.toUpperCase(Locale.ROOT);
        if (!NOVA_STYLES.contains(s)) {
          throw new InvalidRequestException(List.of("providerOptions for '" + id + "': style '" + style + "' is not one of "
              + String.join(", ", new java.util.TreeSet<>(NOVA_STYLES))), id, null);
        }
        params.put("style", s);
      }
    }
    params.put("text", r.prompt());
    String negative = r.negativePrompt();
    if (negative != null && !negative.isBlank() && !dropped.contains(SoftInput.NEGATIVE_PROMPT)) {
      // omitted rather than null when unset (a null negativeText is refused)
      if (negative.codePointCount(0, negative.length()) > maxText) {
        negative = negative.substring(0, negative.offsetByCodePoints(0, maxText));
        warnings.add("negative prompt cut to " + maxText + " characters, " + name + "'s limit");
      }
      params.put("negativeText", negative);
    }
    body.put("taskType", task);
    body.set(task.equals("TEXT_IMAGE") ? "textToImageParams" : task.equals("INPAINTING") ? "inPaintingParams"
        : "imageVariationParams", params);
    ObjectNode config = body.putObject("imageGenerationConfig");
    if (r.numImages() > MAX_IMAGES) {
      throw refuse(id, modelId, r.numImages() + " images; " + name + " makes at most " + MAX_IMAGES + " per call");
    }
    config.put("numberOfImages", r.numImages());
    if (sized) {
      config.put("width", w);
      config.put("height", h);
    }
    String quality = option(options, "quality", id);
    if (quality != null) {
      String q = quality.toLowerCase(Locale.ROOT);
      if (!q.equals("standard") && !q.equals("premium")) {
        throw new InvalidRequestException(List.of("providerOptions for '" + id + "': quality is standard or premium, was '"
            + quality + "'"), id, null);
      }
      config.put("quality", q);
    }
    Double guidance = r.guidanceScale();
    if (guidance != null && !dropped.contains(SoftInput.GUIDANCE)) {
      double max = 10.0;
      double g = Math.max(1.1, Math.min(max, guidance));
      if (g != guidance) {
        warnings.add("guidance scale " + guidance + " sent as cfgScale " + g + " (" + name + " takes 1.1 to " + max + ")");
      }
      config.put("cfgScale", g);
    }
    Long seed = seed(r.seed(), family == Family.NOVA ? NOVA_MAX_SEED : TITAN_MAX_SEED, name, warnings);
    if (seed != null) {
      config.put("seed", seed);
    }
    return new Plan(body, task, r.numImages(), seed, warnings);
  }

  private static Plan stability(ImageGenerationRequest r, String modelId, Inputs in, List<String> warnings,
      Set<SoftInput> dropped, Map<String, Object> options, ObjectMapper json, String id) {
    for (String key : List.of("quality", "style", "similarityStrength", "maskPrompt")) {
      if (options.containsKey(key)) {
        throw new InvalidRequestException(List.of("providerOptions for '" + id + "': '" + key + "' is for Nova Canvas; "
            + modelId + " does not take it"), id, null);
      }
    }
    if (r.numImages() > 1) {
      throw refuse(id, modelId, r.numImages() + " images; Stability's models on Bedrock make one per call");
    }
    if (in.mask() != null) {
      throw refuse(id, modelId, "no inpainting mask on Stability's models on Bedrock");
    }
    if (!in.references().isEmpty()) {
      throw refuse(id, modelId, "no reference images on Stability's models on Bedrock");
    }
    boolean sd35 = BedrockModels.takesInitImage(modelId);
    if (in.init() != null && !sd35) {
      throw refuse(id, modelId, "no image to image on this model (SD3.5 Large takes an init image)");
    }
    ObjectNode body = json.createObjectNode();
    body.put("prompt", r.prompt());
    String negative = r.negativePrompt();
    if (negative != null && !negative.isBlank() && !dropped.contains(SoftInput.NEGATIVE_PROMPT)) {
      body.put("negative_prompt", negative);
    }
    String task;
    if (in.init() != null) {
      task = "image-to-image";
      body.put("mode", task);
      body.put("image", in.init());
      body.put("strength", r.strength() != null ? r.strength() : 0.7);
      if (r.width() != null) {
        warnings.add("size " + r.width() + "x" + r.height() + " not sent: image to image keeps the init image's shape");
      }
    } else {
      task = "text-to-image";
      if (sd35) {
        body.put("mode", task);
      }
      if (r.width() != null && r.height() != null) {
        String ratio = ProviderSupport.nearestAspectRatio(r.width(), r.height(), STABILITY_RATIOS);
        body.put("aspect_ratio", ratio);
        warnings.add("size " + r.width() + "x" + r.height() + " sent as aspect_ratio " + ratio
            + ": the model picks the pixel size for it");
      }
    }
    Long seed = seed(r.seed(), STABILITY_MAX_SEED, modelId, warnings);
    if (seed != null) {
      body.put("seed", seed);
    }
    String format = r.outputFormat();
    if (format != null) {
      if (format.equals("jpeg") || format.equals("jpg")) {
        body.put("output_format", "jpeg");
      } else if (format.equals("png")) {
        body.put("output_format", "png");
      } else {
        body.put("output_format", "png");
        warnings.add("output format " + format + " sent as png: Stability's models on Bedrock make jpeg or png");
      }
    }
    return new Plan(body, task, 1, seed, warnings);
  }

  private static void checkNovaSize(int w, int h, String id, String modelId) {
    List<String> why = new ArrayList<>();
    if (w < 320 || h < 320 || w > 4096 || h > 4096) {
      why.add("sides 320 to 4096");
    }
    if (w % 16 != 0 || h % 16 != 0) {
      why.add("multiples of 16");
    }
    if (w > 4L * h || h > 4L * w) {
      why.add("an aspect ratio between 1:4 and 4:1");
    }
    if ((long) w * h >= 4_194_304L) {
      why.add("fewer than 4,194,304 pixels");
    }
    if (!why.isEmpty()) {
      throw refuse(id, modelId, "size " + w + "x" + h + ": Nova Canvas takes " + String.join(", ", why));
    }
  }

  private static @Nullable Long seed(@Nullable Long seed, long max, String name, List<String> warnings) {
    if (seed == null) {
      return null;
    }
    if (seed < 0 || seed > max) {
      long s = Math.floorMod(seed, max + 1);
      warnings.add("seed " + seed + " sent as " + s + " (" + name + " takes 0 to " + max + ")");
      return s;
    }
    return seed;
  }

  private static @Nullable String option(Map<String, Object> options, String key, String id) {
    Object v = options.get(key);
    if (v == null) {
      return null;
    }
    if (!(v instanceof CharSequence) || v.toString().isBlank()) {
      throw new InvalidRequestException(List.of("providerOptions for '" + id + "': '" + key + "' must be text"), id, null);
    }
    return v.toString().strip();
  }

  private static @Nullable Double number(Map<String, Object> options, String key, String id) {
    Object v = options.get(key);
    if (v == null) {
      return null;
    }
    double d;
    try {
      d = v instanceof Number n ? n.doubleValue() : Double.parseDouble(v.toString().strip());
    } catch (NumberFormatException e) {
      d = Double.NaN;
    }
    if (!(d >= 0.2 && d <= 1.0)) {
      throw new InvalidRequestException(List.of("providerOptions for '" + id + "': '" + key + "' is a number from 0.2 to 1.0,"
          + " was '" + v + "'"), id, null);
    }
    return d;
  }

  /** A model that cannot serve a request: nothing was sent; another provider may serve it. */
  static ProviderUnavailableException refuse(String id, String modelId, String why) {
    return ProviderUnavailableException.failOver(modelId + " cannot serve this request (nothing was sent): " + why, id, null);
  }

  /**
   * What an answer's images are.
   *
   * @param images the images to decode, each with its seed
   * @param warnings what the caller should know (images the filters removed)
   * @param blocked how many images the content filters removed
   */
  record Answer(List<ImageDownloader.Source> images, List<String> warnings, int blocked) {}

  /**
   * Reads a 2xx answer. Nova and Titan: {@code images} and {@code error}; Stability: {@code seeds},
   * {@code finish_reasons} and {@code images}.
   *
   * @throws ContentPolicyException when the filters removed every image
   * @throws ProviderUnavailableException when the answer has no usable image
   */
  static Answer read(JsonNode answer, Family family, int asked, @Nullable Long seed, String id) {
    if (!answer.isObject()) {
      throw ProviderUnavailableException.failOver("InvokeModel answered JSON that is not an object", id, null);
    }
    List<String> images = texts(answer.get("images"));
    List<String> warnings = new ArrayList<>();
    List<ImageDownloader.Source> out = new ArrayList<>();
    if (family == Family.STABILITY) {
      List<@Nullable String> reasons = new ArrayList<>();
      JsonNode fr = answer.get("finish_reasons");
      if (fr != null && fr.isArray()) {
        fr.forEach(n -> reasons.add(n == null || n.isNull() ? null : n.asText()));
      }
      for (String reason : reasons) {
        if (reason != null && reason.toLowerCase(Locale.ROOT).startsWith("filter reason")) {
          throw new ContentPolicyException("Bedrock's content filters refused the " + filtered(reason) + " (finish_reasons: "
              + ProviderSupport.clip(reason) + ")", id);
        }
      }
      for (String reason : reasons) {
        if (reason != null) {
          throw ProviderUnavailableException.failOver("the model failed (finish_reasons: " + ProviderSupport.clip(reason)
              + ")", id, null);
        }
      }
      JsonNode seeds = answer.get("seeds");
      for (int i = 0; i < images.size(); i++) {
        JsonNode s = seeds != null && seeds.isArray() && seeds.size() > i ? seeds.get(i) : null;
        Long reported = s != null && s.canConvertToLong() ? Long.valueOf(s.asLong()) : seed;
        out.add(new ImageDownloader.Source(images.get(i), reported, false));
      }
      if (out.isEmpty()) {
        throw ProviderUnavailableException.failOver("InvokeModel answered no image and no finish reason", id, null);
      }
      return new Answer(out, warnings, 0);
    }
    JsonNode error = answer.get("error");
    String err = error != null && !error.isNull() && !error.asText().isBlank() ? error.asText() : null;
    if (err != null && BedrockErrors.isContentFilter(err)) {
      if (images.isEmpty()) {
        throw new ContentPolicyException("Bedrock's content filters blocked the output: " + ProviderSupport.clip(err), id);
      }
      int blocked = Math.max(0, asked - images.size());
      warnings.add((blocked > 0 ? blocked + " of " + asked : "some") + " images were blocked by Bedrock's content filters: "
          + ProviderSupport.clip(err));
      for (String img : images) {
        out.add(new ImageDownloader.Source(img, seed, false));
      }
      return new Answer(out, warnings, blocked);
    }
    if (images.isEmpty()) {
      throw ProviderUnavailableException.failOver("InvokeModel answered no image" + (err == null ? "" : ": "
          + ProviderSupport.clip(err)), id, null);
    }
    if (err != null) {
      warnings.add("Bedrock said: " + ProviderSupport.clip(err));
    }
    for (String img : images) {
      out.add(new ImageDownloader.Source(img, seed, false));
    }
    return new Answer(out, warnings, 0);
  }

  private static String filtered(String reason) {
    String r = reason.toLowerCase(Locale.ROOT);
    return r.contains("output") ? "output image" : r.contains("input") ? "input image" : r.contains("prompt") ? "prompt"
        : "request";
  }

  private static List<String> texts(@Nullable JsonNode node) {
    List<String> out = new ArrayList<>();
    if (node != null && node.isArray()) {
      node.forEach(n -> {
        if (n.isTextual() && !n.asText().isBlank()) {
          out.add(n.asText());
        }
      });
    }
    return out;
  }
}
