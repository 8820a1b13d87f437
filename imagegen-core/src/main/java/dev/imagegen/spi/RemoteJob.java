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
}
