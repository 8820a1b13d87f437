package dev.imagegen;

import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * A generation running in the background, from {@code ImageGenerationService.submit}: its id,
 * status, progress, result, and a way to cancel it (which cancels the remote job too). A job in
 * flight holds no thread while it waits. Thread-safe.
 */
public interface GenerationJob {

  /** The job's status. */
  enum Status {
    /** Accepted, no provider called yet. */
    PENDING,
    /** A provider is working on it. */
    RUNNING,
    /** Finished with images. */
    SUCCEEDED,
    /** Finished without images. */
    FAILED,
    /** Cancelled by the caller or a shutdown. */
    CANCELLED
  }

  /** The job id (also the response id). */
  String id();

  /** The current status. */
  Status status();

  /** The latest progress event, or null before the first. */
  @Nullable ProgressEvent latestProgress();

  /**
   * Adds a progress listener. It runs on imagegen's callback threads (never its HTTP threads), one
   * event at a time, and gets the events in the order they became {@link #latestProgress()}: it
   * never sees an older event after a newer one, nor an event twice. A listener added after the job
   * reported progress gets the latest event at once, then every later one (so one added after the
   * job succeeded gets its {@link ProgressEvent.Stage#DONE DONE} event); earlier events are not
   * replayed. Nothing follows {@code DONE}. With listeners, the {@link #result()} future completes
   * after they have been given the {@code DONE} event, unless one holds its thread for longer than a
   * short grace (200 ms): then the result goes out first. A listener that blocks delays only this
   * job's later events; one that throws, even an {@link Error}, is logged once and the job goes on.
   *
   * @param listener the listener
   * @return this job
   */
  GenerationJob onProgress(Consumer<ProgressEvent> listener);

  /** The result; cancelling it cancels the job. */
  CompletableFuture<ImageGenerationResponse> result();

  /**
   * Cancels the job and its remote job.
   *
   * @return true if the job was still running
   */
  boolean cancel();
}
