package dev.imagegen.local.djl;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The loaded pipelines, least recently used first, at most {@code max} of them. A pipeline in use
 * is never closed under its user: evicting or purging it marks it, and the last user's
 * {@link Lease#close()} closes it. Loads are serialised (one at a time), and the least recently
 * used pipeline is evicted before a new one loads, so memory is freed first. Thread-safe.
 */
final class PipelineCache {

  /** Loads a pipeline on the calling thread. */
  interface Loader {
    Pipeline load(String alias) throws Exception;
  }

  private static final class Entry {
    final String alias;
    final Pipeline pipeline;
    int users;
    boolean evicted;

    Entry(String alias, Pipeline pipeline) {
      this.alias = alias;
      this.pipeline = pipeline;
    }
  }

  /** A pipeline lent to one generation; closing it gives it back. */
  final class Lease implements AutoCloseable {
    private final Entry entry;
    private boolean closed;

    private Lease(Entry entry) {
      this.entry = entry;
    }

    Pipeline pipeline() {
      return entry.pipeline;
    }

    @Override
    public void close() {
      boolean close;
      synchronized (PipelineCache.this) {
        if (closed) {
          return;
        }
        closed = true;
        entry.users--;
        close = entry.evicted && entry.users == 0;
      }
      if (close) {
        entry.pipeline.close();
      }
    }
  }

  private final int max;
  private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>(8, 0.75f, true);
  private final Object loadLock = new Object();

  PipelineCache(int max) {
    this.max = max;
  }

  /** Whether a pipeline for this alias is loaded. */
  synchronized boolean isLoaded(String alias) {
    return entries.containsKey(alias);
  }

  /**
   * Lends the pipeline of an alias, loading it (after evicting the least recently used beyond
   * {@code max - 1}) when absent.
   *
   * @throws Exception what the loader threw
   */
  Lease acquire(String alias, Loader loader) throws Exception {
    synchronized (this) {
      Entry e = entries.get(alias);
      if (e != null) {
        e.users++;
        return new Lease(e);
      }
    }
    synchronized (loadLock) {
      synchronized (this) {
        Entry e = entries.get(alias);
        if (e != null) {
          e.users++;
          return new Lease(e);
        }
      }
      closeAll(evict(max - 1));
      Pipeline p = loader.load(alias);
      synchronized (this) {
        Entry e = new Entry(alias, p);
        e.users = 1;
        entries.put(alias, e);
        List<Entry> extra = evict(max);
        closeLater(extra);
        return new Lease(e);
      }
    }
  }

  /** Removes entries beyond {@code keep}, least recently used first; returns those idle now. */
  private synchronized List<Entry> evict(int keep) {
    List<Entry> idle = new ArrayList<>();
    Iterator<Map.Entry<String, Entry>> it = entries.entrySet().iterator();
    while (entries.size() > Math.max(keep, 0) && it.hasNext()) {
      Entry e = it.next().getValue();
      it.remove();
      e.evicted = true;
      if (e.users == 0) {
        idle.add(e);
      }
    }
    return idle;
  }

  private void closeLater(List<Entry> idle) {
    closeAll(idle);
  }

  private static void closeAll(List<Entry> idle) {
    for (Entry e : idle) {
      e.pipeline.close();
    }
  }

  /**
   * Unloads every pipeline: idle ones now, running ones when their generation ends.
   *
   * @return how many were unloaded
   */
  int purge() {
    List<Entry> idle;
    int n;
    synchronized (this) {
      n = entries.size();
      idle = evict(0);
    }
    closeAll(idle);
    return n;
  }

  /** The loaded aliases, least recently used first. */
  synchronized List<String> loaded() {
    return List.copyOf(entries.keySet());
  }
}
