package dev.imagegen.spi;

import dev.imagegen.ProgressEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
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
}
