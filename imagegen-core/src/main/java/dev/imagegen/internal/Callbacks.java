package dev.imagegen.internal;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;

/**
 * Where user code runs: progress listeners (a generation's and a batch's) and the stages a caller
 * chains on a generation's future. They run on threads of their own, never on the HTTP or
 * scheduler threads, so a listener that blocks delays only its own generation's (or batch's)
 * events, and one that throws, even an {@link Error}, is logged and the work goes on. Events of one
 * generation or batch run in the order they were added to its {@link Lane}, one at a time.
 */
final class Callbacks {
  private final ExecutorService pool;
  private final Logger log;

  Callbacks(Logger log) {
    this.log = log;
    AtomicInteger n = new AtomicInteger();
    // threads are made on demand and die after a minute idle: a blocked listener costs one thread
    this.pool = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
      Thread t = new Thread(r, "imagegen-callback-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  /** A new lane for a generation: tasks submitted to it run in order, one at a time. */
  Lane lane() {
    return new Lane("generation");
  }

  /**
   * A new lane: tasks submitted to it run in order, one at a time.
   *
   * @param owner what its callbacks belong to, for the log ("generation", "batch")
   */
  Lane lane(String owner) {
    return new Lane(owner);
  }

  void close() {
    pool.shutdown();
  }

  /**
   * Runs {@code task} on a callback thread (the caller catches what it throws).
   *
   * @throws RejectedExecutionException once closed
   */
  void execute(Runnable task) {
    pool.execute(task);
  }

  /** One generation's (or batch's) callbacks, in order. */
  final class Lane {
    private final String owner;
    private final ConcurrentLinkedQueue<Runnable> queue = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean running = new AtomicBoolean();
    private final AtomicBoolean warned = new AtomicBoolean();

    private Lane(String owner) {
      this.owner = owner;
    }

    /**
     * Runs a user callback on this lane, after those added before it.
     *
     * @param what a name for the log, e.g. "progress listener"
     * @param task the callback
     */
    void run(String what, Runnable task) {
      add(what, task);
      drain();
    }

    /**
     * Queues a user callback without starting it: a caller that must fix the order of its
     * callbacks under its own lock adds them there and calls {@link #drain()} after the lock.
     *
     * @param what a name for the log, e.g. "progress listener"
     * @param task the callback
     */
    void add(String what, Runnable task) {
      queue.add(() -> {
        try {
          task.run();
        } catch (Throwable t) { // user code: nothing it throws may reach the engine
          if (warned.compareAndSet(false, true)) {
            log.warn("a {} threw {}; the {} goes on (further failures of this {}'s callbacks are not logged)",
                what, t.toString(), owner, owner);
          }
        }
      });
    }

    /** Runs what was added, on a callback thread, unless one is at it already. */
    void drain() {
      if (!running.compareAndSet(false, true)) {
        return;
      }
      try {
        pool.execute(this::runAll);
      } catch (RejectedExecutionException closed) {
        runAll(); // the service is closing: run the last callbacks here rather than lose them
      }
    }

    private void runAll() {
      while (true) {
        Runnable r;
        while ((r = queue.poll()) != null) {
          r.run();
        }
        running.set(false);
        if (queue.isEmpty() || !running.compareAndSet(false, true)) {
          return;
        }
      }
    }
  }
}
