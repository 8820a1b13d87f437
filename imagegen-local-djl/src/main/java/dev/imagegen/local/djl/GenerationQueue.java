package dev.imagegen.local.djl;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * The device's work queue: at most {@code concurrency} generations run at once, each on a
 * dedicated worker thread (denoising is CPU/GPU work that legitimately occupies a thread), and at
 * most {@code capacity} wait; more are refused so that the caller can fail over. Waiting tasks
 * hear their position (1 = next) whenever it changes. Thread-safe.
 */
final class GenerationQueue implements AutoCloseable {

  /** One queued generation. */
  static final class Task {
    final Runnable work;
    final IntConsumer position;
    final Runnable dropped;
    private int lastPosition = -1;

    /**
     * @param work the generation
     * @param position told the task's queue position whenever it changes
     * @param dropped run when the queue shuts down before the task started
     */
    Task(Runnable work, IntConsumer position, Runnable dropped) {
      this.work = work;
      this.position = position;
      this.dropped = dropped;
    }
  }

  private final ExecutorService workers;
  private final int concurrency;
  private final int capacity;
  private final ArrayDeque<Task> waiting = new ArrayDeque<>();
  private int running;
  private boolean closed;

  GenerationQueue(String name, int concurrency, int capacity) {
    this.concurrency = concurrency;
    this.capacity = capacity;
    AtomicInteger n = new AtomicInteger();
    ThreadFactory f = r -> {
      Thread t = new Thread(r, name + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
    this.workers = Executors.newFixedThreadPool(concurrency, f);
  }

  /**
   * Runs the task now or queues it.
   *
   * @return false when the queue is full (or closed): the caller answers "busy"
   */
  boolean offer(Task task) {
    List<Moved> notify;
    synchronized (this) {
      if (closed) {
        return false;
      }
      if (running < concurrency) {
        running++;
        workers.execute(() -> run(task));
        return true;
      }
      if (waiting.size() >= capacity) {
        return false;
      }
      waiting.addLast(task);
      notify = changedPositions();
    }
    report(notify);
    return true;
  }

  /**
   * Takes a task out of the queue before it started.
   *
   * @return whether it was waiting (false: running, finished or unknown)
   */
  boolean remove(Task task) {
    List<Moved> notify;
    synchronized (this) {
      if (!waiting.remove(task)) {
        return false;
      }
      notify = changedPositions();
    }
    report(notify);
    return true;
  }

  /** Generations waiting. */
  synchronized int waiting() {
    return waiting.size();
  }

  /** Generations running. */
  synchronized int running() {
    return running;
  }

  private void run(Task task) {
    try {
      task.work.run();
    } finally {
      List<Moved> notify;
      synchronized (this) {
        Task next = closed ? null : waiting.pollFirst();
        if (next != null) {
          workers.execute(() -> run(next));
        } else {
          running--;
        }
        notify = changedPositions();
      }
      report(notify);
    }
  }

  private record Moved(Task task, int position) {}

  /** Under the lock: the tasks whose position changed, with their new position. */
  private List<Moved> changedPositions() {
    List<Moved> changed = new ArrayList<>();
    int p = 1;
    for (Task t : waiting) {
      if (t.lastPosition != p) {
        t.lastPosition = p;
        changed.add(new Moved(t, p));
      }
      p++;
    }
    return changed;
  }

  /** Outside the lock: tells each moved task its position. */
  private static void report(List<Moved> moved) {
    for (Moved m : moved) {
      try {
        m.task().position.accept(m.position());
      } catch (RuntimeException ignored) {
        // a listener's failure must not stop the queue
      }
    }
  }

  /** Stops accepting work and drops the tasks still waiting (their {@code dropped} hook runs). */
  void shutdown() {
    List<Task> left;
    synchronized (this) {
      closed = true;
      left = new ArrayList<>(waiting);
      waiting.clear();
    }
    workers.shutdown();
    for (Task t : left) {
      try {
        t.dropped.run();
      } catch (RuntimeException ignored) {
        // keep dropping the others
      }
    }
  }

  @Override
  public void close() {
    shutdown();
    try {
      workers.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
