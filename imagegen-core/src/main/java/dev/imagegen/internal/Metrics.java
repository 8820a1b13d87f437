package dev.imagegen.internal;

import dev.imagegen.Cost;
import dev.imagegen.ErrorKind;
import dev.imagegen.MetricsSnapshot;
import java.math.BigDecimal;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * Thread-safe counters behind {@code getMetrics()}. The generation counters change together under
 * one lock, so a snapshot always balances: {@code requests == successes + failures + pending}, and
 * the failures by kind add up to {@code failures}. Provider counters are per call and lock-free.
 */
final class Metrics {
  // guarded by this
  private long requests;
  private long successes;
  private long failures;
  private long cacheHits;
  private long rejected;
  private long pending;
  private long unknownCost;
  private BigDecimal totalCost = BigDecimal.ZERO;
  private final Map<ErrorKind, Long> failuresByKind = new EnumMap<>(ErrorKind.class);
  private final LatencyHistogram latency = new LatencyHistogram();
  private final ConcurrentHashMap<String, ProviderMetrics> providers = new ConcurrentHashMap<>();

  ProviderMetrics provider(String id) {
    return providers.computeIfAbsent(id, k -> new ProviderMetrics());
  }

  /** A generation accepted: counted as a request, pending until it ends. */
  synchronized void started() {
    requests++;
    pending++;
  }

  /**
   * A generation refused before it started (the pending limit, an invalid request, a batch's
   * budget): a request that failed at once.
   */
  synchronized void refused(ErrorKind kind) {
    requests++;
    failures++;
    failuresByKind.merge(kind, 1L, Long::sum);
    if (kind == ErrorKind.REJECTED) {
      rejected++;
    }
  }

  void succeeded(long nanos, Cost cost, boolean cached) {
    latency.record(nanos);
    synchronized (this) {
      successes++;
      pending--;
      if (cached) {
        cacheHits++;
      }
      if (cost.isKnown()) {
        totalCost = totalCost.add(cost.amountOrZero());
      } else {
        unknownCost++;
      }
    }
  }

  synchronized void failed(ErrorKind kind) {
    failures++;
    pending--;
    failuresByKind.merge(kind, 1L, Long::sum);
  }

  /** A success counted just before the caller's cancel won: count it as a cancellation. */
  synchronized void successBecameCancelled(Cost cost) {
    successes--;
    failures++;
    failuresByKind.merge(ErrorKind.CANCELLED, 1L, Long::sum);
    if (cost.source() == Cost.Source.CACHED) {
      cacheHits--;
    }
    if (cost.isKnown()) {
      totalCost = totalCost.subtract(cost.amountOrZero());
    } else {
      unknownCost--;
    }
  }

  /** A failure counted just before the caller's cancel won: count it as a cancellation. */
  synchronized void failureBecameCancelled(ErrorKind kind) {
    failuresByKind.computeIfPresent(kind, (k, n) -> n > 1 ? n - 1 : null);
    failuresByKind.merge(ErrorKind.CANCELLED, 1L, Long::sum);
  }

  MetricsSnapshot snapshot() {
    Map<String, MetricsSnapshot.ProviderStats> p = new TreeMap<>();
    providers.forEach((id, m) -> p.put(id, m.snapshot()));
    MetricsSnapshot.Latency l = latency.snapshot();
    synchronized (this) {
      return new MetricsSnapshot(requests, successes, failures, failuresByKind, cacheHits, l, totalCost, unknownCost, p,
          pending, rejected);
    }
  }

  /** Every kind has its counter from the start. */
  private static LongAdder counter(Map<ErrorKind, LongAdder> m, ErrorKind kind) {
    return Objects.requireNonNull(m.get(kind), kind.name());
  }

  private static Map<ErrorKind, Long> kinds(Map<ErrorKind, LongAdder> m) {
    Map<ErrorKind, Long> out = new EnumMap<>(ErrorKind.class);
    m.forEach((k, v) -> {
      long n = v.sum();
      if (n > 0) {
        out.put(k, n);
      }
    });
    return out;
  }

  /** One provider's counters. */
  static final class ProviderMetrics {
    final LongAdder calls = new LongAdder();
    final LongAdder successes = new LongAdder();
    final LongAdder images = new LongAdder();
    final Map<ErrorKind, LongAdder> failures = new EnumMap<>(ErrorKind.class);
    final LatencyHistogram latency = new LatencyHistogram();
    final AtomicReference<BigDecimal> cost = new AtomicReference<>(BigDecimal.ZERO);
    final AtomicLong consecutiveFailures = new AtomicLong();

    ProviderMetrics() {
      for (ErrorKind k : ErrorKind.values()) {
        failures.put(k, new LongAdder());
      }
    }

    void call() {
      calls.increment();
    }

    void success(long nanos, int imageCount, Cost c) {
      successes.increment();
      images.add(imageCount);
      latency.record(nanos);
      consecutiveFailures.set(0);
      if (c.isKnown()) {
        cost.accumulateAndGet(c.amountOrZero(), BigDecimal::add);
      }
    }

    void failure(ErrorKind kind) {
      counter(failures, kind).increment();
      consecutiveFailures.incrementAndGet();
    }

    MetricsSnapshot.ProviderStats snapshot() {
      return new MetricsSnapshot.ProviderStats(calls.sum(), successes.sum(), kinds(failures), images.sum(),
          latency.snapshot(), Objects.requireNonNull(cost.get()));
    }
  }
}
