package dev.imagegen.provider.fal;

import static com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.putRequestedFor;
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
import dev.imagegen.testkit.stubs.FalStubs;
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

/** Queue requests left by a process that died, resumed or cancelled by the next one from the job journal. */
class FalRecoveryTest {
  static final String KEY = FalProviderTest.KEY;
  static final String ROOT = FalStubs.FLUX_ROOT;
  static final String ID = FalStubs.REQUEST_ID;
  WireMockServer server;
  WireMockServer elsewhere;
  FalStubs stubs;
  @TempDir Path dir;

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    elsewhere = new WireMockServer(options().dynamicPort());
    elsewhere.start();
    stubs = new FalStubs(server);
  }

  @AfterEach
  void stop() {
    server.stop();
    elsewhere.stop();
  }

  ImageGenerationService.Builder service(List<RecoveredJob> delivered) {
    ProviderConfig c = ProviderConfig.builder("fal").apiKey(KEY).baseUrl(server.baseUrl()).set("storage-url", server.baseUrl())
        .set("poll-interval", "100ms").build();
    return ImageGenerationService.builder().provider(new FalProviderFactory(), c).journal(dir).instanceId("worker-1")
        .onRecovered(delivered::add);
  }

  private List<Path> jobFiles() throws Exception {
    try (var files = Files.list(dir)) {
      return files.filter(f -> f.toString().endsWith(".job.json")).toList();
    }
  }

  private void entry(String base, Instant deadline) {
    String url = base + "/" + ROOT + "/requests/" + ID;
    JobJournal.directory(dir).started(new JobJournal.Entry("gen-1", "fal", ID, Map.of("app", "fal-ai/flux/schnell",
        "status", url + "/status", "response", url, "cancel", url + "/cancel"), "hash", deadline, Instant.now(), "worker-1",
        JobJournal.RUNNING, null, "0.003"));
  }

  private StubImage completedWithImage() {
    StubImage img = StubImages.png(24, 24, 11);
    String path = FalStubs.imagePath(img, "resumed");
    stubs.stubImage(path, img);
    stubs.stubStatus(ROOT, ID, stubs.completed(ROOT, ID));
    stubs.stubResult(ROOT, ID, 200, stubs.fluxResult(List.of(img), List.of(path), List.of(false), 11, "a red fox"));
    return img;
  }

  @Test
  void aRequestLeftByACrashedProcessIsReadToItsEndByTheNextAndNeverSubmittedAgain() throws Exception {
    stubs.neverFinishes();
    ImageGenerationService crashed = service(new CopyOnWriteArrayList<>()).build();
    crashed.generateAsync(ImageGenerationRequest.builder().prompt("a red fox").timeout(Duration.ofMinutes(5)).build());
    long t0 = System.nanoTime();
    while (jobFiles().isEmpty() && System.nanoTime() - t0 < 10_000_000_000L) {
      Thread.sleep(20);
    }
    JobJournal.Entry e = JobJournal.directory(dir).open().get(0);
    assertThat(e.handles()).as("the queue's URLs and the app are journalled")
        .containsEntry("status", stubs.requestUrl(ROOT, ID, "/status"))
        .containsEntry("response", stubs.requestUrl(ROOT, ID, ""))
        .containsEntry("cancel", stubs.requestUrl(ROOT, ID, "/cancel"))
        .containsEntry("app", "fal-ai/flux/schnell");
    Path file = jobFiles().get(0);
    byte[] left = Files.readAllBytes(file);
    assertThat(new String(left, java.nio.charset.StandardCharsets.UTF_8)).doesNotContain("fal-key-secret");
    crashed.shutdown(Duration.ofSeconds(2)); // the entry put back as a kill would have left it
    Files.write(file, left);

    server.resetAll();
    StubImage img = completedWithImage();
    List<RecoveredJob> delivered = new CopyOnWriteArrayList<>();
    try (ImageGenerationService s = service(delivered).build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.RESUMED)).as(report.toString()).hasSize(1);
      assertThat(delivered).singleElement().satisfies(j ->
          assertThat(j.result().images().get(0).bytes()).isEqualTo(img.bytes()));
      server.verify(0, stubs.submitRequests());
      server.verify(0, stubs.cancelRequests());
      List<LoggedRequest> reads = server.findAll(getRequestedFor(urlPathEqualTo("/" + ROOT + "/requests/" + ID + "/status")));
      assertThat(reads).isNotEmpty().allSatisfy(r -> assertThat(r.getHeader("Authorization")).isEqualTo("Key " + KEY));
      assertThat(jobFiles()).isEmpty();
    }
  }

  @Test
  void aRequestPastItsDeadlineIsCancelledAtItsCancelUrl() throws Exception {
    entry(server.baseUrl(), Instant.now().minusSeconds(5));
    stubs.stubCancel(ROOT, ID);
    try (ImageGenerationService s = service(new CopyOnWriteArrayList<>()).build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.CANCELLED)).as(report.toString()).hasSize(1);
      List<LoggedRequest> cancels = server.findAll(putRequestedFor(urlPathEqualTo("/" + ROOT + "/requests/" + ID + "/cancel")));
      assertThat(cancels).singleElement().satisfies(c -> assertThat(c.getHeader("Authorization")).isEqualTo("Key " + KEY));
      server.verify(0, stubs.submitRequests());
      server.verify(0, stubs.pollRequests());
      assertThat(jobFiles()).isEmpty();
    }
  }

  @Test
  void aJournalEditedToPointAtAnotherHostNeverSendsItTheKey() throws Exception {
    entry(elsewhere.baseUrl(), Instant.now().plusSeconds(60));
    completedWithImage();
    try (ImageGenerationService s = service(new CopyOnWriteArrayList<>()).build()) {
      assertThat(s.recover().with(Action.RESUMED)).hasSize(1);
    }
    elsewhere.verify(0, anyRequestedFor(anyUrl()));
    server.verify(getRequestedFor(urlPathEqualTo("/" + ROOT + "/requests/" + ID)));

    Files.list(dir).filter(f -> f.toString().endsWith(".job.json")).forEach(f -> f.toFile().delete());
    entry(elsewhere.baseUrl(), Instant.now().minusSeconds(5));
    stubs.stubCancel(ROOT, ID);
    try (ImageGenerationService s = service(new CopyOnWriteArrayList<>()).build()) {
      assertThat(s.recover().with(Action.CANCELLED)).hasSize(1);
    }
    elsewhere.verify(0, anyRequestedFor(anyUrl()));
    server.verify(1, putRequestedFor(urlPathEqualTo("/" + ROOT + "/requests/" + ID + "/cancel")));
  }
}
