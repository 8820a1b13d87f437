package dev.imagegen.provider.sdwebui;

import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.util.Map;
import java.util.Set;

/**
 * Creates the {@code sdwebui} provider: a self-hosted Stable Diffusion WebUI (AUTOMATIC1111 or
 * Forge) started with {@code --api}. Found by {@link java.util.ServiceLoader}; stateless.
 *
 * <p>The provider is enabled only when {@code base-url} is configured (there is no public WebUI);
 * {@code http://127.0.0.1:7860} is the conventional address ({@code --nowebui} serves on 7861).
 * Configuration keys ({@code imagegen.sdwebui.<key>} or {@code IMAGEGEN_SDWEBUI_<KEY>}):
 * <ul>
 *   <li>{@code base-url}: the WebUI, with any {@code --subpath}.</li>
 *   <li>{@code username} and {@code password}, or {@code api-auth} ({@code user:password}, as given
 *       to the WebUI's {@code --api-auth}): HTTP basic auth. An {@code api-key} holding
 *       {@code user:password} is read the same way; any other {@code api-key} is sent as a bearer
 *       token (for an authenticating proxy in front of the WebUI). Never logged.</li>
 *   <li>{@code timeout}: the longest one generation call may take (default 10 min); the request's
 *       deadline still applies.</li>
 *   <li>{@code max-concurrent}: calls sent at once (default 1: the WebUI runs one at a time).</li>
 *   <li>{@code model}: checkpoint used when a request names none (default: whatever the WebUI has loaded);
 *       {@code models}: {@code alias=checkpoint} pairs, comma-separated.</li>
 *   <li>{@code default-steps} (20; 0 = the WebUI's own default of 50), {@code default-sampler},
 *       {@code default-scheduler}, {@code max-batch-size} (8), {@code catalog-ttl} (5 min).</li>
 *   <li>{@code price-per-gpu-second} (with {@code typical-gpu-seconds}, default 5, for estimates):
 *       unset means free.</li>
 *   <li>{@code poll-interval}: how often progress is read during a generation (default 1 s, at
 *       least 200 ms).</li>
 * </ul>
 */
public final class SdWebUiProviderFactory implements ImageProviderFactory {
  /** The provider id, {@value}. */
  public static final String ID = "sdwebui";

  /** Creates the factory (used by {@link java.util.ServiceLoader}). */
  public SdWebUiProviderFactory() {}

  @Override
  public String id() {
    return ID;
  }

  /** {@code max-concurrent=1}: the WebUI runs one generation at a time, and progress and interrupt act on whichever runs. */
  @Override
  public Map<String, String> defaults() {
    return Map.of(ProviderConfig.MAX_CONCURRENT, "1");
  }

  /** The keys this provider reads beyond the standard ones (see its README). */
  @Override
  public Set<String> settings() {
    return Set.of("username", "password", "api-auth", "model", "models", "default-steps", "default-sampler",
        "default-scheduler", "max-batch-size", "catalog-ttl", "poll-interval", "poll-max-interval");
  }

  /** Configured when {@code base-url} is set: a WebUI has no public address to default to. */
  @Override
  public boolean isConfigured(ProviderConfig config) {
    return config.get(ProviderConfig.BASE_URL).filter(s -> !s.isBlank()).isPresent();
  }

  /**
   * Creates the provider.
   *
   * @throws IllegalStateException naming the key when a value is invalid
   */
  @Override
  public ImageProvider create(ProviderConfig config) {
    return new SdWebUiProvider(config);
  }
}
