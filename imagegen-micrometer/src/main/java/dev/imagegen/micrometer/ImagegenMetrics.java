package dev.imagegen.micrometer;

import dev.imagegen.Attempt;
import dev.imagegen.BudgetPolicy;
import dev.imagegen.Cost;
import dev.imagegen.GenerationListener;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.math.BigDecimal;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Micrometer meters for an {@link ImageGenerationService}: register it as a listener, then bind the
 * built service for the gauges that read it.
 *
 * <pre>{@code
 * ImagegenMetrics metrics = ImagegenMetrics.create(meterRegistry);
 * ImageGenerationService service = ImageGenerationService.builder()
 *     .configureFrom(System.getenv(), System.getProperties())
 *     .listener(metrics)
 *     .build();
 * metrics.bindTo(service); // pending and budget gauges
 * }</pre>
 *
 * <p>Meter names follow the OpenTelemetry GenAI semantic conventions where one applies
 * ({@code gen_ai.client.operation.duration} with {@code gen_ai.operation.name},
 * {@code gen_ai.provider.name}, {@code gen_ai.request.model} and {@code error.type}, which is
 * {@code none} on success unless {@link Builder#errorTypeOnlyOnFailure(boolean)} leaves it out);
 * imagegen's own meters are named {@code imagegen.*} in the same style. The
 * module's README lists every meter with its type, unit and tags.
 *
 * <p><b>Cardinality.</b> Every tag has a bounded set of values: provider ids, error kinds,
 * outcomes, cost sources. The request's model is user input, so {@code gen_ai.request.model} is
 * its name only when it is a known model (one named in {@link Builder#models(Collection)} or listed
 * by a service bound with {@link #bindTo(ImageGenerationService)}, ids and aliases), {@code default}
 * when the request names none, and {@code other} otherwise. No tag ever carries a generation id, a
 * prompt, a request hash, a remote job id or an error message.
 *
 * <p><b>Timing.</b> Events reach a listener asynchronously (see {@link GenerationListener}), so a
 * meter is updated shortly after what it counts happened; durations come from the events and are
 * exact.
 *
 * <p>Thread-safe; one instance may serve several services (their meters are then summed).
 */
public final class ImagegenMetrics implements GenerationListener {
  private static final Logger log = LoggerFactory.getLogger(ImagegenMetrics.class);
  /** Generations remembered between their start and end (events dropped on overflow could leak). */
  static final int MAX_OPEN = 100_000;
  /** How long one read of the budget store serves every budget gauge of a scrape. */
  private static final Duration BUDGET_MEMO = Duration.ofSeconds(1);

  private final MeterRegistry registry;
  private final Tags common;
  private final Clock clock;
  private final boolean errorTypeOnlyOnFailure;
  private final Semconv.KnownModels models = new Semconv.KnownModels();
  private final Map<String, Circuit> circuits = new ConcurrentHashMap<>();
  private final java.util.concurrent.atomic.AtomicBoolean bound = new java.util.concurrent.atomic.AtomicBoolean();
  /** Operation and model tags of each started generation, until it finishes. */
  private final Map<String, Tags> open = java.util.Collections.synchronizedMap(new LinkedHashMap<>(16, 0.75f, false) {
    private static final long serialVersionUID = 1L;

    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Tags> eldest) {
      return size() > MAX_OPEN;
    }
  });

  private ImagegenMetrics(Builder b) {
    this.registry = b.registry;
    this.common = b.tags;
    this.clock = b.clock;
    this.errorTypeOnlyOnFailure = b.errorTypeOnlyOnFailure;
    models.addAll(b.models);
  }

  /**
   * Meters with the defaults: no common tags, no known models until a service is bound.
   *
   * @param registry where the meters are registered
   * @return the listener
   */
  public static ImagegenMetrics create(MeterRegistry registry) {
    return builder(registry).build();
  }

  /**
   * A builder.
   *
   * @param registry where the meters are registered
   * @return the builder
   */
  public static Builder builder(MeterRegistry registry) {
    return new Builder(registry);
  }

  /**
   * Registers the gauges that read the service: {@code imagegen.generations.pending} (from
   * {@link ImageGenerationService#getMetrics()}), {@code imagegen.budget.remaining} for the total
   * and each provider limit (from {@link ImageGenerationService#budgetRemaining()}; NaN while the
   * budget store cannot answer, never an exception), and {@code imagegen.circuit.state} at 0 for each
   * configured provider. The service's listed models (ids and aliases) become known values of
   * {@code gen_ai.request.model}.
   *
   * <p>The gauges hold the service weakly: once it is unreachable they read NaN. Close the
   * returned handle to remove them from the registry, for instance when the service is closed and
   * replaced.
   *
   * @param service the service this listener is registered with
   * @return a handle whose {@code close()} removes these gauges
   * @throws IllegalStateException when it is already bound to a service whose gauges were not
   *     closed (one {@code ImagegenMetrics} per service)
   */
  public ServiceGauges bindTo(ImageGenerationService service) {
    Objects.requireNonNull(service, "service");
    if (!bound.compareAndSet(false, true)) {
      // a second service's gauges would have the first's ids: Micrometer would return the first's
      throw new IllegalStateException("this ImagegenMetrics is already bound to a service (close its ServiceGauges "
          + "first); for several services in one registry, build one ImagegenMetrics each with distinct tags()");
    }
    models.addListed(service.listModels());
    for (String p : service.providers()) {
      circuit(p);
    }
    List<Meter> meters = new ArrayList<>();
    meters.add(Gauge.builder("imagegen.generations.pending", service, s -> s.getMetrics().pending())
        .description("Generations accepted and not yet finished")
        .tags(common)
        .register(registry));
    BudgetReader budget = new BudgetReader(clock);
    List<@Nullable String> scopes = new ArrayList<>();
    try {
      BudgetPolicy.Remaining r = service.budgetRemaining();
      if (r.total() != null) {
        scopes.add(null);
      }
      r.perProvider().keySet().stream().sorted().forEach(scopes::add);
    } catch (RuntimeException e) {
      // the store is down now: register the total and every provider, each NaN until it answers
      log.warn("imagegen.budget.remaining: the budget store did not answer ({}); gauges read NaN until it does",
          e.getClass().getSimpleName());
      scopes.add(null);
      scopes.addAll(service.providers());
    }
    for (@Nullable String provider : scopes) {
      ToDoubleFunction<ImageGenerationService> f = s -> budget.remaining(s, provider);
      meters.add(Gauge.builder("imagegen.budget.remaining", service, f)
          .description("What is left of a budget limit in the current window")
          .baseUnit("usd")
          .tags(common)
          .tag(Semconv.BUDGET_SCOPE, provider == null ? "total" : "provider")
          .tag(Semconv.PROVIDER, provider == null ? "all" : provider)
          .register(registry));
    }
    return new ServiceGauges(registry, meters, () -> bound.set(false));
  }

  /** Gauges registered by {@link #bindTo(ImageGenerationService)}; closing removes them. */
  public static final class ServiceGauges implements AutoCloseable {
    private final MeterRegistry registry;
    private final List<Meter> meters;
    private final Runnable unbind;

    private ServiceGauges(MeterRegistry registry, List<Meter> meters, Runnable unbind) {
      this.registry = registry;
      this.meters = List.copyOf(meters);
      this.unbind = unbind;
    }

    /** The registered gauges. */
    public List<Meter> meters() {
      return meters;
    }

    /** Removes the gauges from the registry; the listener may then be bound to another service. */
    @Override
    public void close() {
      meters.forEach(registry::remove);
      unbind.run();
    }
  }

  @Override
  public void generationStarted(Started e) {
    open.put(e.generationId(), Tags.of(Semconv.OPERATION, Semconv.operation(e.request()),
        Semconv.REQUEST_MODEL, models.tag(e.request().model())));
  }

  @Override
  public void retryScheduled(RetryScheduled e) {
    Counter.builder("imagegen.retries").description("Retries on the same provider")
        .tags(common).tag(Semconv.PROVIDER, e.provider()).tag(Semconv.ERROR_TYPE, Semconv.errorType(e.errorKind()))
        .register(registry).increment();
  }

  @Override
  public void attemptEnded(AttemptEnded e) {
    Attempt a = e.attempt();
    Tags provider = common.and(Semconv.PROVIDER, a.provider());
    Tags outcome = provider.and(Semconv.OUTCOME, Semconv.outcome(a.outcome()));
    Tags counted = a.errorKind() != null ? outcome.and(Semconv.ERROR_TYPE, Semconv.errorType(a.errorKind()))
        : errorTypeOnlyOnFailure ? outcome : outcome.and(Semconv.ERROR_TYPE, Semconv.NO_ERROR);
    Counter.builder("imagegen.attempts").description("Provider attempts, skipped ones included")
        .tags(counted).register(registry).increment();
    if (a.outcome() != Attempt.Outcome.SKIPPED) {
      Timer.builder("imagegen.attempt.duration").description("Time spent on one provider, retries included")
          .tags(outcome).register(registry).record(a.duration());
      Timer.builder("imagegen.queue.wait")
          .description("Time an attempt's calls waited for the client-side rate limit and a concurrency permit")
          .tags(provider).register(registry).record(e.queueWait());
    }
  }

  @Override
  public void costSettled(CostSettled e) {
    Cost c = e.cost();
    if (c.source() == Cost.Source.UNKNOWN || c.amount() == null) {
      Counter.builder("imagegen.cost.unknown").description("Settled attempts whose cost is unknown")
          .tags(common).tag(Semconv.PROVIDER, e.provider()).register(registry).increment();
      return;
    }
    if (!"USD".equals(c.currency())) {
      log.debug("imagegen.cost: a cost in {} is not counted (the counter is in USD)", c.currency());
      return;
    }
    Counter.builder("imagegen.cost").description("Money spent, as settled against the budget").baseUnit("usd")
        .tags(common).tag(Semconv.PROVIDER, e.provider())
        .tag(Semconv.COST_SOURCE, c.source().name().toLowerCase(Locale.ROOT))
        .register(registry).increment(c.amount().doubleValue());
  }

  @Override
  public void failedOver(FailedOver e) {
    Counter.builder("imagegen.failovers").description("Generations that went on to the next provider after a failure")
        .tags(common).tag(Semconv.PROVIDER, e.from()).tag(Semconv.ERROR_TYPE, Semconv.errorType(e.errorKind()))
        .register(registry).increment();
  }

  @Override
  public void circuitChanged(CircuitChanged e) {
    Circuit c = circuit(e.provider());
    switch (e.state()) {
      case OPENED -> c.open = true;
      case CLOSED -> {
        c.open = false;
        c.coolingUntil = Instant.MIN;
      }
      case COOLING_DOWN -> c.coolingUntil = e.at().plus(e.duration());
    }
  }

  @Override
  public void generationFinished(Finished e) {
    @Nullable Tags started = open.remove(e.generationId());
    Tags tags = common.and(started == null
        ? Tags.of(Semconv.OPERATION, Semconv.GENERATE, Semconv.REQUEST_MODEL, Semconv.OTHER_MODEL) : started)
        .and(Semconv.PROVIDER, Semconv.provider(e.provider()));
    ImageGenerationException error = e.error();
    if (!e.succeeded()) {
      tags = tags.and(Semconv.ERROR_TYPE, error == null ? e.status().name().toLowerCase(Locale.ROOT)
          : Semconv.errorType(error.kind()));
    } else if (!errorTypeOnlyOnFailure) {
      tags = tags.and(Semconv.ERROR_TYPE, Semconv.NO_ERROR);
    }
    ImageGenerationResponse r = e.response();
    if (r != null && r.status() == ImageGenerationResponse.Status.CACHED) {
      Counter.builder("imagegen.cache.hits").description("Generations answered from imagegen's cache")
          .tags(common).tag(Semconv.OPERATION, tags.stream().filter(t -> t.getKey().equals(Semconv.OPERATION))
              .findFirst().map(Tag::getValue).orElse(Semconv.GENERATE))
          .register(registry).increment();
    }
    // last, so that whoever sees the generation timed sees every other meter of it
    Timer.builder("gen_ai.client.operation.duration").description("Duration of a generation, from its start to its end")
        .tags(tags).register(registry).record(e.duration());
  }

  /** Generations started and not yet finished (for tests). */
  int openGenerations() {
    return open.size();
  }

  private Circuit circuit(String provider) {
    return circuits.computeIfAbsent(provider, p -> {
      Circuit c = new Circuit(clock);
      Gauge.builder("imagegen.circuit.state", c, Circuit::value)
          .description("1 while the provider is skipped (circuit open or cooling down), 0 when it is used")
          .tags(common).tag(Semconv.PROVIDER, p)
          .strongReference(true)
          .register(registry);
      return c;
    });
  }

  /** One provider's circuit as the events report it. */
  private static final class Circuit {
    private final Clock clock;
    volatile boolean open;
    volatile Instant coolingUntil = Instant.MIN;

    Circuit(Clock clock) {
      this.clock = clock;
    }

    double value() {
      // a cool-down ends without an event: it ends when its duration has passed
      return open || clock.instant().isBefore(coolingUntil) ? 1 : 0;
    }
  }

  /** Reads the budget once for every gauge of a scrape; NaN while the store fails. */
  private static final class BudgetReader {
    private final Clock clock;
    private BudgetPolicy.@Nullable Remaining last;
    private Instant readAt = Instant.MIN;
    private boolean failing;

    BudgetReader(Clock clock) {
      this.clock = clock;
    }

    synchronized double remaining(ImageGenerationService service, @Nullable String provider) {
      Instant now = clock.instant();
      if (last == null || !now.isBefore(readAt.plus(BUDGET_MEMO))) {
        try {
          last = service.budgetRemaining();
          if (failing) {
            log.info("imagegen.budget.remaining: the budget store answers again");
          }
          failing = false;
        } catch (RuntimeException e) {
          last = null;
          if (!failing) {
            log.warn("imagegen.budget.remaining reads NaN: the budget store did not answer ({})",
                e.getClass().getSimpleName());
          }
          failing = true;
          return Double.NaN;
        } finally {
          readAt = now;
        }
      }
      BudgetPolicy.@Nullable Remaining r = last;
      if (r == null) {
        return Double.NaN;
      }
      BigDecimal v = provider == null ? r.total() : r.perProvider().get(provider);
      return v == null ? Double.NaN : v.doubleValue();
    }
  }

  /** Builds {@link ImagegenMetrics}. Not thread-safe. */
  public static final class Builder {
    private final MeterRegistry registry;
    private Tags tags = Tags.empty();
    private final Set<String> models = new java.util.LinkedHashSet<>();
    private Clock clock = Clock.systemUTC();
    private boolean errorTypeOnlyOnFailure;

    private Builder(MeterRegistry registry) {
      this.registry = Objects.requireNonNull(registry, "registry");
    }

    /**
     * Models whose names may appear as {@code gen_ai.request.model}, besides those a bound
     * service lists; any other requested model is tagged {@code other}.
     *
     * @param names model ids or aliases as requests name them
     * @return this
     */
    public Builder models(Collection<String> names) {
      for (String n : names) {
        models.add(Objects.requireNonNull(n, "model name"));
      }
      return this;
    }

    /**
     * Models whose names may appear as {@code gen_ai.request.model}.
     *
     * @param names model ids or aliases as requests name them
     * @return this
     * @see #models(Collection)
     */
    public Builder models(String... names) {
      return models(Arrays.asList(names));
    }

    /**
     * Tags added to every meter (an application or instance name, for example).
     *
     * @param tags the tags
     * @return this
     */
    public Builder tags(Iterable<Tag> tags) {
      this.tags = this.tags.and(tags);
      return this;
    }

    /**
     * The clock that tells when a provider's cool-down has ended (default: the system clock; use
     * the service's clock when it has one).
     *
     * @param clock the clock
     * @return this
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Whether {@code error.type} is left out on success, as the OpenTelemetry semantic conventions
     * have it (default false: a success is tagged {@code error.type=none}). Micrometer 1.16's
     * {@code PrometheusMeterRegistry} accepts one set of tag keys per meter name and drops every
     * meter of that name with another set: with true, whichever of the successes or the failures
     * comes second is never exported there. Set it for registries without that rule (OTLP).
     *
     * @param onlyOnFailure true to tag only failures with {@code error.type}
     * @return this
     */
    public Builder errorTypeOnlyOnFailure(boolean onlyOnFailure) {
      this.errorTypeOnlyOnFailure = onlyOnFailure;
      return this;
    }

    /** Builds the listener. */
    public ImagegenMetrics build() {
      return new ImagegenMetrics(this);
    }
  }
}
