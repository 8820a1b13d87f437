package dev.imagegen;

import dev.imagegen.spi.ProviderResult;
import org.jspecify.annotations.Nullable;

/**
 * A job submitted before a crash that {@link ImageGenerationService#recover()} resumed to its end:
 * handed to the listener of {@link ImageGenerationService.Builder#onRecovered}. Exactly one of
 * {@code result} and {@code error} is set.
 *
 * @param entry the journal entry the job was found by
 * @param result the provider's result (its images), or null when the job failed
 * @param error why the job failed, or null when it succeeded
 */
public record RecoveredJob(JobJournal.Entry entry, @Nullable ProviderResult result, @Nullable Throwable error) {

  /** Whether the job ended with images. */
  public boolean succeeded() {
    return result != null;
  }
}
