package dev.imagegen.local.djl;

import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.util.Set;

/**
 * Creates the {@code local-sdxl} provider: SDXL and SDXL-Turbo run in process from an optimum ONNX
 * export, on DJL's ONNX Runtime engine (CUDA when the {@code onnxruntime_gpu} build and a GPU are
 * present, CPU otherwise). Found by {@link java.util.ServiceLoader}; stateless.
 *
 * <p>Enabled when a model directory is configured. Keys ({@code imagegen.local-sdxl.<key>} or
 * {@code IMAGEGEN_LOCAL_SDXL_<KEY>}):
 * <ul>
 *   <li>{@code model.<alias>} (also {@code model-<alias>}, which is what environment variables
 *       such as {@code IMAGEGEN_LOCAL_SDXL_MODEL_SDXL_TURBO} become): the export directory of a
 *       model offered as {@code <alias>}, e.g. {@code model.sdxl-turbo=/models/sdxl-turbo};</li>
 *   <li>{@code models-dir}: a directory whose sub-directories holding a {@code model_index.json}
 *       are offered under their own names;</li>
 *   <li>{@code default-model}: the alias used when a request names none (default
 *       {@code sdxl-turbo} when configured, else the first);</li>
 *   <li>{@code device}: {@code auto} (default: GPU when ONNX Runtime sees one), {@code cpu} or {@code gpu};</li>
 *   <li>{@code max-loaded} (1): pipelines kept in memory, least recently used evicted;</li>
 *   <li>{@code concurrency} (1): generations run at once; {@code queue-size} (8): generations that
 *       may wait, beyond which requests are refused as busy;</li>
 *   <li>{@code max-steps} (100), {@code max-guidance} (30), {@code max-images} (4): validation limits;</li>
 *   <li>{@code timeout} (10 min): the hard limit on one generation, queue wait included;</li>
 *   <li>{@code intra-op-threads}: ONNX Runtime's threads per graph (default: its own choice);</li>
 *   <li>{@code price-per-gpu-second} and friends: unset means free.</li>
 * </ul>
 */
public final class LocalSdxlProviderFactory implements ImageProviderFactory {
  /** The provider id, {@value}. */
  public static final String ID = "local-sdxl";

  /** Creates the factory (used by {@link java.util.ServiceLoader}). */
  public LocalSdxlProviderFactory() {}

  @Override
  public String id() {
    return ID;
  }

  /** The keys this provider reads beyond the standard ones (see its README). */
  @Override
  public Set<String> settings() {
    return Set.of("model.*", "models-dir", "default-model", "device", "max-loaded", "queue-size", "concurrency",
        "max-steps", "max-guidance", "max-images", "intra-op-threads");
  }

  /** Configured when {@code model.<alias>} or {@code models-dir} is set. */
  @Override
  public boolean isConfigured(ProviderConfig config) {
    return LocalSdxlSettings.isConfigured(config);
  }

  /**
   * Creates the engine. Nothing is loaded yet: the first request for a model loads it.
   *
   * @throws IllegalStateException naming the key when a value is invalid
   */
  @Override
  public LocalSdxlEngine create(ProviderConfig config) {
    return new LocalSdxlProvider(config, LocalSdxlSettings.from(config), LocalSdxlProvider.onnxLoader());
  }
}
