package dev.imagegen.redis;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.ConfigurationException;
import dev.imagegen.JobJournal;
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.sync.RedisCommands;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link JobJournal} in Redis: every instance of an application that points at the same Redis
 * (and key prefix) sees the remote jobs of the others, so that one started after another crashed
 * resumes or cancels that one's jobs ({@code ImageGenerationService.recover()}).
 *
 * <p>Keys, under the prefix ({@value #DEFAULT_KEY_PREFIX} by default): {@code job:<id>} holds one
 * entry as JSON (the fields of {@link JobJournal.Entry}; {@code <id>} is a hash of the generation
 * id and the remote job id), the set {@code open} holds the ids of the open entries, and
 * {@code lease:<instance-id>} is an instance's lease. An entry and its place in the set are written
 * and removed together, each by one Lua script. {@link #ended} removes the entry, except for the
 * status {@code cancel-failed}: that job may still run and bill, so its entry stays, in state
 * {@code cancel-failed}, for a later recovery to cancel (as the directory journal does).
 *
 * <p>Leases: {@link #join} sets {@code lease:<instance-id>} with a time to live ({@link
 * Builder#leaseTtl}, 10 s by default) and a daemon heartbeat sets it again every third of that;
 * {@link #leave} stops the heartbeat and deletes the key; {@link #leaseLive} is whether the key
 * exists. An instance that dies stops refreshing its lease, so its entries may be adopted once it
 * expired.
 *
 * <p>When Redis is down, slow (past the command timeout, 2 s by default) or refuses the
 * credentials, no paid call is refused: {@link #started} and {@link #ended} do not throw. The
 * first failure of an outage is logged at WARN ("remote jobs are not recorded durably"), the
 * others at DEBUG; the writes are kept in memory, in order (at most {@value #MAX_PENDING}; beyond
 * that they are counted in {@link #lostWrites()}), and written every third of the lease once
 * Redis answers again, which is logged at INFO. A crash of this process during the outage loses
 * what waits ({@link #pendingWrites()}). {@link #open} throws (a recovery cannot list what it
 * cannot read), and {@link #leaseLive} says true (an instance that cannot be checked is not taken
 * for dead, so nothing is adopted on a guess). {@link #join} does not throw either: the heartbeat
 * sets the lease once Redis is back.
 *
 * <p>Thread-safe; one connection is shared by all threads. {@link #close} it after the service.
 */
public final class RedisJobJournal implements JobJournal, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RedisJobJournal.class);

  /** The key prefix when none is given. */
  public static final String DEFAULT_KEY_PREFIX = "imagegen:journal:";
  /** The command timeout when none is given. */
  public static final Duration DEFAULT_TIMEOUT = RedisStoreBuilder.DEFAULT_TIMEOUT;
  /** How long a lease lives without a heartbeat when nothing else is said. */
  public static final Duration DEFAULT_LEASE_TTL = Duration.ofSeconds(10);

  private static final Pattern INSTANCE_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  private static final String CANCEL_FAILED = "cancel-failed";
  private static final int FORMAT = 1;
  /** The most journal writes kept in memory while Redis is down. */
  static final int MAX_PENDING = 10_000;

  /** KEYS[1]: the entry, KEYS[2]: the open set. ARGV[1]: the JSON, ARGV[2]: the entry's id. */
  static final String STARTED = String.join("\n",
      "redis.call('SET', KEYS[1], ARGV[1])",
      "redis.call('SADD', KEYS[2], ARGV[2])",
      "return 1");

  /**
   * KEYS[1]: the entry, KEYS[2]: the open set. ARGV[1]: the status, ARGV[2]: the entry's id.
   * Returns 1 when the entry was kept in state cancel-failed, 0 when removed (or absent).
   */
  static final String ENDED = String.join("\n",
      "local v = redis.call('GET', KEYS[1])",
      "if ARGV[1] == 'cancel-failed' and v then",
      "  local o = cjson.decode(v)",
      "  o['state'] = 'cancel-failed'",
      "  redis.call('SET', KEYS[1], cjson.encode(o))",
      "  redis.call('SADD', KEYS[2], ARGV[2])",
      "  return 1",
      "end",
      "redis.call('DEL', KEYS[1])",
      "redis.call('SREM', KEYS[2], ARGV[2])",
      "return 0");

  /**
   * KEYS[1]: the entry, KEYS[2]: the open set. ARGV[1]: the owner it must still name, ARGV[2]: the
   * JSON naming the new owner, ARGV[3]: the entry's id. Returns 1 when adopted, 0 when it names
   * another owner or is gone.
   */
  static final String ADOPT = String.join("\n",
      "local v = redis.call('GET', KEYS[1])",
      "if not v then return 0 end",
      "local o = cjson.decode(v)",
      "if o['owner'] ~= ARGV[1] then return 0 end",
      "redis.call('SET', KEYS[1], ARGV[2])",
      "redis.call('SADD', KEYS[2], ARGV[3])",
      "return 1");

  private static final String STARTED_SHA = RedisConnection.sha1(STARTED);
  private static final String ADOPT_SHA = RedisConnection.sha1(ADOPT);
  private static final String ENDED_SHA = RedisConnection.sha1(ENDED);

  private final RedisConnection redis;
  private final String prefix;
  private final Duration leaseTtl;
  private final ObjectMapper json = new ObjectMapper();
  private final ScheduledExecutorService heartbeat;
  private final Map<String, ScheduledFuture<?>> beats = new ConcurrentHashMap<>();
  private final AtomicBoolean down = new AtomicBoolean();
  private final ConcurrentLinkedQueue<Write> pending = new ConcurrentLinkedQueue<>();
  private final AtomicLong lost = new AtomicLong();
  private volatile boolean closed;

  private RedisJobJournal(Builder b, String url) {
    this.redis = new RedisConnection(url, b.timeout);
    this.prefix = b.prefix;
    this.leaseTtl = b.leaseTtl;
    this.heartbeat = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "imagegen-redis-journal-lease");
      t.setDaemon(true);
      return t;
    });
    try {
      redis.connection();
    } catch (RuntimeException e) {
      outage("connect", e);
    }
    long every = Math.max(30, leaseTtl.toMillis() / 3);
    heartbeat.scheduleWithFixedDelay(this::drain, every, every, TimeUnit.MILLISECONDS);
  }

  /**
   * Connects to the Redis at {@code url} with the defaults (key prefix {@value #DEFAULT_KEY_PREFIX},
   * 2 s command timeout, 10 s leases). A Redis not reachable yet is not an error here.
   *
   * @param url {@code redis://[user:password@]host:port/db}, {@code rediss://} for TLS
   * @return the journal
   * @throws IllegalArgumentException when the URL is not a Redis URL
   */
  public static RedisJobJournal connect(String url) {
    return builder().url(url).build();
  }

  /**
   * Connects with the settings in system properties or, when a property is absent, environment
   * variables: {@code imagegen.redis.url} / {@code IMAGEGEN_REDIS_URL} (required),
   * {@code imagegen.redis.journal.key-prefix} / {@code IMAGEGEN_REDIS_JOURNAL_KEY_PREFIX},
   * {@code imagegen.redis.timeout} / {@code IMAGEGEN_REDIS_TIMEOUT} and
   * {@code imagegen.redis.journal.lease} / {@code IMAGEGEN_REDIS_JOURNAL_LEASE} ({@code 10s},
   * {@code PT10S}).
   *
   * @return the journal
   * @throws ConfigurationException when the URL is not set or a setting is not valid
   */
  public static RedisJobJournal fromEnvironment() {
    return fromSettings(RedisConnection.environment());
  }

  /** {@link #fromEnvironment} on any source of settings (by property name). */
  static RedisJobJournal fromSettings(Function<String, @Nullable String> settings) {
    List<String> problems = new ArrayList<>();
    Builder b = builder();
    b.configure(settings, "imagegen.redis.journal.key-prefix", "the job journal's", problems);
    Duration l = RedisConnection.duration(settings, "imagegen.redis.journal.lease", "10s or PT10S", problems);
    if (l != null) {
      if (l.toMillis() < 100) {
        problems.add("imagegen.redis.journal.lease (IMAGEGEN_REDIS_JOURNAL_LEASE): at least 100ms, was " + l);
      } else {
        b.leaseTtl(l);
      }
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
   * A builder for a journal.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Writes the entry; while Redis is down, keeps it in memory to write once Redis answers (see the class). */
  @Override
  public void started(Entry entry) {
    submit(new Write(entry, entry.generationId(), entry.remoteJobId(), ""));
  }

  /**
   * Removes the job's entry; a job whose cancel failed ({@code cancel-failed}) may still run and
   * bill, so its entry stays, in state {@code cancel-failed}, for {@code recover()} to cancel later.
   * While Redis is down, kept in memory like {@link #started}.
   */
  @Override
  public void ended(String generationId, String remoteJobId, String status) {
    submit(new Write(null, generationId, remoteJobId, status));
  }

  /**
   * {@inheritDoc}
   *
   * <p>Writes this journal kept during an outage are written first.
   *
   * @throws IllegalStateException when Redis cannot be read, or the writes kept cannot be written
   *     (the message names it, password masked)
   */
  @Override
  public List<Entry> open() {
    if (!pending.isEmpty()) {
      drain(); // what this instance ended during an outage must not be listed as still open
      int waiting = pending.size();
      if (waiting > 0) {
        throw new IllegalStateException("Redis job journal " + redis.address() + ": cannot list the open jobs while "
            + waiting + " journal writes wait for Redis");
      }
    }
    List<Entry> out = new ArrayList<>();
    try {
      RedisCommands<String, String> c = commands();
      List<String> ids = new ArrayList<>(c.smembers(prefix + "open"));
      if (!ids.isEmpty()) {
        String[] keys = ids.stream().map(i -> prefix + "job:" + i).toArray(String[]::new);
        List<KeyValue<String, String>> values = c.mget(keys);
        for (KeyValue<String, String> kv : values) {
          if (!kv.hasValue()) {
            continue; // ended between the two reads, or an id whose entry is gone
          }
          Entry e = read(kv.getKey(), kv.getValue());
          if (e != null) {
            out.add(e);
          }
        }
      }
      up();
    } catch (RuntimeException e) {
      outage("list the open jobs", e);
      throw new IllegalStateException("Redis job journal " + redis.address() + ": cannot list the open jobs ("
          + e.getClass().getSimpleName() + ": " + e.getMessage() + ")", null);
    }
    out.sort((a, b) -> a.startedAt().compareTo(b.startedAt()));
    return out;
  }

  @Override
  public void join(String instanceId) {
    checkInstanceId(instanceId);
    beat(instanceId);
    long every = Math.max(30, leaseTtl.toMillis() / 3);
    ScheduledFuture<?> f = heartbeat.scheduleWithFixedDelay(() -> beat(instanceId), every, every, TimeUnit.MILLISECONDS);
    ScheduledFuture<?> old = beats.put(instanceId, f);
    if (old != null) {
      old.cancel(false);
    }
  }

  @Override
  public void leave(String instanceId) {
    ScheduledFuture<?> f = beats.remove(instanceId);
    if (f != null) {
      f.cancel(false);
    }
    try {
      commands().del(leaseKey(instanceId));
      up();
    } catch (RuntimeException e) {
      outage("remove the lease of " + instanceId + " (it expires within " + leaseTtl + ")", e);
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>One Lua script: the entry is rewritten only if it still names {@code entry.owner()}.
   *
   * @throws IllegalStateException when Redis cannot be asked (nothing is adopted; the message names
   *     the server, password masked)
   */
  @Override
  public boolean adopt(Entry entry, String newOwner) {
    String id = id(entry.generationId(), entry.remoteJobId());
    try {
      long n = runLong(ADOPT_SHA, ADOPT, new String[] {prefix + "job:" + id, prefix + "open"}, entry.owner(),
          write(entry.ownedBy(newOwner)), id);
      up();
      return n == 1;
    } catch (RuntimeException e) {
      outage("adopt job " + entry.remoteJobId() + " of " + entry.provider(), e);
      throw new IllegalStateException("Redis job journal " + redis.address() + ": cannot adopt job " + entry.remoteJobId()
          + " (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")", null);
    }
  }

  /** Whether {@code <prefix>lease:<instance-id>} exists; true when Redis cannot be asked. */
  @Override
  public boolean leaseLive(String instanceId) {
    if (!INSTANCE_ID.matcher(instanceId).matches()) {
      return false;
    }
    try {
      Long n = commands().exists(leaseKey(instanceId));
      up();
      return n != null && n > 0;
    } catch (RuntimeException e) {
      outage("check the lease of " + instanceId, e);
      return true;
    }
  }

  /**
   * Journal writes kept in memory because Redis did not take them (down or slow), in the order they
   * were made, waiting to be written when it answers again; a crash of this process loses them.
   *
   * @return how many wait
   */
  public int pendingWrites() {
    return pending.size();
  }

  /**
   * Journal writes given up: beyond {@value #MAX_PENDING} waiting, or still waiting at {@link
   * #close}. Each is a job started or ended that Redis does not know about.
   *
   * @return how many since the journal was built
   */
  public long lostWrites() {
    return lost.get();
  }

  /**
   * Whether the last command failed: Redis is taken for down until one succeeds.
   *
   * @return true during an outage
   */
  public boolean redisDown() {
    return down.get();
  }

  /** Stops every heartbeat (the leases then expire by themselves) and closes the connection. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    beats.values().forEach(f -> f.cancel(false));
    beats.clear();
    heartbeat.shutdownNow();
    if (!down.get()) {
      drain();
    }
    int left = 0;
    while (pending.poll() != null) {
      left++;
    }
    if (left > 0) {
      lost.addAndGet(left);
      LOG.warn("Redis job journal {}: closed with {} journal writes Redis did not take; those jobs are not in the "
          + "journal", redis.address(), left);
    }
    closed = true;
    redis.close();
  }

  /** The journal's Redis address with any password masked, its prefix, timeout and lease. */
  @Override
  public String toString() {
    return "RedisJobJournal[" + redis.address() + ", prefix " + prefix + ", timeout " + redis.timeout().toMillis()
        + " ms, lease " + leaseTtl.toMillis() + " ms]";
  }

  // ------------------------------------------------------------------ internals

  /** A started (entry given) or an ended (status given) to write. */
  private record Write(@Nullable Entry entry, String generationId, String remoteJobId, String status) {}

  /**
   * Writes at once while Redis answers and nothing waits; otherwise queues the write behind those
   * waiting (so a job's end is never written before its start), for {@link #drain} to write.
   */
  private void submit(Write w) {
    if (!down.get() && pending.isEmpty()) {
      try {
        apply(w);
        up();
        return;
      } catch (RuntimeException e) {
        outage(what(w), e);
      }
    }
    if (pending.size() >= MAX_PENDING) {
      lost.incrementAndGet();
      LOG.debug("Redis job journal {}: {} writes wait already; {} is lost", redis.address(), MAX_PENDING, what(w));
      return;
    }
    pending.add(w);
  }

  /** Writes what waits, in order, until one fails (on the heartbeat's thread, and at close). */
  private synchronized void drain() {
    for (Write w; (w = pending.peek()) != null; ) {
      try {
        apply(w);
      } catch (RuntimeException e) {
        outage(what(w), e);
        return;
      }
      pending.poll();
      up();
    }
  }

  private void apply(Write w) {
    String id = id(w.generationId(), w.remoteJobId());
    String[] keys = {prefix + "job:" + id, prefix + "open"};
    Entry e = w.entry();
    if (e != null) {
      run(STARTED_SHA, STARTED, keys, write(e), id);
    } else {
      run(ENDED_SHA, ENDED, keys, w.status(), id);
    }
  }

  private static String what(Write w) {
    Entry e = w.entry();
    return e != null ? "record job " + e.remoteJobId() + " of " + e.provider()
        : "record the end (" + w.status() + ") of job " + w.remoteJobId();
  }

  private void beat(String instanceId) {
    try {
      commands().set(leaseKey(instanceId), Instant.now().toString(), SetArgs.Builder.px(leaseTtl.toMillis()));
      up();
    } catch (RuntimeException e) {
      outage("refresh the lease of " + instanceId, e);
    }
  }

  private String leaseKey(String instanceId) {
    return prefix + "lease:" + instanceId;
  }

  private void up() {
    if (down.compareAndSet(true, false)) {
      LOG.info("Redis job journal {}: Redis answers again; remote jobs are recorded durably again ({} writes kept "
          + "meanwhile are written now, {} lost since the start)", redis.address(), pending.size(), lost.get());
    }
  }

  /** Logs the first failure of an outage at WARN, the others at DEBUG. */
  private void outage(String what, RuntimeException e) {
    String why = e.getClass().getSimpleName() + ": " + e.getMessage();
    if (down.compareAndSet(false, true)) {
      LOG.warn("Redis job journal {}: could not {} ({}); until Redis answers, remote jobs are not recorded durably "
          + "(generations go on; a crash now loses the jobs started meanwhile)", redis.address(), what, why);
    } else {
      LOG.debug("Redis job journal {}: could not {} ({})", redis.address(), what, why);
    }
  }

  private RedisCommands<String, String> commands() {
    if (closed) {
      throw new IllegalStateException("the Redis job journal is closed");
    }
    return redis.sync();
  }

  private long runLong(String sha, String script, String[] keys, String... args) {
    RedisCommands<String, String> c = commands();
    Long n;
    try {
      n = c.evalsha(sha, ScriptOutputType.INTEGER, keys, args);
    } catch (RedisNoScriptException e) {
      n = c.eval(script, ScriptOutputType.INTEGER, keys, args); // EVAL also loads it for the next EVALSHA
    }
    return n == null ? 0 : n;
  }

  private void run(String sha, String script, String[] keys, String... args) {
    RedisCommands<String, String> c = commands();
    try {
      c.evalsha(sha, ScriptOutputType.INTEGER, keys, args);
    } catch (RedisNoScriptException e) {
      c.eval(script, ScriptOutputType.INTEGER, keys, args); // EVAL also loads it for the next EVALSHA
    }
  }

  private String write(Entry entry) {
    ObjectNode n = json.createObjectNode();
    n.put("format", FORMAT);
    n.put("generationId", entry.generationId());
    n.put("provider", entry.provider());
    n.put("remoteJobId", entry.remoteJobId());
    ObjectNode h = n.putObject("handles");
    entry.handles().forEach(h::put);
    n.put("requestHash", entry.requestHash());
    n.put("deadline", entry.deadline().toString());
    n.put("startedAt", entry.startedAt().toString());
    n.put("owner", entry.owner());
    n.put("state", entry.state());
    if (entry.cacheKey() != null) {
      n.put("cacheKey", entry.cacheKey());
    }
    if (entry.estimatedCost() != null) {
      n.put("estimatedCost", entry.estimatedCost());
    }
    return n.toString();
  }

  private @Nullable Entry read(String key, String value) {
    try {
      JsonNode n = json.readTree(value);
      Map<String, String> handles = new LinkedHashMap<>();
      n.path("handles").fields().forEachRemaining(x -> handles.put(x.getKey(), x.getValue().asText()));
      return new Entry(text(n, "generationId"), text(n, "provider"), text(n, "remoteJobId"), handles,
          text(n, "requestHash"), Instant.parse(text(n, "deadline")), Instant.parse(text(n, "startedAt")),
          text(n, "owner"), text(n, "state"), n.hasNonNull("cacheKey") ? n.get("cacheKey").asText() : null,
          n.hasNonNull("estimatedCost") ? n.get("estimatedCost").asText() : null);
    } catch (java.io.IOException | RuntimeException e) {
      LOG.warn("Redis job journal {}: {} is not a readable entry, left as it is: {}", redis.address(), key,
          e.toString());
      return null;
    }
  }

  private static String text(JsonNode n, String field) {
    JsonNode v = n.get(field);
    if (v == null || !v.isTextual()) {
      throw new IllegalArgumentException("no " + field);
    }
    return v.asText();
  }

  private static void checkInstanceId(String id) {
    if (!INSTANCE_ID.matcher(id).matches()) {
      throw new IllegalArgumentException("instance id must be 1 to 64 letters, digits, '.', '-' or '_', was '" + id + "'");
    }
  }

  static String id(String generationId, String remoteJobId) {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      d.update(generationId.getBytes(StandardCharsets.UTF_8));
      d.update((byte) 0);
      d.update(remoteJobId.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d.digest(), 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }


  /** Settings for a {@link RedisJobJournal}. */
  public static final class Builder extends RedisStoreBuilder<Builder> {
    private Duration leaseTtl = DEFAULT_LEASE_TTL;

    private Builder() {
      super(DEFAULT_KEY_PREFIX);
    }

    @Override
    Builder self() {
      return this;
    }

    /**
     * How long an instance's lease lives without a heartbeat (default 10 s, at least 100 ms); the
     * heartbeat refreshes it every third of that. An instance that crashed has its jobs adopted by
     * another at most this long after its last heartbeat.
     *
     * @param ttl the lease's time to live
     * @return this builder
     */
    public Builder leaseTtl(Duration ttl) {
      Objects.requireNonNull(ttl, "leaseTtl");
      if (ttl.toMillis() < 100) {
        throw new IllegalArgumentException("leaseTtl: at least 100 ms, got " + ttl);
      }
      this.leaseTtl = ttl;
      return this;
    }

    /**
     * Builds the journal and starts connecting (a Redis not reachable yet is not an error).
     *
     * @return the journal
     * @throws IllegalArgumentException when no URL was given or it is not a Redis URL
     */
    public RedisJobJournal build() {
      String u = requireUrl();
      return new RedisJobJournal(this, u);
    }
  }
}
