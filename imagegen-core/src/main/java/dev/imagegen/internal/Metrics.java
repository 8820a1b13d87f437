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

/** Thread-safe, cheap counters behind {@code getMetrics()}. */
final class Metrics {
  private final LongAdder requests = new LongAdder();
  private final LongAdder successes = new LongAdder();
  private final LongAdder failures = new LongAdder();
  private final LongAdder cacheHits = new LongAdder();
  private final LongAdder rejected = new LongAdder();
  private final LongAdder pending = new LongAdder();
  private final LongAdder unknownCost = new LongAdder();
  private final Map<ErrorKind, LongAdder> failuresByKind = new EnumMap<>(ErrorKind.class);
  private final LatencyHistogram latency = new LatencyHistogram();
  private final AtomicReference<BigDecimal> totalCost = new AtomicReference<>(BigDecimal.ZERO);
  private final ConcurrentHashMap<String, ProviderMetrics> providers = new ConcurrentHashMap<>();

  Metrics() {
    for (ErrorKind k : ErrorKind.values()) {
      failuresByKind.put(k, new LongAdder());
    }
  }

  ProviderMetrics provider(String id) {
    return providers.computeIfAbsent(id, k -> new ProviderMetrics());
  }

  void started() {
    requests.increment();
    pending.increment();
  }

  /** A generation refused at admission (the pending limit). */
  void rejected() {
    rejected.increment();
  }

  void succeeded(long nanos, Cost cost, boolean cached) {
    successes.increment();
    pending.decrement();
    if (cached) {
      cacheHits.increment();
    }
    latency.record(nanos);
    if (cost.isKnown()) {
      totalCost.accumulateAndGet(cost.amountOrZero(), BigDecimal::add);
    } else {
      unknownCost.increment();
    }
  }

  void failed(ErrorKind kind) {
    failures.increment();
    pending.decrement();
    counter(failuresByKind, kind).increment();
  }

  /** A success counted just before the caller's cancel won: count it as a cancellation. */
  void successBecameCancelled(Cost cost) {
    successes.decrement();
    failures.increment();
    counter(failuresByKind, ErrorKind.CANCELLED).increment();
    if (cost.isKnown()) {
      totalCost.accumulateAndGet(cost.amountOrZero(), BigDecimal::subtract);
    } else {
      unknownCost.decrement();
    }
  }

  /** A failure counted just before the caller's cancel won: count it as a cancellation. */
  void failureBecameCancelled(ErrorKind kind) {
    counter(failuresByKind, kind).decrement();
    counter(failuresByKind, ErrorKind.CANCELLED).increment();
  }

  MetricsSnapshot snapshot() {
    Map<String, MetricsSnapshot.ProviderStats> p = new TreeMap<>();
    providers.forEach((id, m) -> p.put(id, m.snapshot()));
    return new MetricsSnapshot(requests.sum(), successes.sum(), failures.sum(), kinds(failuresByKind), cacheHits.sum(),
        latency.snapshot(), Objects.requireNonNull(totalCost.get()), unknownCost.sum(), p, pending.sum(), rejected.sum());
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
