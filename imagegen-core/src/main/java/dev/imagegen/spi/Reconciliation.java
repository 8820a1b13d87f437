package dev.imagegen.spi;

import org.jspecify.annotations.Nullable;

/**
 * What a provider found when asked to reconcile a submit whose outcome was lost
 * ({@link ImageProvider#reconcile}).
 *
 * @param state what was found
 * @param result the finished job's result, when {@code state} is {@link State#FOUND}
 * @param remoteJobId the job found, if any
 */
public record Reconciliation(State state, @Nullable ProviderResult result, @Nullable String remoteJobId) {

  /** What reconciliation found. */
  public enum State {
    /** The job was found and finished; its result is used, nothing is resubmitted. */
    FOUND,
    /** The provider confirms no job was created; resubmitting is safe. */
    NOT_SUBMITTED,
    /** A job was found and cancelled; it will not be billed (or only for work done). */
    CANCELLED,
    /** Nothing can be said: the attempt is reported as possibly billed, and not resubmitted here. */
    UNKNOWN
  }

  /** The provider cannot reconcile. */
  public static Reconciliation unknown() {
    return new Reconciliation(State.UNKNOWN, null, null);
  }
}
