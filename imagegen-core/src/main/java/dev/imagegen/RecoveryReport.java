package dev.imagegen;

import java.util.List;

/**
 * What {@link ImageGenerationService#recover()} did with each open entry of the job journal.
 *
 * @param items one per entry looked at, in the journal's order
 */
public record RecoveryReport(List<Item> items) {

  /** Copies the items. */
  public RecoveryReport {
    items = List.copyOf(items);
  }

  /** What was done with one entry. */
  public enum Action {
    /** Resumed and polled to its end with images; delivered to the recovery listener and the cache. */
    RESUMED,
    /** Resumed, and the job failed (or its deadline passed while it was polled); delivered to the listener. */
    RESUME_FAILED,
    /** Cancelled by its handles, and its entry removed. */
    CANCELLED,
    /** The cancel by handles failed; the entry stays for a later recovery. */
    CANCEL_FAILED,
    /** Left as it is (another instance's live lease, a provider not configured here, a job in flight here). */
    LEFT
  }

  /**
   * One entry's fate.
   *
   * @param entry the entry
   * @param action what was done
   * @param reason why, for a person
   */
  public record Item(JobJournal.Entry entry, Action action, String reason) {}

  /**
   * The items with one action.
   *
   * @param action the action
   * @return those items
   */
  public List<Item> with(Action action) {
    return items.stream().filter(i -> i.action() == action).toList();
  }
}
