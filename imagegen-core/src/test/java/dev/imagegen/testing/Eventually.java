package dev.imagegen.testing;

import java.time.Duration;

/** "Eventually" for tests: retries an assertion until it holds or the time is up, parking between tries. */
public final class Eventually {
  private Eventually() {}

  /**
   * Runs {@code assertion} until it passes; rethrows its last failure once {@code within} has passed.
   *
   * @param within how long to keep trying
   * @param assertion the check
   */
  public static void eventually(Duration within, Runnable assertion) throws InterruptedException {
    long end = System.nanoTime() + within.toNanos();
    while (true) {
      try {
        assertion.run();
        return;
      } catch (AssertionError e) {
        if (System.nanoTime() > end) {
          throw e;
        }
        Thread.sleep(10);
      }
    }
  }
}
