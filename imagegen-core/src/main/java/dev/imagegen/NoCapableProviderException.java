package dev.imagegen;

import org.jspecify.annotations.Nullable;

/**
 * Thrown when no configured provider can serve the request; the message lists why each provider was skipped (size, model, missing img2img or mask support, open circuit...).
 */
public class NoCapableProviderException extends ImageGenerationException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what happened, without secrets
   * @param providerId the provider involved, or null
   * @param cause the underlying cause, or null
   */
  public NoCapableProviderException(String message, @Nullable String providerId, @Nullable Throwable cause) {
    super(message, providerId, ErrorKind.NO_CAPABLE_PROVIDER, false, false, cause);
  }

  /**
   * Creates the exception without a cause.
   *
   * @param message what happened, without secrets
   * @param providerId the provider involved, or null
   */
  public NoCapableProviderException(String message, @Nullable String providerId) {
    this(message, providerId, null);
  }
}
