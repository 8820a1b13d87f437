package dev.imagegen;

import org.jspecify.annotations.Nullable;

/**
 * Thrown when a provider refuses the credentials (usually HTTP 401 or 403). Retrying the same provider does not help and opens its circuit; failing over may help.
 */
public class AuthenticationException extends ImageGenerationException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what happened, without secrets
   * @param providerId the provider involved, or null
   * @param cause the underlying cause, or null
   */
  public AuthenticationException(String message, @Nullable String providerId, @Nullable Throwable cause) {
    super(message, providerId, ErrorKind.AUTHENTICATION, false, true, cause);
  }

  /**
   * Creates the exception without a cause.
   *
   * @param message what happened, without secrets
   * @param providerId the provider involved, or null
   */
  public AuthenticationException(String message, @Nullable String providerId) {
    this(message, providerId, null);
  }
}
