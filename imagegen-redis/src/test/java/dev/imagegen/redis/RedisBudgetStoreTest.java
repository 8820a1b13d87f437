package dev.imagegen.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.BudgetExceededException;
import dev.imagegen.BudgetStore.Scope;
import dev.imagegen.ConfigurationException;
import dev.imagegen.testing.CapturedLogs;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The Redis store on a real redis-server: atomicity across clients, windows, Redis down or slow, secrets. */
class RedisBudgetStoreTest {
  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private RedisServer server(String... extra) {
    RedisServer s = RedisServer.start(extra);
    open.add(s);
    return s;
  }

  private RedisBudgetStore store(RedisBudgetStore.Builder b) {
    RedisBudgetStore s = b.build();
    open.add(s);
    return s;
  }

  private static List<Scope> total(String limit) {
    return List.of(new Scope("total", new BigDecimal(limit)));
  }

  @Test
  void aThousandConcurrentReservationsFromTwoClientsNeverPassTheLimit() throws Exception {
    RedisServer redis = server();
    // two clients with their own connections and event loops, as two JVMs would have
    RedisBudgetStore a = store(RedisBudgetStore.builder().url(redis.url()));
    RedisBudgetStore b = store(RedisBudgetStore.builder().url(redis.url()));
    ExecutorService pool = Executors.newFixedThreadPool(16);
    try {
      List<Future<Boolean>> fs = new ArrayList<>();
      for (int i = 0; i < 1000; i++) {
        RedisBudgetStore s = i % 2 == 0 ? a : b;
        fs.add(pool.submit(() -> s.reserve(List.of(new Scope("total", new BigDecimal("1.00")),
            new Scope("provider:p", new BigDecimal("5.00"))), new BigDecimal("0.01"))));
      }
      int ok = 0;
      for (Future<Boolean> f : fs) {
        ok += f.get(30, TimeUnit.SECONDS) ? 1 : 0;
      }
      assertThat(ok).isEqualTo(100);
    } finally {
      pool.shutdownNow();
    }
    assertThat(a.spent("total")).isEqualByComparingTo("1.00");
    assertThat(b.spent("provider:p")).isEqualByComparingTo("1.00");
    assertThat(redis.command("GET", "imagegen:budget:total")).isEqualTo("1000000000"); // nano-USD, an integer
  }

  @Test
  void aWindowsKeysExpireADayAfterTheWindowEndsWhenTheWindowIsKnown() {
    RedisServer redis = server();
    long start = System.currentTimeMillis() / 3_600_000L * 3_600_000L;
    RedisBudgetStore hourly = store(RedisBudgetStore.builder().url(redis.url()).window(Duration.ofHours(1)));
    hourly.reserve(List.of(new Scope("total@" + start, BigDecimal.ONE), new Scope("provider:p", BigDecimal.ONE)),
        new BigDecimal("0.10"));
    assertThat(redis.command("PEXPIRETIME", "imagegen:budget:total@" + start))
        .isEqualTo(":" + (start + Duration.ofHours(25).toMillis()));
    // a scope without a window is a lifetime budget: it never expires
    assertThat(redis.command("PEXPIRETIME", "imagegen:budget:provider:p")).isEqualTo(":-1");

    RedisBudgetStore unknown = store(RedisBudgetStore.builder().url(redis.url()).keyPrefix("w:"));
    unknown.reserve(List.of(new Scope("total@" + start, BigDecimal.ONE)), new BigDecimal("0.10"));
    assertThat(redis.command("PEXPIRETIME", "w:total@" + start))
        .isEqualTo(":" + (start + RedisBudgetStore.DEFAULT_WINDOW_RETENTION.toMillis()));
    // a settlement keeps the expiry (a key it creates gets one too)
    unknown.settle(List.of(new Scope("total@" + start, BigDecimal.ONE)), new BigDecimal("0.10"), new BigDecimal("0.05"));
    assertThat(redis.command("PEXPIRETIME", "w:total@" + start))
        .isEqualTo(":" + (start + RedisBudgetStore.DEFAULT_WINDOW_RETENTION.toMillis()));
    assertThat(unknown.spent("total@" + start)).isEqualByComparingTo("0.05");
  }

  @Test
  void theScriptsAreLoadedAgainWhenTheServerForgotThem() {
    RedisServer redis = server();
    RedisBudgetStore s = store(RedisBudgetStore.builder().url(redis.url()));
    assertThat(s.reserve(total("1"), new BigDecimal("0.5"))).isTrue();
    assertThat(redis.command("SCRIPT", "FLUSH")).isEqualTo("+OK");
    assertThat(s.reserve(total("1"), new BigDecimal("0.5"))).isTrue();
    s.settle(total("1"), new BigDecimal("0.5"), new BigDecimal("0.25"));
    assertThat(redis.command("SCRIPT", "FLUSH")).isEqualTo("+OK");
    s.settle(total("1"), new BigDecimal("0.5"), new BigDecimal("0.25"));
    assertThat(s.spent("total")).isEqualByComparingTo("0.5");
  }

  @Test
  void redisStoppedMidTestRefusesEveryReservationAndTheReadsThatExplainIt() {
    RedisServer redis = server();
    RedisBudgetStore s = store(RedisBudgetStore.builder().url(redis.url()).commandTimeout(Duration.ofMillis(500)));
    assertThat(s.reserve(total("1"), new BigDecimal("0.1"))).isTrue();
    redis.stop();
    for (int i = 0; i < 3; i++) {
      long t0 = System.nanoTime();
      assertThatThrownBy(() -> s.reserve(total("1"), new BigDecimal("0.1")))
          .isInstanceOf(BudgetStoreUnavailableException.class).isInstanceOf(BudgetExceededException.class)
          .hasMessageContaining("the Redis budget store " + redis.url())
          .hasMessageContaining("no paid call is made");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(3));
    }
    assertThatThrownBy(() -> s.spent("total")).isInstanceOf(BudgetStoreUnavailableException.class);
    // back (empty: nothing was persisted), it serves again without a new store
    redis.restart();
    Eventually(() -> s.reserve(total("1"), new BigDecimal("0.1")));
    assertThat(s.spent("total")).isEqualByComparingTo("0.1");
  }

  @Test
  void aStoreBuiltWhileRedisIsDownRefusesUntilItIsUp() {
    RedisServer redis = server();
    redis.stop();
    RedisBudgetStore s = store(RedisBudgetStore.builder().url(redis.url()).commandTimeout(Duration.ofMillis(300)));
    assertThatThrownBy(() -> s.reserve(total("1"), new BigDecimal("0.1"))).isInstanceOf(BudgetStoreUnavailableException.class);
    redis.restart();
    Eventually(() -> s.reserve(total("1"), new BigDecimal("0.1")));
  }

  @Test
  void aSlowRedisRefusesTheReservationAfterTheCommandTimeout() {
    RedisServer redis = server();
    RedisBudgetStore s = store(RedisBudgetStore.builder().url(redis.url()).commandTimeout(Duration.ofMillis(300)));
    assertThat(s.reserve(total("1"), new BigDecimal("0.1"))).isTrue();
    assertThat(redis.command("CLIENT", "PAUSE", "2000", "ALL")).isEqualTo("+OK");
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> s.reserve(total("1"), new BigDecimal("0.1")))
        .isInstanceOf(BudgetStoreUnavailableException.class).hasMessageContaining("Timeout");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(1500));
  }

  @Test
  void aSettlementThatTimedOutIsRetriedAndAppliedOnceEvenWhenTheFirstTryRanLate() {
    RedisServer redis = server();
    RedisBudgetStore s = store(RedisBudgetStore.builder().url(redis.url()).commandTimeout(Duration.ofMillis(300)));
    assertThat(s.reserve(total("2"), new BigDecimal("1.00"))).isTrue();
    // the settle script is known to the server (else the late first try would only answer NOSCRIPT)
    s.settle(List.of(new Scope("other", BigDecimal.ONE)), BigDecimal.ZERO, new BigDecimal("0.01"));
    // the server holds the settlement past the timeout, then runs it: the retry must not apply it again
    assertThat(redis.command("CLIENT", "PAUSE", "1200", "ALL")).isEqualTo("+OK");
    long mark = CapturedLogs.mark();
    s.settle(total("2"), new BigDecimal("1.00"), new BigDecimal("0.40"));
    assertThat(s.pendingSettlements()).isEqualTo(1);
    assertThat(CapturedLogs.since(mark, e -> e.message().contains("settling -0.6 USD in [total] failed"))).hasSize(1);
    Eventually(() -> s.pendingSettlements() == 0);
    assertThat(s.spent("total")).isEqualByComparingTo("0.40");
    assertThat(s.lostSettlements()).isZero();
  }

  @Test
  void aSettlementThatCannotBeMadeIsReportedAsLostNotDropped() {
    RedisServer redis = server();
    RedisBudgetStore s = store(RedisBudgetStore.builder().url(redis.url()).commandTimeout(Duration.ofMillis(300))
        .settleRetryFor(Duration.ofMillis(1200)));
    assertThat(s.reserve(total("2"), new BigDecimal("1.00"))).isTrue();
    redis.stop();
    long mark = CapturedLogs.mark();
    s.settle(total("2"), new BigDecimal("1.00"), new BigDecimal("1.30"));
    Eventually(() -> s.lostSettlements() == 1);
    assertThat(s.pendingSettlements()).isZero();
    assertThat(CapturedLogs.since(mark, e -> e.level() == org.slf4j.event.Level.ERROR
        && e.message().contains("could not settle 0.3 USD in [total]"))).hasSize(1);
  }

  @Test
  void closingAppliesAPendingSettlementOnceRedisAnswersAgain() {
    RedisServer redis = server();
    RedisBudgetStore s = RedisBudgetStore.builder().url(redis.url()).commandTimeout(Duration.ofMillis(300))
        .settleRetryFor(Duration.ofMinutes(10)).build();
    s.reserve(total("2"), new BigDecimal("1.00"));
    redis.stop();
    s.settle(total("2"), new BigDecimal("1.00"), new BigDecimal("0.50"));
    assertThat(s.pendingSettlements()).isEqualTo(1);
    redis.restart(); // the same port, empty: the reservation is gone with the old process
    // the client reconnects on its own; once it answers, close() must still reach Redis with what is pending
    Eventually(() -> {
      try {
        s.spent("probe");
        return true;
      } catch (RuntimeException e) {
        return false;
      }
    });
    s.close();
    assertThat(s.lostSettlements()).as("close() reached Redis with the pending settlement").isZero();
    RedisBudgetStore reader = store(RedisBudgetStore.builder().url(redis.url()));
    assertThat(reader.spent("total")).isEqualByComparingTo("-0.50");
  }

  @Test
  void closingTriesPendingSettlementsOnceMoreAndReportsWhatIsLeft() {
    RedisServer redis = server();
    RedisBudgetStore s = RedisBudgetStore.builder().url(redis.url()).commandTimeout(Duration.ofMillis(300)).build();
    s.reserve(total("2"), new BigDecimal("1.00"));
    redis.stop();
    s.settle(total("2"), new BigDecimal("1.00"), new BigDecimal("0.50"));
    assertThat(s.pendingSettlements()).isEqualTo(1);
    s.close();
    assertThat(s.pendingSettlements()).isZero();
    assertThat(s.lostSettlements()).isEqualTo(1);
    // a settlement that arrives after close is reported too, not queued for a retry that never comes
    s.settle(total("2"), new BigDecimal("0.50"), new BigDecimal("0.20"));
    assertThat(s.pendingSettlements()).isZero();
    assertThat(s.lostSettlements()).isEqualTo(2);
  }

  @Test
  void thePasswordNeverAppearsInAMessageALogLineOrToString() {
    String pw = "pw-Sekr3t-42";
    RedisServer redis = server("--requirepass", pw);
    long mark = CapturedLogs.mark();
    String url = "redis://:" + pw + "@127.0.0.1:" + redis.port() + "/0";
    RedisBudgetStore s = store(RedisBudgetStore.builder().url(url).commandTimeout(Duration.ofMillis(500)));
    assertThat(s.reserve(total("1"), new BigDecimal("0.1"))).isTrue(); // it authenticated
    assertThat(s.toString()).doesNotContain(pw).contains("redis://***@127.0.0.1:" + redis.port() + "/0");

    RedisBudgetStore withUser = store(RedisBudgetStore.builder().url("redis://default:" + pw + "@localhost:" + redis.port()));
    assertThat(withUser.spent("total")).isEqualByComparingTo("0.1");
    assertThat(withUser.toString()).doesNotContain(pw).contains("redis://default:***@localhost:");

    String wrong = "wrong-Pa55-17";
    RedisBudgetStore refused = store(RedisBudgetStore.builder().url("redis://:" + wrong + "@127.0.0.1:" + redis.port())
        .commandTimeout(Duration.ofMillis(500)));
    assertThatThrownBy(() -> refused.reserve(total("1"), new BigDecimal("0.1")))
        .isInstanceOf(BudgetStoreUnavailableException.class)
        .satisfies(e -> assertThat(messages(e)).doesNotContain(wrong));

    redis.stop();
    assertThatThrownBy(() -> s.reserve(total("1"), new BigDecimal("0.1")))
        .isInstanceOf(BudgetStoreUnavailableException.class)
        .satisfies(e -> assertThat(messages(e)).doesNotContain(pw).contains("redis://***@127.0.0.1"));
    s.settle(total("1"), new BigDecimal("0.1"), BigDecimal.ZERO); // logged: fails, retried
    assertThatThrownBy(() -> RedisBudgetStore.connect("http://:" + pw + "@127.0.0.1:6379"))
        .isInstanceOf(IllegalArgumentException.class)
        .satisfies(e -> assertThat(messages(e)).doesNotContain(pw).contains("imagegen.redis.url"));
    assertThat(CapturedLogs.since(mark, e -> e.message().contains(pw) || e.message().contains(wrong))).isEmpty();
    assertThat(CapturedLogs.since(mark, e -> e.message().contains("RedisBudgetStore") || e.message().contains("budget store")))
        .isNotEmpty();
  }

  @Test
  void settingsComeFromPropertiesOrTheEnvironmentAndBadOnesAreReported() {
    RedisServer redis = server();
    RedisBudgetStore s = RedisBudgetStore.fromSettings(Map.of("imagegen.redis.url", redis.url(),
        "imagegen.redis.key-prefix", "app1:", "imagegen.redis.timeout", "250ms", "imagegen.budget.window", "1h")::get);
    open.add(s);
    assertThat(s.toString()).contains("prefix app1:").contains("timeout 250 ms");
    s.reserve(total("1"), new BigDecimal("0.2"));
    assertThat(redis.command("GET", "app1:total")).isEqualTo("200000000");
    // the budget's window, read from the same settings as the service's, gives a window's keys their expiry
    long start = System.currentTimeMillis() / 3_600_000L * 3_600_000L;
    s.reserve(List.of(new Scope("total@" + start, BigDecimal.ONE)), new BigDecimal("0.2"));
    assertThat(redis.command("PEXPIRETIME", "app1:total@" + start)).isEqualTo(":" + (start + Duration.ofHours(25).toMillis()));
    assertThat(RedisBudgetStore.fromSettings(Map.of("imagegen.redis.url", redis.url(),
        "imagegen.redis.timeout", "PT3S")::get)).satisfies(t -> {
          open.add(t);
          assertThat(t.toString()).contains("timeout 3000 ms").contains("prefix imagegen:budget:");
        });

    assertThatThrownBy(() -> RedisBudgetStore.fromSettings(Map.<String, String>of()::get))
        .isInstanceOf(ConfigurationException.class).hasMessageContaining("imagegen.redis.url (IMAGEGEN_REDIS_URL) is not set");
    assertThatThrownBy(() -> RedisBudgetStore.fromSettings(Map.of("imagegen.redis.url", redis.url(),
        "imagegen.redis.timeout", "soon", "imagegen.budget.window", "0s")::get))
        .isInstanceOf(ConfigurationException.class).hasMessageContaining("imagegen.redis.timeout (IMAGEGEN_REDIS_TIMEOUT)")
        .hasMessageContaining("imagegen.budget.window (IMAGEGEN_BUDGET_WINDOW)");
    assertThatThrownBy(() -> RedisBudgetStore.fromSettings(Map.of("imagegen.redis.url", "mysql://:hunter2@db")::get))
        .isInstanceOf(ConfigurationException.class).hasMessageContaining("imagegen.redis.url")
        .satisfies(e -> assertThat(messages(e)).doesNotContain("hunter2"));
  }

  @Test
  void anAmountBeyondWhatLuaHoldsExactlyIsRefusedNotRounded() {
    RedisServer redis = server();
    RedisBudgetStore s = store(RedisBudgetStore.builder().url(redis.url()));
    assertThatThrownBy(() -> s.reserve(total("100000000"), new BigDecimal("10000000")))
        .isInstanceOf(BudgetExceededException.class).hasMessageContaining("above what the Redis budget store keeps exactly");
    assertThat(s.spent("total")).isEqualByComparingTo("0");
  }

  /** Every message in a throwable's chain. */
  static String messages(Throwable t) {
    StringBuilder b = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      b.append(c).append('\n');
    }
    return b.toString();
  }

  /** Waits up to 10 s for a condition (a call that throws counts as not yet). */
  @SuppressWarnings("MethodName")
  static void Eventually(java.util.function.BooleanSupplier condition) {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    RuntimeException last = null;
    while (System.nanoTime() < until) {
      try {
        if (condition.getAsBoolean()) {
          return;
        }
      } catch (RuntimeException e) {
        last = e;
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    throw new AssertionError("not within 10 s", last);
  }
}
