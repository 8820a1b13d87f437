package dev.imagegen.local.djl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.assertj.core.data.Percentage.withPercentage;

import dev.imagegen.local.djl.SchedulerConfig.Spacing;
import org.junit.jupiter.api.Test;

/** The scheduler numbers against the known values of protocols/local-sdxl.md §2 (rel. 1e-5). */
class SchedulerTest {
  static final SchedulerConfig BASE = SchedulerConfig.sdxlBase();
  static final SchedulerConfig TURBO = SchedulerConfig.sdxlTurbo();

  static void close(double actual, double expected) {
    assertThat(actual).isCloseTo(expected, withPercentage(1e-3)); // 1e-5 relative
  }

  static void close(double[] actual, double... expected) {
    for (int i = 0; i < expected.length; i++) {
      if (expected[i] == 0) {
        assertThat(actual[i]).as("index %d", i).isEqualTo(0.0);
      } else {
        assertThat(actual[i]).as("index %d", i).isCloseTo(expected[i], withPercentage(1e-3));
      }
    }
  }

  @Test
  void trainingScheduleMatchesTheBetaFormula() {
    double[] a = Scheduler.alphasCumprod(BASE);
    close(a[0], 0.99915);
    close(a[999], 0.0046601);
    double[] s = Scheduler.trainingSigmas(BASE);
    close(s[0], 0.029167);
    close(s[999], 14.614641);
  }

  @Test
  void leadingTimestepsAndSigmas() {
    assertThat(Scheduler.eulerTimesteps(BASE, 1)).containsExactly(1);
    assertThat(Scheduler.eulerTimesteps(BASE, 4)).containsExactly(751, 501, 251, 1);
    double[] t20 = Scheduler.eulerTimesteps(BASE, 20);
    assertThat(t20).hasSize(20);
    assertThat(t20[0]).isEqualTo(951);
    assertThat(t20[1]).isEqualTo(901);
    assertThat(t20[19]).isEqualTo(1);

    Scheduler s = Scheduler.create(BASE, Sampler.EULER, 20);
    close(s.sigmas, 11.028331, 8.390685, 6.506398, 5.134431, 4.116696);
    assertThat(s.sigmas).hasSize(21);
    assertThat(s.sigmas[20]).isEqualTo(0.0);
    close(s.initNoiseSigma, 11.073576);
    close(s.inputScale(0), 0.090305);

    Scheduler ten = Scheduler.create(BASE, Sampler.EULER, 10);
    close(ten.sigmas[0], 8.390685);
    close(ten.initNoiseSigma, 8.450067);
  }

  @Test
  void trailingTimestepsAndSigmas() {
    assertThat(Scheduler.eulerTimesteps(TURBO, 1)).containsExactly(999);
    assertThat(Scheduler.eulerTimesteps(TURBO, 2)).containsExactly(999, 499);
    assertThat(Scheduler.eulerTimesteps(TURBO, 4)).containsExactly(999, 749, 499, 249);
    double[] t20 = Scheduler.eulerTimesteps(TURBO, 20);
    assertThat(t20[0]).isEqualTo(999);
    assertThat(t20[1]).isEqualTo(949);
    assertThat(t20[19]).isEqualTo(49);

    Scheduler one = Scheduler.create(TURBO, Sampler.EULER_ANCESTRAL, 1);
    close(one.sigmas, 14.614641, 0);
    close(one.initNoiseSigma, 14.614641);
    close(one.inputScale(0), 0.068265);

    Scheduler four = Scheduler.create(TURBO, Sampler.EULER_ANCESTRAL, 4);
    close(four.sigmas, 14.614641, 4.081729, 1.612886, 0.693205, 0);
    double[] up = {3.919304, 1.481626, 0.625914, 0};
    double[] down = {1.139988, 0.637328, 0.297934, 0};
    for (int i = 0; i < 4; i++) {
      if (up[i] == 0) {
        assertThat(four.sigmaUp(i)).isEqualTo(0.0);
        assertThat(four.sigmaDown(i)).isEqualTo(0.0);
      } else {
        close(four.sigmaUp(i), up[i]);
        close(four.sigmaDown(i), down[i]);
      }
    }
  }

  @Test
  void linspaceTimestepsAndSigmas() {
    SchedulerConfig lin = BASE.withSpacing(Spacing.LINSPACE);
    assertThat(Scheduler.eulerTimesteps(lin, 4)).containsExactly(999, 666, 333, 0);
    assertThat(Scheduler.eulerTimesteps(lin, 7)).containsExactly(999, 832.5, 666, 499.5, 333, 166.5, 0);
    Scheduler s = Scheduler.create(lin, Sampler.EULER, 7);
    close(s.sigmas, 14.614641, 5.948916, 2.918307, 1.615583, 0.932358, 0.493553, 0.029167, 0);
    close(s.initNoiseSigma, 14.614641);
  }

  @Test
  void karrasSigmasAndTimestepsOverTheTrainingRange() {
    Scheduler s = Scheduler.create(BASE, Sampler.DPMPP_2M_KARRAS, 20);
    close(s.sigmas, 14.614641, 11.725365, 9.340203, 7.383617, 5.789412);
    close(s.sigmas[19], 0.029167);
    assertThat(s.sigmas[20]).isEqualTo(0.0);
    assertThat(s.timesteps).containsExactly(999, 962, 921, 876, 827, 772, 710, 640, 561, 474, 380, 285, 197, 123,
        69, 35, 15, 6, 2, 0);
    assertThat(s.initNoiseSigma).isEqualTo(1.0);
    assertThat(s.inputScale(3)).isEqualTo(1.0);
  }

  @Test
  void eulerKarrasUsesTheInferenceRange() {
    Scheduler s = Scheduler.create(BASE, Sampler.EULER_KARRAS, 20);
    Scheduler plain = Scheduler.create(BASE, Sampler.EULER, 20);
    close(s.sigmas[0], plain.sigmas[0]);
    close(s.sigmas[19], plain.sigmas[19]);
    assertThat(s.sigmas[1]).isNotCloseTo(plain.sigmas[1], within(1e-3));
    close(Scheduler.sigmaAt(s.timesteps[5], Scheduler.trainingSigmas(BASE)), s.sigmas[5]);
  }

  // ---- the loop's closed forms with a UNet returning 0.5 x its input (one latent of unit noise) ----

  /** Runs the denoising loop on one scalar latent started from unit noise, with no injected noise. */
  static double run(Scheduler s) {
    float[] x = {(float) s.initNoiseSigma};
    for (int i = 0; i < s.steps(); i++) {
      float[] out = {(float) (0.5 * x[0] * s.inputScale(i))};
      s.step(i, out, x, () -> new float[1]);
    }
    return x[0];
  }

  @Test
  void closedFormsOfTheLoop() {
    close(run(Scheduler.create(BASE, Sampler.EULER, 20)), 2.466173);
    close(run(Scheduler.create(TURBO, Sampler.EULER_ANCESTRAL, 1)), 7.324367);
    close(run(Scheduler.create(TURBO, Sampler.EULER, 4)), 3.582192);
    close(run(Scheduler.create(TURBO, Sampler.EULER_ANCESTRAL, 4)), 2.177246);
    close(run(Scheduler.create(BASE, Sampler.DPMPP_2M_KARRAS, 20)), 2.683627);
  }

  @Test
  void dpmFirstStepMatchesTheProtocol() {
    Scheduler s = Scheduler.create(BASE, Sampler.DPMPP_2M_KARRAS, 20);
    float[] x = {1f};
    s.step(0, new float[] {0.5f}, x, () -> new float[1]);
    close(x[0], 1.122047);
  }

  @Test
  void zeroUnetGivesNoiseTimesInitSigma() {
    Scheduler e = Scheduler.create(BASE, Sampler.EULER, 20);
    float[] x = {(float) e.initNoiseSigma};
    for (int i = 0; i < e.steps(); i++) {
      e.step(i, new float[1], x, () -> new float[1]);
    }
    close(x[0], 11.073576);
    Scheduler d = Scheduler.create(BASE, Sampler.DPMPP_2M_KARRAS, 20);
    float[] y = {1f};
    for (int i = 0; i < d.steps(); i++) {
      d.step(i, new float[1], y, () -> new float[1]);
    }
    close(y[0], 14.648814);
  }
}
