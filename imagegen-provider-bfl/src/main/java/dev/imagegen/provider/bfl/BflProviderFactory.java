package dev.imagegen.provider.bfl;

import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.Secret;
import dev.imagegen.spi.Webhooks;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Creates the <a href="https://bfl.ai">Black Forest Labs</a> provider (id {@code bfl}): FLUX.2
 * ({@code flux-2-pro} by default, {@code -max}, {@code -flex}, {@code -klein-4b}, {@code -klein-9b})
 * and FLUX.1 ({@code flux-pro-1.1}, {@code flux-pro-1.1-ultra}, {@code flux-pro}, {@code flux-dev})
 * text to image, and editing with FLUX.1 Kontext ({@code flux-kontext-pro} by default,
 * {@code flux-kontext-max}) or FLUX.2, through BFL's submit-and-poll API. Found through
 * {@code META-INF/services}; stateless.
 *
 * <p>Configuration ({@code imagegen.bfl.<key>} properties or {@code IMAGEGEN_BFL_<KEY>} variables):
 * <ul>
 *   <li>{@code api-key}: the key, falls back to {@code BFL_API_KEY}; sent as {@code x-key}.</li>
 *   <li>{@code region}: {@code global} ({@code https://api.bfl.ai}, the default), {@code eu}, {@code us},
 *       or the legacy single-cluster {@code eu1}, {@code us1}; or {@code base-url} (not both).</li>
 *   <li>{@code polling-hosts}: hosts a returned {@code polling_url} may name for the key to be sent
 *       there, default {@code api.bfl.ai,api.*.bfl.ai}.</li>
 *   <li>{@code model} (default {@code flux-2-pro}), {@code edit-model} (default {@code flux-kontext-pro}),
 *       {@code safety-tolerance} (0..6), {@code prompt-upsampling}, {@code poll-interval},
 *       {@code poll-max-interval}, the usual limits ({@code max-concurrent} defaults to 24, BFL's
 *       limit of active tasks) and prices.</li>
 *   <li>webhooks: {@code webhook-url} (where the application mounted
 *       {@code ImageGenerationService.webhooks()}; each submit then carries {@code webhook_url} and
 *       {@code webhook_secret}, and overrides those fields of a request's {@code bfl} options, with a
 *       warning), {@code webhook-secret} (required with it: the secret BFL sends back, echoed in
 *       {@code X-Webhook-Secret} or as the HMAC-SHA256 {@code X-BFL-Signature}),
 *       {@code webhook-poll-interval} (the safety-net poll, default 30 s),
 *       {@code webhook-allow-unsigned} (default false).</li>
 * </ul>
 */
public final class BflProviderFactory implements ImageProviderFactory {
  /** The provider id. */
  public static final String ID = "bfl";
  /** BFL's limit of active tasks (submitted, not finished) per key on most endpoints. */
  public static final int ACTIVE_TASK_LIMIT = 24;

  /** Creates the factory; {@link java.util.ServiceLoader} calls this. */
  public BflProviderFactory() {}

  @Override
  public String id() {
    return ID;
  }

  /** {@code api-key} falls back to BFL's customary {@code BFL_API_KEY}. */
  @Override
  public Map<String, List<String>> customaryEnvironment() {
    return Map.of(ProviderConfig.API_KEY, List.of("BFL_API_KEY"));
  }

  /** The keys this provider reads beyond the standard ones (see its README). */
  @Override
  public Set<String> settings() {
    return Set.of(BflProvider.REGION, BflProvider.POLLING_HOSTS, BflProvider.MODEL, BflProvider.EDIT_MODEL,
        BflProvider.SAFETY_TOLERANCE, BflProvider.PROMPT_UPSAMPLING, "poll-interval", "poll-max-interval", Webhooks.URL, BflProvider.WEBHOOK_SECRET,
        Webhooks.ALLOW_UNSIGNED, Webhooks.POLL_INTERVAL);
  }

  /**
   * {@code max-concurrent=24}: BFL answers 429 beyond 24 active tasks, so the SDK queues before
   * that instead of being refused.
   */
  @Override
  public Map<String, String> defaults() {
    return Map.of(ProviderConfig.MAX_CONCURRENT, String.valueOf(ACTIVE_TASK_LIMIT));
  }

  /** Configured when a key is set. */
  @Override
  public boolean isConfigured(ProviderConfig config) {
    return config.apiKey().isPresent();
  }

  /**
   * Creates the provider.
   *
   * @param config its configuration
   * @return the provider
   * @throws IllegalStateException naming the key when the key is missing or a value is invalid
   */
  @Override
  public ImageProvider create(ProviderConfig config) {
    Secret key = config.apiKey().orElseThrow(() -> new IllegalStateException(ID + ": no key configured (set BFL_API_KEY, "
        + config.whereToSet(ProviderConfig.API_KEY) + ")"));
    return new BflProvider(config, key);
  }
}
