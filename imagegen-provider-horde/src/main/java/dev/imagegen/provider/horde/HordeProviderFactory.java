package dev.imagegen.provider.horde;

import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.Webhooks;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Creates the AI Horde provider ({@code horde}): free, crowd-sourced Stable Diffusion and FLUX
 * workers behind the Horde's v2 API. Found by {@link java.util.ServiceLoader}; stateless.
 *
 * <p>Configured like every imagegen provider ({@code imagegen.horde.<key>} properties or
 * {@code IMAGEGEN_HORDE_<KEY>} variables, with {@code AI_HORDE_API_KEY} or {@code HORDE_API_KEY}
 * as the customary key variables):
 * <ul>
 *   <li>{@code api-key}: a registered key; without one the anonymous key {@code 0000000000} is
 *       used (lowest priority, no kudos). The provider counts as configured only with a key, but
 *       {@code ImageGenerationService.fromEnvironment()} enables it anonymously when no provider at
 *       all is configured.</li>
 *   <li>{@code base-url} (default {@code https://aihorde.net/api/v2}), {@code timeout},
 *       {@code poll-interval} (default 2 s, never below the Horde's 1 s floor).</li>
 *   <li>{@code client-agent} ({@code name:version:contact}, default
 *       {@code imagegen-java:<version>:<contact>}) or just {@code contact}.</li>
 *   <li>{@code default-model} (default {@code sdxl}, i.e. {@code AlbedoBase XL (SDXL)}),
 *       {@code model-<alias>} to map an alias to a Horde model name.</li>
 *   <li>{@code nsfw} (false), {@code censor-nsfw} (true), {@code validated-backends} (true),
 *       {@code trusted-workers} (false), {@code slow-workers} (true), {@code r2} (true).</li>
 *   <li>webhooks: {@code webhook-url} (an https URL where the application mounted
 *       {@code ImageGenerationService.webhooks()}; each request then carries it as {@code webhook},
 *       the Horde posts once per finished image, and the request is polled only as a safety net),
 *       which needs {@code webhook-allow-unsigned=true} because the Horde signs nothing, and
 *       {@code webhook-poll-interval} (the safety-net poll, default 30 s).</li>
 * </ul>
 * See the module README for the whole list.
 */
public final class HordeProviderFactory implements ImageProviderFactory {

  /** Creates the factory; called by {@link java.util.ServiceLoader}. */
  public HordeProviderFactory() {}

  /** Returns {@code horde}. */
  @Override
  public String id() {
    return HordeProvider.ID;
  }

  /** {@code api-key} from {@code AI_HORDE_API_KEY}, then {@code HORDE_API_KEY}. */
  @Override
  public Map<String, List<String>> customaryEnvironment() {
    return Map.of(ProviderConfig.API_KEY, List.of("AI_HORDE_API_KEY", "HORDE_API_KEY"));
  }

  /** The keys this provider reads beyond the standard ones (see its README). */
  @Override
  public Set<String> settings() {
    return Set.of("client-agent", "contact", "default-model", "model.*", "nsfw", "censor-nsfw", "validated-backends",
        "trusted-workers", "slow-workers", "r2", "poll-interval", "poll-max-interval", "models-refresh", Webhooks.URL,
        Webhooks.ALLOW_UNSIGNED, Webhooks.POLL_INTERVAL);
  }

  /** True when an API key is set (the anonymous key works without one; see {@link #enabledWhenNothingConfigured()}). */
  @Override
  public boolean isConfigured(ProviderConfig config) {
    return config.apiKey().isPresent();
  }

  /** True: with nothing configured, imagegen still works through the Horde's anonymous key. */
  @Override
  public boolean enabledWhenNothingConfigured() {
    return true;
  }

  /**
   * Creates the provider.
   *
   * @param config its configuration
   * @throws IllegalStateException naming the key when a value is invalid (base-url, client-agent, durations)
   */
  @Override
  public ImageProvider create(ProviderConfig config) {
    return new HordeProvider(config);
  }
}
