package dev.imagegen.testkit.example;

import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.util.List;
import java.util.Map;

/**
 * Creates the example provider {@code acme}, which speaks the made-up queue API described in
 * {@link AcmeWire}. Config keys: {@code api-key} (or {@code ACME_API_KEY}), {@code base-url},
 * {@code poll-interval}, and the standard ones.
 */
public final class AcmeProviderFactory implements ImageProviderFactory {
  /** Used by ServiceLoader. */
  public AcmeProviderFactory() {}

  @Override
  public String id() {
    return AcmeProvider.ID;
  }

  @Override
  public Map<String, List<String>> customaryEnvironment() {
    return Map.of(ProviderConfig.API_KEY, List.of("ACME_API_KEY"));
  }

  @Override
  public boolean isConfigured(ProviderConfig config) {
    return config.apiKey().isPresent();
  }

  @Override
  public ImageProvider create(ProviderConfig config) {
    return new AcmeProvider(config);
  }
}
