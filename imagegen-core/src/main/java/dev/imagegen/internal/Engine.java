package dev.imagegen.internal;

import dev.failsafe.spi.Scheduler;
import dev.imagegen.AuthenticationException;
import dev.imagegen.BatchOptions;
import dev.imagegen.BatchResult;
import dev.imagegen.BudgetExceededException;
import dev.imagegen.CacheConfig;
import dev.imagegen.ConfigurationException;
import dev.imagegen.Cost;
import dev.imagegen.ErrorKind;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.GenerationJob;
import dev.imagegen.GenerationListener;
import dev.imagegen.GenerationRejectedException;
import dev.imagegen.GenerationTimeoutException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.JobJournal;
import dev.imagegen.MetricsSnapshot;
import dev.imagegen.ModelInfo;
import dev.imagegen.NoCapableProviderException;
import dev.imagegen.Preset;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RecoveryReport;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.RedactingLogger;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine behind {@code ImageGenerationService}. A generation goes through named stages:
 * <ol>
 *   <li>admission ({@link #submit}): the pending limit, the cache, the deadline timer;</li>
 *   <li>routing ({@link Router}): providers in order, those that cannot honour the request
 *       skipped with the reason;</li>
 *   <li>failover ({@link Failover}): one provider attempt after another, with cool-downs,
 *       circuits and budget reservations;</li>
 *   <li>one attempt ({@link ProviderAttempt}): retries, rate limit, bulkhead, breaker, the
 *       provider's call and reconcile;</li>
 *   <li>settlement ({@link Settlement}): the only place that touches budgets, the journal, the
 *       cache, metrics and the caller's future, run once per attempt and once per generation.</li>
 * </ol>
 * A generation ends once, by whichever comes first of a result, a failure, its deadline, its
 * caller and {@link #close()} ({@link #end}). Nothing here holds a thread while a provider works.
 */
public final class Engine implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Engine.class);
  /** The key of the one health entry of an engine without providers (not a valid provider id). */
  public static final String NO_PROVIDER = "(none)";
  private static final AtomicBoolean SMALL_HOST_WARNED = new AtomicBoolean();

  final EngineSettings settings;
  private final Support support;
  private final Map<String, ProviderSlot> slots = new LinkedHashMap<>();
  private final Router router;
  private final Metrics metrics = new Metrics();
  final Budgets budgets;
  final Settlement settlement;
  final Logger log;
  final Scheduler failsafeScheduler;
  private final Callbacks callbacks;
  final Listeners listeners;
  private final Set<Generation> inFlight = ConcurrentHashMap.newKeySet();
  private final AtomicInteger pending = new AtomicInteger();
  private final Set<CompletableFuture<?>> cleanups = ConcurrentHashMap.newKeySet();
  private final Set<CompletableFuture<?>> activeCalls = ConcurrentHashMap.newKeySet();
  private final Prompts prompts;
  private final @Nullable ResponseCache cache;
  private final Map<String, CheckedHealth> healthCache = new ConcurrentHashMap<>();
  private final Map<String, CompletableFuture<ProviderHealth>> healthInFlight = new ConcurrentHashMap<>();
  private volatile boolean closed;
  private final Recovery recovery;
  private final @Nullable SharedCooldowns sharedCooldowns;
  /** The poll loops webhook deliveries can nudge. */
  final PushRegistry pushes = new PushRegistry();
  private final WebhookIntake webhooks;

  /**
   * Builds an engine.
   *
   * @param settings what the builder collected; the engine keeps a copy
   */
  public Engine(EngineSettings settings) {
    this.settings = settings.copy();
    EngineSettings s = this.settings;
    ScheduledExecutorService given = s.scheduler;
    this.support = new Support(s.httpClient, given == null ? Support.defaultScheduler() : given, given == null);
    this.log = new RedactingLogger(LOG, support.redactor);
    this.failsafeScheduler = new InlineScheduler(support.scheduler);
    this.callbacks = new Callbacks(log);
    this.listeners = new Listeners(s.listeners, callbacks, log);
    int order = 0;
    SharedRateLimits sharedLimits = s.rateLimitStore == null ? null : new SharedRateLimits(s.rateLimitStore, support.scheduler, log);
    for (EngineSettings.Entry e : s.providers) {
      String id = e.provider().id();
      if (slots.containsKey(id)) {
        throw new IllegalArgumentException("provider '" + id + "' registered twice");
      }
      slots.put(id, new ProviderSlot(e.provider(), e.config(), support, order++, s, metrics, sharedLimits));
    }
    this.router = new Router(slots, s.routing);
    this.budgets = new Budgets(s.budget, s.budgetStore != null ? s.budgetStore : new InMemoryBudgetStore());
    this.prompts = new Prompts(s);
    if (ForkJoinPool.getCommonPoolParallelism() < 2 && SMALL_HOST_WARNED.compareAndSet(false, true)) {
      // not a warning: the JDK's thread per answer only hands the answer on to imagegen's HTTP pool
      // at once, as for any client of sendAsync on such a host, and needs no flag
      log.debug("the common ForkJoinPool has fewer than 2 workers on this host: the JDK HTTP client completes each answer "
          + "on a short-lived thread of its own, which hands it on to imagegen's HTTP pool at once");
    }
    this.cache = s.cache == null ? null : ResponseCache.create(s.cache, support.json);
    JobJournal journal = s.journal != null ? s.journal : new InMemoryJobJournal();
    this.settlement = new Settlement(budgets, journal, metrics, cache, log, s.instanceId, listeners);
    this.recovery = new Recovery(this, slots, cache);
    this.webhooks = new WebhookIntake(slots, pushes, s.clock, s.webhookTolerance, log);
    try {
      journal.join(s.instanceId);
    } catch (RuntimeException e) {
      support.close();
      throw new ConfigurationException(List.of("job journal: " + e.getMessage()));
    }
    this.sharedCooldowns = SharedCooldowns.subscribe(s.cooldownStore, slots, log);
  }

  /**
   * Resumes or cancels the jobs left open in the journal by a process that died: see
   * {@code ImageGenerationService.recover()}.
   *
   * @return the report, once every resumed job ended and every cancel was answered
   */
  public CompletableFuture<RecoveryReport> recover() {
    if (closed) {
      return CompletableFuture.failedFuture(new IllegalStateException("the service is closed"));
    }
    return recovery.recover();
  }

  /** The receiver of providers' webhook deliveries: see {@code ImageGenerationService.webhooks()}. */
  public dev.imagegen.WebhookReceiver webhooks() {
    return webhooks;
  }

  /** How many remote jobs a webhook delivery can nudge now (for tests). */
  int pushable() {
    return pushes.size();
  }

  /** The presets requests can name: built-ins, then the configured ones. */
  public List<Preset> presets() {
    return prompts.presets();
  }

  void trackCleanup(CompletableFuture<?> f) {
    cleanups.add(f);
    f.whenComplete((v, e) -> cleanups.remove(f));
  }

  /** A provider call in progress: close waits for it, so that a job it creates is cancelled. */
  void callStarted(CompletableFuture<?> f) {
    activeCalls.add(f);
    f.whenComplete((v, e) -> activeCalls.remove(f));
  }

  boolean isClosed() {
    return closed;
  }

  /** Tells the listeners that a provider's circuit or cool-down changed. */
  void circuitChanged(ProviderSlot slot, GenerationListener.CircuitState state, @Nullable ErrorKind kind, Duration d,
      String reason, @Nullable Generation cause) {
    if (listeners.none()) {
      return;
    }
    GenerationListener.CircuitChanged e = new GenerationListener.CircuitChanged(slot.id(), state, kind, d, reason,
        cause == null ? null : cause.id(), Instant.now());
    listeners.emit(l -> l.circuitChanged(e));
  }

  /** What is left of each budget limit in the current window. */
  public dev.imagegen.BudgetPolicy.Remaining budgetRemaining() {
    return budgets.remaining();
  }

  /** The provider ids, in registration order. */
  public List<String> providerIds() {
    return List.copyOf(slots.keySet());
  }

  // ---------------------------------------------------------------- admission

  /**
   * Starts a generation.
   *
   * @param request the request
   * @param onlyProvider a provider id to use without failover, or null for failover
   * @return the job
   * @throws GenerationRejectedException when the pending limit is reached
   */
  public GenerationJob submit(ImageGenerationRequest request, @Nullable String onlyProvider) {
    return start(request, onlyProvider);
  }

  /**
   * Runs a generation and waits for it; an interrupt cancels it (remote job included).
   *
   * @param request the request
   * @param onlyProvider a provider id to use without failover, or null for failover
   * @return the response
   */
  public ImageGenerationResponse generate(ImageGenerationRequest request, @Nullable String onlyProvider) {
    Generation g = start(request, onlyProvider);
    try {
      return g.outcome.get();
    } catch (InterruptedException e) {
      cancel(g, "interrupted while waiting");
      Thread.currentThread().interrupt();
      throw new GenerationCancelledException("interrupted while waiting", null, e);
    } catch (ExecutionException e) {
      throw classify(null, e.getCause());
    }
  }

  private Generation start(ImageGenerationRequest request, @Nullable String onlyProvider) {
    if (closed) {
      throw new IllegalStateException("the service is closed");
    }
    if (onlyProvider != null && !slots.containsKey(onlyProvider)) {
      throw new IllegalArgumentException("unknown provider '" + onlyProvider + "' (configured: " + String.join(", ", slots.keySet()) + ")");
    }
    if (pending.incrementAndGet() > settings.maxPending) {
      pending.decrementAndGet();
      metrics.refused(ErrorKind.REJECTED);
      throw new GenerationRejectedException(settings.maxPending + " generations are already pending, the limit set with "
          + "maxPendingGenerations (imagegen.max-pending); try again when some have finished");
    }
    Generation g;
    try {
      ImageGenerationRequest prepared;
      try {
        prepared = validated(request, onlyProvider);
      } catch (ImageGenerationException e) { // an unknown preset, option or prompt: a generation that failed at once
        metrics.refused(e.kind());
        throw e;
      }
      Duration timeout = request.timeout() != null ? request.timeout() : settings.defaultTimeout;
      g = new Generation(this, newId(), prepared, Instant.now().plus(timeout), callbacks.lane());
      metrics.started();
      if (!listeners.none()) {
        @Nullable Object[] contexts = listeners.capture();
        Generation started = g;
        Instant at = Instant.now();
        listeners.emitIndexed((l, i) -> l.generationStarted(
            new GenerationListener.Started(started.id(), request, onlyProvider, at, contexts[i])));
      }
      inFlight.add(g);
      g.outcome.whenComplete((r, e) -> {
        inFlight.remove(g);
        pending.decrementAndGet();
      });
      if (cache != null && settings.cache != null && (prepared.seed() != null || settings.cache.cacheUnseeded())) {
        ResponseCache.Entry hit = cachedEntry(g, prepared);
        if (hit != null) {
          if (g.claimEnd()) {
            settlement.cached(g, hit);
          }
          return g;
        }
      }
      g.deadlineTask = support.scheduler.schedule(() -> onDeadline(g), timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RuntimeException e) {
      pending.decrementAndGet();
      throw e;
    }
    Router.Route route = router.route(g.request, onlyProvider);
    route.skipped().forEach((id, why) -> settlement.skipped(g, id, ErrorKind.NO_CAPABLE_PROVIDER, why, null));
    if (route.candidates().isEmpty()) {
      end(g, slots.isEmpty() ? new NoCapableProviderException(settings.noProviderMessage, onlyProvider)
          : Failover.noCapable(route, false, onlyProvider));
    } else {
      new Failover(this, g, route, onlyProvider != null).next();
    }
    return g;
  }

  /**
   * Checks a request against this service before any provider call and prepares it (preset,
   * style): every problem at once, the presets it names, its {@code providerOptions} (provider
   * ids and keys) and, when one provider alone would serve it (named, or the only one
   * configured), what makes it wrong for that provider (prompt length, sampler).
   *
   * @param request the request
   * @param onlyProvider the provider named for it, or null for failover
   * @return the request as providers receive it
   * @throws InvalidRequestException listing every problem
   */
  public ImageGenerationRequest validated(ImageGenerationRequest request, @Nullable String onlyProvider) {
    List<String> problems = new ArrayList<>();
    ImageGenerationRequest prepared = null;
    try {
      prepared = prompts.prepare(request);
    } catch (InvalidRequestException e) {
      problems.addAll(e.violations());
    }
    request.providerOptions().forEach((id, options) -> {
      ProviderSlot s = slots.get(id);
      if (s == null) {
        problems.add("providerOptions names provider '" + id + "', which is not configured (configured: "
            + String.join(", ", slots.keySet()) + ")");
      } else {
        problems.addAll(s.provider.capabilities().unknownOptions(options, id));
      }
    });
    ProviderSlot alone = onlyProvider != null ? slots.get(onlyProvider) : slots.size() == 1 ? slots.values().iterator().next() : null;
    if (alone != null) {
      // a request whose preset is unknown is checked as given, so that its other problems show too
      problems.addAll(alone.provider.capabilities().invalid(prepared != null ? prepared : request, alone.id()));
    }
    if (!problems.isEmpty() || prepared == null) {
      throw new InvalidRequestException(problems, onlyProvider, null);
    }
    return prepared;
  }

  private ResponseCache.@Nullable Entry cachedEntry(Generation g, ImageGenerationRequest prepared) {
    CacheConfig config = settings.cache;
    ResponseCache c = cache;
    if (config == null || c == null) {
      return null;
    }
    try {
      g.cacheKey = RequestHash.of(prepared, config.namespace());
      g.requestHash(g.cacheKey);
      return c.get(g.cacheKey);
    } catch (RuntimeException e) {
      log.warn("response cache lookup failed: {}; generating", e.toString());
      return null;
    }
  }

  /** A random version-4 UUID; ids need to be unique, not unpredictable, so no SecureRandom. */
  private static String newId() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    long hi = (r.nextLong() & ~0xF000L) | 0x4000L;
    long lo = (r.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return new UUID(hi, lo).toString();
  }

  // ---------------------------------------------------------------- ends

  /** Ends a generation with a failure from failover (the attempt in progress, if any, is abandoned). */
  void end(Generation g, ImageGenerationException e) {
    if (!g.claimEnd()) {
      return;
    }
    stopTimer(g);
    ProviderAttempt a = g.current();
    if (a != null) {
      a.abandon(x -> e);
    }
    settlement.failed(g, e);
  }

  private void onDeadline(Generation g) {
    if (!g.claimEnd()) {
      return;
    }
    ProviderAttempt a = g.current();
    GenerationTimeoutException[] timeout = new GenerationTimeoutException[1];
    if (a != null) {
      a.abandon(x -> timeout[0] = timedOut(x));
    }
    // the attempt may have ended on its own at the same instant: the timeout still names it
    settlement.failed(g, timeout[0] != null ? timeout[0] : timedOut(a));
  }

  private static GenerationTimeoutException timedOut(@Nullable ProviderAttempt a) {
    AttemptContext c = a == null ? null : a.lastCall();
    boolean remote = c != null && c.remoteCancelSent();
    String job = c == null ? null : c.remoteJobId();
    return new GenerationTimeoutException("no image within the deadline"
        + (remote ? "; the remote job " + job + " was cancelled" : ""), a == null ? null : a.slot.id(), remote, null);
  }

  /**
   * Cancels a generation (caller, interrupt, close); its remote job is cancelled too.
   *
   * @return true if this call ended it
   */
  boolean cancel(Generation g, String why) {
    return cancel(g, why, false);
  }

  /**
   * @param shownAtOnce whether the caller's future is cancelled before the bookkeeping (a caller's
   *     {@code cancel()}: it must see {@code isCancelled()} as soon as the call returns)
   */
  boolean cancel(Generation g, String why, boolean shownAtOnce) {
    if (!g.claimEnd()) {
      return false;
    }
    if (shownAtOnce) {
      g.cancelHandedOut();
    }
    stopTimer(g);
    ProviderAttempt a = g.current();
    GenerationCancelledException e = new GenerationCancelledException(why, a == null ? null : a.slot.id());
    if (a != null) {
      a.abandon(x -> e);
    }
    settlement.failed(g, e);
    return true;
  }

  /** The caller completed the future we handed out (cancel, orTimeout, completeExceptionally): a cancel. */
  void cancelFromOutside(Generation g, @Nullable Throwable how) {
    Throwable c = how instanceof CompletionException && how.getCause() != null ? how.getCause() : how;
    String why = c instanceof CancellationException ? "cancelled by the caller"
        : c instanceof TimeoutException ? "the caller's own timeout on the future passed"
        : "the caller completed the future" + (c == null ? "" : " (" + c.getClass().getSimpleName() + ")");
    cancel(g, why);
  }

  private static void stopTimer(Generation g) {
    var t = g.deadlineTask;
    if (t != null) {
      t.cancel(false);
    }
  }

  // ---------------------------------------------------------------- shared helpers

  static Duration remaining(Generation g) {
    Duration d = Duration.between(Instant.now(), g.deadline());
    return d.isNegative() ? Duration.ZERO : d;
  }

  CompletableFuture<Void> delayed(Duration d) {
    CompletableFuture<Void> f = new CompletableFuture<>();
    try {
      support.scheduler.schedule(() -> f.complete(null), Math.max(0, d.toMillis()), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      f.completeExceptionally(new GenerationCancelledException("the service was closed", null));
    }
    return f;
  }

  /** Runs {@code task} after {@code d} on the scheduler; at once when the scheduler is shut down. */
  void afterDelay(Duration d, Runnable task) {
    try {
      support.scheduler.schedule(task, d.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      task.run();
    }
  }

  /** The cost of a result; a price list that throws gives an unknown cost, not a lost image. */
  Cost guardedCost(ProviderSlot slot, Generation g, ProviderResult r) {
    try {
      return slot.costModel.actual(g.request, r);
    } catch (RuntimeException e) {
      AttemptLog.warn(slot, g, "{}: price list failed: {}", slot.id(), e.toString());
      return Cost.unknown();
    }
  }

  static boolean countsAgainstCircuit(ImageGenerationException e) {
    return e.kind() == ErrorKind.UNAVAILABLE || e.kind() == ErrorKind.RATE_LIMITED;
  }

  /**
   * The failure for a submit whose outcome is unknown and could not be reconciled: the job may
   * exist and be billed, so failover is off unless the operator allowed it.
   */
  static ProviderUnavailableException unknownOutcome(String providerId, ProviderUnavailableException lost, boolean failover) {
    String msg = lost.getMessage() + "; a job may have been created and may be billed, so it was not submitted again"
        + (failover ? "" : " and no other provider was tried (allow it with failoverOnUnknownOutcome)");
    return ProviderUnavailableException.mayBeBilled(msg, providerId, failover, lost);
  }

  ImageGenerationException classify(@Nullable ProviderSlot slot, @Nullable Throwable t) {
    Throwable c = t;
    while ((c instanceof CompletionException || c instanceof ExecutionException) && c.getCause() != null) {
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
      return ProviderUnavailableException.transientFailure("timed out", id, c);
    }
    if (c == null) {
      return ProviderUnavailableException.failOver("provider fault", id, null);
    }
    String msg = support.redactor.redact(c.getClass().getSimpleName() + (c.getMessage() == null ? "" : ": " + c.getMessage()));
    return ProviderUnavailableException.failOver("provider fault: " + msg, id, null);
  }

  // ---------------------------------------------------------------- batches

  /**
   * Runs requests with bounded concurrency; one result or error per item, in input order.
   *
   * @param requests the requests
   * @param options concurrency, budget, progress
   * @return the result once every item finished
   */
  public CompletableFuture<BatchResult> batch(List<ImageGenerationRequest> requests, BatchOptions options) {
    int n = requests.size();
    BatchResult.Item[] items = new BatchResult.Item[n];
    AtomicInteger next = new AtomicInteger();
    BatchBudget budget = new BatchBudget(options.budget());
    int[] counts = new int[2];
    Callbacks.Lane events = callbacks.lane("batch");
    List<CompletableFuture<Void>> lanes = new ArrayList<>();
    for (int i = 0; i < Math.min(options.concurrency(), n); i++) {
      lanes.add(batchLane(requests, items, next, budget, counts, options, events));
    }
    CompletableFuture<BatchResult> all = CompletableFuture.allOf(lanes.toArray(new CompletableFuture<?>[0]))
        .thenApply(v -> new BatchResult(Arrays.asList(items)));
    if (options.progress() == null) {
      return all;
    }
    // the result goes out after the last progress event, unless the listener holds it past a short wait
    return all.thenCompose(r -> {
      CompletableFuture<BatchResult> out = new CompletableFuture<>();
      events.run("batch result stage", () -> out.complete(r));
      afterDelay(Generation.LISTENER_GRACE, () -> out.complete(r));
      return out;
    });
  }

  private CompletableFuture<Void> batchLane(List<ImageGenerationRequest> requests, BatchResult.Item[] items,
      AtomicInteger next, BatchBudget budget, int[] counts, BatchOptions options, Callbacks.Lane events) {
    int i = next.getAndIncrement();
    if (i >= requests.size()) {
      return CompletableFuture.completedFuture(null);
    }
    ImageGenerationRequest r = requests.get(i);
    BigDecimal reserved = BigDecimal.ZERO;
    boolean admitted = false;
    CompletableFuture<ImageGenerationResponse> f;
    try {
      reserved = budget.reserve(estimateFirst(r));
      admitted = true;
      f = submit(r, null).result();
    } catch (ImageGenerationException e) {
      if (!admitted) { // refused before it started (the batch budget, an invalid request); submit counts its own
        metrics.refused(e.kind());
      }
      f = CompletableFuture.failedFuture(e); // a reservation made is released when the item settles
    }
    BigDecimal held = reserved;
    return f.handle((resp, err) -> {
      ImageGenerationException e = err == null ? null : classify(null, err);
      budget.settle(held, resp == null ? BigDecimal.ZERO : resp.cost().amountOrZero());
      Consumer<BatchOptions.BatchProgress> listener = options.progress();
      synchronized (counts) { // the events are queued in the order the counts grow
        items[i] = new BatchResult.Item(i, r, resp, e);
        counts[resp != null ? 0 : 1]++;
        BatchOptions.BatchProgress p = new BatchOptions.BatchProgress(items.length, counts[0], counts[1], budget.spent());
        if (listener != null) {
          events.add("batch progress listener", () -> listener.accept(p));
        }
      }
      events.drain();
      return null;
    }).thenCompose(v -> batchLane(requests, items, next, budget, counts, options, events));
  }

  private Cost estimateFirst(ImageGenerationRequest r) {
    String first = selectOptimalProvider(r);
    ProviderSlot slot = first == null ? null : slots.get(first);
    if (slot == null) {
      return Cost.unknown();
    }
    return slot.costModel.estimate(prompts.prepare(r));
  }

  /** A batch's own budget: reserve the estimate before each item, settle with its actual cost. */
  private static final class BatchBudget {
    private final java.math.@Nullable BigDecimal limit;
    private BigDecimal reserved = BigDecimal.ZERO;
    private BigDecimal spent = BigDecimal.ZERO;

    BatchBudget(java.math.@Nullable BigDecimal limit) {
      this.limit = limit;
    }

    synchronized BigDecimal reserve(Cost estimate) {
      if (limit == null) {
        return BigDecimal.ZERO;
      }
      if (!estimate.isKnown()) {
        throw new BudgetExceededException("batch budget set and the price is unknown", null);
      }
      BigDecimal a = estimate.amountOrZero();
      if (spent.add(reserved).add(a).compareTo(limit) > 0) {
        throw new BudgetExceededException("the batch budget of " + limit.stripTrailingZeros().toPlainString()
            + " USD would be exceeded (spent " + spent.stripTrailingZeros().toPlainString() + ", in flight "
            + reserved.stripTrailingZeros().toPlainString() + ")", null);
      }
      reserved = reserved.add(a);
      return a;
    }

    synchronized void settle(BigDecimal held, BigDecimal actual) {
      reserved = reserved.subtract(held);
      spent = spent.add(actual);
    }

    synchronized BigDecimal spent() {
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
    for (ProviderSlot s : router.route(prepared, null).candidates()) {
      if (s.unavailableReason() == null) {
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
    for (ProviderSlot s : router.route(prepared, null).candidates()) {
      out.put(s.id(), s.costModel.estimate(prepared));
    }
    return out;
  }

  /**
   * Checks one provider with a real call, afresh (not from the cache), waiting at most the
   * health-check timeout.
   *
   * @param providerId the provider
   * @return its health
   */
  public ProviderHealth health(String providerId) {
    ProviderSlot s = slots.get(providerId);
    if (s == null) {
      throw new IllegalArgumentException("unknown provider '" + providerId + "' (configured: " + String.join(", ", slots.keySet()) + ")");
    }
    return healthAsync(s, settings.healthTimeout).join();
  }

  /**
   * Every provider's health, checked in parallel: a result younger than the cache time-to-live is
   * reused, and concurrent callers share the one check in flight per provider. With no provider,
   * one {@code DOWN} entry under {@value #NO_PROVIDER}.
   *
   * @return provider id to health, in registration order
   */
  public Map<String, ProviderHealth> health() {
    if (slots.isEmpty()) {
      return Map.of(NO_PROVIDER, ProviderHealth.of(NO_PROVIDER,
          ProviderHealth.State.DOWN, Duration.ZERO, settings.noProviderMessage));
    }
    Map<String, CompletableFuture<ProviderHealth>> fs = new LinkedHashMap<>();
    slots.values().forEach(s -> fs.put(s.id(), cachedHealth(s)));
    Map<String, ProviderHealth> out = new LinkedHashMap<>();
    fs.forEach((id, f) -> out.put(id, f.join()));
    return out;
  }

  /**
   * Every provider's last known health, at once, never waiting for a check: a result older than the
   * cache time-to-live (or none yet) starts a check in the background, the one in flight per
   * provider that {@link #health()} shares. A provider never checked is {@code UNKNOWN} until its
   * first check ends. With no provider, what {@link #health()} answers.
   *
   * @return provider id to its last known health, in registration order
   */
  public Map<String, ProviderHealth> cachedHealth() {
    if (slots.isEmpty()) {
      return health();
    }
    Map<String, ProviderHealth> out = new LinkedHashMap<>();
    for (ProviderSlot s : slots.values()) {
      CompletableFuture<ProviderHealth> check = cachedHealth(s); // completed when fresh or answered at once
      CheckedHealth last = healthCache.get(s.id());
      out.put(s.id(), check.isDone() ? check.join() : last != null ? last.health()
          : ProviderHealth.of(s.id(), ProviderHealth.State.UNKNOWN, Duration.ZERO, "not checked yet; the first check is running"));
    }
    return out;
  }

  /** A provider's health checked at an instant of {@link EngineSettings#clock}. */
  private record CheckedHealth(ProviderHealth health, Instant at) {}

  private CompletableFuture<ProviderHealth> cachedHealth(ProviderSlot s) {
    CheckedHealth last = healthCache.get(s.id());
    if (last != null && settings.clock.instant().isBefore(last.at().plus(settings.healthCacheTtl))) {
      return CompletableFuture.completedFuture(last.health());
    }
    CompletableFuture<ProviderHealth> mine = new CompletableFuture<>();
    CompletableFuture<ProviderHealth> running = healthInFlight.putIfAbsent(s.id(), mine);
    if (running != null) {
      return running;
    }
    CheckedHealth now = healthCache.get(s.id());
    if (now != null && now != last && settings.clock.instant().isBefore(now.at().plus(settings.healthCacheTtl))) {
      healthInFlight.remove(s.id(), mine); // another caller's check ended in between
      mine.complete(now.health());
      return mine;
    }
    healthAsync(s, settings.healthTimeout).whenComplete((h, e) -> {
      ProviderHealth result = h != null ? h : ProviderHealth.of(s.id(), ProviderHealth.State.DOWN, Duration.ZERO, String.valueOf(e));
      healthCache.put(s.id(), new CheckedHealth(result, settings.clock.instant()));
      healthInFlight.remove(s.id(), mine);
      mine.complete(result);
    });
    return mine;
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

  /**
   * Every provider's models, in registration order: one entry per model of a provider, whatever
   * the provider listed (an entry named by another's alias, or a model listed twice, is folded into
   * one with the aliases of both and the first description given). A provider whose list fails is
   * left out, with a warning.
   */
  public List<ModelInfo> models() {
    List<ModelInfo> out = new ArrayList<>();
    for (ProviderSlot s : slots.values()) {
      try {
        out.addAll(oneEntryPerModel(s.provider.models()));
      } catch (RuntimeException e) {
        log.warn("{}: listing its models failed: {}", s.id(), e.toString());
      }
    }
    return out;
  }

  private static List<ModelInfo> oneEntryPerModel(List<ModelInfo> listed) {
    Map<String, ModelInfo> byId = new LinkedHashMap<>();
    for (ModelInfo m : listed) {
      byId.merge(m.provider() + '\u0000' + m.id(), m, Engine::merged);
    }
    Map<String, String> aliasOf = new LinkedHashMap<>(); // alias key -> the key of the model it names
    byId.forEach((key, m) -> m.aliases().forEach(a -> {
      String aliasKey = m.provider() + '\u0000' + a;
      if (!aliasKey.equals(key)) {
        aliasOf.putIfAbsent(aliasKey, key);
      }
    }));
    for (String key : List.copyOf(byId.keySet())) {
      String target = aliasOf.get(key);
      ModelInfo alias = byId.get(key);
      if (target != null && alias != null && byId.containsKey(target) && aliasOf.get(target) == null) {
        byId.remove(key);
        byId.computeIfPresent(target, (k, m) -> merged(m, new ModelInfo(m.provider(), m.id(), alias.aliases(), alias.description())));
      }
    }
    return List.copyOf(byId.values());
  }

  private static ModelInfo merged(ModelInfo first, ModelInfo second) {
    List<String> aliases = new ArrayList<>(first.aliases());
    second.aliases().stream().filter(a -> !aliases.contains(a) && !a.equals(first.id())).forEach(aliases::add);
    String description = first.description().isBlank() ? second.description() : first.description();
    return new ModelInfo(first.provider(), first.id(), aliases, description);
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
   * Closes the service: no new generation is accepted and no new submit leaves the process; every
   * generation in flight is cancelled, remote jobs included (also those whose submit is still on
   * the wire: their cancel goes out once their id arrives); waits up to {@code grace} for those
   * submits and cancels; lists any remote job left running; closes the providers.
   *
   * @param grace how long to wait for submits in flight and remote cancels
   * @return how many generations were cancelled
   */
  public int shutdown(Duration grace) {
    if (closed) {
      return 0;
    }
    closed = true;
    recovery.close();
    if (sharedCooldowns != null) {
      sharedCooldowns.close();
    }
    int n = 0;
    List<CompletableFuture<?>> callersFutures = new ArrayList<>();
    for (Generation g : List.copyOf(inFlight)) {
      if (cancel(g, "the service was closed")) {
        n++;
        callersFutures.add(g.result());
      }
    }
    long until = System.nanoTime() + grace.toNanos();
    // when close returns, every caller's future has its answer
    callersFutures.removeIf(CompletableFuture::isDone);
    while (!(activeCalls.isEmpty() && cleanups.isEmpty() && callersFutures.isEmpty()) && System.nanoTime() < until) {
      callersFutures.removeIf(CompletableFuture::isDone);
      List<CompletableFuture<?>> pendingWork = new ArrayList<>(activeCalls);
      pendingWork.addAll(callersFutures);
      pendingWork.addAll(cleanups);
      try {
        CompletableFuture.allOf(pendingWork.toArray(new CompletableFuture<?>[0]))
            .get(Math.max(1, (until - System.nanoTime()) / 1_000_000), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      } catch (ExecutionException | TimeoutException e) {
        // a failed call or cancel is fine; a timeout ends the loop at its deadline
      }
    }
    List<String> left = settlement.openJobs();
    if (!activeCalls.isEmpty() || !left.isEmpty()) {
      log.warn("closed with {} provider call(s) still in flight and {} remote job(s) not confirmed cancelled{}", activeCalls.size(),
          left.size(), left.isEmpty() ? "" : ": " + String.join(", ", left.subList(0, Math.min(50, left.size())))
              + (left.size() > 50 ? ", ..." : "") + "; they may run on and be billed");
    }
    for (ProviderSlot s : slots.values()) {
      try {
        s.provider.close();
      } catch (RuntimeException e) {
        log.warn("{}: close failed: {}", s.id(), e.toString());
      }
    }
    try {
      settlement.journal().leave(settings.instanceId);
    } catch (RuntimeException e) {
      log.warn("job journal: leaving failed: {}", e.toString());
    }
    support.close();
    callbacks.close();
    if (n > 0) {
      log.info("closed: cancelled {} generation(s) in flight", n);
    }
    return n;
  }

  @Override
  public void close() {
    shutdown(settings.shutdownGrace);
  }

  /** Remote jobs created by this engine that are neither finished nor confirmed cancelled. */
  public List<String> openRemoteJobs() {
    return settlement.openJobs();
  }
}
