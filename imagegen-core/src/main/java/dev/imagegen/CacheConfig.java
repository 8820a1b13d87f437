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
 * @param directory where entries are stored, or null for memory only
 * @param maxEntries most entries kept in memory
 * @param maxBytes most bytes kept in the directory (oldest entries evicted first)
 * @param namespace separates caches of different applications or model versions
 * @param cacheUnseeded whether requests without a seed are cached
 */
public record CacheConfig(@Nullable Path directory, int maxEntries, long maxBytes, String namespace, boolean cacheUnseeded) {

  /** Checks the values. */
  public CacheConfig {
    Objects.requireNonNull(namespace, "namespace");
    if (maxEntries < 1 || maxBytes < 1) {
      throw new IllegalArgumentException("cache limits must be positive");
    }
  }

  /**
   * An in-memory LRU cache.
   *
   * @param maxEntries most entries kept
   */
  public static CacheConfig inMemory(int maxEntries) {
    return new CacheConfig(null, maxEntries, Long.MAX_VALUE, "default", false);
  }

  /**
   * A directory store with atomic writes (a temporary directory, then a move) and a size bound.
   *
   * @param directory where entries are stored
   * @param maxBytes most bytes kept
   */
  public static CacheConfig directory(Path directory, long maxBytes) {
    return new CacheConfig(directory, 1000, maxBytes, "default", false);
  }

  /** @param ns the namespace @return a copy with it */
  public CacheConfig namespace(String ns) {
    return new CacheConfig(directory, maxEntries, maxBytes, ns, cacheUnseeded);
  }

  /** @param v whether requests without a seed are cached (default false) @return a copy with it */
  public CacheConfig cacheUnseeded(boolean v) {
    return new CacheConfig(directory, maxEntries, maxBytes, namespace, v);
  }
}
