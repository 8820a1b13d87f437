package dev.imagegen.provider.stability;

import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Creates the Stability AI provider, id {@code stability}: Stable Image Ultra, Stable Image Core
 * (the default), the SD 3.5 and SD3 models, and inpainting, on Stability's REST API v2beta.
 *
 * <p>Configuration ({@code imagegen.stability.<key>} or {@code IMAGEGEN_STABILITY_<KEY>}):
 * <ul>
 *   <li>{@code api-key}: a Stability key {@code sk-...}; falls back to {@code STABILITY_API_KEY}.
 *       Required.</li>
 *   <li>{@code base-url}: default {@code https://api.stability.ai}.</li>
 *   <li>{@code model}: the model of a text-to-image request that names none, default
 *       {@code core}; {@code img2img-model}: the model of an image-to-image request that names
 *       none when {@code model} takes no init image, default {@code sd3.5-large}.</li>
 *   <li>{@code credit-price}: USD per credit, default 0.01; {@code price.<model>} overrides one
 *       model's price in USD per image.</li>
 *   <li>{@code client-id}: sent as {@code stability-client-id}.</li>
 *   <li>{@code requests-per-minute}: default 840 (14 per second, smoothed): within Stability's
 *       limit of 150 requests per 10 s with room for health checks.</li>
 * </ul>
 *
 * <p>Stateless and thread-safe.
 */
public final class StabilityProviderFactory implements ImageProviderFactory {
  /**
   * The default of {@code requests-per-minute}: core's limiter spaces calls evenly, so 840 a
   * minute is at most 140 in any 10 s, under Stability's 150.
   */
  static final String DEFAULT_REQUESTS_PER_MINUTE = "840";

  /** Creates the factory; called by {@link java.util.ServiceLoader}. */
  public StabilityProviderFactory() {}

  /** {@return {@code stability}} */
  @Override
  public String id() {
    return StabilityProvider.ID;
  }

  /** {@return {@code api-key} from {@code STABILITY_API_KEY}} */
  @Override
  public Map<String, List<String>> customaryEnvironment() {
    return Map.of(ProviderConfig.API_KEY, List.of("STABILITY_API_KEY"));
  }

  /** {@code requests-per-minute=840}: the client-side limiter keeps within 150 requests per 10 s. */
  @Override
  public Map<String, String> defaults() {
    return Map.of(ProviderConfig.REQUESTS_PER_MINUTE, DEFAULT_REQUESTS_PER_MINUTE);
  }

  /** The keys this provider reads beyond the standard ones (see its README). */
  @Override
  public Set<String> settings() {
    return Set.of(StabilityProvider.MODEL, StabilityProvider.IMG2IMG_MODEL, StabilityProvider.CREDIT_PRICE,
        StabilityProvider.CLIENT_ID);
  }

  /**
   * Configured when a key is set.
   *
   * @param config the configuration
   */
  @Override
  public boolean isConfigured(ProviderConfig config) {
    return config.apiKey().isPresent();
  }

  /**
   * Creates the provider.
   *
   * @param config the configuration
   * @throws IllegalStateException naming the key when the key is missing or a value is invalid
   */
  @Override
  public ImageProvider create(ProviderConfig config) {
    return new StabilityProvider(config);
  }
}
