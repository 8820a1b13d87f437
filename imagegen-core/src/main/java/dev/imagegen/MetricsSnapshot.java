package dev.imagegen;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.Map;

/**
 * An immutable snapshot of the service's metrics since it was built.
 *
 * <p>A generation is one request asked of the service: one {@code generate*} or {@code submit}
 * call, or one item of a batch. Each is counted once in {@code requests}, and once it has ended,
 * once in either {@code successes} or {@code failures}; until then it is {@code pending}. This
 * holds for generations refused before any provider was called too: those past the pending limit
 * ({@link ErrorKind#REJECTED}, also counted in {@code rejected}), invalid ones such as an unknown
 * preset ({@link ErrorKind#INVALID_REQUEST}) and batch items the batch's budget refused
 * ({@link ErrorKind#BUDGET_EXCEEDED}). Cancelled and timed-out generations are failures of kind
 * {@link ErrorKind#CANCELLED} and {@link ErrorKind#TIMEOUT}; a result the caller cancelled just
 * before it arrived counts as cancelled. So every snapshot balances:
 * {@code requests == successes + failures + pending}, and {@code failuresByKind} adds up to
 * {@code failures}. Calls refused with {@link IllegalStateException} or
 * {@link IllegalArgumentException} (a closed service, an unknown provider id) are not generations
 * and are not counted. Provider counters ({@link ProviderStats}) count calls, not generations.
 *
 * @param requests generations asked for, however they ended
 * @param successes generations that returned images (cache hits included)
 * @param failures generations that ended without images, refused ones included
 * @param failuresByKind failures by error kind (kinds without failures are absent)
 * @param cacheHits successes served from the cache
 * @param latency latency of successful generations, from the call to the result
 * @param totalCost the sum of the known costs of successful generations
 * @param unknownCostCount successful generations whose cost is unknown
 * @param providers per-provider usage, by provider id
 * @param pending generations accepted and not yet finished
 * @param rejected generations refused at once because the pending limit was reached (also in
 *     {@code failures}, as {@link ErrorKind#REJECTED})
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
   * Latency percentiles, read from a histogram within 5% and clamped to the exact smallest and
   * largest observations, so that {@code min <= p50 <= p95 <= p99 <= max} always holds (one
   * observation is every percentile). All zero when nothing was observed.
   *
   * @param count observations
   * @param min smallest observation
   * @param p50 median
   * @param p95 95th percentile
   * @param p99 99th percentile
   * @param max largest observation
   */
  public record Latency(long count, Duration min, Duration p50, Duration p95, Duration p99, Duration max) {}

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
