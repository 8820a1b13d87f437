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
 * Where user code runs: progress listeners and the stages a caller chains on a generation's
 * future. They run on threads of their own, never on the HTTP or scheduler threads, so a listener
 * that blocks delays only its own generation's events, and one that throws, even an
 * {@link Error}, is logged and the generation goes on. Events of one generation run in order, one
 * at a time ({@link Lane}).
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

  /** A new lane: tasks submitted to it run in order, one at a time. */
  Lane lane() {
    return new Lane();
  }

  void close() {
    pool.shutdown();
  }

  /** One generation's callbacks, in order. */
  final class Lane {
    private final ConcurrentLinkedQueue<Runnable> queue = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean running = new AtomicBoolean();
    private final AtomicBoolean warned = new AtomicBoolean();

    /**
     * Runs a user callback on this lane.
     *
     * @param what a name for the log, e.g. "progress listener"
     * @param task the callback
     */
    void run(String what, Runnable task) {
      queue.add(() -> {
        try {
          task.run();
        } catch (Throwable t) { // user code: nothing it throws may reach the engine
          if (warned.compareAndSet(false, true)) {
            log.warn("a {} threw {}; the generation goes on (further failures of this generation's callbacks are not logged)",
                what, t.toString());
          }
        }
      });
      drain();
    }

    private void drain() {
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
