package dev.imagegen.provider.fal;

import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.Webhooks;
import dev.imagegen.spi.Secret;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Creates the <a href="https://fal.ai">fal.ai</a> provider (id {@code fal}): text to image
 * ({@code flux-schnell} = {@code fal-ai/flux/schnell} by default, any other fal app id passed
 * through) and multi-image editing ({@code fal-ai/nano-banana-pro/edit} and similar), through fal's
 * queue API, with input images uploaded to fal storage. Found through {@code META-INF/services};
 * stateless.
 *
 * <p>Configuration ({@code imagegen.fal.<key>} properties or {@code IMAGEGEN_FAL_<KEY>} variables):
 * <ul>
 *   <li>{@code api-key}: the key, {@code key_id:key_secret}; falls back to {@code FAL_KEY}, else
 *       {@code key-id} + {@code key-secret} ({@code FAL_KEY_ID}, {@code FAL_KEY_SECRET}) joined by {@code :}.
 *       Sent as {@code Authorization: Key <key>}.</li>
 *   <li>{@code base-url}: the queue, default {@code https://queue.fal.run}.</li>
 *   <li>{@code storage-url}: storage REST for uploads, default {@code https://rest.fal.ai}
 *       (or {@code base-url} when that points elsewhere and this is unset).</li>
 *   <li>{@code model}: the model of requests that name none, default {@code fal-ai/flux/schnell};
 *       {@code edit-model}: the same for requests with input images, default {@code fal-ai/nano-banana-pro/edit}.</li>
 *   <li>{@code data-uri-max-bytes}: input images up to this size are sent inline as {@code data:} URIs
 *       instead of uploaded; default 0 (always upload).</li>
 *   <li>{@code upload-cache-ttl}: how long an upload is reused for the same bytes, default {@code 1h}.</li>
 *   <li>{@code enable-safety-checker} (default true), {@code max-reference-images} (default 4),
 *       {@code poll-interval}, {@code poll-max-interval}, {@code timeout}, the usual limits, and prices:
 *       {@code price-per-image}, {@code price-per-megapixel}, {@code price.<model-id>}.</li>
 *   <li>{@code status-streams}: how many requests at once also follow fal's status stream (server-sent
 *       events), which makes a completed request be read at once rather than at its next poll;
 *       default 16 without {@code webhook-url}, 0 with it; 0 turns it off. Each open stream holds a
 *       connection; the other requests are polled as usual.</li>
 *   <li>{@code webhook-url}: where the application mounted {@code ImageGenerationService.webhooks()};
 *       each submit then carries {@code ?fal_webhook=<url>}, and a verified delivery makes the wait
 *       poll at once. {@code webhook-jwks-url}: fal's key set, default
 *       {@code https://rest.fal.ai/.well-known/jwks.json}; {@code webhook-poll-interval}: the
 *       safety-net poll, default 30 s; {@code webhook-allow-unsigned} (default false).</li>
 * </ul>
 */
public final class FalProviderFactory implements ImageProviderFactory {
  /** The provider id. */
  public static final String ID = "fal";

  /** Creates the factory; {@link java.util.ServiceLoader} calls this. */
  public FalProviderFactory() {}

  @Override
  public String id() {
    return ID;
  }

  @Override
  public Map<String, List<String>> customaryEnvironment() {
    return Map.of(
        ProviderConfig.API_KEY, List.of("FAL_KEY"),
        "key-id", List.of("FAL_KEY_ID"),
        "key-secret", List.of("FAL_KEY_SECRET"));
  }

  /** The keys this provider reads beyond the standard ones (see its README). */
  @Override
  public Set<String> settings() {
    return Set.of("key-id", "key-secret", "storage-url", "model", "edit-model", "data-uri-max-bytes",
        "upload-cache-ttl", "enable-safety-checker", "max-reference-images", "poll-interval", "poll-max-interval",
        Webhooks.URL, FalWebhooks.JWKS_URL, Webhooks.ALLOW_UNSIGNED, Webhooks.POLL_INTERVAL, FalProvider.STATUS_STREAMS);
  }

  @Override
  public boolean isConfigured(ProviderConfig config) {
    return key(config).isPresent();
  }

  @Override
  public ImageProvider create(ProviderConfig config) {
    Secret key = key(config).orElseThrow(() -> new IllegalStateException(ID + ": no key configured (set FAL_KEY, "
        + "imagegen.fal.api-key or IMAGEGEN_FAL_API_KEY, or FAL_KEY_ID and FAL_KEY_SECRET)"));
    return new FalProvider(config, key);
  }

  /** {@code api-key}, else {@code key-id:key-secret}. */
  private static Optional<Secret> key(ProviderConfig config) {
    Optional<String> keyId = config.get("key-id").map(String::strip).filter(s -> !s.isEmpty());
    Optional<String> secret = config.get("key-secret").map(String::strip).filter(s -> !s.isEmpty());
    return config.apiKey().or(() -> keyId.flatMap(id -> secret.map(sec -> Secret.of(id + ":" + sec))));
  }
}
