package dev.imagegen.provider.sdwebui;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;

/**
 * A FIFO of generation calls to one WebUI, {@code max-concurrent} (default 1) at a time, holding
 * no thread while waiting. The WebUI runs generations strictly one at a time and {@code /progress}
 * and {@code /interrupt} act on whichever job holds the GPU, so sending our calls one by one keeps
 * progress and interrupt about our own job, keeps a caller's cancel of a call still waiting here
 * local (nothing sent, nothing interrupted), and keeps the measured GPU time free of our own queue.
 *
 * <p>The service's own bulkhead reads the same {@code max-concurrent} key but defaults to 16; this
 * lane gives the WebUI its default of 1 (core offers no per-provider defaults yet).
 *
 * <p>Thread-safe.
 */
final class SdWebUiLane {
  private final int permits;
  private final ArrayDeque<CompletableFuture<Void>> waiting = new ArrayDeque<>();
  private int used;

  SdWebUiLane(int permits) {
    this.permits = permits;
  }

  /**
   * A turn: complete at once when a permit is free, else when one is released to it. Failing or
   * cancelling the returned future gives up the place in the queue.
   */
  synchronized CompletableFuture<Void> acquire() {
    if (used < permits) {
      used++;
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> turn = new CompletableFuture<>();
    waiting.add(turn);
    return turn;
  }

  /** Calls waiting for a turn. */
  synchronized int waiting() {
    return waiting.size();
  }

  /** Gives a permit back, to the next caller still waiting. */
  void release() {
    while (true) {
      CompletableFuture<Void> next;
      synchronized (this) {
        do {
          next = waiting.poll();
        } while (next != null && next.isDone());
        if (next == null) {
          used = Math.max(0, used - 1);
          return;
        }
      }
      // completed outside the lock: its continuation sends the next call
      if (next.complete(null)) {
        return;
      }
      // it gave up between poll and complete: pass the permit on
    }
  }
}
