package dev.imagegen.internal;

import dev.imagegen.MetricsSnapshot;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A lock-free latency histogram with logarithmic buckets 5% wide, from 1 µs to over an hour:
 * recording is a few atomic updates, percentiles are read within 5%. The smallest and largest
 * observations are kept exactly, and every percentile is clamped between them, so a snapshot
 * always reads {@code min <= p50 <= p95 <= p99 <= max} (a single observation is every percentile).
 */
final class LatencyHistogram {
  private static final double BASE = Math.log(1.05);
  private static final int BUCKETS = 512;
  private final AtomicLongArray counts = new AtomicLongArray(BUCKETS);
  private final AtomicLong max = new AtomicLong();
  private final AtomicLong min = new AtomicLong(Long.MAX_VALUE);

  void record(long nanos) {
    long v = Math.max(0, nanos);
    // min and max first: a snapshot that sees the count sees bounds that include the value
    max.accumulateAndGet(v, Math::max);
    min.accumulateAndGet(v, Math::min);
    long micros = Math.max(1, v / 1000);
    int b = (int) Math.min(BUCKETS - 1, Math.log(micros) / BASE);
    counts.incrementAndGet(b);
  }

  MetricsSnapshot.Latency snapshot() {
    long[] c = new long[BUCKETS];
    long n = read(c);
    if (n == 0) {
      return new MetricsSnapshot.Latency(0, Duration.ZERO, Duration.ZERO, Duration.ZERO, Duration.ZERO, Duration.ZERO);
    }
    long lo = min.get();
    long hi = max.get();
    return new MetricsSnapshot.Latency(n, Duration.ofNanos(lo), percentile(c, n, 0.50, lo, hi), percentile(c, n, 0.95, lo, hi),
        percentile(c, n, 0.99, lo, hi), Duration.ofNanos(hi));
  }

  /** The median in nanoseconds, or -1 when empty. */
  long medianNanos() {
    long[] c = new long[BUCKETS];
    long n = read(c);
    return n == 0 ? -1 : percentile(c, n, 0.5, min.get(), max.get()).toNanos();
  }

  private long read(long[] c) {
    long n = 0;
    for (int i = 0; i < BUCKETS; i++) {
      c[i] = counts.get(i);
      n += c[i];
    }
    return n;
  }

  /** The bucket's middle holding the {@code p}-th observation, clamped to {@code [lo, hi]}. */
  private static Duration percentile(long[] c, long n, double p, long lo, long hi) {
    long rank = Math.max(1, (long) Math.ceil(p * n));
    long seen = 0;
    long v = hi;
    for (int i = 0; i < c.length; i++) {
      seen += c[i];
      if (seen >= rank) {
        v = (long) (Math.exp((i + 0.5) * BASE) * 1000);
        break;
      }
    }
    return Duration.ofNanos(Math.min(hi, Math.max(lo, v)));
  }
}
