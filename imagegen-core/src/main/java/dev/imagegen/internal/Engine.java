package dev.imagegen.internal;

import dev.imagegen.AllProvidersFailedException;
import dev.imagegen.Attempt;
import dev.imagegen.AuthenticationException;
import dev.imagegen.BudgetExceededException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.Cost;
import dev.imagegen.ErrorKind;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.GenerationJob;
import dev.imagegen.GenerationTimeoutException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.JobJournal;
import dev.imagegen.MetricsSnapshot;
import dev.imagegen.ModelInfo;
import dev.imagegen.NoCapableProviderException;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.RoutingStrategy;
import dev.imagegen.Timings;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Reconciliation;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine behind {@code ImageGenerationService}: routing, failover, retries, rate limits,
 * concurrency limits, budgets, deadlines, cancellation and metrics. Nothing here holds a thread
 * while a provider works: every wait is a future or a scheduled task.
 */
public final class Engine implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Engine.class);
  private static final java.util.concurrent.atomic.AtomicBoolean SMALL_HOST_WARNED = new java.util.concurrent.atomic.AtomicBoolean();

  private final EngineSettings settings;
  private final Support support;
  private final Map<String, ProviderSlot> slots = new LinkedHashMap<>();
  private final Metrics metrics = new Metrics();
  private final Budgets budgets;
  private final JobJournal journal;
  private final Logger log;
  private final Set<Generation> inFlight = ConcurrentHashMap.newKeySet();
  private final Set<CompletableFuture<?>> cleanups = ConcurrentHashMap.newKeySet();
  private final Prompts prompts;
  private final @Nullable ResponseCache cache;
  private volatile boolean closed;

  /**
   * Builds an engine.
   *
   * @param settings what the builder collected
   */
  public Engine(EngineSettings settings) {
    this.settings = settings;
    boolean ownScheduler = settings.scheduler == null;
    java.util.concurrent.ExecutorService httpExecutor = settings.httpClient == null ? Support.defaultHttpExecutor() : null;
    this.support = new Support(httpExecutor != null ? Support.defaultHttpClient(httpExecutor) : settings.httpClient,
        httpExecutor, ownScheduler ? Support.defaultScheduler() : settings.scheduler, ownScheduler);
    this.log = new dev.imagegen.spi.RedactingLogger(LOG, support.redactor);
    int order = 0;
    for (EngineSettings.Entry e : settings.providers) {
      String id = e.provider().id();
      if (slots.containsKey(id)) {
        throw new IllegalArgumentException("provider '" + id + "' registered twice");
      }
      slots.put(id, new ProviderSlot(e.provider(), e.config(), support, order++, settings, metrics));
    }
    this.budgets = new Budgets(settings.budget, settings.budgetStore != null ? settings.budgetStore : new InMemoryBudgetStore());
    this.journal = settings.journal != null ? settings.journal : new InMemoryJobJournal();
    this.prompts = new Prompts(settings);
    if (java.util.concurrent.ForkJoinPool.getCommonPoolParallelism() < 2 && SMALL_HOST_WARNED.compareAndSet(false, true)) {
      log.warn("the common ForkJoinPool has fewer than 2 workers on this host, so the JDK HTTP client starts a new thread "
          + "for every answer; run with -Djava.util.concurrent.ForkJoinPool.common.parallelism=2 to bound threads");
    }
    this.cache = settings.cache == null ? null : ResponseCache.create(settings.cache, support.json);
  }

  /** The presets requests can name: built-ins, then the configured ones. */
  public List<dev.imagegen.Preset> presets() {
    return prompts.presets();
  }

  JobJournal journal() {
    return journal;
  }

  void trackCleanup(CompletableFuture<?> f) {
    cleanups.add(f);
    f.whenComplete((v, e) -> cleanups.remove(f));
  }

  /** The provider ids, in registration order. */
  public List<String> providerIds() {
    return List.copyOf(slots.keySet());
  }

  // ---------------------------------------------------------------- generation

  /**
   * Starts a generation.
   *
   * @param request the request
   * @param onlyProvider a provider id to use without failover, or null for failover
   * @return the job
   */
  public GenerationJob submit(ImageGenerationRequest request, @Nullable String onlyProvider) {
    if (closed) {
      throw new IllegalStateException("the service is closed");
    }
    if (onlyProvider != null && !slots.containsKey(onlyProvider)) {
      throw new IllegalArgumentException("unknown provider '" + onlyProvider + "' (configured: " + String.join(", ", slots.keySet()) + ")");
    }
    ImageGenerationRequest prepared = prompts.prepare(request);
    Duration timeout = request.timeout() != null ? request.timeout() : settings.defaultTimeout;
    Generation g = new Generation(this, newId(), prepared, Instant.now().plus(timeout));
    metrics.started();
    if (cache != null && settings.cache != null && (prepared.seed() != null || settings.cache.cacheUnseeded())) {
      g.cacheKey = RequestHash.of(prepared, settings.cache.namespace());
      g.requestHash(g.cacheKey);
      ResponseCache.Entry hit = cache.get(g.cacheKey);
      if (hit != null) {
        serveFromCache(g, hit);
        return g;
      }
    }
    inFlight.add(g);
    g.result.whenComplete((r, e) -> {
      inFlight.remove(g);
      var task = g.deadlineTask;
      if (task != null) {
        task.cancel(false);
      }
      if (e instanceof CancellationException) {
        onCallerCancel(g);
      }
    });
    g.deadlineTask = support.scheduler.schedule(() -> onDeadline(g), timeout.toMillis(), TimeUnit.MILLISECONDS);
    start(g, onlyProvider);
    return g;
  }

  /** A random version-4 UUID; ids need to be unique, not unpredictable, so no SecureRandom. */
  private static String newId() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    long hi = (r.nextLong() & ~0xF000L) | 0x4000L;
    long lo = (r.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return new UUID(hi, lo).toString();
  }

  private void start(Generation g, @Nullable String onlyProvider) {
    List<ProviderSlot> candidates = new ArrayList<>();
    List<String> why = new ArrayList<>();
    for (ProviderSlot s : route(g.request, onlyProvider)) {
      List<String> reasons = s.provider.capabilities().whyNot(g.request);
      if (reasons.isEmpty()) {
        candidates.add(s);
      } else {
        String reason = String.join("; ", reasons);
        why.add(s.id() + ": " + reason);
        g.addAttempt(new Attempt(s.id(), Attempt.Outcome.SKIPPED, ErrorKind.NO_CAPABLE_PROVIDER, reason, Duration.ZERO, 0,
            null, false, false, null));
      }
    }
    if (candidates.isEmpty()) {
      String msg = slots.isEmpty() ? "no provider is configured" : "no provider can serve this request: " + String.join(" | ", why);
      fail(g, new NoCapableProviderException(msg, onlyProvider));
      return;
    }
    tryNext(g, candidates.iterator(), null, onlyProvider != null);
  }

  private List<ProviderSlot> route(ImageGenerationRequest request, @Nullable String onlyProvider) {
    if (onlyProvider != null) {
      return List.of(slots.get(onlyProvider));
    }
    List<ProviderSlot> list = new ArrayList<>(slots.values());
    Comparator<ProviderSlot> byPriority = Comparator.<ProviderSlot>comparingInt(s -> s.priority).thenComparingInt(s -> s.order);
    if (settings.routing == RoutingStrategy.CHEAPEST) {
      Map<ProviderSlot, Cost> est = new LinkedHashMap<>();
      list.forEach(s -> est.put(s, s.costModel.estimate(request)));
      list.sort(Comparator.<ProviderSlot, Integer>comparing(s -> est.get(s).isKnown() ? 0 : 1)
          .thenComparing(s -> est.get(s).amountOrZero())
          .thenComparing(byPriority));
    } else if (settings.routing == RoutingStrategy.FASTEST) {
      Map<ProviderSlot, Long> med = new LinkedHashMap<>();
      list.forEach(s -> med.put(s, s.metrics.latency.medianNanos()));
      list.sort(Comparator.<ProviderSlot, Integer>comparing(s -> med.get(s) < 0 ? 1 : 0)
          .thenComparing(s -> med.get(s))
          .thenComparing(byPriority));
    } else {
      list.sort(byPriority);
    }
    return list;
  }

  private void tryNext(Generation g, Iterator<ProviderSlot> it, @Nullable ImageGenerationException last, boolean single) {
    if (g.isDone()) {
      return;
    }
    if (!it.hasNext()) {
      fail(g, exhausted(g, last, single));
      return;
    }
    ProviderSlot slot = it.next();
    String unavailable = slot.unavailableReason();
    if (unavailable != null) {
      ImageGenerationException e = new ProviderUnavailableException(unavailable, slot.id(), false, false, null, null);
      g.addAttempt(new Attempt(slot.id(), Attempt.Outcome.SKIPPED, ErrorKind.UNAVAILABLE, unavailable, Duration.ZERO, 0, null,
          false, false, e));
      tryNext(g, it, e, single);
      return;
    }
    Budgets.Reservation reservation;
    try {
      reservation = budgets.reserve(slot.id(), slot.costModel.estimate(g.request));
    } catch (BudgetExceededException e) {
      g.addAttempt(new Attempt(slot.id(), Attempt.Outcome.SKIPPED, ErrorKind.BUDGET_EXCEEDED, e.getMessage(), Duration.ZERO, 0,
          null, false, false, e));
      tryNext(g, it, e, single);
      return;
    }
    if (!slot.admitCall()) {
      budgets.release(reservation);
      String why = "circuit open after repeated failures";
      ImageGenerationException e = new ProviderUnavailableException(why, slot.id(), false, false, null, null);
      g.addAttempt(new Attempt(slot.id(), Attempt.Outcome.SKIPPED, ErrorKind.UNAVAILABLE, why, Duration.ZERO, 0, null,
          false, false, e));
      tryNext(g, it, e, single);
      return;
    }
    g.currentSlot = slot;
    g.currentSlotStart = System.nanoTime();
    g.currentCalls = 0;
    call(g, slot, 0).whenComplete((result, err) -> {
      if (err == null) {
        succeed(g, slot, reservation, result);
        return;
      }
      ImageGenerationException e = classify(slot, err);
      AttemptContext ctx = g.current;
      boolean mayBeBilled = e instanceof ProviderUnavailableException pu && pu.outcomeUnknown();
      // a remote job that was created and not cancelled may be billed even though no image came
      // back (its result URL 404ed, its image was corrupt): keep its reservation spent
      boolean jobRan = ctx != null && ctx.remoteJobId() != null && !ctx.remoteCancelSent();
      if (mayBeBilled || jobRan) {
        budgets.settle(reservation, Cost.unknown());
      } else {
        budgets.release(reservation);
      }
      if (g.isDone()) {
        return; // the deadline or the caller got there first and recorded the attempt
      }
      g.addAttempt(attempt(g, slot, ctx, e, mayBeBilled));
      if (ctx != null && ctx.remoteJobId() != null && !ctx.remoteCancelSent()) {
        journal.ended(g.id(), ctx.remoteJobId(), "failed");
      }
      afterFailure(slot, e);
      if (single || !mayFailOver(e)) {
        fail(g, e);
      } else {
        tryNext(g, it, e, single);
      }
    });
  }

  private ImageGenerationException exhausted(Generation g, @Nullable ImageGenerationException last, boolean single) {
    List<Attempt> attempts = g.attempts();
    if (single && last != null) {
      return last;
    }
    if (!attempts.isEmpty() && attempts.stream().allMatch(a -> a.errorKind() == ErrorKind.BUDGET_EXCEEDED)) {
      return new BudgetExceededException("every capable provider would exceed the budget: "
          + attempts.stream().map(Attempt::summary).reduce((a, b) -> a + "; " + b).orElse(""), null);
    }
    return new AllProvidersFailedException(attempts, last != null ? last : new IllegalStateException("no attempt made"));
  }

  private boolean mayFailOver(ImageGenerationException e) {
    if (e instanceof ContentPolicyException) {
      return settings.failoverOnContentPolicy;
    }
    if (e.kind() == ErrorKind.INVALID_REQUEST) {
      return settings.failoverOnInvalidRequest;
    }
    if (e instanceof GenerationTimeoutException || e instanceof GenerationCancelledException) {
      return false;
    }
    return e.failoverMayHelp();
  }

  /** One call to the provider, with retries on the same provider. */
  private CompletableFuture<ProviderResult> call(Generation g, ProviderSlot slot, int retry) {
    if (g.isDone()) {
      return CompletableFuture.failedFuture(new GenerationCancelledException("generation already finished", slot.id()));
    }
    return permits(g, slot).thenCompose(v -> {
      AttemptContext ctx = new AttemptContext(slot.context, g);
      g.current = ctx;
      if (g.status() == GenerationJob.Status.PENDING) {
        g.status(GenerationJob.Status.RUNNING);
      }
      g.currentCalls++;
      slot.metrics.call();
      long t0 = System.nanoTime();
      CompletableFuture<ProviderResult> f;
      try {
        f = slot.provider.generate(g.request, ctx);
        if (f == null) {
          f = CompletableFuture.failedFuture(new IllegalStateException("provider returned no future"));
        }
      } catch (RuntimeException e) {
        f = CompletableFuture.failedFuture(e);
      }
      return f.thenApply(r -> validate(g, slot, r)).handle((r, err) -> {
        slot.permits.release();
        if (err == null) {
          slot.breaker.recordSuccess();
          return CompletableFuture.completedFuture(r);
        }
        ImageGenerationException e = classify(slot, err);
        slot.metrics.failure(e.kind());
        if (countsAgainstCircuit(e)) {
          slot.breaker.recordFailure();
        }
        if (g.isDone() || ctx.isCancelled()) {
          return CompletableFuture.<ProviderResult>failedFuture(e);
        }
        if (e instanceof ProviderUnavailableException pu && pu.outcomeUnknown()) {
          return reconcile(g, slot, ctx, pu, retry);
        }
        Duration delay = retryDelay(g, e, retry);
        if (delay == null) {
          return CompletableFuture.<ProviderResult>failedFuture(e);
        }
        log.debug("{}: retrying in {} ms after {} (retry {} of {})", slot.id(), delay.toMillis(), e.getMessage(), retry + 1,
            settings.maxRetries);
        return delayed(delay).thenCompose(x -> call(g, slot, retry + 1));
      }).thenCompose(x -> x).whenComplete((r, e) -> {
        if (e == null) {
          slot.metrics.success(System.nanoTime() - t0, r.images().size(), Cost.unknown());
        }
      });
    });
  }

  private CompletableFuture<ProviderResult> reconcile(Generation g, ProviderSlot slot, AttemptContext ctx,
      ProviderUnavailableException lost, int retry) {
    CompletableFuture<Reconciliation> rec;
    try {
      rec = slot.provider.reconcile(g.request, ctx);
    } catch (RuntimeException e) {
      rec = CompletableFuture.completedFuture(Reconciliation.unknown());
    }
    return rec.exceptionally(e -> Reconciliation.unknown()).thenCompose(r -> {
      switch (r.state()) {
        case FOUND:
          if (r.result() != null) {
            return CompletableFuture.completedFuture(r.result());
          }
          return CompletableFuture.failedFuture(lost);
        case NOT_SUBMITTED: {
          Duration delay = retryDelay(g, new ProviderUnavailableException(lost.getMessage(), slot.id(), null), retry);
          if (delay != null) {
            return delayed(delay).thenCompose(x -> call(g, slot, retry + 1));
          }
          return CompletableFuture.failedFuture(new ProviderUnavailableException(lost.getMessage(), slot.id(), false, false, null, lost));
        }
        case CANCELLED:
          return CompletableFuture.failedFuture(new ProviderUnavailableException(
              lost.getMessage() + "; the job was found and cancelled", slot.id(), false, false, null, lost));
        default:
          log.warn("{}: outcome of a submit is unknown and cannot be reconciled; it may be billed: {}", slot.id(),
              lost.getMessage());
          return CompletableFuture.failedFuture(lost);
      }
    });
  }

  private CompletableFuture<Void> permits(Generation g, ProviderSlot slot) {
    CompletableFuture<Void> ready;
    if (slot.rateLimiter != null) {
      Duration wait = slot.rateLimiter.reservePermit();
      if (wait.compareTo(remaining(g)) >= 0) {
        return CompletableFuture.failedFuture(new RateLimitedException("client-side rate limit of "
            + slot.config.get("requests-per-minute").orElse("?") + "/min would delay the call past the deadline", slot.id(),
            wait, null));
      }
      ready = wait.isZero() ? CompletableFuture.completedFuture(null) : delayed(wait);
    } else {
      ready = CompletableFuture.completedFuture(null);
    }
    return ready.thenCompose(v -> {
      CompletableFuture<Void> p = slot.permits.acquire();
      g.pendingPermit = p;
      return p;
    });
  }

  private ProviderResult validate(Generation g, ProviderSlot slot, ProviderResult r) {
    if (r.images().isEmpty()) {
      throw new CompletionException(new ProviderUnavailableException("returned no images", slot.id(), false, false, null, null));
    }
    if (r.images().stream().allMatch(GeneratedImage::nsfw)) {
      throw new CompletionException(new ContentPolicyException("every image was flagged as NSFW or censored", slot.id()));
    }
    return r;
  }

  private @Nullable Duration retryDelay(Generation g, ImageGenerationException e, int retry) {
    if (!e.retryMayHelp() || retry >= settings.maxRetries) {
      return null;
    }
    Duration delay;
    Duration asked = e instanceof RateLimitedException rl ? rl.retryAfter()
        : e instanceof ProviderUnavailableException pu ? pu.retryAfter() : null;
    if (asked != null) {
      if (asked.compareTo(settings.maxRetryAfter) > 0) {
        return null; // a long wait: fail over now, the provider cools down
      }
      delay = asked;
    } else {
      long base = settings.retryBase.toMillis() << Math.min(retry, 10);
      long capped = Math.min(base, settings.retryMax.toMillis());
      delay = Duration.ofMillis((long) (capped * (0.5 + ThreadLocalRandom.current().nextDouble() * 0.5)));
    }
    return delay.compareTo(remaining(g)) < 0 ? delay : null;
  }

  private static boolean countsAgainstCircuit(ImageGenerationException e) {
    return e.kind() == ErrorKind.UNAVAILABLE || e.kind() == ErrorKind.RATE_LIMITED;
  }

  private void afterFailure(ProviderSlot slot, ImageGenerationException e) {
    if (e instanceof AuthenticationException) {
      slot.breaker.open();
      slot.coolDown(settings.authCooldown, "credentials refused");
    } else if (e instanceof InsufficientCreditsException) {
      slot.coolDown(settings.creditsCooldown, "out of credit or quota");
    } else if (e instanceof RateLimitedException rl && rl.retryAfter() != null
        && rl.retryAfter().compareTo(settings.maxRetryAfter) > 0) {
      slot.coolDown(rl.retryAfter(), "rate limited, Retry-After " + rl.retryAfter().toSeconds() + " s");
    } else if (e instanceof ProviderUnavailableException pu && pu.retryAfter() != null
        && pu.retryAfter().compareTo(settings.maxRetryAfter) > 0) {
      slot.coolDown(pu.retryAfter(), "unavailable for " + pu.retryAfter().toSeconds() + " s");
    }
  }

  private ImageGenerationException classify(@Nullable ProviderSlot slot, Throwable t) {
    Throwable c = t;
    while ((c instanceof CompletionException || c instanceof java.util.concurrent.ExecutionException) && c.getCause() != null) {
      c = c.getCause();
    }
    if (c instanceof ImageGenerationException ige) {
      return ige;
    }
    String id = slot == null ? null : slot.id();
    if (c instanceof CancellationException) {
      return new GenerationCancelledException("cancelled", id, c);
    }
    if (c instanceof TimeoutException) {
      return new ProviderUnavailableException("timed out", id, c);
    }
    String msg = support.redactor.redact(c.getClass().getSimpleName() + (c.getMessage() == null ? "" : ": " + c.getMessage()));
    return new ProviderUnavailableException("provider fault: " + msg, id, false, false, null, null);
  }

  private Attempt attempt(Generation g, ProviderSlot slot, @Nullable AttemptContext ctx, ImageGenerationException e,
      boolean mayBeBilled) {
    Attempt.Outcome outcome = e instanceof GenerationCancelledException ? Attempt.Outcome.CANCELLED : Attempt.Outcome.FAILED;
    return new Attempt(slot.id(), outcome, e.kind(), e.getMessage(), Duration.ofNanos(System.nanoTime() - g.currentSlotStart),
        g.currentCalls, ctx == null ? null : ctx.remoteJobId(), ctx != null && ctx.remoteCancelSent(), mayBeBilled, e);
  }

  private void succeed(Generation g, ProviderSlot slot, Budgets.Reservation reservation, ProviderResult r) {
    Cost cost = slot.costModel.actual(g.request, r);
    budgets.settle(reservation, cost);
    AttemptContext ctx = g.current;
    long total = System.nanoTime() - g.startNanos;
    g.addAttempt(new Attempt(slot.id(), Attempt.Outcome.SUCCEEDED, null, null,
        Duration.ofNanos(System.nanoTime() - g.currentSlotStart), g.currentCalls, r.remoteJobId(), false, false, null));
    if (ctx != null && r.remoteJobId() != null) {
      journal.ended(g.id(), r.remoteJobId(), "succeeded");
    }
    Map<String, String> meta = new LinkedHashMap<>(r.metadata());
    meta.put("prompt", g.request.prompt());
    if (g.request.effectiveNegativePrompt() != null && slot.provider.capabilities().negativePrompt()) {
      meta.put("negative_prompt", g.request.effectiveNegativePrompt());
    }
    meta.put("request_hash", g.requestHash());
    List<String> warnings = new ArrayList<>(r.warnings());
    if (r.images().size() < g.request.numImages()) {
      warnings.add(slot.id() + " returned " + r.images().size() + " of " + g.request.numImages() + " images requested");
    }
    Duration totalD = Duration.ofNanos(total);
    Timings timings = new Timings(orZero(r.queueTime()), orZero(r.runTime()), orZero(r.downloadTime()), totalD);
    ImageGenerationResponse resp = new ImageGenerationResponse(g.id(), ImageGenerationResponse.Status.COMPLETED, r.images(),
        slot.id(), r.model(), totalD, timings, cost, g.attempts(), meta, warnings);
    if (cost.isKnown()) {
      slot.metrics.cost.accumulateAndGet(cost.amountOrZero(), java.math.BigDecimal::add);
    }
    if (g.cacheKey != null && cache != null && r.images().stream().noneMatch(GeneratedImage::nsfw)) {
      cache.put(g.cacheKey, new ResponseCache.Entry(slot.id(), r.model(), r.images(), meta));
    }
    if (g.settle()) {
      metrics.succeeded(total, cost, false);
      g.progress(ProgressEvent.of(slot.id(), ProgressEvent.Stage.DONE));
      g.status(GenerationJob.Status.SUCCEEDED);
      if (!g.result.complete(resp)) {
        // the caller cancelled in the same instant: count what the caller saw
        metrics.successBecameCancelled(cost);
        g.status(GenerationJob.Status.CANCELLED);
      }
    }
  }

  private void serveFromCache(Generation g, ResponseCache.Entry hit) {
    Duration t = Duration.ofNanos(System.nanoTime() - g.startNanos);
    Map<String, String> meta = new LinkedHashMap<>(hit.metadata());
    meta.put("cache", "hit");
    ImageGenerationResponse resp = new ImageGenerationResponse(g.id(), ImageGenerationResponse.Status.CACHED, hit.images(),
        hit.provider(), hit.model(), t, new Timings(Duration.ZERO, Duration.ZERO, Duration.ZERO, t), Cost.cached(), List.of(),
        meta, List.of());
    g.settle();
    metrics.succeeded(t.toNanos(), Cost.cached(), true);
    g.status(GenerationJob.Status.SUCCEEDED);
    g.result.complete(resp);
  }

  private void fail(Generation g, ImageGenerationException e) {
    if (g.settle()) {
      failSettled(g, e);
    }
  }

  private void failSettled(Generation g, ImageGenerationException e) {
    metrics.failed(e.kind());
    g.status(e instanceof GenerationCancelledException ? GenerationJob.Status.CANCELLED : GenerationJob.Status.FAILED);
    log.debug("generation {} failed: {}", g.id(), e.getMessage());
    if (!g.result.completeExceptionally(e) && e.kind() != ErrorKind.CANCELLED) {
      // the caller cancelled in the same instant: count what the caller saw
      metrics.failureBecameCancelled(e.kind());
      g.status(GenerationJob.Status.CANCELLED);
    }
  }

  private void onDeadline(Generation g) {
    // claim the generation first: cancelling the attempt completes the provider's future, and the
    // failover path must then see a finished generation, not a cancellation to report
    if (!g.settle()) {
      return;
    }
    AttemptContext ctx = g.current;
    ProviderSlot slot = g.currentSlot;
    cancelPending(g);
    if (ctx != null) {
      ctx.cancel();
    }
    boolean remote = ctx != null && ctx.remoteCancelSent();
    String provider = slot == null ? null : slot.id();
    GenerationTimeoutException e = new GenerationTimeoutException("no image within the deadline"
        + (remote ? "; the remote job " + ctx.remoteJobId() + " was cancelled" : ""), provider, remote, null);
    if (slot != null) {
      g.addAttempt(new Attempt(slot.id(), Attempt.Outcome.FAILED, ErrorKind.TIMEOUT, e.getMessage(),
          Duration.ofNanos(System.nanoTime() - g.currentSlotStart), g.currentCalls, ctx == null ? null : ctx.remoteJobId(),
          remote, false, e));
    }
    failSettled(g, e);
  }

  private void onCallerCancel(Generation g) {
    if (!g.settle()) {
      return;
    }
    AttemptContext ctx = g.current;
    cancelPending(g);
    if (ctx != null) {
      ctx.cancel();
    }
    ProviderSlot slot = g.currentSlot;
    if (slot != null) {
      g.addAttempt(new Attempt(slot.id(), Attempt.Outcome.CANCELLED, ErrorKind.CANCELLED, "cancelled by the caller",
          Duration.ofNanos(System.nanoTime() - g.currentSlotStart), g.currentCalls, ctx == null ? null : ctx.remoteJobId(),
          ctx != null && ctx.remoteCancelSent(), false, null));
    }
    g.status(GenerationJob.Status.CANCELLED);
    metrics.failed(ErrorKind.CANCELLED);
  }

  private static void cancelPending(Generation g) {
    CompletableFuture<?> p = g.pendingPermit;
    if (p != null && !p.isDone()) {
      p.cancel(false);
    }
  }

  private Duration remaining(Generation g) {
    Duration d = Duration.between(Instant.now(), g.deadline());
    return d.isNegative() ? Duration.ZERO : d;
  }

  private CompletableFuture<Void> delayed(Duration d) {
    CompletableFuture<Void> f = new CompletableFuture<>();
    support.scheduler.schedule(() -> f.complete(null), Math.max(0, d.toMillis()), TimeUnit.MILLISECONDS);
    return f;
  }

  private static Duration orZero(@Nullable Duration d) {
    return d == null ? Duration.ZERO : d;
  }

  // ---------------------------------------------------------------- batches

  /**
   * Runs requests with bounded concurrency; one result or error per item, in input order.
   *
   * @param requests the requests
   * @param options concurrency, budget, progress
   * @return the result once every item finished
   */
  public CompletableFuture<dev.imagegen.BatchResult> batch(List<ImageGenerationRequest> requests, dev.imagegen.BatchOptions options) {
    int n = requests.size();
    dev.imagegen.BatchResult.Item[] items = new dev.imagegen.BatchResult.Item[n];
    java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
    BatchBudget budget = new BatchBudget(options.budget());
    int[] counts = new int[2];
    List<CompletableFuture<Void>> lanes = new ArrayList<>();
    for (int i = 0; i < Math.min(options.concurrency(), n); i++) {
      lanes.add(batchLane(requests, items, next, budget, counts, options));
    }
    return CompletableFuture.allOf(lanes.toArray(new CompletableFuture<?>[0]))
        .thenApply(v -> new dev.imagegen.BatchResult(java.util.Arrays.asList(items)));
  }

  private CompletableFuture<Void> batchLane(List<ImageGenerationRequest> requests, dev.imagegen.BatchResult.Item[] items,
      java.util.concurrent.atomic.AtomicInteger next, BatchBudget budget, int[] counts, dev.imagegen.BatchOptions options) {
    int i = next.getAndIncrement();
    if (i >= requests.size()) {
      return CompletableFuture.completedFuture(null);
    }
    ImageGenerationRequest r = requests.get(i);
    java.math.BigDecimal reserved;
    CompletableFuture<ImageGenerationResponse> f;
    try {
      reserved = budget.reserve(estimateFirst(r));
      f = submit(r, null).result();
    } catch (ImageGenerationException e) {
      reserved = java.math.BigDecimal.ZERO;
      f = CompletableFuture.failedFuture(e);
    }
    java.math.BigDecimal held = reserved;
    return f.handle((resp, err) -> {
      ImageGenerationException e = err == null ? null : classify(null, err);
      budget.settle(held, resp == null ? java.math.BigDecimal.ZERO : resp.cost().amountOrZero());
      dev.imagegen.BatchOptions.BatchProgress p;
      synchronized (counts) {
        items[i] = new dev.imagegen.BatchResult.Item(i, r, resp, e);
        counts[resp != null ? 0 : 1]++;
        p = new dev.imagegen.BatchOptions.BatchProgress(items.length, counts[0], counts[1], budget.spent());
      }
      if (options.progress() != null) {
        try {
          options.progress().accept(p);
        } catch (RuntimeException ex) {
          log.debug("batch progress listener failed: {}", ex.toString());
        }
      }
      return null;
    }).thenCompose(v -> batchLane(requests, items, next, budget, counts, options));
  }

  private Cost estimateFirst(ImageGenerationRequest r) {
    String first = selectOptimalProvider(r);
    if (first == null) {
      return Cost.unknown();
    }
    return slots.get(first).costModel.estimate(prompts.prepare(r));
  }

  /** A batch's own budget: reserve the estimate before each item, settle with its actual cost. */
  private static final class BatchBudget {
    private final java.math.@Nullable BigDecimal limit;
    private java.math.BigDecimal reserved = java.math.BigDecimal.ZERO;
    private java.math.BigDecimal spent = java.math.BigDecimal.ZERO;

    BatchBudget(java.math.@Nullable BigDecimal limit) {
      this.limit = limit;
    }

    synchronized java.math.BigDecimal reserve(Cost estimate) {
      if (limit == null) {
        return java.math.BigDecimal.ZERO;
      }
      if (!estimate.isKnown()) {
        throw new BudgetExceededException("batch budget set and the price is unknown", null);
      }
      java.math.BigDecimal a = estimate.amountOrZero();
      if (spent.add(reserved).add(a).compareTo(limit) > 0) {
        throw new BudgetExceededException("the batch budget of " + limit.stripTrailingZeros().toPlainString()
            + " USD would be exceeded (spent " + spent.stripTrailingZeros().toPlainString() + ", in flight "
            + reserved.stripTrailingZeros().toPlainString() + ")", null);
      }
      reserved = reserved.add(a);
      return a;
    }

    synchronized void settle(java.math.BigDecimal held, java.math.BigDecimal actual) {
      reserved = reserved.subtract(held);
      spent = spent.add(actual);
    }

    synchronized java.math.BigDecimal spent() {
      return spent;
    }
  }

  // ---------------------------------------------------------------- queries

  /**
   * The provider failover would try first, if any can serve the request now.
   *
   * @param request the request
   */
  public @Nullable String selectOptimalProvider(ImageGenerationRequest request) {
    ImageGenerationRequest prepared = prompts.prepare(request);
    for (ProviderSlot s : route(prepared, null)) {
      if (s.provider.capabilities().whyNot(prepared).isEmpty() && s.unavailableReason() == null) {
        return s.id();
      }
    }
    return null;
  }

  /**
   * Estimated costs of a request with every capable provider, in routing order.
   *
   * @param request the request
   */
  public Map<String, Cost> estimateCosts(ImageGenerationRequest request) {
    ImageGenerationRequest prepared = prompts.prepare(request);
    Map<String, Cost> out = new LinkedHashMap<>();
    for (ProviderSlot s : route(prepared, null)) {
      if (s.provider.capabilities().whyNot(prepared).isEmpty()) {
        out.put(s.id(), s.costModel.estimate(prepared));
      }
    }
    return out;
  }

  /**
   * Checks one provider with a real call.
   *
   * @param providerId the provider
   * @param timeout how long to wait
   */
  public ProviderHealth health(String providerId, Duration timeout) {
    ProviderSlot s = slots.get(providerId);
    if (s == null) {
      throw new IllegalArgumentException("unknown provider '" + providerId + "' (configured: " + String.join(", ", slots.keySet()) + ")");
    }
    return healthAsync(s, timeout).join();
  }

  /**
   * Checks every provider in parallel.
   *
   * @param timeout how long to wait for each
   */
  public Map<String, ProviderHealth> health(Duration timeout) {
    Map<String, CompletableFuture<ProviderHealth>> fs = new LinkedHashMap<>();
    slots.values().forEach(s -> fs.put(s.id(), healthAsync(s, timeout)));
    Map<String, ProviderHealth> out = new LinkedHashMap<>();
    fs.forEach((id, f) -> out.put(id, f.join()));
    return out;
  }

  private CompletableFuture<ProviderHealth> healthAsync(ProviderSlot s, Duration timeout) {
    long t0 = System.nanoTime();
    CompletableFuture<ProviderHealth> f;
    try {
      f = s.provider.health(s.context);
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    return f.orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS).exceptionally(e -> {
      ImageGenerationException x = classify(s, e);
      ProviderHealth.State st = x instanceof AuthenticationException ? ProviderHealth.State.AUTH_FAILED : ProviderHealth.State.DOWN;
      return new ProviderHealth(s.id(), st, Duration.ofNanos(System.nanoTime() - t0), x.getMessage(), null, null);
    });
  }

  /** Every provider's models. */
  public List<ModelInfo> models() {
    List<ModelInfo> out = new ArrayList<>();
    slots.values().forEach(s -> out.addAll(s.provider.models()));
    return out;
  }

  /** A snapshot of the metrics. */
  public MetricsSnapshot metrics() {
    return metrics.snapshot();
  }

  /** Generations in flight. */
  public int inFlight() {
    return inFlight.size();
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Cancels every generation in flight (remote jobs included), waits up to {@code grace} for the
   * remote cancels to be acknowledged, closes the providers.
   *
   * @param grace how long to wait for remote cancels
   * @return how many generations were cancelled
   */
  public int shutdown(Duration grace) {
    if (closed) {
      return 0;
    }
    closed = true;
    int n = 0;
    for (Generation g : List.copyOf(inFlight)) {
      if (g.result.completeExceptionally(new GenerationCancelledException("the service was closed", null))) {
        n++;
        onCallerCancel(g);
      }
    }
    CompletableFuture<?>[] pending = cleanups.toArray(new CompletableFuture<?>[0]);
    try {
      CompletableFuture.allOf(pending).get(grace.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      log.warn("{} remote cancel(s) not acknowledged within {}", cleanups.size(), grace);
    }
    for (ProviderSlot s : slots.values()) {
      try {
        s.provider.close();
      } catch (RuntimeException e) {
        log.warn("{}: close failed: {}", s.id(), e.toString());
      }
    }
    support.close();
    if (n > 0) {
      log.info("closed: cancelled {} generation(s) in flight", n);
    }
    return n;
  }

  @Override
  public void close() {
    shutdown(settings.shutdownGrace);
  }

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return closed;
  }
}
