package dev.imagegen.internal;

import dev.imagegen.MetricsSnapshot;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A lock-free latency histogram with logarithmic buckets 5% wide, from 1 µs to over an hour:
 * recording is one increment, percentiles are read within 5%.
 */
final class LatencyHistogram {
  private static final double BASE = Math.log(1.05);
  private static final int BUCKETS = 512;
  private final AtomicLongArray counts = new AtomicLongArray(BUCKETS);
  private final AtomicLong total = new AtomicLong();
  private final AtomicLong max = new AtomicLong();

  void record(long nanos) {
    long micros = Math.max(1, nanos / 1000);
    int b = (int) Math.min(BUCKETS - 1, Math.log(micros) / BASE);
    counts.incrementAndGet(b);
    total.incrementAndGet();
    max.accumulateAndGet(nanos, Math::max);
  }

  long count() {
    return total.get();
  }

  MetricsSnapshot.Latency snapshot() {
    long[] c = new long[BUCKETS];
    long n = 0;
    for (int i = 0; i < BUCKETS; i++) {
      c[i] = counts.get(i);
      n += c[i];
    }
    return new MetricsSnapshot.Latency(n, percentile(c, n, 0.50), percentile(c, n, 0.95), percentile(c, n, 0.99),
        Duration.ofNanos(max.get()));
  }

  /** The median in nanoseconds, or -1 when empty. */
  long medianNanos() {
    long[] c = new long[BUCKETS];
    long n = 0;
    for (int i = 0; i < BUCKETS; i++) {
      c[i] = counts.get(i);
      n += c[i];
    }
    return n == 0 ? -1 : percentile(c, n, 0.5).toNanos();
  }

  private static Duration percentile(long[] c, long n, double p) {
    if (n == 0) {
      return Duration.ZERO;
    }
    long rank = (long) Math.ceil(p * n);
    long seen = 0;
    for (int i = 0; i < c.length; i++) {
      seen += c[i];
      if (seen >= rank) {
        return Duration.ofNanos((long) (Math.exp((i + 0.5) * BASE) * 1000));
      }
    }
    return Duration.ZERO;
  }
}
