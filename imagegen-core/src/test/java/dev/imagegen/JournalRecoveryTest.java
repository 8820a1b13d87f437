package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.RecoveryReport.Action;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.JobHandle;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testing.CapturedLogs;
import dev.imagegen.testing.Eventually;
import dev.imagegen.testing.TestImages;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A service that dies with remote jobs open, and the one started after it on the same journal. */
class JournalRecoveryTest {
  @TempDir Path dir;

  /** A provider whose jobs never end by themselves: a resume finishes them, a cancel records them. */
  static final class JobProvider implements ImageProvider {
    final String id;
    final boolean resumes;
    final boolean cancels;
    final AtomicInteger submits = new AtomicInteger();
    final List<String> resumed = new CopyOnWriteArrayList<>();
    final List<String> cancelledByHandle = new CopyOnWriteArrayList<>();
    final Map<String, String> handleSeen = new ConcurrentHashMap<>();
    volatile Map<String, String> extraHandles = Map.of();
    volatile boolean resumeFails;
    volatile boolean resumeHangs;
    private static final AtomicInteger JOBS = new AtomicInteger();

    JobProvider(String id, boolean resumes, boolean cancels) {
      this.id = id;
      this.resumes = resumes;
      this.cancels = cancels;
    }

    @Override public String id() { return id; }
    @Override public ProviderCapabilities capabilities() {
      return ProviderCapabilities.builder().seed(true).maxImagesPerRequest(4).cancellable(true).build();
    }
    @Override public CostModel costModel() { return CostModel.perImage(new BigDecimal("0.04")); }

    @Override
    public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context) {
      submits.incrementAndGet();
      String job = "job-" + JOBS.incrementAndGet();
      Map<String, String> handles = new java.util.HashMap<>(extraHandles);
      handles.put("status", "https://api.example/jobs/" + job);
      context.remoteJobStarted(job, handles, () -> CompletableFuture.completedFuture(null));
      return new CompletableFuture<>();
    }

    @Override public CompletableFuture<ProviderHealth> health(ProviderContext context) {
      return CompletableFuture.completedFuture(ProviderHealth.up(id, Duration.ZERO));
    }

    @Override public boolean canResume() { return resumes; }
    @Override public boolean canCancelByHandle() { return cancels; }

    @Override
    public CompletableFuture<ProviderResult> resume(JobHandle job, GenerationContext context) {
      resumed.add(job.remoteJobId());
      handleSeen.put(job.remoteJobId(), String.valueOf(job.handle("status")));
      if (resumeHangs) {
        CompletableFuture<ProviderResult> f = new CompletableFuture<>();
        context.onCancel(() -> f.completeExceptionally(new GenerationCancelledException("cancelled", id)));
        return f;
      }
      if (resumeFails) {
        return CompletableFuture.failedFuture(new ProviderUnavailableException("job failed remotely", id, null));
      }
      return CompletableFuture.completedFuture(ProviderResult.builder("m").remoteJobId(job.remoteJobId())
          .image(GeneratedImage.of(TestImages.png(8, 8), 1L, null, false))
          .reportedCost(Cost.providerReported(new BigDecimal("0.03"))).build());
    }

    @Override
    public CompletableFuture<Void> cancel(JobHandle job, ProviderContext context) {
      cancelledByHandle.add(job.remoteJobId());
      return CompletableFuture.completedFuture(null);
    }
  }

  private static ProviderConfig config(String id) {
    return ProviderConfig.builder(id).apiKey("sk-secret-value-123").build();
  }

  private static ImageGenerationRequest request(Duration timeout) {
    return ImageGenerationRequest.builder().prompt("a fox").timeout(timeout).build();
  }

  /** Starts {@code n} generations that leave jobs open, and waits until the journal has them all. */
  private ImageGenerationService crashingServiceWith(int n, JobProvider p, String instanceId, Duration timeout) throws Exception {
    ImageGenerationService s = ImageGenerationService.builder().provider(p, config(p.id())).journal(dir)
        .instanceId(instanceId).defaultMaxConcurrent(64).build();
    for (int i = 0; i < n; i++) {
      s.generateAsync(request(timeout));
    }
    Eventually.eventually(Duration.ofSeconds(5), () -> assertThat(jobFiles()).hasSize(n));
    return s;
  }

  private List<Path> jobFiles() {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".job.json")).toList();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void aServiceRestartedWithTheSameIdResumesEveryJobItLeftAndSubmitsNone() throws Exception {
    JobProvider before = new JobProvider("jobs", true, true);
    ImageGenerationService crashed = crashingServiceWith(20, before, "node-1", Duration.ofMinutes(5));
    JobProvider after = new JobProvider("jobs", true, true);
    List<RecoveredJob> delivered = new CopyOnWriteArrayList<>();
    try (ImageGenerationService s = ImageGenerationService.builder().provider(after, config("jobs")).journal(dir)
        .instanceId("node-1").onRecovered(delivered::add).build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.RESUMED)).hasSize(20);
      assertThat(after.submits).as("nothing is submitted again").hasValue(0);
      assertThat(after.resumed).hasSize(20).doesNotHaveDuplicates();
      assertThat(after.cancelledByHandle).isEmpty();
      assertThat(delivered).hasSize(20).allSatisfy(j -> assertThat(j.succeeded()).isTrue());
      assertThat(delivered.get(0).result().images()).hasSize(1);
      assertThat(after.handleSeen.values()).allSatisfy(h -> assertThat(h).startsWith("https://api.example/jobs/job-"));
      assertThat(jobFiles()).as("every resumed job leaves the journal").isEmpty();
      assertThat(s.recover().items()).as("a second recovery finds nothing").isEmpty();
    } finally {
      crashed.shutdown(Duration.ZERO);
    }
  }

  @Test
  void aJobWhoseDeadlinePassedIsCancelledByItsHandlesNotResumed() throws Exception {
    JobProvider before = new JobProvider("jobs", true, true);
    ImageGenerationService crashed = crashingServiceWith(1, before, "node-1", Duration.ofMillis(400));
    Path file = jobFiles().get(0);
    byte[] kept = Files.readAllBytes(file);
    crashed.shutdown(Duration.ofSeconds(2)); // put the entry back as a crash would have left it, once its deadline passed
    Files.write(file, kept);
    Instant deadline = JobJournal.directory(dir).open().get(0).deadline();
    while (!Instant.now().isAfter(deadline)) {
      Thread.sleep(50);
    }
    JobProvider after = new JobProvider("jobs", true, true);
    try (ImageGenerationService s = ImageGenerationService.builder().provider(after, config("jobs")).journal(dir)
        .instanceId("node-1").build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.CANCELLED)).as(report.toString()).hasSize(1);
      assertThat(report.items().get(0).reason()).contains("deadline");
      assertThat(after.resumed).isEmpty();
      assertThat(after.cancelledByHandle).hasSize(1);
      assertThat(after.submits).hasValue(0);
      assertThat(jobFiles()).isEmpty();
    }
  }

  @Test
  void aProviderThatCannotResumeHasItsJobsCancelledAndOneThatCanDoNeitherHasThemLeft() throws Exception {
    ImageGenerationService crashed = crashingServiceWith(2, new JobProvider("jobs", false, false), "node-1", Duration.ofMinutes(5));
    JobProvider cancelsOnly = new JobProvider("jobs", false, true);
    try (ImageGenerationService s = ImageGenerationService.builder().provider(cancelsOnly, config("jobs")).journal(dir)
        .instanceId("node-1").build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.CANCELLED)).hasSize(2);
      assertThat(cancelsOnly.cancelledByHandle).hasSize(2);
    } finally {
      crashed.shutdown(Duration.ZERO);
    }
    ImageGenerationService crashed2 = crashingServiceWith(1, new JobProvider("jobs", false, false), "node-1", Duration.ofMinutes(5));
    JobProvider neither = new JobProvider("jobs", false, false);
    long mark = CapturedLogs.mark();
    try (ImageGenerationService s = ImageGenerationService.builder().provider(neither, config("jobs")).journal(dir)
        .instanceId("node-1").build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.LEFT)).hasSize(1);
      assertThat(report.items().get(0).reason()).contains("can neither resume nor cancel");
      assertThat(jobFiles()).as("the entry stays for a provider that can").hasSize(1);
      assertThat(CapturedLogs.since(mark, e -> e.logger().equals("dev.imagegen.provider.jobs")))
          .anySatisfy(e -> assertThat(e.message()).contains("recovery").contains("LEFT"));
    } finally {
      crashed2.shutdown(Duration.ZERO);
    }
  }

  @Test
  void aProviderNotConfiguredHereLeavesItsEntry() throws Exception {
    ImageGenerationService crashed = crashingServiceWith(1, new JobProvider("jobs", true, true), "node-1", Duration.ofMinutes(5));
    JobProvider other = new JobProvider("other", true, true);
    try (ImageGenerationService s = ImageGenerationService.builder().provider(other, config("other")).journal(dir)
        .instanceId("node-1").build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.LEFT)).singleElement().satisfies(i -> assertThat(i.reason()).contains("not configured"));
      assertThat(jobFiles()).hasSize(1);
    } finally {
      crashed.shutdown(Duration.ZERO);
    }
  }

  private void entryOwnedBy(String owner, String jobId) {
    JobJournal j = JobJournal.directory(dir);
    j.started(new JobJournal.Entry("g-" + jobId, "jobs", jobId, Map.of("status", "https://api.example/jobs/" + jobId), "h",
        Instant.now().plus(Duration.ofMinutes(5)), Instant.now(), owner, JobJournal.RUNNING, null, "0.04"));
  }

  @Test
  void anotherInstancesLiveLeaseIsRespectedAndAnExpiredOneAdopted() throws Exception {
    JobJournal live = JobJournal.directory(dir);
    live.join("live-1");
    entryOwnedBy("live-1", "job-live");
    entryOwnedBy("dead-1", "job-dead");
    Path deadLease = dir.resolve("dead-1.lease");
    Files.writeString(deadLease, "x");
    Files.setLastModifiedTime(deadLease, FileTime.from(Instant.now().minusSeconds(60)));
    entryOwnedBy("gone-1", "job-gone"); // closed without a lease file left: adoptable at once
    JobProvider p = new JobProvider("jobs", true, true);
    try (ImageGenerationService s = ImageGenerationService.builder().provider(p, config("jobs")).journal(dir)
        .instanceId("node-2").build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.RESUMED)).extracting(i -> i.entry().remoteJobId())
          .containsExactlyInAnyOrder("job-dead", "job-gone");
      assertThat(report.with(Action.LEFT)).singleElement().satisfies(i -> {
        assertThat(i.entry().remoteJobId()).isEqualTo("job-live");
        assertThat(i.reason()).contains("live-1").contains("lease is live");
      });
      assertThat(p.resumed).containsExactlyInAnyOrder("job-dead", "job-gone");
      assertThat(JobJournal.directory(dir).open()).extracting(JobJournal.Entry::remoteJobId).containsExactly("job-live");
    } finally {
      live.leave("live-1");
    }
    assertThat(Files.exists(dir.resolve("live-1.lease"))).as("leave removes the lease").isFalse();
  }

  /** A directory journal whose listing waits for the other instance's: both see every entry still owned by the dead one. */
  private JobJournal listingTogether(java.util.concurrent.CyclicBarrier barrier) {
    JobJournal d = JobJournal.directory(dir);
    return new JobJournal() {
      @Override public void started(Entry entry) { d.started(entry); }
      @Override public void ended(String generationId, String remoteJobId, String status) { d.ended(generationId, remoteJobId, status); }
      @Override public List<Entry> open() {
        List<Entry> all = d.open();
        try {
          barrier.await(10, java.util.concurrent.TimeUnit.SECONDS);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
        return all;
      }
      @Override public void join(String instanceId) { d.join(instanceId); }
      @Override public void leave(String instanceId) { d.leave(instanceId); }
      @Override public boolean leaseLive(String instanceId) { return d.leaseLive(instanceId); }
      @Override public boolean adopt(Entry entry, String newOwner) { return d.adopt(entry, newOwner); }
    };
  }

  @Test
  void twoSurvivorsRecoveringAtOnceAdoptEachJobOfTheDeadInstanceOnceAndPollItOnce() throws Exception {
    for (int i = 0; i < 30; i++) {
      entryOwnedBy("dead-1", "job-" + i); // no lease file left: adoptable at once
    }
    java.util.concurrent.CyclicBarrier barrier = new java.util.concurrent.CyclicBarrier(2);
    JobProvider pb = new JobProvider("jobs", true, true);
    JobProvider pc = new JobProvider("jobs", true, true);
    try (ImageGenerationService b = ImageGenerationService.builder().provider(pb, config("jobs"))
            .jobJournal(listingTogether(barrier)).instanceId("node-b").build();
        ImageGenerationService c = ImageGenerationService.builder().provider(pc, config("jobs"))
            .jobJournal(listingTogether(barrier)).instanceId("node-c").build()) {
      java.util.concurrent.ExecutorService two = java.util.concurrent.Executors.newFixedThreadPool(2);
      RecoveryReport reportB;
      RecoveryReport reportC;
      try {
        CompletableFuture<RecoveryReport> rb = CompletableFuture.supplyAsync(b::recover, two);
        CompletableFuture<RecoveryReport> rc = CompletableFuture.supplyAsync(c::recover, two);
        reportB = rb.get(20, java.util.concurrent.TimeUnit.SECONDS);
        reportC = rc.get(20, java.util.concurrent.TimeUnit.SECONDS);
      } finally {
        two.shutdown();
      }

      List<String> resumed = new java.util.ArrayList<>(pb.resumed);
      resumed.addAll(pc.resumed);
      assertThat(resumed).as("each job resumed by exactly one survivor").hasSize(30).doesNotHaveDuplicates();
      assertThat(reportB.with(Action.RESUMED).size() + reportC.with(Action.RESUMED).size()).isEqualTo(30);
      assertThat(java.util.stream.Stream.concat(reportB.with(Action.LEFT).stream(), reportC.with(Action.LEFT).stream()))
          .hasSize(30).allSatisfy(i -> assertThat(i.reason()).contains("adopted by another instance"));
      assertThat(pb.submits.get() + pc.submits.get()).isZero();
      assertThat(jobFiles()).isEmpty();
    }
  }

  @Test
  void adoptingAnEntryIsACompareAndSetOnItsOwnerInEveryJournal() {
    JobJournal.Entry e = new JobJournal.Entry("g-1", "jobs", "job-1", Map.of(), "h", Instant.now().plusSeconds(60),
        Instant.now(), "dead-1", JobJournal.RUNNING, null, null);
    for (JobJournal j : List.of(JobJournal.inMemory(), JobJournal.directory(dir))) {
      j.started(e);
      assertThat(j.adopt(e, "node-b")).isTrue();
      assertThat(j.adopt(e, "node-c")).as("the entry names node-b now").isFalse();
      assertThat(j.open()).singleElement().extracting(JobJournal.Entry::owner).isEqualTo("node-b");
      j.ended("g-1", "job-1", "succeeded");
      assertThat(j.adopt(e, "node-c")).as("an ended job is not adopted").isFalse();
      assertThat(j.open()).isEmpty();
    }
  }

  @Test
  void twoLiveServicesOnOneDirectoryLeaveEachOthersJobsAlone() throws Exception {
    JobProvider pa = new JobProvider("jobs", true, true);
    ImageGenerationService a = crashingServiceWith(2, pa, "node-a", Duration.ofMinutes(5));
    JobProvider pb = new JobProvider("jobs", true, true);
    try (ImageGenerationService b = ImageGenerationService.builder().provider(pb, config("jobs")).journal(dir)
        .instanceId("node-b").build()) {
      b.generateAsync(request(Duration.ofMinutes(5)));
      Eventually.eventually(Duration.ofSeconds(5), () -> assertThat(jobFiles()).hasSize(3));
      RecoveryReport fromB = b.recover();
      assertThat(fromB.items()).hasSize(3).allSatisfy(i -> assertThat(i.action()).isEqualTo(Action.LEFT));
      assertThat(fromB.items()).filteredOn(i -> i.entry().owner().equals("node-a")).hasSize(2)
          .allSatisfy(i -> assertThat(i.reason()).contains("lease is live"));
      assertThat(fromB.items()).filteredOn(i -> i.entry().owner().equals("node-b")).singleElement()
          .satisfies(i -> assertThat(i.reason()).contains("in flight"));
      RecoveryReport fromA = a.recover();
      assertThat(fromA.with(Action.LEFT)).hasSize(3);
      assertThat(pa.resumed).isEmpty();
      assertThat(pb.resumed).isEmpty();
      assertThat(pb.cancelledByHandle).isEmpty();
    } finally {
      a.shutdown(Duration.ZERO);
    }
  }

  @Test
  void aLeaseIsKeptAliveByTheHeartbeatAndExpiresWithoutIt() throws Exception {
    JobJournal a = JobJournal.directory(dir, Duration.ofMillis(300));
    a.join("a");
    Thread.sleep(700);
    assertThat(a.leaseLive("a")).as("the heartbeat refreshes it").isTrue();
    Files.setLastModifiedTime(dir.resolve("a.lease"), FileTime.from(Instant.now().minusSeconds(5)));
    a.leave("a");
    Files.writeString(dir.resolve("a.lease"), "x");
    Files.setLastModifiedTime(dir.resolve("a.lease"), FileTime.from(Instant.now().minusSeconds(5)));
    assertThat(a.leaseLive("a")).as("no heartbeat, old lease").isFalse();
  }

  @Test
  void aTornTempFileAndAGarbledEntryAreNeverReadAsEntries() throws Exception {
    entryOwnedBy("node-1", "job-ok");
    String whole = Files.readString(jobFiles().get(0));
    Files.writeString(dir.resolve(".0123456789abcdef.job.json.5e1d.tmp"), whole.substring(0, whole.length() / 2),
        StandardCharsets.UTF_8);
    Files.writeString(dir.resolve("0123456789abcdef0123456789abcdef.job.json"), whole.substring(0, whole.length() / 2));
    JobProvider p = new JobProvider("jobs", true, true);
    try (ImageGenerationService s = ImageGenerationService.builder().provider(p, config("jobs")).journal(dir)
        .instanceId("node-1").build()) {
      RecoveryReport report = s.recover();
      assertThat(report.items()).singleElement().satisfies(i -> {
        assertThat(i.entry().remoteJobId()).isEqualTo("job-ok");
        assertThat(i.action()).isEqualTo(Action.RESUMED);
      });
    }
  }

  @Test
  void theBudgetRecordsWhatARecoveredJobCost() throws Exception {
    entryOwnedBy("node-1", "job-paid");
    Map<String, BigDecimal> spent = new ConcurrentHashMap<>();
    BudgetStore store = new BudgetStore() {
      @Override public boolean reserve(List<Scope> scopes, BigDecimal amount) { return true; }
      @Override public void settle(List<Scope> scopes, BigDecimal reserved, BigDecimal actual) {
        scopes.forEach(sc -> spent.merge(sc.key(), actual.subtract(reserved), BigDecimal::add));
      }
      @Override public BigDecimal spent(String scope) { return spent.getOrDefault(scope, BigDecimal.ZERO); }
    };
    JobProvider p = new JobProvider("jobs", true, true);
    try (ImageGenerationService s = ImageGenerationService.builder().provider(p, config("jobs")).journal(dir)
        .instanceId("node-1").budget(BudgetPolicy.builder().total("10").build()).budgetStore(store).build()) {
      s.recover();
      assertThat(spent.values()).isNotEmpty().allSatisfy(v -> assertThat(v).isEqualByComparingTo("0.03"));
    }
  }

  @Test
  void aResumeThatFailsIsDeliveredAsAnErrorAndTheJobCancelled() throws Exception {
    entryOwnedBy("node-1", "job-bad");
    JobProvider p = new JobProvider("jobs", true, true);
    p.resumeFails = true;
    List<RecoveredJob> delivered = new CopyOnWriteArrayList<>();
    try (ImageGenerationService s = ImageGenerationService.builder().provider(p, config("jobs")).journal(dir)
        .instanceId("node-1").onRecovered(delivered::add).build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.RESUME_FAILED)).singleElement().satisfies(i -> assertThat(i.reason()).contains("cancelled"));
      assertThat(delivered).singleElement().satisfies(j -> assertThat(j.error()).hasMessageContaining("job failed remotely"));
      assertThat(p.cancelledByHandle).containsExactly("job-bad");
      assertThat(jobFiles()).isEmpty();
    }
  }

  @Test
  void closeStopsAResumeAndLeavesItsEntryForTheNextRecovery() throws Exception {
    entryOwnedBy("node-1", "job-slow");
    JobProvider p = new JobProvider("jobs", true, true);
    p.resumeHangs = true;
    ImageGenerationService s = ImageGenerationService.builder().provider(p, config("jobs")).journal(dir)
        .instanceId("node-1").build();
    CompletableFuture<RecoveryReport> f = s.recoverAsync();
    Eventually.eventually(Duration.ofSeconds(5), () -> assertThat(p.resumed).hasSize(1));
    s.close();
    RecoveryReport report = f.get(5, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(report.with(Action.LEFT)).hasSize(1);
    assertThat(p.cancelledByHandle).isEmpty();
    assertThat(jobFiles()).hasSize(1);
  }

  @Test
  void aResumedResultGoesToTheCacheSoTheSameRequestIsNotPaidForAgain() throws Exception {
    Path cacheDir = dir.resolve("cache");
    ImageGenerationRequest seeded = ImageGenerationRequest.builder().prompt("a fox").seed(42L).timeout(Duration.ofMinutes(5))
        .build();
    JobProvider before = new JobProvider("jobs", true, true);
    ImageGenerationService crashed = ImageGenerationService.builder().provider(before, config("jobs")).journal(dir)
        .instanceId("node-1").cache(CacheConfig.directory(cacheDir, 10_000_000)).build();
    crashed.generateAsync(seeded);
    Eventually.eventually(Duration.ofSeconds(5), () -> assertThat(jobFiles()).hasSize(1));
    assertThat(JobJournal.directory(dir).open().get(0).cacheKey()).isNotNull();
    JobProvider after = new JobProvider("jobs", true, true);
    try (ImageGenerationService s = ImageGenerationService.builder().provider(after, config("jobs")).journal(dir)
        .instanceId("node-1").cache(CacheConfig.directory(cacheDir, 10_000_000)).build()) {
      assertThat(s.recover().with(Action.RESUMED)).hasSize(1);
      ImageGenerationResponse r = s.generateImageWithFailover(seeded);
      assertThat(r.status()).isEqualTo(ImageGenerationResponse.Status.CACHED);
      assertThat(after.submits).hasValue(0);
    } finally {
      crashed.shutdown(Duration.ZERO);
    }
  }

  @Test
  void aSecondRecoverWhileTheFirstIsPollingLeavesTheJobToIt() throws Exception {
    entryOwnedBy("node-1", "job-once");
    JobProvider p = new JobProvider("jobs", true, true);
    p.resumeHangs = true;
    try (ImageGenerationService s = ImageGenerationService.builder().provider(p, config("jobs")).journal(dir)
        .instanceId("node-1").build()) {
      s.recoverAsync();
      Eventually.eventually(Duration.ofSeconds(5), () -> assertThat(p.resumed).hasSize(1));
      RecoveryReport second = s.recover();
      assertThat(second.with(Action.LEFT)).singleElement().satisfies(i -> assertThat(i.reason()).contains("already"));
      assertThat(p.resumed).hasSize(1);
    }
  }

  @Test
  void aJobWhoseCancelFailedStaysInTheJournalAndTheNextRecoveryCancelsIt() throws Exception {
    AtomicInteger cancels = new AtomicInteger();
    dev.imagegen.testing.ScriptedProvider failing = new dev.imagegen.testing.ScriptedProvider("jobs").then((r, ctx) -> {
      ctx.remoteJobStarted("job-stuck", Map.of("status", "https://api.example/jobs/job-stuck"), () -> {
        cancels.incrementAndGet();
        return CompletableFuture.failedFuture(new ProviderUnavailableException("HTTP 503", "jobs", null));
      });
      return new CompletableFuture<>();
    });
    try (ImageGenerationService s = ImageGenerationService.builder().provider(failing, config("jobs")).journal(dir)
        .instanceId("node-1").build()) {
      assertThatThrownBy(() -> s.generateImageWithFailover(request(Duration.ofMillis(100))))
          .isInstanceOf(GenerationTimeoutException.class);
      Eventually.eventually(Duration.ofSeconds(10), () -> assertThat(cancels).hasValue(4));
      Eventually.eventually(Duration.ofSeconds(5), () -> assertThat(JobJournal.directory(dir).open())
          .singleElement().satisfies(e -> assertThat(e.state()).isEqualTo("cancel-failed")));
    }
    JobProvider p = new JobProvider("jobs", true, true);
    try (ImageGenerationService s = ImageGenerationService.builder().provider(p, config("jobs")).journal(dir)
        .instanceId("node-1").build()) {
      assertThat(s.recover().with(Action.CANCELLED)).hasSize(1);
      assertThat(p.cancelledByHandle).containsExactly("job-stuck");
      assertThat(jobFiles()).isEmpty();
    }
  }

  @Test
  void recoverOnBuildResumesInTheBackground() throws Exception {
    entryOwnedBy("node-1", "job-bg");
    JobProvider p = new JobProvider("jobs", true, true);
    List<RecoveredJob> delivered = new CopyOnWriteArrayList<>();
    try (ImageGenerationService s = ImageGenerationService.builder().provider(p, config("jobs")).journal(dir)
        .instanceId("node-1").recoverOnBuild(true).onRecovered(delivered::add).build()) {
      Eventually.eventually(Duration.ofSeconds(5), () -> assertThat(delivered).hasSize(1));
    }
  }

  @Test
  void aHandleHoldingTheKeyIsNeverWrittenToTheJournal() throws Exception {
    JobProvider p = new JobProvider("jobs", true, true);
    p.extraHandles = Map.of("leaky", "https://api.example/jobs/x?key=sk-secret-value-123", "userinfo",
        "https://user:pw@api.example/jobs/x", "endpoint", "ep-1");
    ImageGenerationService s = crashingServiceWith(1, p, "node-1", Duration.ofMinutes(5));
    try {
      String file = Files.readString(jobFiles().get(0));
      assertThat(file).doesNotContain("sk-secret-value-123").doesNotContain("user:pw").contains("ep-1").contains("node-1");
      JobJournal.Entry e = JobJournal.directory(dir).open().get(0);
      assertThat(e.handles()).containsOnlyKeys("status", "endpoint");
      assertThat(e.owner()).isEqualTo("node-1");
      assertThat(e.provider()).isEqualTo("jobs");
      assertThat(e.estimatedCost()).isEqualTo("0.04");
      assertThat(e.deadline()).isAfter(Instant.now().plus(Duration.ofMinutes(4)));
    } finally {
      s.shutdown(Duration.ZERO);
    }
  }

  @Test
  void aJournalDirectoryThatCannotBeWrittenIsAConfigurationErrorAtBuild() throws Exception {
    Path file = Files.writeString(dir.resolve("a-file"), "x");
    assertThatThrownBy(() -> ImageGenerationService.builder().provider(new JobProvider("jobs", true, true), config("jobs"))
        .journal(file.resolve("journal")).build()).isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("journal");
  }

  @Test
  void theJournalIsOneSettingAwayAndABadValueIsReported() throws Exception {
    Properties props = new Properties();
    props.setProperty("imagegen.journal", "dir:" + dir.resolve("j"));
    props.setProperty("imagegen.instance-id", "node-7");
    try (ImageGenerationService s = ImageGenerationService.builder().configureFrom(Map.of(), props)
        .provider(new JobProvider("jobs", true, true), config("jobs")).build()) {
      assertThat(s.configurationWarnings()).noneMatch(w -> w.contains("journal") || w.contains("instance-id"));
      assertThat(Files.exists(dir.resolve("j").resolve("node-7.lease"))).isTrue();
      assertThat(Files.readString(dir.resolve("j").resolve("node-7.lease"))).contains("lease=PT10S");
    }
    props.setProperty("imagegen.journal.lease", "3s");
    try (ImageGenerationService s = ImageGenerationService.builder().configureFrom(Map.of(), props)
        .provider(new JobProvider("jobs", true, true), config("jobs")).build()) {
      assertThat(s.configurationWarnings()).noneMatch(w -> w.contains("journal"));
      assertThat(Files.readString(dir.resolve("j").resolve("node-7.lease"))).as("the lease others judge it by")
          .contains("lease=PT3S");
    }
    Properties bad = new Properties();
    bad.setProperty("imagegen.journal", "/no/prefix");
    bad.setProperty("imagegen.instance-id", "no spaces/allowed");
    bad.setProperty("imagegen.journal.lease", "50ms");
    assertThatThrownBy(() -> ImageGenerationService.builder().configureFrom(Map.of(), bad).build())
        .isInstanceOf(ConfigurationException.class).hasMessageContaining("imagegen.journal")
        .hasMessageContaining("imagegen.instance-id").hasMessageContaining("imagegen.journal.lease");
    assertThatThrownBy(() -> ImageGenerationService.builder().journalLease(Duration.ofMillis(10)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("100 ms");
  }
}
