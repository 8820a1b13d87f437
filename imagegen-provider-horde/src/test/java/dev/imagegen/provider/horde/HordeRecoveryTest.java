package dev.imagegen.provider.horde;

import static com.github.tomakehurst.wiremock.client.WireMock.deleteRequestedFor;
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
import dev.imagegen.testkit.stubs.HordeStubs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Horde requests left by a process that died, resumed or deleted by the next one from the job journal. */
class HordeRecoveryTest {
  static final String KEY = "hordekey-Zq81xW0";
  static final String BASE = HordeStubs.BASE;
  static final String ID = HordeStubs.ID;
  WireMockServer server;
  HordeStubs stubs;
  @TempDir Path dir;

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    stubs = new HordeStubs(server);
  }

  @AfterEach
  void stop() {
    server.stop();
  }

  ImageGenerationService.Builder service(List<RecoveredJob> delivered) {
    ProviderConfig c = ProviderConfig.builder("horde").baseUrl(server.baseUrl() + BASE).apiKey(KEY).set("poll-interval", "1s")
        .build();
    return ImageGenerationService.builder().provider(new HordeProviderFactory(), c).journal(dir).instanceId("worker-1")
        .onRecovered(delivered::add);
  }

  private void entry(Instant deadline) {
    JobJournal.directory(dir).started(new JobJournal.Entry("gen-1", "horde", ID, Map.of("model", HordeStubs.MODEL, "images",
        "1"), "hash", deadline, Instant.now(), "worker-1", JobJournal.RUNNING, null, "0"));
  }

  private List<Path> jobFiles() throws Exception {
    try (var files = Files.list(dir)) {
      return files.filter(f -> f.toString().endsWith(".job.json")).toList();
    }
  }

  @Test
  void aSubmittedRequestIsJournalledWithItsModel() throws Exception {
    stubs.neverFinishes();
    try (ImageGenerationService s = service(new CopyOnWriteArrayList<>()).build()) {
      s.generateAsync(ImageGenerationRequest.builder().prompt("a red fox").build());
      long t0 = System.nanoTime();
      while (jobFiles().isEmpty() && System.nanoTime() - t0 < 10_000_000_000L) {
        Thread.sleep(20);
      }
      JobJournal.Entry e = JobJournal.directory(dir).open().get(0);
      assertThat(e.remoteJobId()).isEqualTo(ID);
      assertThat(e.handles()).containsKeys("model", "images");
      assertThat(Files.readString(jobFiles().get(0))).doesNotContain(KEY);
    }
  }

  @Test
  void aRequestLeftByACrashedProcessIsCheckedToItsEndAndNeverSubmittedAgain() throws Exception {
    entry(Instant.now().plusSeconds(60));
    StubImage img = StubImages.png(16, 16, 9);
    stubs.finishesWith(img);
    List<RecoveredJob> delivered = new CopyOnWriteArrayList<>();
    try (ImageGenerationService s = service(delivered).build()) {
      RecoveryReport report = s.recover();
      assertThat(report.with(Action.RESUMED)).as(report.toString()).hasSize(1);
      assertThat(delivered).singleElement().satisfies(j -> assertThat(j.result().images().get(0).bytes()).isEqualTo(img.bytes()));
    }
    server.verify(0, postRequestedFor(urlPathEqualTo(BASE + "/generate/async")));
    server.verify(0, deleteRequestedFor(urlPathEqualTo(BASE + "/generate/status/" + ID)));
    assertThat(server.findAll(getRequestedFor(urlPathEqualTo(BASE + "/generate/check/" + ID))))
        .isNotEmpty().allSatisfy(r -> assertThat(r.getHeader("apikey")).isEqualTo(KEY));
    assertThat(jobFiles()).isEmpty();
  }

  @Test
  void aRequestPastItsDeadlineIsDeleted() throws Exception {
    entry(Instant.now().minusSeconds(5));
    stubs.cancellable();
    try (ImageGenerationService s = service(new CopyOnWriteArrayList<>()).build()) {
      assertThat(s.recover().with(Action.CANCELLED)).hasSize(1);
    }
    server.verify(1, deleteRequestedFor(urlPathEqualTo(BASE + "/generate/status/" + ID)));
    server.verify(0, getRequestedFor(urlPathEqualTo(BASE + "/generate/check/" + ID)));
    assertThat(jobFiles()).isEmpty();
  }
}
