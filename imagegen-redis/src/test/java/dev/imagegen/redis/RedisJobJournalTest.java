package dev.imagegen.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.ConfigurationException;
import dev.imagegen.JobJournal;
import dev.imagegen.JobJournal.Entry;
import dev.imagegen.testing.CapturedLogs;
import dev.imagegen.testing.Eventually;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

/** What is particular to the Redis journal: its keys, leases with a TTL, Redis down, the password, the settings. */
class RedisJobJournalTest {
  private final List<RedisServer> servers = new ArrayList<>();
  private final List<RedisJobJournal> open = new ArrayList<>();

  @AfterEach
  void cleanUp() {
    open.forEach(RedisJobJournal::close);
    servers.forEach(RedisServer::close);
  }

  private RedisServer server(String... extra) {
    RedisServer s = RedisServer.start(extra);
    servers.add(s);
    return s;
  }

  private RedisJobJournal journal(RedisJobJournal.Builder b) {
    RedisJobJournal j = b.build();
    open.add(j);
    return j;
  }

  private static Entry entry(String gen, String job, String owner) {
    Instant t = Instant.now().truncatedTo(ChronoUnit.MILLIS);
    return new Entry(gen, "jobs", job, Map.of("status", "https://api.example/jobs/" + job), "h", t.plusSeconds(300), t,
        owner, JobJournal.RUNNING, null, "0.04");
  }

  private static String messages(Throwable e) {
    StringBuilder b = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      b.append(t).append('\n');
    }
    return b.toString();
  }

  @Test
  void anEntryIsOneJsonKeyPlusItsIdInTheOpenSetAndLeavesBothWhenItEnds() {
    RedisServer redis = server();
    RedisJobJournal j = journal(RedisJobJournal.builder().url(redis.url()));
    j.started(entry("g-1", "job-1", "node-1"));
    String id = RedisJobJournal.id("g-1", "job-1");
    assertThat(redis.command("SISMEMBER", "imagegen:journal:open", id)).isEqualTo(":1");
    assertThat(redis.command("GET", "imagegen:journal:job:" + id)).contains("\"remoteJobId\":\"job-1\"")
        .contains("\"owner\":\"node-1\"").contains("\"state\":\"running\"");
    j.ended("g-1", "job-1", "succeeded");
    assertThat(redis.command("EXISTS", "imagegen:journal:job:" + id)).isEqualTo(":0");
    assertThat(redis.command("SCARD", "imagegen:journal:open")).isEqualTo(":0");
  }

  @Test
  void aLeaseIsAKeyWithTheTtlRefreshedByTheHeartbeatAndDeletedByLeave() throws Exception {
    RedisServer redis = server();
    RedisJobJournal j = journal(RedisJobJournal.builder().url(redis.url()).keyPrefix("app1:"));
    j.join("node-1");
    long pttl = Long.parseLong(redis.command("PTTL", "app1:lease:node-1").substring(1));
    assertThat(pttl).isBetween(1L, 10_000L);
    Thread.sleep(3_600); // one heartbeat (every third of 10 s) later
    assertThat(Long.parseLong(redis.command("PTTL", "app1:lease:node-1").substring(1))).as("refreshed").isGreaterThan(8_000L);
    j.leave("node-1");
    assertThat(redis.command("EXISTS", "app1:lease:node-1")).isEqualTo(":0");
    assertThatThrownBy(() -> j.join("no/such id")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("instance id");
  }

  @Test
  void aLiveLeaseIsRespectedAndAnExpiredOneIsNot() throws Exception {
    RedisServer redis = server();
    RedisJobJournal j = journal(RedisJobJournal.builder().url(redis.url()));
    redis.command("SET", "imagegen:journal:lease:other", "x", "PX", "60000");
    assertThat(j.leaseLive("other")).isTrue();
    redis.command("PEXPIRE", "imagegen:journal:lease:other", "1");
    Eventually.eventually(Duration.ofSeconds(2), () -> assertThat(j.leaseLive("other")).isFalse());
  }

  @Test
  void scriptsAreLoadedAgainAfterTheServerForgotThem() {
    RedisServer redis = server();
    RedisJobJournal j = journal(RedisJobJournal.builder().url(redis.url()));
    j.started(entry("g-1", "job-1", "n"));
    redis.command("SCRIPT", "FLUSH");
    j.started(entry("g-2", "job-2", "n"));
    redis.command("SCRIPT", "FLUSH");
    j.ended("g-1", "job-1", "succeeded");
    assertThat(j.open()).extracting(Entry::remoteJobId).containsExactly("job-2");
    assertThat(j.pendingWrites()).isZero();
  }

  @Test
  void anUnreadableEntryIsSkippedWithAWarningAndLeftAsItIs() {
    RedisServer redis = server();
    RedisJobJournal j = journal(RedisJobJournal.builder().url(redis.url()));
    j.started(entry("g-1", "job-1", "n"));
    redis.command("SET", "imagegen:journal:job:garbled", "{not json");
    redis.command("SADD", "imagegen:journal:open", "garbled", "gone");
    long mark = CapturedLogs.mark();
    assertThat(j.open()).extracting(Entry::remoteJobId).containsExactly("job-1");
    assertThat(CapturedLogs.since(mark, e -> e.level() == Level.WARN && e.message().contains("not a readable entry")))
        .hasSize(1);
    assertThat(redis.command("GET", "imagegen:journal:job:garbled")).isEqualTo("{not json");
  }

  @Test
  void withRedisDownWritesAreCountedNotThrownOpenThrowsAndNoLeaseIsTakenForDead() throws Exception {
    RedisServer redis = server();
    RedisJobJournal j = journal(RedisJobJournal.builder().url(redis.url()).commandTimeout(Duration.ofMillis(300)));
    j.join("node-1");
    redis.stop();
    long mark = CapturedLogs.mark();
    for (int i = 0; i < 20; i++) {
      j.started(entry("g-" + i, "job-" + i, "node-1"));
      j.ended("g-" + i, "job-" + i, "succeeded");
    }
    assertThat(j.pendingWrites()).as("kept, in order").isEqualTo(40);
    assertThat(j.leaseLive("someone-else")).as("cannot be checked: not taken for dead").isTrue();
    assertThatThrownBy(j::open).isInstanceOf(IllegalStateException.class).hasMessageContaining(redis.url())
        .hasMessageContaining("cannot list the open jobs");
    assertThat(CapturedLogs.since(mark, e -> e.level() == Level.WARN && e.logger().equals(RedisJobJournal.class.getName())))
        .hasSize(1);

    redis.restart();
    Eventually.eventually(Duration.ofSeconds(10),
        () -> assertThat(redis.command("EXISTS", "imagegen:journal:lease:node-1")).isEqualTo(":1"));
    Eventually.eventually(Duration.ofSeconds(10), () -> assertThat(j.pendingWrites()).isZero());
    assertThat(j.redisDown()).isFalse();
    assertThat(j.open()).as("each start written, then its end").isEmpty();
    j.started(entry("g-x", "job-x", "node-1"));
    assertThat(j.open()).extracting(Entry::remoteJobId).containsExactly("job-x");
    assertThat(j.lostWrites()).isZero();
  }

  @Test
  void whatWaitsIsBoundedAndWhatStillWaitsAtCloseIsReportedLost() {
    RedisServer redis = server();
    RedisJobJournal j = RedisJobJournal.builder().url(redis.url()).commandTimeout(Duration.ofMillis(300)).build();
    redis.stop();
    for (int i = 0; i < RedisJobJournal.MAX_PENDING + 5; i++) {
      j.started(entry("g-" + i, "job-" + i, "node-1"));
    }
    assertThat(j.pendingWrites()).isEqualTo(RedisJobJournal.MAX_PENDING);
    assertThat(j.lostWrites()).isEqualTo(5);
    long mark = CapturedLogs.mark();
    j.close();
    assertThat(j.lostWrites()).isEqualTo(RedisJobJournal.MAX_PENDING + 5);
    assertThat(CapturedLogs.since(mark, e -> e.level() == Level.WARN && e.message().contains("closed with 10000 journal writes")))
        .hasSize(1);
  }

  @Test
  void anEndKeptDuringAnOutageIsWrittenBeforeTheOpenEntriesAreListed() throws Exception {
    RedisServer redis = server();
    RedisJobJournal j = journal(RedisJobJournal.builder().url(redis.url()).commandTimeout(Duration.ofMillis(300)));
    j.started(entry("g-1", "job-1", "node-1"));
    redis.stop();
    j.ended("g-1", "job-1", "succeeded");
    assertThat(j.pendingWrites()).isEqualTo(1);
    assertThatThrownBy(j::open).isInstanceOf(IllegalStateException.class).hasMessageContaining("1 journal writes wait");
    redis.restart(); // with the data lost: put the entry back as a persisted Redis would have it
    RedisJobJournal other = journal(RedisJobJournal.builder().url(redis.url()));
    other.started(entry("g-1", "job-1", "node-1"));
    List<Entry> first = null;
    long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (first == null && System.nanoTime() < until) {
      try {
        first = j.open(); // throws until the connection is back and the kept end is written
      } catch (IllegalStateException notYet) {
        Thread.sleep(20);
      }
    }
    assertThat(first).as("the first listing after the outage: the job ended, nothing for a recovery to resume")
        .isNotNull().isEmpty();
    assertThat(other.open()).isEmpty();
  }

  @Test
  void aRedisDownAtBuildAndAtJoinIsNoError() throws Exception {
    RedisServer redis = server();
    redis.stop();
    RedisJobJournal j = journal(RedisJobJournal.builder().url(redis.url()).commandTimeout(Duration.ofMillis(300))
        .leaseTtl(Duration.ofMillis(600)));
    j.join("node-1");
    assertThat(j.redisDown()).isTrue();
    redis.restart();
    Eventually.eventually(Duration.ofSeconds(5),
        () -> assertThat(redis.command("EXISTS", "imagegen:journal:lease:node-1")).isEqualTo(":1"));
  }

  @Test
  void thePasswordNeverAppearsInAMessageALogLineOrToString() {
    String pw = "pw-Sekr3t-42";
    RedisServer redis = server("--requirepass", pw);
    long mark = CapturedLogs.mark();
    RedisJobJournal ok = journal(RedisJobJournal.builder().url("redis://:" + pw + "@127.0.0.1:" + redis.port() + "/0"));
    ok.started(entry("g-1", "job-1", "n"));
    assertThat(ok.open()).hasSize(1);
    assertThat(ok.toString()).doesNotContain(pw).contains("redis://***@127.0.0.1:" + redis.port() + "/0");

    String wrong = "wrong-Pa55-17";
    RedisJobJournal refused = journal(RedisJobJournal.builder().url("redis://default:" + wrong + "@127.0.0.1:" + redis.port())
        .commandTimeout(Duration.ofMillis(500)));
    refused.started(entry("g-2", "job-2", "n"));
    assertThat(refused.pendingWrites()).isEqualTo(1);
    assertThatThrownBy(refused::open).satisfies(e -> assertThat(messages(e)).doesNotContain(wrong).contains("default:***@"));
    assertThat(refused.toString()).doesNotContain(wrong);
    assertThatThrownBy(() -> RedisJobJournal.connect("http://:" + pw + "@127.0.0.1:6379"))
        .isInstanceOf(IllegalArgumentException.class)
        .satisfies(e -> assertThat(messages(e)).doesNotContain(pw).contains("imagegen.redis.url"));
    assertThat(CapturedLogs.since(mark, e -> e.message().contains(pw) || e.message().contains(wrong))).isEmpty();
    assertThat(CapturedLogs.since(mark, e -> e.message().contains("Redis job journal"))).isNotEmpty();
  }

  @Test
  void settingsComeFromPropertiesOrTheEnvironmentAndBadOnesAreReported() {
    RedisServer redis = server();
    RedisJobJournal j = RedisJobJournal.fromSettings(Map.of("imagegen.redis.url", redis.url(),
        "imagegen.redis.journal.key-prefix", "app1:journal:", "imagegen.redis.timeout", "250ms",
        "imagegen.redis.journal.lease", "3s")::get);
    open.add(j);
    assertThat(j.toString()).contains("prefix app1:journal:").contains("timeout 250 ms").contains("lease 3000 ms");
    j.join("node-1");
    assertThat(Long.parseLong(redis.command("PTTL", "app1:journal:lease:node-1").substring(1))).isBetween(1L, 3_000L);
    RedisJobJournal d = RedisJobJournal.fromSettings(Map.of("imagegen.redis.url", redis.url())::get);
    open.add(d);
    assertThat(d.toString()).contains("prefix imagegen:journal:").contains("timeout 2000 ms").contains("lease 10000 ms");

    assertThatThrownBy(() -> RedisJobJournal.fromSettings(Map.<String, String>of()::get))
        .isInstanceOf(ConfigurationException.class).hasMessageContaining("imagegen.redis.url (IMAGEGEN_REDIS_URL) is not set");
    assertThatThrownBy(() -> RedisJobJournal.fromSettings(Map.of("imagegen.redis.url", redis.url(),
        "imagegen.redis.timeout", "soon", "imagegen.redis.journal.lease", "50ms")::get))
        .isInstanceOf(ConfigurationException.class).hasMessageContaining("imagegen.redis.timeout (IMAGEGEN_REDIS_TIMEOUT)")
        .hasMessageContaining("imagegen.redis.journal.lease (IMAGEGEN_REDIS_JOURNAL_LEASE)");
    assertThatThrownBy(() -> RedisJobJournal.fromSettings(Map.of("imagegen.redis.url", "mysql://:hunter2@db")::get))
        .isInstanceOf(ConfigurationException.class).hasMessageContaining("imagegen.redis.url")
        .satisfies(e -> assertThat(messages(e)).doesNotContain("hunter2"));
    assertThatThrownBy(() -> RedisJobJournal.builder().url(redis.url()).leaseTtl(Duration.ofMillis(99)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("leaseTtl");
  }
}
