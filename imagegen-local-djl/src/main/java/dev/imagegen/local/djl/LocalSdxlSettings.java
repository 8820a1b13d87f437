package dev.imagegen.local.djl;

import dev.imagegen.spi.ProviderConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * The local engine's configuration, read once from {@link ProviderConfig}.
 *
 * @param models alias to model directory
 * @param defaultModel alias used when a request names no model
 * @param device {@code auto}, {@code cpu} or {@code gpu}
 * @param maxLoaded pipelines kept loaded (LRU)
 * @param queueSize generations that may wait for the device; more are refused as busy
 * @param concurrency generations run at once on the device
 * @param maxSteps most steps a request may ask for
 * @param maxGuidance largest guidance scale
 * @param maxImages most images per request
 * @param timeout the hard limit on one generation, queue wait included
 * @param sessionOptions ONNX Runtime session options (DJL names)
 */
record LocalSdxlSettings(Map<String, Path> models, @Nullable String defaultModel, String device, int maxLoaded,
    int queueSize, int concurrency, int maxSteps, double maxGuidance, int maxImages, Duration timeout,
    Map<String, String> sessionOptions) {

  static final String MODELS_DIR = "models-dir";
  static final String DEFAULT_MODEL = "default-model";
  static final String DEVICE = "device";
  static final String MAX_LOADED = "max-loaded";
  static final String QUEUE_SIZE = "queue-size";
  static final String CONCURRENCY = "concurrency";
  static final String MAX_STEPS = "max-steps";
  static final String MAX_GUIDANCE = "max-guidance";
  static final String MAX_IMAGES = "max-images";
  static final String INTRA_OP_THREADS = "intra-op-threads";

  /** Whether any model is configured: {@code model.<alias>} (or {@code model-<alias>}) or {@code models-dir}. */
  static boolean isConfigured(ProviderConfig config) {
    return config.get(MODELS_DIR).isPresent() || config.values().keySet().stream().anyMatch(k -> alias(k) != null);
  }

  /** The alias a {@code model.<alias>} / {@code model-<alias>} key names, or null. */
  static @Nullable String alias(String key) {
    if ((key.startsWith("model.") || key.startsWith("model-")) && key.length() > 6) {
      return key.substring(6).toLowerCase(Locale.ROOT);
    }
    return null;
  }

  /**
   * Reads the settings.
   *
   * @throws IllegalStateException naming the key when a value is invalid
   */
  static LocalSdxlSettings from(ProviderConfig config) {
    String id = config.providerId();
    Map<String, Path> models = new LinkedHashMap<>();
    config.get(MODELS_DIR).ifPresent(d -> {
      Path dir = Path.of(d);
      if (!Files.isDirectory(dir)) {
        throw new IllegalStateException(id + ": '" + MODELS_DIR + "' is not a directory: " + d);
      }
      try (Stream<Path> s = Files.list(dir)) {
        s.filter(p -> Files.isRegularFile(p.resolve("model_index.json"))).sorted()
            .forEach(p -> models.put(p.getFileName().toString().toLowerCase(Locale.ROOT), p));
      } catch (IOException e) {
        throw new UncheckedIOException(id + ": cannot list '" + MODELS_DIR + "' " + d, e);
      }
    });
    config.values().forEach((k, v) -> {
      String alias = alias(k);
      if (alias != null && !v.isBlank()) {
        models.put(alias, Path.of(v.strip()));
      }
    });
    String def = config.get(DEFAULT_MODEL).map(s -> s.toLowerCase(Locale.ROOT)).orElse(null);
    if (def != null && !models.containsKey(def)) {
      throw new IllegalStateException(id + ": '" + DEFAULT_MODEL + "' names '" + def + "', which is not configured ("
          + String.join(", ", models.keySet()) + ")");
    }
    if (def == null && !models.isEmpty()) {
      def = models.containsKey("sdxl-turbo") ? "sdxl-turbo" : models.keySet().iterator().next();
    }
    String device = config.get(DEVICE).orElse("auto").toLowerCase(Locale.ROOT);
    if (!device.equals("auto") && !device.equals("cpu") && !device.equals("gpu")) {
      throw new IllegalStateException(id + ": '" + DEVICE + "' must be auto, cpu or gpu: " + device);
    }
    Map<String, String> options = new LinkedHashMap<>();
    int threads = config.intValue(INTRA_OP_THREADS, 0);
    if (threads > 0) {
      options.put("intraOpNumThreads", Integer.toString(threads));
    }
    return new LocalSdxlSettings(Map.copyOf(models), def, device,
        positive(config, MAX_LOADED, 1), nonNegative(config, QUEUE_SIZE, 8), positive(config, CONCURRENCY, 1),
        positive(config, MAX_STEPS, 100), config.decimal(MAX_GUIDANCE).map(Number::doubleValue).orElse(30.0),
        positive(config, MAX_IMAGES, 4), config.duration(ProviderConfig.TIMEOUT, Duration.ofMinutes(10)),
        Map.copyOf(options));
  }

  private static int positive(ProviderConfig c, String key, int def) {
    int v = c.intValue(key, def);
    if (v < 1) {
      throw new IllegalStateException(c.providerId() + ": '" + key + "' must be at least 1: " + v);
    }
    return v;
  }

  private static int nonNegative(ProviderConfig c, String key, int def) {
    int v = c.intValue(key, def);
    if (v < 0) {
      throw new IllegalStateException(c.providerId() + ": '" + key + "' must not be negative: " + v);
    }
    return v;
  }
}
