package dev.imagegen.provider.openai;

import dev.imagegen.spi.ProviderConfig;
import java.net.URI;
import java.util.Locale;
import java.util.Optional;

/**
 * Which server speaks the Images API: OpenAI itself, an Azure OpenAI resource, or an
 * OpenAI-compatible server. Chosen by the {@code flavour} key, else inferred: an {@code endpoint}
 * or an Azure host in {@code base-url} is Azure, any other {@code base-url} that is not an
 * {@code api.openai.com} host is a compatible server, and no {@code base-url} is OpenAI.
 */
enum OpenAIFlavour {
  /** {@code https://api.openai.com/v1}, {@code Authorization: Bearer}. */
  OPENAI,
  /** {@code {endpoint}/openai/deployments/{deployment}/images/...?api-version=...}, {@code api-key} header. */
  AZURE,
  /** An OpenAI-compatible server at {@code base-url} (Together, LocalAI): no usage, its own response_format. */
  COMPATIBLE;

  /** Config key: {@code openai}, {@code azure} or {@code compatible}. */
  static final String KEY = "flavour";

  /** The key's value. */
  String key() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * The flavour a configuration asks for.
   *
   * @param config the configuration
   * @return the flavour
   * @throws IllegalStateException when {@code flavour} is not one of the three
   */
  static OpenAIFlavour of(ProviderConfig config) {
    Optional<String> set = config.get(KEY);
    if (set.isPresent()) {
      return valueOf(config.choice(KEY, "openai", "openai", "azure", "compatible").toUpperCase(Locale.ROOT));
    }
    if (config.get(OpenAIProvider.ENDPOINT).isPresent()) {
      return AZURE;
    }
    Optional<String> base = config.get(ProviderConfig.BASE_URL);
    if (base.isEmpty()) {
      return OPENAI;
    }
    String host;
    try {
      host = Optional.ofNullable(URI.create(base.get().strip()).getHost()).orElse("").toLowerCase(Locale.ROOT);
    } catch (IllegalArgumentException e) {
      return COMPATIBLE; // base-url itself is reported when it is read
    }
    if (isAzureHost(host)) {
      return AZURE;
    }
    return host.equals("api.openai.com") || host.endsWith(".api.openai.com") ? OPENAI : COMPATIBLE;
  }

  /** Whether a host is an Azure OpenAI (or AI Foundry) resource. */
  static boolean isAzureHost(String host) {
    return host.endsWith(".openai.azure.com") || host.endsWith(".cognitiveservices.azure.com")
        || host.endsWith(".services.ai.azure.com");
  }
}
