package dev.imagegen.internal;

import dev.imagegen.Attempt;
import dev.imagegen.GenerationJob;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ProgressEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * One generation: its request, deadline, attempts, progress and result.
 *
 * <p>Its end is claimed once ({@link #claimEnd()}); whoever claims it (a result, a failure, the
 * deadline, the caller, close) hands the generation to {@link Settlement}, the only code that
 * completes {@link #outcome}. Callers get {@link #result()}, a dependent future: completing it
 * from outside (a cancel, {@code orTimeout}, {@code completeExceptionally}) cancels the
 * generation, remote job included, and never stops the engine's own bookkeeping.
 */
final class Generation implements GenerationJob {
  private final Engine engine;
  private final String id;
  final ImageGenerationRequest request;
  private final Instant deadline;
  final long startNanos = System.nanoTime();
  /** Completed by {@link Settlement} only. */
  final CompletableFuture<ImageGenerationResponse> outcome = new CompletableFuture<>();
  private final CompletableFuture<ImageGenerationResponse> handedOut = new CompletableFuture<>();
  private final List<Attempt> attempts = new ArrayList<>();
  private final List<Consumer<ProgressEvent>> listeners = new CopyOnWriteArrayList<>();
  final Callbacks.Lane lane;
  /** Orders {@link #latest} and the listeners' queued events: held while either changes. */
  private final Object progressLock = new Object();
  private volatile @Nullable ProgressEvent latest; // written under progressLock
  /** Whether the DONE of the generation's end was passed on: nothing follows it. Guarded by progressLock. */
  private boolean finalSent;
  private volatile Status status = Status.PENDING;
  private final AtomicBoolean ended = new AtomicBoolean();
  private @Nullable String requestHash;
  private @Nullable ProviderAttempt current; // guarded by this
  volatile @Nullable ScheduledFuture<?> deadlineTask;
  @Nullable String cacheKey;

  Generation(Engine engine, String id, ImageGenerationRequest request, Instant deadline, Callbacks.Lane lane) {
    this.engine = engine;
    this.id = id;
    this.request = request;
    this.deadline = deadline;
    this.lane = lane;
    handedOut.whenComplete((r, e) -> {
      if (!outcome.isDone()) {
        engine.cancelFromOutside(this, e);
      }
    });
  }

  Engine engine() {
    return engine;
  }

  Instant deadline() {
    return deadline;
  }

  String requestHash() {
    String h = requestHash;
    if (h == null) {
      h = RequestHash.of(request, "");
      requestHash = h;
    }
    return h;
  }

  void requestHash(String hash) {
    this.requestHash = hash;
  }

  void addAttempt(Attempt a) {
    synchronized (attempts) {
      attempts.add(a);
    }
  }

  List<Attempt> attempts() {
    synchronized (attempts) {
      return List.copyOf(attempts);
    }
  }

  void status(Status s) {
    this.status = s;
  }

  /**
   * Makes {@code a} the provider attempt in progress, unless the generation has ended.
   *
   * @return false when the generation already ended (the attempt must not start)
   */
  synchronized boolean attach(ProviderAttempt a) {
    if (ended.get()) {
      return false;
    }
    current = a;
    if (status == Status.PENDING) {
      status = Status.RUNNING;
    }
    return true;
  }

  /** Claims the end of the generation: true once; from then on no attempt can attach. */
  synchronized boolean claimEnd() {
    return ended.compareAndSet(false, true);
  }

  /** The provider attempt in progress when the generation ended, or the last one. */
  synchronized @Nullable ProviderAttempt current() {
    return current;
  }

  boolean isDone() {
    return ended.get();
  }

  /**
   * Passes a progress event to the listeners, on the generation's callback lane. The event becomes
   * the latest and is queued for every listener under one lock, so each listener gets the events in
   * the order they became the latest. Once the generation has ended only its DONE is passed on,
   * and nothing after it.
   */
  void progress(ProgressEvent e) {
    synchronized (progressLock) {
      if (finalSent || ended.get() && e.stage() != ProgressEvent.Stage.DONE) {
        return;
      }
      finalSent = ended.get();
      latest = e;
      for (Consumer<ProgressEvent> l : listeners) {
        lane.add("progress listener", () -> l.accept(e));
      }
    }
    lane.drain();
  }

  /**
   * Completes the caller's future with what {@link #outcome} holds. With progress listeners it is
   * done on the generation's callback lane, after every event (DONE included) has been delivered,
   * so a caller that sees the result has seen all the events, unless a listener holds the lane
   * past {@link #LISTENER_GRACE}: then the result goes out first; without listeners it is done on the
   * calling thread (no thread hop on the way back; stages the caller chains must not block, as the
   * future's Javadoc says). {@code ifCallerWasFirst} runs when the caller had completed it already,
   * and {@code then}, if given, once the caller's future is complete.
   */
  void handOut(@Nullable ImageGenerationResponse r, @Nullable ImageGenerationException e, Runnable ifCallerWasFirst,
      @Nullable Runnable then) {
    AtomicBoolean once = new AtomicBoolean();
    Runnable complete = () -> {
      if (!once.compareAndSet(false, true)) {
        return;
      }
      try {
        boolean mine = e == null ? handedOut.complete(r) : handedOut.completeExceptionally(e);
        if (!mine) {
          ifCallerWasFirst.run();
        }
      } finally {
        if (then != null) {
          then.run();
        }
      }
    };
    if (listeners.isEmpty()) {
      try {
        complete.run();
      } catch (RuntimeException t) {
        engine.log.warn("completing a generation's future threw {}", t.toString());
      }
      return;
    }
    lane.run("result stage", complete);
    // a listener that blocks must not hold the result back: past a short wait the caller gets it
    // anyway, before the remaining events
    engine.afterDelay(LISTENER_GRACE, () -> {
      if (!handedOut.isDone()) {
        complete.run();
      }
    });
  }

  /** How long a caller's result waits for slow listeners to receive the events before it. */
  static final Duration LISTENER_GRACE = Duration.ofMillis(200);

  /** The caller cancelled: its future shows it at once, before the settlement's bookkeeping. */
  void cancelHandedOut() {
    handedOut.cancel(false);
  }

  @Override public String id() { return id; }
  @Override public Status status() { return status; }
  @Override public @Nullable ProgressEvent latestProgress() { return latest; }

  @Override
  public GenerationJob onProgress(Consumer<ProgressEvent> listener) {
    synchronized (progressLock) {
      listeners.add(listener);
      ProgressEvent last = latest;
      if (last != null) { // a listener added late starts from the latest event
        lane.add("progress listener", () -> listener.accept(last));
      }
    }
    lane.drain();
    return this;
  }

  @Override
  public CompletableFuture<ImageGenerationResponse> result() {
    return handedOut;
  }

  @Override
  public boolean cancel() {
    return engine.cancel(this, "cancelled by the caller", true);
  }

  @Override
  public String toString() {
    return "GenerationJob[" + id + ", " + status + "]";
  }
}
