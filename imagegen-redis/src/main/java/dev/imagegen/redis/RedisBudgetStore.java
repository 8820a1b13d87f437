package dev.imagegen.redis;

import dev.imagegen.BudgetExceededException;
import dev.imagegen.BudgetStore;
import dev.imagegen.ConfigurationException;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.sync.RedisCommands;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link BudgetStore} in Redis: every instance of an application that points at the same Redis
 * (and key prefix) shares one budget.
 *
 * <p>{@link #reserve} and {@link #settle} are each one Lua script (EVALSHA, EVAL when the server
 * does not know it yet), so they are atomic across all the scopes of a call, with the in-memory
 * store's semantics: a reservation checks every scope's limit and adds to all or none; a
 * settlement adds {@code actual - reserved} to every scope. Amounts are kept as integer nano-USD
 * (amounts reserved and spent are rounded up to a nano-USD, limits down); Redis's Lua numbers are
 * doubles, exact to 2<sup>53</sup> nano-USD (about 9 million USD per scope), the most a limit may be.
 *
 * <p>A windowed scope ({@code total@<window start millis>}) gets a key that expires at its window's
 * start plus the retention: the window's length plus a day when {@link Builder#window} is given,
 * otherwise {@link Builder#windowRetention} (400 days by default). Scopes without a window never
 * expire.
 *
 * <p>When Redis is down, slow (past the command timeout, 2 s by default) or refuses the
 * credentials, {@link #reserve} and {@link #spent} throw {@link BudgetStoreUnavailableException}
 * (a {@link BudgetExceededException}): the engine skips the provider without calling it. A failed
 * {@link #settle} is logged and retried in the background (each settlement at most once, by its
 * id), for {@link Builder#settleRetryFor} (10 minutes by default); one that still fails is logged
 * at ERROR with its scopes and amount and counted in {@link #lostSettlements()}.
 *
 * <p>Thread-safe; one connection is shared by all threads. {@link #close} it when the application
 * stops.
 */
public final class RedisBudgetStore implements BudgetStore, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RedisBudgetStore.class);

  /** The key prefix when none is given. */
  public static final String DEFAULT_KEY_PREFIX = "imagegen:budget:";
  /** The command timeout when none is given. */
  public static final Duration DEFAULT_TIMEOUT = RedisStoreBuilder.DEFAULT_TIMEOUT;
  /** How long a window's keys are kept after its start when the window's length is not given. */
  public static final Duration DEFAULT_WINDOW_RETENTION = Duration.ofDays(400);
  /** How long a failed settlement is retried when nothing else is said. */
  public static final Duration DEFAULT_SETTLE_RETRY_FOR = Duration.ofMinutes(10);

  /** The largest count of nano-USD a Lua number holds exactly (2^53 - 1). */
  static final long MAX_NANOS = (1L << 53) - 1;
  private static final long SETTLED_ID_TTL_MS = Duration.ofHours(1).toMillis();
  private static final Duration WINDOW_GRACE = Duration.ofDays(1);

  /**
   * KEYS: the scopes. ARGV[1]: the amount (nano-USD); ARGV[1+i]: scope i's limit; ARGV[1+n+i]: the
   * epoch millis at which scope i's key expires, 0 for never. Returns 1 when reserved, 0 when not.
   */
  static final String RESERVE = String.join("\n",
      "local n = #KEYS",
      "local amount = tonumber(ARGV[1])",
      "for i = 1, n do",
      "  local spent = tonumber(redis.call('GET', KEYS[i]) or '0')",
      "  if spent + amount > tonumber(ARGV[1 + i]) then return 0 end",
      "end",
      "for i = 1, n do",
      "  redis.call('INCRBY', KEYS[i], ARGV[1])",
      "  local at = tonumber(ARGV[1 + n + i])",
      "  if at > 0 then redis.call('PEXPIREAT', KEYS[i], at) end",
      "end",
      "return 1");

  /**
   * KEYS[1]: the settlement's id key; KEYS[2..]: the scopes. ARGV[1]: the delta (nano-USD);
   * ARGV[2]: the id key's time to live (ms); ARGV[2+i]: scope i's expiry (epoch millis, 0 never).
   * Returns 1 when applied, 0 when this settlement was applied before (a retry after a lost answer).
   */
  static final String SETTLE = String.join("\n",
      "if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then return 0 end",
      "for i = 2, #KEYS do",
      "  redis.call('INCRBY', KEYS[i], ARGV[1])",
      "  local at = tonumber(ARGV[1 + i])",
      "  if at > 0 then redis.call('PEXPIREAT', KEYS[i], at) end",
      "end",
      "return 1");

  private static final String RESERVE_SHA = RedisConnection.sha1(RESERVE);
  private static final String SETTLE_SHA = RedisConnection.sha1(SETTLE);

  private final RedisConnection redis;
  private final String address;
  private final String prefix;
  private final Duration timeout;
  private final @Nullable Duration window;
  private final Duration retention;
  private final Duration settleRetryFor;
  private volatile boolean closed;
  /** Set while close() applies what is still pending: those calls may still reach Redis. */
  private volatile boolean draining;
  private final ConcurrentLinkedQueue<PendingSettlement> pending = new ConcurrentLinkedQueue<>();
  private final AtomicLong lost = new AtomicLong();
  private final AtomicLong commandsSent = new AtomicLong();
  private final ScheduledExecutorService retries;

  private RedisBudgetStore(Builder b, String url) {
    this.redis = new RedisConnection(url, b.timeout);
    this.address = redis.address();
    this.prefix = b.prefix;
    this.timeout = b.timeout;
    this.window = b.window;
    this.retention = b.retention;
    this.settleRetryFor = b.settleRetryFor;
    this.retries = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "imagegen-redis-settle");
      t.setDaemon(true);
      return t;
    });
    try {
      redis.connection();
    } catch (RuntimeException e) {
      // fail closed from here on: each call tries again to connect, and refuses while it cannot
      LOG.warn("Redis budget store {}: cannot connect yet ({}); reservations are refused until it can", address,
          e.toString());
    }
  }

  /**
   * Connects to the Redis at {@code url} with the defaults (key prefix {@value #DEFAULT_KEY_PREFIX},
   * 2 s command timeout). A Redis not reachable yet is not an error here: reservations are refused
   * until it is.
   *
   * @param url {@code redis://[user:password@]host:port/db}, {@code rediss://} for TLS
   * @return the store
   * @throws IllegalArgumentException when the URL is not a Redis URL
   */
  public static RedisBudgetStore connect(String url) {
    return builder().url(url).build();
  }

  /**
   * Connects with the settings in system properties or, when a property is absent, environment
   * variables: {@code imagegen.redis.url} / {@code IMAGEGEN_REDIS_URL} (required),
   * {@code imagegen.redis.key-prefix} / {@code IMAGEGEN_REDIS_KEY_PREFIX},
   * {@code imagegen.redis.timeout} / {@code IMAGEGEN_REDIS_TIMEOUT} ({@code 2s}, {@code 500ms},
   * {@code PT2S}), and the budget's own {@code imagegen.budget.window} / {@code IMAGEGEN_BUDGET_WINDOW}
   * (the service reads it too), which sets {@link Builder#window}.
   *
   * @return the store
   * @throws ConfigurationException when the URL is not set or a setting is not valid
   */
  public static RedisBudgetStore fromEnvironment() {
    return fromSettings(RedisConnection.environment());
  }

  /** {@link #fromEnvironment} on any source of settings (by property name). */
  static RedisBudgetStore fromSettings(Function<String, @Nullable String> settings) {
    List<String> problems = new ArrayList<>();
    Builder b = builder();
    b.configure(settings, "imagegen.redis.key-prefix", "the shared budget's", problems);
    Duration w = RedisConnection.duration(settings, "imagegen.budget.window", "24h, 30m or PT24H", problems);
    if (w != null) {
      b.window(w);
    }
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
  public boolean reserve(List<Scope> scopes, BigDecimal amount) {
    if (scopes.isEmpty()) {
      return true;
    }
    long nanos = nanos(amount, RoundingMode.CEILING);
    if (nanos > MAX_NANOS) {
      throw new BudgetExceededException("the amount " + amount.toPlainString() + " USD is above what the Redis budget "
          + "store keeps exactly (" + usd(MAX_NANOS) + " USD)", null);
    }
    int n = scopes.size();
    String[] keys = new String[n];
    String[] args = new String[1 + 2 * n];
    args[0] = Long.toString(nanos);
    long now = System.currentTimeMillis();
    for (int i = 0; i < n; i++) {
      Scope s = scopes.get(i);
      keys[i] = prefix + s.key();
      args[1 + i] = Long.toString(Math.min(MAX_NANOS, Math.max(-MAX_NANOS, nanos(s.limit(), RoundingMode.FLOOR))));
      args[1 + n + i] = Long.toString(expiry(s.key(), now));
    }
    Long r;
    try {
      r = run(RESERVE_SHA, RESERVE, keys, args);
    } catch (RuntimeException e) {
      throw unavailable("reserve " + amount.stripTrailingZeros().toPlainString() + " USD", e);
    }
    return r != null && r == 1L;
  }

  @Override
  public void settle(List<Scope> scopes, BigDecimal reserved, BigDecimal actual) {
    if (scopes.isEmpty()) {
      return;
    }
    // the reservation was rounded up: undo exactly what was added, then add the actual, rounded up
    long delta = nanos(actual, RoundingMode.CEILING) - nanos(reserved, RoundingMode.CEILING);
    if (delta == 0) {
      return; // nothing changes: no round trip
    }
    PendingSettlement p = new PendingSettlement(UUID.randomUUID().toString(), List.copyOf(scopes), delta,
        System.nanoTime());
    try {
      apply(p);
    } catch (RuntimeException e) {
      if (closed) {
        lose(p, e); // nothing retries after close
        return;
      }
      LOG.warn("Redis budget store {}: settling {} USD in {} failed ({}); retrying in the background for up to {}",
          address, usd(delta), keysOf(p.scopes), e.toString(), settleRetryFor);
      pending.add(p);
      if (closed && pending.remove(p)) {
        lose(p, e); // closed meanwhile, after close() had tried what was pending
        return;
      }
      schedule(p, 1);
    }
  }

  @Override
  public BigDecimal spent(String scope) {
    String v;
    try {
      RedisCommands<String, String> c = commands();
      commandsSent.incrementAndGet();
      v = c.get(prefix + scope);
    } catch (RuntimeException e) {
      throw unavailable("read " + scope, e);
    }
    return v == null ? BigDecimal.ZERO : BigDecimal.valueOf(Long.parseLong(v), 9);
  }

  /**
   * Settlements that failed and are waiting for a retry.
   *
   * @return how many
   */
  public int pendingSettlements() {
    return pending.size();
  }

  /**
   * Settlements given up after {@link Builder#settleRetryFor} (each logged at ERROR with its scopes
   * and amount, to reconcile by hand).
   *
   * @return how many since the store was built
   */
  public long lostSettlements() {
    return lost.get();
  }

  /**
   * Commands sent to Redis since the store was built, each one round trip (a reservation is one,
   * a settlement that changes the amount one, a read one; a script the server forgot one more).
   *
   * @return how many
   */
  public long commandsSent() {
    return commandsSent.get();
  }

  /**
   * Tries each pending settlement once more, then closes the connection. What still fails is
   * logged at ERROR and counted as lost.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    retries.shutdownNow();
    draining = true; // the pending settlements get one more try before they are reported lost
    try {
      for (PendingSettlement p; (p = pending.poll()) != null; ) {
        try {
          apply(p);
        } catch (RuntimeException e) {
          lose(p, e);
        }
      }
    } finally {
      draining = false;
    }
    redis.close();
  }

  /** The store's Redis address with any password masked, its prefix and timeout. */
  @Override
  public String toString() {
    return "RedisBudgetStore[" + address + ", prefix " + prefix + ", timeout " + timeout.toMillis() + " ms]";
  }

  // ------------------------------------------------------------------ internals

  private record PendingSettlement(String id, List<Scope> scopes, long delta, long since) {}

  private void apply(PendingSettlement p) {
    int n = p.scopes.size();
    String[] keys = new String[1 + n];
    String[] args = new String[2 + n];
    keys[0] = prefix + "settled:" + p.id;
    args[0] = Long.toString(p.delta);
    args[1] = Long.toString(SETTLED_ID_TTL_MS);
    long now = System.currentTimeMillis();
    for (int i = 0; i < n; i++) {
      keys[1 + i] = prefix + p.scopes.get(i).key();
      args[2 + i] = Long.toString(expiry(p.scopes.get(i).key(), now));
    }
    run(SETTLE_SHA, SETTLE, keys, args);
  }

  private void schedule(PendingSettlement p, int attempt) {
    if (closed) {
      return; // close() applies or reports it
    }
    long delayMs = Math.min(30_000L, 500L << Math.min(attempt - 1, 6));
    try {
      retries.schedule(() -> retry(p, attempt), delayMs, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closing: close() applies or reports what is pending
    }
  }

  private void retry(PendingSettlement p, int attempt) {
    if (closed || !pending.contains(p)) {
      return;
    }
    try {
      apply(p);
      pending.remove(p);
      LOG.info("Redis budget store {}: settled {} USD in {} after {} retr{}", address, usd(p.delta), keysOf(p.scopes),
          attempt, attempt == 1 ? "y" : "ies");
    } catch (RuntimeException e) {
      if (System.nanoTime() - p.since >= settleRetryFor.toNanos()) {
        if (pending.remove(p)) {
          lose(p, e);
        }
      } else {
        schedule(p, attempt + 1);
      }
    }
  }

  private void lose(PendingSettlement p, RuntimeException e) {
    lost.incrementAndGet();
    LOG.error("Redis budget store {}: could not settle {} USD in {} ({}); the budget is off by that amount until "
        + "reconciled by hand", address, usd(p.delta), keysOf(p.scopes), e.toString());
  }

  private @Nullable Long run(String sha, String script, String[] keys, String[] args) {
    RedisCommands<String, String> c = commands();
    try {
      commandsSent.incrementAndGet();
      return c.evalsha(sha, ScriptOutputType.INTEGER, keys, args);
    } catch (RedisNoScriptException e) {
      commandsSent.incrementAndGet();
      return c.eval(script, ScriptOutputType.INTEGER, keys, args); // EVAL also loads it for the next EVALSHA
    }
  }

  private RedisCommands<String, String> commands() {
    if (closed && !draining) {
      throw new IllegalStateException("the Redis budget store is closed");
    }
    return redis.sync();
  }

  private BudgetStoreUnavailableException unavailable(String what, RuntimeException e) {
    return new BudgetStoreUnavailableException("the Redis budget store " + address + " could not " + what + " ("
        + e.getClass().getSimpleName() + ": " + e.getMessage() + "); no reservation, so no paid call is made", e);
  }

  /** When a scope's key expires (epoch millis), 0 for a scope without a window. */
  long expiry(String scopeKey, long nowMillis) {
    int at = scopeKey.lastIndexOf('@');
    if (at < 0 || at == scopeKey.length() - 1) {
      return 0;
    }
    long start;
    try {
      start = Long.parseLong(scopeKey.substring(at + 1));
    } catch (NumberFormatException e) {
      return 0;
    }
    long keep = window != null ? window.plus(WINDOW_GRACE).toMillis() : retention.toMillis();
    // never before an hour from now, whatever the clocks say
    return Math.max(start + keep, nowMillis + Duration.ofHours(1).toMillis());
  }

  static long nanos(BigDecimal usd, RoundingMode rounding) {
    return usd.movePointRight(9).setScale(0, rounding).longValueExact();
  }

  private static String usd(long nanos) {
    return BigDecimal.valueOf(nanos, 9).stripTrailingZeros().toPlainString();
  }

  private static List<String> keysOf(List<Scope> scopes) {
    List<String> k = new ArrayList<>(scopes.size());
    scopes.forEach(s -> k.add(s.key()));
    return k;
  }

  /** A Redis URL as it may be shown: the password (or a lone user-info token) masked, no query. */
  static String mask(String url) {
    return RedisConnection.mask(url);
  }


  /** Settings for a {@link RedisBudgetStore}. */
  public static final class Builder extends RedisStoreBuilder<Builder> {
    private @Nullable Duration window;
    private Duration retention = DEFAULT_WINDOW_RETENTION;
    private Duration settleRetryFor = DEFAULT_SETTLE_RETRY_FOR;

    private Builder() {
      super(DEFAULT_KEY_PREFIX);
    }

    @Override
    Builder self() {
      return this;
    }

    /**
     * The budget policy's window ({@code BudgetPolicy.window()}), so that a window's keys expire a
     * day after the window ends; without it they expire {@link #windowRetention} after its start.
     *
     * @param window the window, or null when the policy has none
     * @return this builder
     */
    public Builder window(@Nullable Duration window) {
      this.window = window == null ? null : positive(window, "window");
      return this;
    }

    /**
     * How long after its start a window's keys are kept when {@link #window} is not given (default
     * 400 days, longer than any window but a year's). Keep it longer than the policy's window: a key
     * that expires early forgets that window's spending.
     *
     * @param retention a positive duration
     * @return this builder
     */
    public Builder windowRetention(Duration retention) {
      this.retention = positive(retention, "windowRetention");
      return this;
    }

    /**
     * How long a failed settlement is retried in the background (default 10 minutes, at most an hour:
     * a settlement's id is remembered for an hour so that a retry is never applied twice).
     *
     * @param duration a positive duration
     * @return this builder
     */
    public Builder settleRetryFor(Duration duration) {
      Duration d = positive(duration, "settleRetryFor");
      if (d.toMillis() > SETTLED_ID_TTL_MS) {
        throw new IllegalArgumentException("settleRetryFor: at most an hour, got " + d);
      }
      this.settleRetryFor = d;
      return this;
    }

    /**
     * Builds the store and starts connecting (a Redis not reachable yet is not an error: reservations
     * are refused until it is).
     *
     * @return the store
     * @throws IllegalArgumentException when no URL was given or it is not a Redis URL
     */
    public RedisBudgetStore build() {
      String u = requireUrl();
      return new RedisBudgetStore(this, u);
    }

  }
}
