package dev.imagegen.spi;

import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * Waits for a {@link RemoteJob} by polling it on the shared scheduler: no thread is held between
 * polls. Registers the job with {@link GenerationContext#remoteJobStarted} so that cancelling the
 * attempt (caller, deadline, shutdown) sends the remote cancel; stops polling once the attempt is
 * cancelled. A poll that fails with a retryable error (429, 5xx, reset) keeps the job, never
 * resubmits it, and slows down (honouring {@code Retry-After}); after the policy's limit of
 * consecutive failures the wait fails. Progress events go to the context.
 *
 * <p>The interval grows as the policy says, but never beyond a quarter of the job's age (nor below
 * the policy's first interval): a job that is done after 4.5 s is seen by about 5.6 s, not at the
 * next 5 s poll, so the wait the polling adds stays within a quarter of the job's own time; the
 * provider's poll budget bounds the total however many jobs are young.
 *
 * <p>A verified webhook
 * delivery for the job ({@link GenerationContext#onPush}) makes the loop poll at once instead of
 * at its next scheduled time; at most one poll is in flight, and deliveries that arrive during a
 * poll make one more poll after it.
 */
public final class JobPoller {
  private JobPoller() {}

  /**
   * Polls a job until it finishes.
   *
   * @param ctx the attempt
   * @param job the job
   * @param policy the poll intervals
   * @return the result, or the failure
   */
  public static CompletableFuture<ProviderResult> await(GenerationContext ctx, RemoteJob job, PollPolicy policy) {
    CompletableFuture<ProviderResult> result = new CompletableFuture<>();
    ctx.remoteJobStarted(job.id(), job.handles(), job::cancel);
    ctx.onCancel(() -> result.completeExceptionally(
        new GenerationCancelledException("stopped waiting for job " + job.id(), ctx.providerId(), null)));
    Loop loop = new Loop(ctx, job, policy, result);
    ctx.onPush(job.id(), loop::pollNow, result);
    loop.schedule(policy.initialDelay());
    AutoCloseable watching;
    try {
      watching = job.watch(loop::pollNow);
    } catch (RuntimeException e) {
      watching = null; // a channel that cannot start leaves the job to its polls
    }
    if (watching != null) {
      AutoCloseable w = watching;
      result.whenComplete((r, e) -> {
        try {
          w.close();
        } catch (Exception ignored) {
          // closing a status stream has nothing left to report
        }
      });
    }
    return result;
  }

  /** The first wait after a failed poll is at most twice this, then it doubles per failure in a row. */
  static final Duration ERROR_BACKOFF_BASE = Duration.ofMillis(500);

  /** {@code Loop.forAge}, for the package's tests. */
  static Duration forAgeForTest(Duration interval, Duration age, PollPolicy policy) {
    return Loop.forAge(interval, age, policy);
  }

  private static final class Loop {
    private final GenerationContext ctx;
    private final RemoteJob job;
    private final PollPolicy policy;
    private final CompletableFuture<ProviderResult> result;
    private Duration interval;
    private int errors;
    private final long started = System.nanoTime();
    /** When the last poll went out (System.nanoTime), 0 before the first. */
    private volatile long lastPoll;
    private @Nullable ScheduledFuture<?> next; // guarded by this
    private boolean polling; // guarded by this: a poll is claimed or in flight
    private boolean nudged; // guarded by this: a push arrived while polling
    /** Whether the poll scheduled or in flight is one a push asked for (its retry and follow-up are too). */
    private volatile boolean pushed;

    Loop(GenerationContext ctx, RemoteJob job, PollPolicy policy, CompletableFuture<ProviderResult> result) {
      this.ctx = ctx;
      this.job = job;
      this.policy = policy;
      this.result = result;
      this.interval = policy.interval();
    }

    void schedule(Duration delay) {
      schedule(delay, false);
    }

    /**
     * Schedules the next poll within the provider's poll budget; {@code push}: in the share kept
     * for the polls deliveries ask for (a push's retry after a failed poll, or one more after
     * deliveries during a poll).
     */
    private void schedule(Duration delay, boolean push) {
      if (result.isDone() || ctx.isCancelled()) {
        return;
      }
      long ms = Math.max(delay.toMillis(), policy.floor().toMillis());
      synchronized (this) { // held while scheduling, so the poll cannot start before next names it
        pushed = push;
        next = push ? ctx.schedulePushPoll(policy, Duration.ofMillis(ms), this::pollOnce)
            : ctx.schedulePoll(policy, Duration.ofMillis(ms), this::pollOnce);
      }
    }

    /**
     * A push: the scheduled poll is cancelled and one runs now (no sooner than the floor after the
     * last poll, and within the provider's poll budget), or after the one in flight.
     */
    void pollNow() {
      synchronized (this) {
        if (result.isDone() || ctx.isCancelled()) {
          return;
        }
        if (polling) {
          nudged = true;
          return;
        }
        ScheduledFuture<?> f = next;
        if (f != null && !f.cancel(false)) {
          return; // the scheduled poll is starting now: it is the poll asked for
        }
        polling = true;
        next = null;
        pushed = true;
      }
      try {
        // at once, unless the last poll went out less than the provider's floor ago, and within the
        // provider's poll budget: a thousand deliveries at once are a thousand polls, spread as any others
        long last = lastPoll;
        long wait = last == 0 ? 0 : Math.max(0, policy.floor().toNanos() - (System.nanoTime() - last));
        ctx.schedulePushPoll(policy, Duration.ofNanos(wait), this::poll);
      } catch (RejectedExecutionException e) { // the service is closing
        synchronized (this) {
          polling = false;
        }
      }
    }

    private void pollOnce() {
      synchronized (this) {
        if (polling) {
          return; // a push's poll runs
        }
        polling = true;
        next = null;
      }
      poll();
    }

    private void poll() {
      if (result.isDone() || ctx.isCancelled()) {
        return;
      }
      lastPoll = System.nanoTime();
      CompletableFuture<PollResult> poll;
      try {
        poll = job.poll();
      } catch (RuntimeException e) {
        poll = CompletableFuture.failedFuture(e);
      }
      poll.whenComplete((r, e) -> {
        boolean again;
        boolean wasPushed;
        synchronized (this) {
          polling = false;
          again = nudged;
          nudged = false;
          wasPushed = pushed;
          pushed = false;
        }
        if (result.isDone()) {
          return;
        }
        if (e != null) {
          onError(e instanceof CompletionException && e.getCause() != null ? e.getCause() : e, wasPushed || again);
          return;
        }
        errors = 0;
        if (r instanceof PollResult.Done d) {
          result.complete(d.result());
        } else if (r instanceof PollResult.Failed f) {
          result.completeExceptionally(f.error());
        } else if (r instanceof PollResult.Pending p) {
          if (p.progress() != null) {
            ctx.progress(p.progress());
          }
          Duration wait = again ? Duration.ZERO : p.nextPollIn() != null ? p.nextPollIn()
              : jitter(forAge(interval, Duration.ofNanos(System.nanoTime() - started), policy));
          interval = grow(interval);
          schedule(wait, again);
        }
      });
    }

    private void onError(Throwable e, boolean push) {
      if (!(e instanceof ImageGenerationException ige) || !ige.retryMayHelp() || ++errors > policy.maxConsecutiveErrors()) {
        // polling gave up on a job that may still be running (an answer refused as too large,
        // errors in a row): cancel it through the service, or it runs on, billed, for nobody
        ctx.cancelRemoteJob();
        result.completeExceptionally(e instanceof ImageGenerationException ? e
            : new ProviderUnavailableException("polling job " + job.id() + " failed: " + e, ctx.providerId(), e));
        return;
      }
      // a failed poll is retried soon, doubling per failure in a row, from at most 500 ms: not from the
      // interval, which for a job polled as a webhook's safety net is 30 s (the poll budget bounds the total)
      Duration base = interval.compareTo(ERROR_BACKOFF_BASE) < 0 ? interval : ERROR_BACKOFF_BASE;
      Duration wait = base.multipliedBy(1L << Math.min(errors, 4));
      Duration retryAfter = e instanceof RateLimitedException rl ? rl.retryAfter()
          : e instanceof ProviderUnavailableException pu ? pu.retryAfter() : null;
      if (retryAfter != null && retryAfter.compareTo(wait) > 0) {
        wait = retryAfter;
      }
      if (wait.compareTo(policy.maxInterval().multipliedBy(4)) > 0) {
        wait = policy.maxInterval().multipliedBy(4);
      }
      ctx.log().debug("poll of job {} failed ({}), polling again in {} ms", job.id(), e.getMessage(), wait.toMillis());
      schedule(wait, push); // a push's poll that failed is retried in the share kept for pushes
    }

    /** The interval, held to a quarter of the job's age (never below the policy's first interval). */
    static Duration forAge(Duration interval, Duration age, PollPolicy policy) {
      Duration cap = age.dividedBy(4);
      if (cap.compareTo(policy.interval()) < 0) {
        cap = policy.interval();
      }
      return interval.compareTo(cap) > 0 ? cap : interval;
    }

    private Duration grow(Duration d) {
      long next = (long) (d.toMillis() * policy.multiplier());
      return Duration.ofMillis(Math.min(next, policy.maxInterval().toMillis()));
    }

    private static Duration jitter(Duration d) {
      double f = 0.9 + ThreadLocalRandom.current().nextDouble() * 0.2;
      return Duration.ofMillis((long) (d.toMillis() * f));
    }
  }
}
