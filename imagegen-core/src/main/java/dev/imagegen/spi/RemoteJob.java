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

  /** Sends the remote cancel; completes when the provider acknowledged it (or failed to). */
  CompletableFuture<?> cancel();
}
