package dev.imagegen.provider.replicate;

import static com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.JobJournal;
import dev.imagegen.RecoveredJob;
import dev.imagegen.RecoveryReport;
import dev.imagegen.RecoveryReport.Action;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.ReplicateStubs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Predictions left running by a process that died, resumed or cancelled by the next one from the job journal. */
class ReplicateRecoveryTest {
  static final String KEY = ReplicateProviderTest.KEY;
  static WireMockServer server;
  static WireMockServer elsewhere;
  ReplicateStubs stubs;
  @TempDir Path dir;

  @BeforeAll
  static void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    elsewhere = new WireMockServer(options().dynamicPort());
    elsewhere.start();
  }

  @AfterAll
  static void stop() {
    server.stop();
    elsewhere.stop();
  }

  @BeforeEach
  void reset() {
    server.resetAll();
    elsewhere.resetAll();
    stubs = new ReplicateStubs(server);
  }

  ProviderConfig config() {
    return ProviderConfig.builder("replicate").apiKey(KEY).baseUrl(server.baseUrl() + "/v1").set("poll-interval", "100ms")
        .set("wait-seconds", "0").build();
  }

  ImageGenerationService.Builder service(List<RecoveredJob> delivered) {
    return ImageGenerationService.builder().provider(new ReplicateProviderFactory(), config()).journal(dir)
        .instanceId("worker-1").onRecovered(delivered::add);
  }

  private void entry(String id, Map<String, String> handles, Instant deadline) {
    JobJournal.directory(dir).started(new JobJournal.Entry("gen-" + id, "replicate", id, handles, "hash", deadline,
        Instant.now(), "worker-1", JobJournal.RUNNING, null, null));
  }

  private Map<String, String> urlsOn(WireMockServer host, String id) {
    return Map.of("get", host.baseUrl() + "/v1/predictions/" + id, "cancel", host.baseUrl() + "/v1/predictions/" + id + "/cancel");
  }

  private List<Path> jobFiles() throws Exception {
    try (var files = Files.list(dir)) {
      return files.filter(f -> f.toString().endsWith(".job.json")).toList();
    }
  }

  @Test
  void aPredictionLeftByACrashedProcessIsPolledToItsEndByTheNextAndNeverCreatedAgain() throws Exception {
    stubs.neverFinishes();
    List<RecoveredJob> none = new CopyOnWriteArrayList<>();
    ImageGenerationService crashed = service(none).build();
    crashed.generateAsync(ImageGenerationRequest.builder().prompt("a red fox").timeout(Duration.ofMinutes(5)).build());
    long t0 = System.nanoTime();
    while (jobFiles().isEmpty() && System.nanoTime() - t0 < 10_000_000_000L) {
      Thread.sleep(20);
    }
    JobJournal.Entry e = JobJournal.directory(dir).open().get(0);
    assertThat(e.handles()).as("the prediction's urls.get and urls.cancel are journalled")
        .containsEntry("get", server.baseUrl() + "/v1/predictions/" + e.remoteJobId())
        .containsEntry("cancel", server.baseUrl() + "/v1/predictions/" + e.remoteJobId() + "/cancel");
    assertThat(Files.readString(jobFiles().get(0))).doesNotContain(KEY);
    byte[] left = Files.readAllBytes(jobFiles().get(0));
    Path file = jobFiles().get(0);
    crashed.shutdown(Duration.ofSeconds(2)); // the entry put back as a kill would have left it
    Files.write(file, left);

    server.resetAll();
    StubImage img = StubImages.png(32, 32, 7);
    String path = stubs.serveImage(e.remoteJobId(), 0, img);
    server.stubFor(ReplicateStubs.anyPoll().willReturn(ReplicateStubs.json(200,
        stubs.prediction(e.remoteJobId(), "succeeded").output(path).metrics(1, 0.5).json())));
    List<RecoveredJob> delivered = new CopyOnWriteArrayList<>();
    try (ImageGenerationService s = service(delivered).build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.RESUMED)).as(report.toString()).hasSize(1);
      assertThat(delivered).singleElement().satisfies(j -> {
        assertThat(j.result()).isNotNull();
        assertThat(j.result().images().get(0).bytes()).isEqualTo(img.bytes());
        assertThat(j.result().remoteJobId()).isEqualTo(e.remoteJobId());
      });
      server.verify(0, stubs.submitRequests());
      server.verify(0, postRequestedFor(urlPathEqualTo("/v1/predictions/" + e.remoteJobId() + "/cancel")));
      List<LoggedRequest> polls = server.findAll(getRequestedFor(urlPathEqualTo("/v1/predictions/" + e.remoteJobId())));
      assertThat(polls).isNotEmpty().allSatisfy(p -> assertThat(p.getHeader("Authorization")).isEqualTo("Bearer " + KEY));
      assertThat(jobFiles()).isEmpty();
    }
  }

  @Test
  void aPredictionPastItsDeadlineIsCancelledAtItsCancelUrl() throws Exception {
    String id = ReplicateStubs.newId();
    entry(id, urlsOn(server, id), Instant.now().minusSeconds(5));
    stubs.cancelAnswers(id);
    try (ImageGenerationService s = service(new CopyOnWriteArrayList<>()).build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.CANCELLED)).as(report.toString()).hasSize(1);
      List<LoggedRequest> cancels = server.findAll(postRequestedFor(urlPathEqualTo("/v1/predictions/" + id + "/cancel")));
      assertThat(cancels).hasSize(1);
      assertThat(cancels.get(0).getHeader("Authorization")).isEqualTo("Bearer " + KEY);
      server.verify(0, stubs.submitRequests());
      server.verify(0, stubs.pollRequests());
      assertThat(jobFiles()).isEmpty();
    }
  }

  @Test
  void aJournalEditedToPointAtAnotherHostNeverSendsItTheToken() throws Exception {
    String id = ReplicateStubs.newId();
    entry(id, urlsOn(elsewhere, id), Instant.now().plusSeconds(60));
    String id2 = ReplicateStubs.newId();
    entry(id2, urlsOn(elsewhere, id2), Instant.now().minusSeconds(5));
    StubImage img = StubImages.png(16, 16, 3);
    String path = stubs.serveImage(id, 0, img);
    server.stubFor(ReplicateStubs.anyPoll().willReturn(ReplicateStubs.json(200,
        stubs.prediction(id, "succeeded").output(path).json())));
    stubs.cancelAnswers(id2);
    try (ImageGenerationService s = service(new CopyOnWriteArrayList<>()).build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.RESUMED)).hasSize(1);
      assertThat(report.with(Action.CANCELLED)).hasSize(1);
    }
    elsewhere.verify(0, anyRequestedFor(anyUrl()));
    server.verify(1, getRequestedFor(urlPathEqualTo("/v1/predictions/" + id)));
    server.verify(1, postRequestedFor(urlPathEqualTo("/v1/predictions/" + id2 + "/cancel")));
  }

  @Test
  void aFailedPredictionIsDeliveredAsAnError() throws Exception {
    String id = ReplicateStubs.newId();
    entry(id, urlsOn(server, id), Instant.now().plusSeconds(60));
    server.stubFor(ReplicateStubs.anyPoll().willReturn(ReplicateStubs.json(200,
        stubs.prediction(id, "failed").error("CUDA out of memory").json())));
    stubs.cancelAnswers(id);
    List<RecoveredJob> delivered = new CopyOnWriteArrayList<>();
    try (ImageGenerationService s = service(delivered).build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.RESUME_FAILED)).hasSize(1);
      assertThat(delivered).singleElement().satisfies(j -> assertThat(j.error()).hasMessageContaining("CUDA out of memory"));
      server.verify(0, stubs.submitRequests());
    }
  }
}
