package dev.imagegen.redis;

import dev.imagegen.ConfigurationException;
import dev.imagegen.RateLimitStore;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link RateLimitStore} in Redis: every instance of an application that points at the same
 * Redis (and key prefix) shares one {@code requests-per-minute} limit per provider
 * ({@code ImageGenerationService.Builder#rateLimitStore}).
 *
 * <p>Each permit is one Lua script (EVALSHA, EVAL when the server does not know it yet), so one
 * round trip per provider call. It keeps, per key, the time the next permit is free (GCRA, the
 * generic cell rate algorithm), read from Redis's own {@code TIME}, so the instances' clocks do not
 * matter: permits are spaced {@code window / limit} apart, as core's local limiter spaces them,
 * with no burst, and a permit is taken only when its wait is within the caller's longest wait. The
 * key ({@code <prefix>provider:<id>:requests}) expires a second after its last permit's time.
 *
 * <p>When Redis is down, slow (past the command timeout, 2 s by default) or refuses the
 * credentials, the returned stage completes exceptionally; the engine then takes the permit from
 * its own local limiter for that call (availability over exactness: each instance keeps the limit
 * on its own while Redis is down), logging one WARN per outage and one INFO when Redis answers
 * again. Unlike {@link RedisBudgetStore}, which fails closed, no call is refused because Redis is
 * down.
 *
 * <p>Thread-safe; one connection is shared by all threads; {@link #acquire} sends the command
 * asynchronously and blocks no thread, once connected (connecting, at build and again after a
 * failed connect, at most every 500 ms, waits up to the timeout on the calling thread).
 * {@link #close} it when the application stops.
 */
public final class RedisRateLimitStore implements RateLimitStore, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RedisRateLimitStore.class);

  /** The key prefix when none is given. */
  public static final String DEFAULT_KEY_PREFIX = "imagegen:ratelimit:";
  /** The command timeout when none is given. */
  public static final Duration DEFAULT_TIMEOUT = RedisStoreBuilder.DEFAULT_TIMEOUT;

  /**
   * KEYS[1]: the limit's key. ARGV[1]: the interval between permits (microseconds); ARGV[2]: the
   * longest wait accepted (microseconds). Returns {granted (1 or 0), wait (microseconds)}: when
   * granted, the wait before the permit's time; when not, the wait until the next free permit.
   */
  static final String ACQUIRE = String.join("\n",
      "local t = redis.call('TIME')",
      "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])",
      "local interval = tonumber(ARGV[1])",
      "local tat = tonumber(redis.call('GET', KEYS[1]) or '0')",
      "if tat < now then tat = now end",
      "local wait = tat - now",
      "if wait > tonumber(ARGV[2]) then return {0, wait} end",
      "local nxt = tat + interval",
      "redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1000)",
      "return {1, wait}");

  private static final String ACQUIRE_SHA = RedisConnection.sha1(ACQUIRE);

  private final RedisConnection redis;
  private final String address;
  private final String prefix;
  private final Duration timeout;
  private final AtomicLong commandsSent = new AtomicLong();
  private volatile boolean closed;

  private RedisRateLimitStore(Builder b, String url) {
    this.redis = new RedisConnection(url, b.timeout);
    this.address = redis.address();
    this.prefix = b.prefix;
    this.timeout = b.timeout;
    try {
      redis.connection();
    } catch (RuntimeException e) {
      LOG.warn("Redis rate-limit store {}: cannot connect yet ({}); each instance keeps its own limits until it can",
          address, e.toString());
    }
  }

  /**
   * Connects to the Redis at {@code url} with the defaults (key prefix {@value #DEFAULT_KEY_PREFIX},
   * 2 s command timeout). A Redis not reachable yet is not an error here: each instance limits on
   * its own until it is.
   *
   * @param url {@code redis://[user:password@]host:port/db}, {@code rediss://} for TLS
   * @return the store
   * @throws IllegalArgumentException when the URL is not a Redis URL
   */
  public static RedisRateLimitStore connect(String url) {
    return builder().url(url).build();
  }

  /**
   * Connects with the settings in system properties or, when a property is absent, environment
   * variables: {@code imagegen.redis.url} / {@code IMAGEGEN_REDIS_URL} (required),
   * {@code imagegen.redis.rate-limit.key-prefix} / {@code IMAGEGEN_REDIS_RATE_LIMIT_KEY_PREFIX},
   * {@code imagegen.redis.timeout} / {@code IMAGEGEN_REDIS_TIMEOUT} ({@code 2s}, {@code 500ms},
   * {@code PT2S}).
   *
   * @return the store
   * @throws ConfigurationException when the URL is not set or a setting is not valid
   */
  public static RedisRateLimitStore fromEnvironment() {
    return fromSettings(RedisConnection.environment());
  }

  /** {@link #fromEnvironment} on any source of settings (by property name). */
  static RedisRateLimitStore fromSettings(Function<String, @Nullable String> settings) {
    List<String> problems = new ArrayList<>();
    Builder b = builder();
    b.configure(settings, "imagegen.redis.rate-limit.key-prefix", "the shared rate limit's", problems);
    if (!problems.isEmpty()) {
      throw new ConfigurationException(problems);
    }
    try {
      return b.build();
    } catch (IllegalArgumentException e) {
      throw new ConfigurationException(List.of(String.valueOf(e.getMessage())));
    }
  }

  /**
   * A builder for a store.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public CompletionStage<Decision> acquire(String key, int limit, Duration window, Duration maxWait) {
    if (limit < 1 || window.isNegative() || window.isZero() || maxWait.isNegative()) {
      return CompletableFuture.failedFuture(new IllegalArgumentException("a rate limit needs a limit of at least 1, a "
          + "positive window and a wait of zero or more; got " + limit + " per " + window + ", wait " + maxWait));
    }
    long intervalMicros = Math.max(1, window.toNanos() / 1000 / limit);
    long maxWaitMicros = maxWait.toNanos() / 1000;
    String[] keys = {prefix + key};
    String[] args = {Long.toString(intervalMicros), Long.toString(maxWaitMicros)};
    RedisAsyncCommands<String, String> c;
    try {
      if (closed) {
        throw new IllegalStateException("the Redis rate-limit store is closed");
      }
      c = redis.connection().async();
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(unavailable(e));
    }
    commandsSent.incrementAndGet();
    return c.<List<Object>>evalsha(ACQUIRE_SHA, ScriptOutputType.MULTI, keys, args).toCompletableFuture()
        .exceptionallyCompose(e -> {
          if (cause(e) instanceof RedisNoScriptException) {
            commandsSent.incrementAndGet();
            return c.<List<Object>>eval(ACQUIRE, ScriptOutputType.MULTI, keys, args); // EVAL also loads it for EVALSHA
          }
          return CompletableFuture.failedFuture(e);
        })
        .handle((r, e) -> {
          if (e != null) {
            throw new CompletionException(unavailable(cause(e)));
          }
          return decision(r);
        });
  }

  /** The script's answer as a decision. */
  static Decision decision(@Nullable List<Object> r) {
    if (r == null || r.size() != 2 || !(r.get(0) instanceof Long granted) || !(r.get(1) instanceof Long wait)) {
      throw new CompletionException(new IllegalStateException("unexpected answer from the rate-limit script: " + r));
    }
    Duration d = Duration.ofNanos(Math.max(0, wait) * 1000);
    return granted == 1L ? Decision.granted(d) : Decision.refused(d);
  }

  /** The command timeout: how long the engine waits for an answer before using its local limiter. */
  @Override
  public Duration timeout() {
    return timeout;
  }

  /**
   * Commands sent to Redis since the store was built, each one round trip (a permit is one; a
   * script the server forgot one more).
   *
   * @return how many
   */
  public long commandsSent() {
    return commandsSent.get();
  }

  /** Closes the connection; later permits fail (the engine uses its local limiter). */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    redis.close();
  }

  /** The store's Redis address with any password masked, its prefix and timeout. */
  @Override
  public String toString() {
    return "RedisRateLimitStore[" + address + ", prefix " + prefix + ", timeout " + timeout.toMillis() + " ms]";
  }

  private static Throwable cause(Throwable e) {
    Throwable c = e;
    while (c instanceof CompletionException && c.getCause() != null) {
      c = c.getCause();
    }
    return c;
  }

  private IllegalStateException unavailable(Throwable e) {
    // the client's message names the host, never the password (the URL is given to it parsed)
    return new IllegalStateException("the Redis rate-limit store " + address + " could not answer ("
        + e.getClass().getSimpleName() + ": " + e.getMessage() + ")", e);
  }


  /** Settings for a {@link RedisRateLimitStore}. */
  public static final class Builder extends RedisStoreBuilder<Builder> {

    private Builder() {
      super(DEFAULT_KEY_PREFIX);
    }

    @Override
    Builder self() {
      return this;
    }

    /**
     * Builds the store and starts connecting (a Redis not reachable yet is not an error: each
     * instance limits on its own until it is).
     *
     * @return the store
     * @throws IllegalArgumentException when no URL was given or it is not a Redis URL
     */
    public RedisRateLimitStore build() {
      String u = requireUrl();
      return new RedisRateLimitStore(this, u);
    }
  }
}
