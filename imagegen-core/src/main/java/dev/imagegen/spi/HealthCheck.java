package dev.imagegen.spi;

import dev.imagegen.AuthenticationException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderHealth.State;
import dev.imagegen.RateLimitedException;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiFunction;
import java.util.function.Supplier;

/**
 * The one way a provider's {@link ImageProvider#health} probes its server: time the call, map a
 * refused key to {@link State#AUTH_FAILED}, a rate limit or empty credit to {@link State#DEGRADED},
 * anything else that fails to {@link State#DOWN}, scrub secrets from every message, and never
 * complete exceptionally. Thread-safe; all methods are static.
 *
 * <pre>{@code
 * public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
 *   return HealthCheck.get(ctx, ctx.http().request(join(base, "/account")).GET().build(),
 *       (answer, latency) -> ProviderHealth.of(ctx.providerId(), State.UP, latency, "token accepted"));
 * }
 * }</pre>
 */
public final class HealthCheck {
  /** The most bytes of a health answer read. */
  public static final long MAX_BODY_BYTES = 1024 * 1024;

  private HealthCheck() {}

  /**
   * Sends one cheap request: a 2xx answer goes to {@code onSuccess}, an error answer is mapped by
   * the provider's error rows ({@link ProviderHttp#mapError}) and then to a state, a fault on the
   * way gives {@link State#DOWN}.
   *
   * @param ctx the provider's context
   * @param request the probe
   * @param onSuccess the health a 2xx answer means, given the answer and the time it took; an
   *     exception it throws gives {@link State#DOWN}
   * @return the health, never failed
   */
  public static CompletableFuture<ProviderHealth> get(ProviderContext ctx, HttpRequest request,
      BiFunction<HttpResult, Duration, ProviderHealth> onSuccess) {
    return timed(ctx, () -> ctx.http().send(request, MAX_BODY_BYTES), (r, latency) -> {
      if (r.isSuccess()) {
        return onSuccess.apply(r, latency);
      }
      return failed(ctx, latency, ctx.http().mapError(r));
    });
  }

  /**
   * Runs any probe, timing it: the value goes to {@code onSuccess}; a failure, whether thrown or
   * in the future, becomes a health by {@link #failed}. Messages are scrubbed of secrets.
   *
   * @param <T> what the probe yields
   * @param ctx the provider's context
   * @param probe starts the probe
   * @param onSuccess the health the probe's value means, given the time it took
   * @return the health, never failed
   */
  public static <T> CompletableFuture<ProviderHealth> timed(ProviderContext ctx, Supplier<CompletableFuture<T>> probe,
      BiFunction<T, Duration, ProviderHealth> onSuccess) {
    long t0 = System.nanoTime();
    CompletableFuture<T> sent;
    try {
      sent = probe.get();
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    return sent.handle((v, e) -> {
      Duration latency = Duration.ofNanos(System.nanoTime() - t0);
      ProviderHealth h;
      try {
        h = e != null ? failed(ctx, latency, e) : onSuccess.apply(v, latency);
      } catch (RuntimeException x) {
        h = failed(ctx, latency, x);
      }
      return h.withMessage(h.message() == null ? null : ctx.redactor().redact(h.message()));
    });
  }

  /**
   * The health a failure means: {@link State#AUTH_FAILED} for a refused key,
   * {@link State#DEGRADED} for a rate limit or empty credit, else {@link State#DOWN}; the message
   * is the failure's, scrubbed of secrets.
   *
   * @param ctx the provider's context
   * @param latency how long the probe took
   * @param error the failure (wrappers are peeled off)
   * @return the health
   */
  public static ProviderHealth failed(ProviderContext ctx, Duration latency, Throwable error) {
    ImageGenerationException x = ProviderSupport.failure(ctx.providerId(), error);
    State state = x instanceof AuthenticationException ? State.AUTH_FAILED
        : x instanceof RateLimitedException || x instanceof InsufficientCreditsException ? State.DEGRADED : State.DOWN;
    return ProviderHealth.of(ctx.providerId(), state, latency, ctx.redactor().redact(String.valueOf(x.getMessage())));
  }
}
