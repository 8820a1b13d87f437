package dev.imagegen;

import org.jspecify.annotations.Nullable;

/**
 * Thrown when the caller or a shutdown cancelled the generation. The remote job was cancelled where the provider allows it.
 */
public class GenerationCancelledException extends ImageGenerationException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what happened, without secrets
   * @param providerId the provider involved, or null
   * @param cause the underlying cause, or null
   */
  public GenerationCancelledException(String message, @Nullable String providerId, @Nullable Throwable cause) {
    super(message, providerId, ErrorKind.CANCELLED, false, false, cause);
  }

  /**
   * Creates the exception without a cause.
   *
   * @param message what happened, without secrets
   * @param providerId the provider involved, or null
   */
  public GenerationCancelledException(String message, @Nullable String providerId) {
    this(message, providerId, null);
  }
}
