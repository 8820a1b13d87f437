package dev.imagegen.local.djl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** float16 conversions, and an fp16 UNet export (float16 inputs, float16 rank-0 timestep) on ONNX Runtime. */
class HalfPrecisionTest {
  @TempDir Path tmp;

  @Test
  void conversionsRoundToNearestEven() {
    assertThat(Half.fromFloat(1f)).isEqualTo((short) 0x3c00);
    assertThat(Half.fromFloat(-2f)).isEqualTo((short) 0xc000);
    assertThat(Half.fromFloat(65504f)).isEqualTo((short) 0x7bff);
    assertThat(Half.fromFloat(70000f)).isEqualTo((short) 0x7c00); // overflow to infinity
    assertThat(Half.fromFloat(5.9604645e-8f)).isEqualTo((short) 0x0001); // smallest subnormal
    assertThat(Half.fromFloat(1f + 0x1p-11f)).isEqualTo((short) 0x3c00); // tie to even
    assertThat(Half.fromFloat(1f + 0x1p-11f + 0x1p-20f)).isEqualTo((short) 0x3c01);
    assertThat(Float.isNaN(Half.toFloat(Half.fromFloat(Float.NaN)))).isTrue();
    for (float f : new float[] {0f, 0.13025f, -7.324367f, 999f, 1e-5f, 14.614641f}) {
      assertThat(Half.toFloat(Half.fromFloat(f))).isCloseTo(f, within(Math.abs(f) * 1e-3f + 1e-7f));
    }
  }

  @Test
  void fp16UnetRunsWithConvertedInputsAndOutputs() throws Exception {
    Path dir = TestOnnxModels.write(tmp.resolve("fp16"), TestOnnxModels.Options.half());
    new OnnxWriter.Graph("unet_fp16")
        .input("sample", OnnxHeader.FLOAT16, "batch_size", 4, "height", "width")
        .input("timestep", OnnxHeader.FLOAT16)
        .input("encoder_hidden_states", OnnxHeader.FLOAT16, "batch_size", "sequence_length", 2048)
        .input("text_embeds", OnnxHeader.FLOAT16, "batch_size", 1280)
        .input("time_ids", OnnxHeader.FLOAT16, "batch_size", 6)
        .halfs("k", new long[0], 0.5f)
        .halfs("ws", new long[0], 0f)
        .node("Mul", new String[] {"sample", "k"}, new String[] {"ks"})
        .node("Mul", new String[] {"timestep", "ws"}, new String[] {"ts"})
        .node("Add", new String[] {"ks", "ts"}, new String[] {"out_sample"})
        .output("out_sample", OnnxHeader.FLOAT16, "batch_size", 4, "height", "width")
        .write(dir.resolve("unet/model.onnx"));
    ModelDirectory.Spec spec = ModelDirectory.inspect(dir, new ObjectMapper());
    assertThat(spec.unet().input("timestep").elemType()).isEqualTo(OnnxHeader.FLOAT16);
    try (OnnxGraphs g = OnnxGraphs.load(spec, Device.cpu(), Map.of())) {
      Pipeline p = TestModels.pipeline(tmp, g, SchedulerConfig.sdxlTurbo());
      float[] x = p.run(new Pipeline.Job("a cat", null, 64, 64, 1, 0.0, Sampler.EULER_ANCESTRAL, new long[] {0}, null,
          1.0), new TestModels.Counting(), false).latents().get(0);
      float[] noise = new TorchRandom(0).randn(x.length);
      for (int i = 0; i < x.length; i++) {
        assertThat((double) x[i]).isCloseTo(7.324367 * noise[i], within(2e-3 * 7.33 * Math.max(1, Math.abs(noise[i]))));
      }
    }
  }
}
