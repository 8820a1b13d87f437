package dev.imagegen.spi;

import java.time.Duration;

/**
 * How often {@link JobPoller} polls a remote job: the first poll after {@code initialDelay}, then
 * every {@code interval} growing by {@code multiplier} up to {@code maxInterval}, with ±10%
 * jitter, never faster than {@code floor} (the provider's documented limit, which also bounds a
 * {@code nextPollIn} the provider asks for). After {@code maxConsecutiveErrors} failed polls in a
 * row the wait fails.
 *
 * @param initialDelay delay before the first poll
 * @param interval delay between polls at first
 * @param maxInterval largest delay between polls
 * @param multiplier growth of the delay after each poll (1 = constant)
 * @param floor smallest delay ever used
 * @param maxConsecutiveErrors failed polls in a row before giving up
 */
public record PollPolicy(Duration initialDelay, Duration interval, Duration maxInterval, double multiplier, Duration floor,
    int maxConsecutiveErrors) {

  /**
   * A constant interval with the given floor.
   *
   * @param interval delay between polls
   * @param floor smallest delay ever used
   */
  public static PollPolicy every(Duration interval, Duration floor) {
    return new PollPolicy(interval, interval, interval, 1.0, floor, 8);
  }

  /**
   * Reads {@code poll-interval} (and {@code poll-max-interval}) from the configuration, never
   * going below this policy's floor.
   *
   * @param config the provider's configuration
   * @return the adjusted policy
   */
  public PollPolicy withConfig(ProviderConfig config) {
    Duration i = max(config.duration("poll-interval", interval), floor);
    Duration m = max(config.duration("poll-max-interval", maxInterval.compareTo(i) < 0 ? i : maxInterval), i);
    Duration first = config.get("poll-interval").isPresent() ? i : initialDelay;
    return new PollPolicy(first, i, m, multiplier, floor, maxConsecutiveErrors);
  }

  private static Duration max(Duration a, Duration b) {
    return a.compareTo(b) >= 0 ? a : b;
  }
}
