package dev.imagegen;

import org.jspecify.annotations.Nullable;

/**
 * Thrown when the account is out of credit or quota (HTTP 402, Horde's 403 `KudosUpfront`, Hugging Face's monthly quota). No retry; failing over may help.
 */
public class InsufficientCreditsException extends ImageGenerationException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what happened, without secrets
   * @param providerId the provider involved, or null
   * @param cause the underlying cause, or null
   */
  public InsufficientCreditsException(String message, @Nullable String providerId, @Nullable Throwable cause) {
    super(message, providerId, ErrorKind.INSUFFICIENT_CREDITS, false, true, cause);
  }

  /**
   * Creates the exception without a cause.
   *
   * @param message what happened, without secrets
   * @param providerId the provider involved, or null
   */
  public InsufficientCreditsException(String message, @Nullable String providerId) {
    this(message, providerId, null);
  }
}
