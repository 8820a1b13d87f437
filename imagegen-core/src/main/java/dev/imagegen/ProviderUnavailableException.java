package dev.imagegen;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Thrown when a provider cannot serve the call now: connection refused or reset, HTTP 408/5xx,
 * maintenance, a malformed or empty body, a model still loading, a remote job that failed.
 * Usually retried on the same provider within its budget, then failed over.
 *
 * <p>When {@link #outcomeUnknown()} is true the request body reached the wire and the answer was
 * lost: a paid job may exist. imagegen never resubmits it blindly to the same provider; it asks
 * the provider to reconcile first and reports that the attempt may be billed.
 */
public class ProviderUnavailableException extends ImageGenerationException {
  private static final long serialVersionUID = 1L;

  private final boolean outcomeUnknown;
  private final @Nullable Duration retryAfter;

  /**
   * Creates the exception.
   *
   * @param message what happened
   * @param providerId the provider involved
   * @param retryMayHelp whether calling the same provider again may help
   * @param outcomeUnknown whether a submit may have created a remote job whose answer was lost
   * @param retryAfter how long the provider said it stays unavailable, or null
   * @param cause the underlying cause, or null
   */
  public ProviderUnavailableException(String message, @Nullable String providerId, boolean retryMayHelp,
      boolean outcomeUnknown, @Nullable Duration retryAfter, @Nullable Throwable cause) {
    super(message, providerId, ErrorKind.UNAVAILABLE, retryMayHelp && !outcomeUnknown, true, cause);
    this.outcomeUnknown = outcomeUnknown;
    this.retryAfter = retryAfter;
  }

  /**
   * A transient failure that a retry may fix.
   *
   * @param message what happened
   * @param providerId the provider involved
   * @param cause the underlying cause, or null
   */
  public ProviderUnavailableException(String message, @Nullable String providerId, @Nullable Throwable cause) {
    this(message, providerId, true, false, null, cause);
  }

  /** Whether a submit may have created a remote (possibly billed) job whose answer was lost. */
  public boolean outcomeUnknown() {
    return outcomeUnknown;
  }

  /** How long the provider said it stays unavailable (a model loading, maintenance), or null. */
  public @Nullable Duration retryAfter() {
    return retryAfter;
  }
}
