package dev.imagegen.local.djl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ONNX stand-ins run on DJL's ONNX Runtime engine (CPU), against the Java stand-ins. */
class OnnxPipelineTest {
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path tmp;
  static OnnxGraphs turbo;
  static OnnxGraphs probe;
  static OnnxGraphs int64;
  static TestOnnxModels.Options probeWeights = TestOnnxModels.Options.half().weights(0.5f, 0.01f, 0.002f, 0.003f, 1e-4f);

  @BeforeAll
  static void load() throws IOException {
    turbo = OnnxGraphs.load(ModelDirectory.inspect(TestOnnxModels.write(tmp.resolve("turbo"),
        TestOnnxModels.Options.half()), JSON), Device.cpu(), Map.of());
    probe = OnnxGraphs.load(ModelDirectory.inspect(TestOnnxModels.write(tmp.resolve("probe"), probeWeights.base()),
        JSON), Device.cpu(), Map.of());
    int64 = OnnxGraphs.load(ModelDirectory.inspect(TestOnnxModels.write(tmp.resolve("int64"),
        probeWeights.int64().external()), JSON), Device.cpu(), Map.of());
  }

  @AfterAll
  static void close() {
    for (OnnxGraphs g : new OnnxGraphs[] {turbo, probe, int64}) {
      if (g != null) {
        g.close();
      }
    }
  }

  @Test
  void textEncodersGiveThePenultimateLayerByName() {
    long[] ids = new long[77];
    Arrays.fill(ids, 320);
    Graphs.TextOutput t2 = turbo.encodeText(2, ids, 1);
    assertThat(t2.dim()).isEqualTo(1280);
    assertThat(t2.hidden()).hasSize(77 * 1280);
    assertThat(t2.hidden()[0]).isEqualTo(351f); // hidden_states.31 = 320 + 31
    assertThat(t2.pooledDim()).isEqualTo(1280);
    assertThat(t2.pooled()[0]).isEqualTo(352f); // mean of the last layer, 320 + 32
    Graphs.TextOutput t1 = turbo.encodeText(1, ids, 1);
    assertThat(t1.dim()).isEqualTo(768);
    assertThat(t1.hidden()[5]).isEqualTo(331f);
    assertThat(t1.pooled()).isNull();
  }

  @Test
  void turboOneStepMatchesTheClosedFormOnOnnxRuntime() throws IOException {
    Pipeline p = TestModels.pipeline(tmp.resolve("t1"), turbo, SchedulerConfig.sdxlTurbo());
    Pipeline.Result r = p.run(new Pipeline.Job("a cat", null, 64, 64, 1, 0.0, Sampler.EULER_ANCESTRAL, new long[] {0},
        null, 1.0), new TestModels.Counting());
    float[] noise = new TorchRandom(0).randn(4 * 8 * 8);
    float[] x = r.latents().get(0);
    for (int i = 0; i < x.length; i++) {
      assertThat((double) x[i]).isCloseTo(7.324367 * noise[i], within(1e-5 * 7.33 * 4));
    }
    // decode: channel c of latent (y/8, x/8) / 0.13025 -> pixel
    byte[] rgb = r.rgb().get(0);
    assertThat(rgb).hasSize(64 * 64 * 3);
    double v = x[0] / 0.13025;
    int expected = (int) Math.rint(255 * Math.max(0, Math.min(1, v / 2 + 0.5)));
    assertThat(rgb[0] & 0xff).isCloseTo(expected, within(1));
  }

  @Test
  void conditioningAndGuidanceMatchTheJavaStandInBothTimestepForms() throws IOException {
    StandInGraphs java = new StandInGraphs(0.5f, 0.01f, 0.002f, 0.003f, 1e-4f);
    Pipeline.Job job = new Pipeline.Job("a cat, dog!", null, 64, 64, 4, 4.0, Sampler.EULER, new long[] {12, 13},
        null, 1.0);
    float[] ref = TestModels.pipeline(tmp.resolve("j"), java, SchedulerConfig.sdxlBase())
        .run(job, new TestModels.Counting(), false).latents().get(1);
    for (OnnxGraphs g : new OnnxGraphs[] {probe, int64}) {
      float[] onnx = TestModels.pipeline(tmp.resolve("o"), g, SchedulerConfig.sdxlBase())
          .run(job, new TestModels.Counting(), false).latents().get(1);
      for (int i = 0; i < ref.length; i++) {
        assertThat(onnx[i]).as("element %d", i).isCloseTo(ref[i], within(1e-4f * Math.max(1f, Math.abs(ref[i]))));
      }
    }
    // the int64 form gets the timestep truncated to an integer: leading timesteps are integers, so equal
    assertThat(java.timesteps).containsExactly(751.0, 501.0, 251.0, 1.0);
  }

  @Test
  void img2imgThroughTheOnnxEncoder() throws IOException {
    Pipeline p = TestModels.pipeline(tmp.resolve("i"), turbo, SchedulerConfig.sdxlTurbo());
    float[] gray = new float[3 * 64 * 64];
    Arrays.fill(gray, 0.25f);
    Pipeline.Result onnx = p.run(new Pipeline.Job("a cat", null, 64, 64, 2, 0.0, Sampler.EULER_ANCESTRAL,
        new long[] {8}, gray, 0.5), new TestModels.Counting(), false);
    Pipeline.Result java = TestModels.pipeline(tmp.resolve("ij"), StandInGraphs.half(), SchedulerConfig.sdxlTurbo())
        .run(new Pipeline.Job("a cat", null, 64, 64, 2, 0.0, Sampler.EULER_ANCESTRAL, new long[] {8}, gray, 0.5),
            new TestModels.Counting(), false);
    assertThat(onnx.stepsRun()).isEqualTo(1);
    for (int i = 0; i < 256; i++) {
      assertThat(onnx.latents().get(0)[i]).isCloseTo(java.latents().get(0)[i], within(1e-4f));
    }
  }
}
