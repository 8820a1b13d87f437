package dev.imagegen.redis;

import dev.imagegen.spi.ProviderConfig;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The Redis connection the stores of this module share the code of: the URL parsed once (its
 * password never shown), a command and connect timeout, one connection opened lazily and shared by
 * all threads, commands rejected at once while it is down (no queue), a failed connect not tried
 * again for 500 ms.
 */
final class RedisConnection {
  private static final Pattern USER_INFO = Pattern.compile("^([A-Za-z0-9+.-]+://)([^@/?#]*)@");
  private static final long CONNECT_COOL_DOWN_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

  private final RedisClient client;
  private final String address;
  private final Duration timeout;
  private final Object connectLock = new Object();
  private volatile @Nullable StatefulRedisConnection<String, String> connection;
  private volatile long lastConnectFailure;

  /**
   * Parses the URL and builds the client; connects on first use.
   *
   * @throws IllegalArgumentException when the URL is not a Redis URL (the message shows it masked)
   */
  RedisConnection(String url, Duration timeout) {
    this.address = mask(url);
    this.timeout = timeout;
    RedisURI uri;
    try {
      uri = RedisURI.create(url);
    } catch (RuntimeException e) {
      // the client's message may quote the URL, password and all: say it again without it
      throw new IllegalArgumentException("imagegen.redis.url: not a Redis URL (redis://[user:password@]host:port/db, "
          + "rediss:// for TLS): " + address, null);
    }
    uri.setTimeout(timeout);
    this.client = RedisClient.create(uri);
    client.setOptions(ClientOptions.builder()
        .autoReconnect(true)
        // while the connection is down, a command fails at once instead of waiting in a queue
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
        .socketOptions(SocketOptions.builder().connectTimeout(timeout).build())
        .timeoutOptions(TimeoutOptions.enabled(timeout))
        .build());
  }

  /** The URL as it may be shown. */
  String address() {
    return address;
  }

  /** The command timeout. */
  Duration timeout() {
    return timeout;
  }

  /** Synchronous commands on the shared connection, connecting first when needed. */
  RedisCommands<String, String> sync() {
    return connection().sync();
  }

  /** The shared connection, opened on first use (not again within 500 ms of a failed attempt). */
  StatefulRedisConnection<String, String> connection() {
    StatefulRedisConnection<String, String> c = connection;
    if (c != null) {
      return c;
    }
    synchronized (connectLock) {
      c = connection;
      if (c != null) {
        return c;
      }
      long failed = lastConnectFailure;
      if (failed != 0 && System.nanoTime() - failed < CONNECT_COOL_DOWN_NANOS) {
        throw new IllegalStateException("not connected (the last attempt failed less than 500 ms ago)");
      }
      try {
        c = client.connect();
      } catch (RuntimeException e) {
        lastConnectFailure = System.nanoTime();
        throw e;
      }
      c.setTimeout(timeout);
      connection = c;
      return c;
    }
  }

  /**
   * A new publish/subscribe connection (each subscriber has its own; Lettuce subscribes it again
   * after a reconnect).
   *
   * @throws RuntimeException when Redis cannot be reached now
   */
  io.lettuce.core.pubsub.StatefulRedisPubSubConnection<String, String> connectPubSub() {
    io.lettuce.core.pubsub.StatefulRedisPubSubConnection<String, String> c = client.connectPubSub();
    c.setTimeout(timeout);
    return c;
  }

  /** Closes the connection and the client. */
  void close() {
    StatefulRedisConnection<String, String> c = connection;
    if (c != null) {
      c.close();
    }
    client.shutdown(Duration.ZERO, timeout);
  }

  /** A Redis URL as it may be shown: the password (or a lone user-info token) masked, no query. */
  static String mask(String url) {
    String u = url.trim();
    int q = u.indexOf('?');
    if (q >= 0) {
      u = u.substring(0, q);
    }
    Matcher m = USER_INFO.matcher(u);
    if (m.find()) {
      String info = m.group(2);
      int colon = info.indexOf(':');
      String shown = colon > 0 ? info.substring(0, colon) + ":***" : "***"; // the user is shown, the password never
      u = m.group(1) + shown + "@" + u.substring(m.end());
    }
    return u;
  }

  /** The SHA-1 of a Lua script, in hex, as EVALSHA names it. */
  static String sha1(String script) {
    try {
      return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-1")
          .digest(script.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Settings from system properties, else environment variables ({@code a.b-c} as {@code A_B_C}). */
  static Function<String, @Nullable String> environment() {
    return key -> {
      String v = System.getProperty(key);
      if (v == null || v.isBlank()) {
        v = System.getenv(key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_'));
      }
      return v == null || v.isBlank() ? null : v.trim();
    };
  }

  /**
   * Reads a positive duration setting; a bad value adds a problem naming the key.
   *
   * @return the duration, or null when absent or bad
   */
  static @Nullable Duration duration(Function<String, @Nullable String> settings, String key, String example,
      List<String> problems) {
    String t = settings.apply(key);
    if (t == null) {
      return null;
    }
    Duration d = ProviderConfig.parseDuration(t);
    if (d == null || d.isNegative() || d.isZero()) {
      problems.add(key + " (" + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_') + "): '" + t
          + "' is not a positive duration such as " + example);
      return null;
    }
    return d;
  }
}
