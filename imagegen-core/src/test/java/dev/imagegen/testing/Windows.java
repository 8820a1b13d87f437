package dev.imagegen.testing;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;

/** Counting events in time windows, for tests that check a rate (polls a second, calls a minute). */
public final class Windows {
  private Windows() {}

  /**
   * The most events that fall in any window of the given length.
   *
   * @param times the events' times (any order), e.g. {@code System.nanoTime()} values
   * @param window the window's length, in the same unit
   * @return the largest count of events within {@code window} of one another
   */
  public static int mostInAnyWindow(Collection<Long> times, long window) {
    List<Long> sorted = new ArrayList<>(times);
    Collections.sort(sorted);
    int best = 0;
    int j = 0;
    for (int i = 0; i < sorted.size(); i++) {
      while (sorted.get(i) - sorted.get(j) >= window) {
        j++;
      }
      best = Math.max(best, i - j + 1);
    }
    return best;
  }
}
