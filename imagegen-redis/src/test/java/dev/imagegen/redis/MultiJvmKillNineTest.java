package dev.imagegen.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.ImageGenerationService;
import dev.imagegen.JobJournal;
import dev.imagegen.RecoveryReport;
import dev.imagegen.RecoveryReport.Action;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three instances on one Redis journal: {@code node-1} (a child JVM with 20 remote jobs in flight),
 * {@code node-2} (a child JVM with 6) and {@code node-3} (this JVM). {@code node-1} is killed with
 * SIGKILL; once its lease expired, {@code node-3}'s {@code recover()} finds its 20 jobs, resumes the
 * 10 of the provider that resumes and cancels the 10 of the one that only cancels, leaves
 * {@code node-2}'s to their live owner, and submits nothing again.
 */
class MultiJvmKillNineTest {
  private static final int JOBS = 20;
  private static final int OTHER = 6;
  private static final Duration LEASE = Duration.ofSeconds(6); // a live instance stalled up to 4 s keeps its lease
  @TempDir Path dir;
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final List<Process> children = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    for (Process p : children) {
      if (p.isAlive()) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  @Test
  void anotherInstanceFindsTheTwentyJobsOfAKilledOneOnceItsLeaseExpiredAndSubmitsNone() throws Exception {
    RedisServer redis = RedisServer.start();
    toClose.add(redis);
    JobServer jobs = new JobServer();
    toClose.add(jobs);
    RedisJobJournal reader = RedisJobJournal.builder().url(redis.url()).leaseTtl(LEASE).build();
    toClose.add(reader);
    Process node1 = child(redis, jobs, "node-1", JOBS);
    Process node2 = child(redis, jobs, "node-2", OTHER);

    assertThat(waitFor(Duration.ofSeconds(30), () -> jobs.calls("submit", 0).size() >= JOBS + OTHER
        && reader.open().size() >= JOBS + OTHER)).as("26 jobs submitted and journalled; node-1:%n%s%nnode-2:%n%s",
        log("node-1"), log("node-2")).isTrue();
    assertThat(node1.isAlive() && node2.isAlive()).isTrue();
    Set<String> node1Jobs = reader.open().stream().filter(e -> e.owner().equals("node-1"))
        .map(JobJournal.Entry::remoteJobId).collect(Collectors.toSet());
    assertThat(node1Jobs).hasSize(JOBS);

    node1.destroyForcibly();
    assertThat(node1.waitFor(10, TimeUnit.SECONDS)).isTrue();
    long killed = System.nanoTime();
    assertThat(node1.exitValue()).as("killed by SIGKILL").isEqualTo(137);

    try (RedisJobJournal journal3 = RedisJobJournal.builder().url(redis.url()).leaseTtl(LEASE).build();
        ImageGenerationService node3 = JournalChild.service(journal3, jobs.baseUrl(), "node-3")) {
      assertThat(waitFor(LEASE.plusSeconds(5), () -> !reader.leaseLive("node-1"))).as("the dead lease expires").isTrue();
      long leaseGone = System.nanoTime();
      RecoveryReport r = node3.recover();
      long recovered = System.nanoTime();

      List<RecoveryReport.Item> mine = r.items().stream().filter(i -> i.entry().owner().equals("node-1")
          || node1Jobs.contains(i.entry().remoteJobId())).toList();
      assertThat(r.with(Action.RESUMED)).as(r.toString()).hasSize(JOBS / 2)
          .allSatisfy(i -> assertThat(i.entry().provider()).isEqualTo("polled"));
      assertThat(r.with(Action.CANCELLED)).as(r.toString()).hasSize(JOBS / 2)
          .allSatisfy(i -> assertThat(i.entry().provider()).isEqualTo("cancel-only"));
      assertThat(mine).hasSize(JOBS);
      assertThat(r.with(Action.LEFT)).as("node-2's jobs are left to their live owner").hasSize(OTHER)
          .allSatisfy(i -> assertThat(i.reason()).contains("lease is live"));

      Set<String> polled = jobs.calls("poll", killed).stream().map(JobServer.Call::subject).collect(Collectors.toSet());
      Set<String> cancelled = jobs.calls("cancel", killed).stream().map(JobServer.Call::subject).collect(Collectors.toSet());
      Set<String> reached = new java.util.HashSet<>(polled);
      reached.addAll(cancelled);
      assertThat(reached).as("every job of node-1 polled or cancelled, no other").isEqualTo(node1Jobs);
      // a job is found at its first poll or cancel; all are found when the last of them is
      long foundAt = jobs.calls.stream().filter(c -> c.at() >= killed && !c.kind().equals("submit"))
          .collect(Collectors.toMap(JobServer.Call::subject, JobServer.Call::at, Math::min))
          .values().stream().mapToLong(Long::longValue).max().orElseThrow();
      long foundMs = (foundAt - killed) / 1_000_000;
      assertThat(foundMs).as("all 20 found within 10 s of the kill").isLessThan(10_000);

      List<JobServer.Call> submits = jobs.calls("submit", 0);
      assertThat(jobs.calls("submit", killed)).as("submits after the kill").isEmpty();
      assertThat(submits.stream().map(JobServer.Call::subject).toList()).hasSize(JOBS + OTHER).doesNotHaveDuplicates();
      assertThat(reader.open()).as("only node-2's jobs stay open").hasSize(OTHER)
          .allSatisfy(e -> assertThat(e.owner()).isEqualTo("node-2"));
      System.out.printf("kill -9 of 1 of 3 instances with %d jobs in flight (lease %d ms): lease gone %d ms after the "
              + "kill; recover() took %d ms; all %d found (first poll or cancel) %d ms after the kill; resumed %d, "
              + "cancelled %d, left to the live node-2 %d; polls %d, cancels %d, submits after the kill %d, "
              + "duplicate submits 0%n", JOBS, LEASE.toMillis(), (leaseGone - killed) / 1_000_000,
          (recovered - leaseGone) / 1_000_000, JOBS, foundMs, r.with(Action.RESUMED).size(),
          r.with(Action.CANCELLED).size(), r.with(Action.LEFT).size(), jobs.calls("poll", killed).size(),
          jobs.calls("cancel", killed).size(), jobs.calls("submit", killed).size());
    }
  }

  private Process child(RedisServer redis, JobServer jobs, String id, int n) throws IOException {
    String java = ProcessHandle.current().info().command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    Process p = new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
        JournalChild.class.getName(), redis.url(), jobs.baseUrl(), id, Long.toString(LEASE.toMillis()), Integer.toString(n))
        .redirectErrorStream(true).redirectOutput(dir.resolve(id + ".log").toFile()).start();
    children.add(p);
    return p;
  }

  private String log(String id) {
    try {
      return Files.readString(dir.resolve(id + ".log"), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return e.toString();
    }
  }

  private static boolean waitFor(Duration limit, BooleanSupplier done) throws InterruptedException {
    long end = System.nanoTime() + limit.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > end) {
        return false;
      }
      Thread.sleep(50);
    }
    return true;
  }
}
