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
  private boolean notBilled;
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
    this(message, providerId, retryMayHelp, outcomeUnknown, true, retryAfter, cause);
  }

  private ProviderUnavailableException(String message, @Nullable String providerId, boolean retryMayHelp,
      boolean outcomeUnknown, boolean failoverMayHelp, @Nullable Duration retryAfter, @Nullable Throwable cause) {
    super(message, providerId, ErrorKind.UNAVAILABLE, retryMayHelp && !outcomeUnknown, failoverMayHelp, cause);
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

  /**
   * A transient failure (connection refused, a 5xx to a read, a malformed answer): a retry on the
   * same provider may help, then failover.
   *
   * @param message what happened
   * @param providerId the provider involved
   * @param cause the underlying cause, or null
   * @return the exception
   */
  public static ProviderUnavailableException transientFailure(String message, @Nullable String providerId,
      @Nullable Throwable cause) {
    return new ProviderUnavailableException(message, providerId, true, false, null, cause);
  }

  /**
   * A failure a retry on the same provider will not fix (a job that failed remotely, a circuit
   * open, an empty result); another provider may succeed.
   *
   * @param message what happened
   * @param providerId the provider involved
   * @param cause the underlying cause, or null
   * @return the exception
   */
  public static ProviderUnavailableException failOver(String message, @Nullable String providerId, @Nullable Throwable cause) {
    return new ProviderUnavailableException(message, providerId, false, false, null, cause);
  }

  /**
   * The provider said it is unavailable for a while (maintenance, a model loading).
   *
   * @param message what happened
   * @param providerId the provider involved
   * @param retryAfter how long it stays unavailable
   * @return the exception
   */
  public static ProviderUnavailableException unavailableFor(String message, @Nullable String providerId, Duration retryAfter) {
    return new ProviderUnavailableException(message, providerId, true, false, retryAfter, null);
  }

  /**
   * A submit reached the wire and its answer was lost or did not prove that nothing was created
   * (a reset or timeout after sending, a 5xx to a POST): a paid job may exist. Never retried
   * blindly; the provider is asked to reconcile.
   *
   * @param message what happened
   * @param providerId the provider involved
   * @param cause the underlying cause, or null
   * @return the exception
   */
  public static ProviderUnavailableException outcomeUnknown(String message, @Nullable String providerId,
      @Nullable Throwable cause) {
    return new ProviderUnavailableException(message, providerId, false, true, null, cause);
  }

  /**
   * A submit whose outcome is unknown and that the provider could not reconcile: the job may exist
   * and be billed. Whether another provider may be tried is the operator's choice
   * ({@code failoverOnUnknownOutcome}), since that may mean paying twice.
   *
   * @param message what happened, saying the job may be billed
   * @param providerId the provider involved
   * @param failoverAllowed whether failing over is allowed
   * @param cause the lost submit's failure
   * @return the exception
   */
  public static ProviderUnavailableException mayBeBilled(String message, @Nullable String providerId, boolean failoverAllowed,
      @Nullable Throwable cause) {
    return new ProviderUnavailableException(message, providerId, false, true, failoverAllowed, null, cause);
  }

  /**
   * A remote job the provider reports as never started and not billed (Replicate's
   * {@code aborted}: its Cancel-After passed while it was queued); another provider may be tried
   * and the budget reservation is released.
   *
   * @param message what happened
   * @param providerId the provider involved
   * @return the exception
   */
  public static ProviderUnavailableException notStarted(String message, @Nullable String providerId) {
    ProviderUnavailableException e = new ProviderUnavailableException(message, providerId, false, false, null, null);
    e.notBilled = true;
    return e;
  }

  /** Whether the provider reported that the job never started and is not billed. */
  public boolean notBilled() {
    return notBilled;
  }

  /** Whether a submit may have created a remote (possibly billed) job whose answer was lost. */
  public boolean outcomeUnknown() {
    return outcomeUnknown;
  }

  /** How long the provider said it stays unavailable (a model loading, maintenance), or null. */
  @Override
  public @Nullable Duration retryAfter() {
    return retryAfter;
  }

  /**
   * A builder naming each property, for the cases the factories do not cover; everything not set
   * is off (not retried, outcome known, failover allowed).
   *
   * @param message what happened
   * @param providerId the provider involved
   * @return the builder
   */
  public static Builder builder(String message, @Nullable String providerId) {
    return new Builder(message, providerId);
  }

  /** Builds a {@link ProviderUnavailableException} property by property. */
  public static final class Builder {
    private final String message;
    private final @Nullable String providerId;
    private boolean retryable;
    private boolean outcomeUnknown;
    private boolean failoverAllowed = true;
    private boolean notBilled;
    private @Nullable Duration retryAfter;
    private @Nullable Throwable cause;

    private Builder(String message, @Nullable String providerId) {
      this.message = message;
      this.providerId = providerId;
    }

    /**
     * Whether calling the same provider again may help.
     *
     * @param value the value
     * @return this builder
     */
    public Builder retryable(boolean value) {
      this.retryable = value;
      return this;
    }

    /**
     * Whether a submit may have created a remote job whose answer was lost.
     *
     * @param value the value
     * @return this builder
     */
    public Builder outcomeUnknown(boolean value) {
      this.outcomeUnknown = value;
      return this;
    }

    /**
     * Whether another provider may be tried (default true).
     *
     * @param value the value
     * @return this builder
     */
    public Builder failoverAllowed(boolean value) {
      this.failoverAllowed = value;
      return this;
    }

    /**
     * Marks the job as never started and not billed.
     *
     * @return this builder
     */
    public Builder notBilled() {
      this.notBilled = true;
      return this;
    }

    /**
     * How long the provider said it stays unavailable.
     *
     * @param value the delay, or null
     * @return this builder
     */
    public Builder retryAfter(@Nullable Duration value) {
      this.retryAfter = value;
      return this;
    }

    /**
     * The underlying cause.
     *
     * @param value the cause, or null
     * @return this builder
     */
    public Builder cause(@Nullable Throwable value) {
      this.cause = value;
      return this;
    }

    /** Builds the exception. */
    public ProviderUnavailableException build() {
      ProviderUnavailableException e = new ProviderUnavailableException(message, providerId, retryable, outcomeUnknown,
          failoverAllowed, retryAfter, cause);
      e.notBilled = notBilled;
      return e;
    }
  }
}
