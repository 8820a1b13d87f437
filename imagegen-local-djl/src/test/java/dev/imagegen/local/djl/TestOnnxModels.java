package dev.imagegen.local.djl;

import static dev.imagegen.local.djl.OnnxHeader.FLOAT;
import static dev.imagegen.local.djl.OnnxHeader.INT64;
import static dev.imagegen.local.djl.OnnxWriter.attrInt;
import static dev.imagegen.local.djl.OnnxWriter.attrInts;
import static dev.imagegen.local.djl.OnnxWriter.attrString;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Writes an optimum-shaped SDXL directory of tiny ONNX stand-ins (protocols/local-sdxl.md §4): the
 * real graph names, input/output names, ranks and dtypes, fp32, computing the formulas of
 * {@link StandInGraphs}. Toy CLIP tokenizers.
 */
final class TestOnnxModels {
  private TestOnnxModels() {}

  /**
   * What to write.
   *
   * @param k UNet weight on {@code sample}
   * @param we weight on mean(encoder_hidden_states)
   * @param wt weight on mean(text_embeds)
   * @param wi weight on mean(time_ids)
   * @param ws weight on the timestep
   * @param int64Timestep the older export form: {@code timestep} int64 [1] instead of a float scalar
   * @param externalUnetWeights keep the UNet's weights in {@code unet/model.onnx_data}
   * @param convChannels when above 0, a mid-size UNet doing real work: 3x3 convs 4-C-C-4 with ReLU, added to k*sample
   * @param sampleSize the UNet config's {@code sample_size} (latent pixels)
   * @param turbo write SDXL-Turbo's scheduler (Euler ancestral, trailing) rather than base's (Euler, leading)
   */
  record Options(float k, float we, float wt, float wi, float ws, boolean int64Timestep, boolean externalUnetWeights,
      int convChannels, int sampleSize, boolean turbo) {
    static Options half() {
      return new Options(0.5f, 0, 0, 0, 0, false, false, 0, 8, true);
    }

    Options weights(float k, float we, float wt, float wi, float ws) {
      return new Options(k, we, wt, wi, ws, int64Timestep, externalUnetWeights, convChannels, sampleSize, turbo);
    }

    Options int64() {
      return new Options(k, we, wt, wi, ws, true, externalUnetWeights, convChannels, sampleSize, turbo);
    }

    Options external() {
      return new Options(k, we, wt, wi, ws, int64Timestep, true, convChannels, sampleSize, turbo);
    }

    Options conv(int channels) {
      return new Options(k, we, wt, wi, ws, int64Timestep, externalUnetWeights, channels, sampleSize, turbo);
    }

    Options base() {
      return new Options(k, we, wt, wi, ws, int64Timestep, externalUnetWeights, convChannels, sampleSize, false);
    }
  }

  static Path write(Path dir, Options o) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("model_index.json"), """
        {"_class_name": "ORTStableDiffusionXLPipeline", "_diffusers_version": "0.31.0",
         "force_zeros_for_empty_prompt": true, "requires_aesthetics_score": false}
        """);
    Files.createDirectories(dir.resolve("scheduler"));
    Files.writeString(dir.resolve("scheduler/scheduler_config.json"), o.turbo() ? """
        {"_class_name": "EulerAncestralDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
         "beta_start": 0.00085, "num_train_timesteps": 1000, "prediction_type": "epsilon", "steps_offset": 1,
         "timestep_spacing": "trailing", "trained_betas": null}
        """ : """
        {"_class_name": "EulerDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
         "beta_start": 0.00085, "interpolation_type": "linear", "num_train_timesteps": 1000,
         "prediction_type": "epsilon", "steps_offset": 1, "timestep_spacing": "leading", "use_karras_sigmas": false}
        """);
    ClipTokenizerTest.write(dir.resolve("tokenizer"), "<|endoftext|>");
    ClipTokenizerTest.write(dir.resolve("tokenizer_2"), "!");
    textEncoder(768, 12, "pooler_output").write(dir.resolve("text_encoder/model.onnx"));
    textEncoder(1280, 32, "text_embeds").write(dir.resolve("text_encoder_2/model.onnx"));
    unet(dir.resolve("unet"), o);
    Files.writeString(dir.resolve("unet/config.json"), "{\"sample_size\": " + o.sampleSize() + "}");
    vaeDecoder().write(dir.resolve("vae_decoder/model.onnx"));
    Files.writeString(dir.resolve("vae_decoder/config.json"), "{\"scaling_factor\": 0.13025, \"force_upcast\": true}");
    vaeEncoder().write(dir.resolve("vae_encoder/model.onnx"));
    return dir;
  }

  static OnnxWriter.Graph textEncoder(int dim, int layers, String pooled) {
    OnnxWriter.Graph g = new OnnxWriter.Graph("text_encoder_stand_in")
        .input("input_ids", INT64, "batch_size", "sequence_length")
        .longs("axis2", new long[] {1}, 2)
        .floats("ones", new long[] {dim}, filled(dim, 1f))
        .node("Cast", "input_ids", "ids_f", attrInt("to", FLOAT))
        .node("Unsqueeze", new String[] {"ids_f", "axis2"}, new String[] {"ids_u"})
        .node("Mul", new String[] {"ids_u", "ones"}, new String[] {"base"});
    for (int i = 0; i <= layers; i++) {
      g.floats("layer" + i, new long[0], i)
          .node("Add", new String[] {"base", "layer" + i}, new String[] {"hidden_states." + i});
    }
    g.node("Identity", "hidden_states." + layers, "last_hidden_state")
        .node("ReduceMean", "last_hidden_state", pooled, attrInts("axes", 1), attrInt("keepdims", 0))
        .output("last_hidden_state", FLOAT, "batch_size", "sequence_length", dim)
        .output(pooled, FLOAT, "batch_size", dim);
    for (int i = 0; i <= layers; i++) {
      g.output("hidden_states." + i, FLOAT, "batch_size", "sequence_length", dim);
    }
    return g;
  }

  static void unet(Path dir, Options o) throws IOException {
    OnnxWriter.Graph g = new OnnxWriter.Graph("unet_stand_in")
        .input("sample", FLOAT, "batch_size", 4, "height", "width");
    if (o.int64Timestep()) {
      g.input("timestep", INT64, 1);
    } else {
      g.input("timestep", FLOAT);
    }
    g.input("encoder_hidden_states", FLOAT, "batch_size", "sequence_length", 2048)
        .input("text_embeds", FLOAT, "batch_size", 1280)
        .input("time_ids", FLOAT, "batch_size", 6)
        .longs("axes123", new long[] {3}, 1, 2, 3)
        .floats("we", new long[0], o.we())
        .floats("wt", new long[0], o.wt())
        .floats("wi", new long[0], o.wi())
        .floats("ws", new long[0], o.ws());
    if (o.externalUnetWeights()) {
      Files.createDirectories(dir);
      Files.write(dir.resolve("model.onnx_data"), ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(o.k()).array());
      g.externalFloats("k", new long[0], "model.onnx_data", 0, 4);
    } else {
      g.floats("k", new long[0], o.k());
    }
    g.node("Mul", new String[] {"sample", "k"}, new String[] {"ks"})
        .node("ReduceMean", "encoder_hidden_states", "me", attrInts("axes", 1, 2), attrInt("keepdims", 0))
        .node("Mul", new String[] {"me", "we"}, new String[] {"me_w"})
        .node("Unsqueeze", new String[] {"me_w", "axes123"}, new String[] {"me_u"})
        .node("ReduceMean", "text_embeds", "mt", attrInts("axes", 1), attrInt("keepdims", 0))
        .node("Mul", new String[] {"mt", "wt"}, new String[] {"mt_w"})
        .node("Unsqueeze", new String[] {"mt_w", "axes123"}, new String[] {"mt_u"})
        .node("ReduceMean", "time_ids", "mi", attrInts("axes", 1), attrInt("keepdims", 0))
        .node("Mul", new String[] {"mi", "wi"}, new String[] {"mi_w"})
        .node("Unsqueeze", new String[] {"mi_w", "axes123"}, new String[] {"mi_u"});
    String t = "timestep";
    if (o.int64Timestep()) {
      g.node("Cast", "timestep", "t_f", attrInt("to", FLOAT));
      t = "t_f";
    }
    g.node("Mul", new String[] {t, "ws"}, new String[] {"ts"})
        .node("Add", new String[] {"ks", "me_u"}, new String[] {"a1"})
        .node("Add", new String[] {"a1", "mt_u"}, new String[] {"a2"})
        .node("Add", new String[] {"a2", "mi_u"}, new String[] {"a3"});
    String last = "a3";
    if (o.convChannels() > 0) {
      int c = o.convChannels();
      g.floats("w1", new long[] {c, 4, 3, 3}, random(c * 4 * 9, 1, 0.1f))
          .floats("w2", new long[] {c, c, 3, 3}, random(c * c * 9, 2, 0.02f))
          .floats("w3", new long[] {4, c, 3, 3}, random(4 * c * 9, 3, 0.002f))
          .node("Conv", new String[] {"sample", "w1"}, new String[] {"c1"}, attrInts("pads", 1, 1, 1, 1))
          .node("Relu", "c1", "r1")
          .node("Conv", new String[] {"r1", "w2"}, new String[] {"c2"}, attrInts("pads", 1, 1, 1, 1))
          .node("Relu", "c2", "r2")
          .node("Conv", new String[] {"r2", "w3"}, new String[] {"c3"}, attrInts("pads", 1, 1, 1, 1))
          .node("Add", new String[] {"a3", "c3"}, new String[] {"a4"});
      last = "a4";
    }
    g.node("Add", new String[] {last, "ts"}, new String[] {"out_sample"})
        .output("out_sample", FLOAT, "batch_size", 4, "height", "width");
    g.write(dir.resolve("model.onnx"));
  }

  static OnnxWriter.Graph vaeDecoder() {
    return new OnnxWriter.Graph("vae_decoder_stand_in")
        .input("latent_sample", FLOAT, "batch_size", 4, "latent_height", "latent_width")
        .longs("starts", new long[] {1}, 0)
        .longs("ends", new long[] {1}, 3)
        .longs("axes", new long[] {1}, 1)
        .floats("scales", new long[] {4}, 1, 1, 8, 8)
        .node("Slice", new String[] {"latent_sample", "starts", "ends", "axes"}, new String[] {"rgb"})
        .node("Resize", new String[] {"rgb", "", "scales"}, new String[] {"sample"}, attrString("mode", "nearest"),
            attrString("coordinate_transformation_mode", "asymmetric"), attrString("nearest_mode", "floor"))
        .output("sample", FLOAT, "batch_size", 3, "height", "width");
  }

  static OnnxWriter.Graph vaeEncoder() {
    float[] w = new float[8 * 3 * 8 * 8];
    Arrays.fill(w, 0, 4 * 192, 1f / 192);
    float[] b = {0, 0, 0, 0, -30, -30, -30, -30};
    return new OnnxWriter.Graph("vae_encoder_stand_in")
        .input("sample", FLOAT, "batch_size", 3, "height", "width")
        .floats("w", new long[] {8, 3, 8, 8}, w)
        .floats("b", new long[] {8}, b)
        .node("Conv", new String[] {"sample", "w", "b"}, new String[] {"latent_parameters"}, attrInts("strides", 8, 8),
            attrInts("kernel_shape", 8, 8))
        .output("latent_parameters", FLOAT, "batch_size", 8, "latent_height", "latent_width");
  }

  static float[] filled(int n, float v) {
    float[] a = new float[n];
    Arrays.fill(a, v);
    return a;
  }

  static float[] random(int n, long seed, float scale) {
    float[] a = new TorchRandom(seed).randn(n);
    for (int i = 0; i < n; i++) {
      a[i] *= scale;
    }
    return a;
  }
}
