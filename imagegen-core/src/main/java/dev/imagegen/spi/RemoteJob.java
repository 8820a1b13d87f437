package dev.imagegen.spi;

import java.util.concurrent.CompletableFuture;

/**
 * A job a provider submitted and now waits on. {@link JobPoller} calls {@link #poll()} until it
 * answers done or failed, and {@link #cancel()} when the attempt is cancelled.
 */
public interface RemoteJob {

  /** The provider's job id. */
  String id();

  /**
   * Reads the job's status once. A failed future with a retryable exception (429, 5xx, reset)
   * keeps the job and slows polling; any other failure ends the wait.
   */
  CompletableFuture<PollResult> poll();

  /**
   * The provider's own handles to the job (status and cancel URLs, an endpoint id), registered
   * with {@link GenerationContext#remoteJobStarted(String, java.util.Map, java.util.function.Supplier)}
   * so that a later process can resume or cancel it; never a credential. Default none.
   */
  default java.util.Map<String, String> handles() {
    return java.util.Map.of();
  }

  /** Sends the remote cancel; completes when the provider acknowledged it (or failed to). */
  CompletableFuture<?> cancel();

  /**
   * Starts watching the job through a channel of the provider's own that says when it changes (a
   * status stream), if the provider has one and it may be used now. {@link JobPoller} calls it
   * once, when the wait starts, and polls at once (within the poll budget) each time
   * {@code changed} runs, as for a webhook delivery: what the channel says is never the result,
   * which still comes from {@link #poll()}. Polling goes on meanwhile at the job's usual
   * intervals, so a channel that fails or stays silent costs latency, never the job. The default
   * watches nothing.
   *
   * @param changed what to run when the provider says the job changed; quick, non-blocking,
   *     thread-safe
   * @return a handle whose {@code close()} stops watching (called when the wait ends, whatever its
   *     outcome; it must not throw), or null when the job is not watched
   */
  default @org.jspecify.annotations.Nullable AutoCloseable watch(Runnable changed) {
    return null;
  }
}
