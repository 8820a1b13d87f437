package dev.imagegen;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Thrown when a provider throttles the call (HTTP 429). Carries the delay the provider asked for
 * ({@code Retry-After} in seconds or as an HTTP date, or a wait stated in the body), when known.
 * A short delay is retried on the same provider; a long one fails over at once and cools the
 * provider down for that long.
 */
public class RateLimitedException extends ImageGenerationException {
  private static final long serialVersionUID = 1L;

  private final @Nullable Duration retryAfter;

  /**
   * Creates the exception.
   *
   * @param message what happened
   * @param providerId the provider that throttled the call
   * @param retryAfter the delay the provider asked for, or null when it gave none
   * @param cause the underlying cause, or null
   */
  public RateLimitedException(String message, @Nullable String providerId, @Nullable Duration retryAfter,
      @Nullable Throwable cause) {
    super(message + (retryAfter == null ? "" : " (retry after " + retryAfter.toMillis() / 1000.0 + " s)"),
        providerId, ErrorKind.RATE_LIMITED, true, true, cause);
    this.retryAfter = retryAfter;
  }

  /** The delay the provider asked for, or null when it gave none. */
  @Override
  public @Nullable Duration retryAfter() {
    return retryAfter;
  }
}
