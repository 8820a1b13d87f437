package dev.imagegen.redis;

import dev.imagegen.ConfigurationException;
import dev.imagegen.CooldownStore;
import dev.imagegen.ErrorKind;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link CooldownStore} in Redis: when one instance's key is refused by a provider (401/403) or
 * its credit is exhausted, every instance on the same Redis (and key prefix) skips that provider
 * for what is left of the cool-down ({@code ImageGenerationService.Builder#cooldownStore}).
 *
 * <p>{@link #publish} is one Lua script: it sets {@code <prefix><provider>:<kind>} with the
 * cool-down as its TTL (unless one lasting longer is set), adds the key to {@code <prefix>index}
 * and publishes the cool-down on {@code <prefix>events}. {@link #subscribe} opens a
 * publish/subscribe connection on that channel and, once subscribed (and again each time Lettuce
 * subscribes it after a reconnect), reads the cool-downs in force from the index, so an instance
 * started later, or one that missed messages while Redis was down, learns them. The TTLs are
 * Redis's, so the instances' clocks do not matter.
 *
 * <p>Best effort: a publish that fails (Redis down, slow, refusing the password) is logged at WARN
 * once per outage and at INFO when Redis answers again; the cool-down still holds in the instance
 * that saw it. A subscription needs Redis when the service is built: without it the service builds,
 * logs a WARN, and does not receive other instances' cool-downs until it is built again.
 *
 * <p>Thread-safe; {@link #close} it after the services that use it.
 */
public final class RedisCooldownStore implements CooldownStore, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RedisCooldownStore.class);

  /** The key prefix when none is given. */
  public static final String DEFAULT_KEY_PREFIX = "imagegen:cooldown:";
  /** The command timeout when none is given. */
  public static final Duration DEFAULT_TIMEOUT = RedisStoreBuilder.DEFAULT_TIMEOUT;

  /**
   * KEYS[1]: the cool-down's key; KEYS[2]: the index. ARGV[1]: its TTL (ms); ARGV[2]: the value
   * (kind, provider, reason on three lines); ARGV[3]: the channel. Returns 1 when set and
   * published, 0 when one lasting at least as long is set.
   */
  static final String PUBLISH = String.join("\n",
      "if redis.call('PTTL', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end",
      "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])",
      "redis.call('SADD', KEYS[2], KEYS[1])",
      "redis.call('PUBLISH', ARGV[3], ARGV[1] .. '\\n' .. ARGV[2])",
      "return 1");

  /**
   * KEYS[1]: the index. Returns {ttl1, value1, ttl2, value2, ...} of the cool-downs in force and
   * drops the expired ones from the index.
   */
  static final String LIST = String.join("\n",
      "local out = {}",
      "for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do",
      "  local ttl = redis.call('PTTL', k)",
      "  local v = redis.call('GET', k)",
      "  if ttl > 0 and v then",
      "    out[#out + 1] = tostring(ttl)",
      "    out[#out + 1] = v",
      "  else",
      "    redis.call('SREM', KEYS[1], k)",
      "  end",
      "end",
      "return out");

  private static final String PUBLISH_SHA = RedisConnection.sha1(PUBLISH);
  private static final String LIST_SHA = RedisConnection.sha1(LIST);

  private final RedisConnection redis;
  private final String address;
  private final String prefix;
  private final Duration timeout;
  private final AtomicBoolean down = new AtomicBoolean();
  private final Set<StatefulRedisPubSubConnection<String, String>> subscriptions = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  private RedisCooldownStore(Builder b, String url) {
    this.redis = new RedisConnection(url, b.timeout);
    this.address = redis.address();
    this.prefix = b.prefix;
    this.timeout = b.timeout;
    try {
      redis.connection();
    } catch (RuntimeException e) {
      LOG.warn("Redis cool-down store {}: cannot connect yet ({}); cool-downs are not shared until it can", address,
          e.toString());
    }
  }

  /**
   * Connects to the Redis at {@code url} with the defaults (key prefix {@value #DEFAULT_KEY_PREFIX},
   * 2 s command timeout).
   *
   * @param url {@code redis://[user:password@]host:port/db}, {@code rediss://} for TLS
   * @return the store
   * @throws IllegalArgumentException when the URL is not a Redis URL
   */
  public static RedisCooldownStore connect(String url) {
    return builder().url(url).build();
  }

  /**
   * Connects with the settings in system properties or, when a property is absent, environment
   * variables: {@code imagegen.redis.url} / {@code IMAGEGEN_REDIS_URL} (required),
   * {@code imagegen.redis.cooldown.key-prefix} / {@code IMAGEGEN_REDIS_COOLDOWN_KEY_PREFIX},
   * {@code imagegen.redis.timeout} / {@code IMAGEGEN_REDIS_TIMEOUT}.
   *
   * @return the store
   * @throws ConfigurationException when the URL is not set or a setting is not valid
   */
  public static RedisCooldownStore fromEnvironment() {
    return fromSettings(RedisConnection.environment());
  }

  /** {@link #fromEnvironment} on any source of settings (by property name). */
  static RedisCooldownStore fromSettings(Function<String, @Nullable String> settings) {
    List<String> problems = new ArrayList<>();
    Builder b = builder();
    b.configure(settings, "imagegen.redis.cooldown.key-prefix", "the shared cool-downs'", problems);
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
  public void publish(Cooldown c) {
    String value = c.kind().name() + "\n" + c.providerId() + "\n" + c.reason().replace('\n', ' ');
    String[] keys = {key(c.providerId(), c.kind()), prefix + "index"};
    String[] args = {Long.toString(Math.max(1, c.remaining().toMillis())), value, prefix + "events"};
    run(PUBLISH_SHA, PUBLISH, ScriptOutputType.INTEGER, keys, args).whenComplete((r, e) -> {
      if (e != null) {
        if (down.compareAndSet(false, true)) {
          LOG.warn("Redis cool-down store {}: could not publish {}'s cool-down ({}); it holds in this instance only, and "
              + "until Redis answers cool-downs are not shared", address, c.providerId(), cause(e).toString());
        }
      } else if (down.compareAndSet(true, false)) {
        LOG.info("Redis cool-down store {}: Redis answers again; cool-downs are shared again", address);
      }
    });
  }

  @Override
  public AutoCloseable subscribe(Consumer<Cooldown> listener) {
    if (closed) {
      throw new IllegalStateException("the Redis cool-down store is closed");
    }
    StatefulRedisPubSubConnection<String, String> pubsub;
    try {
      pubsub = redis.connectPubSub();
    } catch (RuntimeException e) {
      throw new IllegalStateException("the Redis cool-down store " + address + " could not subscribe ("
          + e.getClass().getSimpleName() + ": " + e.getMessage() + ")", null);
    }
    String channel = prefix + "events";
    pubsub.addListener(new RedisPubSubAdapter<>() {
      @Override
      public void message(String ch, String message) {
        if (!channel.equals(ch)) {
          return;
        }
        int nl = message.indexOf('\n');
        Cooldown c = nl < 0 ? null : parse(message.substring(0, nl), message.substring(nl + 1));
        if (c != null) {
          deliver(listener, c);
        }
      }

      @Override
      public void subscribed(String ch, long count) {
        if (channel.equals(ch)) {
          loadInForce(listener); // at first, and after each reconnect: what was missed meanwhile
        }
      }
    });
    try {
      pubsub.sync().subscribe(channel);
    } catch (RuntimeException e) {
      pubsub.close();
      throw new IllegalStateException("the Redis cool-down store " + address + " could not subscribe ("
          + e.getClass().getSimpleName() + ": " + e.getMessage() + ")", null);
    }
    subscriptions.add(pubsub);
    return () -> {
      if (subscriptions.remove(pubsub)) {
        pubsub.close();
      }
    };
  }

  /** The command timeout. */
  public Duration timeout() {
    return timeout;
  }

  /** Closes every subscription and the connection. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (StatefulRedisPubSubConnection<String, String> s : List.copyOf(subscriptions)) {
      subscriptions.remove(s);
      s.close();
    }
    redis.close();
  }

  /** The store's Redis address with any password masked, its prefix and timeout. */
  @Override
  public String toString() {
    return "RedisCooldownStore[" + address + ", prefix " + prefix + ", timeout " + timeout.toMillis() + " ms]";
  }

  // ------------------------------------------------------------------ internals

  String key(String providerId, ErrorKind kind) {
    return prefix + providerId + ":" + kind.name();
  }

  private void loadInForce(Consumer<Cooldown> listener) {
    run(LIST_SHA, LIST, ScriptOutputType.MULTI, new String[] {prefix + "index"}, new String[0]).whenComplete((r, e) -> {
      if (e != null) {
        LOG.warn("Redis cool-down store {}: could not read the cool-downs in force ({})", address, cause(e).toString());
        return;
      }
      if (r instanceof List<?> list) {
        for (int i = 0; i + 1 < list.size(); i += 2) {
          Cooldown c = parse(String.valueOf(list.get(i)), String.valueOf(list.get(i + 1)));
          if (c != null) {
            deliver(listener, c);
          }
        }
      }
    });
  }

  private static void deliver(Consumer<Cooldown> listener, Cooldown c) {
    try {
      listener.accept(c);
    } catch (RuntimeException e) {
      LOG.warn("a cool-down listener failed: {}", e.toString());
    }
  }

  /** A cool-down from its TTL and value, or null (logged at DEBUG) when it is not one. */
  static @Nullable Cooldown parse(String ttl, String value) {
    String[] parts = value.split("\n", 3);
    try {
      long ms = Long.parseLong(ttl.trim());
      ErrorKind kind = ErrorKind.valueOf(parts[0]);
      if (parts.length < 3 || ms <= 0) {
        return null;
      }
      return new Cooldown(parts[1], kind, Duration.ofMillis(ms), parts[2]);
    } catch (RuntimeException e) {
      LOG.debug("not a cool-down: {}", e.toString());
      return null;
    }
  }

  private CompletionStage<Object> run(String sha, String script, ScriptOutputType type, String[] keys, String[] args) {
    RedisAsyncCommands<String, String> c;
    try {
      if (closed) {
        throw new IllegalStateException("the Redis cool-down store is closed");
      }
      c = redis.connection().async();
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    return c.<Object>evalsha(sha, type, keys, args).toCompletableFuture().exceptionallyCompose(e -> {
      if (cause(e) instanceof RedisNoScriptException) {
        return c.<Object>eval(script, type, keys, args);
      }
      return CompletableFuture.failedFuture(e);
    });
  }

  private static Throwable cause(Throwable e) {
    Throwable c = e;
    while (c instanceof CompletionException && c.getCause() != null) {
      c = c.getCause();
    }
    return c;
  }


  /** Settings for a {@link RedisCooldownStore}. */
  public static final class Builder extends RedisStoreBuilder<Builder> {

    private Builder() {
      super(DEFAULT_KEY_PREFIX);
    }

    @Override
    Builder self() {
      return this;
    }

    /**
     * Builds the store and starts connecting.
     *
     * @return the store
     * @throws IllegalArgumentException when no URL was given or it is not a Redis URL
     */
    public RedisCooldownStore build() {
      String u = requireUrl();
      return new RedisCooldownStore(this, u);
    }
  }
}
