package dev.imagegen;

import org.jspecify.annotations.Nullable;

/**
 * Root of imagegen's unchecked exceptions. Each one names the provider it came from (when one was
 * involved), its {@link ErrorKind}, and whether retrying the same provider or failing over to
 * another one may help. Messages never contain credentials.
 */
public class ImageGenerationException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final @Nullable String providerId;
  private final ErrorKind kind;
  private final boolean retryMayHelp;
  private final boolean failoverMayHelp;
  private transient volatile @Nullable Cost charged;

  /**
   * Creates an exception.
   *
   * @param message what happened, without secrets
   * @param providerId the provider involved, or null when none was
   * @param kind the kind of failure
   * @param retryMayHelp whether another call to the same provider may succeed
   * @param failoverMayHelp whether another provider may succeed
   * @param cause the underlying cause, or null
   */
  public ImageGenerationException(String message, @Nullable String providerId, ErrorKind kind,
      boolean retryMayHelp, boolean failoverMayHelp, @Nullable Throwable cause) {
    super(prefix(providerId, message), cause);
    this.providerId = providerId;
    this.kind = kind;
    this.retryMayHelp = retryMayHelp;
    this.failoverMayHelp = failoverMayHelp;
  }

  private static String prefix(@Nullable String providerId, String message) {
    if (providerId == null || message.startsWith(providerId + ":")) {
      return message;
    }
    return providerId + ": " + message;
  }

  /** The provider that failed, or null when the failure did not come from one. */
  public @Nullable String providerId() {
    return providerId;
  }

  /** The kind of failure. */
  public ErrorKind kind() {
    return kind;
  }

  /** Whether calling the same provider again (after a delay) may succeed. */
  public boolean retryMayHelp() {
    return retryMayHelp;
  }

  /**
   * How long the provider asked the caller to wait before calling again ({@code Retry-After}, a
   * model's loading time), or null when it said nothing.
   */
  public java.time.@Nullable Duration retryAfter() {
    return null;
  }

  /**
   * What the provider charged for the call that failed, or null when it charged nothing or is not
   * known to have: a result it generated and then withheld (Stability's {@code CONTENT_FILTERED},
   * a blurred image billed as a success), or the calls an attempt had already paid for before one
   * failed. The engine settles the budget with it and reports the attempt as billed.
   */
  public @Nullable Cost charged() {
    return charged;
  }

  /**
   * Records what the provider charged for the failed call (see {@link #charged()}); for providers.
   *
   * @param cost the cost, usually {@link Cost#providerReported} or an estimate from the price list
   */
  public void setCharged(Cost cost) {
    this.charged = java.util.Objects.requireNonNull(cost, "cost");
  }

  /** Whether another provider may succeed where this one failed. */
  public boolean failoverMayHelp() {
    return failoverMayHelp;
  }
}
