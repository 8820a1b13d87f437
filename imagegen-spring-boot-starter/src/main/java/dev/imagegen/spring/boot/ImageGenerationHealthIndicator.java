package dev.imagegen.spring.boot;

import dev.imagegen.ImageGenerationService;
import dev.imagegen.ProviderHealth;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;

/**
 * Actuator health of an {@link ImageGenerationService}, from its
 * {@link ImageGenerationService#cachedHealth() cached provider checks}: a probe never waits for a
 * provider, and each provider is checked at most once per health cache time-to-live
 * ({@code imagegen.health.cache-ttl}, default 10 s) however often the probe runs.
 *
 * <p>The status is {@code UP} while at least one provider can serve (its state {@code UP} or
 * {@code DEGRADED}: failover uses it), {@code UNKNOWN} while none can and some are not checked
 * yet (just after start), and {@code DOWN} when none can (or none is configured). The details
 * have one entry per provider: {@code state}, {@code latencyMs}, and when known {@code message},
 * {@code queueDepth} and {@code workersReady}.
 */
public class ImageGenerationHealthIndicator implements HealthIndicator {

  private final ImageGenerationService service;

  /**
   * An indicator of the service's providers.
   *
   * @param service the service
   */
  public ImageGenerationHealthIndicator(ImageGenerationService service) {
    this.service = service;
  }

  @Override
  public Health health() {
    Map<String, ProviderHealth> all = service.cachedHealth();
    boolean usable = all.values().stream().anyMatch(ProviderHealth::isUsable);
    boolean unknown = all.values().stream().anyMatch(h -> h.state() == ProviderHealth.State.UNKNOWN);
    Health.Builder health = Health.status(usable ? Status.UP : unknown ? Status.UNKNOWN : Status.DOWN);
    all.forEach((id, h) -> health.withDetail(id, details(h)));
    return health.build();
  }

  private static Map<String, Object> details(ProviderHealth h) {
    Map<String, Object> d = new LinkedHashMap<>();
    d.put("state", h.state().name());
    d.put("latencyMs", h.latency().toMillis());
    if (h.message() != null) {
      d.put("message", h.message());
    }
    if (h.queueDepth() != null) {
      d.put("queueDepth", h.queueDepth());
    }
    if (h.workersReady() != null) {
      d.put("workersReady", h.workersReady());
    }
    return d;
  }
}
