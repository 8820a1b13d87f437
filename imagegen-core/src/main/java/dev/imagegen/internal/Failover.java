package dev.imagegen.internal;

import dev.imagegen.AllProvidersFailedException;
import dev.imagegen.Attempt;
import dev.imagegen.AuthenticationException;
import dev.imagegen.BudgetExceededException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.Cost;
import dev.imagegen.ErrorKind;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.GenerationListener;
import dev.imagegen.GenerationTimeoutException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.NoCapableProviderException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * Failover: walks a generation's route, one {@link ProviderAttempt} at a time, until one
 * succeeds, a failure says another provider would not help, or the route is exhausted. Before each
 * attempt: the provider's cool-down and circuit, then the budget reservation.
 */
final class Failover {
  private final Engine engine;
  private final Generation g;
  private final boolean single;
  private final List<ProviderSlot> route;
  private int position;
  /** Attempts that called (or were about to call) a provider. */
  private int started;
  private @Nullable ImageGenerationException last;

  Failover(Engine engine, Generation g, Router.Route route, boolean single) {
    this.engine = engine;
    this.g = g;
    this.single = single;
    this.route = route.candidates();
  }

  void next() {
    while (!g.isDone()) {
      if (position >= route.size()) {
        engine.end(g, exhausted());
        return;
      }
      ProviderSlot slot = route.get(position++);
      ProviderSlot.Unavailable unavailable = slot.unavailable();
      if (unavailable != null) {
        last = skipFailure(slot, unavailable);
        AttemptLog.debug(slot, g, "{} skipped ({}): {}", slot.id(), unavailable.kind(), unavailable.reason());
        engine.settlement.skipped(g, slot.id(), unavailable.kind(), unavailable.reason(), last);
        continue;
      }
      Budgets.Reservation reservation;
      try {
        Cost most = slot.costModel.maximum(g.request, Engine.remaining(g));
        reservation = engine.budgets.reserve(slot.id(), most);
      } catch (BudgetExceededException e) {
        last = e;
        AttemptLog.debug(slot, g, "{} skipped ({}): {}", slot.id(), e.kind(), AttemptLog.shortly(e.getMessage()));
        engine.settlement.skipped(g, slot.id(), ErrorKind.BUDGET_EXCEEDED, String.valueOf(e.getMessage()), e);
        continue;
      }
      ProviderAttempt attempt = new ProviderAttempt(engine, g, slot, reservation);
      if (!g.attach(attempt)) {
        engine.budgets.release(reservation);
        return;
      }
      started++;
      if (!engine.listeners.none()) {
        int number = started;
        Instant at = Instant.now();
        engine.listeners.emit(l -> l.attemptStarted(new GenerationListener.AttemptStarted(g.id(), slot.id(), number, at)));
      }
      attempt.run().whenComplete((end, err) -> ended(slot, end));
      return;
    }
  }

  private void ended(ProviderSlot slot, ProviderAttempt.End end) {
    if (end.result() != null) {
      Cost cost = engine.guardedCost(slot, g, end.result());
      AttemptLog.debug(slot, g, "{} succeeded in {} ms ({} call(s)), cost {}", slot.id(), millisSince(end.attempt().startNanos),
          end.attempt().calls(), AttemptLog.cost(cost));
      engine.settlement.attemptEnded(end, cost);
      if (g.claimEnd()) {
        engine.settlement.succeeded(g, slot, end.result(), cost);
      }
      return;
    }
    engine.settlement.attemptEnded(end, null);
    ImageGenerationException e = end.error() != null ? end.error()
        : ProviderUnavailableException.failOver("failed without a reason", slot.id(), null);
    if (end.abandoned() || g.isDone()) {
      return; // the generation's end (deadline, caller, close) was settled by whoever claimed it
    }
    boolean failOver = !single && mayFailOver(e);
    String then = failOver ? (position < route.size() ? "trying " + route.get(position).id() + " next" : "no provider left")
        : single ? "the generation ends (only " + slot.id() + " was asked)" : "the generation ends (" + noFailoverWhy(e) + ")";
    AttemptLog.warn(slot, g, "{} failed after {} call(s) in {} ms ({}): {}; {}", slot.id(), end.attempt().calls(),
        millisSince(end.attempt().startNanos), e.kind(), AttemptLog.shortly(e.getMessage()), then);
    afterFailure(slot, e);
    last = e;
    if (!failOver) {
      engine.end(g, e);
    } else {
      if (!engine.listeners.none() && position < route.size()) { // no provider left: the generation ends, no failover
        String upNext = route.get(position).id();
        ErrorKind kind = e.kind();
        engine.listeners.emit(l -> l.failedOver(new GenerationListener.FailedOver(g.id(), slot.id(), kind, upNext)));
      }
      next();
    }
  }

  private ImageGenerationException exhausted() {
    List<Attempt> attempts = g.attempts();
    if (single && last != null) {
      return last;
    }
    if (last instanceof BudgetExceededException budget) {
      return budgetStopped(budget, attempts);
    }
    return new AllProvidersFailedException(attempts, last != null ? last : new IllegalStateException("no attempt made"));
  }

  /**
   * A budget stopped the last provider that could serve the request: the budget's exception, with
   * every attempt before it and the last provider failure as its cause.
   */
  private static BudgetExceededException budgetStopped(BudgetExceededException budget, List<Attempt> attempts) {
    boolean allBudget = attempts.stream().allMatch(a -> a.errorKind() == ErrorKind.BUDGET_EXCEEDED);
    String summary = attempts.stream().map(Attempt::summary).collect(Collectors.joining("; "));
    Throwable failure = null;
    for (Attempt a : attempts) {
      if (a.outcome() == Attempt.Outcome.FAILED && a.cause() != null) {
        failure = a.cause();
      }
    }
    return new BudgetExceededException((allBudget ? "every capable provider would exceed the budget: "
        : "a budget stopped the last provider that could serve the request: ") + summary, budget.providerId(), attempts,
        failure);
  }

  /** The failure a skipped provider stands for: the kind of the failure that cooled it down. */
  private static ImageGenerationException skipFailure(ProviderSlot slot, ProviderSlot.Unavailable u) {
    switch (u.kind()) {
      case AUTHENTICATION:
        return new AuthenticationException(u.reason(), slot.id());
      case INSUFFICIENT_CREDITS:
        return new InsufficientCreditsException(u.reason(), slot.id());
      case RATE_LIMITED:
        return new RateLimitedException(u.reason(), slot.id(), u.left(), null);
      default:
        return ProviderUnavailableException.failOver(u.reason(), slot.id(), null);
    }
  }

  private static long millisSince(long nanos) {
    return (System.nanoTime() - nanos) / 1_000_000;
  }

  /** Why a failure does not fail over, for the log line. */
  private String noFailoverWhy(ImageGenerationException e) {
    if (e instanceof ContentPolicyException) {
      return "failoverOnContentPolicy is off";
    }
    if (e.kind() == ErrorKind.INVALID_REQUEST) {
      return "failoverOnInvalidRequest is off";
    }
    if (e instanceof GenerationTimeoutException || e instanceof GenerationCancelledException) {
      return "it was cancelled or timed out";
    }
    if (e instanceof ProviderUnavailableException pu && pu.outcomeUnknown()) {
      return "the submit's outcome is unknown and it may be billed; failoverOnUnknownOutcome is off";
    }
    return "another provider would not help";
  }

  private boolean mayFailOver(ImageGenerationException e) {
    EngineSettings s = engine.settings;
    if (e instanceof ContentPolicyException) {
      return s.failoverOnContentPolicy;
    }
    if (e.kind() == ErrorKind.INVALID_REQUEST) {
      // a model this provider retired or does not know: another provider serves another model
      return s.failoverOnInvalidRequest || e.failoverMayHelp();
    }
    if (e instanceof GenerationTimeoutException || e instanceof GenerationCancelledException) {
      return false;
    }
    return e.failoverMayHelp();
  }

  private void afterFailure(ProviderSlot slot, ImageGenerationException e) {
    EngineSettings s = engine.settings;
    if (e instanceof AuthenticationException) {
      if (slot.open()) {
        AttemptLog.warn(slot, g, "circuit opened for {}: credentials refused", slot.id());
        engine.circuitChanged(slot, GenerationListener.CircuitState.OPENED, ErrorKind.AUTHENTICATION, s.breakerOpenFor,
            "credentials refused", g);
      }
      coolDown(slot, s.authCooldown, ErrorKind.AUTHENTICATION, "credentials refused");
    } else if (e instanceof InsufficientCreditsException) {
      coolDown(slot, s.creditsCooldown, ErrorKind.INSUFFICIENT_CREDITS, "out of credit or quota");
    } else if (e instanceof RateLimitedException rl && rl.retryAfter() != null
        && rl.retryAfter().compareTo(s.maxRetryAfter) > 0) {
      coolDown(slot, rl.retryAfter(), ErrorKind.RATE_LIMITED, "rate limited, Retry-After " + rl.retryAfter().toSeconds() + " s");
    } else if (e instanceof ProviderUnavailableException pu && pu.retryAfter() != null
        && pu.retryAfter().compareTo(s.maxRetryAfter) > 0) {
      coolDown(slot, pu.retryAfter(), ErrorKind.UNAVAILABLE, "unavailable for " + pu.retryAfter().toSeconds() + " s");
    }
  }

  private void coolDown(ProviderSlot slot, Duration d, ErrorKind kind, String reason) {
    if (slot.coolDown(d, kind, reason)) {
      engine.circuitChanged(slot, GenerationListener.CircuitState.COOLING_DOWN, kind, d, reason, g);
      AttemptLog.warn(slot, g, "{} is cooling down for {}: {}; later generations skip it until then", slot.id(),
          AttemptLog.human(d), reason);
    }
  }

  /** The failure when no provider can serve the request at all. */
  static NoCapableProviderException noCapable(Router.Route route, boolean noneConfigured, @Nullable String only) {
    String why = String.join(" | ", route.skipped().entrySet().stream().map(en -> en.getKey() + ": " + en.getValue()).toList());
    return new NoCapableProviderException(noneConfigured ? "no provider is configured" : "no provider can serve this request: "
        + why, only);
  }
}
