package dev.imagegen;

import org.jspecify.annotations.Nullable;

/**
 * Thrown when a provider refuses the prompt or censors every output image. Not retried; not failed over by default (another provider would likely refuse too, and may charge). See {@code ImageGenerationService.Builder#failoverOnContentPolicy}.
 */
public class ContentPolicyException extends ImageGenerationException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what happened, without secrets
   * @param providerId the provider involved, or null
   * @param cause the underlying cause, or null
   */
  public ContentPolicyException(String message, @Nullable String providerId, @Nullable Throwable cause) {
    super(message, providerId, ErrorKind.CONTENT_POLICY, false, false, cause);
  }

  /**
   * Creates the exception without a cause.
   *
   * @param message what happened, without secrets
   * @param providerId the provider involved, or null
   */
  public ContentPolicyException(String message, @Nullable String providerId) {
    this(message, providerId, null);
  }
}
