package dev.imagegen;

import dev.imagegen.internal.Engine;
import dev.imagegen.internal.EngineSettings;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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
  private final Engine engine;

  private ImageGenerationService(Engine engine) {
    this.engine = engine;
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
   * @return the service
   * @throws IllegalStateException when a provider's configuration is invalid
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
   * Checks a provider with a real, cheap call.
   *
   * @param providerId the provider
   * @return the result; a refused key and a down server are told apart
   */
  public ProviderHealth testConnection(String providerId) {
    return engine.health(providerId, Duration.ofSeconds(30));
  }

  /** Checks every provider in parallel with real, cheap calls. */
  public Map<String, ProviderHealth> health() {
    return engine.health(Duration.ofSeconds(30));
  }

  /** An immutable snapshot of the metrics. */
  public MetricsSnapshot getMetrics() {
    return engine.metrics();
  }

  /** The models every provider offers. */
  public List<ModelInfo> listModels() {
    return engine.models();
  }

  /** The configured provider ids, in registration order. */
  public List<String> providers() {
    return engine.providerIds();
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
    private final EngineSettings s = new EngineSettings();

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
      return provider(factory.create(c), c);
    }

    /**
     * Adds every provider on the class path that the environment and properties configure, plus
     * service settings: {@code imagegen.routing} ({@code priority|cheapest|fastest}),
     * {@code imagegen.timeout}, {@code imagegen.max-retries}, {@code imagegen.budget.total},
     * {@code imagegen.budget.window} (each also as {@code IMAGEGEN_ROUTING}...).
     *
     * @param env environment variables
     * @param properties properties
     * @return this
     */
    public Builder configureFrom(Map<String, String> env, Properties properties) {
      Properties props = new Properties();
      String file = properties.getProperty("imagegen.config", env.get("IMAGEGEN_CONFIG"));
      if (file != null && !file.isBlank()) {
        try (InputStream in = Files.newInputStream(Path.of(file))) {
          props.load(in);
        } catch (IOException e) {
          throw new UncheckedIOException("cannot read imagegen config file " + file, e);
        }
      }
      props.putAll(properties);
      serviceSetting(env, props, "routing").ifPresent(v -> routing(RoutingStrategy.valueOf(v.toUpperCase(Locale.ROOT))));
      serviceSetting(env, props, "timeout").ifPresent(v -> defaultTimeout(duration(v)));
      serviceSetting(env, props, "max-retries").ifPresent(v -> maxRetries(Integer.parseInt(v)));
      serviceSetting(env, props, "max-pending").ifPresent(v -> maxPendingGenerations(positiveInt("imagegen.max-pending", v)));
      serviceSetting(env, props, "failover-on-unknown-outcome")
          .ifPresent(v -> failoverOnUnknownOutcome(strictBoolean("imagegen.failover-on-unknown-outcome", v)));
      Optional<String> total = serviceSetting(env, props, "budget.total");
      if (total.isPresent()) {
        BudgetPolicy.Builder b = BudgetPolicy.builder().total(new BigDecimal(total.get()));
        serviceSetting(env, props, "budget.window").ifPresent(v -> b.window(duration(v)));
        serviceSetting(env, props, "budget.allow-unknown-prices").ifPresent(v -> b.allowUnknownPrices(Boolean.parseBoolean(v)));
        budget(b.build());
      }
      List<ImageProviderFactory> fallbacks = new ArrayList<>();
      int before = s.providers.size();
      for (ImageProviderFactory f : ServiceLoader.load(ImageProviderFactory.class)) {
        ProviderConfig config = ProviderConfig.from(f.id(), env, props, f.customaryEnvironment()).withDefaults(f.defaults());
        if (!config.bool(ProviderConfig.ENABLED, true)) {
          continue;
        }
        if (f.isConfigured(config)) {
          provider(f, config);
        } else if (f.enabledWhenNothingConfigured()) {
          fallbacks.add(f);
        }
      }
      if (s.providers.size() == before) {
        for (ImageProviderFactory f : fallbacks) {
          ProviderConfig config = ProviderConfig.from(f.id(), env, props, f.customaryEnvironment());
          provider(f, config);
        }
      }
      return this;
    }

    private static Optional<String> serviceSetting(Map<String, String> env, Properties props, String key) {
      String v = props.getProperty("imagegen." + key);
      if (v == null) {
        v = env.get("IMAGEGEN_" + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_'));
      }
      return Optional.ofNullable(v).map(String::strip).filter(x -> !x.isEmpty());
    }

    private static int positiveInt(String key, String v) {
      try {
        int n = Integer.parseInt(v);
        if (n >= 1) {
          return n;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new IllegalStateException(key + " must be a whole number of at least 1, was '" + v + "'");
    }

    private static boolean strictBoolean(String key, String v) {
      if (v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
        return Boolean.parseBoolean(v);
      }
      throw new IllegalStateException(key + " must be true or false, was '" + v + "'");
    }

    private static Duration duration(String v) {
      Duration d = ProviderConfig.parseDuration(v);
      if (d == null) {
        throw new IllegalStateException("not a duration: " + v);
      }
      return d;
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
    /** @param journal where remote jobs are recorded (default in memory) @return this */
    public Builder jobJournal(JobJournal journal) { s.journal = journal; return this; }
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
    /** @param grace how long close() waits for remote cancels (default 5 s) @return this */
    public Builder shutdownGrace(Duration grace) { s.shutdownGrace = grace; return this; }

    /** Builds the service. */
    public ImageGenerationService build() {
      return new ImageGenerationService(new Engine(s));
    }
  }
}
