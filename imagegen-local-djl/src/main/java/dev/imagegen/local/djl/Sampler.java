package dev.imagegen.local.djl;

import java.util.Locale;
import org.jspecify.annotations.Nullable;

/** The samplers the local engine implements, with the names requests may use. */
enum Sampler {
  /** diffusers {@code EulerDiscreteScheduler}. */
  EULER("euler"),
  /** diffusers {@code EulerAncestralDiscreteScheduler}. */
  EULER_ANCESTRAL("euler_a"),
  /** diffusers {@code EulerDiscreteScheduler} with {@code use_karras_sigmas}. */
  EULER_KARRAS("euler_karras"),
  /** diffusers {@code DPMSolverMultistepScheduler}, dpmsolver++ order 2 midpoint. */
  DPMPP_2M("dpmpp_2m"),
  /** The same with Karras sigmas over the training range. */
  DPMPP_2M_KARRAS("dpmpp_2m_karras");

  final String id;

  Sampler(String id) {
    this.id = id;
  }

  boolean isDpm() {
    return this == DPMPP_2M || this == DPMPP_2M_KARRAS;
  }

  boolean isKarras() {
    return this == EULER_KARRAS || this == DPMPP_2M_KARRAS;
  }

  /**
   * Parses the names the WebUI and diffusers use: {@code euler}, {@code euler_a}, {@code Euler a},
   * {@code euler-ancestral}, {@code dpm++ 2m karras}, {@code DPMSolverMultistepScheduler}...
   *
   * @return the sampler, or null when the name is unknown
   */
  static @Nullable Sampler parse(String name) {
    String n = name.toLowerCase(Locale.ROOT).replace("+", "p").replaceAll("[\\s_-]+", "");
    return switch (n) {
      case "euler", "eulerdiscrete", "eulerdiscretescheduler" -> EULER;
      case "eulera", "eulerancestral", "eulerancestraldiscrete", "eulerancestraldiscretescheduler" -> EULER_ANCESTRAL;
      case "eulerkarras" -> EULER_KARRAS;
      case "dpmpp2m", "dpmsolvermultistep", "dpmsolvermultistepscheduler" -> DPMPP_2M;
      case "dpmpp2mkarras" -> DPMPP_2M_KARRAS;
      default -> null;
    };
  }
}
