package dev.imagegen.internal;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;

/**
 * A bulkhead whose waiters hold no thread: {@link #acquire()} returns a future that completes when
 * a permit is free. A waiter that gave up (its future cancelled) is skipped, so no permit leaks.
 */
final class AsyncPermits {
  private final int max;
  private int available;
  private final ArrayDeque<CompletableFuture<Void>> waiters = new ArrayDeque<>();

  AsyncPermits(int max) {
    this.max = max;
    this.available = max;
  }

  synchronized CompletableFuture<Void> acquire() {
    if (available > 0) {
      available--;
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> f = new CompletableFuture<>();
    waiters.add(f);
    return f;
  }

  void release() {
    while (true) {
      CompletableFuture<Void> next;
      synchronized (this) {
        next = waiters.poll();
        if (next == null) {
          if (available < max) {
            available++;
          }
          return;
        }
      }
      if (next.complete(null)) {
        return;
      }
    }
  }

  synchronized int waiting() {
    return waiters.size();
  }

  synchronized int inUse() {
    return max - available;
  }
}
