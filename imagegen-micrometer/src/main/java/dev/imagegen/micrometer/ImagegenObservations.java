package dev.imagegen.micrometer;

import dev.imagegen.Attempt;
import dev.imagegen.Cost;
import dev.imagegen.GenerationListener;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationResponse;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import java.math.BigDecimal;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * An {@link Observation} per generation, with a child Observation per provider attempt, for
 * tracing through Micrometer Tracing (or any {@code ObservationHandler}). Register it as a listener:
 *
 * <pre>{@code
 * ImageGenerationService service = ImageGenerationService.builder()
 *     .configureFrom(System.getenv(), System.getProperties())
 *     .listener(ImagegenObservations.create(observationRegistry))
 *     .build();
 * }</pre>
 *
 * <p><b>What is observed.</b> {@value #GENERATION} starts when a generation starts; its parent is
 * the Observation current on the caller's thread when the generation was submitted (read by
 * {@link #captureContext()}), so the generation's span is a child of the caller's. Its contextual
 * name is {@code generate_image} or {@code edit_image} (a request with an input image), followed by
 * the provider that served or failed once the generation ended. Each provider call is a child
 * {@value #ATTEMPT} Observation (contextual name {@code attempt <provider>}) from its start to its
 * end, with the error set when it failed; a retry is an event on it. A provider skipped without a
 * call, a failover and a circuit change caused by the generation are events on the generation.
 * The generation stops when it finishes, with the error the caller got when it failed.
 *
 * <p><b>Key values.</b> Low cardinality, as the meters of {@link ImagegenMetrics}:
 * {@code gen_ai.operation.name}, {@code gen_ai.provider.name}, {@code gen_ai.request.model}
 * ({@code default}, a known model, or {@code other}), {@code error.type} (the error kind, or
 * {@code none} on success unless {@link Builder#errorTypeOnlyOnFailure(boolean)}),
 * {@code imagegen.attempt.outcome} and {@code imagegen.cached}. High cardinality (span attributes,
 * never metric tags): {@code imagegen.generation.id}, {@code imagegen.remote_job.id},
 * {@code imagegen.attempt.number}, {@code gen_ai.response.model}, {@code imagegen.cost.usd}, and the
 * prompt as {@code imagegen.prompt} only when {@link Builder#includePrompt(boolean)} asks for it.
 * Without it, a failure whose message quotes the prompt is recorded with the prompt replaced by
 * {@code [prompt]}. No secret ever: events carry none.
 *
 * <p><b>Timing.</b> Listener events arrive asynchronously on the listener's own thread, so the
 * Observations start and stop a little after what they observe (typically microseconds; more when
 * the listener falls behind). A generation's exact duration is in {@link ImagegenMetrics}'s
 * {@code gen_ai.client.operation.duration}.
 *
 * <p>Thread-safe. An open generation is forgotten when it finishes; if its finish event was
 * dropped (see {@link GenerationListener#QUEUE_LIMIT}) the oldest open generations are dropped past
 * {@value #MAX_OPEN}.
 */
public final class ImagegenObservations implements GenerationListener {
  /** The name of a generation's Observation. */
  public static final String GENERATION = "imagegen.generation";
  /** The name of a provider attempt's Observation. */
  public static final String ATTEMPT = "imagegen.attempt";
  /** Generations remembered between their start and end. */
  static final int MAX_OPEN = 100_000;
  private static final String PROMPT_MASK = "[prompt]";

  private final ObservationRegistry registry;
  private final boolean includePrompt;
  private final boolean errorTypeOnlyOnFailure;
  private final Semconv.KnownModels models = new Semconv.KnownModels();
  private final Map<String, Generation> open = java.util.Collections.synchronizedMap(
      new LinkedHashMap<>(16, 0.75f, false) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Generation> eldest) {
          return size() > MAX_OPEN;
        }
      });

  private ImagegenObservations(Builder b) {
    this.registry = b.registry;
    this.includePrompt = b.includePrompt;
    this.errorTypeOnlyOnFailure = b.errorTypeOnlyOnFailure;
    models.addAll(b.models);
  }

  /**
   * Observations with the defaults: no prompt, no known models.
   *
   * @param registry the registry the Observations are made in
   * @return the listener
   */
  public static ImagegenObservations create(ObservationRegistry registry) {
    return builder(registry).build();
  }

  /**
   * A builder.
   *
   * @param registry the registry the Observations are made in
   * @return the builder
   */
  public static Builder builder(ObservationRegistry registry) {
    return new Builder(registry);
  }

  /** The Observation current on the caller's thread: the parent of the generation's. */
  @Override
  public @Nullable Object captureContext() {
    return registry.getCurrentObservation();
  }

  @Override
  public void generationStarted(Started e) {
    if (registry.isNoop()) {
      return;
    }
    String operation = Semconv.operation(e.request());
    Observation o = Observation.createNotStarted(GENERATION, registry)
        .contextualName(operation)
        .lowCardinalityKeyValue(Semconv.OPERATION, operation)
        .lowCardinalityKeyValue(Semconv.REQUEST_MODEL, models.tag(e.request().model()))
        .highCardinalityKeyValue(Semconv.GENERATION_ID, e.generationId());
    if (e.context() instanceof Observation parent) {
      o.parentObservation(parent);
    }
    if (includePrompt) {
      o.highCardinalityKeyValue(Semconv.PROMPT, e.request().prompt());
    }
    o.start();
    open.put(e.generationId(), new Generation(o, operation, e.request().prompt()));
  }

  @Override
  public void attemptStarted(AttemptStarted e) {
    Generation g = open.get(e.generationId());
    if (g == null) {
      return;
    }
    Observation a = Observation.createNotStarted(ATTEMPT, registry)
        .parentObservation(g.observation)
        .contextualName("attempt " + e.provider())
        .lowCardinalityKeyValue(Semconv.OPERATION, g.operation)
        .lowCardinalityKeyValue(Semconv.PROVIDER, e.provider())
        .highCardinalityKeyValue(Semconv.GENERATION_ID, e.generationId())
        .highCardinalityKeyValue(Semconv.ATTEMPT_NUMBER, Integer.toString(e.number()))
        .start();
    Observation previous = g.attempts.put(e.provider(), a);
    if (previous != null) {
      previous.stop();
    }
  }

  @Override
  public void retryScheduled(RetryScheduled e) {
    Generation g = open.get(e.generationId());
    if (g == null) {
      return;
    }
    Observation a = g.attempts.get(e.provider());
    Observation target = a == null ? g.observation : a;
    target.event(Observation.Event.of("imagegen.retry",
        "retry " + e.provider() + " call " + e.nextCall() + " (" + Semconv.errorType(e.errorKind()) + ")"));
  }

  @Override
  public void attemptEnded(AttemptEnded e) {
    Generation g = open.get(e.generationId());
    if (g == null) {
      return;
    }
    Attempt at = e.attempt();
    Observation a = g.attempts.remove(at.provider());
    if (a == null) {
      // skipped without a call: an event on the generation, not a child
      String kind = at.errorKind() == null ? "" : " (" + Semconv.errorType(at.errorKind()) + ")";
      g.observation.event(Observation.Event.of("imagegen.attempt." + Semconv.outcome(at.outcome()),
          Semconv.outcome(at.outcome()) + " " + at.provider() + kind));
      return;
    }
    a.lowCardinalityKeyValue(Semconv.OUTCOME, Semconv.outcome(at.outcome()));
    if (at.remoteJobId() != null) {
      a.highCardinalityKeyValue(Semconv.REMOTE_JOB_ID, at.remoteJobId());
    }
    if (at.errorKind() == null) {
      if (!errorTypeOnlyOnFailure) {
        a.lowCardinalityKeyValue(Semconv.ERROR_TYPE, Semconv.NO_ERROR);
      }
    } else {
      a.lowCardinalityKeyValue(Semconv.ERROR_TYPE, Semconv.errorType(at.errorKind()));
      Throwable cause = at.cause();
      a.error(scrub(cause != null ? cause : new AttemptFailure(at.provider() + " " + Semconv.errorType(at.errorKind())), g));
    }
    a.stop();
  }

  @Override
  public void costSettled(CostSettled e) {
    Generation g = open.get(e.generationId());
    Cost c = e.cost();
    if (g == null || c.amount() == null) {
      return;
    }
    g.cost = g.cost.add(c.amount());
    g.observation.highCardinalityKeyValue("imagegen.cost.usd", g.cost.stripTrailingZeros().toPlainString());
  }

  @Override
  public void failedOver(FailedOver e) {
    Generation g = open.get(e.generationId());
    if (g == null) {
      return;
    }
    g.observation.event(Observation.Event.of("imagegen.failover", "failover " + e.from() + " ("
        + Semconv.errorType(e.errorKind()) + ") -> " + e.next()));
  }

  @Override
  public void circuitChanged(CircuitChanged e) {
    String id = e.generationId();
    Generation g = id == null ? null : open.get(id);
    if (g == null) {
      return;
    }
    g.observation.event(Observation.Event.of("imagegen.circuit." + e.state().name().toLowerCase(Locale.ROOT),
        "circuit " + e.provider() + " " + e.state().name().toLowerCase(Locale.ROOT)));
  }

  @Override
  public void generationFinished(Finished e) {
    Generation g = open.get(e.generationId());
    if (g == null) {
      return;
    }
    try {
      finish(g, e);
    } finally {
      open.remove(e.generationId()); // after the stop: a generation counted as ended is stopped
    }
  }

  private void finish(Generation g, Finished e) {
    for (Observation a : g.attempts.values()) {
      a.stop();
    }
    String provider = Semconv.provider(e.provider());
    Observation o = g.observation;
    o.contextualName(g.operation + " " + provider);
    o.lowCardinalityKeyValue(Semconv.PROVIDER, provider);
    ImageGenerationResponse r = e.response();
    o.lowCardinalityKeyValue(Semconv.CACHED,
        Boolean.toString(r != null && r.status() == ImageGenerationResponse.Status.CACHED));
    if (r != null) {
      o.highCardinalityKeyValue(Semconv.RESPONSE_MODEL, r.model());
      if (!errorTypeOnlyOnFailure) {
        o.lowCardinalityKeyValue(Semconv.ERROR_TYPE, Semconv.NO_ERROR);
      }
    } else {
      ImageGenerationException error = e.error();
      o.lowCardinalityKeyValue(Semconv.ERROR_TYPE, error == null
          ? e.status().name().toLowerCase(Locale.ROOT) : Semconv.errorType(error.kind()));
      o.error(error == null ? new AttemptFailure("generation " + e.status().name().toLowerCase(Locale.ROOT))
          : scrub(error, g));
    }
    o.stop();
  }

  /** Generations started and not yet finished (for tests). */
  int openGenerations() {
    return open.size();
  }

  /**
   * The failure, or, when its message or a cause's quotes the prompt, a copy without causes whose
   * message is the chain's with the prompt masked (a provider may echo the prompt in an error).
   */
  private Throwable scrub(Throwable t, Generation g) {
    if (includePrompt || g.prompt.isBlank()) {
      return t;
    }
    boolean quotes = false;
    StringBuilder chain = new StringBuilder();
    int depth = 0;
    for (Throwable c = t; c != null && depth < 16; c = c.getCause(), depth++) {
      String m = c.getMessage();
      quotes |= m != null && m.contains(g.prompt);
      chain.append(depth == 0 ? "" : "; caused by ").append(c.getClass().getName())
          .append(m == null ? "" : ": " + m);
    }
    if (!quotes) {
      return t;
    }
    AttemptFailure copy = new AttemptFailure(chain.toString().replace(g.prompt, PROMPT_MASK));
    copy.setStackTrace(t.getStackTrace());
    return copy;
  }

  /** A failure recorded on an Observation when the real one cannot be given as it is. */
  static final class AttemptFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    AttemptFailure(String message) {
      super(message, null, false, true);
    }
  }

  /** One open generation. */
  private static final class Generation {
    final Observation observation;
    final String operation;
    final String prompt;
    final Map<String, Observation> attempts = new ConcurrentHashMap<>();
    BigDecimal cost = BigDecimal.ZERO;

    Generation(Observation observation, String operation, String prompt) {
      this.observation = observation;
      this.operation = operation;
      this.prompt = prompt;
    }
  }

  /** Builds {@link ImagegenObservations}. Not thread-safe. */
  public static final class Builder {
    private final ObservationRegistry registry;
    private boolean includePrompt;
    private boolean errorTypeOnlyOnFailure;
    private final java.util.Set<String> models = new java.util.LinkedHashSet<>();

    private Builder(ObservationRegistry registry) {
      this.registry = Objects.requireNonNull(registry, "registry");
    }

    /**
     * Whether a generation's Observation carries its prompt as the high-cardinality key value
     * {@code imagegen.prompt} (default false: a prompt can hold personal data, and traces often
     * leave the process).
     *
     * @param include true to record the prompt
     * @return this
     */
    public Builder includePrompt(boolean include) {
      this.includePrompt = include;
      return this;
    }

    /**
     * Models whose names may appear as {@code gen_ai.request.model}; any other requested model is
     * {@code other}.
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
     * Whether {@code error.type} is left out on success (default false: {@code none}), as
     * {@link ImagegenMetrics.Builder#errorTypeOnlyOnFailure(boolean)}: low-cardinality key values
     * become meter tags when the registry has a meter handler, as Spring Boot's has.
     *
     * @param onlyOnFailure true to set {@code error.type} only on failures
     * @return this
     */
    public Builder errorTypeOnlyOnFailure(boolean onlyOnFailure) {
      this.errorTypeOnlyOnFailure = onlyOnFailure;
      return this;
    }

    /** Builds the listener. */
    public ImagegenObservations build() {
      return new ImagegenObservations(this);
    }
  }
}
