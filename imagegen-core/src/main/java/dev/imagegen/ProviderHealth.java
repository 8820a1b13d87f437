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
    DOWN
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
}
