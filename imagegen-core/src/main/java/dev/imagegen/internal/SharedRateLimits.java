package dev.imagegen.internal;

import dev.imagegen.RateLimitStore;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * One service's view of its {@link RateLimitStore}: each question bounded by the store's timeout
 * on the service's scheduler, and the store's outages tracked, so that one WARN is logged when an
 * outage starts and one INFO when it ends. While the store is down it is asked again at most every
 * {@link #PROBE_EVERY_NANOS}; the calls in between are answered "use the local limiter" at once,
 * so a store that hangs does not add its timeout to every call. Answers are handed on on the
 * service's scheduler, never on the store's own thread.
 */
final class SharedRateLimits {
  static final long PROBE_EVERY_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

  private final RateLimitStore store;
  private final Duration timeout;
  private final ScheduledExecutorService scheduler;
  private final Logger log;
  private final AtomicBoolean down = new AtomicBoolean();
  private volatile long lastFailure;

  SharedRateLimits(RateLimitStore store, ScheduledExecutorService scheduler, Logger log) {
    this.store = store;
    Duration t = store.timeout();
    this.timeout = t == null || t.isNegative() || t.isZero() ? Duration.ofSeconds(2) : t;
    this.scheduler = scheduler;
    this.log = log;
  }

  /**
   * Asks the store for one permit.
   *
   * @return the store's decision, or null when the store failed or did not answer in time (the
   *     caller takes the permit from its local limiter); never completes exceptionally
   */
  CompletableFuture<RateLimitStore.@Nullable Decision> acquire(String key, int limit, Duration window, Duration maxWait) {
    if (down.get() && System.nanoTime() - lastFailure < PROBE_EVERY_NANOS) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<RateLimitStore.@Nullable Decision> out = new CompletableFuture<>();
    AtomicBoolean answered = new AtomicBoolean(); // the store's answer or the timeout, whichever comes first
    ScheduledFuture<?> timer;
    try {
      timer = scheduler.schedule(() -> failed(out, answered, new TimeoutException("no answer within " + timeout.toMillis() + " ms")),
          timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      return CompletableFuture.completedFuture(null); // closing: the local limiter answers
    }
    CompletionStage<RateLimitStore.Decision> asked;
    try {
      asked = store.acquire(key, limit, window, maxWait);
    } catch (RuntimeException e) {
      timer.cancel(false);
      failed(out, answered, e);
      return out;
    }
    if (asked == null) {
      timer.cancel(false);
      failed(out, answered, new IllegalStateException("the store returned no stage"));
      return out;
    }
    asked.whenComplete((d, e) -> {
      timer.cancel(false);
      if (e != null) {
        failed(out, answered, e);
      } else if (d == null) {
        failed(out, answered, new IllegalStateException("the store answered null"));
      } else if (answered.compareAndSet(false, true)) {
        if (down.compareAndSet(true, false)) {
          log.info("the shared rate-limit store {} answers again: providers' requests-per-minute limits and poll "
              + "budgets are shared across instances again", store);
        }
        completeOnScheduler(out, d);
      }
    });
    return out;
  }

  /**
   * Completes on the service's scheduler: the store answers on its own I/O thread (a Redis
   * client's event loop), which must not run the provider call that follows.
   */
  private void completeOnScheduler(CompletableFuture<RateLimitStore.@Nullable Decision> out,
      RateLimitStore.@Nullable Decision d) {
    try {
      scheduler.execute(() -> out.complete(d));
    } catch (RejectedExecutionException e) {
      out.complete(d); // closing
    }
  }

  private void failed(CompletableFuture<RateLimitStore.@Nullable Decision> out, AtomicBoolean answered, Throwable e) {
    if (!answered.compareAndSet(false, true)) {
      return; // answered first
    }
    lastFailure = System.nanoTime();
    if (down.compareAndSet(false, true)) {
      Throwable c = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
      log.warn("the shared rate-limit store {} failed ({}); until it answers again each instance keeps providers' "
          + "requests-per-minute limits and poll budgets on its own", store, c.toString());
    }
    completeOnScheduler(out, null); // logged first: the call this completes may end the generation at once
  }
}
