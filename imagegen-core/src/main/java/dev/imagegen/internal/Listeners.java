package dev.imagegen.internal;

import dev.imagegen.GenerationListener;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * Delivers {@link GenerationListener} events. Each listener has a queue of its own, drained by one
 * callback thread at a time, so it gets its events in the order they were emitted and a slow or
 * failing listener holds back nothing but its own queue. Emitting is a queue insert: it never
 * blocks and never throws. A queue past {@link GenerationListener#QUEUE_LIMIT} drops new events
 * and counts them.
 */
final class Listeners {
  private static final Object[] NO_CONTEXTS = new Object[0];
  private final List<Sink> sinks = new ArrayList<>();
  private final Callbacks callbacks;
  private final Logger log;

  private final int limit;

  Listeners(List<GenerationListener> listeners, Callbacks callbacks, Logger log) {
    this(listeners, callbacks, log, GenerationListener.QUEUE_LIMIT);
  }

  Listeners(List<GenerationListener> listeners, Callbacks callbacks, Logger log, int limit) {
    this.limit = limit;
    this.callbacks = callbacks;
    this.log = log;
    for (GenerationListener l : listeners) {
      sinks.add(new Sink(l));
    }
  }

  /** Whether no listener is registered: callers skip building events. */
  boolean none() {
    return sinks.isEmpty();
  }

  /**
   * Asks every listener for its context, on the caller's thread.
   *
   * @return one value per listener, in order (null where it gave none or threw)
   */
  @Nullable Object[] capture() {
    if (sinks.isEmpty()) {
      return NO_CONTEXTS;
    }
    @Nullable Object[] out = new Object[sinks.size()];
    for (int i = 0; i < out.length; i++) {
      Sink s = sinks.get(i);
      try {
        out[i] = s.listener.captureContext();
      } catch (Throwable t) { // user code on the caller's thread: nothing may escape
        s.failed("captureContext", t);
      }
    }
    return out;
  }

  /** Emits one event built per listener from its index (for events that carry a listener's own context). */
  void emitIndexed(IndexedEvent event) {
    for (int i = 0; i < sinks.size(); i++) {
      int index = i;
      sinks.get(i).offer(l -> event.deliver(l, index));
    }
  }

  /** Emits one event to every listener. */
  void emit(Consumer<GenerationListener> event) {
    for (Sink s : sinks) {
      s.offer(event);
    }
  }

  /** An event whose content depends on the listener's index. */
  interface IndexedEvent {
    void deliver(GenerationListener listener, int index);
  }

  /** One listener's queue. */
  private final class Sink {
    final GenerationListener listener;
    private final ConcurrentLinkedQueue<Consumer<GenerationListener>> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger size = new AtomicInteger();
    private final AtomicBoolean running = new AtomicBoolean();
    private final AtomicBoolean warnedThrow = new AtomicBoolean();
    private final AtomicLong dropped = new AtomicLong();

    Sink(GenerationListener listener) {
      this.listener = listener;
    }

    void offer(Consumer<GenerationListener> event) {
      if (size.incrementAndGet() > limit) {
        size.decrementAndGet();
        if (dropped.getAndIncrement() == 0) {
          log.warn("listener {} is {} events behind; new events are dropped until it catches up",
              listener.getClass().getName(), limit);
        }
        return;
      }
      queue.add(event);
      drain();
    }

    private void drain() {
      if (!running.compareAndSet(false, true)) {
        return;
      }
      try {
        callbacks.execute(this::runAll);
      } catch (RejectedExecutionException closed) {
        runAll(); // the service is closing: deliver the last events here rather than lose them
      }
    }

    private void runAll() {
      while (true) {
        Consumer<GenerationListener> e;
        while ((e = queue.poll()) != null) {
          size.decrementAndGet();
          try {
            e.accept(listener);
          } catch (Throwable t) { // user code: nothing it throws may reach the engine
            failed("event", t);
          }
        }
        long lost = dropped.getAndSet(0);
        if (lost > 0) {
          log.warn("listener {} caught up; {} events were dropped while it was behind", listener.getClass().getName(), lost);
        }
        running.set(false);
        if (queue.isEmpty() || !running.compareAndSet(false, true)) {
          return;
        }
      }
    }

    void failed(String what, Throwable t) {
      if (warnedThrow.compareAndSet(false, true)) {
        log.warn("listener {} threw {} from {}; its events go on (further failures of this listener are logged at DEBUG)",
            listener.getClass().getName(), t.toString(), what);
      } else {
        log.debug("listener {} threw {} from {}", listener.getClass().getName(), t.toString(), what);
      }
    }
  }
}
