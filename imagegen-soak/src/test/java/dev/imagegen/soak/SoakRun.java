package dev.imagegen.soak;

import dev.imagegen.BudgetPolicy;
import dev.imagegen.GenerationJob;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.MetricsSnapshot;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testkit.KitLogs;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;
import org.jspecify.annotations.Nullable;

/**
 * Runs the soak: starts a fault-injecting server per provider, builds the services, makes the
 * generations through the three APIs with deadlines and cancels, watches threads, heap and logs
 * meanwhile, and keeps everything the invariants are checked against. {@link Verdict} reads it.
 */
final class SoakRun {
  /** Everything that shapes a run. */
  record Options(
      int generations,
      long seed,
      int maxInFlight,
      double faultScale,
      List<String> providers,
      int services,
      boolean outage,
      int blockingThreads,
      BiFunction<String, ImageProvider, ImageProvider> wrap,
      String label,
      boolean closePhase,
      boolean cache,
      boolean crashPhase) {

    /** The soak as the normal test run and the benchmark run it. */
    static Options standard(int generations, long seed) {
      return new Options(generations, seed, Math.min(1500, Math.max(50, generations / 2)), 1.0,
          List.of("replicate", "fal", "runpod", "horde", "huggingface", "sdwebui"), 3, true, 24, (id, p) -> p,
          "imagegen fault soak", true, true, true);
    }

    /** With every provider wrapped (a broken build). */
    Options withWrap(String label, BiFunction<String, ImageProvider, ImageProvider> wrap) {
      return new Options(generations, seed, maxInFlight, faultScale, providers, services, outage, blockingThreads,
          wrap, label, closePhase, cache, crashPhase);
    }

    /** With the crash phase (after the run), whatever else is left out. */
    Options withCrashPhase() {
      return new Options(generations, seed, maxInFlight, faultScale, providers, services, outage, blockingThreads,
          wrap, label, closePhase, cache, true);
    }

    /** Smaller: at most this many in flight, no outage, no closing phase, no crash phase (the breakage tests). */
    Options small(int inFlight) {
      return new Options(generations, seed, inFlight, faultScale, providers, services, false, blockingThreads, wrap,
          label, false, cache, false);
    }
  }

  /** Prices per image, per provider (so that budgets apply to all of them). */
  static final Map<String, BigDecimal> PRICES = Map.of(
      "horde", new BigDecimal("0.0010"), "replicate", new BigDecimal("0.0030"), "fal", new BigDecimal("0.0025"),
      "runpod", new BigDecimal("0.0020"), "huggingface", new BigDecimal("0.0015"), "sdwebui", new BigDecimal("0.0005"));
  /** The longest deadline a generation gets. */
  static final Duration MAX_DEADLINE = Duration.ofMillis(10_000);
  /** How late past its deadline a generation may end. */
  static final Duration SLACK = Duration.ofMillis(2000);
  /**
   * Callers arrive at most this fast, so that generations failing at once (every provider skipped)
   * cannot burn through the rest of the run in a moment.
   */
  static final long LAUNCHES_PER_SECOND = 300;
  /** Callers that give up while the provider is down. */
  static final int OUTAGE_CANCELS = 20;
  static final long RETRY_AFTER_SHORT_S = 1;
  static final long RETRY_AFTER_LONG_S = 5;
  /** The circuit breaker's delay before a trial call. */
  static final Duration BREAKER_DELAY = Duration.ofSeconds(1);
  /** RunPod is priced per GPU-second: this price, and the typical run the estimate assumes. */
  static final BigDecimal RUNPOD_USD_PER_GPU_SECOND = new BigDecimal("0.001");
  static final String RUNPOD_TYPICAL_GPU_SECONDS = "0.4";
  /** Generations started on the closing service, and how many calls it runs at once (the rest wait). */
  static final int CLOSING_GENERATIONS = 60;
  static final int CLOSING_MAX_CONCURRENT = 8;
  /** How long the closing service's submits are held by the servers (less than its shutdown grace). */
  static final long CLOSING_HOLD_MS = 2000;
  /** ... and for odd generations longer than the grace (3 s): still in flight when close gives up waiting. */
  static final long CLOSING_HOLD_LONG_MS = 4500;
  /** The crash phase: generations per resumable provider, their deadline, the providers, the instance id. */
  static final int CRASH_GENERATIONS_PER_PROVIDER = 10;
  static final Duration CRASH_DEADLINE = Duration.ofSeconds(4);
  static final List<String> CRASH_PROVIDERS = List.of("replicate", "fal", "runpod", "horde");
  static final String CRASH_INSTANCE = "soak-crashy";
  /** Prompts of repeating (cacheable, seeded) requests name this plus their group. */
  static final int CACHE_LABEL_BASE = 900_000;
  /** Groups of repeating requests. */
  static final int CACHE_GROUPS = 20;
  /** The cache directory's bound: small, so that both stores evict under each other. */
  static final long CACHE_MAX_BYTES = 24 * 1024;
  /** How long a blocking progress listener blocks. */
  static final long LISTENER_BLOCK_MS = 3000;

  final Options options;
  final Map<String, SoakServer> servers = new LinkedHashMap<>();
  final Map<String, String> keys = new LinkedHashMap<>();
  final List<Gen> gens = new ArrayList<>();
  final List<ImageGenerationService> services = new ArrayList<>();
  final List<List<String>> routing = new ArrayList<>();
  final List<MetricsSnapshot> metrics = new ArrayList<>();
  final WatchedBudgetStore budget = new WatchedBudgetStore();
  /** The SDK's own record of the remote jobs it learned of, shared by the services. */
  final RecordingJournal journal = new RecordingJournal();
  final BudgetPolicy policy;
  final List<String> logLeaks = new CopyOnWriteArrayList<>();
  volatile long logLinesScanned;
  volatile long logLinesLost;
  volatile boolean logCapturing;
  volatile long wallNanos;
  volatile int peakThreads;
  volatile int peakSdkThreads;
  volatile int threadsAtStart;
  volatile int peakInFlight;
  volatile long peakHeap;
  volatile long outageNanos;
  volatile @Nullable String outageProvider;
  volatile long outageAtNanos;
  volatile int outageCancels;
  volatile long launchNanos;
  volatile long startNanos;
  volatile long firstWaveNanos;
  volatile long slotWaits;
  volatile int journalRequests;
  final List<String> sdkThreadNames = new CopyOnWriteArrayList<>();
  volatile int peakSampledThreads;
  volatile Map<String, Integer> threadGroupsAtPeak = Map.of();
  volatile Map<String, Integer> threadPatternsAtPeak = Map.of();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger ended = new AtomicInteger();
  final List<Throwable> monitorErrors = new CopyOnWriteArrayList<>();
  private final CompletableFuture<Void> thirtyPercent = new CompletableFuture<>();
  private final AtomicLong logMark = new AtomicLong();
  /** The other host off-host redirects point to; it records everything that reaches it. */
  com.github.tomakehurst.wiremock.WireMockServer attacker;
  /** The generations of the closing phase (not among {@link #gens}: a service closed under them). */
  final List<Gen> closingGens = new ArrayList<>();
  volatile long closeStartNanos;
  volatile long closeReturnedNanos;
  /** The close warning's lines, the remote jobs it lists, and the calls it counted in flight. */
  final List<String> closeWarnings = new CopyOnWriteArrayList<>();
  final java.util.Set<String> closeListed = java.util.concurrent.ConcurrentHashMap.newKeySet();
  volatile int closeCallsInFlight;
  volatile int closingUnanswered;
  volatile long heapAfterRun;
  /** The directory the first two services' caches share (two processes sharing it), or null. */
  java.nio.file.Path cacheDir;
  /** What the vandal did to the shared cache directory (another process half-writing or deleting). */
  final Map<String, AtomicInteger> vandalism = new java.util.concurrent.ConcurrentHashMap<>();
  /** The crash phase: its first generation (the rest follow), or -1 when it did not run. */
  volatile int crashFrom = -1;
  volatile int crashTo = -1;
  volatile long crashNanos;
  volatile long crashRecoveredNanos;
  /** The journal entries the dead services left (read right after the crash). */
  volatile List<dev.imagegen.JobJournal.Entry> crashLeft = List.of();
  /** The entries still open after the last recover(), and each recovery's report. */
  volatile List<dev.imagegen.JobJournal.Entry> crashStillOpen = List.of();
  final List<dev.imagegen.RecoveryReport> crashReports = new CopyOnWriteArrayList<>();
  final List<dev.imagegen.RecoveredJob> crashRecovered = new CopyOnWriteArrayList<>();
  volatile @Nullable Crash crash;
  volatile @Nullable String crashProblem;

  boolean isCrashGen(int gen) {
    return crashFrom >= 0 && gen >= crashFrom && gen < crashTo;
  }

  /** Time the launching thread spent inside generateAsync and submit (they should return at once). */
  final java.util.concurrent.atomic.LongAdder callerNanos = new java.util.concurrent.atomic.LongAdder();

  private SoakRun(Options options) {
    this.options = options;
    BigDecimal total = new BigDecimal("0.0015").multiply(BigDecimal.valueOf(options.generations()));
    this.policy = BudgetPolicy.builder()
        .total(total)
        .perProvider("fal", new BigDecimal("0.0004").multiply(BigDecimal.valueOf(options.generations())))
        .perProvider("runpod", new BigDecimal("0.0003").multiply(BigDecimal.valueOf(options.generations())))
        .build();
  }

  /** Fails when the soak's own servers broke (then the invariants say nothing). */
  void assertSoakSound() {
    if (!monitorErrors.isEmpty()) {
      throw new AssertionError("the soak's monitor failed " + monitorErrors.size() + " time(s)", monitorErrors.get(0));
    }
    for (SoakServer s : servers.values()) {
      if (!s.ledger.errors.isEmpty()) {
        AssertionError e = new AssertionError("the soak's " + s.provider + " server failed " + s.ledger.errors.size()
            + " time(s); the run proves nothing", s.ledger.errors.get(0));
        throw e;
      }
    }
  }

  /** Runs a soak to the end and returns it for checking. */
  static SoakRun run(Options options) throws Exception {
    SoakRun run = new SoakRun(options);
    try {
      run.execute();
    } finally {
      for (SoakServer s : run.servers.values()) {
        s.close();
      }
      if (run.attacker != null) {
        run.attacker.stop();
      }
    }
    System.gc();
    run.heapAfterRun = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    return run;
  }

  private void execute() throws Exception {
    FaultPlan plan = new FaultPlan(options.seed(), options.faultScale());
    Duration delay = MAX_DEADLINE.plus(Duration.ofSeconds(3));
    attacker = new com.github.tomakehurst.wiremock.WireMockServer(
        com.github.tomakehurst.wiremock.core.WireMockConfiguration.options().bindAddress("127.0.0.1").dynamicPort()
            .containerThreads(6).jettyAcceptors(1).stubRequestLoggingDisabled(true));
    attacker.start();
    for (String id : options.providers()) {
      SoakServer server = new SoakServer(id, plan, delay, RETRY_AFTER_SHORT_S, RETRY_AFTER_LONG_S);
      server.ledger.redirectBase = "http://127.0.0.1:" + attacker.port();
      servers.put(id, server);
      keys.put(id, "SOAK-SECRET-" + id + "-" + Long.toHexString(new SplittableRandom(options.seed() ^ id.hashCode()).nextLong()));
    }
    Map<String, ImageProviderFactory> factories = new LinkedHashMap<>();
    for (ImageProviderFactory f : ServiceLoader.load(ImageProviderFactory.class)) {
      factories.put(f.id(), f);
    }
    for (int s = 0; s < options.services(); s++) {
      List<String> order = new ArrayList<>();
      int k = options.providers().size();
      for (int i = 0; i < k; i++) {
        order.add(options.providers().get((i + s * 2) % k));
      }
      routing.add(order);
      services.add(buildService(order, factories, 256, s < 2 && options.cache()));
    }
    this.factories = factories;
    SplittableRandom rnd = new SplittableRandom(options.seed());
    for (int n = 0; n < options.generations(); n++) {
      double u = rnd.nextDouble();
      Gen.Mode mode = u < 0.25 ? Gen.Mode.BLOCKING : u < 0.625 ? Gen.Mode.ASYNC : Gen.Mode.SUBMIT;
      Duration deadline = rnd.nextDouble() < 0.2 ? Duration.ofMillis(400 + rnd.nextInt(1100))
          : Duration.ofMillis(4000 + rnd.nextInt((int) MAX_DEADLINE.toMillis() - 4000));
      Duration cancel = rnd.nextDouble() < 0.08 ? Duration.ofMillis(50 + rnd.nextInt((int) Math.min(3000, deadline.toMillis())))
          : null;
      Gen g = new Gen(n, mode, deadline, cancel, n % options.services());
      if (mode == Gen.Mode.SUBMIT) {
        // some callers' progress listeners throw an Error or block (a seed of their own: the rest is unchanged)
        double h = new SplittableRandom(options.seed() * 31 + n).nextDouble();
        g.hostile = h < 0.03 ? Gen.Hostile.THROWS_ASSERTION_ERROR : h < 0.05 ? Gen.Hostile.THROWS_STACK_OVERFLOW
            : h < 0.08 ? Gen.Hostile.BLOCKS : Gen.Hostile.NONE;
      }
      if (g.service < 2 && options.cache()) {
        // some requests repeat, seeded (cacheable) through the two services that share a cache directory
        SplittableRandom c = new SplittableRandom(options.seed() * 17 + n);
        if (c.nextDouble() < 0.12) {
          int group = c.nextInt(CACHE_GROUPS);
          g.label = CACHE_LABEL_BASE + group;
          g.seed = (long) group;
        }
      }
      gens.add(g);
    }
    drive();
  }

  private Map<String, ImageProviderFactory> factories = Map.of();

  private ImageGenerationService buildService(List<String> order, Map<String, ImageProviderFactory> factories,
      int maxConcurrent, boolean sharedCache) {
    return buildService(order, factories, maxConcurrent, sharedCache, b -> {});
  }

  private ImageGenerationService buildService(List<String> order, Map<String, ImageProviderFactory> factories,
      int maxConcurrent, boolean sharedCache, java.util.function.Consumer<ImageGenerationService.Builder> more) {
    ImageGenerationService.Builder b = ImageGenerationService.builder()
        .retryBackoff(Duration.ofMillis(20), Duration.ofMillis(200))
        .maxRetries(2)
        .maxRetryAfter(Duration.ofSeconds(2))
        .circuitBreaker(8, BREAKER_DELAY)
        .defaultTimeout(MAX_DEADLINE)
        .defaultMaxConcurrent(maxConcurrent)
        .budget(policy)
        .budgetStore(budget)
        .shutdownGrace(Duration.ofSeconds(3))
        .jobJournal(journal);
    if (sharedCache) {
      if (cacheDir == null) {
        try {
          cacheDir = java.nio.file.Files.createTempDirectory("imagegen-soak-cache");
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
      // a small memory tier, so that most hits read the directory the other service writes
      b.cache(new dev.imagegen.CacheConfig(cacheDir, 4, CACHE_MAX_BYTES, "soak", false));
    }
    for (int i = 0; i < order.size(); i++) {
      String id = order.get(i);
      ImageProviderFactory f = factories.get(id);
      if (f == null) {
        throw new IllegalStateException("provider " + id + " is not on the class path");
      }
      SoakServer server = servers.get(id);
      ProviderConfig.Builder c = ProviderConfig.builder(id)
          .baseUrl(server.baseUrl() + server.protocol.stubs.basePath())
          .apiKey(keys.get(id))
          .set("poll-interval", Math.max(100, server.protocol.stubs.minPollInterval().toMillis()) + "ms")
          .set("priority", Integer.toString(10 * (i + 1)))
          .set("max-concurrent", Integer.toString(maxConcurrent))
          .set("max-image-bytes", Integer.toString(Images.MAX_IMAGE_BYTES))
          .set("timeout", "12s")
          .set("download-timeout", "5s");
      // the providers' production defaults, except what the stubs need to be reached
      server.protocol.stubs.extraConfig().forEach((k, v) -> {
        if (!k.equals("retry-create-on-server-error")) {
          c.set(k, v);
        }
      });
      if (server.protocol.reportsGpuTime()) {
        // priced per GPU-second: the estimate assumes a typical run, the provider reports the real one
        c.set("price-per-gpu-second", RUNPOD_USD_PER_GPU_SECOND.toPlainString())
            .set("typical-gpu-seconds", RUNPOD_TYPICAL_GPU_SECONDS);
      } else {
        c.set("price-per-image", PRICES.get(id).toPlainString());
      }
      ProviderConfig config = c.build().withDefaults(f.defaults());
      b.provider(options.wrap().apply(id, f.create(config)), config);
    }
    more.accept(b);
    return b.build();
  }

  // ------------------------------------------------------------------------------ driving

  private void drive() throws Exception {
    Semaphore slots = new Semaphore(options.maxInFlight());
    CountDownLatch done = new CountDownLatch(gens.size());
    AtomicInteger callers = new AtomicInteger();
    ExecutorService blocking = Executors.newFixedThreadPool(options.blockingThreads(), r -> {
      Thread t = new Thread(r, "soak-caller-" + callers.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    ScheduledExecutorService cancels = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "soak-canceller");
      t.setDaemon(true);
      return t;
    });
    AtomicInteger timers = new AtomicInteger();
    ScheduledExecutorService timer = Executors.newScheduledThreadPool(2, r -> {
      Thread t = new Thread(r, "soak-timer-" + timers.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    logCapturing = KitLogs.capturing();
    logMark.set(KitLogs.mark());
    Monitor monitor = new Monitor();
    threadsAtStart = ManagementFactory.getThreadMXBean().getThreadCount();
    long t0 = System.nanoTime();
    startNanos = t0;
    java.util.concurrent.ScheduledFuture<?> sampling = timer.scheduleAtFixedRate(monitor, 0, 25, TimeUnit.MILLISECONDS);
    java.util.concurrent.ScheduledFuture<?> vandal = cacheDir == null ? null
        : timer.scheduleWithFixedDelay(new Vandal(new SplittableRandom(options.seed() ^ 0x5ca1ab1eL)), 100, 500,
            TimeUnit.MILLISECONDS);
    CompletableFuture<Void> outage = CompletableFuture.completedFuture(null);
    if (options.outage()) {
      // mid-run: once 30% of the generations have ended, the provider with the most jobs running goes down for 3 s
      outage = thirtyPercent.thenCompose(v -> {
        SoakServer down = busiest();
        outageProvider = down.provider;
        long o0 = System.nanoTime();
        outageAtNanos = o0;
        return down.outage(timer, Duration.ofMillis(300), Duration.ofSeconds(3), () -> cancelWhileDown(down))
            .whenComplete((x, e) -> outageNanos = System.nanoTime() - o0);
      });
    }
    try {
      long gap = TimeUnit.SECONDS.toNanos(1) / LAUNCHES_PER_SECOND;
      long next = System.nanoTime();
      for (Gen g : gens) {
        long wait = next - System.nanoTime();
        if (wait > 0) {
          java.util.concurrent.locks.LockSupport.parkNanos(wait); // the callers arrive at a bounded rate
        }
        // the first wave arrives at once (a batch), the rest at a bounded rate
        next = g.n < options.maxInFlight() ? System.nanoTime() : Math.max(next + gap, System.nanoTime() - 50 * gap);
        if (!slots.tryAcquire()) {
          slotWaits++;
          slots.acquire();
        }
        inFlight.incrementAndGet();
        start(g, slots, done, blocking, cancels);
        if (g.n == Math.min(gens.size(), options.maxInFlight()) - 1) {
          firstWaveNanos = System.nanoTime() - t0;
        }
      }
      launchNanos = System.nanoTime() - t0;
      done.await(MAX_DEADLINE.plus(SLACK).toMillis() + 120_000, TimeUnit.MILLISECONDS);
      outage.get(30, TimeUnit.SECONDS);
      wallNanos = System.nanoTime() - t0;
      settleJournals();
      if (options.closePhase()) {
        closingPhase();
      }
      if (options.crashPhase()) {
        crashPhase();
      }
    } finally {
      sampling.cancel(false);
      if (vandal != null) {
        vandal.cancel(false);
      }
      monitor.scanLogs();
      for (ImageGenerationService s : services) {
        metrics.add(s.getMetrics());
      }
      for (ImageGenerationService s : services) {
        s.close();
      }
      blocking.shutdownNow();
      cancels.shutdownNow();
      timer.shutdownNow();
      monitor.scanLogs();
      long left = KitLogs.mark() - logMark.get();
      if (left > 0) {
        logLinesLost += left;
      }
    }
  }

  /**
   * Closes a service while its submits are in flight and generations wait behind its
   * {@code max-concurrent}: a fourth service (routed as the first, {@value #CLOSING_MAX_CONCURRENT}
   * calls at once) gets {@value #CLOSING_GENERATIONS} generations whose submits the servers hold
   * for {@value #CLOSING_HOLD_MS} ms (odd ones {@value #CLOSING_HOLD_LONG_MS} ms, past the grace),
   * and is closed while they are held. The close warning (the
   * remote jobs it could not confirm cancelled) is kept for the checks.
   */
  private void closingPhase() throws Exception {
    ImageGenerationService svc = buildService(routing.get(0), factories, CLOSING_MAX_CONCURRENT, false);
    int from = options.generations();
    for (SoakServer s : servers.values()) {
      s.ledger.holdMillis = CLOSING_HOLD_MS;
      s.ledger.holdLongMillis = CLOSING_HOLD_LONG_MS;
      s.ledger.holdSubmitsToGen = from + CLOSING_GENERATIONS;
      s.ledger.holdSubmitsFromGen = from;
    }
    long mark = KitLogs.mark();
    List<CompletableFuture<ImageGenerationResponse>> futures = new ArrayList<>();
    for (int i = 0; i < CLOSING_GENERATIONS; i++) {
      Gen g = new Gen(from + i, Gen.Mode.ASYNC, MAX_DEADLINE, null, options.services());
      closingGens.add(g);
      g.startNanos = System.nanoTime();
      CompletableFuture<ImageGenerationResponse> f =
          svc.generateAsync(ImageGenerationRequest.builder().prompt(g.prompt()).timeout(g.deadline).build());
      f.whenComplete((r, e) -> {
        if (g.completions.incrementAndGet() == 1) {
          g.endNanos = System.nanoTime();
          g.response = r;
          g.error = e;
        }
      });
      futures.add(f);
    }
    Thread.sleep(600);
    closeStartNanos = System.nanoTime();
    svc.close();
    closeReturnedNanos = System.nanoTime();
    closingUnanswered = (int) futures.stream().filter(f -> !f.isDone()).count();
    java.util.regex.Pattern warning = java.util.regex.Pattern.compile(
        "closed with (\\d+) provider call\\(s\\) still in flight and (\\d+) remote job\\(s\\) not confirmed cancelled(?::\\s*(.*?)(?:; they may run on.*)?)?$");
    for (String line : KitLogs.since(mark)) {
      java.util.regex.Matcher m = warning.matcher(line.strip());
      if (!m.find()) {
        continue;
      }
      closeWarnings.add(line);
      closeCallsInFlight += Integer.parseInt(m.group(1));
      if (m.group(3) != null) {
        for (String id : m.group(3).split(",\\s*")) {
          String e = id.strip(); // "provider job-id"
          closeListed.add(e.substring(e.lastIndexOf(' ') + 1));
        }
      }
    }
    settleJournals();
  }

  /**
   * A crash with paid jobs in flight, and the restart after it. One service per resumable provider
   * (Replicate, fal, RunPod, the Horde), all with instance id {@value #CRASH_INSTANCE} on one
   * directory journal, gets {@value #CRASH_GENERATIONS_PER_PROVIDER} generations ({@link
   * #CRASH_DEADLINE} each; their submits get no injected fault, polls and cancels do). Once every
   * job is created and journalled (or already ended) the process "dies": {@link Crash} cuts the
   * services' HTTP client and journal at once, so nothing they do afterwards reaches a server or the
   * directory; they are then shut down, which reaches nothing either (their cancels and journal
   * writes are swallowed), only to free their threads. A new service with the four providers on the
   * same directory and instance id runs {@code recover()} (again while entries stay open, at most
   * three times: a cancel can fail).
   */
  private void crashPhase() throws Exception {
    List<String> ids = CRASH_PROVIDERS.stream().filter(options.providers()::contains).toList();
    if (ids.isEmpty()) {
      return;
    }
    int from = options.generations() + CLOSING_GENERATIONS;
    int to = from + ids.size() * CRASH_GENERATIONS_PER_PROVIDER;
    for (SoakServer s : servers.values()) {
      s.ledger.cleanSubmitsFromGen = from;
    }
    crashFrom = from;
    crashTo = to;
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("imagegen-soak-journal");
    Crash c = new Crash();
    crash = c;
    // a budget of its own: the main run's limits are checked against the shared store
    dev.imagegen.BudgetStore crashBudget = dev.imagegen.BudgetStore.inMemory();
    Crash.Journal dyingJournal = c.new Journal(dev.imagegen.JobJournal.directory(dir));
    // as the SDK's default client, with a small executor of its own (the threads stay bounded)
    ExecutorService dyingExecutor = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "soak-crash-http");
      t.setDaemon(true);
      return t;
    });
    Crash.Http dyingHttp = c.new Http(java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1)
        .followRedirects(java.net.http.HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(10))
        .executor(dyingExecutor).build());
    List<ImageGenerationService> dying = new ArrayList<>();
    for (String id : ids) {
      dying.add(buildService(List.of(id), factories, 64, false,
          b -> b.jobJournal(dyingJournal).instanceId(CRASH_INSTANCE).httpClient(dyingHttp)
              .budget(dev.imagegen.BudgetPolicy.UNLIMITED).budgetStore(crashBudget)));
    }
    int n = from;
    for (int i = 0; i < CRASH_GENERATIONS_PER_PROVIDER; i++) {
      for (ImageGenerationService svc : dying) {
        svc.generateAsync(ImageGenerationRequest.builder().prompt(new Gen(n++, Gen.Mode.ASYNC, CRASH_DEADLINE, null, 0).prompt())
            .timeout(CRASH_DEADLINE).build());
      }
    }
    // mid-flight: every job created, and journalled unless it already ended
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    while (System.nanoTime() < until) {
      java.util.Set<String> open = new java.util.HashSet<>();
      dyingJournal.open().forEach(e -> open.add(e.remoteJobId()));
      List<Job> jobs = crashJobs();
      if (jobs.size() >= to - from && jobs.stream().allMatch(j -> j.end != null || open.contains(j.id))) {
        break;
      }
      Thread.sleep(10);
    }
    c.now();
    crashNanos = System.nanoTime();
    crashLeft = dyingJournal.open();
    for (ImageGenerationService svc : dying) {
      svc.shutdown(Duration.ZERO); // frees their threads; what they still try reaches no server and no file
    }
    ImageGenerationService restarted = buildService(ids, factories, 64, false,
        b -> b.journal(dir).instanceId(CRASH_INSTANCE).onRecovered(crashRecovered::add)
            .budget(dev.imagegen.BudgetPolicy.UNLIMITED).budgetStore(crashBudget));
    try {
      for (int round = 0; round < 3; round++) {
        crashReports.add(restarted.recover());
        crashStillOpen = dev.imagegen.JobJournal.directory(dir).open();
        if (crashStillOpen.isEmpty()) {
          break;
        }
      }
      crashRecoveredNanos = System.nanoTime();
      settleJournals();
    } catch (RuntimeException e) {
      crashProblem = e.toString();
    } finally {
      restarted.close();
      dyingJournal.bury(CRASH_INSTANCE);
      dyingExecutor.shutdownNow();
    }
  }

  /** The jobs the servers created for the crash phase's generations. */
  List<Job> crashJobs() {
    List<Job> out = new ArrayList<>();
    for (SoakServer s : servers.values()) {
      for (Job j : s.ledger.jobs()) {
        if (isCrashGen(j.gen)) {
          out.add(j);
        }
      }
    }
    return out;
  }

  /**
   * Some callers give up while the provider is down: up to {@value #OUTAGE_CANCELS} generations
   * with a job running there are cancelled, so their remote cancels meet a closed port.
   */
  private void cancelWhileDown(SoakServer down) {
    // jobs the SDK knows of (in its job journal) that are still running
    List<Job> open = down.ledger.jobs().stream()
        .filter(j -> j.end == null && !j.cancelReceived && journal.knows(down.provider, j.id))
        .sorted(java.util.Comparator.comparingInt(j -> j.gen)).toList();
    int n = 0;
    for (Job j : open) {
      if (j.gen < 0 || j.gen >= gens.size()) {
        continue;
      }
      Gen g = gens.get(j.gen);
      Runnable c = g.cancel;
      if (n >= OUTAGE_CANCELS || g.ended() || c == null || g.cancelledDuringOutage) {
        continue;
      }
      g.cancelledDuringOutage = true;
      c.run();
      n++;
    }
    outageCancels = n;
  }

  /** The server with the most jobs neither ended nor cancelled (the outage hurts most there). */
  private SoakServer busiest() {
    SoakServer best = null;
    long most = -1;
    for (SoakServer s : servers.values()) {
      long open = s.ledger.jobs().stream().filter(j -> j.end == null && !j.cancelReceived && journal.knows(s.provider, j.id))
          .count();
      if (open > most) {
        most = open;
        best = s;
      }
    }
    return best;
  }

  /** Waits for the remote cancels still on their way (async clean-up after the callers were answered). */
  private void settleJournals() throws InterruptedException {
    journalRequests = SoakServer.settle(servers.values());
  }

  private void start(Gen g, Semaphore slots, CountDownLatch done, ExecutorService blocking, ScheduledExecutorService cancels) {
    ImageGenerationService svc = services.get(g.service);
    ImageGenerationRequest.Builder rb = ImageGenerationRequest.builder().prompt(g.prompt()).timeout(g.deadline);
    if (g.seed != null) {
      rb.seed(g.seed);
    }
    ImageGenerationRequest req = rb.build();
    switch (g.mode) {
      case BLOCKING -> blocking.execute(() -> {
        synchronized (g) {
          g.caller = Thread.currentThread();
        }
        g.startNanos = System.nanoTime();
        g.cancel = () -> {
          synchronized (g) {
            if (g.caller != null) {
              g.cancelNanos = System.nanoTime();
              g.caller.interrupt();
            }
          }
        };
        scheduleCancel(g, cancels, g.cancel);
        try {
          ImageGenerationResponse r = svc.generateImageWithFailover(req);
          synchronized (g) {
            g.caller = null;
          }
          complete(g, r, null, slots, done);
        } catch (Throwable t) {
          synchronized (g) {
            g.caller = null;
          }
          complete(g, null, t, slots, done);
        } finally {
          Thread.interrupted(); // a cancel that came after the answer must not reach the next caller
        }
      });
      case ASYNC -> {
        g.startNanos = System.nanoTime();
        CompletableFuture<ImageGenerationResponse> f;
        try {
          long c0 = System.nanoTime();
          f = svc.generateAsync(req);
          callerNanos.add(System.nanoTime() - c0);
        } catch (RuntimeException e) {
          complete(g, null, e, slots, done);
          return;
        }
        f.whenComplete((r, e) -> complete(g, r, e, slots, done));
        g.cancel = () -> {
          g.cancelNanos = System.nanoTime();
          f.cancel(true);
        };
        scheduleCancel(g, cancels, g.cancel);
      }
      case SUBMIT -> {
        g.startNanos = System.nanoTime();
        GenerationJob job;
        try {
          long c0 = System.nanoTime();
          job = svc.submit(req);
          callerNanos.add(System.nanoTime() - c0);
        } catch (RuntimeException e) {
          complete(g, null, e, slots, done);
          return;
        }
        g.job = job;
        job.onProgress(g.progress::add);
        if (g.hostile != Gen.Hostile.NONE) {
          java.util.concurrent.atomic.AtomicBoolean blocked = new java.util.concurrent.atomic.AtomicBoolean();
          job.onProgress(p -> {
            switch (g.hostile) {
              case THROWS_ASSERTION_ERROR -> throw new AssertionError("a listener's assertion failed at " + p.stage());
              case THROWS_STACK_OVERFLOW -> throw new StackOverflowError();
              default -> {
                if (blocked.compareAndSet(false, true)) {
                  java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(LISTENER_BLOCK_MS));
                }
              }
            }
          });
        }
        job.result().whenComplete((r, e) -> complete(g, r, e, slots, done));
        g.cancel = () -> {
          g.cancelNanos = System.nanoTime();
          job.cancel();
        };
        scheduleCancel(g, cancels, g.cancel);
      }
    }
  }

  private static void scheduleCancel(Gen g, ScheduledExecutorService cancels, Runnable cancel) {
    if (g.cancelAfter != null) {
      cancels.schedule(cancel, g.cancelAfter.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  private void complete(Gen g, @Nullable ImageGenerationResponse r, @Nullable Throwable e, Semaphore slots,
      CountDownLatch done) {
    long now = System.nanoTime();
    if (g.completions.incrementAndGet() == 1) {
      g.endNanos = now;
      g.response = r;
      g.error = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
      inFlight.decrementAndGet();
      if (ended.incrementAndGet() >= gens.size() * 3 / 10) {
        thirtyPercent.complete(null);
      }
      slots.release();
      done.countDown();
    }
  }

  /**
   * Another process sharing the cache directory, misbehaving: every 500 ms it truncates an
   * entry's image to half (a write cut short), overwrites an entry's metadata with half of it,
   * deletes an entry while it may be read, or leaves a stray half-written temporary directory.
   */
  private final class Vandal implements Runnable {
    private final SplittableRandom rnd;

    Vandal(SplittableRandom rnd) {
      this.rnd = rnd;
    }

    @Override
    public void run() {
      try {
        List<java.nio.file.Path> entries = new ArrayList<>();
        try (var ds = java.nio.file.Files.newDirectoryStream(cacheDir)) {
          for (java.nio.file.Path p : ds) {
            if (java.nio.file.Files.isDirectory(p) && !p.getFileName().toString().startsWith(".")) {
              entries.add(p);
            }
          }
        }
        int what = rnd.nextInt(4);
        if (what == 3) {
          java.nio.file.Path tmp = cacheDir.resolve(".tmp-99999-" + Long.toHexString(rnd.nextLong()));
          java.nio.file.Files.createDirectories(tmp);
          java.nio.file.Files.write(tmp.resolve("0.png"), java.util.Arrays.copyOf(Images.MARKER, Images.MARKER.length / 2));
          vandalism.computeIfAbsent("stray temporary directory", k -> new AtomicInteger()).incrementAndGet();
          return;
        }
        if (entries.isEmpty()) {
          return;
        }
        java.nio.file.Path e = entries.get(rnd.nextInt(entries.size()));
        List<java.nio.file.Path> files = new ArrayList<>();
        try (var ds = java.nio.file.Files.newDirectoryStream(e)) {
          ds.forEach(files::add);
        }
        java.nio.file.Path image = files.stream().filter(f -> !f.getFileName().toString().endsWith(".json")).findFirst()
            .orElse(null);
        java.nio.file.Path meta = files.stream().filter(f -> f.getFileName().toString().endsWith(".json")).findFirst()
            .orElse(null);
        if (what == 0 && image != null) {
          byte[] b = java.nio.file.Files.readAllBytes(image);
          java.nio.file.Files.write(image, java.util.Arrays.copyOf(b, b.length / 2));
          vandalism.computeIfAbsent("image truncated", k -> new AtomicInteger()).incrementAndGet();
        } else if (what == 1 && meta != null) {
          byte[] b = java.nio.file.Files.readAllBytes(meta);
          java.nio.file.Files.write(meta, java.util.Arrays.copyOf(b, b.length / 2));
          vandalism.computeIfAbsent("metadata truncated", k -> new AtomicInteger()).incrementAndGet();
        } else if (what == 2) {
          for (java.nio.file.Path f : files) {
            java.nio.file.Files.deleteIfExists(f);
          }
          java.nio.file.Files.deleteIfExists(e);
          vandalism.computeIfAbsent("entry deleted", k -> new AtomicInteger()).incrementAndGet();
        }
      } catch (java.io.IOException | RuntimeException e) {
        // the stores move and delete entries meanwhile: a race lost is fine
        vandalism.computeIfAbsent("race lost", k -> new AtomicInteger()).incrementAndGet();
      }
    }
  }

  // ------------------------------------------------------------------------------ watching

  /** Samples threads, heap and in-flight count, and scans captured log lines for the keys. */
  private final class Monitor implements Runnable {
    private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    private final MemoryMXBean memory = ManagementFactory.getMemoryMXBean();

    private int i;

    @Override
    public void run() {
      try {
        sample();
      } catch (RuntimeException | Error e) {
        monitorErrors.add(e); // a periodic task that throws is never run again: keep it alive
      }
    }

    private void sample() {
      int t = threads.getThreadCount();
      if (t > peakThreads) {
        peakThreads = t;
      }
      int f = inFlight.get();
      if (f > peakInFlight) {
        peakInFlight = f;
      }
      long heap = memory.getHeapMemoryUsage().getUsed();
      if (heap > peakHeap) {
        peakHeap = heap;
      }
      if (i % 4 == 0) {
        sdkThreads();
        scanLogs();
      }
      i++;
    }

    private void sdkThreads() {
      List<String> names = new ArrayList<>();
      Map<String, Integer> groups = new java.util.TreeMap<>();
      Map<String, Integer> patterns = new java.util.TreeMap<>();
      for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds(), 0)) {
        if (info == null) {
          continue;
        }
        String name = info.getThreadName();
        String group;
        if (name.startsWith("imagegen-") || name.startsWith("HttpClient-") || name.matches("Thread-\\d+")) {
          // Thread-N: the JDK's HttpClient.sendAsync completes each answer on CompletableFuture's default
          // executor, one new unnamed thread per task where the common pool has fewer than 2 workers
          names.add(name);
          group = "sdk";
        } else if (name.startsWith("qtp") || name.startsWith("Scheduler-") || name.startsWith("Connector-Scheduler-")
            || name.startsWith("pool-")) {
          group = "stub servers";
        } else if (name.startsWith("soak-")) {
          group = "soak callers";
        } else {
          group = "jvm and other";
        }
        groups.merge(group, 1, Integer::sum);
        patterns.merge(group + ": " + name.replaceAll("[0-9]+", "#"), 1, Integer::sum);
      }
      int total = groups.values().stream().mapToInt(Integer::intValue).sum();
      if (total > peakSampledThreads) {
        peakSampledThreads = total;
        threadGroupsAtPeak = groups;
        threadPatternsAtPeak = patterns;
      }
      if (names.size() > peakSdkThreads) {
        peakSdkThreads = names.size();
        sdkThreadNames.clear();
        sdkThreadNames.addAll(names);
      }
    }

    synchronized void scanLogs() {
      long mark = logMark.get();
      List<String> lines = KitLogs.since(mark);
      for (String line : lines) {
        for (Map.Entry<String, String> k : keys.entrySet()) {
          String secret = k.getValue();
          String core = secret.substring(secret.lastIndexOf('-') + 1);
          if (line.contains(secret) || line.contains(core)) {
            logLeaks.add(k.getKey() + " key in: " + (line.length() > 400 ? line.substring(0, 400) + "..." : line));
          }
        }
      }
      logLinesScanned += lines.size();
      logMark.set(mark + lines.size());
    }
  }
}
