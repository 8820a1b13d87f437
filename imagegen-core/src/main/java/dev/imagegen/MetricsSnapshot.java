package dev.imagegen;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.Map;

/**
 * An immutable snapshot of the service's metrics since it was built.
 *
 * @param requests generations started
 * @param successes generations that returned images
 * @param failures generations that failed
 * @param failuresByKind failed generations by error kind
 * @param cacheHits generations served from the cache
 * @param latency latency percentiles of successful generations
 * @param totalCost the sum of known costs
 * @param unknownCostCount successful generations whose cost is unknown
 * @param providers per-provider usage
 * @param pending generations accepted and not yet finished
 * @param rejected generations refused at once because the pending limit was reached
 */
public record MetricsSnapshot(long requests, long successes, long failures, Map<ErrorKind, Long> failuresByKind,
    long cacheHits, Latency latency, BigDecimal totalCost, long unknownCostCount, Map<String, ProviderStats> providers,
    long pending, long rejected) {

  /** Copies the maps. */
  public MetricsSnapshot {
    failuresByKind = Map.copyOf(failuresByKind);
    providers = Map.copyOf(providers);
  }

  /**
   * Latency percentiles (zero when nothing was observed).
   *
   * @param count observations
   * @param p50 median
   * @param p95 95th percentile
   * @param p99 99th percentile
   * @param max largest observation
   */
  public record Latency(long count, Duration p50, Duration p95, Duration p99, Duration max) {}

  /**
   * One provider's usage: every call to it (retries counted), not generations.
   *
   * @param calls calls made
   * @param successes calls that returned images
   * @param failuresByKind failed calls by kind
   * @param images images produced
   * @param latency latency of successful calls
   * @param cost known cost spent with it
   */
  public record ProviderStats(long calls, long successes, Map<ErrorKind, Long> failuresByKind, long images, Latency latency,
      BigDecimal cost) {
    /** Copies the map. */
    public ProviderStats {
      failuresByKind = Map.copyOf(failuresByKind);
    }
  }
}
