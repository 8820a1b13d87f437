package dev.imagegen.internal;

import dev.failsafe.spi.Scheduler;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Delayed;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Failsafe's scheduler for provider attempts: the first call runs on the caller's thread (a
 * provider's call only starts non-blocking work, so there is no reason to hop threads), and a
 * retry's delay is a task on the service's scheduler.
 */
final class InlineScheduler implements Scheduler {
  private final ScheduledExecutorService scheduler;

  InlineScheduler(ScheduledExecutorService scheduler) {
    this.scheduler = scheduler;
  }

  @Override
  public ScheduledFuture<?> schedule(Callable<?> callable, long delay, TimeUnit unit) {
    if (delay > 0) {
      return scheduler.schedule(callable, delay, unit);
    }
    CompletableFuture<Object> f = new CompletableFuture<>();
    try {
      f.complete(callable.call());
    } catch (Exception e) {
      f.completeExceptionally(e);
    }
    return new Ran(f);
  }

  /** A task that already ran. */
  private static final class Ran implements ScheduledFuture<Object> {
    private final CompletableFuture<Object> f;

    Ran(CompletableFuture<Object> f) {
      this.f = f;
    }

    @Override public long getDelay(TimeUnit unit) { return 0; }
    @Override public int compareTo(Delayed o) { return Long.compare(0, o.getDelay(TimeUnit.NANOSECONDS)); }
    @Override public boolean cancel(boolean mayInterrupt) { return false; }
    @Override public boolean isCancelled() { return false; }
    @Override public boolean isDone() { return true; }
    @Override public Object get() throws ExecutionException, InterruptedException { return f.get(); }
    @Override public Object get(long timeout, TimeUnit unit) throws ExecutionException, InterruptedException { return f.get(); }
  }
}
