package dev.imagegen.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.JobJournal;
import dev.imagegen.RecoveredJob;
import dev.imagegen.RecoveryReport;
import dev.imagegen.RecoveryReport.Action;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.CapturedLogs;
import dev.imagegen.testing.Eventually;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

/** The Redis journal wired into ImageGenerationService: a crashed instance's jobs recovered by another; Redis down. */
class RedisJournalServiceTest {
  private RedisServer redis;

  @BeforeEach
  void startRedis() {
    redis = RedisServer.start();
  }

  @AfterEach
  void stopRedis() {
    redis.close();
  }

  private static ProviderConfig config(String id) {
    return ProviderConfig.builder(id).apiKey("sk-secret-value-123").build();
  }

  private static ImageGenerationRequest request() {
    return ImageGenerationRequest.builder().prompt("a fox").timeout(Duration.ofMinutes(5)).build();
  }

  private RedisJobJournal journal(Duration lease) {
    return RedisJobJournal.builder().url(redis.url()).leaseTtl(lease).build();
  }

  @Test
  void aCrashedInstancesJobsAreResumedOrCancelledByAnotherOnceItsLeaseExpiredAndNoneIsSubmittedAgain() throws Exception {
    RemoteJobProvider resumesA = new RemoteJobProvider("polled", true, true, false);
    RemoteJobProvider cancelsA = new RemoteJobProvider("cancel-only", false, true, false);
    RedisJobJournal journalA = journal(Duration.ofMillis(600));
    ImageGenerationService a = ImageGenerationService.builder().provider(resumesA, config("polled"))
        .provider(cancelsA, config("cancel-only")).jobJournal(journalA).instanceId("a").defaultMaxConcurrent(64).build();
    for (int i = 0; i < 6; i++) {
      a.generateAsync(request(), i % 2 == 0 ? "polled" : "cancel-only");
    }
    Eventually.eventually(Duration.ofSeconds(5), () -> assertThat(journalA.open()).hasSize(6));
    assertThat(redis.command("EXISTS", "imagegen:journal:lease:a")).isEqualTo(":1");

    RemoteJobProvider resumesB = new RemoteJobProvider("polled", true, true, false);
    RemoteJobProvider cancelsB = new RemoteJobProvider("cancel-only", false, true, false);
    List<RecoveredJob> delivered = new CopyOnWriteArrayList<>();
    try (RedisJobJournal journalB = journal(Duration.ofMillis(600));
        ImageGenerationService b = ImageGenerationService.builder().provider(resumesB, config("polled"))
            .provider(cancelsB, config("cancel-only")).jobJournal(journalB).instanceId("b")
            .onRecovered(delivered::add).build()) {
      RecoveryReport whileAlive = b.recover();
      assertThat(whileAlive.items()).hasSize(6).allSatisfy(i -> {
        assertThat(i.action()).isEqualTo(Action.LEFT);
        assertThat(i.reason()).contains("lease is live");
      });

      journalA.close(); // A's process dies: no close of the service, its heartbeat stops, its lease is left to expire
      Eventually.eventually(Duration.ofSeconds(5), () -> assertThat(journalB.leaseLive("a")).isFalse());

      RecoveryReport report = b.recover();
      assertThat(report.with(Action.RESUMED)).as(report.toString()).hasSize(3)
          .allSatisfy(i -> assertThat(i.entry().provider()).isEqualTo("polled"));
      assertThat(report.with(Action.CANCELLED)).as(report.toString()).hasSize(3)
          .allSatisfy(i -> assertThat(i.entry().provider()).isEqualTo("cancel-only"));
      assertThat(resumesB.submits).as("nothing submitted again").hasValue(0);
      assertThat(cancelsB.submits).hasValue(0);
      assertThat(resumesB.resumed).hasSize(3).doesNotHaveDuplicates();
      assertThat(cancelsB.cancelledByHandle).hasSize(3).doesNotHaveDuplicates();
      assertThat(resumesB.handlesSeen).allSatisfy(h -> assertThat(h).startsWith("https://api.example/polled/polled-job-"));
      assertThat(delivered).hasSize(3).allSatisfy(j -> assertThat(j.succeeded()).isTrue());
      assertThat(journalB.open()).as("every job left the journal").isEmpty();
      assertThat(redis.command("SCARD", "imagegen:journal:open")).isEqualTo(":0");
      assertThat(b.recover().items()).as("a second recovery finds nothing").isEmpty();
    } finally {
      a.shutdown(Duration.ZERO);
    }
  }

  @Test
  void withRedisDownPaidCallsGoOnAndTheLossOfDurabilityIsLoggedOncePerOutage() throws Exception {
    RemoteJobProvider p = new RemoteJobProvider("polled", true, true, true);
    try (RedisJobJournal journal = RedisJobJournal.builder().url(redis.url()).commandTimeout(Duration.ofMillis(500)).build();
        ImageGenerationService s = ImageGenerationService.builder().provider(p, config("polled")).jobJournal(journal)
            .instanceId("node-1").build()) {
      ImageGenerationResponse first = s.generateImageWithFailover(request());
      assertThat(first.images()).hasSize(1);
      assertThat(journal.open()).as("started and ended: nothing open").isEmpty();

      redis.stop();
      long mark = CapturedLogs.mark();
      for (int i = 0; i < 5; i++) {
        assertThat(s.generateImageWithFailover(request()).images()).as("not refused").hasSize(1);
      }
      assertThat(p.submits).hasValue(6);
      List<CapturedLogs.Event> warned = CapturedLogs.since(mark, e -> e.level() == Level.WARN
          && e.logger().equals(RedisJobJournal.class.getName()));
      assertThat(warned).as("once per outage, not per call").singleElement()
          .satisfies(e -> assertThat(e.message()).contains("not recorded durably").contains(redis.url()));
      assertThat(CapturedLogs.since(mark, e -> e.message().contains("job journal failed")))
          .as("the journal does not throw: core logs nothing per call").isEmpty();
      assertThat(journal.pendingWrites()).as("5 started, 5 ended, kept").isEqualTo(10);
      assertThat(journal.redisDown()).isTrue();

      long back = CapturedLogs.mark();
      redis.restart();
      Eventually.eventually(Duration.ofSeconds(10), () -> assertThat(redis.command("EXISTS", "imagegen:journal:lease:node-1"))
          .as("the heartbeat sets the lease again").isEqualTo(":1"));
      assertThat(CapturedLogs.since(back, e -> e.level() == Level.INFO && e.message().contains("answers again"))).hasSize(1);
      Eventually.eventually(Duration.ofSeconds(10), () -> assertThat(journal.pendingWrites()).isZero());
      assertThat(journal.open()).as("the kept writes reached Redis in order: nothing left open").isEmpty();
      assertThat(journal.lostWrites()).isZero();
    }
  }

  @Test
  void aJournalThatThrowsIsLoggedByTheEngineAndTheGenerationGoesOn() throws Exception {
    JobJournal throwing = new JobJournal() {
      @Override public void started(Entry entry) { throw new IllegalStateException("journal store down"); }
      @Override public void ended(String generationId, String remoteJobId, String status) {
        throw new IllegalStateException("journal store down");
      }
      @Override public List<Entry> open() { return List.of(); }
    };
    RemoteJobProvider p = new RemoteJobProvider("polled", true, true, true);
    long mark = CapturedLogs.mark();
    try (ImageGenerationService s = ImageGenerationService.builder().provider(p, config("polled")).jobJournal(throwing)
        .build()) {
      assertThat(s.generateImageWithFailover(request()).images()).hasSize(1);
    }
    // one WARN per outage: started and ended both fail, the second at DEBUG
    assertThat(CapturedLogs.since(mark, e -> e.level() == Level.WARN && e.message().contains("job journal failed")
        && e.message().contains("the generation goes on"))).hasSize(1);
    assertThat(CapturedLogs.since(mark, e -> e.message().contains("job journal failed"))).hasSize(2);
  }
}
