package dev.imagegen.soak;

import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * One remote job a soak server created for a submit: its ids, its fate (how it will end if nobody
 * cancels it), and what the server observed of it. Written by the server's threads, read after the
 * run.
 */
final class Job {
  /** How a job ends on the provider's side if nobody cancels it. */
  enum Fate { DONE, FAILED, CANCELLED_REMOTELY, NEVER }

  /** What the client was last told about the job's end. */
  enum End { COMPLETED, FAILED, CANCELLED_REMOTELY }

  final String provider;
  final int gen;
  /** The prefix that replaces the first eight characters of every job constant. */
  final String prefix;
  /** The job id the client sees. */
  final String id;
  /** The serve event of the submit that created it. */
  final String submitEvent;
  final Fate fate;
  final int pendingPolls;
  /** Deterministic seed of its image. */
  final long imageSeed;
  /** Whether the submit's answer went out intact (whether the client read it, the server cannot tell). */
  volatile boolean acknowledged;
  /** Whether the client named the job in a later request. */
  volatile boolean referenced;
  final AtomicInteger deliveredPending = new AtomicInteger();
  volatile @Nullable End end;
  volatile boolean cancelReceived;
  /** Whether the job's image went out intact (inline or as a download). */
  volatile boolean imageServed;
  private volatile byte @Nullable [] image;
  /** When the server created it (System.nanoTime). */
  final long createdNanos = System.nanoTime();
  /** Whether it reports far more GPU time than the estimate assumes. */
  volatile boolean gpuOverrun;
  /** The execution time its completed answer reported (ms), or -1. */
  volatile long reportedExecMs = -1;
  /**
   * Whether the job stays pending until {@link #release()} (the webhook phase: the job is done
   * when the test says, not after a number of polls).
   */
  volatile boolean gated;
  /** When a gated job was made done (System.nanoTime), or 0 while it runs. */
  volatile long releasedNanos;
  /** Status polls of a gated job still to answer 503 (the webhook phase's one transient fault). */
  final AtomicInteger failPolls = new AtomicInteger();
  /** When its first status poll reached the server (System.nanoTime), or 0. */
  volatile long firstPollNanos;

  /** Makes a gated job done: its next status answer is its end. */
  void release() {
    releasedNanos = System.nanoTime();
  }

  /** Whether a gated job is still running (never for a job that is not gated). */
  boolean heldRunning() {
    return gated && releasedNanos == 0;
  }

  Job(String provider, int gen, String prefix, String id, String submitEvent, Fate fate, int pendingPolls, long imageSeed) {
    this.provider = provider;
    this.gen = gen;
    this.prefix = prefix;
    this.id = id;
    this.submitEvent = submitEvent;
    this.fate = fate;
    this.pendingPolls = pendingPolls;
    this.imageSeed = imageSeed;
  }

  byte[] image() {
    byte[] b = image;
    if (b == null) {
      b = Images.png(imageSeed);
      image = b;
    }
    return b;
  }

  @Override
  public String toString() {
    return provider + " job " + id + " (gen " + gen + ", fate " + fate + ", " + pendingPolls + " pending polls, end " + end
        + ", cancel " + (cancelReceived ? "received" : "none") + ", submit answered intact " + acknowledged
        + ", named by the client later " + referenced + ")";
  }
}
