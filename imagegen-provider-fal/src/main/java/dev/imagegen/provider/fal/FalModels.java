package dev.imagegen.provider.fal;

import dev.imagegen.ErrorKind;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderSupport;
import dev.imagegen.spi.SoftInput;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * fal's models: app ids and aliases, the kind of input each model takes, and an imagegen request
 * mapped onto a model's input fields.
 *
 * <p>An app id is {@code owner/alias[/path]}; a leading {@code workflows/} or {@code comfy/} adds a
 * namespace segment. A submit goes to the full id; status, result and cancel use only the
 * {@code [namespace/]owner/alias} part ({@link #rootId}, {@link FalJob#requestUrl}):
 * {@code fal-ai/flux/schnell} is submitted to {@code …/fal-ai/flux/schnell} and polled at
 * {@code …/fal-ai/flux/requests/{id}/status}.
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
final class FalModels {
  /** FLUX.1 [schnell]: text to image, priced per megapixel. */
  static final String FLUX_SCHNELL = "fal-ai/flux/schnell";
  /** Nano Banana Pro edit: prompt plus {@code image_urls}, priced per image. */
  static final String NANO_BANANA_PRO_EDIT = "fal-ai/nano-banana-pro/edit";
  /** Nano Banana edit: like the Pro edit, without {@code resolution}. */
  static final String NANO_BANANA_EDIT = "fal-ai/nano-banana/edit";
  /** Nano Banana 2 edit: like the Pro edit. */
  static final String NANO_BANANA_2_EDIT = "fal-ai/nano-banana-2/edit";

  /** Short names users may write instead of a fal id. */
  static final Map<String, String> ALIASES;
  /** fal's named image sizes with their pixel sizes. */
  static final Map<String, int[]> NAMED_SIZES;
  /** Every model name this provider lists (aliases and the ids they stand for). */
  static final List<String> LISTED = List.of("flux-schnell", FLUX_SCHNELL, NANO_BANANA_PRO_EDIT, NANO_BANANA_EDIT,
      NANO_BANANA_2_EDIT, "nano-banana-pro/edit", "nano-banana/edit", "nano-banana-2/edit");
  /** The aspect ratios the Nano Banana models take (besides {@code auto}). */
  static final List<String> ASPECT_RATIOS = List.of("21:9", "16:9", "3:2", "4:3", "5:4", "1:1", "4:5", "3:4", "2:3", "9:16");
  /** The size fal's text-to-image models use when none is sent ({@code landscape_4_3}). */
  static final int[] DEFAULT_SIZE = {1024, 768};

  private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

  static {
    Map<String, String> a = new LinkedHashMap<>();
    a.put("flux-schnell", FLUX_SCHNELL);
    a.put("flux/schnell", FLUX_SCHNELL);
    a.put("nano-banana-pro/edit", NANO_BANANA_PRO_EDIT);
    a.put("nano-banana/edit", NANO_BANANA_EDIT);
    a.put("nano-banana-2/edit", NANO_BANANA_2_EDIT);
    ALIASES = Collections.unmodifiableMap(a);
    Map<String, int[]> m = new LinkedHashMap<>();
    m.put("square_hd", new int[] {1024, 1024});
    m.put("square", new int[] {512, 512});
    m.put("portrait_4_3", new int[] {768, 1024});
    m.put("portrait_16_9", new int[] {576, 1024});
    m.put("landscape_4_3", new int[] {1024, 768});
    m.put("landscape_16_9", new int[] {1024, 576});
    NAMED_SIZES = Collections.unmodifiableMap(m);
  }

  /** What a model takes besides the prompt. */
  enum Kind {
    /** Text to image ({@code image_size}, steps, guidance...): no input image. */
    TEXT,
    /** Editing with several input images in {@code image_urls} (init first, then references). */
    EDIT,
    /** Image to image with one {@code image_url} and a {@code strength}. */
    IMAGE_TO_IMAGE
  }

  /**
   * A request body and the warnings its mapping produced.
   *
   * @param body the JSON body fields, in order
   * @param warnings things the caller should know (fields a model ignores)
   */
  record Mapped(Map<String, Object> body, List<String> warnings) {}

  private FalModels() {}

  /**
   * Resolves a model name to a fal app id.
   *
   * @param name an alias or a fal id
   * @return the id, or null when the name is neither an alias nor a well-formed id
   */
  static @Nullable String resolve(String name) {
    String n = name.strip();
    String alias = ALIASES.get(n.toLowerCase(Locale.ROOT));
    if (alias != null) {
      return alias;
    }
    List<String> segments = Arrays.asList(n.split("/", -1));
    boolean wellFormed = segments.size() >= (hasNamespace(segments) ? 3 : 2)
        && segments.stream().allMatch(s -> SEGMENT.matcher(s).matches() && !s.equals("..") && !s.equals("requests"));
    return wellFormed ? n : null;
  }

  /**
   * The part of an app id that status, result and cancel URLs use: {@code [namespace/]owner/alias}.
   *
   * @param appId a resolved app id
   */
  static String rootId(String appId) {
    List<String> segments = Arrays.asList(appId.split("/"));
    int keep = hasNamespace(segments) ? 3 : 2;
    return String.join("/", segments.subList(0, Math.min(keep, segments.size())));
  }

  private static boolean hasNamespace(List<String> segments) {
    return !segments.isEmpty() && (segments.get(0).equals("workflows") || segments.get(0).equals("comfy"));
  }

  /**
   * What a model takes: the known editing models and ids ending in {@code /edit} take
   * {@code image_urls}; ids ending in {@code /image-to-image} take one {@code image_url}; the rest
   * are text to image.
   *
   * @param appId a resolved app id
   */
  static Kind kind(String appId) {
    String last = appId.substring(appId.lastIndexOf('/') + 1).toLowerCase(Locale.ROOT);
    if (last.equals("edit") || last.endsWith("-edit")) {
      return Kind.EDIT;
    }
    if (last.equals("image-to-image") || last.equals("img2img")) {
      return Kind.IMAGE_TO_IMAGE;
    }
    return Kind.TEXT;
  }

  /** Whether a model is one of the Nano Banana editing models (aspect_ratio, resolution, no image_size). */
  static boolean isNanoBanana(@Nullable String appId) {
    return NANO_BANANA_PRO_EDIT.equals(appId) || NANO_BANANA_EDIT.equals(appId) || NANO_BANANA_2_EDIT.equals(appId);
  }

  /** Whether a Nano Banana model takes {@code resolution} (the plain Nano Banana does not). */
  static boolean takesResolution(String appId) {
    return appId.equals(NANO_BANANA_PRO_EDIT) || appId.equals(NANO_BANANA_2_EDIT);
  }


  /**
   * The input images a request sends, in the order fal gets them: the init image first, then the
   * reference images in request order.
   *
   * @param r the request
   */
  static List<InputImage> orderedInputs(ImageGenerationRequest r) {
    return Stream.concat(r.inputImages(InputImage.Role.INIT).stream(), r.inputImages(InputImage.Role.REFERENCE).stream())
        .toList();
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
    int[] named = sizeOf(size);
    if (size != null && (named == null || named[0] <= 0 || named[1] <= 0)) {
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
    Kind kind = kind(appId);
    int refs = r.inputImages(InputImage.Role.REFERENCE).size();
    if (kind == Kind.TEXT && inputs > 0) {
      throw notCapable(providerId, "model " + appId + " is text to image and takes no input images (" + inputs
          + " given); use an editing model such as " + NANO_BANANA_PRO_EDIT);
    }
    if (kind == Kind.IMAGE_TO_IMAGE && (refs > 0 || inputs > 1)) {
      throw notCapable(providerId, "model " + appId + " takes one input image, " + inputs + " given");
    }
    if (kind == Kind.EDIT && inputs == 0 && !opts.containsKey("image_urls")) {
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
    Kind kind = kind(appId);
    b.put("prompt", r.prompt());
    if (kind == Kind.EDIT) {
      b.put("image_urls", List.copyOf(imageUrls));
    } else if (kind == Kind.IMAGE_TO_IMAGE && !imageUrls.isEmpty()) {
      b.put("image_url", imageUrls.get(0));
      if (r.strength() != null) {
        b.put("strength", r.strength());
      }
    }
    boolean nano = isNanoBanana(appId);
    Integer w = r.width();
    Integer h = r.height();
    if (nano) {
      if (w != null && h != null) {
        b.put("aspect_ratio", ProviderSupport.nearestAspectRatio(w, h, ASPECT_RATIOS));
        if (takesResolution(appId)) {
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
    if (r.strength() != null && kind != Kind.IMAGE_TO_IMAGE) {
      warnings.add(appId + " takes no strength; strength=" + r.strength() + " was not sent");
    }
    if (r.seed() != null) {
      b.put("seed", r.seed());
    }
    b.put("num_images", r.numImages());
    if (!nano) {
      b.put("enable_safety_checker", safetyChecker);
    }
    String asked = r.outputFormat();
    String fmt = asked == null ? null : asked.toLowerCase(Locale.ROOT).replace("jpg", "jpeg");
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
    int[] size = sizeOf(r.providerOptions(providerId).get("image_size"));
    return size != null ? size : DEFAULT_SIZE.clone();
  }

  /** The pixel size an {@code image_size} option names, or null when it names none. */
  private static int @Nullable [] sizeOf(@Nullable Object size) {
    if (size instanceof String s && NAMED_SIZES.containsKey(s)) {
      return NAMED_SIZES.get(s).clone();
    }
    if (size instanceof Map<?, ?> m && m.get("width") instanceof Number w && m.get("height") instanceof Number h) {
      return new int[] {w.intValue(), h.intValue()};
    }
    return null;
  }

  /** A failure meaning "this provider cannot serve this request as asked; another one may". */
  static ImageGenerationException notCapable(String providerId, String message) {
    return new ImageGenerationException(message, providerId, ErrorKind.NO_CAPABLE_PROVIDER, false, true, null);
  }
}
