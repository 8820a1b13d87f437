package dev.imagegen.soak;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.ImageGenerationService;
import dev.imagegen.JobJournal;
import dev.imagegen.RecoveredJob;
import dev.imagegen.RecoveryReport;
import dev.imagegen.RecoveryReport.Action;
import dev.imagegen.soak.FalJobServer.Call;
import dev.imagegen.soak.FalJobServer.Kind;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A second JVM with 20 fal jobs in flight, killed with SIGKILL ({@link Process#destroyForcibly()}),
 * and the service started after it on the same journal directory: every job the dead process
 * journalled is found, polled to its end or cancelled by its handles, and none is submitted again.
 */
class KillNineTest {
  private static final int JOBS = 20;
  @TempDir Path dir;
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private Process child;
  private Path childOut;

  @AfterEach
  void tearDown() throws Exception {
    if (child != null && child.isAlive()) {
      child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    for (AutoCloseable c : toClose) {
      c.close();
    }
  }

  @Test
  void theSameInstanceResumesEveryJobAKilledProcessLeftAndSubmitsNone() throws Exception {
    FalJobServer fal = server();
    startChild(fal, "crashy", Duration.ofSeconds(10), 120);
    long killed = killChild(fal);

    List<RecoveredJob> recovered = new CopyOnWriteArrayList<>();
    ImageGenerationService s = ImageGenerationService.builder()
        .provider(new dev.imagegen.provider.fal.FalProviderFactory().create(CrashyChild.falConfig(fal.baseUrl())),
            CrashyChild.falConfig(fal.baseUrl()))
        .jobJournal(JobJournal.directory(dir)).instanceId("crashy").onRecovered(recovered::add).build();
    toClose.add(s);
    long start = System.nanoTime();
    CompletableFuture<RecoveryReport> report = s.recoverAsync();
    // the jobs stay queued: recovery has found a job once it polls it
    boolean found = waitFor(Duration.ofSeconds(10), () -> polled(fal, start).containsAll(fal.created()));
    long foundAt = System.nanoTime();
    assertThat(found).as("every job polled by the new service within 10 s; polled %s of %s", polled(fal, start).size(),
        fal.created().size()).isTrue();
    fal.completeAll();
    RecoveryReport r = report.get(20, TimeUnit.SECONDS);
    long settledAt = System.nanoTime();

    assertThat(r.with(Action.RESUMED)).as(r.toString()).hasSize(JOBS);
    assertThat(recovered).hasSize(JOBS).allSatisfy(j -> {
      assertThat(j.error()).isNull();
      assertThat(j.result()).isNotNull();
      assertThat(j.result().images()).hasSize(1);
    });
    assertThat(recovered.stream().map(j -> j.entry().remoteJobId()).collect(Collectors.toSet())).isEqualTo(fal.created());
    assertThat(jobFiles()).as("journal entries left").isEmpty();
    assertNoSecondSubmit(fal, killed);
    Map<Kind, Long> after = fal.counts(killed);
    report("same instance 'crashy'", killed, start, foundAt, settledAt, after);
  }

  @Test
  void anotherInstanceLeavesTheJobsWhileTheLeaseLivesThenCancelsThemPastTheirDeadline() throws Exception {
    Duration lease = Duration.ofSeconds(5);
    FalJobServer fal = server();
    startChild(fal, "crashy", lease, 12);
    long killed = killChild(fal);
    Instant leaseTouched = Files.getLastModifiedTime(dir.resolve("crashy.lease")).toInstant();

    ImageGenerationService rescuer = CrashyChild.service(fal.baseUrl(), dir, "rescuer", lease);
    toClose.add(rescuer);
    if (Duration.between(leaseTouched, Instant.now()).compareTo(lease.minusSeconds(3)) < 0) {
      // at most 2 s after the dead process's last heartbeat its lease is live: its jobs are its own
      RecoveryReport early = rescuer.recover();
      assertThat(early.with(Action.LEFT)).as(early.toString()).hasSize(JOBS)
          .allSatisfy(i -> assertThat(i.reason()).contains("owned by instance crashy, whose lease is live"));
      assertThat(fal.calls(Kind.POLL, killed)).isEmpty();
      assertThat(fal.calls(Kind.CANCEL, killed)).isEmpty();
      System.out.printf("kill -9, instance 'rescuer' while the lease lived: %d jobs left to their owner%n", JOBS);
    }
    JobJournal reader = JobJournal.directory(dir, lease);
    assertThat(waitFor(lease.plusSeconds(5), () -> !reader.leaseLive("crashy"))).as("the dead lease expires").isTrue();
    Instant lastDeadline = reader.open().stream().map(JobJournal.Entry::deadline).max(Instant::compareTo).orElseThrow();
    waitFor(Duration.between(Instant.now(), lastDeadline).plusMillis(200), () -> Instant.now().isAfter(lastDeadline));

    long start = System.nanoTime();
    RecoveryReport r = rescuer.recover();
    long settledAt = System.nanoTime();
    assertThat(r.with(Action.CANCELLED)).as(r.toString()).hasSize(JOBS)
        .allSatisfy(i -> assertThat(i.reason()).contains("deadline"));
    Set<String> cancelled = fal.calls(Kind.CANCEL, start).stream().map(Call::subject).collect(Collectors.toSet());
    assertThat(cancelled).isEqualTo(fal.created());
    assertThat(jobFiles()).as("journal entries left").isEmpty();
    assertNoSecondSubmit(fal, killed);
    report("instance 'rescuer' after the lease expired", killed, start, settledAt, settledAt, fal.counts(killed));
  }

  // ------------------------------------------------------------------ the child

  private FalJobServer server() {
    FalJobServer fal = new FalJobServer();
    toClose.add(fal);
    return fal;
  }

  private void startChild(FalJobServer fal, String instanceId, Duration lease, int timeoutSeconds) throws IOException {
    String java = ProcessHandle.current().info().command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    childOut = dir.resolve("child.log");
    List<String> cmd = List.of(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"), CrashyChild.class.getName(),
        fal.baseUrl(), dir.toString(), instanceId, Long.toString(lease.toMillis()), Integer.toString(JOBS),
        Integer.toString(timeoutSeconds));
    child = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(childOut.toFile()).start();
  }

  /** Waits for the child's 20 submits and their 20 journal entries, then kills it; returns the moment after. */
  private long killChild(FalJobServer fal) throws Exception {
    boolean submitted = waitFor(Duration.ofSeconds(20), () -> fal.calls(Kind.SUBMIT, 0).size() >= JOBS || !child.isAlive());
    assertThat(submitted && child.isAlive()).as("the child submits %s jobs; its output:%n%s", JOBS, childLog()).isTrue();
    assertThat(waitFor(Duration.ofSeconds(5), () -> jobFiles().size() >= JOBS)).as("%s journal entries", JOBS).isTrue();
    child.destroyForcibly();
    assertThat(child.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(child.exitValue()).as("killed by SIGKILL").isEqualTo(137);
    return System.nanoTime();
  }

  private String childLog() {
    try {
      return childOut == null ? "" : Files.readString(childOut, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return e.toString();
    }
  }

  // ------------------------------------------------------------------ checks

  private List<Path> jobFiles() {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".job.json")
          && !f.getFileName().toString().startsWith(".")).toList();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static Set<String> polled(FalJobServer fal, long since) {
    return fal.calls(Kind.POLL, since).stream().map(Call::subject).collect(Collectors.toSet());
  }

  /** No submit after the kill, and no prompt submitted twice. */
  private static void assertNoSecondSubmit(FalJobServer fal, long killed) {
    assertThat(fal.calls(Kind.SUBMIT, killed)).as("submits after the kill").isEmpty();
    List<String> prompts = fal.calls(Kind.SUBMIT, 0).stream().map(Call::subject).toList();
    assertThat(prompts).hasSize(JOBS).doesNotHaveDuplicates();
    assertThat(fal.created()).hasSize(JOBS);
  }

  private static boolean waitFor(Duration limit, BooleanSupplier done) throws InterruptedException {
    long end = System.nanoTime() + limit.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > end) {
        return false;
      }
      Thread.sleep(20);
    }
    return true;
  }

  private static void report(String what, long killed, long start, long foundAt, long settledAt, Map<Kind, Long> after) {
    System.out.printf("kill -9, %s: %d jobs found in %d ms, settled in %d ms after recover() began (%d ms after the kill); "
            + "requests after the kill: %s; duplicate submits 0%n", what, JOBS, (foundAt - start) / 1_000_000,
        (settledAt - start) / 1_000_000, (settledAt - killed) / 1_000_000, after);
  }
}
