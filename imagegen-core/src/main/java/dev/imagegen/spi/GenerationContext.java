package dev.imagegen.spi;

import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ProgressEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * What the service lends a provider for one generation attempt: the deadline, cancellation, a
 * progress sink, and the shared support of {@link ProviderContext} (its {@link #http()} is bound
 * to this attempt: calls time out at the deadline and are aborted on cancellation).
 *
 * <p>Created by the service per attempt; thread-safe.
 */
public interface GenerationContext extends ProviderContext {

  /** imagegen's id for this generation; a provider may send it as an idempotency key or client id. */
  String generationId();

  /** When the whole generation must be finished. */
  Instant deadline();

  /** Time left until the deadline, never negative. */
  default Duration remaining() {
    Duration d = Duration.between(Instant.now(), deadline());
    return d.isNegative() ? Duration.ZERO : d;
  }

  /** Whether the caller, the deadline or a shutdown cancelled this attempt. */
  boolean isCancelled();

  /**
   * Runs an action when this attempt is cancelled (at once if it already is).
   *
   * @param action what to do, quick and non-blocking
   */
  void onCancel(Runnable action);

  /**
   * Runs an action when this attempt is cancelled before {@code until} completes; once it has
   * completed the action is forgotten. For the hooks of work that ends on its own (one HTTP call,
   * one wait), so that a job polled thousands of times holds no hook, and nothing the hook reaches,
   * for the calls already done. The default keeps the action until the cancel, as
   * {@link #onCancel(Runnable)}.
   *
   * @param action what to do, quick and non-blocking
   * @param until the work the action belongs to
   */
  default void onCancel(Runnable action, CompletableFuture<?> until) {
    onCancel(action);
  }

  /**
   * Schedules one status poll of a remote job within the provider's poll budget: at
   * {@code delay} from now, or later when the provider's other jobs in this service have taken the
   * budget's room until then ({@link PollPolicy#pollsPerSecond()}). {@link JobPoller} calls it for
   * every poll; a provider polling by its own loop should too. The default schedules at
   * {@code delay} on {@link #scheduler()}, without a budget.
   *
   * @param policy the job's poll policy, whose {@code pollsPerSecond} is the provider's budget
   * @param delay the earliest the poll is wanted
   * @param poll the poll
   * @return the scheduled poll
   */
  default ScheduledFuture<?> schedulePoll(PollPolicy policy, Duration delay, Runnable poll) {
    return scheduler().schedule(poll, delay.toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * Schedules the status poll a verified webhook delivery asked for, within the provider's poll
   * budget like {@link #schedulePoll}, but in its own share of it: for a provider that sends
   * webhooks, three quarters of {@code pollsPerSecond} are kept for these polls and the safety-net
   * polls get the rest, so that a delivery is acted on at once even while thousands of jobs wait on
   * their safety-net poll. {@link JobPoller} calls it for a push. The default is
   * {@link #schedulePoll}.
   *
   * @param policy the job's poll policy
   * @param delay the earliest the poll is wanted
   * @param poll the poll
   * @return the scheduled poll
   */
  default ScheduledFuture<?> schedulePushPoll(PollPolicy policy, Duration delay, Runnable poll) {
    return schedulePoll(policy, delay, poll);
  }

  /**
   * Registers what to do when a verified webhook delivery names this attempt's remote job
   * ({@link WebhookVerifier}): the service's receiver runs {@code nudge} (quick, non-blocking) for
   * each accepted delivery, until {@code until} completes or the attempt is cancelled, after
   * which the registration is gone. {@link JobPoller} registers its poll loop's "poll now". The
   * default, for a context without a webhook receiver, does nothing.
   *
   * @param remoteJobId the provider's job id, as its deliveries name it
   * @param nudge what to run for a delivery
   * @param until the wait the registration belongs to
   */
  default void onPush(String remoteJobId, Runnable nudge, CompletableFuture<?> until) {}

  /**
   * Reports progress to the caller's listeners.
   *
   * @param event the event
   */
  void progress(ProgressEvent event);

  /**
   * Tells the service that a remote job exists, so that cancelling the attempt (caller, deadline,
   * shutdown) cancels it, the attempt reports its id, and the job journal records it. Call it as
   * soon as the provider has acknowledged the job.
   *
   * @param remoteJobId the provider's job id
   * @param cancel sends the remote cancel; the service calls it at most once
   */
  void remoteJobStarted(String remoteJobId, Supplier<CompletableFuture<?>> cancel);

  /**
   * Like {@link #remoteJobStarted(String, Supplier)}, with the provider's own handles to the job
   * (status and cancel URLs, an endpoint id), which the journal keeps so that a process started
   * after a crash can {@link ImageProvider#resume resume} or {@link ImageProvider#cancel(JobHandle,
   * ProviderContext) cancel} the job. A handle must never hold a credential: one that holds a
   * known secret, or a URL with user info, is left out of the journal. The default, for a context
   * that keeps no journal, drops the handles and calls the two-argument form.
   *
   * @param remoteJobId the provider's job id
   * @param handles the provider's handles to the job, by name
   * @param cancel sends the remote cancel; the service calls it at most once
   */
  default void remoteJobStarted(String remoteJobId, Map<String, String> handles, Supplier<CompletableFuture<?>> cancel) {
    remoteJobStarted(remoteJobId, cancel);
  }

  /**
   * Cancels the remote job registered with {@link #remoteJobStarted} through the service: the
   * cancel is sent at most once, retried when it fails, and {@code close()} waits for it. Use it
   * when the provider itself gives up on a job (its polling failed for good) rather than calling
   * the cancel directly. Does nothing when no remote job is registered or it was cancelled already.
   */
  default void cancelRemoteJob() {}

  /**
   * Waits for a remote job by polling it, holding no thread in between: see {@link JobPoller}.
   *
   * @param job the job
   * @param policy how often to poll
   * @return the result, or a failure
   */
  default CompletableFuture<ProviderResult> await(RemoteJob job, PollPolicy policy) {
    return JobPoller.await(this, job, policy);
  }

  /**
   * A wait that holds no thread: completes after {@code delay} on the scheduler, or fails with a
   * {@link GenerationCancelledException} as soon as this attempt is cancelled (a deadline, the
   * caller, close). For a provider's own waits: a model loading, a settling delay before a lookup.
   *
   * @param delay how long to wait
   * @return a future completed after the delay
   */
  default CompletableFuture<Void> delay(Duration delay) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    if (isCancelled()) {
      done.completeExceptionally(new GenerationCancelledException("cancelled before the wait", providerId()));
      return done;
    }
    ScheduledFuture<?> timer = scheduler().schedule(() -> done.complete(null), Math.max(0, delay.toMillis()),
        TimeUnit.MILLISECONDS);
    onCancel(() -> {
      timer.cancel(false);
      done.completeExceptionally(new GenerationCancelledException("cancelled during a wait", providerId()));
    }, done);
    return done;
  }
}
