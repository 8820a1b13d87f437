package dev.imagegen.provider.google;

import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Creates the Google Gemini API provider, id {@code google}: Gemini image models
 * ({@code gemini-2.5-flash-image} by default, {@code gemini-3-pro-image}, {@code gemini-3.1-flash-image}
 * or any Gemini image id) through {@code generateContent}. Vertex AI is not covered.
 *
 * <p>Configuration ({@code imagegen.google.<key>} or {@code IMAGEGEN_GOOGLE_<KEY>}):
 * <ul>
 *   <li>{@code api-key}: a Gemini API key; falls back to {@code GOOGLE_API_KEY}, then
 *       {@code GEMINI_API_KEY} (python-genai's order). Sent as {@code x-goog-api-key}.</li>
 *   <li>{@code base-url}: default {@code https://generativelanguage.googleapis.com/v1beta}.</li>
 *   <li>{@code model}: the model when a request names none, default {@code gemini-2.5-flash-image}.</li>
 *   <li>{@code parallel-calls} (default 2), {@code max-images-per-request} (default 10),
 *       {@code max-input-images}, {@code response-modalities} ({@code TEXT,IMAGE} or {@code IMAGE}).</li>
 *   <li>{@code token-price.<model>}: token rates; {@code price.<model>} and {@code price-per-image}
 *       replace them with a price per image.</li>
 * </ul>
 *
 * <p>Stateless and thread-safe.
 */
public final class GoogleProviderFactory implements ImageProviderFactory {

  /** Creates the factory; called by {@link java.util.ServiceLoader}. */
  public GoogleProviderFactory() {}

  /** {@return {@code google}} */
  @Override
  public String id() {
    return GoogleProvider.ID;
  }

  /** {@return {@code api-key} from {@code GOOGLE_API_KEY}, then {@code GEMINI_API_KEY}} */
  @Override
  public Map<String, List<String>> customaryEnvironment() {
    return Map.of(ProviderConfig.API_KEY, List.of("GOOGLE_API_KEY", "GEMINI_API_KEY"));
  }

  /** {@return {@code timeout=2m}: an image call takes seconds to a minute, 4K ones longer} */
  @Override
  public Map<String, String> defaults() {
    return Map.of(ProviderConfig.TIMEOUT, "2m");
  }

  /** The keys this provider reads beyond the standard ones (see its README). */
  @Override
  public Set<String> settings() {
    return Set.of(GoogleProvider.MODEL, GoogleCalls.PARALLEL_CALLS, GoogleProvider.MAX_IMAGES, GoogleProvider.MAX_INPUT_IMAGES,
        GoogleProvider.RESPONSE_MODALITIES, GooglePrices.TOKEN_PRICE + ".*");
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
    return new GoogleProvider(config);
  }
}
