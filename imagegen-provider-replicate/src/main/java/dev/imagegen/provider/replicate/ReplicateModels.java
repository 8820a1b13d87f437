package dev.imagegen.provider.replicate;

import dev.imagegen.ErrorKind;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.spi.ImageBytes;
import dev.imagegen.spi.SoftInput;
import java.math.BigDecimal;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Which Replicate model a request names, and that model's own input names: the aliases
 * {@code flux-schnell} (official, aspect ratios, per-image price) and {@code sdxl} (community,
 * by version, width/height, GPU-time price), official models by {@code owner/name}, and
 * community models by {@code owner/name:version} or a bare 64-hex version id.
 */
final class ReplicateModels {
  private ReplicateModels() {}

  /** The official FLUX.1 [schnell] model. */
  static final String FLUX_SCHNELL = "black-forest-labs/flux-schnell";
  /** The community SDXL model. */
  static final String SDXL = "stability-ai/sdxl";
  /** The SDXL version the {@code sdxl} alias pins. */
  static final String SDXL_VERSION = "7762fd07cf82c948538e41f63f77d685e02b063e37e496e96eefd46c929f9bdc";
  /** flux-schnell's price per output image (replicate.com/pricing, read 2026-10). */
  static final BigDecimal FLUX_SCHNELL_PER_IMAGE = new BigDecimal("0.003");
  /** Replicate advises data URIs only up to this size; larger files should be given as URLs. */
  static final int DATA_URI_ADVISED_MAX = 256 * 1024;

  private static final Pattern OWNER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");
  private static final Pattern VERSION = Pattern.compile("[0-9a-fA-F]{64}");
  private static final List<String> ASPECT_RATIOS =
      List.of("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21");
  private static final Map<String, String> SCHEDULERS = schedulers();

  /** Which input names a model takes. */
  enum Family {
    /** black-forest-labs/flux-schnell: aspect_ratio, num_outputs 1-4, steps 1-4, output_format, go_fast. */
    FLUX_SCHNELL,
    /** stability-ai/sdxl: width/height, negative_prompt, scheduler, guidance_scale, image/mask, prompt_strength. */
    SDXL,
    /** Any other model: the common Cog names for the fields the request sets. */
    GENERIC
  }

  /** How Replicate bills a model. */
  enum Pricing {
    /** A fixed price per output image (official models such as flux-schnell). */
    PER_IMAGE,
    /** GPU time ({@code metrics.predict_time}) times the hardware's price (community models). */
    PER_GPU_SECOND,
    /** Not known (other official models): unknown unless an operator configures a price. */
    UNKNOWN
  }

  /**
   * A resolved model.
   *
   * @param model {@code owner/name}, or null for a bare version id
   * @param version the version id sent on {@code POST /predictions}, or null for an official model
   * @param family its input names
   * @param pricing how it is billed
   * @param alias the imagegen alias, or null
   */
  record Target(@Nullable String model, @Nullable String version, Family family, Pricing pricing, @Nullable String alias) {

    /** Whether it is created through {@code POST /models/{owner}/{name}/predictions}. */
    boolean official() {
      return version == null;
    }

    /** How results name the model: {@code owner/name}, {@code owner/name:version} or the version. */
    String displayName() {
      if (version == null) {
        return model == null ? "" : model;
      }
      return model == null ? version : model + ":" + version;
    }

    /** The price per image of a per-image model, else null. */
    @Nullable BigDecimal listPricePerImage() {
      return family == Family.FLUX_SCHNELL ? FLUX_SCHNELL_PER_IMAGE : null;
    }
  }

  /**
   * Resolves a request's model.
   *
   * @param requested the request's model, or null
   * @param defaultModel the configured default
   * @return the model
   * @throws ImageGenerationException (kind {@link ErrorKind#NO_CAPABLE_PROVIDER}, failover helps)
   *     when the name is not a Replicate model
   */
  static Target resolve(@Nullable String requested, String defaultModel) {
    String m = requested == null || requested.isBlank() ? defaultModel : requested.strip();
    Target t = tryResolve(m);
    if (t == null) {
      throw new ImageGenerationException("model '" + m + "' is not a Replicate model (use flux-schnell, sdxl, owner/name "
          + "for an official model, or owner/name:version)", ReplicateProvider.ID, ErrorKind.NO_CAPABLE_PROVIDER, false, true,
          null);
    }
    return t;
  }

  /**
   * Resolves a model name, or null when it is not a Replicate model.
   *
   * @param name an alias or native id
   */
  static @Nullable Target tryResolve(String name) {
    String lower = name.strip().toLowerCase(Locale.ROOT);
    if (lower.equals("flux-schnell") || lower.equals(FLUX_SCHNELL)) {
      return new Target(FLUX_SCHNELL, null, Family.FLUX_SCHNELL, Pricing.PER_IMAGE, "flux-schnell");
    }
    if (lower.equals("sdxl") || lower.equals(SDXL)) {
      return new Target(SDXL, SDXL_VERSION, Family.SDXL, Pricing.PER_GPU_SECOND, "sdxl");
    }
    if (VERSION.matcher(lower).matches()) {
      Family f = lower.equals(SDXL_VERSION) ? Family.SDXL : Family.GENERIC;
      return new Target(f == Family.SDXL ? SDXL : null, lower, f, Pricing.PER_GPU_SECOND, null);
    }
    int colon = name.indexOf(':');
    if (colon > 0) {
      String model = name.substring(0, colon).strip();
      String version = name.substring(colon + 1).strip().toLowerCase(Locale.ROOT);
      if (!OWNER_NAME.matcher(model).matches() || !VERSION.matcher(version).matches()) {
        return null;
      }
      Family f = model.equalsIgnoreCase(SDXL) ? Family.SDXL : Family.GENERIC;
      return new Target(f == Family.SDXL ? SDXL : model, version, f, Pricing.PER_GPU_SECOND, null);
    }
    if (OWNER_NAME.matcher(name.strip()).matches()) {
      return new Target(name.strip(), null, Family.GENERIC, Pricing.UNKNOWN, null);
    }
    return null;
  }

  /**
   * The soft inputs a model ignores: flux-schnell takes no negative prompt, guidance scale or
   * sampler; SDXL and other models get every field the request sets.
   *
   * @param requested the request's model, or null
   * @param defaultModel the configured default
   * @return those inputs (empty for a name that is not a Replicate model: {@link #resolve} reports it)
   */
  static Set<SoftInput> ignoredInputs(@Nullable String requested, String defaultModel) {
    Target t = tryResolve(requested == null || requested.isBlank() ? defaultModel : requested);
    if (t != null && t.family() == Family.FLUX_SCHNELL) {
      return EnumSet.of(SoftInput.NEGATIVE_PROMPT, SoftInput.GUIDANCE, SoftInput.SAMPLER);
    }
    return Set.of();
  }

  /**
   * The model's input for a request: its own field names, then the request's
   * {@code providerOptions("replicate")} merged over them (a null value removes a field).
   *
   * @param r the request
   * @param t the model
   * @param warnings receives what the model could not honour
   * @return the input
   * @throws ImageGenerationException when the model cannot take the request (an init image for
   *     flux-schnell: failover may help) or a field is invalid for it (an unknown scheduler)
   */
  static Map<String, Object> input(ImageGenerationRequest r, Target t, List<String> warnings) {
    Map<String, Object> in = new LinkedHashMap<>();
    in.put("prompt", r.prompt());
    switch (t.family()) {
      case FLUX_SCHNELL:
        flux(r, in, warnings);
        break;
      case SDXL:
        sdxl(r, in, warnings);
        break;
      default:
        generic(r, in, warnings);
        break;
    }
    r.providerOptions(ReplicateProvider.ID).forEach((k, v) -> {
      if (k == null || k.isBlank()) {
        throw new InvalidRequestException("providerOptions for replicate contain an empty field name", ReplicateProvider.ID);
      }
      if (v == null) {
        in.remove(k);
      } else {
        in.put(k, v);
      }
    });
    return in;
  }

  private static void flux(ImageGenerationRequest r, Map<String, Object> in, List<String> warnings) {
    if (r.initImage() != null || r.mask() != null) {
      throw new ImageGenerationException(FLUX_SCHNELL + " takes no init image or mask (sdxl does)", ReplicateProvider.ID,
          ErrorKind.NO_CAPABLE_PROVIDER, false, true, null);
    }
    if (r.width() != null && r.height() != null) {
      int w = r.width();
      int h = r.height();
      String ratio = nearestAspectRatio(w, h);
      in.put("aspect_ratio", ratio);
      String[] p = ratio.split(":");
      double exact = Math.abs(Math.log((double) w / h) - Math.log(Double.parseDouble(p[0]) / Double.parseDouble(p[1])));
      if (exact > 0.01) {
        warnings.add(FLUX_SCHNELL + " takes aspect ratios, not sizes: " + w + "x" + h + " was sent as " + ratio);
      }
      if ((double) w * h <= 500_000) {
        in.put("megapixels", "0.25");
      }
    }
    in.put("num_outputs", r.numImages());
    if (r.steps() != null) {
      in.put("num_inference_steps", r.steps());
    }
    if (r.seed() != null) {
      in.put("seed", r.seed());
      // go_fast (fp8) is not deterministic even with a seed
      in.put("go_fast", false);
    }
    if (r.outputFormat() != null) {
      in.put("output_format", formatName(r.outputFormat()));
    }
    // no negative prompt, guidance scale or sampler: soft inputs flux-schnell ignores
    // (ignoredInputs), left out and warned about through the provider's capabilities
  }

  private static void sdxl(ImageGenerationRequest r, Map<String, Object> in, List<String> warnings) {
    String negative = r.effectiveNegativePrompt();
    if (negative != null) {
      in.put("negative_prompt", negative);
    }
    if (r.width() != null && r.height() != null) {
      in.put("width", r.width());
      in.put("height", r.height());
    }
    in.put("num_outputs", r.numImages());
    if (r.sampler() != null) {
      in.put("scheduler", scheduler(r.sampler()));
    }
    if (r.steps() != null) {
      in.put("num_inference_steps", r.steps());
    }
    if (r.guidanceScale() != null) {
      in.put("guidance_scale", r.guidanceScale());
    }
    if (r.seed() != null) {
      in.put("seed", r.seed());
    }
    images(r, in, warnings);
    if (r.outputFormat() != null && ImageFormat.fromName(r.outputFormat()) != ImageFormat.PNG) {
      warnings.add(SDXL + " returns PNG; output format " + r.outputFormat() + " was not sent");
    }
  }

  private static void generic(ImageGenerationRequest r, Map<String, Object> in, List<String> warnings) {
    if (r.negativePrompt() != null && !r.negativePrompt().isBlank()) {
      in.put("negative_prompt", r.negativePrompt());
    }
    if (r.width() != null && r.height() != null) {
      in.put("width", r.width());
      in.put("height", r.height());
    }
    if (r.numImages() > 1) {
      in.put("num_outputs", r.numImages());
    }
    if (r.steps() != null) {
      in.put("num_inference_steps", r.steps());
    }
    if (r.guidanceScale() != null) {
      in.put("guidance_scale", r.guidanceScale());
    }
    if (r.sampler() != null) {
      in.put("scheduler", r.sampler());
    }
    if (r.seed() != null) {
      in.put("seed", r.seed());
    }
    if (r.outputFormat() != null) {
      in.put("output_format", formatName(r.outputFormat()));
    }
    images(r, in, warnings);
  }

  private static void images(ImageGenerationRequest r, Map<String, Object> in, List<String> warnings) {
    InputImage init = r.initImage();
    if (init != null) {
      in.put("image", fileValue(init, warnings));
      if (r.strength() != null) {
        in.put("prompt_strength", r.strength());
      }
    }
    InputImage mask = r.mask();
    if (mask != null) {
      in.put("mask", fileValue(mask, warnings));
    }
  }

  /** A file input: its URL as given, or a data URI of its bytes. */
  private static String fileValue(InputImage image, List<String> warnings) {
    if (image.url() != null) {
      return image.url().toString();
    }
    byte[] bytes;
    try {
      bytes = image.bytes();
    } catch (RuntimeException e) {
      throw new InvalidRequestException("cannot read the " + image.role().name().toLowerCase(Locale.ROOT) + " image: "
          + e.getMessage(), ReplicateProvider.ID);
    }
    ImageFormat f = ImageFormat.sniff(bytes);
    if (f == null) {
      throw new InvalidRequestException("the " + image.role().name().toLowerCase(Locale.ROOT)
          + " image is not a PNG, JPEG or WebP image", ReplicateProvider.ID);
    }
    if (bytes.length > DATA_URI_ADVISED_MAX) {
      warnings.add("the " + image.role().name().toLowerCase(Locale.ROOT) + " image (" + bytes.length / 1024
          + " KB) was sent as a data URI; Replicate advises data URIs only up to 256 KB (give a URL instead)");
    }
    return ImageBytes.dataUri(bytes, f.mediaType());
  }

  /**
   * The flux-schnell aspect ratio closest to a size.
   *
   * @param w width
   * @param h height
   */
  static String nearestAspectRatio(int w, int h) {
    double want = Math.log((double) w / h);
    String best = "1:1";
    double bestDiff = Double.MAX_VALUE;
    for (String ar : ASPECT_RATIOS) {
      String[] p = ar.split(":");
      double d = Math.abs(Math.log(Double.parseDouble(p[0]) / Double.parseDouble(p[1])) - want);
      if (d < bestDiff) {
        bestDiff = d;
        best = ar;
      }
    }
    return best;
  }

  /**
   * SDXL's scheduler for a sampler name ({@code DPM++ 2M Karras}, {@code euler_a}, {@code K_EULER}...).
   *
   * @param sampler the request's sampler
   * @throws InvalidRequestException naming the accepted values when it has no SDXL counterpart
   */
  static String scheduler(String sampler) {
    String s = SCHEDULERS.get(normalize(sampler));
    if (s == null) {
      throw new InvalidRequestException("sampler '" + sampler + "' has no " + SDXL + " scheduler (accepted: DDIM, "
          + "DPMSolverMultistep, HeunDiscrete, KarrasDPM, K_EULER_ANCESTRAL, K_EULER, PNDM)", ReplicateProvider.ID);
    }
    return s;
  }

  private static String normalize(String s) {
    return s.toLowerCase(Locale.ROOT).replace("++", "pp").replaceAll("[^a-z0-9]", "");
  }

  private static Map<String, String> schedulers() {
    Map<String, String> m = new LinkedHashMap<>();
    for (String k : List.of("ddim")) {
      m.put(k, "DDIM");
    }
    for (String k : List.of("dpmsolvermultistep", "dpmpp2m", "dpm2m", "dpmsolver", "dpmpp")) {
      m.put(k, "DPMSolverMultistep");
    }
    for (String k : List.of("heundiscrete", "heun")) {
      m.put(k, "HeunDiscrete");
    }
    for (String k : List.of("karrasdpm", "dpmpp2mkarras", "dpm2mkarras", "karras")) {
      m.put(k, "KarrasDPM");
    }
    for (String k : List.of("keulerancestral", "eulerancestral", "eulera", "keulera")) {
      m.put(k, "K_EULER_ANCESTRAL");
    }
    for (String k : List.of("keuler", "euler")) {
      m.put(k, "K_EULER");
    }
    for (String k : List.of("pndm")) {
      m.put(k, "PNDM");
    }
    return Map.copyOf(m);
  }

  private static String formatName(String format) {
    ImageFormat f = ImageFormat.fromName(format);
    return f == null ? format : f.extension();
  }
}
