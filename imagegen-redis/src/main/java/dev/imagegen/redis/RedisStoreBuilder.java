package dev.imagegen.redis;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * What every Redis store's builder holds: the Redis URL, the key prefix and the command timeout,
 * and how they are read from {@code imagegen.redis.*} settings. Written once for the budget store,
 * the job journal, the rate limit and the cool-downs.
 *
 * @param <B> the store's own builder
 */
abstract class RedisStoreBuilder<B extends RedisStoreBuilder<B>> {
  /** The command timeout unless told otherwise. */
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(2);

  @Nullable String url;
  String prefix;
  Duration timeout = DEFAULT_TIMEOUT;

  RedisStoreBuilder(String defaultPrefix) {
    this.prefix = defaultPrefix;
  }

  abstract B self();

  /**
   * The Redis to use.
   *
   * @param url {@code redis://[user:password@]host:port/db}, {@code rediss://} for TLS
   * @return this builder
   */
  public B url(String url) {
    this.url = Objects.requireNonNull(url, "url");
    return self();
  }

  /**
   * The prefix of every key this store writes (default: the store's {@code DEFAULT_KEY_PREFIX});
   * instances share the store's state when they share the Redis and the prefix.
   *
   * @param prefix the prefix
   * @return this builder
   */
  public B keyPrefix(String prefix) {
    this.prefix = Objects.requireNonNull(prefix, "prefix");
    return self();
  }

  /**
   * How long a command (and a connection attempt) may take (default 2 s).
   *
   * @param timeout a positive duration
   * @return this builder
   * @throws IllegalArgumentException when it is not positive
   */
  public B commandTimeout(Duration timeout) {
    this.timeout = positive(timeout, "commandTimeout");
    return self();
  }

  /** The URL given; build() fails without one. */
  String requireUrl() {
    String u = url;
    if (u == null) {
      throw new IllegalArgumentException("imagegen.redis.url: no Redis URL given");
    }
    return u;
  }

  /**
   * Reads {@code imagegen.redis.url}, the store's key-prefix setting and {@code imagegen.redis.timeout};
   * each problem is added, naming the setting and its environment variable.
   *
   * @param settings the settings by property name
   * @param prefixKey the store's key-prefix setting, e.g. {@code imagegen.redis.journal.key-prefix}
   * @param whose what the Redis is for, as a message says it ("the job journal's")
   * @param problems where problems go
   */
  void configure(Function<String, @Nullable String> settings, String prefixKey, String whose, List<String> problems) {
    String u = settings.apply("imagegen.redis.url");
    if (u == null) {
      problems.add("imagegen.redis.url (IMAGEGEN_REDIS_URL) is not set: give " + whose + " Redis as "
          + "redis://[user:password@]host:port/db (rediss:// for TLS)");
    } else {
      url(u);
    }
    String p = settings.apply(prefixKey);
    if (p != null) {
      keyPrefix(p);
    }
    Duration t = RedisConnection.duration(settings, "imagegen.redis.timeout", "2s, 500ms or PT2S", problems);
    if (t != null) {
      commandTimeout(t);
    }
  }

  static Duration positive(Duration d, String name) {
    Objects.requireNonNull(d, name);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(name + ": must be positive, got " + d);
    }
    return d;
  }
}
