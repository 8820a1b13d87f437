package dev.imagegen.internal;

import dev.imagegen.Attempt;
import dev.imagegen.GenerationJob;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ProgressEvent;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledFuture;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/** One generation in flight: its request, deadline, attempts, progress and result. */
final class Generation implements GenerationJob {
  private final Engine engine;
  private final String id;
  final ImageGenerationRequest request;
  private final Instant deadline;
  final long startNanos = System.nanoTime();
  final CompletableFuture<ImageGenerationResponse> result = new CompletableFuture<>();
  private final List<Attempt> attempts = new ArrayList<>();
  private final List<Consumer<ProgressEvent>> listeners = new CopyOnWriteArrayList<>();
  private volatile @Nullable ProgressEvent latest;
  private volatile Status status = Status.PENDING;
  private final java.util.concurrent.atomic.AtomicBoolean settled = new java.util.concurrent.atomic.AtomicBoolean();
  private @Nullable String requestHash;
  volatile @Nullable AttemptContext current;
  volatile @Nullable ProviderSlot currentSlot;
  volatile long currentSlotStart;
  volatile int currentCalls;
  volatile @Nullable CompletableFuture<?> pendingPermit;
  volatile @Nullable ScheduledFuture<?> deadlineTask;
  @Nullable String cacheKey;

  Generation(Engine engine, String id, ImageGenerationRequest request, Instant deadline) {
    this.engine = engine;
    this.id = id;
    this.request = request;
    this.deadline = deadline;
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

  void progress(ProgressEvent e) {
    latest = e;
    if (status == Status.PENDING) {
      status = Status.RUNNING;
    }
    for (Consumer<ProgressEvent> l : listeners) {
      try {
        l.accept(e);
      } catch (RuntimeException ex) {
        // a listener's failure must not break the generation
      }
    }
  }

  boolean isDone() {
    return result.isDone() || settled.get();
  }

  /** Claims the right to finish this generation (and count it in the metrics); true once. */
  boolean settle() {
    return settled.compareAndSet(false, true);
  }

  @Override public String id() { return id; }
  @Override public Status status() { return status; }
  @Override public @Nullable ProgressEvent latestProgress() { return latest; }

  @Override
  public GenerationJob onProgress(Consumer<ProgressEvent> listener) {
    listeners.add(listener);
    return this;
  }

  @Override
  public CompletableFuture<ImageGenerationResponse> result() {
    return result;
  }

  @Override
  public boolean cancel() {
    return result.cancel(false);
  }

  @Override
  public String toString() {
    return "GenerationJob[" + id + ", " + status + "]";
  }
}
