package dev.imagegen;

import org.jspecify.annotations.Nullable;

/**
 * Thrown when the request's deadline passed before an image arrived. The remote job was cancelled
 * where the provider allows it ({@link #remoteCancelled()}). Failing over is pointless once the
 * overall deadline has passed, so the service stops there.
 */
public class GenerationTimeoutException extends ImageGenerationException {
  private static final long serialVersionUID = 1L;

  private final boolean remoteCancelled;

  /**
   * Creates the exception.
   *
   * @param message what happened
   * @param providerId the provider that was running the job, or null
   * @param remoteCancelled whether a cancel was sent for the remote job
   * @param cause the underlying cause, or null
   */
  public GenerationTimeoutException(String message, @Nullable String providerId, boolean remoteCancelled,
      @Nullable Throwable cause) {
    super(message, providerId, ErrorKind.TIMEOUT, false, false, cause);
    this.remoteCancelled = remoteCancelled;
  }

  /** Whether a cancel was sent for the remote job. */
  public boolean remoteCancelled() {
    return remoteCancelled;
  }
}
