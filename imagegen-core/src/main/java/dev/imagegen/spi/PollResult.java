package dev.imagegen.spi;

import dev.imagegen.ImageGenerationException;
import dev.imagegen.ProgressEvent;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/** What one poll of a {@link RemoteJob} found. */
public sealed interface PollResult {

  /**
   * Still queued or running.
   *
   * @param progress what to report to the caller, or null
   * @param nextPollIn when the provider asked to be polled next, or null for the policy's interval
   */
  record Pending(@Nullable ProgressEvent progress, @Nullable Duration nextPollIn) implements PollResult {}

  /**
   * Finished with images.
   *
   * @param result the result, images downloaded
   */
  record Done(ProviderResult result) implements PollResult {}

  /**
   * Finished without images.
   *
   * @param error why
   */
  record Failed(ImageGenerationException error) implements PollResult {}

  /**
   * Still pending.
   *
   * @param progress what to report, or null
   */
  static PollResult pending(@Nullable ProgressEvent progress) {
    return new Pending(progress, null);
  }

  /**
   * Done.
   *
   * @param result the result
   */
  static PollResult done(ProviderResult result) {
    return new Done(result);
  }

  /**
   * Failed.
   *
   * @param error why
   */
  static PollResult failed(ImageGenerationException error) {
    return new Failed(error);
  }
}
