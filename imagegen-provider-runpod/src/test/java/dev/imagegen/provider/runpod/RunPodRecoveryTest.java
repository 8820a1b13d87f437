package dev.imagegen.provider.runpod;

import static com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.JobJournal;
import dev.imagegen.RecoveredJob;
import dev.imagegen.RecoveryReport;
import dev.imagegen.RecoveryReport.Action;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.RunPodStubs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** RunPod jobs left by a process that died, resumed or cancelled by the next one from the job journal. */
class RunPodRecoveryTest {
  static final String KEY = "rpa_TESTKEY0123456789ABCDEF";
  static final String ENDPOINT = RunPodStubs.ENDPOINT;
  static final String JOB = RunPodStubs.JOB_ID;
  WireMockServer server;
  RunPodStubs stubs;
  @TempDir Path dir;

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    stubs = new RunPodStubs(server);
  }

  @AfterEach
  void stop() {
    server.stop();
  }

  ImageGenerationService.Builder service(List<RecoveredJob> delivered) {
    ProviderConfig c = ProviderConfig.builder("runpod").apiKey(KEY).baseUrl(server.baseUrl() + "/v2").set("endpoint", ENDPOINT)
        .set("poll-interval", "200ms").build();
    return ImageGenerationService.builder().provider(new RunPodProviderFactory(), c).journal(dir).instanceId("worker-1")
        .onRecovered(delivered::add);
  }

  private void entry(String endpoint, Instant deadline) {
    JobJournal.directory(dir).started(new JobJournal.Entry("gen-1", "runpod", JOB, Map.of("endpoint", endpoint, "model", endpoint),
        "hash", deadline, Instant.now(), "worker-1", JobJournal.RUNNING, null, null));
  }

  private List<Path> jobFiles() throws Exception {
    try (var files = Files.list(dir)) {
      return files.filter(f -> f.toString().endsWith(".job.json")).toList();
    }
  }

  @Test
  void aSubmittedJobIsJournalledWithItsEndpoint() throws Exception {
    stubs.neverFinishes();
    try (ImageGenerationService s = service(new CopyOnWriteArrayList<>()).build()) {
      s.generateAsync(ImageGenerationRequest.builder().prompt("a red fox").build());
      long t0 = System.nanoTime();
      while (jobFiles().isEmpty() && System.nanoTime() - t0 < 10_000_000_000L) {
        Thread.sleep(20);
      }
      JobJournal.Entry e = JobJournal.directory(dir).open().get(0);
      assertThat(e.remoteJobId()).isEqualTo(JOB);
      assertThat(e.handles()).containsEntry("endpoint", ENDPOINT);
      assertThat(Files.readString(jobFiles().get(0))).doesNotContain(KEY);
    }
  }

  @Test
  void aJobLeftByACrashedProcessIsPolledToItsEndAndNeverSubmittedAgain() throws Exception {
    entry(ENDPOINT, Instant.now().plusSeconds(60));
    StubImage img = StubImages.png(20, 20, 5);
    stubs.statusAnswers(RunPodStubs.completed(List.of(RunPodStubs.dataUri(img)), 5));
    List<RecoveredJob> delivered = new CopyOnWriteArrayList<>();
    try (ImageGenerationService s = service(delivered).build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.RESUMED)).as(report.toString()).hasSize(1);
      assertThat(delivered).singleElement().satisfies(j -> assertThat(j.result().images().get(0).bytes()).isEqualTo(img.bytes()));
    }
    server.verify(0, postRequestedFor(urlPathEqualTo(stubs.path("/run"))));
    server.verify(getRequestedFor(urlPathEqualTo(stubs.path("/status/" + JOB))));
    assertThat(server.findAll(getRequestedFor(urlPathEqualTo(stubs.path("/status/" + JOB)))))
        .allSatisfy(r -> assertThat(r.getHeader("Authorization")).isEqualTo("Bearer " + KEY));
    assertThat(jobFiles()).isEmpty();
  }

  @Test
  void aJobPastItsDeadlineIsCancelled() throws Exception {
    entry(ENDPOINT, Instant.now().minusSeconds(5));
    stubs.acceptsCancel();
    try (ImageGenerationService s = service(new CopyOnWriteArrayList<>()).build()) {
      assertThat(s.recover().with(Action.CANCELLED)).hasSize(1);
    }
    server.verify(1, postRequestedFor(urlPathEqualTo(stubs.path("/cancel/" + JOB))));
    server.verify(0, getRequestedFor(urlPathEqualTo(stubs.path("/status/" + JOB))));
    assertThat(jobFiles()).isEmpty();
  }

  @Test
  void anEndpointThisConfigurationDoesNotNameIsNeverCalled() throws Exception {
    entry("someoneelses", Instant.now().plusSeconds(60));
    try (ImageGenerationService s = service(new CopyOnWriteArrayList<>()).build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.RESUME_FAILED)).singleElement()
          .satisfies(i -> assertThat(i.reason()).contains("someoneelses").contains("does not name"));
    }
    server.verify(0, anyRequestedFor(anyUrl()));
    assertThat(jobFiles()).as("kept for a configuration that names it").hasSize(1);
  }
}
