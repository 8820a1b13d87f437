package dev.imagegen.internal;

import dev.imagegen.Attempt;
import dev.imagegen.Cost;
import dev.imagegen.ErrorKind;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.GenerationJob;
import dev.imagegen.GenerationListener;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.JobJournal;
import dev.imagegen.ProgressEvent;
import dev.imagegen.Timings;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.SoftInput;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * The bookkeeping of every ending, in one place: the only code that settles budgets, writes the
 * job journal and the cache, counts metrics, and completes a generation (its future, its status,
 * its DONE event). Each provider attempt is settled once ({@link #attemptEnded}) and each
 * generation once ({@link #succeeded}, {@link #failed}, {@link #cached}), whichever of a result,
 * a failure, the deadline, the caller or close gets there first. No step can stop the ones after
 * it: a cache or journal that throws is logged, and the caller still gets the result.
 */
final class Settlement {
  private final Budgets budgets;
  private final JobJournal journal;
  /** The stores (journal, budget store, cache) whose last call failed: their outage was logged at WARN once. */
  private final java.util.concurrent.ConcurrentHashMap<String, Boolean> failing = new java.util.concurrent.ConcurrentHashMap<>();
  private final Metrics metrics;
  private final @Nullable ResponseCache cache;
  private final Logger log;
  private final String instanceId;
  /** Remote jobs this service created that have not ended: listed by close if any remain. */
  private final Map<String, String> openJobs = new ConcurrentHashMap<>();

  private final Listeners listeners;

  Settlement(Budgets budgets, JobJournal journal, Metrics metrics, @Nullable ResponseCache cache, Logger log, String instanceId,
      Listeners listeners) {
    this.listeners = listeners;
    this.instanceId = instanceId;
    this.budgets = budgets;
    this.journal = journal;
    this.metrics = metrics;
    this.cache = cache;
    this.log = log;
  }

  // ------------------------------------------------------------------ remote jobs

  void jobStarted(Generation g, ProviderSlot slot, String remoteJobId, Map<String, String> handles) {
    String providerId = slot.id();
    openJobs.put(g.id() + '\u0000' + remoteJobId, providerId);
    guard("job journal", () -> {
      Cost estimate = slot.costModel.estimate(g.request);
      journal.started(new JobJournal.Entry(g.id(), providerId, remoteJobId, handles, g.requestHash(), g.deadline(),
          Instant.now(), instanceId, JobJournal.RUNNING, g.cacheKey,
          estimate.isKnown() ? estimate.amountOrZero().toPlainString() : null));
    });
  }

  /** Whether this service has the job open itself (in flight here, not one to recover). */
  boolean isOpenHere(String generationId, String remoteJobId) {
    return openJobs.containsKey(generationId + '\u0000' + remoteJobId);
  }

  JobJournal journal() {
    return journal;
  }

  void jobEnded(Generation g, String remoteJobId, String status) {
    if (openJobs.remove(g.id() + '\u0000' + remoteJobId) != null) {
      guard("job journal", () -> journal.ended(g.id(), remoteJobId, status));
    }
  }

  /** Remote jobs created and neither finished nor cancelled, as "provider job-id". */
  List<String> openJobs() {
    List<String> out = new ArrayList<>();
    openJobs.forEach((k, provider) -> out.add(provider + " " + k.substring(k.indexOf('\u0000') + 1)));
    return out;
  }

  // ------------------------------------------------------------------ attempts

  /**
   * Settles one provider attempt: its budget reservation, its journal entry, its line in the
   * attempts. Called once per attempt.
   */
  void attemptEnded(ProviderAttempt.End end, @Nullable Cost actual) {
    ProviderAttempt a = end.attempt();
    Generation g = a.generation;
    AttemptContext last = a.lastCall();
    String jobId = last == null ? null : last.remoteJobId();
    if (end.result() != null) {
      Cost cost = actual != null ? actual : Cost.unknown();
      guard("budget store", () -> budgets.settle(a.reservation, cost, a.slot.id()));
      if (end.result().remoteJobId() != null) {
        jobEnded(g, end.result().remoteJobId(), "succeeded");
      }
      if (jobId != null) {
        jobEnded(g, jobId, "succeeded");
      }
      Attempt done = new Attempt(a.slot.id(), Attempt.Outcome.SUCCEEDED, null, null, since(a.startNanos), a.calls(),
          end.result().remoteJobId() != null ? end.result().remoteJobId() : jobId, false, false, null);
      g.addAttempt(done);
      attemptEvents(g, done, a.queueWait(), cost, true);
      return;
    }
    ImageGenerationException e = end.error();
    Cost charged = e == null ? null : e.charged();
    boolean mayBeBilled = end.mayBeBilled() || charged != null;
    if (charged != null) { // the provider charged for the failed call: the budget spends what it charged
      guard("budget store", () -> budgets.settle(a.reservation, charged, a.slot.id()));
    } else if (end.keepsReservation()) { // the provider may charge for it
      guard("budget store", () -> budgets.settle(a.reservation, Cost.unknown(), a.slot.id()));
    } else {
      guard("budget store", () -> budgets.release(a.reservation));
    }
    if (jobId != null && last != null && !last.remoteCancelSent()) {
      jobEnded(g, jobId, "failed");
    }
    Attempt.Outcome outcome = e instanceof GenerationCancelledException ? Attempt.Outcome.CANCELLED : Attempt.Outcome.FAILED;
    Attempt failed = new Attempt(a.slot.id(), outcome, e == null ? ErrorKind.UNAVAILABLE : e.kind(),
        e == null ? "failed" : e.getMessage(), since(a.startNanos), a.calls(), jobId, last != null && last.remoteCancelSent(),
        mayBeBilled, e);
    g.addAttempt(failed);
    Cost spent = charged != null ? charged : end.keepsReservation() ? Cost.unknown() : null;
    attemptEvents(g, failed, a.queueWait(), spent, false);
  }

  private void attemptEvents(Generation g, Attempt attempt, Duration queueWait, @Nullable Cost spent, boolean succeeded) {
    if (listeners.none()) {
      return;
    }
    GenerationListener.AttemptEnded ended = new GenerationListener.AttemptEnded(g.id(), attempt, queueWait, Instant.now());
    listeners.emit(l -> l.attemptEnded(ended));
    if (spent != null) {
      GenerationListener.CostSettled settled = new GenerationListener.CostSettled(g.id(), attempt.provider(), spent, succeeded);
      listeners.emit(l -> l.costSettled(settled));
    }
  }

  /** A provider skipped without a call (capabilities, cool-down, budget). */
  void skipped(Generation g, String providerId, ErrorKind kind, String reason, @Nullable ImageGenerationException e) {
    Attempt skipped = new Attempt(providerId, Attempt.Outcome.SKIPPED, kind, reason, Duration.ZERO, 0, null, false, false, e);
    g.addAttempt(skipped);
    attemptEvents(g, skipped, Duration.ZERO, null, false);
  }

  // ------------------------------------------------------------------ generations

  /** The generation succeeded with {@code r} from {@code slot}, which cost {@code cost}. */
  void succeeded(Generation g, ProviderSlot slot, ProviderResult r, Cost cost) {
    Map<String, String> meta = new LinkedHashMap<>(r.metadata());
    meta.put("prompt", g.request.prompt());
    ProviderCapabilities caps = slot.provider.capabilities();
    if (g.request.effectiveNegativePrompt() != null && caps.negativePrompt()
        && !caps.drops(g.request, SoftInput.NEGATIVE_PROMPT)) {
      meta.put("negative_prompt", g.request.effectiveNegativePrompt());
    }
    meta.put("request_hash", g.requestHash());
    // what the serving model ignored, from core's rule, also for providers that do not say it
    LinkedHashSet<String> unique = new LinkedHashSet<>(r.warnings());
    unique.addAll(caps.warnings(g.request));
    List<String> warnings = new ArrayList<>(unique);
    if (r.images().size() < g.request.numImages()) {
      warnings.add(slot.id() + " returned " + r.images().size() + " of " + g.request.numImages() + " images requested");
    }
    long total = System.nanoTime() - g.startNanos;
    Duration totalD = Duration.ofNanos(total);
    Timings timings = new Timings(orZero(r.queueTime()), orZero(r.runTime()), orZero(r.downloadTime()), totalD);
    ImageGenerationResponse resp = new ImageGenerationResponse(g.id(), ImageGenerationResponse.Status.COMPLETED, r.images(),
        slot.id(), r.model(), totalD, timings, cost, g.attempts(), meta, warnings);
    if (cost.isKnown()) {
      slot.metrics.cost.accumulateAndGet(cost.amountOrZero(), BigDecimal::add);
    }
    String key = g.cacheKey;
    if (key != null && cache != null && r.images().stream().noneMatch(GeneratedImage::nsfw)) {
      guard("response cache", () -> cache.put(key, new ResponseCache.Entry(slot.id(), r.model(), r.images(), meta)));
    }
    metrics.succeeded(total, cost, false);
    complete(g, resp, null, GenerationJob.Status.SUCCEEDED, slot.id(), () -> {
      metrics.successBecameCancelled(cost);
      g.status(GenerationJob.Status.CANCELLED);
    });
  }

  /** The generation is answered from the cache. */
  void cached(Generation g, ResponseCache.Entry hit) {
    Duration t = Duration.ofNanos(System.nanoTime() - g.startNanos);
    Map<String, String> meta = new LinkedHashMap<>(hit.metadata());
    meta.put("cache", "hit");
    ImageGenerationResponse resp = new ImageGenerationResponse(g.id(), ImageGenerationResponse.Status.CACHED, hit.images(),
        hit.provider(), hit.model(), t, new Timings(Duration.ZERO, Duration.ZERO, Duration.ZERO, t), Cost.cached(), List.of(),
        meta, List.of());
    metrics.succeeded(t.toNanos(), Cost.cached(), true);
    complete(g, resp, null, GenerationJob.Status.SUCCEEDED, hit.provider(), () -> {
      metrics.successBecameCancelled(Cost.cached());
      g.status(GenerationJob.Status.CANCELLED);
    });
  }

  /** The generation failed (or was cancelled, or timed out) with {@code e}. */
  void failed(Generation g, ImageGenerationException e) {
    metrics.failed(e.kind());
    log.debug("generation {} failed: {}", g.id(), e.getMessage());
    GenerationJob.Status st = e.kind() == ErrorKind.CANCELLED ? GenerationJob.Status.CANCELLED : GenerationJob.Status.FAILED;
    complete(g, null, e, st, e.providerId(), () -> {
      if (e.kind() != ErrorKind.CANCELLED) {
        metrics.failureBecameCancelled(e.kind());
        g.status(GenerationJob.Status.CANCELLED);
      }
    });
  }

  private void complete(Generation g, @Nullable ImageGenerationResponse r, @Nullable ImageGenerationException e,
      GenerationJob.Status status, @Nullable String provider, Runnable ifCallerWasFirst) {
    g.status(status);
    if (e == null) {
      g.outcome.complete(r);
    } else {
      g.outcome.completeExceptionally(e);
    }
    if (status == GenerationJob.Status.SUCCEEDED) {
      g.progress(ProgressEvent.of(provider == null ? "" : provider, ProgressEvent.Stage.DONE));
    }
    if (listeners.none()) {
      g.handOut(r, e, ifCallerWasFirst, null);
      return;
    }
    g.handOut(r, e, ifCallerWasFirst, () -> {
      GenerationListener.Finished f = new GenerationListener.Finished(g.id(), r, e, g.status(),
          Duration.ofNanos(System.nanoTime() - g.startNanos), g.attempts(), Instant.now());
      listeners.emit(l -> l.generationFinished(f));
    });
  }

  private void guard(String what, Runnable step) {
    try {
      step.run();
      if (failing.remove(what) != null) {
        log.info("{} works again", what);
      }
    } catch (RuntimeException ex) {
      // one WARN per outage (a shared store down fails every call), the rest at DEBUG until it works again
      if (failing.putIfAbsent(what, Boolean.TRUE) == null) {
        log.warn("{} failed: {}; the generation goes on (further failures are logged at DEBUG until it works again)", what,
            ex.toString());
      } else {
        log.debug("{} failed: {}; the generation goes on", what, ex.toString());
      }
    }
  }

  private static Duration since(long nanos) {
    return Duration.ofNanos(System.nanoTime() - nanos);
  }

  private static Duration orZero(@Nullable Duration d) {
    return d == null ? Duration.ZERO : d;
  }
}
