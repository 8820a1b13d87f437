package dev.imagegen.internal;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * A context's cancel hooks: run once, in the order they were added, when the context is
 * cancelled. A hook that is only needed until some work ends (a status poll's HTTP exchange, a
 * wait) is forgotten when that work ends, so a job polled for an hour holds the hooks of the calls
 * in progress, not of every call it made.
 */
final class CancelHooks {
  private final LinkedHashSet<Runnable> hooks = new LinkedHashSet<>(); // guarded by this
  private boolean cancelled; // guarded by this

  /**
   * Adds a hook.
   *
   * @param until when it completes, the hook is removed; null: kept until the cancel
   * @return false when already cancelled: the caller runs the hook itself
   */
  boolean add(Runnable hook, @Nullable CompletableFuture<?> until) {
    Runnable h = until == null ? hook : new Once(hook); // its own identity: one action added twice is two hooks
    synchronized (this) {
      if (cancelled) {
        return false;
      }
      hooks.add(h);
    }
    if (until != null) {
      until.whenComplete((v, e) -> remove(h));
    }
    return true;
  }

  private synchronized void remove(Runnable h) {
    hooks.remove(h);
  }

  /**
   * Marks the context cancelled.
   *
   * @return the hooks to run, in order; null when it was cancelled already
   */
  @Nullable List<Runnable> cancel() {
    synchronized (this) {
      if (cancelled) {
        return null;
      }
      cancelled = true;
      List<Runnable> out = new ArrayList<>(hooks);
      hooks.clear();
      return out;
    }
  }

  /** How many hooks are held (for tests). */
  synchronized int size() {
    return hooks.size();
  }

  /** A wrapper with identity equality, so that removal removes this registration only. */
  private static final class Once implements Runnable {
    private final Runnable action;

    Once(Runnable action) {
      this.action = action;
    }

    @Override
    public void run() {
      action.run();
    }
  }
}
