package dev.imagegen.provider.runpod;

import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderHealth.State;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HealthCheck;
import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.ProviderContext;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * The health of RunPod endpoints, read with {@code GET /{endpoint}/health}: {@code jobs.inQueue}
 * is the queue depth, {@code workers.ready} (or {@code idle}) the workers ready; no worker ready
 * with at least {@code degraded-queue-depth} jobs queued is DEGRADED. Readings are cached for the
 * cold-start check before a submit. Thread-safe.
 */
final class RunPodHealth {
  private static final String ID = RunPodProvider.ID;
  private static final Duration HEALTH_CHECK_LIMIT = Duration.ofSeconds(2);

  private final RunPodSettings settings;
  private final HttpImageProvider provider;
  private final Map<String, EndpointHealth> cache = new ConcurrentHashMap<>();

  /**
   * Reads health with the provider's requests.
   *
   * @param settings the endpoints and thresholds
   * @param provider builds the requests, with the credentials, under the base URL
   */
  RunPodHealth(RunPodSettings settings, HttpImageProvider provider) {
    this.settings = settings;
    this.provider = provider;
  }

  /**
   * One endpoint's health, as read at a time.
   *
   * @param endpointId the endpoint
   * @param health what was found; queue figures only when the endpoint answered them
   * @param at when it was read
   */
  record EndpointHealth(String endpointId, ProviderHealth health, Instant at) {
    /** Whether the endpoint itself reported no worker ready and a long queue (not a rate limit on the probe). */
    boolean coldWithQueue() {
      return health.state() == State.DEGRADED && health.queueDepth() != null;
    }
  }

  /**
   * The provider's health: every endpoint's, combined (AUTH_FAILED if one refuses the key, DOWN if
   * all are down, DEGRADED if one is not UP); queue figures summed.
   *
   * @param ctx the provider's context
   * @return the health, never failed
   */
  CompletableFuture<ProviderHealth> read(ProviderContext ctx) {
    List<CompletableFuture<EndpointHealth>> checks = settings.endpointIds().stream().map(e -> endpointHealth(e, ctx)).toList();
    return HealthCheck.timed(ctx, () -> CompletableFuture.allOf(checks.toArray(CompletableFuture[]::new)),
        (v, latency) -> combine(checks.stream().map(CompletableFuture::join).toList(), latency));
  }

  private ProviderHealth combine(List<EndpointHealth> all, Duration latency) {
    List<ProviderHealth> hs = all.stream().map(EndpointHealth::health).toList();
    State state = hs.stream().anyMatch(h -> h.state() == State.AUTH_FAILED) ? State.AUTH_FAILED
        : hs.stream().allMatch(h -> h.state() == State.DOWN) ? State.DOWN
        : hs.stream().anyMatch(h -> h.state() != State.UP) ? State.DEGRADED : State.UP;
    String message = all.size() == 1 ? hs.get(0).message()
        : String.join("; ", all.stream().map(h -> h.endpointId() + ": " + h.health().message()).toList());
    return ProviderHealth.of(ID, state, latency, message).withQueue(sum(hs.stream().map(ProviderHealth::queueDepth).toList()),
        sum(hs.stream().map(ProviderHealth::workersReady).toList()));
  }

  /** The sum of the known values, or null when none is known. */
  private static @Nullable Integer sum(List<@Nullable Integer> values) {
    return values.stream().filter(Objects::nonNull).reduce(Integer::sum).orElse(null);
  }

  /** Reads {@code GET /{endpoint}/health} and caches what it found; never fails. */
  private CompletableFuture<EndpointHealth> endpointHealth(String endpointId, ProviderContext ctx) {
    HttpRequest req = provider.request(ctx, "/" + endpointId + "/health").GET().build();
    return HealthCheck.get(ctx, req, (r, latency) -> fromBody(ctx.http().parse(r, RunPodWire.Health.class), latency))
        .thenApply(h -> {
          EndpointHealth e = new EndpointHealth(endpointId, h, Instant.now());
          cache.put(endpointId, e);
          return e;
        });
  }

  private ProviderHealth fromBody(RunPodWire.Health body, Duration latency) {
    Integer inQueue = body.jobs() == null ? null : body.jobs().inQueue();
    RunPodWire.Workers w = body.workers();
    Integer ready = w == null ? null : w.ready() != null ? w.ready() : w.idle();
    int running = w == null || w.running() == null ? 0 : w.running();
    int initializing = w == null || w.initializing() == null ? 0 : w.initializing();
    int throttled = w == null || w.throttled() == null ? 0 : w.throttled();
    boolean cold = ready != null && ready == 0;
    boolean degraded = cold && inQueue != null && inQueue >= settings.degradedQueueDepth;
    String m = (degraded ? "cold with a long queue: " : cold ? "cold: " : "") + (ready == null ? "?" : ready) + " workers ready, "
        + running + " running" + (initializing > 0 ? ", " + initializing + " initializing" : "")
        + (throttled > 0 ? ", " + throttled + " throttled" : "") + "; " + (inQueue == null ? "?" : inQueue) + " jobs queued";
    return ProviderHealth.of(ID, degraded ? State.DEGRADED : State.UP, latency, m).withQueue(inQueue, ready);
  }

  /**
   * When the deadline is close, skips an endpoint that is cold with a queue (failing over costs
   * nothing; a job that starts too late is cancelled, possibly after a billed cold start).
   *
   * @param target where the job would go
   * @param ctx the generation's context
   * @return completes when the job may be submitted; fails over, unbilled, otherwise
   */
  CompletableFuture<Void> coldStartCheck(RunPodSettings.Target target, GenerationContext ctx) {
    Duration allowance = settings.coldStartAllowance;
    Duration left = ctx.remaining();
    if (allowance.isZero() || allowance.isNegative() || left.compareTo(allowance) >= 0) {
      return CompletableFuture.completedFuture(null);
    }
    EndpointHealth cached = cache.get(target.endpointId());
    CompletableFuture<@Nullable EndpointHealth> reading;
    if (cached != null && cached.at().plus(settings.healthCache).isAfter(Instant.now())) {
      reading = CompletableFuture.completedFuture(cached);
    } else {
      Duration limit = left.dividedBy(4).compareTo(HEALTH_CHECK_LIMIT) < 0 ? left.dividedBy(4) : HEALTH_CHECK_LIMIT;
      reading = endpointHealth(target.endpointId(), ctx).<@Nullable EndpointHealth>thenApply(h -> h)
          .completeOnTimeout(null, Math.max(1, limit.toMillis()), TimeUnit.MILLISECONDS);
    }
    return reading.thenAccept(h -> {
      if (h != null && h.coldWithQueue()) {
        Duration now = ctx.remaining();
        throw new CompletionException(ProviderUnavailableException.failOver("endpoint " + target.endpointId() + " is "
            + h.health().message() + "; with " + now.toSeconds() + " s left (under cold-start-allowance "
            + allowance.toSeconds() + " s) the job was not submitted", ID, null));
      }
    });
  }
}
