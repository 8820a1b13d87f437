package dev.imagegen.provider.huggingface;

import dev.imagegen.spi.SoftInput;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The models this provider knows by alias, and what each takes. Values from the model cards and
 * diffusers defaults, as the protocol file lists them:
 *
 * <pre>
 * black-forest-labs/FLUX.1-schnell          steps 1-4 (4), no guidance, sizes resized to multiples of 16
 * black-forest-labs/FLUX.1-dev              steps ~28-50, guidance 3.5, gated (accept the licence)
 * stabilityai/stable-diffusion-xl-base-1.0  steps 20-50, guidance 5-7.5, negative prompt, multiples of 8
 * </pre>
 *
 * Immutable; thread-safe.
 */
final class HuggingFaceModels {
  static final String FLUX_SCHNELL = "black-forest-labs/FLUX.1-schnell";
  static final String FLUX_DEV = "black-forest-labs/FLUX.1-dev";
  static final String SDXL = "stabilityai/stable-diffusion-xl-base-1.0";
  static final String DEFAULT_ALIAS = "flux-schnell";

  /** imagegen alias to Hugging Face repo id. */
  static final Map<String, String> ALIASES;

  static {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("flux-schnell", FLUX_SCHNELL);
    m.put("flux-dev", FLUX_DEV);
    m.put("sdxl", SDXL);
    ALIASES = Collections.unmodifiableMap(m);
  }

  /** A Hugging Face repo id: {@code owner/name}. */
  private static final Pattern REPO_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");

  private HuggingFaceModels() {}

  /** What a model's pipeline takes. */
  enum Profile {
    /** FLUX.1-schnell: timestep-distilled, 1 to 4 steps, no guidance, no negative prompt. */
    FLUX_SCHNELL(false, false, 4, 16),
    /** FLUX.1-dev and other FLUX models: guidance, steps, no negative prompt. */
    FLUX(false, true, 0, 16),
    /** SDXL and other Stable Diffusion pipelines: every parameter. */
    STABLE_DIFFUSION(true, true, 0, 8),
    /** A model this provider does not know: every parameter the request sets is sent. */
    GENERIC(true, true, 0, 8);

    final boolean negativePrompt;
    final boolean guidance;
    /** Most steps worth sending, 0 for no limit. */
    final int maxSteps;
    /** Sizes the pipeline keeps as they are (others are resized). */
    final int sizeMultiple;

    Profile(boolean negativePrompt, boolean guidance, int maxSteps, int sizeMultiple) {
      this.negativePrompt = negativePrompt;
      this.guidance = guidance;
      this.maxSteps = maxSteps;
      this.sizeMultiple = sizeMultiple;
    }

    /** Whether scheduler names apply (diffusers' SD schedulers; FLUX uses flow matching only). */
    boolean schedulers() {
      return this == STABLE_DIFFUSION || this == GENERIC;
    }

    /** The soft inputs the pipeline ignores: not sent, and warned about by core's rule. */
    Set<SoftInput> ignoredInputs() {
      Set<SoftInput> out = EnumSet.of(SoftInput.NEGATIVE_PROMPT, SoftInput.GUIDANCE, SoftInput.SAMPLER);
      out.removeIf(i -> i == SoftInput.NEGATIVE_PROMPT ? negativePrompt : i == SoftInput.GUIDANCE ? guidance : schedulers());
      return out;
    }
  }

  /**
   * The repo id for an alias or a repo id.
   *
   * @param model an alias ({@code flux-schnell}) or a repo id ({@code owner/name})
   * @return the repo id, or null when the name is neither
   */
  static @Nullable String repoId(String model) {
    String alias = ALIASES.get(model.toLowerCase(Locale.ROOT));
    if (alias != null) {
      return alias;
    }
    return REPO_ID.matcher(model).matches() ? model : null;
  }

  /**
   * What a model takes, from its repo id.
   *
   * @param repoId the repo id
   */
  static Profile profile(String repoId) {
    String id = repoId.toLowerCase(Locale.ROOT);
    if (id.contains("flux.1-schnell")) {
      return Profile.FLUX_SCHNELL;
    }
    if (id.contains("flux")) {
      return Profile.FLUX;
    }
    if (id.contains("stable-diffusion") || id.contains("sdxl")) {
      return Profile.STABLE_DIFFUSION;
    }
    return Profile.GENERIC;
  }

  /**
   * The aliases of a repo id.
   *
   * @param repoId the repo id
   */
  static List<String> aliasesOf(String repoId) {
    return ALIASES.entrySet().stream().filter(e -> e.getValue().equalsIgnoreCase(repoId)).map(Map.Entry::getKey).toList();
  }

  /**
   * The diffusers scheduler class for an imagegen sampler name ({@code euler}, {@code euler_a},
   * {@code dpm++ 2m}, {@code ddim}...), or the name itself when it already is a class name.
   *
   * @param sampler the sampler
   * @return the class name, or null when unknown
   */
  static @Nullable String scheduler(String sampler) {
    if (sampler.endsWith("Scheduler") && sampler.chars().allMatch(Character::isLetterOrDigit)) {
      return sampler;
    }
    String k = sampler.toLowerCase(Locale.ROOT).replace("++", "pp").replaceAll("[\\s_\\-+]", "");
    switch (k) {
      case "euler": return "EulerDiscreteScheduler";
      case "eulera": case "eulerancestral": return "EulerAncestralDiscreteScheduler";
      case "dpmpp2m": case "dpmpp2mkarras": case "dpmsolvermultistep": return "DPMSolverMultistepScheduler";
      case "dpmppsde": case "dpmppsdekarras": return "DPMSolverSDEScheduler";
      case "ddim": return "DDIMScheduler";
      case "pndm": case "plms": return "PNDMScheduler";
      case "lms": return "LMSDiscreteScheduler";
      case "heun": return "HeunDiscreteScheduler";
      case "unipc": return "UniPCMultistepScheduler";
      case "ddpm": return "DDPMScheduler";
      default: return null;
    }
  }
}
