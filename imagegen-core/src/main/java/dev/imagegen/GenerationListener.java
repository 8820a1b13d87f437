package dev.imagegen;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Observes what the service does: each generation's start and end, each provider attempt, retry
 * and failover, every change of a provider's circuit, and the cost settled for each attempt.
 * Metrics, tracing and audit logs are built on it; register one with
 * {@link ImageGenerationService.Builder#listener(GenerationListener)}.
 *
 * <pre>{@code
 * ImageGenerationService service = ImageGenerationService.builder()
 *     .configureFrom(System.getenv(), System.getProperties())
 *     .listener(new GenerationListener() {
 *       @Override public void attemptEnded(GenerationListener.AttemptEnded e) {
 *         log.info("{} {} in {} ms", e.attempt().provider(), e.attempt().outcome(), e.attempt().duration().toMillis());
 *       }
 *     })
 *     .build();
 * }</pre>
 *
 * <p><b>Isolation.</b> A listener never affects a generation. Each listener receives its events
 * on a thread of its own, one at a time and in the order they happened (across all generations),
 * never on the caller's, the HTTP client's or the scheduler's threads; what it throws, an
 * {@link Error} included, is logged once and the events go on. A slow listener delays only its
 * own events: they queue up to {@link #QUEUE_LIMIT} per listener, and past that the newest are
 * dropped and counted (logged at WARN once per overflow, with the count when it drains). The one
 * method called on the caller's thread is {@link #captureContext()}, which must return at once.
 *
 * <p><b>Order.</b> For one generation: {@link #generationStarted}, then for each provider on its
 * route {@link #attemptStarted} (not for providers skipped without a call), any
 * {@link #retryScheduled}, {@link #attemptEnded} (skipped providers included), {@link #costSettled}
 * when the attempt spent or may have spent money, {@link #failedOver} when a provider is left to
 * try after a failure, and last {@link #generationFinished}. {@link #circuitChanged} is about a
 * provider, not a generation. A request refused before it started (the pending limit, an invalid
 * request) produces no event: the caller gets the exception.
 *
 * <p>Events carry no secret. {@link Started#request()} holds the request as the caller gave it,
 * prompt included: a listener that exports data decides what leaves the process.
 */
public interface GenerationListener {

  /** The most events that wait for one listener; later ones are dropped until it catches up. */
  int QUEUE_LIMIT = 65_536;

  /**
   * Called on the caller's thread when a generation is submitted, before its first event: the value
   * returned comes back in that generation's {@link Started#context()}, for instance the caller's
   * current trace context, so that a tracing listener can make the generation's span a child of the
   * caller's. It must return at once (read a thread-local, no I/O); what it throws is logged and
   * the generation goes on with a null context.
   *
   * @return a value for this listener only, or null
   */
  default @Nullable Object captureContext() {
    return null;
  }

  /**
   * A generation was accepted (answered from the cache or not).
   *
   * @param event the generation's id, its request and when it started
   */
  default void generationStarted(Started event) {}

  /**
   * A provider is about to be called for a generation (its first call; retries follow as
   * {@link #retryScheduled}).
   *
   * @param event the generation and the provider
   */
  default void attemptStarted(AttemptStarted event) {}

  /**
   * A call to a provider failed in a way a retry may fix; the retry is scheduled.
   *
   * @param event the provider, the failure and the delay before the next call
   */
  default void retryScheduled(RetryScheduled event) {}

  /**
   * A provider attempt ended: succeeded, failed, cancelled, or skipped without a call (no
   * capability, a cool-down, an open circuit, the budget).
   *
   * @param event the attempt as {@link ImageGenerationResponse#attempts()} reports it
   */
  default void attemptEnded(AttemptEnded event) {}

  /**
   * The cost of one provider attempt was settled against the budget: a success's cost, what a
   * provider charged for a failure, or an unknown amount kept for a call that may be billed.
   * Attempts that spent nothing (skipped, refused before a job existed) settle no cost.
   *
   * @param event the generation, the provider and the cost
   */
  default void costSettled(CostSettled event) {}

  /**
   * After a provider's failure the generation goes on with the rest of its route.
   *
   * @param event the provider that failed and why
   */
  default void failedOver(FailedOver event) {}

  /**
   * A provider's circuit opened, closed again, or the provider started to cool down.
   *
   * @param event the provider and its new state
   */
  default void circuitChanged(CircuitChanged event) {}

  /**
   * A generation ended: with its response, or with the failure the caller gets.
   *
   * @param event the outcome
   */
  default void generationFinished(Finished event) {}

  /**
   * A generation was accepted.
   *
   * @param generationId the generation's id (as {@link ImageGenerationResponse#id()})
   * @param request the request as the caller gave it
   * @param onlyProvider the provider named for it, or null when it fails over
   * @param at when it started
   * @param context what this listener's {@link #captureContext()} returned on the caller's thread
   */
  record Started(String generationId, ImageGenerationRequest request, @Nullable String onlyProvider, Instant at,
      @Nullable Object context) {
    /** Validates the record. */
    public Started {
      Objects.requireNonNull(generationId, "generationId");
      Objects.requireNonNull(request, "request");
      Objects.requireNonNull(at, "at");
    }
  }

  /**
   * A provider is about to be called.
   *
   * @param generationId the generation
   * @param provider the provider's id
   * @param number which attempt of the generation this is, from 1 (skipped providers not counted)
   * @param at when it started
   */
  record AttemptStarted(String generationId, String provider, int number, Instant at) {}

  /**
   * A retry on the same provider is scheduled.
   *
   * @param generationId the generation
   * @param provider the provider's id
   * @param nextCall the number of the call the retry makes, from 2
   * @param delay how long until it
   * @param errorKind the kind of the failure retried
   * @param reason the failure's message
   */
  record RetryScheduled(String generationId, String provider, int nextCall, Duration delay, ErrorKind errorKind,
      String reason) {}

  /**
   * A provider attempt ended.
   *
   * @param generationId the generation
   * @param attempt what happened, as the response and the failure report it
   * @param queueWait how long its calls waited for the client-side rate limit and for a
   *     max-concurrent permit before the provider was called
   * @param at when it ended
   */
  record AttemptEnded(String generationId, Attempt attempt, Duration queueWait, Instant at) {}

  /**
   * The cost of one attempt was settled.
   *
   * @param generationId the generation
   * @param provider the provider's id
   * @param cost what it cost: estimated, reported by the provider, free, or unknown
   * @param succeeded whether the attempt produced the images (false: a failed call that was charged
   *     or may be billed)
   */
  record CostSettled(String generationId, String provider, Cost cost, boolean succeeded) {}

  /**
   * The generation fails over after a provider's failure.
   *
   * @param generationId the generation
   * @param from the provider that failed
   * @param errorKind the kind of its failure
   * @param next the next provider on the route (it may still be skipped, reported as a skipped
   *     attempt); when none is left the generation ends instead, and no failover is reported
   */
  record FailedOver(String generationId, String from, ErrorKind errorKind, String next) {}

  /**
   * A provider's circuit or cool-down changed.
   *
   * @param provider the provider's id
   * @param state the new state
   * @param errorKind the kind of failure behind it; null when it closed
   * @param duration how long it lasts (the open delay or the cool-down); zero when it closed
   * @param reason what a person reads
   * @param generationId the generation whose call caused it, or null
   * @param at when it changed
   */
  record CircuitChanged(String provider, CircuitState state, @Nullable ErrorKind errorKind, Duration duration,
      String reason, @Nullable String generationId, Instant at) {}

  /** A provider's circuit state, as {@link #circuitChanged} reports it. */
  enum CircuitState {
    /** Repeated failures, or refused credentials, opened the circuit: the provider is skipped. */
    OPENED,
    /** A trial call succeeded: the provider is used again. */
    CLOSED,
    /** The provider is skipped for a while: refused credentials, no credit, a long Retry-After. */
    COOLING_DOWN
  }

  /**
   * A generation ended.
   *
   * @param generationId the generation
   * @param response the response when it succeeded (or came from the cache), else null
   * @param error the failure when it did not, else null
   * @param status how it ended
   * @param duration from its start to its end
   * @param attempts every attempt, skipped providers included
   * @param at when it ended
   */
  record Finished(String generationId, @Nullable ImageGenerationResponse response, @Nullable ImageGenerationException error,
      GenerationJob.Status status, Duration duration, List<Attempt> attempts, Instant at) {
    /** Validates the record. */
    public Finished {
      Objects.requireNonNull(generationId, "generationId");
      attempts = List.copyOf(attempts);
    }

    /** Whether the generation succeeded (from a provider or the cache). */
    public boolean succeeded() {
      return response != null;
    }

    /** The provider that served it, the one whose failure ended it, or null. */
    public @Nullable String provider() {
      if (response != null) {
        return response.provider();
      }
      return error == null ? null : error.providerId();
    }
  }
}
