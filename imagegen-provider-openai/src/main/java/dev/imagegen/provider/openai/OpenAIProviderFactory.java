package dev.imagegen.provider.openai;

import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Creates the OpenAI Images provider, id {@code openai}: text to image and edits with the GPT
 * image models on OpenAI, on an Azure OpenAI deployment, or on an OpenAI-compatible server.
 *
 * <p>Configuration ({@code imagegen.openai.<key>} or {@code IMAGEGEN_OPENAI_<KEY>}; the module's
 * README has the full table):
 * <ul>
 *   <li>{@code api-key} (falls back to {@code OPENAI_API_KEY}), {@code base-url} (falls back to
 *       {@code OPENAI_BASE_URL}, default {@code https://api.openai.com/v1}), {@code organization},
 *       {@code project};</li>
 *   <li>{@code flavour}: {@code openai}, {@code azure} or {@code compatible}, inferred when unset
 *       from {@code endpoint} and the {@code base-url} host;</li>
 *   <li>Azure: {@code endpoint} ({@code AZURE_OPENAI_ENDPOINT}), {@code azure-api-key}
 *       ({@code AZURE_OPENAI_API_KEY}), {@code deployment}, {@code api-version};</li>
 *   <li>{@code model} (default {@code gpt-image-2}), {@code retired-models}, the field defaults
 *       {@code quality}, {@code background}, {@code moderation}, {@code output-compression},
 *       {@code user}, {@code input-fidelity}, {@code response-format},
 *       {@code max-images-per-request};</li>
 *   <li>prices: {@code price.<model>.text-input}, {@code .image-input}, {@code .image-output}
 *       (USD per 1M tokens), {@code price.<model>} and {@code price-per-image} (per image).</li>
 * </ul>
 *
 * <p>Stateless and thread-safe.
 */
public final class OpenAIProviderFactory implements ImageProviderFactory {

  /** Creates the factory; called by {@link java.util.ServiceLoader}. */
  public OpenAIProviderFactory() {}

  /** {@return {@code openai}} */
  @Override
  public String id() {
    return OpenAIProvider.ID;
  }

  /**
   * {@return {@code api-key} from {@code OPENAI_API_KEY}, {@code base-url} from
   * {@code OPENAI_BASE_URL}, {@code azure-api-key} from {@code AZURE_OPENAI_API_KEY},
   * {@code endpoint} from {@code AZURE_OPENAI_ENDPOINT}}
   */
  @Override
  public Map<String, List<String>> customaryEnvironment() {
    return Map.of(ProviderConfig.API_KEY, List.of("OPENAI_API_KEY"), ProviderConfig.BASE_URL, List.of("OPENAI_BASE_URL"),
        OpenAIProvider.AZURE_API_KEY, List.of("AZURE_OPENAI_API_KEY"), OpenAIProvider.ENDPOINT, List.of("AZURE_OPENAI_ENDPOINT"));
  }

  /** The keys this provider reads beyond the standard ones (see its README). */
  @Override
  public Set<String> settings() {
    return Set.of(OpenAIFlavour.KEY, OpenAIProvider.MODEL, OpenAIProvider.RETIRED_MODELS, OpenAIProvider.ENDPOINT,
        OpenAIProvider.DEPLOYMENT, OpenAIProvider.API_VERSION, OpenAIProvider.AZURE_API_KEY, OpenAIProvider.ORGANIZATION,
        OpenAIProvider.PROJECT, OpenAIProvider.QUALITY, OpenAIProvider.BACKGROUND, OpenAIProvider.MODERATION,
        OpenAIProvider.OUTPUT_COMPRESSION, OpenAIProvider.USER, OpenAIProvider.RESPONSE_FORMAT, OpenAIProvider.INPUT_FIDELITY,
        "max-images-per-request");
  }

  /**
   * Configured when a key is set ({@code api-key} or {@code azure-api-key}), or when
   * {@code base-url} names a compatible server (which may need no key).
   *
   * @param config the configuration
   */
  @Override
  public boolean isConfigured(ProviderConfig config) {
    if (config.apiKey().isPresent() || config.get(OpenAIProvider.AZURE_API_KEY).isPresent()) {
      return true;
    }
    try {
      return config.get(ProviderConfig.BASE_URL).isPresent() && OpenAIFlavour.of(config) == OpenAIFlavour.COMPATIBLE;
    } catch (IllegalStateException e) {
      return true; // a bad flavour: create(...) reports it, naming the key
    }
  }

  /**
   * Creates the provider.
   *
   * @param config the configuration
   * @throws IllegalStateException when a key is missing or a value is invalid, naming the key
   */
  @Override
  public ImageProvider create(ProviderConfig config) {
    return new OpenAIProvider(config);
  }
}
