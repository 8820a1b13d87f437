package dev.imagegen.soak;

import dev.imagegen.GenerationJob;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ProgressEvent;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/** One generation of the soak: how it is made, and what the caller saw. */
final class Gen {
  /** Which API the generation goes through. */
  enum Mode { BLOCKING, ASYNC, SUBMIT }

  /** A progress listener a {@code submit} caller registers that misbehaves. */
  enum Hostile { NONE, THROWS_ASSERTION_ERROR, THROWS_STACK_OVERFLOW, BLOCKS }

  final int n;
  /**
   * The number its prompt names (the servers label its requests with it): its own, or for a
   * request that repeats (cached) {@link SoakRun#CACHE_LABEL_BASE} plus its group.
   */
  volatile int label;
  /** The seed of a repeating request (cacheable), or null. */
  volatile @Nullable Long seed;
  /** The misbehaving listener it registers (submit only), or NONE. */
  volatile Hostile hostile = Hostile.NONE;
  final Mode mode;
  final Duration deadline;
  /** When the caller cancels, after the start, or null for never. */
  final @Nullable Duration cancelAfter;
  final int service;
  volatile long startNanos;
  volatile long endNanos;
  volatile long cancelNanos;
  final AtomicInteger completions = new AtomicInteger();
  volatile @Nullable ImageGenerationResponse response;
  volatile @Nullable Throwable error;
  volatile @Nullable GenerationJob job;
  final List<ProgressEvent> progress = new CopyOnWriteArrayList<>();
  /** How the caller cancels it (set when it starts). */
  volatile @Nullable Runnable cancel;
  /** Whether the soak cancelled it while its provider was down. */
  volatile boolean cancelledDuringOutage;
  /** The caller thread of a blocking generation while it runs (guarded by this). */
  @Nullable Thread caller;

  Gen(int n, Mode mode, Duration deadline, @Nullable Duration cancelAfter, int service) {
    this.n = n;
    this.mode = mode;
    this.deadline = deadline;
    this.cancelAfter = cancelAfter;
    this.service = service;
    this.label = n;
  }

  String prompt() {
    return String.format("soak-%06d a lighthouse at dusk", label);
  }

  boolean ended() {
    return completions.get() > 0;
  }

  Duration elapsed() {
    return Duration.ofNanos(endNanos - startNanos);
  }

  @Override
  public String toString() {
    return "gen " + n + (label != n ? " (repeats group " + (label - SoakRun.CACHE_LABEL_BASE) + ")" : "") + " (" + mode + ", deadline " + deadline.toMillis() + " ms"
        + (cancelAfter == null ? "" : ", cancelled after " + cancelAfter.toMillis() + " ms") + ", service " + service + ")";
  }
}
