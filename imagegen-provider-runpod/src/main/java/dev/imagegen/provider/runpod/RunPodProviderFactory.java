package dev.imagegen.provider.runpod;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.Webhooks;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Creates the {@code runpod} provider: images from
 * <a href="https://docs.runpod.io/serverless/overview">RunPod serverless endpoints</a> that run an
 * image worker (runpod-workers/worker-sdxl by default, any worker through an input template).
 *
 * <p>Configuration ({@code imagegen.runpod.<key>} properties or {@code IMAGEGEN_RUNPOD_<KEY>}
 * environment variables):
 * <ul>
 * <li>{@code api-key} (or {@code RUNPOD_API_KEY}), sent as {@code Authorization: Bearer <key>};
 * <li>{@code endpoint}: the default endpoint id, used for requests without a model;
 *     {@code endpoint.<alias>} (e.g. {@code endpoint.sdxl}, {@code endpoint.flux-schnell}): the
 *     endpoint serving a model alias; at least one of them is needed. The aliases are the
 *     provider's models; other model names are not served;
 * <li>{@code input-template} / {@code input-template.<alias>}: the job's {@code input} as a JSON
 *     template with placeholders ({@code {{prompt}}}, {@code {{negative_prompt}}}, {@code {{width}}},
 *     {@code {{height}}}, {@code {{seed}}}, {@code {{steps}}}, {@code {{guidance}}},
 *     {@code {{num_images}}}, {@code {{image}}}, {@code {{mask}}}, {@code {{strength}}},
 *     {@code {{sampler}}}, {@code {{model}}}, {@code {{output_format}}}), or {@code @file.json};
 *     default: worker-sdxl's input;
 * <li>{@code price.<alias>} (a bare number is USD per GPU-second) or {@code price-per-gpu-second}, or
 *     {@code gpu} / {@code gpu.<alias>} naming the endpoint's GPU class from RunPod's price list
 *     ({@code worker-type} flex or active); none: cost unknown. The former
 *     {@code price-per-gpu-second.<alias>} is refused, naming {@code price.<alias>};
 * <li>{@code base-url} (default {@code https://api.runpod.ai/v2}), {@code timeout},
 *     {@code poll-interval}, {@code execution-timeout}, {@code ttl}, {@code low-priority},
 *     {@code webhook}, {@code max-images}, {@code degraded-queue-depth} (5),
 *     {@code cold-start-allowance} (60s), {@code health-cache} (10s), and the standard keys;
 * <li>webhooks: {@code webhook-url} (where the application mounted
 *     {@code ImageGenerationService.webhooks()}; each {@code /run} then carries it as
 *     {@code webhook} and the job is polled only as a safety net), which needs
 *     {@code webhook-allow-unsigned=true} because RunPod signs nothing, and
 *     {@code webhook-poll-interval} (the safety-net poll, default 30 s). The older {@code webhook}
 *     key still hands a URL to RunPod with no receiver here; setting both is an error.
 * </ul>
 *
 * <p>Stateless; the service calls it once per configuration.
 */
public final class RunPodProviderFactory implements ImageProviderFactory {
  private static final ObjectMapper TEMPLATE_MAPPER = new ObjectMapper();

  /** Creates the factory; found by {@link java.util.ServiceLoader}. */
  public RunPodProviderFactory() {}

  /** {@return {@code runpod}} */
  @Override
  public String id() {
    return RunPodProvider.ID;
  }

  /** {@return {@code api-key} from {@code RUNPOD_API_KEY}} */
  @Override
  public Map<String, List<String>> customaryEnvironment() {
    return Map.of(ProviderConfig.API_KEY, List.of("RUNPOD_API_KEY"));
  }

  /** The keys this provider reads beyond the standard ones (see its README). */
  @Override
  public Set<String> settings() {
    return Set.of("endpoint", "endpoint.*", "input-template", "input-template.*", "gpu", "gpu.*", "worker-type",
        "execution-timeout", "ttl", "low-priority", "webhook", "max-images", "degraded-queue-depth",
        "cold-start-allowance", "health-cache", "poll-interval", "poll-max-interval", Webhooks.URL, Webhooks.ALLOW_UNSIGNED,
        Webhooks.POLL_INTERVAL);
  }

  /**
   * Whether a key and at least one endpoint ({@code endpoint} or {@code endpoint.<alias>}) are set.
   *
   * @param config the configuration
   */
  @Override
  public boolean isConfigured(ProviderConfig config) {
    return config.apiKey().isPresent() && (!config.string(RunPodSettings.ENDPOINT, "").isEmpty()
        || config.withPrefix(RunPodSettings.ENDPOINT).values().stream().anyMatch(s -> !s.isBlank()));
  }

  /**
   * Creates the provider.
   *
   * @param config its configuration
   * @return the provider
   * @throws IllegalStateException naming the key when the key or every endpoint is missing, an
   *     endpoint id, template, price or GPU name is invalid
   */
  @Override
  public ImageProvider create(ProviderConfig config) {
    return new RunPodProvider(config, TEMPLATE_MAPPER);
  }
}
