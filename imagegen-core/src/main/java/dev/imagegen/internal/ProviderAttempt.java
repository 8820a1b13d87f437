package dev.imagegen.internal;

import dev.failsafe.Failsafe;
import dev.failsafe.RetryPolicy;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.GenerationListener;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Reconciliation;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * One provider's attempt at a generation: the calls to that provider (the first and its retries),
 * and the state they share. Its stages, in order:
 * <ol>
 *   <li>retries: Failsafe's {@link RetryPolicy} with exponential backoff and jitter, a
 *       Retry-After delay function, and no retry that would end past the deadline;</li>
 *   <li>per call: the client-side rate limiter, the bulkhead ({@link AsyncPermits}), the circuit
 *       breaker's {@link ProviderSlot.Permit}, then the provider;</li>
 *   <li>a submit whose outcome was lost goes to the provider's {@code reconcile}, never straight to
 *       a second submit.</li>
 * </ol>
 * The attempt ends once ({@link #end}): when its calls are done, or when the generation ends
 * first (deadline, caller, close), which abandons it: the current call is cancelled (remote job
 * included) and every permit is given back.
 */
final class ProviderAttempt {
  final Generation generation;
  final ProviderSlot slot;
  final Budgets.Reservation reservation;
  final long startNanos = System.nanoTime();
  private final Engine engine;
  private final AtomicInteger calls = new AtomicInteger();
  private final AtomicBoolean ended = new AtomicBoolean();
  private final CompletableFuture<End> done = new CompletableFuture<>();
  private volatile @Nullable AttemptContext call;
  /** How long the latest call waited for a max-concurrent permit. */
  private volatile Duration permitWait = Duration.ZERO;
  /** How long all calls waited for the rate limiter and for permits, in nanoseconds. */
  private final java.util.concurrent.atomic.AtomicLong queuedNanos = new java.util.concurrent.atomic.AtomicLong();
  private volatile @Nullable CompletableFuture<?> waiting;
  /** A remote job of an earlier call ran to its end without being cancelled: it may be billed. */
  private volatile boolean earlierJobRan;
  private volatile boolean outcomeUnknown;

  /** How an attempt ended. */
  record End(ProviderAttempt attempt, @Nullable ProviderResult result, @Nullable ImageGenerationException error,
      boolean abandoned) {

    /** A submit's outcome was unknown and not reconciled: the attempt is reported as possibly billed. */
    boolean mayBeBilled() {
      return attempt.outcomeUnknown;
    }

    /**
     * The budget reservation stays spent: the outcome is unknown, or a remote job ran and was not
     * cancelled (its result URL 404ed, it timed out remotely), unless the provider reported that
     * it never started.
     */
    boolean keepsReservation() {
      if (error instanceof ProviderUnavailableException pu && pu.notBilled()) {
        return false;
      }
      AttemptContext c = attempt.call;
      return attempt.outcomeUnknown || attempt.earlierJobRan
          || (c != null && c.remoteJobId() != null && !c.remoteCancelSent());
    }
  }

  ProviderAttempt(Engine engine, Generation generation, ProviderSlot slot, Budgets.Reservation reservation) {
    this.engine = engine;
    this.generation = generation;
    this.slot = slot;
    this.reservation = reservation;
  }

  int calls() {
    return calls.get();
  }

  /** How long the attempt's calls waited for the rate limiter and for max-concurrent permits. */
  Duration queueWait() {
    return Duration.ofNanos(queuedNanos.get());
  }

  @Nullable AttemptContext lastCall() {
    return call;
  }

  /** Runs the attempt; the future completes once, when it ends. */
  CompletableFuture<End> run() {
    Failsafe.with(retryPolicy()).with(engine.failsafeScheduler).getStageAsync(this::callOnce)
        .whenComplete((r, e) -> end(r, e == null ? null : engine.classify(slot, e), false));
    return done;
  }

  /**
   * Ends the attempt now because the generation ended: cancels the call in progress (remote job
   * included) and any wait for a permit, then ends with the failure {@code why} makes of it (it
   * may say whether the remote cancel went out).
   */
  void abandon(Function<ProviderAttempt, ImageGenerationException> why) {
    if (!ended.compareAndSet(false, true)) {
      return;
    }
    // ended is set before the call is read; callProvider sets the call before it reads ended
    CompletableFuture<?> w = waiting;
    if (w != null) {
      w.cancel(false);
    }
    AttemptContext c = call;
    if (c != null) {
      c.cancel();
    }
    done.complete(new End(this, null, why.apply(this), true));
  }

  private void end(@Nullable ProviderResult r, @Nullable ImageGenerationException e, boolean abandoned) {
    if (ended.compareAndSet(false, true)) {
      done.complete(new End(this, r, e, abandoned));
    }
  }

  private boolean over() {
    return ended.get() || generation.isDone() || engine.isClosed();
  }

  private static final Duration MIN_RETRY_DELAY = Duration.ofMillis(1);

  private RetryPolicy<ProviderResult> retryPolicy() {
    EngineSettings s = engine.settings;
    return RetryPolicy.<ProviderResult>builder()
        .handleIf((r, e) -> e != null && retryDelay(engine.classify(slot, e)) != null)
        .abortIf((r, e) -> over())
        .withMaxRetries(s.maxRetries)
        .withBackoff(s.retryBase, s.retryMax.compareTo(s.retryBase) > 0 ? s.retryMax : s.retryBase.plusMillis(1))
        .withJitter(0.25)
        .withDelayFn(ctx -> {
          Duration asked = engine.classify(slot, ctx.getLastException()).retryAfter();
          if (asked == null) {
            return Duration.ofMillis(-1); // negative: the backoff applies
          }
          // Retry-After: 0 means at once, but Failsafe cancels an async stage retried with no delay: 1 ms is at once
          return asked.compareTo(MIN_RETRY_DELAY) < 0 ? MIN_RETRY_DELAY : asked;
        })
        .onRetryScheduled(ev -> {
          ImageGenerationException e = engine.classify(slot, ev.getLastException());
          AttemptLog.debug(slot, generation, "retrying {} in {} (call {} of at most {}) after {}: {}", slot.id(),
              AttemptLog.human(ev.getDelay()), ev.getAttemptCount() + 1, s.maxRetries + 1, e.kind(),
              AttemptLog.shortly(e.getMessage()));
          if (!engine.listeners.none()) {
            GenerationListener.RetryScheduled r = new GenerationListener.RetryScheduled(generation.id(), slot.id(),
                ev.getAttemptCount() + 1, ev.getDelay(), e.kind(), String.valueOf(e.getMessage()));
            engine.listeners.emit(l -> l.retryScheduled(r));
          }
        })
        .build();
  }

  /** The delay before a retry of this failure, or null when it must not be retried here. */
  private @Nullable Duration retryDelay(ImageGenerationException e) {
    if (!e.retryMayHelp() || over()) {
      return null;
    }
    Duration asked = e.retryAfter();
    if (asked != null && asked.compareTo(engine.settings.maxRetryAfter) > 0) {
      return null; // a long wait: fail over now, the provider cools down
    }
    Duration delay = asked;
    if (delay == null) { // the backoff's upper bound, jitter included
      EngineSettings s = engine.settings;
      Duration backoff = s.retryBase.multipliedBy(1L << Math.min(Math.max(calls() - 1, 0), 20));
      delay = (backoff.compareTo(s.retryMax) < 0 ? backoff : s.retryMax).multipliedBy(5).dividedBy(4);
    }
    return delay.compareTo(Engine.remaining(generation)) < 0 ? delay : null;
  }

  /** One call: rate limiter, bulkhead, breaker, the provider, validation, reconcile. */
  private CompletableFuture<ProviderResult> callOnce() {
    if (over()) {
      return CompletableFuture.failedFuture(stopped());
    }
    // the rate limiter's permit (shared or local); a wait up to the deadline is scheduled, a longer one is RATE_LIMITED
    CompletableFuture<Void> ready = slot.rateLimiter == null ? CompletableFuture.completedFuture(null)
        : slot.reservePermit(Engine.remaining(generation))
            .thenCompose(wait -> {
              queuedNanos.addAndGet(wait.toNanos());
              return wait.isZero() ? CompletableFuture.completedFuture(null) : engine.delayed(wait);
            });
    long[] waitStart = new long[1];
    return ready.thenCompose(v -> {
      CompletableFuture<Void> p = slot.permits.acquire();
      waiting = p;
      waitStart[0] = System.nanoTime();
      if (!p.isDone()) { // every permit of max-concurrent is held: say so, with the place in the queue
        generation.progress(ProgressEvent.queued(slot.id(), slot.permits.waiting(), null));
      }
      if (over()) {
        p.cancel(false);
      }
      return p;
    }).thenCompose(v -> {
      waiting = null;
      permitWait = Duration.ofNanos(System.nanoTime() - waitStart[0]);
      queuedNanos.addAndGet(permitWait.toNanos());
      if (over()) { // the permit came after the end (or during close): no new submit leaves
        slot.permits.release();
        return CompletableFuture.failedFuture(stopped());
      }
      return callProvider();
    });
  }

  /**
   * A result that states no queue time gets the time this attempt waited for its permit (a
   * self-hosted server that serves one call at a time queues here, not at the server).
   */
  private ProviderResult withPermitWait(ProviderResult r) {
    Duration w = permitWait;
    if (r.queueTime() != null || w.compareTo(Duration.ofMillis(1)) < 0) {
      return r;
    }
    return new ProviderResult(r.images(), r.model(), r.remoteJobId(), r.reportedCost(), r.gpuSeconds(), w, r.runTime(),
        r.downloadTime(), r.metadata(), r.warnings());
  }

  private CompletableFuture<ProviderResult> callProvider() {
    ProviderSlot.Permit permit = slot.admit();
    if (permit == null) {
      slot.permits.release();
      return CompletableFuture.failedFuture(ProviderUnavailableException.failOver("circuit open after repeated failures",
          slot.id(), null));
    }
    AttemptContext prev = call;
    if (prev != null && prev.remoteJobId() != null && !prev.remoteCancelSent()) {
      earlierJobRan = true;
    }
    AttemptContext ctx = new AttemptContext(slot.context, this);
    call = ctx;
    CompletableFuture<ProviderResult> out = new CompletableFuture<>();
    ctx.onCancel(() -> {
      permit.release();
      out.completeExceptionally(stopped());
    });
    if (over()) { // ended between the checks: the context was not yet cancelled by abandon()
      ctx.cancel();
      slot.permits.release();
      return out;
    }
    calls.incrementAndGet();
    slot.metrics.call();
    long t0 = System.nanoTime();
    CompletableFuture<ProviderResult> f;
    try {
      // the provider's own lines while it starts the call carry the generation's id
      f = AttemptLog.withId(generation, () -> slot.provider.generate(generation.request, ctx));
      if (f == null) {
        f = CompletableFuture.failedFuture(new IllegalStateException("provider returned no future"));
      }
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    f.whenComplete((r, e) -> ctx.settledForClose.complete(null));
    engine.callStarted(ctx.settledForClose);
    f.thenApply(this::validate).whenComplete((r, err) -> {
      slot.permits.release();
      if (err == null) {
        if (permit.success()) {
          AttemptLog.info(slot, generation, "circuit closed again: the trial call to {} succeeded", slot.id());
          engine.circuitChanged(slot, GenerationListener.CircuitState.CLOSED, null, Duration.ZERO,
              "the trial call succeeded", generation);
        }
        slot.metrics.success(System.nanoTime() - t0, r.images().size(), Cost.unknown());
        out.complete(withPermitWait(r));
        return;
      }
      ImageGenerationException e = engine.classify(slot, err);
      slot.metrics.failure(e.kind());
      if (Engine.countsAgainstCircuit(e)) {
        if (permit.failure()) {
          AttemptLog.warn(slot, generation, "circuit opened for {} after repeated failures (the last: {}); it is skipped for {}",
              slot.id(), e.kind(), AttemptLog.human(engine.settings.breakerOpenFor));
          engine.circuitChanged(slot, GenerationListener.CircuitState.OPENED, e.kind(), engine.settings.breakerOpenFor,
              "repeated failures", generation);
        }
      } else {
        permit.release();
      }
      if (over() || ctx.isCancelled()) {
        out.completeExceptionally(e);
      } else if (e instanceof ProviderUnavailableException pu && pu.outcomeUnknown()) {
        reconcile(ctx, pu).whenComplete((rr, re) -> {
          if (re == null) {
            out.complete(rr);
          } else {
            out.completeExceptionally(engine.classify(slot, re));
          }
        });
      } else {
        out.completeExceptionally(e);
      }
    });
    return out;
  }

  private ProviderResult validate(ProviderResult r) {
    if (r.images().isEmpty()) {
      throw new CompletionException(ProviderUnavailableException.failOver("returned no images", slot.id(), null));
    }
    if (r.images().stream().allMatch(GeneratedImage::nsfw)) {
      throw new CompletionException(new ContentPolicyException("every image was flagged as NSFW or censored", slot.id()));
    }
    return r;
  }

  /**
   * A submit whose answer was lost (a reset after sending, a 5xx to a POST): ask the provider what
   * became of it. Found: use it. Not submitted: a retry is safe. Found and cancelled: fail over.
   * Unknown: the job may exist and be billed, so the generation stops unless the operator opted
   * in to failing over anyway.
   */
  private CompletableFuture<ProviderResult> reconcile(AttemptContext ctx, ProviderUnavailableException lost) {
    CompletableFuture<Reconciliation> rec;
    try {
      rec = slot.provider.reconcile(generation.request, ctx);
      if (rec == null) {
        rec = CompletableFuture.completedFuture(Reconciliation.unknown());
      }
    } catch (RuntimeException e) {
      rec = CompletableFuture.completedFuture(Reconciliation.unknown());
    }
    return rec.exceptionally(e -> Reconciliation.unknown()).thenCompose(r -> {
      switch (r.state()) {
        case FOUND:
          if (r.result() != null) {
            return CompletableFuture.completedFuture(validate(r.result()));
          }
          outcomeUnknown = true;
          return CompletableFuture.failedFuture(Engine.unknownOutcome(slot.id(), lost, engine.settings.failoverOnUnknownOutcome));
        case NOT_SUBMITTED:
          // nothing was created: a retry on this provider is safe
          return CompletableFuture.failedFuture(new ProviderUnavailableException(lost.getMessage()
              + "; the provider confirms no job was created", slot.id(), true, false, lost.retryAfter(), lost));
        case CANCELLED:
          return CompletableFuture.failedFuture(ProviderUnavailableException.failOver(
              lost.getMessage() + "; the job was found and cancelled", slot.id(), lost));
        default:
          outcomeUnknown = true;
          AttemptLog.warn(slot, generation, "the outcome of a submit to {} is unknown and the provider cannot look it up; "
              + "the job may exist and be billed: {}", slot.id(), AttemptLog.shortly(lost.getMessage()));
          return CompletableFuture.failedFuture(Engine.unknownOutcome(slot.id(), lost, engine.settings.failoverOnUnknownOutcome));
      }
    });
  }

  private GenerationCancelledException stopped() {
    return new GenerationCancelledException(engine.isClosed() ? "the service was closed" : "generation already finished",
        slot.id());
  }
}
