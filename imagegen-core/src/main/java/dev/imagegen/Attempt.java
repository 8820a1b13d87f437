package dev.imagegen;

import java.time.Duration;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * One provider's part in a generation: tried and succeeded, tried and failed, or skipped (with
 * the reason). Responses and {@link AllProvidersFailedException} list every attempt in order.
 *
 * @param provider the provider id
 * @param outcome what happened
 * @param errorKind the failure's kind, null on success
 * @param message the failure or skip reason, null on success
 * @param duration time spent on this provider, retries included
 * @param calls calls made to the provider in this attempt (1 plus retries; 0 when skipped)
 * @param remoteJobId the provider's job id, when one was created and known
 * @param remoteCancelled whether a cancel was sent for the remote job
 * @param mayBeBilled whether a remote job may exist and be billed although its outcome was lost, or
 *     the provider charged for the call that failed ({@link ImageGenerationException#charged()})
 * @param cause the failure, null on success or skip
 */
public record Attempt(
    String provider,
    Outcome outcome,
    @Nullable ErrorKind errorKind,
    @Nullable String message,
    Duration duration,
    int calls,
    @Nullable String remoteJobId,
    boolean remoteCancelled,
    boolean mayBeBilled,
    @Nullable Throwable cause) {

  /** What happened in an attempt. */
  public enum Outcome {
    /** The provider produced the images. */
    SUCCEEDED,
    /** The provider was called and failed. */
    FAILED,
    /** The provider was not called: capability, open circuit, cool-down or budget. */
    SKIPPED,
    /** The caller, the deadline or a shutdown cancelled the attempt. */
    CANCELLED
  }

  /** A one-line summary: provider, outcome, kind and reason. */
  public String summary() {
    StringBuilder sb = new StringBuilder(provider).append(' ').append(outcome.name().toLowerCase(Locale.ROOT));
    if (errorKind != null) {
      sb.append(" (").append(errorKind).append(')');
    }
    if (message != null) {
      sb.append(": ").append(message);
    }
    if (mayBeBilled) {
      sb.append(" [may be billed]");
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    return summary();
  }
}
