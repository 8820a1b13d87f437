package dev.imagegen.provider.replicate;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.ErrorKind;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.spi.ImageBytes;
import dev.imagegen.spi.ProviderSupport;
import dev.imagegen.spi.SoftInput;
import java.util.EnumSet;
import java.util.HashMap;
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

  /**
   * A resolved model.
   *
   * @param model {@code owner/name}, or null for a bare version id
   * @param version the version id sent on {@code POST /predictions}, or null for an official model
   * @param family its input names
   * @param alias the imagegen alias, or null
   */
  record Target(@Nullable String model, @Nullable String version, Family family, @Nullable String alias) {

    /** Whether it is created through {@code POST /models/{owner}/{name}/predictions}. */
    boolean official() {
      return version == null;
    }

    /** How results name the model: {@code owner/name}, {@code owner/name:version} or the version. */
    String displayName() {
      return version == null ? (model == null ? "" : model) : model == null ? version : model + ":" + version;
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
      throw new ImageGenerationException("model '" + m + "' is not a Replicate model (use flux-schnell, sdxl, owner/name for an "
          + "official model, or owner/name:version)", ReplicateProvider.ID, ErrorKind.NO_CAPABLE_PROVIDER, false, true, null);
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
      return new Target(FLUX_SCHNELL, null, Family.FLUX_SCHNELL, "flux-schnell");
    }
    if (lower.equals("sdxl") || lower.equals(SDXL)) {
      return new Target(SDXL, SDXL_VERSION, Family.SDXL, "sdxl");
    }
    if (VERSION.matcher(lower).matches()) {
      Family f = lower.equals(SDXL_VERSION) ? Family.SDXL : Family.GENERIC;
      return new Target(f == Family.SDXL ? SDXL : null, lower, f, null);
    }
    int colon = name.indexOf(':');
    if (colon > 0) {
      String model = name.substring(0, colon).strip();
      String version = name.substring(colon + 1).strip().toLowerCase(Locale.ROOT);
      if (!OWNER_NAME.matcher(model).matches() || !VERSION.matcher(version).matches()) {
        return null;
      }
      Family f = model.equalsIgnoreCase(SDXL) ? Family.SDXL : Family.GENERIC;
      return new Target(f == Family.SDXL ? SDXL : model, version, f, null);
    }
    if (OWNER_NAME.matcher(name.strip()).matches()) {
      return new Target(name.strip(), null, Family.GENERIC, null);
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
    return t != null && t.family() == Family.FLUX_SCHNELL ? EnumSet.of(SoftInput.NEGATIVE_PROMPT, SoftInput.GUIDANCE,
        SoftInput.SAMPLER) : Set.of();
  }

  /**
   * The model's input for a request: its own field names, then the request's
   * {@code providerOptions("replicate")} merged over them ({@link ProviderSupport#mergeOptions}: a
   * null value removes a field).
   *
   * @param r the request
   * @param t the model
   * @param warnings receives what the model could not honour
   * @param json the mapper that writes the input
   * @return the input
   * @throws ImageGenerationException when the model cannot take the request (an init image for
   *     flux-schnell: failover may help), a field is invalid for it (an unknown scheduler) or an
   *     option cannot be written as JSON
   */
  static ObjectNode input(ImageGenerationRequest r, Target t, List<String> warnings, ObjectMapper json) {
    Map<String, Object> in = new LinkedHashMap<>();
    in.put("prompt", r.prompt());
    switch (t.family()) {
      case FLUX_SCHNELL -> flux(r, in, warnings);
      case SDXL -> sdxl(r, in, warnings);
      default -> generic(r, in, warnings);
    }
    try {
      return ProviderSupport.mergeOptions(json.valueToTree(in), r.providerOptions(ReplicateProvider.ID), json);
    } catch (IllegalArgumentException e) {
      throw new InvalidRequestException("the input cannot be sent as JSON (check providerOptions for replicate)",
          ReplicateProvider.ID);
    }
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
    put(in, "num_inference_steps", r.steps());
    if (r.seed() != null) {
      in.put("seed", r.seed());
      // go_fast (fp8) is not deterministic even with a seed
      in.put("go_fast", false);
    }
    put(in, "output_format", formatName(r.outputFormat()));
    // no negative prompt, guidance scale or sampler: soft inputs flux-schnell ignores
    // (ignoredInputs), left out and warned about through the provider's capabilities
  }

  private static void sdxl(ImageGenerationRequest r, Map<String, Object> in, List<String> warnings) {
    put(in, "negative_prompt", r.effectiveNegativePrompt());
    size(r, in);
    in.put("num_outputs", r.numImages());
    put(in, "scheduler", r.sampler() == null ? null : scheduler(r.sampler()));
    put(in, "num_inference_steps", r.steps());
    put(in, "guidance_scale", r.guidanceScale());
    put(in, "seed", r.seed());
    images(r, in, warnings);
    if (r.outputFormat() != null && ImageFormat.fromName(r.outputFormat()) != ImageFormat.PNG) {
      warnings.add(SDXL + " returns PNG; output format " + r.outputFormat() + " was not sent");
    }
  }

  private static void generic(ImageGenerationRequest r, Map<String, Object> in, List<String> warnings) {
    put(in, "negative_prompt", r.negativePrompt() == null || r.negativePrompt().isBlank() ? null : r.negativePrompt());
    size(r, in);
    put(in, "num_outputs", r.numImages() > 1 ? r.numImages() : null);
    put(in, "num_inference_steps", r.steps());
    put(in, "guidance_scale", r.guidanceScale());
    put(in, "scheduler", r.sampler());
    put(in, "seed", r.seed());
    put(in, "output_format", formatName(r.outputFormat()));
    images(r, in, warnings);
  }

  /** Puts a field the request sets; a null value is left out. */
  private static void put(Map<String, Object> in, String field, @Nullable Object value) {
    if (value != null) {
      in.put(field, value);
    }
  }

  private static void size(ImageGenerationRequest r, Map<String, Object> in) {
    if (r.width() != null && r.height() != null) {
      in.put("width", r.width());
      in.put("height", r.height());
    }
  }

  private static void images(ImageGenerationRequest r, Map<String, Object> in, List<String> warnings) {
    InputImage init = r.initImage();
    if (init != null) {
      in.put("image", fileValue(init, warnings));
      put(in, "prompt_strength", r.strength());
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
    String role = image.role().name().toLowerCase(Locale.ROOT);
    byte[] bytes;
    try {
      bytes = image.bytes();
    } catch (RuntimeException e) {
      throw new InvalidRequestException("cannot read the " + role + " image: " + e.getMessage(), ReplicateProvider.ID);
    }
    ImageFormat f = ImageFormat.sniff(bytes);
    if (f == null) {
      throw new InvalidRequestException("the " + role + " image is not a PNG, JPEG or WebP image", ReplicateProvider.ID);
    }
    if (bytes.length > DATA_URI_ADVISED_MAX) {
      warnings.add("the " + role + " image (" + bytes.length / 1024
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
    return ProviderSupport.nearestAspectRatio(w, h, ASPECT_RATIOS);
  }

  /**
   * SDXL's scheduler for a sampler name ({@code DPM++ 2M Karras}, {@code euler_a}, {@code K_EULER}...).
   *
   * @param sampler the request's sampler
   * @throws InvalidRequestException naming the accepted values when it has no SDXL counterpart
   */
  static String scheduler(String sampler) {
    String s = SCHEDULERS.get(sampler.toLowerCase(Locale.ROOT).replace("++", "pp").replaceAll("[^a-z0-9]", ""));
    if (s == null) {
      throw new InvalidRequestException("sampler '" + sampler + "' has no " + SDXL + " scheduler (accepted: DDIM, "
          + "DPMSolverMultistep, HeunDiscrete, KarrasDPM, K_EULER_ANCESTRAL, K_EULER, PNDM)", ReplicateProvider.ID);
    }
    return s;
  }

  private static Map<String, String> schedulers() {
    Map<String, String> m = new HashMap<>();
    names(m, "DDIM", "ddim");
    names(m, "DPMSolverMultistep", "dpmsolvermultistep", "dpmpp2m", "dpm2m", "dpmsolver", "dpmpp");
    names(m, "HeunDiscrete", "heundiscrete", "heun");
    names(m, "KarrasDPM", "karrasdpm", "dpmpp2mkarras", "dpm2mkarras", "karras");
    names(m, "K_EULER_ANCESTRAL", "keulerancestral", "eulerancestral", "eulera", "keulera");
    names(m, "K_EULER", "keuler", "euler");
    names(m, "PNDM", "pndm");
    return Map.copyOf(m);
  }

  private static void names(Map<String, String> m, String scheduler, String... names) {
    for (String n : names) {
      m.put(n, scheduler);
    }
  }

  private static @Nullable String formatName(@Nullable String format) {
    ImageFormat f = format == null ? null : ImageFormat.fromName(format);
    return f == null ? format : f.extension();
  }
}
