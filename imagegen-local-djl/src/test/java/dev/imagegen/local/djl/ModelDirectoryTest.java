package dev.imagegen.local.djl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The directory check: ONNX headers read without weights, every problem reported at once. */
class ModelDirectoryTest {
  final ObjectMapper json = new ObjectMapper();
  @TempDir Path tmp;

  @Test
  void describesAGoodExport() throws IOException {
    Path dir = TestOnnxModels.write(tmp.resolve("turbo"), TestOnnxModels.Options.half());
    ModelDirectory.Spec spec = ModelDirectory.inspect(dir, json);
    assertThat(spec.penultimate1()).isEqualTo("hidden_states.11");
    assertThat(spec.penultimate2()).isEqualTo("hidden_states.31");
    assertThat(spec.scheduler().defaultSampler()).isEqualTo(Sampler.EULER_ANCESTRAL);
    assertThat(spec.scheduler().spacing()).isEqualTo(SchedulerConfig.Spacing.TRAILING);
    assertThat(spec.encoderOutput()).isEqualTo(ModelDirectory.EncoderOutput.PARAMETERS);
    assertThat(spec.nativeSize()).isEqualTo(64);
    assertThat(spec.vaeScaling()).isEqualTo(0.13025);
    OnnxHeader.ValueInfo t = spec.unet().input("timestep");
    assertThat(t.rank()).isZero();
    assertThat(t.elemType()).isEqualTo(OnnxHeader.FLOAT);
    OnnxHeader.ValueInfo sample = spec.unet().input("sample");
    assertThat(sample.dims()).containsExactly(-1, 4, -1, -1);
    assertThat(sample.dimNames()).containsExactly("batch_size", "", "height", "width");
    assertThat(spec.unet().opset()).isEqualTo(17);
    assertThat(spec.unet().irVersion()).isEqualTo(8);
    assertThat(spec.textEncoder().outputs()).hasSize(15); // last_hidden_state, pooler_output, hidden_states.0..12
    // initializers are not inputs
    assertThat(spec.unet().inputs()).extracting(OnnxHeader.ValueInfo::name)
        .containsExactly("sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids");
  }

  @Test
  void readsTheOlderInt64TimestepAndExternalWeights() throws IOException {
    Path dir = TestOnnxModels.write(tmp.resolve("old"), TestOnnxModels.Options.half().int64().external());
    ModelDirectory.Spec spec = ModelDirectory.inspect(dir, json);
    OnnxHeader.ValueInfo t = spec.unet().input("timestep");
    assertThat(t.rank()).isEqualTo(1);
    assertThat(t.dims()).containsExactly(1);
    assertThat(t.elemType()).isEqualTo(OnnxHeader.INT64);
    assertThat(spec.unet().externalData()).containsExactly("model.onnx_data");
  }

  @Test
  void aBrokenDirectoryListsEveryProblemAtOnce() throws IOException {
    Path dir = TestOnnxModels.write(tmp.resolve("broken"), TestOnnxModels.Options.half().external());
    Files.delete(dir.resolve("unet/model.onnx_data"));
    Files.delete(dir.resolve("tokenizer_2/merges.txt"));
    Files.writeString(dir.resolve("scheduler/scheduler_config.json"), "{\"timestep_spacing\": \"sideways\"}");
    Files.delete(dir.resolve("text_encoder/model.onnx"));
    new OnnxWriter.Graph("bad_decoder")
        .input("latents", OnnxHeader.FLOAT, "b", 4, "h", "w")
        .node("Identity", "latents", "sample")
        .output("sample", OnnxHeader.FLOAT, "b", 4, "h", "w")
        .write(dir.resolve("vae_decoder/model.onnx"));
    Files.writeString(dir.resolve("vae_encoder/model.onnx"), "not protobuf at all, just text");

    ModelDirectoryException e = catchThrowableOfType(ModelDirectoryException.class,
        () -> ModelDirectory.inspect(dir, json));
    assertThat(e).isNotNull();
    assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains("unet").contains("model.onnx_data").contains("missing"));
    assertThat(e.problems()).anySatisfy(p -> assertThat(p).isEqualTo("tokenizer_2/merges.txt is missing"));
    assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains("scheduler_config.json").contains("sideways"));
    assertThat(e.problems()).anySatisfy(p -> assertThat(p).isEqualTo("text_encoder/model.onnx is missing"));
    assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains("vae_decoder: input 'latent_sample' is missing"));
    assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains("vae_decoder: unexpected input 'latents'"));
    assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains("vae_encoder/model.onnx cannot be read"));
    assertThat(e.problems()).hasSize(7);
    assertThat(e.getMessage()).contains("7 problems");
  }

  @Test
  void wrongRanksAndTypesAreNamed() throws IOException {
    Path dir = TestOnnxModels.write(tmp.resolve("ranks"), TestOnnxModels.Options.half());
    new OnnxWriter.Graph("bad_unet")
        .input("sample", OnnxHeader.FLOAT, "b", 4, "h")
        .input("timestep", OnnxHeader.FLOAT, 1, 1)
        .input("encoder_hidden_states", OnnxHeader.INT64, "b", 77, 2048)
        .input("text_embeds", OnnxHeader.FLOAT, "b", 1280)
        .input("time_ids", OnnxHeader.FLOAT, "b", 5)
        .node("Identity", "sample", "out_sample")
        .output("out_sample", OnnxHeader.FLOAT, "b", 4, "h")
        .write(dir.resolve("unet/model.onnx"));
    Files.delete(dir.resolve("model_index.json"));
    ModelDirectoryException e = catchThrowableOfType(ModelDirectoryException.class,
        () -> ModelDirectory.inspect(dir, json));
    assertThat(e.problems()).containsExactlyInAnyOrder(
        "model_index.json is missing",
        "unet: input 'sample' has rank 3, expected 4",
        "unet: input 'timestep' has rank 2, expected 0 or 1",
        "unet: input 'encoder_hidden_states' is int64, expected float32 or float16",
        "unet: output 'out_sample' has rank 3, expected 4",
        "unet: input 'time_ids' has 5 values per row, expected 6 (an SDXL refiner?)");
  }

  @Test
  void notADirectory() {
    ModelDirectoryException e = catchThrowableOfType(ModelDirectoryException.class,
        () -> ModelDirectory.inspect(tmp.resolve("nope"), json));
    assertThat(e.problems()).containsExactly("not a directory");
  }
}
