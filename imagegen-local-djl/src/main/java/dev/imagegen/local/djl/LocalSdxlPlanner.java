package dev.imagegen.local.djl;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Validates a request for the local engine like the Python service it replaces, every problem at
 * once, and fills its defaults (model, size, steps, guidance, sampler, seeds, strength, format):
 * what {@link LocalSdxlProvider} runs. Thread-safe.
 */
final class LocalSdxlPlanner {
  private static final SecureRandom SEEDS = new SecureRandom();

  private final String id;
  private final LocalSdxlSettings settings;
  private final ObjectMapper json;
  private final Map<String, ModelDirectory.Spec> specs = new ConcurrentHashMap<>();

  LocalSdxlPlanner(String id, LocalSdxlSettings settings, ObjectMapper json) {
    this.id = id;
    this.settings = settings;
    this.json = json;
  }

  /** A validated request, ready to run. */
  record Plan(String alias, Pipeline.Job job, String format, List<String> warnings) {}

  private Path modelPath(String alias) {
    Path dir = settings.models().get(alias);
    if (dir == null) {
      throw new IllegalArgumentException("model '" + alias + "' is not configured here");
    }
    return dir;
  }

  /** The model's directory as last inspected (inspected now on first use). */
  ModelDirectory.Spec spec(String alias) {
    Path dir = modelPath(alias);
    return specs.computeIfAbsent(alias, a -> ModelDirectory.inspect(dir, json));
  }

  /** Forgets what the model's directory held (it was found broken). */
  void forget(String alias) {
    specs.remove(alias);
  }

  /** Inspects the model's directory again (when its pipeline loads) and keeps what it found. */
  ModelDirectory.Spec inspect(String alias) {
    ModelDirectory.Spec spec = ModelDirectory.inspect(modelPath(alias), json);
    specs.put(alias, spec);
    return spec;
  }

  static boolean isTurbo(String alias, ModelDirectory.Spec spec) {
    return alias.contains("turbo") || (spec.latentSize() == 64
        && spec.scheduler().spacing() == SchedulerConfig.Spacing.TRAILING);
  }

  /**
   * Validates a request and fills its defaults.
   *
   * @throws InvalidRequestException listing every violation
   * @throws ModelDirectoryException when the model's directory is broken
   */
  Plan plan(ImageGenerationRequest r) {
    List<String> v = new ArrayList<>();
    List<String> warnings = new ArrayList<>();
    String alias = r.model() == null ? settings.defaultModel() : r.model().toLowerCase(Locale.ROOT);
    ModelDirectory.Spec spec = null;
    if (alias == null || !settings.models().containsKey(alias)) {
      v.add("model '" + r.model() + "' is not configured here (configured: " + String.join(", ",
          settings.models().keySet().stream().sorted().toList()) + ")");
    } else {
      spec = spec(alias);
    }
    boolean turbo = spec != null && alias != null && isTurbo(alias, spec);
    int nativeSize = spec == null ? 1024 : spec.nativeSize();

    if (r.prompt() == null || r.prompt().isBlank()) {
      v.add("prompt is empty");
    }
    InputImage init = r.initImage();
    BufferedImage initImage = null;
    if (init != null) {
      if (!init.isLocal()) {
        v.add("the init image is a URL; the local engine takes it as bytes or a file");
      } else {
        try {
          initImage = Images.decode(init.bytes());
        } catch (RuntimeException e) {
          v.add("the init image cannot be read: " + e.getMessage());
        }
        if (initImage == null && v.stream().noneMatch(s -> s.startsWith("the init image"))) {
          v.add("the init image cannot be decoded (PNG or JPEG; WebP is not supported here)");
        }
      }
      if (spec != null && spec.vaeEncoder() == null) {
        v.add("model '" + alias + "' has no vae_encoder/model.onnx, so img2img is not available");
      }
    }
    if (r.mask() != null) {
      v.add("inpainting masks are not supported by the local engine");
    }
    if (!r.inputImages(InputImage.Role.REFERENCE).isEmpty()) {
      v.add("reference images are not supported by the local engine");
    }
    if (!r.loras().isEmpty()) {
      v.add("LoRAs are not supported by the local engine");
    }
    int width = r.width() != null ? r.width() : initImage != null ? fit64(initImage.getWidth()) : nativeSize;
    int height = r.height() != null ? r.height() : initImage != null ? fit64(initImage.getHeight()) : nativeSize;
    for (int[] side : new int[][] {{width, 'w'}, {height, 'h'}}) {
      String name = side[1] == 'w' ? "width" : "height";
      if (side[0] < 64 || side[0] > 2048) {
        v.add(name + " " + side[0] + " is outside 64..2048");
      } else if (side[0] % 8 != 0) {
        v.add(name + " " + side[0] + " is not a multiple of 8");
      }
    }
    int steps = r.steps() != null ? r.steps() : turbo ? 1 : 30;
    if (steps < 1 || steps > settings.maxSteps()) {
      v.add("steps " + steps + " is outside 1.." + settings.maxSteps());
    }
    double guidance = r.guidanceScale() != null ? r.guidanceScale() : turbo ? 0.0 : 5.0;
    if (Double.isNaN(guidance) || guidance < 0 || guidance > settings.maxGuidance()) {
      v.add("guidance scale " + guidance + " is outside 0.." + settings.maxGuidance());
    }
    if (r.numImages() < 1 || r.numImages() > settings.maxImages()) {
      v.add("numImages " + r.numImages() + " is outside 1.." + settings.maxImages());
    }
    Sampler sampler = spec == null ? Sampler.EULER : spec.scheduler().defaultSampler();
    if (r.sampler() != null) {
      Sampler s = Sampler.parse(r.sampler());
      if (s == null) {
        v.add("sampler '" + r.sampler() + "' is not one of " + String.join(", ",
            Arrays.stream(Sampler.values()).map(x -> x.id).toList()));
      } else {
        sampler = s;
      }
    }
    double strength = 1.0;
    if (init != null) {
      strength = r.strength() != null ? r.strength() : 0.5;
      if (!(strength > 0 && strength <= 1)) {
        v.add("strength " + strength + " is outside (0, 1]");
      } else if (Math.floor(steps * strength) < 1) {
        v.add("steps x strength must be at least 1 (" + steps + " x " + strength + " runs no step; e.g. 2 steps at 0.5)");
      }
    } else if (r.strength() != null) {
      warnings.add("strength is ignored without an init image");
    }
    String format = r.outputFormat() == null ? "png" : r.outputFormat().toLowerCase(Locale.ROOT);
    if (format.equals("jpg")) {
      format = "jpeg";
    }
    if (!format.equals("png") && !format.equals("jpeg")) {
      warnings.add("output format " + r.outputFormat() + " is not available locally; PNG returned");
      format = "png";
    }
    if (turbo && guidance > 1) {
      warnings.add("SDXL-Turbo was distilled for guidance 0; guidance " + guidance + " doubles the work and may hurt");
    }
    if (!v.isEmpty()) {
      throw new InvalidRequestException(v, id, null);
    }
    long base = r.seed() != null ? r.seed() : SEEDS.nextInt() & 0xffffffffL;
    long[] seeds = new long[r.numImages()];
    for (int i = 0; i < seeds.length; i++) {
      seeds[i] = base + i;
    }
    float[] pixels = initImage == null ? null : Images.toPixels(initImage, width, height);
    Pipeline.Job job = new Pipeline.Job(r.prompt(), r.effectiveNegativePrompt(), width, height, steps, guidance,
        sampler, seeds, pixels, strength);
    return new Plan(Objects.requireNonNull(alias), job, format, warnings); // a missing model was reported above
  }

  private static int fit64(int side) {
    return Math.max(64, Math.min(2048, side / 64 * 64));
  }
}
