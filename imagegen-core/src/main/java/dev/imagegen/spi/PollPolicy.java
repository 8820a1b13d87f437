package dev.imagegen.spi;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * How often {@link JobPoller} polls a remote job: the first poll after {@code initialDelay}, then
 * every {@code interval} growing by {@code multiplier} up to {@code maxInterval}, with ±10%
 * jitter, never faster than {@code floor} (the provider's documented limit, which also bounds a
 * {@code nextPollIn} the provider asks for). After {@code maxConsecutiveErrors} failed polls in a
 * row the wait fails.
 *
 * <p>All jobs of one provider in a service share a poll budget: at most {@code pollsPerSecond}
 * status polls per second in total, whatever the number of jobs waiting (the operator's
 * {@code polls-per-second} setting wins; 0 means none). A job's poll is then due at the later of
 * its own time and the first moment the budget has room, oldest request first, so with many jobs
 * pending each is polled less often instead of the provider's limit being exceeded.
 *
 * @param initialDelay delay before the first poll
 * @param interval delay between polls at first
 * @param maxInterval largest delay between polls
 * @param multiplier growth of the delay after each poll (1 = constant)
 * @param floor smallest delay ever used
 * @param maxConsecutiveErrors failed polls in a row before giving up
 * @param pollsPerSecond the provider's poll budget: most status polls per second for all its jobs
 *     in the service ({@value #DEFAULT_POLLS_PER_SECOND} unless the provider states its own; 0: none)
 */
public record PollPolicy(Duration initialDelay, Duration interval, Duration maxInterval, double multiplier, Duration floor,
    int maxConsecutiveErrors, int pollsPerSecond) {

  /** The poll budget of a provider that states none: 20 status polls per second for all its jobs. */
  public static final int DEFAULT_POLLS_PER_SECOND = 20;

  /** Validates the record. */
  public PollPolicy {
    if (pollsPerSecond < 0) {
      throw new IllegalArgumentException("a poll budget cannot be negative, was " + pollsPerSecond);
    }
  }

  /**
   * A policy with the default poll budget ({@value #DEFAULT_POLLS_PER_SECOND} per second).
   *
   * @param initialDelay delay before the first poll
   * @param interval delay between polls at first
   * @param maxInterval largest delay between polls
   * @param multiplier growth of the delay after each poll (1 = constant)
   * @param floor smallest delay ever used
   * @param maxConsecutiveErrors failed polls in a row before giving up
   */
  public PollPolicy(Duration initialDelay, Duration interval, Duration maxInterval, double multiplier, Duration floor,
      int maxConsecutiveErrors) {
    this(initialDelay, interval, maxInterval, multiplier, floor, maxConsecutiveErrors, DEFAULT_POLLS_PER_SECOND);
  }

  /**
   * This policy with another poll budget.
   *
   * @param perSecond most status polls per second for all the provider's jobs (0: none)
   * @return the policy
   */
  public PollPolicy withPollsPerSecond(int perSecond) {
    return new PollPolicy(initialDelay, interval, maxInterval, multiplier, floor, maxConsecutiveErrors, perSecond);
  }

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
    return new PollPolicy(first, i, m, multiplier, floor, maxConsecutiveErrors, pollsPerSecond);
  }

  private static Duration max(Duration a, Duration b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  /**
   * A policy built by name, starting from a constant 2 s interval, a 1 s floor and 8 failed polls
   * in a row before giving up.
   *
   * @return the builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Builds a {@link PollPolicy} by name. Not thread-safe. */
  public static final class Builder {
    private @Nullable Duration initialDelay;
    private Duration interval = Duration.ofSeconds(2);
    private @Nullable Duration maxInterval;
    private double multiplier = 1.0;
    private Duration floor = Duration.ofSeconds(1);
    private int maxConsecutiveErrors = 8;
    private int pollsPerSecond = DEFAULT_POLLS_PER_SECOND;

    private Builder() {}

    /**
     * The delay before the first poll (default the interval).
     *
     * @param value the delay
     * @return this builder
     */
    public Builder initialDelay(Duration value) {
      this.initialDelay = value;
      return this;
    }

    /**
     * The delay between polls at first.
     *
     * @param value the delay
     * @return this builder
     */
    public Builder interval(Duration value) {
      this.interval = value;
      return this;
    }

    /**
     * The largest delay between polls (default the interval).
     *
     * @param value the delay
     * @return this builder
     */
    public Builder maxInterval(Duration value) {
      this.maxInterval = value;
      return this;
    }

    /**
     * The growth of the delay after each poll (default 1, constant).
     *
     * @param value the factor, at least 1
     * @return this builder
     */
    public Builder multiplier(double value) {
      this.multiplier = value;
      return this;
    }

    /**
     * The smallest delay ever used: the provider's documented limit.
     *
     * @param value the delay
     * @return this builder
     */
    public Builder floor(Duration value) {
      this.floor = value;
      return this;
    }

    /**
     * Failed polls in a row before the wait fails (default 8).
     *
     * @param value the count, at least 1
     * @return this builder
     */
    public Builder maxConsecutiveErrors(int value) {
      this.maxConsecutiveErrors = value;
      return this;
    }

    /**
     * The provider's poll budget: most status polls per second for all its jobs in the service,
     * from its published limits (default {@value PollPolicy#DEFAULT_POLLS_PER_SECOND}; 0: none).
     *
     * @param value polls per second
     * @return this
     */
    public Builder pollsPerSecond(int value) {
      this.pollsPerSecond = value;
      return this;
    }

    /**
     * Builds the policy.
     *
     * @return the policy
     * @throws IllegalArgumentException when the multiplier is below 1 or the error count below 1
     */
    public PollPolicy build() {
      if (multiplier < 1 || maxConsecutiveErrors < 1) {
        throw new IllegalArgumentException("a poll policy needs a multiplier of at least 1 and at least 1 error, was "
            + multiplier + " and " + maxConsecutiveErrors);
      }
      Duration max = maxInterval != null ? maxInterval : interval;
      return new PollPolicy(initialDelay != null ? initialDelay : interval, interval, max.compareTo(interval) < 0 ? interval : max,
          multiplier, floor, maxConsecutiveErrors, pollsPerSecond);
    }
  }
}
