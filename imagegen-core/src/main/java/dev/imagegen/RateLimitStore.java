package dev.imagegen;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletionStage;

/**
 * Where client-side rate limits are kept when several instances of an application share them.
 * Without a store each service limits a provider's {@code requests-per-minute} on its own, so
 * three instances send up to three times the limit; with a shared store (a Redis script) the limit
 * holds for all of them together.
 *
 * <p>The engine asks for one permit before each call to a provider whose configuration sets
 * {@code requests-per-minute}, under the key {@code provider:<id>:requests}, with a limit of that
 * many per minute. A granted permit may come with a wait: the engine waits it on its scheduler (no
 * thread sleeps), then calls. A permit that could only be had later than the generation's deadline
 * is refused: the call fails with a {@link RateLimitedException} ({@link ErrorKind#RATE_LIMITED})
 * whose {@code retryAfter} is the wait, as with the local limiter.
 *
 * <p>A provider's status polls, held in each service to its {@code polls-per-second} budget, also
 * take a permit each when their turn comes, under {@code provider:<id>:polls} with a limit of that
 * many per second and a longest wait of one second; a refused poll goes back to its service's own
 * budget and asks again after the store's wait. So the instances sharing a store poll a provider
 * within one budget together.
 *
 * <p><b>When the store fails.</b> A stage that completes exceptionally, a null answer, an
 * exception thrown by {@link #acquire}, or no answer within {@link #timeout()}: the engine takes
 * the permit from its own local limiter for that call instead (availability over exactness: while
 * the store is down, each instance keeps the limit on its own). It logs one WARN when an outage
 * starts and one INFO when the store answers again; during an outage it asks the store again at
 * most every 500 ms, and the calls in between use the local limiter without asking.
 *
 * <p>Implementations must be thread-safe and must not block the calling thread: the answer comes
 * through the returned stage.
 */
public interface RateLimitStore {

  /**
   * Takes one permit for {@code key}, under a limit of {@code limit} permits per {@code window},
   * when it can be had within {@code maxWait}. Whatever the callers and instances sharing the
   * store, no more than {@code limit} granted permits may fall in any period of {@code window}
   * (the permit's time is when it was asked for plus its wait). A store may space permits evenly
   * ({@code window / limit} apart, as the local limiter does) or allow bursts within that bound.
   *
   * @param key what is limited, e.g. {@code provider:fal:requests}
   * @param limit the permits per window, at least 1
   * @param window the window, positive
   * @param maxWait the longest wait the caller accepts; a permit that would come later is refused
   *     and nothing is taken
   * @return the decision; it completes exceptionally (or not in time) when the store cannot answer
   */
  CompletionStage<Decision> acquire(String key, int limit, Duration window, Duration maxWait);

  /**
   * How long the engine waits for an answer from {@link #acquire} before it uses its local limiter
   * for that call (default 2 s).
   *
   * @return a positive duration
   */
  default Duration timeout() {
    return Duration.ofSeconds(2);
  }

  /**
   * A store's answer.
   *
   * @param granted whether a permit was taken
   * @param delay when granted, how long the caller waits before it uses the permit (zero: at once);
   *     when refused, how long until the next permit would be free
   */
  record Decision(boolean granted, Duration delay) {
    /**
     * Checks the delay.
     *
     * @param granted whether a permit was taken
     * @param delay the delay, zero or more
     */
    public Decision {
      Objects.requireNonNull(delay, "delay");
      if (delay.isNegative()) {
        throw new IllegalArgumentException("a rate-limit delay cannot be negative, was " + delay);
      }
    }

    /**
     * A permit was taken; the caller uses it after {@code delay}.
     *
     * @param delay zero for at once
     * @return the decision
     */
    public static Decision granted(Duration delay) {
      return new Decision(true, delay);
    }

    /**
     * No permit within the caller's longest wait; nothing was taken.
     *
     * @param nextIn how long until the next permit would be free
     * @return the decision
     */
    public static Decision refused(Duration nextIn) {
      return new Decision(false, nextIn);
    }
  }
}
