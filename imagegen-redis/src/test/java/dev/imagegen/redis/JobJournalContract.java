package dev.imagegen.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.JobJournal;
import dev.imagegen.JobJournal.Entry;
import dev.imagegen.testing.Eventually;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What every durable {@link JobJournal} promises, run against the directory journal and the Redis
 * one: entries round-trip whole, replace by (generation, job), leave on end except a failed cancel,
 * two journals on one store see each other's entries and leases, a lease lives while its heartbeat
 * runs and expires without it.
 */
abstract class JobJournalContract {

  /** A journal on this test's store, with the given lease. */
  abstract JobJournal journal(Duration lease);

  /** Makes the journal's process as good as dead: its heartbeat stops, nothing is cleaned up. */
  abstract void crash(JobJournal journal, String instanceId);

  JobJournal journal() {
    return journal(Duration.ofSeconds(10));
  }

  static Entry entry(String gen, String job, String owner, Instant startedAt) {
    return new Entry(gen, "jobs", job, Map.of("status", "https://api.example/jobs/" + job, "endpoint", "ep-1"), "hash-" + job,
        startedAt.plus(Duration.ofMinutes(5)), startedAt, owner, JobJournal.RUNNING, "cache-" + job, "0.04");
  }

  static Instant now() {
    return Instant.now().truncatedTo(ChronoUnit.MILLIS);
  }

  @Test
  void anEntryComesBackWithEveryField() {
    JobJournal j = journal();
    Entry e = entry("g-1", "job-1", "node-1", now());
    j.started(e);
    assertThat(j.open()).containsExactly(e);
  }

  @Test
  void nullCacheKeyAndCostAndNoHandlesRoundTrip() {
    JobJournal j = journal();
    Instant t = Instant.parse("2026-12-03T10:15:30.123456789Z");
    Entry e = new Entry("g-1", "jobs", "job-1", Map.of(), "h", t.plusSeconds(60), t, "node-1", JobJournal.RUNNING, null, null);
    j.started(e);
    assertThat(j.open()).containsExactly(e);
  }

  @Test
  void theSameGenerationAndJobReplacesTheEntry() {
    JobJournal j = journal();
    Entry e = entry("g-1", "job-1", "node-1", now());
    j.started(e);
    j.started(e.ownedBy("node-2"));
    assertThat(j.open()).singleElement().satisfies(x -> assertThat(x.owner()).isEqualTo("node-2"));
    j.started(entry("g-2", "job-1", "node-1", now())); // another generation, same remote id: another entry
    assertThat(j.open()).hasSize(2);
  }

  @Test
  void anEndedJobLeavesTheOpenEntriesWhateverItsStatus() {
    JobJournal j = journal();
    Instant t = now();
    for (String s : new String[] {"succeeded", "failed", "cancelled"}) {
      j.started(entry("g-" + s, "job-" + s, "node-1", t));
    }
    j.started(entry("g-keep", "job-keep", "node-1", t.plusMillis(1)));
    j.ended("g-succeeded", "job-succeeded", "succeeded");
    j.ended("g-failed", "job-failed", "failed");
    j.ended("g-cancelled", "job-cancelled", "cancelled");
    j.ended("g-unknown", "job-unknown", "succeeded"); // never started: nothing happens
    assertThat(j.open()).extracting(Entry::remoteJobId).containsExactly("job-keep");
  }

  @Test
  void aFailedCancelKeepsTheEntryInStateCancelFailedUntilItEnds() {
    JobJournal j = journal();
    Entry e = entry("g-1", "job-1", "node-1", now());
    j.started(e);
    j.ended("g-1", "job-1", "cancel-failed");
    assertThat(j.open()).singleElement().satisfies(x -> {
      assertThat(x.state()).isEqualTo("cancel-failed");
      assertThat(x).isEqualTo(new Entry(e.generationId(), e.provider(), e.remoteJobId(), e.handles(), e.requestHash(),
          e.deadline(), e.startedAt(), e.owner(), "cancel-failed", e.cacheKey(), e.estimatedCost()));
    });
    j.ended("g-1", "job-1", "cancelled");
    assertThat(j.open()).isEmpty();
    j.ended("g-2", "job-2", "cancel-failed"); // never started: no entry appears
    assertThat(j.open()).isEmpty();
  }

  @Test
  void ofEightJournalsAdoptingOneEntryAtOnceExactlyOneWinsAndTheEntryNamesIt() throws Exception {
    Entry e = entry("g-1", "job-1", "dead-1", now());
    journal().started(e);
    java.util.List<JobJournal> journals = new java.util.ArrayList<>();
    for (int i = 0; i < 8; i++) {
      journals.add(journal());
    }
    java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(8);
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
    try {
      java.util.List<java.util.concurrent.Future<Boolean>> wins = new java.util.ArrayList<>();
      for (int i = 0; i < 8; i++) {
        JobJournal j = journals.get(i);
        String me = "node-" + i;
        wins.add(pool.submit(() -> {
          start.await();
          return j.adopt(e, me);
        }));
      }
      int won = -1;
      int count = 0;
      for (int i = 0; i < 8; i++) {
        if (wins.get(i).get(10, java.util.concurrent.TimeUnit.SECONDS)) {
          won = i;
          count++;
        }
      }
      assertThat(count).as("adoptions that succeeded").isEqualTo(1);
      assertThat(journal().open()).singleElement().extracting(Entry::owner).isEqualTo("node-" + won);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void anEntryIsAdoptedOnlyFromTheOwnerItWasReadWith() {
    JobJournal j = journal();
    Entry e = entry("g-1", "job-1", "dead-1", now());
    j.started(e);
    assertThat(j.adopt(e, "node-b")).isTrue();
    assertThat(j.open()).singleElement().isEqualTo(e.ownedBy("node-b"));
    assertThat(j.adopt(e, "node-c")).as("it names node-b now").isFalse();
    j.ended("g-1", "job-1", "succeeded");
    assertThat(j.adopt(e, "node-c")).as("an ended job").isFalse();
    assertThat(j.open()).isEmpty();
  }

  @Test
  void openEntriesComeOldestFirst() {
    JobJournal j = journal();
    Instant t = now();
    j.started(entry("g-3", "job-3", "n", t.plusSeconds(3)));
    j.started(entry("g-1", "job-1", "n", t.plusSeconds(1)));
    j.started(entry("g-2", "job-2", "n", t.plusSeconds(2)));
    assertThat(j.open()).extracting(Entry::remoteJobId).containsExactly("job-1", "job-2", "job-3");
  }

  @Test
  void aLeaseIsLiveFromJoinToLeave() {
    JobJournal j = journal();
    assertThat(j.leaseLive("node-1")).as("never joined").isFalse();
    j.join("node-1");
    assertThat(j.leaseLive("node-1")).isTrue();
    assertThat(j.leaseLive("node-2")).isFalse();
    assertThat(j.leaseLive("../etc/passwd")).as("not an instance id").isFalse();
    j.leave("node-1");
    assertThat(j.leaseLive("node-1")).isFalse();
  }

  @Test
  void twoJournalsOnOneStoreSeeEachOthersEntriesAndLeases() {
    JobJournal a = journal();
    JobJournal b = journal();
    a.join("node-a");
    a.started(entry("g-a", "job-a", "node-a", now()));
    b.started(entry("g-b", "job-b", "node-b", now().plusMillis(1)));
    assertThat(b.open()).extracting(Entry::remoteJobId).containsExactly("job-a", "job-b");
    assertThat(b.leaseLive("node-a")).isTrue();
    b.ended("g-a", "job-a", "succeeded");
    assertThat(a.open()).extracting(Entry::remoteJobId).containsExactly("job-b");
    a.leave("node-a");
    assertThat(b.leaseLive("node-a")).isFalse();
  }

  @Test
  void theHeartbeatKeepsALeaseAliveAndItExpiresWhenTheProcessDies() throws Exception {
    JobJournal a = journal(Duration.ofMillis(500));
    JobJournal other = journal(Duration.ofMillis(500));
    a.join("node-a");
    Thread.sleep(1_500); // three leases long
    assertThat(other.leaseLive("node-a")).as("refreshed by the heartbeat").isTrue();
    crash(a, "node-a");
    Eventually.eventually(Duration.ofSeconds(3), () -> assertThat(other.leaseLive("node-a")).isFalse());
  }
}
