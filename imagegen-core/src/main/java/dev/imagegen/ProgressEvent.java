package dev.imagegen;

import java.time.Duration;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * A progress report from a running generation. Fields a provider does not report are null.
 *
 * @param provider the provider running the job
 * @param stage where the job is
 * @param queuePosition position in the provider's queue, or null
 * @param percent completion from 0 to 100, or null
 * @param eta the provider's estimate of the remaining time, or null
 * @param message a short human-readable status, or null
 * @param at when the event was produced
 */
public record ProgressEvent(
    String provider,
    Stage stage,
    @Nullable Integer queuePosition,
    @Nullable Double percent,
    @Nullable Duration eta,
    @Nullable String message,
    Instant at) {

  /** Where a job is. */
  public enum Stage {
    /** Sent, not yet acknowledged. */
    SUBMITTED,
    /** Waiting in the provider's queue. */
    QUEUED,
    /** Being generated. */
    RUNNING,
    /** Fetching the result images. */
    DOWNLOADING,
    /** Finished. */
    DONE
  }

  /**
   * A queued event.
   *
   * @param provider provider id
   * @param position queue position or null
   * @param eta estimated wait or null
   */
  public static ProgressEvent queued(String provider, @Nullable Integer position, @Nullable Duration eta) {
    return new ProgressEvent(provider, Stage.QUEUED, position, null, eta, null, Instant.now());
  }

  /**
   * A running event.
   *
   * @param provider provider id
   * @param percent completion 0..100 or null
   * @param eta estimated remaining time or null
   */
  public static ProgressEvent running(String provider, @Nullable Double percent, @Nullable Duration eta) {
    return new ProgressEvent(provider, Stage.RUNNING, null, percent, eta, null, Instant.now());
  }

  /**
   * An event for any stage.
   *
   * @param provider provider id
   * @param stage the stage
   */
  public static ProgressEvent of(String provider, Stage stage) {
    return new ProgressEvent(provider, stage, null, stage == Stage.DONE ? 100.0 : null, null, null, Instant.now());
  }
}
