package dev.imagegen.internal;

import dev.failsafe.CircuitBreaker;
import dev.failsafe.RateLimiter;
import dev.imagegen.ErrorKind;
import dev.imagegen.RateLimitedException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderConfig;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * A configured provider with its resilience state: circuit breaker, rate limiter, bulkhead and
 * cool-down.
 *
 * <p>The breaker is Failsafe's, used directly rather than through a Failsafe executor: an
 * executor records every completion as a success or a failure, and a call that ends at the
 * caller's deadline or cancel is neither. Each call takes a {@link Permit}, which is given back
 * exactly once, with a verdict or without one; a half-open trial that ends without a verdict
 * re-arms the half-open state, so the provider is tried again instead of being skipped for good.
 * The open delay is measured on the service's clock (Failsafe's own timer is set far out), so a
 * test can move time instead of sleeping.
 */
final class ProviderSlot {
  private static final Duration NEVER = Duration.ofDays(3650);

  final ImageProvider provider;
  final ProviderConfig config;
  final BaseContext context;
  final int order;
  final int priority;
  final CostModel costModel;
  private final CircuitBreaker<Object> breaker;
  private final Duration openFor;
  final @Nullable RateLimiter<Object> rateLimiter;
  private final int requestsPerMinute;
  private final @Nullable SharedRateLimits sharedLimits;
  private final dev.imagegen.@Nullable CooldownStore cooldowns;
  final AsyncPermits permits;
  final Metrics.ProviderMetrics metrics;
  private final Clock clock;
  private volatile long openedAt;
  private volatile long cooldownUntil;
  private volatile @Nullable String cooldownReason;
  private volatile ErrorKind cooldownKind = ErrorKind.UNAVAILABLE;

  ProviderSlot(ImageProvider provider, ProviderConfig config, Support support, int order, EngineSettings s, Metrics metrics,
      @Nullable SharedRateLimits sharedLimits) {
    this.provider = provider;
    this.config = config;
    this.context = new BaseContext(support, provider, config);
    this.order = order;
    this.priority = config.intValue(ProviderConfig.PRIORITY, 100);
    // a PriceTable has read the configuration's prices itself, per model; anything else gets the flat keys over it
    this.costModel = provider.costModel().appliesConfiguration() ? provider.costModel()
        : CostModel.fromConfig(config, provider.costModel());
    this.clock = s.clock;
    this.openFor = s.breakerOpenFor;
    this.breaker = CircuitBreaker.builder()
        .withFailureThreshold(s.breakerFailures)
        .withDelay(NEVER)
        .withSuccessThreshold(1)
        .onOpen(e -> openedAt = clock.millis())
        .build();
    int rpm = config.intValue(ProviderConfig.REQUESTS_PER_MINUTE, 0);
    this.rateLimiter = rpm > 0 ? RateLimiter.smoothBuilder(rpm, Duration.ofMinutes(1)).build() : null;
    this.requestsPerMinute = rpm;
    this.sharedLimits = sharedLimits;
    this.cooldowns = s.cooldownStore;
    this.permits = new AsyncPermits(Math.max(1, config.intValue(ProviderConfig.MAX_CONCURRENT, s.defaultMaxConcurrent)));
    this.metrics = metrics.provider(provider.id());
    config.secrets().forEach(support.redactor::register);
  }

  String id() {
    return provider.id();
  }

  private volatile @Nullable PollBudget pollBudget;
  /** The share of the budget kept for the polls webhook deliveries ask for; the same as {@link #pollBudget} without webhooks. */
  private volatile @Nullable PollBudget pushBudget;
  private volatile int pollsPerSecond;
  private volatile boolean pollBudgetKnown;

  /**
   * The longest wait for a shared poll permit: past it the store refuses, and the poll goes back to
   * this service's budget to ask again, so no poll waits on the store longer than this.
   */
  static final Duration SHARED_POLL_WAIT = Duration.ofSeconds(1);

  /**
   * Makes the provider's poll budget at the first poll, from the operator's {@code polls-per-second}
   * or else the first poll policy's; none when it is 0. For a provider that sends webhooks, three
   * quarters of it are kept for the polls deliveries ask for and a quarter for the rest.
   */
  private void knowBudget(dev.imagegen.spi.PollPolicy policy) {
    if (!pollBudgetKnown) {
      synchronized (this) {
        if (!pollBudgetKnown) {
          int perSecond = config.intValue(ProviderConfig.POLLS_PER_SECOND, policy.pollsPerSecond());
          if (perSecond > 0) {
            boolean pushed = perSecond >= 2 && provider.webhookVerifier() != null;
            int rest = pushed ? Math.max(1, perSecond / 4) : perSecond;
            pollBudget = new PollBudget(rest, System::nanoTime);
            pushBudget = pushed ? new PollBudget(perSecond - rest, System::nanoTime) : pollBudget;
          }
          pollsPerSecond = perSecond;
          pollBudgetKnown = true;
        }
      }
    }
  }

  /**
   * Schedules one status poll of this provider within its poll budget. With a shared
   * {@link dev.imagegen.RateLimitStore}, a poll whose turn in this service's budget comes also
   * takes a permit under {@code provider:<id>:polls} (the provider's polls per second, shared by
   * every instance and by both shares of a budget split for webhooks), so several instances
   * together stay within the provider's budget. A permit that comes with a wait is waited for on
   * the scheduler; one refused (the shared queue is longer than {@link #SHARED_POLL_WAIT}) sends
   * the poll back to this service's budget, after the store's wait, to ask again; when the store
   * fails, the poll goes on this service's budget alone.
   */
  java.util.concurrent.ScheduledFuture<?> schedulePoll(java.util.concurrent.ScheduledExecutorService scheduler,
      dev.imagegen.spi.PollPolicy policy, Duration delay, Runnable poll) {
    knowBudget(policy);
    return schedule(pollBudget, scheduler, delay, poll);
  }

  /** Schedules the poll a webhook delivery asked for, in the budget's share kept for them (see {@link #schedulePoll}). */
  java.util.concurrent.ScheduledFuture<?> schedulePushPoll(java.util.concurrent.ScheduledExecutorService scheduler,
      dev.imagegen.spi.PollPolicy policy, Duration delay, Runnable poll) {
    knowBudget(policy);
    return schedule(pushBudget, scheduler, delay, poll);
  }

  private java.util.concurrent.ScheduledFuture<?> schedule(@Nullable PollBudget b,
      java.util.concurrent.ScheduledExecutorService scheduler, Duration delay, Runnable poll) {
    if (b == null) {
      return scheduler.schedule(poll, delay.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
    }
    SharedRateLimits shared = sharedLimits;
    return b.schedule(scheduler, delay.toNanos(), shared == null ? poll : () -> sharedPoll(shared, scheduler, b, poll));
  }

  /** Takes a shared poll permit, then polls (see {@link #schedulePoll}). */
  private void sharedPoll(SharedRateLimits shared, java.util.concurrent.ScheduledExecutorService scheduler, PollBudget b,
      Runnable poll) {
    shared.acquire("provider:" + id() + ":polls", pollsPerSecond, Duration.ofSeconds(1), SHARED_POLL_WAIT).thenAccept(d -> {
      try {
        if (d == null || (d.granted() && d.delay().isZero())) {
          poll.run(); // granted at once, or the store failed: this service's budget alone holds
        } else if (d.granted()) {
          scheduler.schedule(poll, d.delay().toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
        } else {
          b.schedule(scheduler, d.delay().toNanos(), () -> sharedPoll(shared, scheduler, b, poll));
        }
      } catch (java.util.concurrent.RejectedExecutionException e) {
        // the service is closing: its jobs are cancelled, nothing is left to poll
      }
    });
  }

  /**
   * Takes a rate-limit permit for one call (only when {@code requests-per-minute} is set): from the
   * shared store when the service has one, else (or when the store fails) from the local limiter.
   *
   * @param bound the longest wait accepted (the time left before the deadline)
   * @return the wait before the call may go (zero: at once), or a {@link RateLimitedException}
   *     when the permit would come at or after {@code bound}
   */
  CompletableFuture<Duration> reservePermit(Duration bound) {
    RateLimiter<Object> local = rateLimiter;
    if (local == null) {
      return CompletableFuture.completedFuture(Duration.ZERO);
    }
    SharedRateLimits shared = sharedLimits;
    if (shared == null) {
      try {
        return CompletableFuture.completedFuture(local(local, bound));
      } catch (RateLimitedException e) {
        return CompletableFuture.failedFuture(e);
      }
    }
    // the store is asked for a permit strictly before the bound, as the local check below refuses one at the bound
    Duration maxWait = bound.isZero() ? Duration.ZERO : bound.minusMillis(1);
    return shared.acquire("provider:" + id() + ":requests", requestsPerMinute, Duration.ofMinutes(1), maxWait)
        .thenApply(d -> {
          if (d == null) {
            return local(local, bound);
          }
          if (!d.granted() || d.delay().compareTo(bound) >= 0) {
            throw tooLong("shared client-side rate limit", d.delay());
          }
          return d.delay();
        });
  }

  private Duration local(RateLimiter<Object> local, Duration bound) {
    Duration wait = local.reservePermit();
    if (wait.compareTo(bound) >= 0) {
      throw tooLong("client-side rate limit", wait);
    }
    return wait;
  }

  private RateLimitedException tooLong(String what, Duration wait) {
    return new RateLimitedException(what + " of " + requestsPerMinute + "/min would delay the call past the deadline", id(),
        wait, null);
  }

  /**
   * Why a provider is not called now.
   *
   * @param kind the kind of failure behind it (a refused key cools down as {@code AUTHENTICATION})
   * @param reason what a person reads
   * @param left how long it lasts from now
   */
  record Unavailable(ErrorKind kind, String reason, Duration left) {}

  /** Why the provider should not be called now (cool-down, open circuit), or null. */
  @Nullable String unavailableReason() {
    Unavailable u = unavailable();
    return u == null ? null : u.reason();
  }

  /** Why the provider should not be called now (cool-down, open circuit), with its kind, or null. */
  @Nullable Unavailable unavailable() {
    long now = clock.millis();
    long until = cooldownUntil;
    if (until != 0 && now < until) {
      return new Unavailable(cooldownKind, "cooling down until " + Instant.ofEpochMilli(until) + " (" + cooldownReason + ")",
          Duration.ofMillis(until - now));
    }
    long openLeft = openFor.toMillis() - (now - openedAt);
    if (breaker.isOpen() && openLeft > 0) {
      return new Unavailable(ErrorKind.UNAVAILABLE, "circuit open after repeated failures", Duration.ofMillis(openLeft));
    }
    return null;
  }

  /**
   * Asks the breaker for one call: always granted while closed; once the open delay has passed
   * the breaker goes half-open and grants a trial call.
   *
   * @return the permit to give back when the call ends, or null when the circuit refuses the call
   */
  @Nullable Permit admit() {
    if (breaker.isOpen() && clock.millis() - openedAt >= openFor.toMillis()) {
      breaker.halfOpen();
    }
    return breaker.tryAcquirePermit() ? new Permit() : null;
  }

  /**
   * Opens the circuit now (refused credentials).
   *
   * @return whether it was closed or half-open before
   */
  boolean open() {
    boolean was = breaker.isOpen();
    openedAt = clock.millis();
    breaker.open();
    return !was;
  }

  /** Whether the circuit is closed (for tests and health). */
  boolean circuitClosed() {
    return breaker.isClosed();
  }

  /**
   * Skips the provider for a while: a long Retry-After, a model loading, a quota exhausted.
   *
   * @param kind the kind of the failure that caused it, which skips report
   * @return whether this extended the cool-down (false when one lasting longer is in force)
   */
  boolean coolDown(Duration d, ErrorKind kind, String reason) {
    boolean extended = applyCoolDown(d, kind, reason);
    dev.imagegen.CooldownStore store = cooldowns;
    if (extended && store != null && (kind == ErrorKind.AUTHENTICATION || kind == ErrorKind.INSUFFICIENT_CREDITS)
        && !d.isNegative() && !d.isZero()) {
      try {
        store.publish(new dev.imagegen.CooldownStore.Cooldown(id(), kind, d, reason));
      } catch (RuntimeException e) {
        // best effort: the cool-down holds here; the store logs its own failures
      }
    }
    return extended;
  }

  /**
   * A cool-down another instance started (through the service's {@code CooldownStore}); not
   * published again. One that would extend this instance's by a second or less is ignored: it is
   * this instance's own, come back from the store a few milliseconds later.
   *
   * @return whether this extended the cool-down
   */
  synchronized boolean coolDownFromPeer(Duration d, ErrorKind kind, String reason) {
    if (clock.millis() + d.toMillis() - PEER_TOLERANCE_MS <= cooldownUntil) {
      return false;
    }
    return applyCoolDown(d, kind, reason + ", seen by another instance");
  }

  private static final long PEER_TOLERANCE_MS = 1000;

  private synchronized boolean applyCoolDown(Duration d, ErrorKind kind, String reason) {
    long until = clock.millis() + d.toMillis();
    if (until > cooldownUntil) {
      cooldownReason = reason;
      cooldownKind = kind;
      cooldownUntil = until;
      return true;
    }
    return false;
  }

  /** One call's hold on the breaker, given back exactly once. */
  final class Permit {
    private final AtomicBoolean returned = new AtomicBoolean();

    /**
     * The provider answered: closes a half-open circuit.
     *
     * @return whether this closed the circuit again
     */
    boolean success() {
      if (returned.compareAndSet(false, true)) {
        boolean halfOpen = breaker.isHalfOpen();
        breaker.recordSuccess();
        return halfOpen && breaker.isClosed();
      }
      return false;
    }

    /**
     * The provider failed in a way that counts against the circuit.
     *
     * @return whether this opened the circuit
     */
    boolean failure() {
      if (returned.compareAndSet(false, true)) {
        boolean open = breaker.isOpen();
        breaker.recordFailure();
        return !open && breaker.isOpen();
      }
      return false;
    }

    /**
     * The call ended without a verdict on the provider (deadline, cancel, a failure that is the
     * request's fault): a half-open trial is re-armed, a closed circuit is left as it is.
     */
    void release() {
      if (returned.compareAndSet(false, true) && breaker.isHalfOpen()) {
        // Failsafe's halfOpen() is a no-op while half-open; passing through open re-arms the trial
        breaker.open();
        breaker.halfOpen();
      }
    }
  }
}
