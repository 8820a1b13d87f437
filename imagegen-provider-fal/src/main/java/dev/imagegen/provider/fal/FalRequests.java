package dev.imagegen.provider.fal;

import dev.imagegen.ErrorKind;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.SoftInput;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Maps an imagegen request onto a fal model's input fields.
 *
 * <p>Text to image ({@code fal-ai/flux/schnell} and other ids): {@code prompt}, {@code image_size}
 * ({@code {"width":w,"height":h}} from the request's size, or a named size given as the
 * {@code image_size} option), {@code num_inference_steps}, {@code seed}, {@code guidance_scale},
 * {@code num_images}, {@code enable_safety_checker}, {@code output_format}.
 *
 * <p>Editing ({@code fal-ai/nano-banana-pro/edit} and ids ending in {@code /edit}): {@code prompt},
 * {@code image_urls} (the init image first, then the reference images, in request order),
 * {@code num_images}, {@code seed}, {@code output_format}; for the Nano Banana models the size becomes
 * the nearest {@code aspect_ratio} and a {@code resolution} ({@code 1K}, {@code 2K}, {@code 4K}).
 *
 * <p>Soft inputs a model ignores follow core's rule ({@link ProviderCapabilities#softDrops}): no
 * model here takes a negative prompt or a sampler, the Nano Banana models take no steps or guidance
 * scale; those are left out of the body and named in the result's warnings (a strict request never
 * gets here: routing skips fal).
 *
 * <p>The request's fal options ({@code providerOption("fal", key, value)}) are copied last and may
 * set any other field ({@code aspect_ratio}, {@code resolution}, {@code safety_tolerance},
 * {@code acceleration}, {@code sync_mode}...). Thread-safe; all methods are static.
 */
final class FalRequests {
  /** fal's named image sizes with their pixel sizes. */
  static final Map<String, int[]> NAMED_SIZES;
  /** The aspect ratios the Nano Banana models take (besides {@code auto}). */
  static final List<String> ASPECT_RATIOS = List.of("21:9", "16:9", "3:2", "4:3", "5:4", "1:1", "4:5", "3:4", "2:3", "9:16");
  /** The size fal's text-to-image models use when none is sent ({@code landscape_4_3}). */
  static final int[] DEFAULT_SIZE = {1024, 768};

  static {
    Map<String, int[]> m = new LinkedHashMap<>();
    m.put("square_hd", new int[] {1024, 1024});
    m.put("square", new int[] {512, 512});
    m.put("portrait_4_3", new int[] {768, 1024});
    m.put("portrait_16_9", new int[] {576, 1024});
    m.put("landscape_4_3", new int[] {1024, 768});
    m.put("landscape_16_9", new int[] {1024, 576});
    NAMED_SIZES = java.util.Collections.unmodifiableMap(m);
  }

  /**
   * A request body and the warnings its mapping produced.
   *
   * @param body the JSON body fields, in order
   * @param warnings things the caller should know (fields a model ignores)
   */
  record Mapped(Map<String, Object> body, List<String> warnings) {}

  private FalRequests() {}

  /**
   * The input images a request sends, in the order fal gets them: the init image first, then the
   * reference images in request order.
   *
   * @param r the request
   */
  static List<InputImage> orderedInputs(ImageGenerationRequest r) {
    List<InputImage> out = new ArrayList<>(r.inputImages(InputImage.Role.INIT));
    out.addAll(r.inputImages(InputImage.Role.REFERENCE));
    return out;
  }

  /**
   * Checks that a model can take the request's input images, before anything is uploaded.
   *
   * @param providerId the provider id
   * @param r the request
   * @param appId the model
   * @throws ImageGenerationException when it cannot (failing over may help) or the request is invalid for it
   */
  static void checkInputs(String providerId, ImageGenerationRequest r, String appId) {
    Map<String, Object> opts = r.providerOptions(providerId);
    List<String> v = new ArrayList<>();
    if (opts.containsKey("prompt")) {
      v.add("set the prompt on the request, not as a fal option");
    }
    Object size = opts.get("image_size");
    if (size != null && !validImageSize(size)) {
      v.add("fal option image_size must be one of " + String.join(", ", NAMED_SIZES.keySet())
          + " or {\"width\":int,\"height\":int}, was " + size);
    }
    Object resolution = opts.get("resolution");
    if (resolution != null && !List.of("1K", "2K", "4K").contains(String.valueOf(resolution))) {
      v.add("fal option resolution must be 1K, 2K or 4K, was " + resolution);
    }
    int inputs = orderedInputs(r).size();
    if (inputs > 0 && (opts.containsKey("image_urls") || opts.containsKey("image_url"))) {
      v.add("give input images as InputImage, not also as the fal option image_urls/image_url");
    }
    if (!v.isEmpty()) {
      throw new InvalidRequestException(v, providerId, null);
    }
    if (r.mask() != null) {
      throw notCapable(providerId, "fal models here take no inpainting mask; the mask would be dropped");
    }
    FalModels.Kind kind = FalModels.kind(appId);
    int refs = r.inputImages(InputImage.Role.REFERENCE).size();
    if (kind == FalModels.Kind.TEXT && inputs > 0) {
      throw notCapable(providerId, "model " + appId + " is text to image and takes no input images (" + inputs
          + " given); use an editing model such as " + FalModels.NANO_BANANA_PRO_EDIT);
    }
    if (kind == FalModels.Kind.IMAGE_TO_IMAGE && (refs > 0 || inputs > 1)) {
      throw notCapable(providerId, "model " + appId + " takes one input image, " + inputs + " given");
    }
    if (kind == FalModels.Kind.EDIT && inputs == 0 && !opts.containsKey("image_urls")) {
      throw new InvalidRequestException("model " + appId + " edits images: give at least one input image", providerId);
    }
  }

  /**
   * Builds the body.
   *
   * @param providerId the provider id
   * @param r the request (prompt final)
   * @param appId the model
   * @param imageUrls the input images as URLs or data URIs, ordered as {@link #orderedInputs}
   * @param safetyChecker the configured {@code enable_safety_checker}
   * @param capabilities the provider's capabilities: the soft inputs they say the model ignores
   *     are left out, with core's warnings
   */
  static Mapped body(String providerId, ImageGenerationRequest r, String appId, List<String> imageUrls, boolean safetyChecker,
      ProviderCapabilities capabilities) {
    Map<String, Object> b = new LinkedHashMap<>();
    List<String> warnings = new ArrayList<>(capabilities.warnings(r));
    FalModels.Kind kind = FalModels.kind(appId);
    b.put("prompt", r.prompt());
    if (kind == FalModels.Kind.EDIT) {
      b.put("image_urls", List.copyOf(imageUrls));
    } else if (kind == FalModels.Kind.IMAGE_TO_IMAGE && !imageUrls.isEmpty()) {
      b.put("image_url", imageUrls.get(0));
      if (r.strength() != null) {
        b.put("strength", r.strength());
      }
    }
    boolean nano = FalModels.isNanoBanana(appId);
    Integer w = r.width();
    Integer h = r.height();
    if (nano) {
      if (w != null && h != null) {
        b.put("aspect_ratio", aspectRatio(w, h));
        if (FalModels.takesResolution(appId)) {
          b.put("resolution", resolutionFor(w, h));
        }
      }
    } else {
      if (w != null && h != null) {
        Map<String, Object> size = new LinkedHashMap<>();
        size.put("width", w);
        size.put("height", h);
        b.put("image_size", size);
      }
      if (r.steps() != null && !capabilities.drops(r, SoftInput.STEPS)) {
        b.put("num_inference_steps", r.steps());
      }
      if (r.guidanceScale() != null && !capabilities.drops(r, SoftInput.GUIDANCE)) {
        b.put("guidance_scale", r.guidanceScale());
      }
    }
    if (r.strength() != null && kind != FalModels.Kind.IMAGE_TO_IMAGE) {
      warnings.add(appId + " takes no strength; strength=" + r.strength() + " was not sent");
    }
    if (r.seed() != null) {
      b.put("seed", r.seed());
    }
    b.put("num_images", r.numImages());
    if (!nano) {
      b.put("enable_safety_checker", safetyChecker);
    }
    String fmt = outputFormat(r.outputFormat());
    if (fmt != null) {
      if (fmt.equals("webp") && appId.startsWith("fal-ai/flux/")) {
        warnings.add(appId + " outputs jpeg or png only; png was requested instead of webp");
        fmt = "png";
      }
      b.put("output_format", fmt);
    }
    b.putAll(r.providerOptions(providerId));
    return new Mapped(b, warnings);
  }

  /**
   * The Nano Banana {@code resolution} for a requested size: {@code 1K} up to 1024 pixels on the
   * longer side, {@code 2K} up to 2048, else {@code 4K}.
   *
   * @param w width
   * @param h height
   */
  static String resolutionFor(int w, int h) {
    int side = Math.max(w, h);
    return side <= 1024 ? "1K" : side <= 2048 ? "2K" : "4K";
  }

  /**
   * The resolution a Nano Banana request is billed at: the {@code resolution} option, else the one
   * derived from the size, else {@code 1K}.
   *
   * @param providerId the provider id
   * @param r the request
   */
  static String resolutionOf(String providerId, ImageGenerationRequest r) {
    Object o = r.providerOptions(providerId).get("resolution");
    if (o != null) {
      return String.valueOf(o).toUpperCase(Locale.ROOT);
    }
    Integer w = r.width();
    Integer h = r.height();
    return w != null && h != null ? resolutionFor(w, h) : "1K";
  }

  /**
   * The nearest supported aspect ratio to a size.
   *
   * @param w width
   * @param h height
   */
  static String aspectRatio(int w, int h) {
    double target = Math.log(w / (double) h);
    String best = "1:1";
    double bestDistance = Double.MAX_VALUE;
    for (String ar : ASPECT_RATIOS) {
      String[] p = ar.split(":");
      double d = Math.abs(Math.log(Double.parseDouble(p[0]) / Double.parseDouble(p[1])) - target);
      if (d < bestDistance) {
        bestDistance = d;
        best = ar;
      }
    }
    return best;
  }

  /**
   * The pixel size a text-to-image request produces: the request's size, else the {@code image_size}
   * option, else {@code landscape_4_3}.
   *
   * @param providerId the provider id
   * @param r the request
   */
  static int[] outputSize(String providerId, ImageGenerationRequest r) {
    if (r.width() != null && r.height() != null) {
      return new int[] {r.width(), r.height()};
    }
    Object size = r.providerOptions(providerId).get("image_size");
    if (size instanceof String s && NAMED_SIZES.containsKey(s)) {
      return NAMED_SIZES.get(s).clone();
    }
    if (size instanceof Map<?, ?> m && m.get("width") instanceof Number nw && m.get("height") instanceof Number nh) {
      return new int[] {nw.intValue(), nh.intValue()};
    }
    return DEFAULT_SIZE.clone();
  }

  private static boolean validImageSize(Object size) {
    if (size instanceof String s) {
      return NAMED_SIZES.containsKey(s);
    }
    if (size instanceof Map<?, ?> m) {
      return m.get("width") instanceof Number w && m.get("height") instanceof Number h && w.intValue() > 0 && h.intValue() > 0;
    }
    return false;
  }

  private static @Nullable String outputFormat(@Nullable String f) {
    if (f == null) {
      return null;
    }
    String s = f.toLowerCase(Locale.ROOT);
    return s.equals("jpg") ? "jpeg" : s;
  }

  /** A failure meaning "this provider cannot serve this request as asked; another one may". */
  static ImageGenerationException notCapable(String providerId, String message) {
    return new ImageGenerationException(message, providerId, ErrorKind.NO_CAPABLE_PROVIDER, false, true, null);
  }
}
