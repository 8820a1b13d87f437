package dev.imagegen.internal;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * One provider's status polls in this service, held to a budget of polls per second shared by
 * all its jobs. Time is cut into ticks, each holding a fixed number of polls; a job that wants to
 * poll at some moment gets the first tick at or after it that has room. So a burst of jobs that
 * all want to poll now is spread over the following ticks in the order they asked (the oldest
 * first), each job asks again only after its poll, and the provider's total never passes the
 * budget however many jobs wait, while a job alone polls exactly when it wants.
 *
 * <p>Finding the first tick with room is a union-find over the full ticks (each points to the
 * next candidate, with path compression), so a reservation costs about O(1) even with 10,000
 * jobs queued behind one another. Ticks in the past are dropped.
 */
final class PollBudget {
  private final long tickNanos;
  private final int perTick;
  private final int perSecond;
  private final LongSupplier nanoTime;
  /** Polls reserved per tick, from the current tick on. Guarded by this. */
  private final TreeMap<Long, Integer> used = new TreeMap<>();
  /** For a full tick: a tick at or before the first one after it that may have room. Guarded by this. */
  private final TreeMap<Long, Long> next = new TreeMap<>();
  private final long origin;

  /**
   * A budget.
   *
   * @param perSecond the most polls per second, at least 1
   * @param nanoTime the clock (System::nanoTime, or a test's)
   */
  PollBudget(int perSecond, LongSupplier nanoTime) {
    if (perSecond < 1) {
      throw new IllegalArgumentException("a poll budget needs at least 1 poll per second, was " + perSecond);
    }
    this.perSecond = perSecond;
    this.nanoTime = nanoTime;
    // ticks of at least 10 ms; one poll per tick up to 100 per second, several beyond
    long tickMs = Math.max(10, (1000 + perSecond - 1) / perSecond);
    this.tickNanos = TimeUnit.MILLISECONDS.toNanos(tickMs);
    this.perTick = (int) Math.max(1, perSecond * tickMs / 1000);
    this.origin = nanoTime.getAsLong();
  }

  int perSecond() {
    return perSecond;
  }

  /**
   * Reserves the first moment at or after {@code delayNanos} from now that the budget allows.
   *
   * @return the delay from now until it, in nanoseconds (never less than {@code delayNanos})
   */
  long reserve(long delayNanos) {
    long now = nanoTime.getAsLong() - origin;
    long wanted = now + Math.max(0, delayNanos);
    long desiredTick = ceilDiv(wanted, tickNanos);
    long tick;
    synchronized (this) {
      long current = now / tickNanos;
      if (!used.isEmpty() && used.firstKey() < current) {
        used.headMap(current).clear();
        next.headMap(current).clear();
      }
      tick = find(desiredTick);
      int n = used.merge(tick, 1, Integer::sum);
      if (n >= perTick) {
        next.put(tick, tick + 1);
      }
    }
    return Math.max(delayNanos, tick * tickNanos - now);
  }

  /** The first tick at or after {@code t} with room, compressing the path walked. */
  private long find(long t) {
    long root = t;
    Long n;
    while ((n = next.get(root)) != null) {
      root = n;
    }
    // path compression: every full tick walked points straight at the root
    long cur = t;
    while ((n = next.get(cur)) != null && n != root) {
      next.put(cur, root);
      cur = n;
    }
    return root;
  }

  private static long ceilDiv(long a, long b) {
    return -Math.floorDiv(-a, b);
  }

  /** Polls reserved from now on (for tests). */
  synchronized int reserved() {
    int sum = 0;
    for (Map.Entry<Long, Integer> e : used.entrySet()) {
      sum += e.getValue();
    }
    return sum;
  }

  /**
   * Schedules a poll at the first moment at or after {@code delayNanos} the budget allows.
   *
   * @throws RejectedExecutionException when the scheduler is shut down
   */
  ScheduledFuture<?> schedule(ScheduledExecutorService scheduler, long delayNanos, Runnable poll) {
    return scheduler.schedule(poll, reserve(delayNanos), TimeUnit.NANOSECONDS);
  }
}
