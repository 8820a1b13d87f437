package dev.imagegen;

import dev.imagegen.internal.Engine;
import dev.imagegen.internal.EngineSettings;
import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.ServiceLoader;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The entry point: generates images through the configured providers, failing over between them,
 * and reports which provider served, every attempt, timings and cost.
 *
 * <pre>{@code
 * try (ImageGenerationService service = ImageGenerationService.fromEnvironment()) {
 *   ImageGenerationResponse r = service.generateImageWithFailover(
 *       ImageGenerationRequest.builder().prompt("a red fox in snow").size(1024, 1024).build());
 *   r.image().saveTo(Path.of("fox.webp"));
 * }
 * }</pre>
 *
 * <p>Build one per application and share it: it is thread-safe, and a generation waiting on a
 * remote job holds no thread. {@link #close()} cancels what is still running, remote jobs included.
 *
 * <p>Defaults: priority routing, a 5-minute deadline per request, 2 retries per provider with
 * exponential backoff (500 ms doubling, capped at 10 s, with jitter), {@code Retry-After} honoured
 * up to 10 s (longer: fail over and cool the provider down), a circuit breaker per provider
 * opening after 5 consecutive failures for 30 s, 16 calls in flight per provider, no budget.
 */
public final class ImageGenerationService implements AutoCloseable {
  /**
   * The logger configuration messages go to: one WARN line per configuration warning, one INFO
   * line at build with the enabled providers, where each got its key (never the key) and its base URL.
   */
  public static final String CONFIG_LOGGER = "dev.imagegen.config";

  /**
   * The key {@link #health()} reports under when no provider is configured: one entry, state
   * {@link ProviderHealth.State#DOWN}, whose message says what would enable a provider.
   */
  public static final String NO_PROVIDER = Engine.NO_PROVIDER;

  private final Engine engine;
  private final List<String> configurationWarnings;

  private ImageGenerationService(Engine engine, List<String> configurationWarnings) {
    this.engine = engine;
    this.configurationWarnings = List.copyOf(configurationWarnings);
  }

  /** A builder. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A service with every provider on the class path that the environment configures: environment
   * variables, system properties, and the properties file named by {@code IMAGEGEN_CONFIG} or the
   * {@code imagegen.config} system property. When nothing is configured, providers that work
   * without an account (AI Horde's anonymous key) are enabled.
   *
   * <p>Mistakes are not silent: a setting no provider on the class path and no service setting
   * knows is a warning naming the nearest known name ({@link #configurationWarnings()}); a value
   * that cannot be read is a problem, and every problem is reported at once in a
   * {@link ConfigurationException}. See {@link Builder#configureFrom}.
   *
   * @return the service
   * @throws ConfigurationException listing every invalid value (and, in strict mode, every unknown setting)
   */
  public static ImageGenerationService fromEnvironment() {
    return fromEnvironment(System.getenv(), System.getProperties());
  }

  /**
   * Like {@link #fromEnvironment()}, with the environment and properties given.
   *
   * @param env environment variables
   * @param properties properties
   * @return the service
   * @throws ConfigurationException listing every invalid value (and, in strict mode, every unknown setting)
   */
  public static ImageGenerationService fromEnvironment(Map<String, String> env, Properties properties) {
    return builder().configureFrom(env, properties).build();
  }

  /**
   * Generates with one provider: its retries, no failover.
   *
   * @param request the request
   * @param providerId the provider
   * @return the response
   * @throws ImageGenerationException the provider's failure
   * @throws IllegalArgumentException for an unknown provider id
   */
  public ImageGenerationResponse generateImage(ImageGenerationRequest request, String providerId) {
    return engine.generate(request, providerId);
  }

  /**
   * Generates with the best provider that can serve the request, failing over on failures another
   * provider may survive.
   *
   * @param request the request
   * @return the response, with every attempt
   * @throws AllProvidersFailedException when every provider failed (each attempt inside)
   * @throws NoCapableProviderException when no provider can serve the request
   * @throws InvalidRequestException when the request is invalid (every problem listed)
   * @throws ContentPolicyException when a provider refused the content
   * @throws GenerationTimeoutException when no image came within the deadline
   * @throws BudgetExceededException when the budget does not allow the generation
   */
  public ImageGenerationResponse generateImageWithFailover(ImageGenerationRequest request) {
    return engine.generate(request, null);
  }

  /**
   * Like {@link #generateImageWithFailover}, without blocking. The future is the caller's own:
   * completing it from outside (cancel, {@code orTimeout}, {@code completeExceptionally}) cancels
   * the generation and its remote job. Stages chained on it with {@code thenApply} and friends
   * run on imagegen's threads and must not block; use the {@code ...Async} variants with an
   * executor of your own for blocking work. (Progress listeners always run on threads of their
   * own, see {@link GenerationJob#onProgress}.)
   *
   * @param request the request
   */
  public CompletableFuture<ImageGenerationResponse> generateAsync(ImageGenerationRequest request) {
    return engine.submit(request, null).result();
  }

  /**
   * Like {@link #generateImage}, without blocking.
   *
   * @param request the request
   * @param providerId the provider
   */
  public CompletableFuture<ImageGenerationResponse> generateAsync(ImageGenerationRequest request, String providerId) {
    return engine.submit(request, providerId).result();
  }

  /**
   * Starts a generation with failover as a job with progress events and cancel.
   *
   * @param request the request
   */
  public GenerationJob submit(ImageGenerationRequest request) {
    return engine.submit(request, null);
  }

  /**
   * Runs requests with bounded concurrency (default 4 at a time) and returns one item per request,
   * in input order, each with its response or error; one failure does not sink the batch.
   *
   * @param requests the requests
   */
  public BatchResult generateBatch(List<ImageGenerationRequest> requests) {
    return generateBatch(requests, BatchOptions.DEFAULTS);
  }

  /**
   * Like {@link #generateBatch(List)}, with concurrency, an overall budget and progress.
   *
   * @param requests the requests
   * @param options how to run them
   */
  public BatchResult generateBatch(List<ImageGenerationRequest> requests, BatchOptions options) {
    return engine.batch(requests, options).join();
  }

  /**
   * Like {@link #generateBatch(List, BatchOptions)}, without blocking.
   *
   * @param requests the requests
   * @param options how to run them
   */
  public CompletableFuture<BatchResult> generateBatchAsync(List<ImageGenerationRequest> requests, BatchOptions options) {
    return engine.batch(requests, options);
  }

  /**
   * Checks a request against this service without generating: the presets it names, its
   * {@code providerOptions} (provider ids and keys each provider reads) and, when one provider
   * alone is configured, its prompt length and sampler for that provider. Every generate call
   * runs the same checks before any provider call; this lets a caller find every problem up
   * front.
   *
   * @param request the request
   * @throws InvalidRequestException listing every problem found
   */
  public void validate(ImageGenerationRequest request) {
    engine.validated(request, null);
  }

  /** The presets requests can name: the built-ins ({@code scatter_flowers}, {@code hero_background}), then configured ones. */
  public List<Preset> presets() {
    return engine.presets();
  }

  /**
   * The provider failover would try first now, if any can serve the request.
   *
   * @param request the request
   */
  public Optional<String> selectOptimalProvider(ImageGenerationRequest request) {
    return Optional.ofNullable(engine.selectOptimalProvider(request));
  }

  /**
   * The estimated cost with the provider failover would try first; unknown when none can serve it.
   *
   * @param request the request
   */
  public Cost estimateCost(ImageGenerationRequest request) {
    String first = engine.selectOptimalProvider(request);
    if (first == null) {
      return Cost.unknown();
    }
    Cost c = engine.estimateCosts(request).get(first);
    return c == null ? Cost.unknown() : c;
  }

  /**
   * Estimated costs with every capable provider, in routing order.
   *
   * @param request the request
   */
  public Map<String, Cost> estimateCosts(ImageGenerationRequest request) {
    return engine.estimateCosts(request);
  }

  /**
   * What a generation cost: provider-reported usage when there was some, else the estimate; zero
   * for a cache hit; unknown when no price is configured.
   *
   * @param response a response from this service
   */
  public Cost calculateGenerationCost(ImageGenerationResponse response) {
    return response.cost();
  }

  /**
   * Checks a provider with a real, cheap call, always afresh (never from the {@link #health()}
   * cache), waiting at most the health-check timeout (default 5 s, see {@link Builder#healthCheck}).
   *
   * @param providerId the provider
   * @return the result; a refused key and a down server are told apart
   * @throws IllegalArgumentException for an unknown provider id
   */
  public ProviderHealth testConnection(String providerId) {
    return engine.health(providerId);
  }

  /**
   * Every provider's health, checked in parallel with real, cheap calls. Safe behind a frequent
   * probe: each provider's result is cached for a time-to-live (default 10 s), each check waits at
   * most a timeout (default 5 s; a slow provider is reported {@code DOWN}), and concurrent callers
   * share one check in flight per provider; see {@link Builder#healthCheck}. With no provider
   * configured the map has one entry, {@link #NO_PROVIDER}, whose state is {@code DOWN} and whose
   * message says how to configure one.
   *
   * @return provider id to its health, in registration order
   */
  public Map<String, ProviderHealth> health() {
    return engine.health();
  }

  /**
   * Every provider's last known health, returned at once without waiting for a provider: for a
   * probe that runs often (a load balancer's, Actuator's). A result older than the health cache
   * time-to-live starts a check in the background, at most one in flight per provider (shared
   * with {@link #health()}), whose result a later call returns. A provider not checked yet is
   * {@link ProviderHealth.State#UNKNOWN}. With no provider, the one {@code DOWN} entry of
   * {@link #health()}.
   *
   * @return provider id to its last known health, in registration order
   */
  public Map<String, ProviderHealth> cachedHealth() {
    return engine.cachedHealth();
  }

  /**
   * What was wrong with the configuration read by {@link Builder#configureFrom} without stopping
   * the build, one line each, also logged at WARN on {@value #CONFIG_LOGGER}: settings nothing
   * reads (with the nearest known name, e.g. {@code imagegen.fal.baseurl (system property): no such
   * setting; did you mean imagegen.fal.base-url?}), and that no provider is configured.
   *
   * @return the warnings, empty when there were none
   */
  public List<String> configurationWarnings() {
    return configurationWarnings;
  }

  /**
   * What is left of each budget limit in the current window: the total and each provider's. Reads
   * the budget store, so with a shared store it is one round trip per limit and fails when the
   * store is down.
   *
   * @return the remaining amounts in USD; null total and an empty map without limits
   * @throws RuntimeException what the budget store throws when it cannot answer
   */
  public BudgetPolicy.Remaining budgetRemaining() {
    return engine.budgetRemaining();
  }

  /** An immutable snapshot of the metrics. */
  public MetricsSnapshot getMetrics() {
    return engine.metrics();
  }

  /** The models every provider offers. */
  public List<ModelInfo> listModels() {
    return engine.models();
  }

  /**
   * The receiver of providers' webhook deliveries: mount it on the application's HTTP server at
   * the URL each provider's {@code webhook-url} names (see {@link WebhookReceiver} and the README's
   * "Webhooks"). A verified delivery for a job pending here makes its poll loop poll at once; the
   * result still comes from the provider's status API.
   *
   * @return the receiver, one per service
   */
  public WebhookReceiver webhooks() {
    return engine.webhooks();
  }

  /** The configured provider ids, in registration order. */
  public List<String> providers() {
    return engine.providerIds();
  }

  /**
   * Finds the jobs a process that died left open in the job journal and finishes them, never
   * submitting one again. For each open entry owned by this instance (see
   * {@link Builder#instanceId}) or by an instance whose lease expired, and not in flight in this
   * service: when its provider is configured here, {@link dev.imagegen.spi.ImageProvider#canResume
   * can resume} and the entry's deadline has not passed, the job is polled to its end, its result
   * delivered to the {@link Builder#onRecovered recovery listener} and the cache, and its cost
   * recorded in the budget (the provider-reported cost, else the estimate kept in the entry);
   * otherwise, when the provider {@link dev.imagegen.spi.ImageProvider#canCancelByHandle can cancel
   * by handle}, it is cancelled; otherwise it is left, and the report says why. One line per entry
   * is logged on the provider's logger. Blocks until every resumed job ended (at the latest at its
   * deadline) and every cancel was answered.
   *
   * @return what was done with each entry
   */
  public RecoveryReport recover() {
    try {
      return engine.recover().get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new GenerationCancelledException("interrupted while recovering", null, e);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      throw c instanceof RuntimeException r ? r : new IllegalStateException("recovery failed", c);
    }
  }

  /**
   * Like {@link #recover()}, without blocking.
   *
   * @return the report, once every entry is settled
   */
  public CompletableFuture<RecoveryReport> recoverAsync() {
    return engine.recover();
  }

  /**
   * Cancels everything in flight (remote jobs included), waits up to {@code grace} for the
   * remote cancels, and closes the providers.
   *
   * @param grace how long to wait for remote cancels to be acknowledged
   * @return how many generations were cancelled
   */
  public int shutdown(Duration grace) {
    return engine.shutdown(grace);
  }

  /** {@link #shutdown(Duration)} with the configured grace (5 s by default). */
  @Override
  public void close() {
    engine.close();
  }

  /**
   * Builds an {@link ImageGenerationService}. Not thread-safe.
   */
  public static final class Builder {
    private static final Logger CONFIG_LOG = LoggerFactory.getLogger(CONFIG_LOGGER);

    private final EngineSettings s = new EngineSettings();
    private final List<String> configProblems = new ArrayList<>();
    private final List<String> configWarnings = new ArrayList<>();
    private final List<ImageProvider> configured = new ArrayList<>();
    private final Map<ImageProvider, ImageProviderFactory> factoryOf = new IdentityHashMap<>();
    private @Nullable String noProviderMessage;
    private boolean strict;
    private boolean configuredStrict;
    private @Nullable Path journalDir;
    private Duration journalLease = JobJournal.DEFAULT_LEASE;

    private Builder() {}

    /**
     * Adds a provider instance (tests, custom wiring).
     *
     * @param provider the provider
     * @param config its configuration (priority, limits, prices)
     * @return this
     */
    public Builder provider(ImageProvider provider, ProviderConfig config) {
      s.providers.add(new EngineSettings.Entry(provider, config));
      return this;
    }

    /**
     * Adds a provider created by its factory.
     *
     * @param factory the factory
     * @param config the configuration
     * @return this
     */
    public Builder provider(ImageProviderFactory factory, ProviderConfig config) {
      ProviderConfig c = config.withDefaults(factory.defaults());
      ImageProvider created = factory.create(c);
      factoryOf.put(created, factory);
      return provider(created, c);
    }

    /**
     * Adds every provider on the class path that the environment and properties configure, plus
     * service settings: {@code imagegen.routing} ({@code priority|cheapest|fastest}),
     * {@code imagegen.timeout}, {@code imagegen.max-retries}, {@code imagegen.max-pending},
     * {@code imagegen.failover-on-unknown-outcome}, {@code imagegen.budget.total},
     * {@code imagegen.budget.window}, {@code imagegen.budget.allow-unknown-prices},
     * {@code imagegen.health.timeout}, {@code imagegen.health.cache-ttl}, {@code imagegen.strict}
     * (each also as {@code IMAGEGEN_ROUTING}...). Properties come from the file named by
     * {@code imagegen.config} or {@code IMAGEGEN_CONFIG}, and system properties over them.
     *
     * <p>Booleans accept {@code true/false}, {@code yes/no}, {@code on/off} and {@code 1/0} in any
     * case. Nothing here throws: {@link #build()} throws one {@link ConfigurationException} listing
     * every value that cannot be read (service settings and each provider's), each with the name
     * as written, where it came from, the value (masked for credentials) and what is accepted.
     * Every {@code imagegen.*} property and {@code IMAGEGEN_*} variable that no service setting and
     * no provider on the class path knows (see {@link ImageProviderFactory#settings()}) is a
     * warning with the nearest known name, or an error in strict mode
     * ({@link #strictConfiguration}).
     *
     * @param env environment variables
     * @param properties properties
     * @return this
     */
    public Builder configureFrom(Map<String, String> env, Properties properties) {
      List<ImageProviderFactory> factories = new ArrayList<>();
      ServiceLoader.load(ImageProviderFactory.class).forEach(factories::add);
      EnvironmentConfiguration c = new EnvironmentConfiguration(env, properties, factories);
      c.bool("strict", v -> configuredStrict = v);
      c.choice("routing", EnvironmentConfiguration::routing, "one of " + EnvironmentConfiguration.routings(), this::routing);
      c.duration("timeout", false, this::defaultTimeout);
      c.wholeNumber("max-retries", 0, this::maxRetries);
      c.wholeNumber("max-pending", 1, this::maxPendingGenerations);
      c.bool("failover-on-unknown-outcome", this::failoverOnUnknownOutcome);
      c.duration("health.timeout", false, v -> s.healthTimeout = v);
      c.duration("health.cache-ttl", true, v -> s.healthCacheTtl = v);
      c.choice("journal", v -> v.startsWith("dir:") && v.length() > 4 ? Path.of(v.substring(4)) : null,
          "dir: followed by a directory, such as dir:/var/lib/imagegen/journal", this::journal);
      c.choice("instance-id", v -> dev.imagegen.internal.DirectoryJobJournal.INSTANCE_ID.matcher(v).matches() ? v : null,
          "1 to 64 letters, digits, '.', '-' or '_'", this::instanceId);
      c.bool("journal.recover", this::recoverOnBuild);
      c.durationAtLeast("journal.lease", Duration.ofMillis(100), this::journalLease);
      BudgetPolicy.Builder budget = BudgetPolicy.builder();
      boolean[] total = new boolean[1];
      c.choice("budget.total", EnvironmentConfiguration::usd, "an amount in USD of at least 0, such as 5 or 12.50",
          v -> { budget.total(v); total[0] = true; });
      c.duration("budget.window", false, budget::window);
      c.bool("budget.allow-unknown-prices", budget::allowUnknownPrices);
      if (total[0]) {
        budget(budget.build());
      } else if (c.setting("budget.total") == null) {
        for (String k : List.of("budget.window", "budget.allow-unknown-prices")) {
          EnvironmentConfiguration.Setting set = c.setting(k);
          if (set != null) {
            c.warnings.add(set.label() + ": has no effect without imagegen.budget.total (IMAGEGEN_BUDGET_TOTAL)");
          }
        }
      }
      c.findUnknownSettings();
      Properties props = c.properties();
      List<ImageProviderFactory> fallbacks = new ArrayList<>();
      int before = s.providers.size();
      int failed = 0;
      for (ImageProviderFactory f : factories) {
        try {
          ProviderConfig config = ProviderConfig.from(f.id(), env, props, f.customaryEnvironment(), c::originOf)
              .withDefaults(f.defaults());
          if (!config.bool(ProviderConfig.ENABLED, true)) {
            continue;
          }
          if (f.isConfigured(config)) {
            failed += configured(f, config, c.problems) ? 0 : 1;
          } else if (f.enabledWhenNothingConfigured()) {
            fallbacks.add(f);
          }
        } catch (RuntimeException e) {
          c.problems.add(problem(f.id(), e));
          failed++;
        }
      }
      if (s.providers.size() == before && failed == 0) {
        for (ImageProviderFactory f : fallbacks) {
          configured(f, ProviderConfig.from(f.id(), env, props, f.customaryEnvironment(), c::originOf), c.problems);
        }
      }
      configProblems.addAll(c.problems);
      configWarnings.addAll(c.warnings);
      noProviderMessage = c.noProviderMessage();
      return this;
    }

    /** Adds a provider read from the environment; false, with the problems noted, when its configuration is invalid. */
    private boolean configured(ImageProviderFactory f, ProviderConfig config, List<String> problems) {
      ProviderConfig c = config.withDefaults(f.defaults());
      int before = problems.size();
      // the standard keys core reads when the service is built: every one reported, not only the first
      List<Runnable> checks = List.of(
          () -> c.intValue(ProviderConfig.PRIORITY, 100),
          () -> c.intValue(ProviderConfig.REQUESTS_PER_MINUTE, 0, 0, Integer.MAX_VALUE),
          () -> c.intValue(ProviderConfig.POLLS_PER_SECOND, 0, 0, 1_000_000),
          () -> c.intValue(ProviderConfig.MAX_CONCURRENT, 1),
          () -> c.intValue(ProviderConfig.MAX_CONNECTIONS, ProviderConfig.DEFAULT_MAX_CONNECTIONS, 1, 100_000),
          () -> c.duration(ProviderConfig.TIMEOUT, Duration.ZERO),
          () -> c.longValue(ProviderConfig.MAX_IMAGE_BYTES, 1, 1, Long.MAX_VALUE),
          () -> c.bool(ProviderConfig.ALLOW_PRIVATE_DOWNLOADS, false),
          () -> {
            if (c.get(ProviderConfig.BASE_URL).isPresent()) {
              c.url(ProviderConfig.BASE_URL, "");
            }
          });
      for (Runnable check : checks) {
        try {
          check.run();
        } catch (RuntimeException e) {
          problems.add(problem(f.id(), e));
        }
      }
      if (problems.size() > before) {
        return false;
      }
      try {
        ImageProvider p = f.create(c);
        configured.add(p);
        factoryOf.put(p, f);
        provider(p, c);
        return true;
      } catch (RuntimeException e) {
        problems.add(problem(f.id(), e));
        return false;
      }
    }

    private static String problem(String providerId, RuntimeException e) {
      String m = e instanceof IllegalStateException || e instanceof IllegalArgumentException ? e.getMessage() : e.toString();
      m = m == null ? e.toString() : m;
      return m.startsWith(providerId + ":") ? m : providerId + ": " + m;
    }

    /**
     * Whether settings nothing reads are errors (reported in the {@link ConfigurationException}
     * of {@link #build()}) rather than warnings. Default false; {@code imagegen.strict=true} or
     * {@code IMAGEGEN_STRICT=true} turns it on too.
     *
     * @param v true for errors
     * @return this
     */
    public Builder strictConfiguration(boolean v) { strict = v; return this; }

    /**
     * How {@link ImageGenerationService#health()} checks providers: each check waits at most
     * {@code timeout} (default 5 s), and each provider's result is reused for {@code cacheTtl}
     * (default 10 s; zero checks every time). Settings {@code imagegen.health.timeout} and
     * {@code imagegen.health.cache-ttl}. {@link ImageGenerationService#testConnection} always
     * checks afresh, with the same timeout.
     *
     * @param timeout the longest a check waits, above zero
     * @param cacheTtl how long a result is reused, zero or more
     * @return this
     */
    public Builder healthCheck(Duration timeout, Duration cacheTtl) {
      if (timeout.isNegative() || timeout.isZero() || cacheTtl.isNegative()) {
        throw new IllegalArgumentException("healthCheck needs a positive timeout and a cache time-to-live of zero or more, was "
            + timeout + " and " + cacheTtl);
      }
      s.healthTimeout = timeout;
      s.healthCacheTtl = cacheTtl;
      return this;
    }

    /**
     * Whether a generation fails over to another provider after a submit whose outcome is unknown
     * and could not be reconciled (the first job may exist and be billed, so paying a second
     * provider may mean paying twice). Default false: the generation stops with a
     * {@link ProviderUnavailableException} whose {@code outcomeUnknown()} is true.
     *
     * @param v true to fail over anyway
     * @return this
     */
    public Builder failoverOnUnknownOutcome(boolean v) { s.failoverOnUnknownOutcome = v; return this; }

    /**
     * The most generations accepted and not yet finished (default 10,000); beyond it
     * {@code submit}, {@code generateAsync} and the blocking calls throw
     * {@link GenerationRejectedException} at once, counted in {@link MetricsSnapshot#rejected()}.
     *
     * @param max the limit, at least 1
     * @return this
     */
    public Builder maxPendingGenerations(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxPendingGenerations must be at least 1, was " + max);
      }
      s.maxPending = max;
      return this;
    }

    /**
     * The clock circuit breakers and cool-downs read (default the system clock); tests pass one
     * they can move instead of sleeping through a breaker's delay.
     *
     * @param clock the clock
     * @return this
     */
    public Builder clock(Clock clock) { s.clock = Objects.requireNonNull(clock, "clock"); return this; }

    /** @param strategy how providers are ordered (default priority) @return this */
    public Builder routing(RoutingStrategy strategy) { s.routing = strategy; return this; }
    /** @param timeout deadline of a request that sets none (default 5 minutes) @return this */
    public Builder defaultTimeout(Duration timeout) { s.defaultTimeout = timeout; return this; }
    /** @param retries retries per provider on transient faults (default 2) @return this */
    public Builder maxRetries(int retries) { s.maxRetries = retries; return this; }
    /** @param base first backoff @param max largest backoff @return this */
    public Builder retryBackoff(Duration base, Duration max) { s.retryBase = base; s.retryMax = max; return this; }
    /** @param max longest Retry-After waited for on the same provider; longer fails over (default 10 s) @return this */
    public Builder maxRetryAfter(Duration max) { s.maxRetryAfter = max; return this; }
    /** @param failures consecutive failures that open a provider's circuit @param openFor how long it stays open @return this */
    public Builder circuitBreaker(int failures, Duration openFor) { s.breakerFailures = failures; s.breakerOpenFor = openFor; return this; }
    /** @param d how long a provider whose key was refused is skipped (default 5 minutes) @return this */
    public Builder authCooldown(Duration d) { s.authCooldown = d; return this; }
    /** @param d how long a provider out of credit or quota is skipped (default 1 hour) @return this */
    public Builder creditsCooldown(Duration d) { s.creditsCooldown = d; return this; }
    /** @param n calls in flight per provider when its config sets no max-concurrent (default 16) @return this */
    public Builder defaultMaxConcurrent(int n) { s.defaultMaxConcurrent = n; return this; }
    /** @param v whether a content-policy refusal fails over (default false) @return this */
    public Builder failoverOnContentPolicy(boolean v) { s.failoverOnContentPolicy = v; return this; }
    /** @param v whether a provider's invalid-request refusal fails over (default false) @return this */
    public Builder failoverOnInvalidRequest(boolean v) { s.failoverOnInvalidRequest = v; return this; }
    /** @param policy spending limits @return this */
    public Builder budget(BudgetPolicy policy) { s.budget = policy; return this; }
    /** @param store where spending is kept (default in memory) @return this */
    public Builder budgetStore(BudgetStore store) { s.budgetStore = store; return this; }
    /**
     * Shares providers' {@code requests-per-minute} limits with the other instances that use the
     * same store (a Redis one: {@code RedisRateLimitStore} in imagegen-redis). Without one, each
     * service limits on its own. When the store fails or does not answer within its
     * {@link RateLimitStore#timeout()}, the call takes its permit from this service's own limiter
     * (availability over exactness), with one WARN per outage and an INFO when it answers again.
     * The service does not close the store.
     *
     * @param store the store
     * @return this
     */
    public Builder rateLimitStore(RateLimitStore store) { s.rateLimitStore = Objects.requireNonNull(store, "store"); return this; }
    /**
     * Shares providers' cool-downs for a refused key (401/403) and for exhausted credit or quota
     * with the other instances that use the same store (a Redis one: {@code RedisCooldownStore} in
     * imagegen-redis): the first instance to see it skips the provider in all of them for what is
     * left of the cool-down ({@link #authCooldown}, {@link #creditsCooldown}). Best effort: a
     * cool-down the store cannot share still applies here. The service subscribes when built and
     * unsubscribes on close; it does not close the store.
     *
     * @param store the store
     * @return this
     */
    public Builder cooldownStore(CooldownStore store) { s.cooldownStore = Objects.requireNonNull(store, "store"); return this; }
    /** @param journal where remote jobs are recorded (default in memory) @return this */
    public Builder jobJournal(JobJournal journal) { s.journal = journal; journalDir = null; return this; }

    /**
     * Keeps the job journal in a directory ({@link JobJournal#directory(Path)}), so that a process
     * started after a crash finds the remote jobs still running and resumes or cancels them
     * ({@link ImageGenerationService#recover()}). Setting {@code imagegen.journal=dir:/path}. A
     * directory that cannot be created or written fails {@link #build()}.
     *
     * @param dir the directory, created if missing
     * @return this
     */
    public Builder journal(Path dir) { journalDir = Objects.requireNonNull(dir, "dir"); return this; }

    /**
     * How long this instance's lease in a {@link #journal(Path) directory journal} lasts without a
     * heartbeat (default 10 s, refreshed every third of it): after a crash, other instances adopt its
     * open jobs once it has expired. Setting {@code imagegen.journal.lease}.
     *
     * @param lease at least 100 ms
     * @return this
     * @throws IllegalArgumentException when shorter than 100 ms
     */
    public Builder journalLease(Duration lease) {
      if (lease.toMillis() < 100) {
        throw new IllegalArgumentException("the journal's lease must be at least 100 ms, was " + lease);
      }
      journalLease = lease;
      return this;
    }

    /**
     * This service's id in the job journal (default: a random id per service). A process restarted
     * with the same id adopts its own open entries at once; another id adopts them once the dead
     * instance's lease has expired. Setting {@code imagegen.instance-id}.
     *
     * @param id 1 to 64 letters, digits, '.', '-' or '_'
     * @return this
     */
    public Builder instanceId(String id) {
      s.instanceId = dev.imagegen.internal.DirectoryJobJournal.checkInstanceId(Objects.requireNonNull(id, "id"));
      return this;
    }

    /**
     * Whether {@link #build()} starts {@link ImageGenerationService#recover()} in the background
     * (default false; its report is logged). Setting {@code imagegen.journal.recover}.
     *
     * @param v true to recover on build
     * @return this
     */
    public Builder recoverOnBuild(boolean v) { s.recoverOnBuild = v; return this; }

    /**
     * Where {@link ImageGenerationService#recover()} delivers each job it resumed to its end, with
     * its images or its error. Called on imagegen's threads; must not block.
     *
     * @param listener the listener
     * @return this
     */
    public Builder onRecovered(java.util.function.Consumer<RecoveredJob> listener) {
      s.onRecovered = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /**
     * Adds a listener that observes every generation: starts, attempts, retries, failovers,
     * circuit changes, settled costs and ends (see {@link GenerationListener} for the order and
     * the isolation: a listener that throws or blocks never affects a generation). Listeners
     * receive events in the order they were added here.
     *
     * @param listener the listener
     * @return this
     */
    public Builder listener(GenerationListener listener) {
      s.listeners.add(Objects.requireNonNull(listener, "listener"));
      return this;
    }
    /**
     * @param client the HTTP client providers share (default: HTTP/1.1, redirects not followed by
     *     the client; imagegen follows same-origin redirects of API calls and any redirect of a
     *     result download, without credentials). Build it with {@link HttpClient.Redirect#NEVER}:
     *     a client that follows redirects itself sends a provider's credentials and request bodies
     *     to whatever host a redirect names before imagegen can refuse it
     * @return this
     */
    public Builder httpClient(HttpClient client) { s.httpClient = client; return this; }
    /** @param scheduler the scheduler for polls and delays (default: 2 daemon threads, owned by the service) @return this */
    public Builder scheduler(@Nullable ScheduledExecutorService scheduler) { s.scheduler = scheduler; return this; }
    /** @param config the response cache (off by default) @return this */
    public Builder cache(CacheConfig config) { s.cache = config; return this; }
    /** @param presets presets requests can name, added to (or replacing same-named) built-ins @return this */
    public Builder presets(List<Preset> presets) { s.presets.addAll(presets); return this; }
    /** @param file a JSON or properties file of presets (see {@link Preset#load}) @return this */
    public Builder presets(Path file) { s.presets.addAll(Preset.load(file)); return this; }
    /**
     * How far a webhook delivery's signed timestamp may be from this host's clock before the
     * receiver refuses it as stale or replayed (default 5 minutes); delivery ids are remembered
     * for twice as long.
     *
     * @param tolerance the tolerance, at least 1 s
     * @return this
     * @throws IllegalArgumentException when it is below 1 s
     */
    public Builder webhookTolerance(Duration tolerance) {
      if (tolerance.compareTo(Duration.ofSeconds(1)) < 0) {
        throw new IllegalArgumentException("the webhook tolerance must be at least 1 s, was " + tolerance);
      }
      s.webhookTolerance = tolerance;
      return this;
    }

    /** @param grace how long close() waits for remote cancels (default 5 s) @return this */
    public Builder shutdownGrace(Duration grace) { s.shutdownGrace = grace; return this; }

    /**
     * Builds the service. Logs each configuration warning at WARN and the enabled providers at
     * INFO on {@value ImageGenerationService#CONFIG_LOGGER}.
     *
     * @return the service
     * @throws ConfigurationException listing every problem {@link #configureFrom} found (and, in
     *     strict mode, every unknown setting)
     */
    public ImageGenerationService build() {
      List<String> problems = new ArrayList<>(configProblems);
      List<String> warnings = new ArrayList<>(configWarnings);
      if (strict || configuredStrict) {
        problems.addAll(warnings);
        warnings.clear();
      }
      if (journalDir != null && problems.isEmpty()) {
        try {
          s.journal = JobJournal.directory(journalDir, journalLease);
        } catch (ConfigurationException e) {
          problems.addAll(e.problems());
        }
      }
      if (!problems.isEmpty()) {
        // the warnings may explain the problems (IMAGEGEN_FAL_APIKEY beside a missing key): they are logged too
        warnings.forEach(w -> CONFIG_LOG.warn("{}", w));
        for (ImageProvider p : configured) {
          try {
            p.close();
          } catch (RuntimeException e) {
            // the configuration exception is what matters
          }
        }
        throw new ConfigurationException(problems);
      }
      String none = null;
      if (s.providers.isEmpty()) {
        none = noProviderMessage != null ? noProviderMessage
            : "no provider is configured: add one with ImageGenerationService.Builder.provider(...) or configureFrom(...)";
        warnings.add(none);
        s.noProviderMessage = none;
      }
      warnings.forEach(w -> CONFIG_LOG.warn("{}", w));
      ImageGenerationService service = new ImageGenerationService(new Engine(s), warnings);
      if (s.recoverOnBuild) {
        service.recoverAsync().whenComplete((r, e) -> {
          if (e != null) {
            CONFIG_LOG.warn("recovery of the job journal failed: {}", e.toString());
          } else {
            CONFIG_LOG.info("recovery of the job journal: {} resumed, {} resume failed, {} cancelled, {} cancel failed, {} left",
                r.with(RecoveryReport.Action.RESUMED).size(), r.with(RecoveryReport.Action.RESUME_FAILED).size(),
                r.with(RecoveryReport.Action.CANCELLED).size(), r.with(RecoveryReport.Action.CANCEL_FAILED).size(),
                r.with(RecoveryReport.Action.LEFT).size());
          }
        });
      }
      if (none == null) {
        List<String> each = new ArrayList<>();
        for (EngineSettings.Entry e : s.providers) {
          each.add(describe(e.provider(), factoryOf.get(e.provider()), e.config()));
        }
        CONFIG_LOG.info("enabled providers: {}", String.join("; ", each));
      }
      return service;
    }

    /**
     * A provider as the INFO line shows it: where each credential it reads came from (never the
     * key; a misspelt key the factory does not read is a warning, not a credential) and its base URL.
     */
    private static String describe(ImageProvider provider, @Nullable ImageProviderFactory factory, ProviderConfig c) {
      List<String> keys = new ArrayList<>();
      c.values().forEach((k, v) -> {
        if (ProviderConfig.isSecretKey(k) && !v.isBlank() && (factory == null || EnvironmentConfiguration.isKnown(factory, k))) {
          keys.add(k + " from " + c.origin(k).orElse(ProviderConfig.SET_IN_CODE));
        }
      });
      String url = c.get(ProviderConfig.BASE_URL).map(u -> ProviderConfig.maskUserInfo(u) + " ("
          + c.origin(ProviderConfig.BASE_URL).orElse(ProviderConfig.SET_IN_CODE) + ")")
          .orElseGet(() -> provider instanceof HttpImageProvider h
              ? ProviderConfig.maskUserInfo(h.baseUrl().toString()) + " (default)" : "default");
      return provider.id() + " (" + (keys.isEmpty() ? "no key" : String.join(", ", keys)) + "; base URL " + url + ")";
    }
  }
}
