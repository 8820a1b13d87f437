package dev.imagegen.local.djl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The denoising loop with the Java stand-in UNet against the closed forms of protocols/local-sdxl.md §2. */
class PipelineTest {
  static final SchedulerConfig BASE = SchedulerConfig.sdxlBase();
  static final SchedulerConfig TURBO = SchedulerConfig.sdxlTurbo();
  @TempDir Path tmp;

  Pipeline.Job job(int size, int steps, double guidance, Sampler sampler, long... seeds) {
    return new Pipeline.Job("a cat", null, size, size, steps, guidance, sampler, seeds, null, 1.0);
  }

  /** Asserts latents == factor x the seed's unit noise (rel 1e-5 of the largest value). */
  static void assertMultipleOfNoise(float[] latents, long seed, double factor) {
    float[] noise = new TorchRandom(seed).randn(latents.length);
    for (int i = 0; i < latents.length; i++) {
      assertThat((double) latents[i]).as("element %d", i).isCloseTo(factor * noise[i], within(1e-5 * 4 * factor));
    }
  }

  @Test
  void baseLeading20EulerWithGuidanceMatchesTheClosedForm() throws IOException {
    StandInGraphs g = StandInGraphs.half();
    Pipeline p = TestModels.pipeline(tmp, g, BASE);
    TestModels.Counting l = new TestModels.Counting();
    Pipeline.Result r = p.run(job(64, 20, 5.0, Sampler.EULER, 7L), l, false);
    assertMultipleOfNoise(r.latents().get(0), 7L, 2.466173);
    assertThat(l.steps).isEqualTo(20);
    assertThat(g.unetBatches).hasSize(20).containsOnly(2); // CFG doubles the batch
    assertThat(g.timesteps.get(0)).isEqualTo(951.0);
    assertThat(g.timesteps.get(19)).isEqualTo(1.0);
  }

  @Test
  void turboClosedForms() throws IOException {
    StandInGraphs g = StandInGraphs.half();
    Pipeline p = TestModels.pipeline(tmp, g, TURBO);
    Pipeline.Result one = p.run(job(64, 1, 0.0, Sampler.EULER_ANCESTRAL, 3L), new TestModels.Counting(), false);
    assertMultipleOfNoise(one.latents().get(0), 3L, 7.324367);
    assertThat(g.unetBatches).containsExactly(1); // guidance 0: no CFG
    assertThat(g.timesteps).containsExactly(999.0);

    Pipeline.Result four = p.run(job(64, 4, 0.0, Sampler.EULER, 3L), new TestModels.Counting(), false);
    assertMultipleOfNoise(four.latents().get(0), 3L, 3.582192);
  }

  @Test
  void dpmKarrasClosedForm() throws IOException {
    Pipeline p = TestModels.pipeline(tmp, StandInGraphs.half(), BASE);
    Pipeline.Result r = p.run(job(64, 20, 1.0, Sampler.DPMPP_2M_KARRAS, 11L), new TestModels.Counting(), false);
    assertMultipleOfNoise(r.latents().get(0), 11L, 2.683627);
  }

  @Test
  void ancestralDrawsFreshNoiseEachStepFromTheSameGenerator() throws IOException {
    Pipeline p = TestModels.pipeline(tmp, StandInGraphs.half(), TURBO);
    float[] x = p.run(job(64, 4, 0.0, Sampler.EULER_ANCESTRAL, 5L), new TestModels.Counting(), false).latents().get(0);
    // recompute by hand: init noise, then 4 steps each drawing randn from the same generator
    Scheduler s = Scheduler.create(TURBO, Sampler.EULER_ANCESTRAL, 4);
    TorchRandom gen = new TorchRandom(5L);
    float[] expected = gen.randn(x.length);
    for (int i = 0; i < expected.length; i++) {
      expected[i] *= (float) s.initNoiseSigma;
    }
    for (int i = 0; i < 4; i++) {
      float[] out = new float[expected.length];
      for (int j = 0; j < out.length; j++) {
        out[j] = 0.5f * (expected[j] * (float) s.inputScale(i));
      }
      s.step(i, out, expected, () -> gen.randn(out.length));
    }
    for (int i = 0; i < x.length; i++) {
      assertThat(x[i]).isCloseTo(expected[i], within(1e-5f));
    }
  }

  @Test
  void guidanceUsesTheNegativeHalfFirstAndZerosForNoNegativePrompt() throws IOException {
    StandInGraphs g = new StandInGraphs(0f, 1f, 0f, 0f, 0f); // out = mean(encoder_hidden_states)
    Pipeline p = TestModels.pipeline(tmp, g, TURBO);
    double guidance = 3.0;
    float[] x = p.run(job(64, 1, guidance, Sampler.EULER, 9L), new TestModels.Counting(), false).latents().get(0);
    int row = Pipeline.SEQ * 2048;
    assertThat(StandInGraphs.mean(g.firstEhs, 0, row)).isEqualTo(0.0); // negative half: zeros
    double cond = StandInGraphs.mean(g.firstEhs, 1, row);
    // "a cat" -> [14, 3, 8, 15, pad...]; penultimate = id + 11 (768 wide) and id + 31 (1280 wide)
    long[] ids1 = p.tokenizer1.encode("a cat").ids();
    long[] ids2 = p.tokenizer2.encode("a cat").ids();
    double expected = (Arrays.stream(ids1).mapToDouble(v -> v + 11).sum() * 768
        + Arrays.stream(ids2).mapToDouble(v -> v + 31).sum() * 1280) / row;
    assertThat(cond).isCloseTo(expected, within(1e-3));
    assertThat(g.firstTimeIds).containsExactly(64, 64, 0, 0, 64, 64, 64, 64, 0, 0, 64, 64);
    // eps = u + g (c - u) = g * cond; one Euler step from sigma_max to 0
    double sigma = 14.614641;
    float[] noise = new TorchRandom(9L).randn(x.length);
    for (int i = 0; i < x.length; i += 97) {
      assertThat((double) x[i]).isCloseTo(sigma * noise[i] - sigma * guidance * cond, within(1e-3 * sigma * guidance * cond));
    }
  }

  @Test
  void aGivenNegativePromptIsEncoded() throws IOException {
    StandInGraphs g = new StandInGraphs(0f, 1f, 0f, 0f, 0f);
    Pipeline p = TestModels.pipeline(tmp, g, TURBO);
    p.run(new Pipeline.Job("a cat", "dog", 64, 64, 1, 2.0, Sampler.EULER, new long[] {1}, null, 1.0),
        new TestModels.Counting(), false);
    assertThat(StandInGraphs.mean(g.firstEhs, 0, Pipeline.SEQ * 2048)).isGreaterThan(0.0);
    assertThat(g.firstTextEmbeds[0]).isGreaterThan(0f);
  }

  @Test
  void sameSeedSameLatentsAndImagesUseOneGeneratorEach() throws IOException {
    Pipeline p = TestModels.pipeline(tmp, StandInGraphs.half(), TURBO);
    Pipeline.Result a = p.run(job(64, 2, 0.0, Sampler.EULER_ANCESTRAL, 42L, 43L), new TestModels.Counting());
    Pipeline.Result b = p.run(job(64, 2, 0.0, Sampler.EULER_ANCESTRAL, 42L), new TestModels.Counting());
    Pipeline.Result c = p.run(job(64, 2, 0.0, Sampler.EULER_ANCESTRAL, 43L), new TestModels.Counting());
    assertThat(a.rgb()).hasSize(2);
    assertThat(a.rgb().get(0)).isEqualTo(b.rgb().get(0));
    assertThat(a.rgb().get(1)).isEqualTo(c.rgb().get(0));
    assertThat(a.rgb().get(0)).isNotEqualTo(a.rgb().get(1));
    assertThat(a.rgb().get(0)).hasSize(64 * 64 * 3);
  }

  @Test
  void img2imgRunsStepsTimesStrengthFromTheEncodedImage() throws IOException {
    StandInGraphs g = StandInGraphs.half();
    Pipeline p = TestModels.pipeline(tmp, g, TURBO);
    float[] gray = new float[3 * 64 * 64];
    Arrays.fill(gray, 0.25f);
    TestModels.Counting l = new TestModels.Counting();
    Pipeline.Result r = p.run(new Pipeline.Job("a cat", null, 64, 64, 2, 0.0, Sampler.EULER_ANCESTRAL, new long[] {1},
        gray, 0.5), l, false);
    assertThat(r.stepsRun()).isEqualTo(1);
    assertThat(l.total).isEqualTo(1);
    assertThat(g.timesteps).containsExactly(499.0); // "2 x 0.5 runs one step at t = 499"

    g.timesteps.clear();
    p.run(new Pipeline.Job("a cat", null, 64, 64, 4, 0.0, Sampler.EULER, new long[] {1}, gray, 0.6),
        new TestModels.Counting(), false);
    assertThat(g.timesteps).containsExactly(499.0, 249.0); // floor(4 x 0.6) = 2 of [999, 749, 499, 249]

    assertThatThrownBy(() -> p.run(new Pipeline.Job("a cat", null, 64, 64, 1, 0.0, Sampler.EULER, new long[] {1},
        gray, 0.5), new TestModels.Counting())).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void img2imgNoisesTheScaledLatentsToTheFirstSigma() throws IOException {
    // zero UNet: Euler leaves x at latents + sigma(t_start) * N, and the encoder noise is e^-15 small
    StandInGraphs g = new StandInGraphs(0f, 0f, 0f, 0f, 0f);
    Pipeline p = TestModels.pipeline(tmp, g, TURBO);
    float[] gray = new float[3 * 64 * 64];
    Arrays.fill(gray, 0.25f);
    float[] x = p.run(new Pipeline.Job("a cat", null, 64, 64, 2, 0.0, Sampler.EULER, new long[] {4}, gray, 0.5),
        new TestModels.Counting(), false).latents().get(0);
    TorchRandom gen = new TorchRandom(4);
    gen.randn(x.length); // the encoder's sampling noise
    float[] noise = gen.randn(x.length);
    double sigma = Scheduler.create(TURBO, Sampler.EULER, 2).sigmas[1];
    for (int i = 0; i < x.length; i += 31) {
      assertThat((double) x[i]).isCloseTo(0.13025 * 0.25 + sigma * noise[i], within(1e-4));
    }
  }

  @Test
  void cancellationStopsBetweenSteps() throws IOException {
    StandInGraphs g = StandInGraphs.half();
    Pipeline p = TestModels.pipeline(tmp, g, BASE);
    AtomicInteger steps = new AtomicInteger();
    Pipeline.Listener cancelAfter3 = new Pipeline.Listener() {
      @Override
      public boolean cancelled() {
        return steps.get() >= 3;
      }

      @Override
      public void step(int done, int total) {
        steps.set(done);
      }
    };
    assertThatThrownBy(() -> p.run(job(64, 20, 5.0, Sampler.EULER, 1L), cancelAfter3))
        .isInstanceOf(CancellationException.class).hasMessageContaining("3 of 20");
    assertThat(g.unetBatches).hasSize(3);
  }

  @Test
  void decodesToRoundedRgb() {
    float[] px = new float[3 * 2 * 1];
    px[0] = 0.5f; // R of pixel 0 -> 0.75 -> 191.25 -> 191
    px[1] = 2f; // R of pixel 1 -> clamped 255
    px[2] = -1f; // G of pixel 0 -> 0
    px[4] = 1f / 255f - 1f; // B of pixel 0 -> 0.5 -> round half to even -> 0
    byte[] rgb = Pipeline.toRgb(px, 2, 1);
    assertThat(rgb[0] & 0xff).isEqualTo(191);
    assertThat(rgb[3] & 0xff).isEqualTo(255);
    assertThat(rgb[1] & 0xff).isEqualTo(0);
    assertThat(rgb[2] & 0xff).isLessThanOrEqualTo(1);
    float[] nan = new float[3];
    nan[1] = Float.NaN;
    assertThatThrownBy(() -> Pipeline.toRgb(nan, 1, 1)).hasMessageContaining("NaN");
  }
}
