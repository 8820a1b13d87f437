package dev.imagegen.provider.replicate;

import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.Webhooks;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Creates the {@code replicate} provider: Replicate predictions, official models by name
 * ({@code black-forest-labs/flux-schnell}, alias {@code flux-schnell}) and community models by
 * version ({@code stability-ai/sdxl:7762fd07...}, alias {@code sdxl}).
 *
 * <p>Configuration ({@code imagegen.replicate.<key>} or {@code IMAGEGEN_REPLICATE_<KEY>}):
 * {@code api-key} (required; falls back to {@code REPLICATE_API_TOKEN}), {@code base-url} (default
 * {@code https://api.replicate.com/v1}), {@code wait-seconds} (0..60, default 10: how long a create
 * waits for the result before polling), {@code default-model} (default {@code flux-schnell}),
 * {@code models} (comma-separated, default {@code flux-schnell,sdxl}), {@code gpu} or
 * {@code price-per-gpu-second} (price of time-billed models such as sdxl), {@code price-per-image},
 * {@code cancel-after} (default true), {@code retry-create-on-server-error} (default false; when true a create is
 * treated as safe to repeat: a 5xx or lost answer is retried and may bill twice),
 * {@code poll-interval}, {@code timeout}, {@code requests-per-minute}, {@code max-concurrent},
 * {@code priority}; webhooks: {@code webhook-url} (where the application mounted
 * {@code ImageGenerationService.webhooks()}), {@code webhook-secret} (the {@code whsec_...} signing
 * key, required with it), {@code webhook-poll-interval} (the safety-net poll, default 30 s),
 * {@code webhook-allow-unsigned} (default false).
 *
 * <p>Found by {@link java.util.ServiceLoader}; stateless and thread-safe.
 */
public final class ReplicateProviderFactory implements ImageProviderFactory {

  /** Creates the factory (called by {@link java.util.ServiceLoader}). */
  public ReplicateProviderFactory() {}

  /** {@code replicate}. */
  @Override
  public String id() {
    return ReplicateProvider.ID;
  }

  /** {@code api-key} falls back to Replicate's customary {@code REPLICATE_API_TOKEN}. */
  @Override
  public Map<String, List<String>> customaryEnvironment() {
    return Map.of(ProviderConfig.API_KEY, List.of("REPLICATE_API_TOKEN"));
  }

  /** The keys this provider reads beyond the standard ones (see its README). */
  @Override
  public Set<String> settings() {
    return Set.of("wait-seconds", "default-model", "models", "gpu", "cancel-after", "retry-create-on-server-error",
        "reconcile-delay", "poll-interval", "poll-max-interval", Webhooks.URL, ReplicateProvider.WEBHOOK_SECRET,
        Webhooks.ALLOW_UNSIGNED, Webhooks.POLL_INTERVAL);
  }

  /** Configured when an API token is set. */
  @Override
  public boolean isConfigured(ProviderConfig config) {
    return config.apiKey().isPresent();
  }

  /**
   * Creates the provider.
   *
   * @param config its configuration
   * @return the provider
   * @throws IllegalStateException naming the key when the token is missing or a value is invalid
   */
  @Override
  public ImageProvider create(ProviderConfig config) {
    return new ReplicateProvider(config);
  }
}
