package dev.imagegen.internal;

import dev.failsafe.CircuitBreaker;
import dev.failsafe.RateLimiter;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderConfig;
import java.time.Duration;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/** A configured provider with its resilience state: circuit breaker, rate limiter, bulkhead, cool-down. */
final class ProviderSlot {
  final ImageProvider provider;
  final ProviderConfig config;
  final BaseContext context;
  final int order;
  final int priority;
  final CostModel costModel;
  final CircuitBreaker<Object> breaker;
  final @Nullable RateLimiter<Object> rateLimiter;
  final AsyncPermits permits;
  final Metrics.ProviderMetrics metrics;
  private volatile long cooldownUntil;
  private volatile @Nullable String cooldownReason;

  ProviderSlot(ImageProvider provider, ProviderConfig config, Support support, int order, EngineSettings s, Metrics metrics) {
    this.provider = provider;
    this.config = config;
    this.context = new BaseContext(support, provider, config);
    this.order = order;
    this.priority = config.intValue(ProviderConfig.PRIORITY, 100);
    this.costModel = CostModel.fromConfig(config, provider.costModel());
    this.breaker = CircuitBreaker.builder()
        .withFailureThreshold(s.breakerFailures)
        .withDelay(s.breakerOpenFor)
        .withSuccessThreshold(1)
        .build();
    int rpm = config.intValue(ProviderConfig.REQUESTS_PER_MINUTE, 0);
    this.rateLimiter = rpm > 0 ? RateLimiter.smoothBuilder(rpm, Duration.ofMinutes(1)).build() : null;
    this.permits = new AsyncPermits(Math.max(1, config.intValue(ProviderConfig.MAX_CONCURRENT, s.defaultMaxConcurrent)));
    this.metrics = metrics.provider(provider.id());
    config.secrets().forEach(support.redactor::register);
  }

  String id() {
    return provider.id();
  }

  /** Why the provider should not be called now (open circuit, cool-down), or null. */
  @Nullable String unavailableReason() {
    long until = cooldownUntil;
    if (until != 0 && System.currentTimeMillis() < until) {
      return "cooling down until " + Instant.ofEpochMilli(until) + " (" + cooldownReason + ")";
    }
    if (breaker.isOpen() && breaker.getRemainingDelay().compareTo(Duration.ZERO) > 0) {
      return "circuit open after repeated failures";
    }
    return null;
  }

  /**
   * Asks the circuit breaker for a call: always granted while closed; once the open delay has
   * passed, the breaker goes half-open and grants a trial call, whose result closes or reopens it.
   * Call right before calling the provider, and record the call's result.
   */
  boolean admitCall() {
    return breaker.tryAcquirePermit();
  }

  /** Skips the provider for a while: a long Retry-After, a model loading, a quota exhausted. */
  void coolDown(Duration d, String reason) {
    long until = System.currentTimeMillis() + d.toMillis();
    if (until > cooldownUntil) {
      cooldownReason = reason;
      cooldownUntil = until;
    }
  }
}
