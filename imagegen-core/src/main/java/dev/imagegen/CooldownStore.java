package dev.imagegen;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Where the instances of an application tell each other that a provider cools down because its
 * key was refused (401/403, {@link ErrorKind#AUTHENTICATION}) or its credit or quota is exhausted
 * ({@link ErrorKind#INSUFFICIENT_CREDITS}). Without a store each instance finds out on its own, with
 * one failed call each; with one ({@code RedisCooldownStore} in imagegen-redis), the first
 * instance's cool-down skips the provider in all of them for what is left of it.
 *
 * <p>The service {@link #publish publishes} each such cool-down it starts, and
 * {@link #subscribe subscribes} when it is built; a cool-down it receives is applied like its own
 * (the provider is skipped with the reason, until the cool-down ends), and never published again.
 * Other cool-downs (a long {@code Retry-After}, an open circuit) stay with the instance.
 *
 * <p>The store is a best effort: a cool-down that cannot be shared still applies in the instance
 * that saw it. Implementations must be thread-safe, and {@link #publish} must not block.
 */
public interface CooldownStore {

  /**
   * Tells the other instances about a cool-down this instance started. Does not block and does
   * not throw; a failure is the store's to log.
   *
   * @param cooldown the cool-down
   */
  void publish(Cooldown cooldown);

  /**
   * Delivers the cool-downs other instances publish from now on, and those still in force, to
   * {@code listener} (on the store's thread; the listener does not block).
   *
   * @param listener where they go
   * @return a handle that stops the delivery when closed (the service closes it on close)
   */
  AutoCloseable subscribe(Consumer<Cooldown> listener);

  /**
   * One provider's cool-down.
   *
   * @param providerId the provider's id
   * @param kind {@link ErrorKind#AUTHENTICATION} or {@link ErrorKind#INSUFFICIENT_CREDITS}
   * @param remaining how long it lasts from now, positive
   * @param reason what a person reads ("credentials refused"); never a key or a prompt
   */
  record Cooldown(String providerId, ErrorKind kind, Duration remaining, String reason) {
    /**
     * Checks the fields.
     *
     * @param providerId the provider's id
     * @param kind the kind
     * @param remaining how long it lasts from now
     * @param reason what a person reads
     */
    public Cooldown {
      Objects.requireNonNull(providerId, "providerId");
      Objects.requireNonNull(kind, "kind");
      Objects.requireNonNull(remaining, "remaining");
      Objects.requireNonNull(reason, "reason");
      if (remaining.isNegative() || remaining.isZero()) {
        throw new IllegalArgumentException("a cool-down lasts a positive time, was " + remaining);
      }
    }
  }
}
