package dev.imagegen;

import java.nio.file.Path;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The response cache: content-addressed by a hash of the canonical request (final prompt,
 * negative prompt, model, size, count, seed, steps, guidance, sampler, LoRAs, strength, output
 * format, input images' hashes, provider options) and a namespace. Off unless configured. A
 * request without a seed is cached only with {@link #cacheUnseeded(boolean)}. Hits cost nothing
 * and are reported in the response ({@code Status.CACHED}) and in the metrics. Immutable.
 *
 * <p>A cache never fails a generation or the building of a service: when the store cannot read
 * or write (a directory that is missing, unwritable, or shared with another process that removed
 * an entry), the lookup is a miss, the store does nothing, and the first such problem is logged at
 * WARN with the directory.
 *
 * <p>With a {@link #directory() directory}, entries live only on disk (bounded by
 * {@link #maxBytes()}); without one, only in memory (bounded by {@link #maxEntries()} and
 * {@link #maxMemoryBytes()}).
 *
 * @param directory where entries are stored, or null for memory only
 * @param maxEntries most entries kept in memory
 * @param maxBytes most bytes kept in the directory (least recently used entries evicted first);
 *     when several processes share the directory, each keeps the entries it knows of within it,
 *     and learns of the others' entries periodically, so the total can exceed it for a while
 * @param namespace separates caches of different applications or model versions
 * @param cacheUnseeded whether requests without a seed are cached
 * @param maxMemoryBytes most bytes of image data kept in memory (least recently used entries
 *     evicted first; an entry larger than this is not kept)
 */
public record CacheConfig(@Nullable Path directory, int maxEntries, long maxBytes, String namespace, boolean cacheUnseeded,
    long maxMemoryBytes) {

  /** The default for {@link #maxMemoryBytes()}: 256 MiB. */
  public static final long DEFAULT_MAX_MEMORY_BYTES = 256L * 1024 * 1024;

  /** Checks the values. */
  public CacheConfig {
    Objects.requireNonNull(namespace, "namespace");
    if (maxEntries < 1) {
      throw new IllegalArgumentException("cache maxEntries must be at least 1, was " + maxEntries);
    }
    if (maxBytes < 1) {
      throw new IllegalArgumentException("cache maxBytes (the directory bound) must be at least 1, was " + maxBytes);
    }
    if (maxMemoryBytes < 1) {
      throw new IllegalArgumentException("cache maxMemoryBytes must be at least 1, was " + maxMemoryBytes);
    }
  }

  /**
   * A configuration with the default memory bound ({@link #DEFAULT_MAX_MEMORY_BYTES}).
   *
   * @param directory where entries are stored, or null for memory only
   * @param maxEntries most entries kept in memory
   * @param maxBytes most bytes kept in the directory
   * @param namespace separates caches of different applications or model versions
   * @param cacheUnseeded whether requests without a seed are cached
   */
  public CacheConfig(@Nullable Path directory, int maxEntries, long maxBytes, String namespace, boolean cacheUnseeded) {
    this(directory, maxEntries, maxBytes, namespace, cacheUnseeded, DEFAULT_MAX_MEMORY_BYTES);
  }

  /**
   * An in-memory LRU cache, bounded by entries and by {@link #DEFAULT_MAX_MEMORY_BYTES} of image
   * data (change it with {@link #maxMemoryBytes(long)}).
   *
   * @param maxEntries most entries kept
   */
  public static CacheConfig inMemory(int maxEntries) {
    return new CacheConfig(null, maxEntries, Long.MAX_VALUE, "default", false);
  }

  /**
   * A directory store with atomic writes (a temporary directory, then a move) and a size bound.
   * The directory may be shared by several services and processes.
   *
   * @param directory where entries are stored
   * @param maxBytes most bytes kept
   */
  public static CacheConfig directory(Path directory, long maxBytes) {
    return new CacheConfig(directory, 1000, maxBytes, "default", false);
  }

  /** @param ns the namespace @return a copy with it */
  public CacheConfig namespace(String ns) {
    return new CacheConfig(directory, maxEntries, maxBytes, ns, cacheUnseeded, maxMemoryBytes);
  }

  /** @param v whether requests without a seed are cached (default false) @return a copy with it */
  public CacheConfig cacheUnseeded(boolean v) {
    return new CacheConfig(directory, maxEntries, maxBytes, namespace, v, maxMemoryBytes);
  }

  /**
   * @param v most bytes of image data kept in memory (default {@link #DEFAULT_MAX_MEMORY_BYTES})
   * @return a copy with it
   * @throws IllegalArgumentException when {@code v} is below 1
   */
  public CacheConfig maxMemoryBytes(long v) {
    return new CacheConfig(directory, maxEntries, maxBytes, namespace, cacheUnseeded, v);
  }
}
