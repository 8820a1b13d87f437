package dev.imagegen.local.djl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.local.djl.OnnxHeader.ValueInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Checks an optimum SDXL export directory and describes it, reading only JSON files and ONNX
 * headers: every required file, each graph's input names, ranks and dtypes, the outputs the
 * pipeline takes, the external weight files. Every problem is collected and reported at once in a
 * {@link ModelDirectoryException}, before any weights are loaded.
 */
final class ModelDirectory {
  static final String TEXT_ENCODER = "text_encoder";
  static final String TEXT_ENCODER_2 = "text_encoder_2";
  static final String UNET = "unet";
  static final String VAE_DECODER = "vae_decoder";
  static final String VAE_ENCODER = "vae_encoder";
  static final double DEFAULT_VAE_SCALING = 0.13025;

  /** What the VAE encoder returns. */
  enum EncoderOutput {
    /** {@code latent_parameters} [b,8,h,w]: mean and log-variance (optimum 1.23 and later). */
    PARAMETERS,
    /** {@code latent_sample} [b,4,h,w]: already sampled inside the graph (older exports; not seedable). */
    SAMPLE
  }

  /**
   * A usable directory.
   *
   * @param dir the directory
   * @param scheduler the scheduler configuration
   * @param forceZerosForEmptyPrompt zeros instead of encoding an empty negative prompt
   * @param latentSize the UNet's native {@code sample_size} in latent pixels (64 Turbo, 128 base)
   * @param vaeScaling the VAE {@code scaling_factor}
   * @param textEncoder the first text encoder's header
   * @param textEncoder2 the second text encoder's header
   * @param unet the UNet's header
   * @param vaeDecoder the VAE decoder's header
   * @param vaeEncoder the VAE encoder's header, or null when the export has none (no img2img)
   * @param penultimate1 the output taken from {@code text_encoder} ({@code hidden_states.11})
   * @param penultimate2 the output taken from {@code text_encoder_2} ({@code hidden_states.31})
   * @param encoderOutput what the VAE encoder returns, or null without one
   * @param notes things worth logging (an old export form...)
   */
  record Spec(Path dir, SchedulerConfig scheduler, boolean forceZerosForEmptyPrompt, int latentSize, double vaeScaling,
      OnnxHeader textEncoder, OnnxHeader textEncoder2, OnnxHeader unet, OnnxHeader vaeDecoder,
      @Nullable OnnxHeader vaeEncoder, String penultimate1, String penultimate2, @Nullable EncoderOutput encoderOutput,
      List<String> notes) {

    Path graph(String component) {
      return dir.resolve(component).resolve("model.onnx");
    }

    /** The native image size in pixels (512 for Turbo, 1024 for base). */
    int nativeSize() {
      return latentSize * 8;
    }
  }

  private ModelDirectory() {}

  /**
   * Inspects a directory.
   *
   * @param dir the optimum export
   * @param json a JSON mapper
   * @return its description
   * @throws ModelDirectoryException listing every problem found
   */
  static Spec inspect(Path dir, ObjectMapper json) {
    List<String> problems = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      throw new ModelDirectoryException(dir, List.of("not a directory"));
    }
    boolean forceZeros = true;
    JsonNode index = readJson(dir.resolve("model_index.json"), json, problems);
    if (index != null) {
      String cls = index.path("_class_name").asText("");
      if (!cls.contains("StableDiffusionXL")) {
        problems.add("model_index.json: _class_name '" + cls + "' is not an SDXL pipeline");
      } else if (cls.contains("Img2Img") || cls.contains("Inpaint")) {
        notes.add("model_index.json names " + cls + "; text-to-image and img2img both run from the same graphs");
      }
      if (index.path("requires_aesthetics_score").asBoolean(false)) {
        problems.add("model_index.json: requires_aesthetics_score is set (the SDXL refiner), which this engine does not run");
      }
      forceZeros = index.path("force_zeros_for_empty_prompt").asBoolean(true);
    }
    SchedulerConfig scheduler = SchedulerConfig.sdxlBase();
    JsonNode sched = readJson(dir.resolve("scheduler").resolve("scheduler_config.json"), json, problems);
    if (sched != null) {
      try {
        scheduler = SchedulerConfig.from(sched);
      } catch (IllegalArgumentException e) {
        problems.add("scheduler/scheduler_config.json: " + e.getMessage());
      }
    }
    for (String tok : List.of("tokenizer", "tokenizer_2")) {
      for (String f : List.of("vocab.json", "merges.txt")) {
        if (!Files.isRegularFile(dir.resolve(tok).resolve(f))) {
          problems.add(tok + "/" + f + " is missing");
        }
      }
    }
    int latentSize = 128;
    JsonNode unetConfig = optionalJson(dir.resolve(UNET).resolve("config.json"), json, problems);
    if (unetConfig != null && unetConfig.path("sample_size").isInt()) {
      latentSize = unetConfig.path("sample_size").asInt();
    }
    double scaling = DEFAULT_VAE_SCALING;
    JsonNode vaeConfig = optionalJson(dir.resolve(VAE_DECODER).resolve("config.json"), json, problems);
    if (vaeConfig != null && vaeConfig.path("scaling_factor").isNumber()) {
      scaling = vaeConfig.path("scaling_factor").asDouble();
    }

    OnnxHeader te1 = header(dir, TEXT_ENCODER, true, problems);
    OnnxHeader te2 = header(dir, TEXT_ENCODER_2, true, problems);
    OnnxHeader unet = header(dir, UNET, true, problems);
    OnnxHeader dec = header(dir, VAE_DECODER, true, problems);
    OnnxHeader enc = header(dir, VAE_ENCODER, false, problems);
    if (enc == null && Files.isDirectory(dir) && !Files.exists(dir.resolve(VAE_ENCODER).resolve("model.onnx"))) {
      notes.add("no vae_encoder/model.onnx: img2img is not available with this model");
    }

    String pen1 = null;
    String pen2 = null;
    if (te1 != null) {
      pen1 = checkTextEncoder(TEXT_ENCODER, te1, null, problems);
    }
    if (te2 != null) {
      pen2 = checkTextEncoder(TEXT_ENCODER_2, te2, "text_embeds", problems);
    }
    if (unet != null) {
      checkInputs(UNET, unet, problems,
          new Expect("sample", Set.of(4), true),
          new Expect("timestep", Set.of(0, 1), false),
          new Expect("encoder_hidden_states", Set.of(3), true),
          new Expect("text_embeds", Set.of(2), true),
          new Expect("time_ids", Set.of(2), true));
      ValueInfo t = unet.input("timestep");
      if (t != null && !t.isFloat() && t.elemType() != OnnxHeader.INT64 && t.elemType() != OnnxHeader.INT32) {
        problems.add("unet: input 'timestep' is " + OnnxHeader.typeName(t.elemType()) + ", expected float32, float16 or int64");
      }
      requireOutput(UNET, unet, "out_sample", 4, problems);
      ValueInfo ids = unet.input("time_ids");
      if (ids != null && ids.rank() == 2 && ids.dim(1) > 0 && ids.dim(1) != 6) {
        problems.add("unet: input 'time_ids' has " + ids.dim(1) + " values per row, expected 6 (an SDXL refiner?)");
      }
      ValueInfo ehs = unet.input("encoder_hidden_states");
      long d1 = hiddenSize(te1, pen1);
      long d2 = hiddenSize(te2, pen2);
      if (ehs != null && ehs.rank() == 3 && ehs.dim(2) > 0 && d1 > 0 && d2 > 0 && ehs.dim(2) != d1 + d2) {
        problems.add("unet: encoder_hidden_states has width " + ehs.dim(2) + " but the text encoders give " + d1 + " + "
            + d2);
      }
    }
    if (dec != null) {
      checkInputs(VAE_DECODER, dec, problems, new Expect("latent_sample", Set.of(4), true));
      requireOutput(VAE_DECODER, dec, "sample", 4, problems);
    }
    EncoderOutput encoderOutput = null;
    if (enc != null) {
      checkInputs(VAE_ENCODER, enc, problems, new Expect("sample", Set.of(4), true));
      if (enc.output("latent_parameters") != null) {
        encoderOutput = EncoderOutput.PARAMETERS;
      } else if (enc.output("latent_sample") != null) {
        encoderOutput = EncoderOutput.SAMPLE;
        notes.add("vae_encoder returns latent_sample (export before optimum 1.23): img2img encoding is sampled inside"
            + " the graph, so img2img is not reproducible by seed");
      } else {
        problems.add("vae_encoder: has neither a 'latent_parameters' nor a 'latent_sample' output (has "
            + names(enc.outputs()) + ")");
      }
    }
    if (!problems.isEmpty()) {
      throw new ModelDirectoryException(dir, problems);
    }
    // no problem means every required part was read
    return new Spec(dir, scheduler, forceZeros, latentSize, scaling, Objects.requireNonNull(te1), Objects.requireNonNull(te2),
        Objects.requireNonNull(unet), Objects.requireNonNull(dec), enc, Objects.requireNonNull(pen1), Objects.requireNonNull(pen2),
        encoderOutput, List.copyOf(notes));
  }

  private record Expect(String name, Set<Integer> ranks, boolean floating) {}

  private static void checkInputs(String component, OnnxHeader h, List<String> problems, Expect... expected) {
    List<String> known = new ArrayList<>();
    for (Expect e : expected) {
      known.add(e.name());
      ValueInfo v = h.input(e.name());
      if (v == null) {
        problems.add(component + ": input '" + e.name() + "' is missing (inputs: " + names(h.inputs()) + ")");
        continue;
      }
      if (v.rank() >= 0 && !e.ranks().contains(v.rank())) {
        problems.add(component + ": input '" + e.name() + "' has rank " + v.rank() + ", expected " + describe(e.ranks()));
      }
      if (e.floating() && !v.isFloat()) {
        problems.add(component + ": input '" + e.name() + "' is " + OnnxHeader.typeName(v.elemType())
            + ", expected float32 or float16");
      }
    }
    for (ValueInfo v : h.inputs()) {
      if (!known.contains(v.name())) {
        problems.add(component + ": unexpected input '" + v.name() + "' (this engine feeds " + String.join(", ", known) + ")");
      }
    }
  }

  private static String describe(Set<Integer> ranks) {
    return ranks.size() == 1 ? String.valueOf(ranks.iterator().next()) : "0 or 1";
  }

  private static void requireOutput(String component, OnnxHeader h, String name, int rank, List<String> problems) {
    ValueInfo v = h.output(name);
    if (v == null) {
      problems.add(component + ": output '" + name + "' is missing (outputs: " + names(h.outputs()) + ")");
    } else if (v.rank() >= 0 && v.rank() != rank) {
      problems.add(component + ": output '" + name + "' has rank " + v.rank() + ", expected " + rank);
    } else if (v.elemType() != 0 && !v.isFloat()) {
      problems.add(component + ": output '" + name + "' is " + OnnxHeader.typeName(v.elemType()) + ", expected float");
    }
  }

  /** Checks a text encoder and returns the name of its penultimate hidden state. */
  private static @Nullable String checkTextEncoder(String component, OnnxHeader h, @Nullable String pooled,
      List<String> problems) {
    List<String> before = new ArrayList<>(problems);
    ValueInfo ids = h.input("input_ids");
    if (ids == null) {
      problems.add(component + ": input 'input_ids' is missing (inputs: " + names(h.inputs()) + ")");
    } else {
      if (ids.rank() >= 0 && ids.rank() != 2) {
        problems.add(component + ": input 'input_ids' has rank " + ids.rank() + ", expected 2");
      }
      if (ids.elemType() != OnnxHeader.INT64 && ids.elemType() != OnnxHeader.INT32) {
        problems.add(component + ": input 'input_ids' is " + OnnxHeader.typeName(ids.elemType()) + ", expected int64");
      }
    }
    for (ValueInfo v : h.inputs()) {
      if (!v.name().equals("input_ids")) {
        problems.add(component + ": unexpected input '" + v.name() + "' (this engine feeds input_ids only)");
      }
    }
    int last = -1;
    for (ValueInfo v : h.outputs()) {
      if (v.name().startsWith("hidden_states.")) {
        try {
          last = Math.max(last, Integer.parseInt(v.name().substring("hidden_states.".length())));
        } catch (NumberFormatException ignored) {
          // not a layer output
        }
      }
    }
    String penultimate = null;
    if (last < 1) {
      problems.add(component + ": no hidden_states.N outputs (export the text encoders with their hidden states, as"
          + " optimum's SDXL export does); outputs: " + names(h.outputs()));
    } else {
      penultimate = "hidden_states." + (last - 1);
      requireOutput(component, h, penultimate, 3, problems);
    }
    if (pooled != null) {
      requireOutput(component, h, pooled, 2, problems);
    }
    return problems.size() == before.size() ? penultimate : null;
  }

  private static long hiddenSize(@Nullable OnnxHeader h, @Nullable String output) {
    if (h == null || output == null) {
      return -1;
    }
    ValueInfo v = h.output(output);
    return v == null || v.rank() != 3 ? -1 : v.dim(2);
  }

  private static @Nullable OnnxHeader header(Path dir, String component, boolean required, List<String> problems) {
    Path file = dir.resolve(component).resolve("model.onnx");
    if (!Files.isRegularFile(file)) {
      if (required) {
        problems.add(component + "/model.onnx is missing");
      }
      return null;
    }
    try {
      OnnxHeader h = OnnxHeader.read(file);
      for (String location : h.externalData()) {
        Path data = parentOf(file).resolve(location).normalize();
        if (!data.startsWith(dir.toAbsolutePath().normalize()) && !data.startsWith(dir.normalize())) {
          problems.add(component + ": external data '" + location + "' points outside the model directory");
        } else if (!Files.isRegularFile(data)) {
          problems.add(component + ": external weights file " + location + " is missing");
        }
      }
      return h;
    } catch (IOException e) {
      problems.add(component + "/model.onnx cannot be read: " + e.getMessage());
      return null;
    }
  }

  private static @Nullable JsonNode readJson(Path file, ObjectMapper json, List<String> problems) {
    Path rel = parentOf(file).getFileName().toString().equals("scheduler") ? Path.of("scheduler", file.getFileName().toString())
        : file.getFileName();
    if (!Files.isRegularFile(file)) {
      problems.add(rel + " is missing");
      return null;
    }
    return parse(file, rel, json, problems);
  }

  private static @Nullable JsonNode optionalJson(Path file, ObjectMapper json, List<String> problems) {
    if (!Files.isRegularFile(file)) {
      return null;
    }
    return parse(file, parentOf(file).getFileName().resolve(file.getFileName()), json, problems);
  }

  private static @Nullable JsonNode parse(Path file, Path rel, ObjectMapper json, List<String> problems) {
    try {
      JsonNode n = json.readTree(file.toFile());
      if (n == null || !n.isObject()) {
        problems.add(rel + " is not a JSON object");
        return null;
      }
      return n;
    } catch (IOException e) {
      problems.add(rel + " is not valid JSON: " + firstLine(e.getMessage()));
      return null;
    }
  }

  private static String firstLine(@Nullable String s) {
    if (s == null) {
      return "";
    }
    int i = s.indexOf('\n');
    return i < 0 ? s : s.substring(0, i);
  }

  private static String names(List<ValueInfo> values) {
    return values.isEmpty() ? "none" : String.join(", ", values.stream().map(ValueInfo::name).toList());
  }

  private static Path parentOf(Path file) {
    Path parent = file.toAbsolutePath().getParent();
    if (parent == null) {
      throw new IllegalArgumentException("no parent directory: " + file);
    }
    return parent;
  }
}
