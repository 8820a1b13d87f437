package dev.imagegen.local.djl;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;

/**
 * The parts of diffusers' {@code scheduler/scheduler_config.json} the samplers use.
 *
 * @param className the diffusers class, e.g. {@code EulerAncestralDiscreteScheduler}
 * @param numTrainTimesteps training timesteps (1000)
 * @param betaStart first beta (0.00085)
 * @param betaEnd last beta (0.012)
 * @param betaSchedule {@code scaled_linear} or {@code linear}
 * @param stepsOffset added to leading timesteps (1)
 * @param spacing how inference timesteps are spread
 * @param predictionType {@code epsilon} or {@code v_prediction}
 * @param karras whether {@code use_karras_sigmas} is set
 */
record SchedulerConfig(
    String className,
    int numTrainTimesteps,
    double betaStart,
    double betaEnd,
    String betaSchedule,
    int stepsOffset,
    Spacing spacing,
    String predictionType,
    boolean karras) {

  /** How the inference timesteps are spread over the training range. */
  enum Spacing {
    /** {@code (n-1-k) * floor(T/n) + offset}: SDXL base. */
    LEADING,
    /** {@code round(T - k*T/n) - 1}: SDXL-Turbo. */
    TRAILING,
    /** {@code linspace(0, T-1, n)} reversed, fractional. */
    LINSPACE;

    static Spacing parse(String s) {
      return switch (s.toLowerCase(Locale.ROOT)) {
        case "leading" -> LEADING;
        case "trailing" -> TRAILING;
        case "linspace" -> LINSPACE;
        default -> throw new IllegalArgumentException("timestep_spacing '" + s + "' is not leading, trailing or linspace");
      };
    }
  }

  /** SDXL base's scheduler: Euler, leading spacing, offset 1. */
  static SchedulerConfig sdxlBase() {
    return new SchedulerConfig("EulerDiscreteScheduler", 1000, 0.00085, 0.012, "scaled_linear", 1, Spacing.LEADING,
        "epsilon", false);
  }

  /** SDXL-Turbo's scheduler: Euler ancestral, trailing spacing. */
  static SchedulerConfig sdxlTurbo() {
    return new SchedulerConfig("EulerAncestralDiscreteScheduler", 1000, 0.00085, 0.012, "scaled_linear", 1,
        Spacing.TRAILING, "epsilon", false);
  }

  /**
   * Reads a parsed {@code scheduler_config.json}; missing fields take diffusers' defaults.
   *
   * @throws IllegalArgumentException naming the field that cannot be used
   */
  static SchedulerConfig from(JsonNode json) {
    String cls = json.path("_class_name").asText("EulerDiscreteScheduler");
    int train = json.path("num_train_timesteps").asInt(1000);
    double start = json.path("beta_start").asDouble(0.00085);
    double end = json.path("beta_end").asDouble(0.012);
    String schedule = json.path("beta_schedule").asText("scaled_linear");
    if (!schedule.equals("scaled_linear") && !schedule.equals("linear")) {
      throw new IllegalArgumentException("beta_schedule '" + schedule + "' is not supported (scaled_linear, linear)");
    }
    if (json.hasNonNull("trained_betas")) {
      throw new IllegalArgumentException("trained_betas are not supported");
    }
    int offset = json.path("steps_offset").asInt(0);
    Spacing spacing = Spacing.parse(json.path("timestep_spacing").asText("linspace"));
    String prediction = json.path("prediction_type").asText("epsilon");
    if (!prediction.equals("epsilon") && !prediction.equals("v_prediction")) {
      throw new IllegalArgumentException("prediction_type '" + prediction + "' is not supported (epsilon, v_prediction)");
    }
    boolean karras = json.path("use_karras_sigmas").asBoolean(false);
    if (train < 2) {
      throw new IllegalArgumentException("num_train_timesteps " + train + " is too small");
    }
    return new SchedulerConfig(cls, train, start, end, schedule, offset, spacing, prediction, karras);
  }

  /** The sampler diffusers would use for this configuration's class. */
  Sampler defaultSampler() {
    if (className.startsWith("EulerAncestral")) {
      return Sampler.EULER_ANCESTRAL;
    }
    if (className.startsWith("DPMSolverMultistep")) {
      return karras ? Sampler.DPMPP_2M_KARRAS : Sampler.DPMPP_2M;
    }
    return Sampler.EULER;
  }

  /** This configuration with another spacing. */
  SchedulerConfig withSpacing(Spacing s) {
    return new SchedulerConfig(className, numTrainTimesteps, betaStart, betaEnd, betaSchedule, stepsOffset, s,
        predictionType, karras);
  }
}
