package dev.imagegen.local.djl;

import java.util.Objects;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * One run of a sampler over {@code n} inference steps: the timesteps, the sigmas (ending in 0),
 * {@code init_noise_sigma}, the input scaling and the update of the latents, as diffusers'
 * {@code EulerDiscreteScheduler}, {@code EulerAncestralDiscreteScheduler} and
 * {@code DPMSolverMultistepScheduler} (dpmsolver++, order 2, midpoint, final sigma 0) compute
 * them. All schedule math is float64; latents are float32 arrays updated in place.
 *
 * <p>Not thread-safe: DPM++ keeps the previous step's prediction. One instance per generation.
 */
final class Scheduler {
  final Sampler sampler;
  final SchedulerConfig config;
  /** The timestep fed to the UNet at each step (fractional for linspace and Euler+Karras). */
  final double[] timesteps;
  /** One sigma per step plus the final 0. */
  final double[] sigmas;
  /** What unit noise is multiplied by to start a text-to-image run. */
  final double initNoiseSigma;

  private final double[] trainingSigmas;
  private float @Nullable [] previousX0;
  private int lowerOrderNums;

  private Scheduler(Sampler sampler, SchedulerConfig config, double[] trainingSigmas, double[] timesteps,
      double[] sigmas, double initNoiseSigma) {
    this.sampler = sampler;
    this.config = config;
    this.trainingSigmas = trainingSigmas;
    this.timesteps = timesteps;
    this.sigmas = sigmas;
    this.initNoiseSigma = initNoiseSigma;
  }

  /**
   * Plans a run.
   *
   * @param config the model's scheduler configuration (spacing, betas, offset)
   * @param sampler the sampler
   * @param steps inference steps, at least 1
   */
  static Scheduler create(SchedulerConfig config, Sampler sampler, int steps) {
    if (steps < 1) {
      throw new IllegalArgumentException("steps must be at least 1: " + steps);
    }
    double[] train = trainingSigmas(config);
    int n = steps;
    double[] t;
    double[] s;
    if (sampler.isDpm()) {
      if (sampler.isKarras()) {
        // diffusers: flip the training sigmas, Karras over [sigma_0, sigma_T-1], timesteps rounded
        s = karras(train[0], train[train.length - 1], n);
        t = new double[n];
        for (int i = 0; i < n; i++) {
          t[i] = Math.rint(sigmaToT(s[i], train));
        }
      } else {
        t = dpmTimesteps(config, n);
        s = interpolate(t, train);
      }
      return new Scheduler(sampler, config, train, t, withZero(s), 1.0);
    }
    t = eulerTimesteps(config, n);
    s = interpolate(t, train);
    if (sampler.isKarras()) {
      s = karras(s[s.length - 1], s[0], n);
      for (int i = 0; i < n; i++) {
        t[i] = sigmaToT(s[i], train);
      }
    }
    double max = 0;
    for (double v : s) {
      max = Math.max(max, v);
    }
    double init = config.spacing() == SchedulerConfig.Spacing.LEADING ? Math.sqrt(max * max + 1) : max;
    return new Scheduler(sampler, config, train, t, withZero(s), init);
  }

  /** Number of inference steps. */
  int steps() {
    return timesteps.length;
  }

  /**
   * What the latents are multiplied by before they go into the UNet at step {@code i}:
   * {@code 1/sqrt(sigma^2+1)} for the Euler family, 1 for DPM++.
   */
  double inputScale(int i) {
    if (sampler.isDpm()) {
      return 1.0;
    }
    double sigma = sigmas[i];
    return 1.0 / Math.sqrt(sigma * sigma + 1);
  }

  /**
   * Noises clean latents to the level of step {@code i} (img2img): {@code x = latents + sigma*N}
   * for the Euler family, {@code alpha*latents + sigma*alpha*N} for DPM++.
   */
  void addNoise(float[] latents, float[] noise, int i) {
    double sigma = sigmas[i];
    if (sampler.isDpm()) {
      double alpha = 1.0 / Math.sqrt(sigma * sigma + 1);
      for (int k = 0; k < latents.length; k++) {
        latents[k] = (float) (alpha * latents[k] + sigma * alpha * noise[k]);
      }
    } else {
      for (int k = 0; k < latents.length; k++) {
        latents[k] = (float) (latents[k] + sigma * noise[k]);
      }
    }
  }

  /**
   * Advances the latents from step {@code i} to {@code i+1}.
   *
   * @param i the step index into {@link #timesteps}
   * @param modelOutput the (guided) UNet prediction, epsilon or v
   * @param x the latents, updated in place
   * @param noise unit Gaussian noise of x's length; drawn every step by Euler ancestral (as
   *     diffusers does, to keep the generator stream aligned), ignored by the others
   */
  void step(int i, float[] modelOutput, float[] x, Supplier<float[]> noise) {
    switch (sampler) {
      case EULER, EULER_KARRAS -> eulerStep(i, modelOutput, x);
      case EULER_ANCESTRAL -> ancestralStep(i, modelOutput, x, noise.get());
      default -> dpmStep(i, modelOutput, x);
    }
  }

  /** Ancestral sigma up for step i: {@code sqrt(next^2 (sigma^2 - next^2) / sigma^2)}. */
  double sigmaUp(int i) {
    double from = sigmas[i];
    double to = sigmas[i + 1];
    return Math.sqrt(Math.max(0, to * to * (from * from - to * to) / (from * from)));
  }

  /** Ancestral sigma down for step i: {@code sqrt(next^2 - up^2)}. */
  double sigmaDown(int i) {
    double to = sigmas[i + 1];
    double up = sigmaUp(i);
    return Math.sqrt(Math.max(0, to * to - up * up));
  }

  private boolean vPrediction() {
    return config.predictionType().equals("v_prediction");
  }

  /** The derivative dx/dsigma of the Euler family: epsilon itself, or derived from v. */
  private double derivative(double sigma, float out, float x) {
    if (!vPrediction()) {
      return out;
    }
    double x0 = out * (-sigma / Math.sqrt(sigma * sigma + 1)) + x / (sigma * sigma + 1);
    return (x - x0) / sigma;
  }

  private void eulerStep(int i, float[] out, float[] x) {
    double sigma = sigmas[i];
    double dt = sigmas[i + 1] - sigma;
    for (int k = 0; k < x.length; k++) {
      x[k] = (float) (x[k] + derivative(sigma, out[k], x[k]) * dt);
    }
  }

  private void ancestralStep(int i, float[] out, float[] x, float[] noise) {
    double sigma = sigmas[i];
    double up = sigmaUp(i);
    double dt = sigmaDown(i) - sigma;
    for (int k = 0; k < x.length; k++) {
      x[k] = (float) (x[k] + derivative(sigma, out[k], x[k]) * dt + noise[k] * up);
    }
  }

  private void dpmStep(int i, float[] out, float[] x) {
    double sigma = sigmas[i];
    double next = sigmas[i + 1];
    double alpha = 1.0 / Math.sqrt(sigma * sigma + 1);
    double s = sigma * alpha;
    float[] x0 = new float[x.length];
    for (int k = 0; k < x.length; k++) {
      x0[k] = (float) (vPrediction() ? alpha * x[k] - s * out[k] : (x[k] - s * out[k]) / alpha);
    }
    boolean last = i == steps() - 1;
    if (next == 0) {
      // to sigma 0: alpha_next = 1, s_next = 0, exp(-h) = 0, so x' = x0
      System.arraycopy(x0, 0, x, 0, x.length);
    } else {
      double alphaNext = 1.0 / Math.sqrt(next * next + 1);
      double sNext = next * alphaNext;
      double lambda = -Math.log(sigma);
      double h = -Math.log(next) - lambda;
      double ratio = sNext / s;
      double coef = alphaNext * (Math.exp(-h) - 1.0);
      boolean firstOrder = previousX0 == null || lowerOrderNums < 1 || last;
      if (firstOrder) {
        for (int k = 0; k < x.length; k++) {
          x[k] = (float) (ratio * x[k] - coef * x0[k]);
        }
      } else {
        double prevSigma = sigmas[i - 1];
        double h0 = lambda + Math.log(prevSigma);
        double r = h / h0;
        float[] prev = Objects.requireNonNull(previousX0);
        for (int k = 0; k < x.length; k++) {
          double d1 = (x0[k] - prev[k]) * r;
          x[k] = (float) (ratio * x[k] - coef * x0[k] - 0.5 * coef * d1);
        }
      }
    }
    previousX0 = x0;
    if (lowerOrderNums < 2) {
      lowerOrderNums++;
    }
  }

  // ---- schedule math ----

  /** {@code alphas_cumprod} of the training schedule. */
  static double[] alphasCumprod(SchedulerConfig c) {
    int n = c.numTrainTimesteps();
    double[] out = new double[n];
    double prod = 1;
    for (int i = 0; i < n; i++) {
      double beta;
      if (c.betaSchedule().equals("scaled_linear")) {
        double a = Math.sqrt(c.betaStart());
        double b = Math.sqrt(c.betaEnd());
        double v = a + i * (b - a) / (n - 1);
        beta = v * v;
      } else {
        beta = c.betaStart() + i * (c.betaEnd() - c.betaStart()) / (n - 1);
      }
      prod *= 1 - beta;
      out[i] = prod;
    }
    return out;
  }

  /** {@code sqrt((1 - alphas_cumprod) / alphas_cumprod)}, increasing with t. */
  static double[] trainingSigmas(SchedulerConfig c) {
    double[] a = alphasCumprod(c);
    double[] s = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      s[i] = Math.sqrt((1 - a[i]) / a[i]);
    }
    return s;
  }

  /** Timesteps of the Euler family for each spacing (diffusers {@code set_timesteps}). */
  static double[] eulerTimesteps(SchedulerConfig c, int n) {
    int train = c.numTrainTimesteps();
    double[] t = new double[n];
    switch (c.spacing()) {
      case LINSPACE -> {
        for (int k = 0; k < n; k++) {
          double v = n == 1 ? 0 : (train - 1) * (double) k / (n - 1);
          t[n - 1 - k] = v;
        }
      }
      case LEADING -> {
        int ratio = train / n;
        for (int k = 0; k < n; k++) {
          t[k] = (double) (n - 1 - k) * ratio + c.stepsOffset();
        }
      }
      case TRAILING -> {
        double ratio = (double) train / n;
        for (int k = 0; k < n; k++) {
          t[k] = Math.rint(train - k * ratio) - 1;
        }
      }
    }
    return t;
  }

  /** Timesteps of DPMSolverMultistep without Karras sigmas (integer, its own formulas). */
  static double[] dpmTimesteps(SchedulerConfig c, int n) {
    int last = c.numTrainTimesteps();
    double[] t = new double[n];
    switch (c.spacing()) {
      case LINSPACE -> {
        // linspace(0, last-1, n+1).round()[::-1][:-1]
        for (int k = 0; k < n; k++) {
          double v = (last - 1) * (double) (n - k) / n;
          t[k] = Math.rint(v);
        }
      }
      case LEADING -> {
        int ratio = last / (n + 1);
        for (int k = 0; k < n; k++) {
          t[k] = (double) (n - k) * ratio + c.stepsOffset();
        }
      }
      case TRAILING -> {
        double ratio = (double) c.numTrainTimesteps() / n;
        for (int k = 0; k < n; k++) {
          t[k] = Math.rint(last - k * ratio) - 1;
        }
      }
    }
    return t;
  }

  /** {@code np.interp(t, arange(len), sigmas)}. */
  static double[] interpolate(double[] t, double[] train) {
    double[] s = new double[t.length];
    for (int i = 0; i < t.length; i++) {
      s[i] = sigmaAt(t[i], train);
    }
    return s;
  }

  /** Training sigma at a fractional timestep, linearly interpolated. */
  static double sigmaAt(double t, double[] train) {
    if (t <= 0) {
      return train[0];
    }
    if (t >= train.length - 1) {
      return train[train.length - 1];
    }
    int lo = (int) Math.floor(t);
    double w = t - lo;
    return train[lo] * (1 - w) + train[lo + 1] * w;
  }

  /** Karras et al. (2022) sigmas, rho 7, from {@code max} down to {@code min}. */
  static double[] karras(double min, double max, int n) {
    double rho = 7.0;
    double minInv = Math.pow(min, 1 / rho);
    double maxInv = Math.pow(max, 1 / rho);
    double[] s = new double[n];
    for (int k = 0; k < n; k++) {
      double ramp = n == 1 ? 0 : (double) k / (n - 1);
      s[k] = Math.pow(maxInv + ramp * (minInv - maxInv), rho);
    }
    return s;
  }

  /** diffusers {@code _sigma_to_t}: the fractional timestep of a sigma, interpolating log sigmas. */
  static double sigmaToT(double sigma, double[] train) {
    double logSigma = Math.log(Math.max(sigma, 1e-10));
    int n = train.length;
    int lowIdx = 0;
    for (int i = 0; i < n; i++) {
      if (logSigma - Math.log(train[i]) >= 0) {
        lowIdx = i;
      }
    }
    lowIdx = Math.min(lowIdx, n - 2);
    double low = Math.log(train[lowIdx]);
    double high = Math.log(train[lowIdx + 1]);
    double w = (low - logSigma) / (low - high);
    w = Math.max(0, Math.min(1, w));
    return (1 - w) * lowIdx + w * (lowIdx + 1);
  }

  private static double[] withZero(double[] s) {
    double[] out = new double[s.length + 1];
    System.arraycopy(s, 0, out, 0, s.length);
    return out;
  }
}
