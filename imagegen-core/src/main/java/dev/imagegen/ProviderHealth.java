package dev.imagegen;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The result of a real, cheap call to a provider ({@code testConnection}, {@code health}).
 *
 * @param provider the provider id
 * @param state what the check found
 * @param latency how long the check took
 * @param message details (the provider's status text, the error), never a secret
 * @param queueDepth jobs waiting at the provider, when it reports them
 * @param workersReady ready workers, when the provider reports them
 */
public record ProviderHealth(
    String provider, State state, Duration latency, @Nullable String message,
    @Nullable Integer queueDepth, @Nullable Integer workersReady) {

  /** What a health check found. */
  public enum State {
    /** Reachable, credentials accepted, able to serve. */
    UP,
    /** Reachable but degraded: overloaded, cold, long queue, maintenance. */
    DEGRADED,
    /** Reachable, but the credentials were refused. */
    AUTH_FAILED,
    /** Not reachable or failing. */
    DOWN,
    /**
     * Not checked yet: only {@link ImageGenerationService#cachedHealth()} reports it, for a
     * provider whose first check is still running.
     */
    UNKNOWN
  }

  /** Whether the provider can serve now ({@link State#UP} or {@link State#DEGRADED}). */
  public boolean isUsable() {
    return state == State.UP || state == State.DEGRADED;
  }

  /**
   * A healthy result.
   *
   * @param provider provider id
   * @param latency check duration
   */
  public static ProviderHealth up(String provider, Duration latency) {
    return new ProviderHealth(provider, State.UP, latency, null, null, null);
  }

  /**
   * A result in the given state with a message and no queue figures.
   *
   * @param provider provider id
   * @param state what the check found
   * @param latency check duration
   * @param message what the check found, in words
   */
  public static ProviderHealth of(String provider, State state, Duration latency, @Nullable String message) {
    return new ProviderHealth(provider, state, latency, message, null, null);
  }

  /**
   * This result with the provider's queue figures.
   *
   * @param queueDepth jobs waiting at the provider, or null when unknown
   * @param workersReady workers ready to serve, or null when unknown
   */
  public ProviderHealth withQueue(@Nullable Integer queueDepth, @Nullable Integer workersReady) {
    return new ProviderHealth(provider, state, latency, message, queueDepth, workersReady);
  }

  /**
   * This result with another message.
   *
   * @param newMessage the message
   */
  public ProviderHealth withMessage(@Nullable String newMessage) {
    return new ProviderHealth(provider, state, latency, newMessage, queueDepth, workersReady);
  }
}
