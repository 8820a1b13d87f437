package dev.imagegen.provider.runpod;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.matching.RequestPatternBuilder;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.Attempt;
import dev.imagegen.AuthenticationException;
import dev.imagegen.Cost;
import dev.imagegen.ErrorKind;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationJob;
import dev.imagegen.GenerationTimeoutException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.NoCapableProviderException;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.RunPodStubs;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** RunPod-specific behaviour against WireMock stubs shaped like RunPod's serverless API. */
class RunPodProviderTest {
  private static final String KEY = "rpa_TESTKEY0123456789ABCDEF";
  private static final String ENDPOINT = RunPodStubs.ENDPOINT;
  private static final String JOB = RunPodStubs.JOB_ID;
  private static final ObjectMapper JSON = new ObjectMapper();
  private static WireMockServer server;
  private RunPodStubs stubs;

  @BeforeAll
  static void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  @BeforeEach
  void reset() {
    server.resetAll();
    stubs = new RunPodStubs(server);
  }

  // ------------------------------------------------------------------ helpers

  private ProviderConfig.Builder config() {
    return ProviderConfig.builder("runpod")
        .apiKey(KEY)
        .baseUrl(server.baseUrl() + "/v2")
        .set("endpoint", ENDPOINT)
        .set("poll-interval", "200ms")
        .set("timeout", "5s");
  }

  private static ImageGenerationService service(ProviderConfig config) {
    return ImageGenerationService.builder().provider(new RunPodProviderFactory(), config).maxRetries(0)
        .defaultTimeout(Duration.ofSeconds(20)).build();
  }

  private static ImageGenerationRequest.Builder request() {
    return ImageGenerationRequest.builder().prompt("a red fox in the snow");
  }

  private static List<LoggedRequest> calls(RequestPatternBuilder pattern) {
    return server.findAll(pattern);
  }

  private static List<LoggedRequest> submits() {
    return calls(postRequestedFor(urlPathEqualTo("/v2/" + ENDPOINT + "/run")));
  }

  private static void waitFor(BooleanSupplier condition, String what) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(50);
    }
  }

  /** A second provider that always succeeds, for failover. */
  private static final class Backup implements ImageProvider {
    final StubImage image = StubImages.png(32, 32, 99);
    volatile int calls;

    @Override public String id() { return "backup"; }
    @Override public ProviderCapabilities capabilities() { return ProviderCapabilities.builder().negativePrompt(true).seed(true).build(); }
    @Override public CostModel costModel() { return CostModel.free(); }

    @Override
    public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context) {
      calls++;
      return CompletableFuture.completedFuture(ProviderResult.builder("backup-model")
          .image(GeneratedImage.of(image.bytes(), 99L, null, false)).build());
    }

    @Override
    public CompletableFuture<ProviderHealth> health(ProviderContext context) {
      return CompletableFuture.completedFuture(ProviderHealth.up("backup", Duration.ZERO));
    }
  }

  private static ImageGenerationService withBackup(ProviderConfig runpod, Backup backup) {
    return withBackup(runpod, backup, 0);
  }

  private static ImageGenerationService withBackup(ProviderConfig runpod, Backup backup, int maxRetries) {
    return ImageGenerationService.builder()
        .provider(new RunPodProviderFactory(), runpod)
        .provider(backup, ProviderConfig.builder("backup").set("priority", "1000000").build())
        .maxRetries(maxRetries)
        .retryBackoff(Duration.ofMillis(10), Duration.ofMillis(50))
        .defaultTimeout(Duration.ofSeconds(20))
        .build();
  }

  // ------------------------------------------------------------------ outputs

  @Nested
  class Outputs {
    @Test
    void aRunawayPromptIsRefusedBeforeAnythingIsSent() {
      stubs.success(StubImages.png(64, 48, 42));
      try (ImageGenerationService s = service(config().build())) {
        assertThatThrownBy(() -> s.generateImage(request().prompt("a".repeat(1 << 20)).build(), "runpod"))
            .isInstanceOf(dev.imagegen.InvalidRequestException.class)
            .hasMessageContaining("prompt is 1048576 characters; runpod accepts at most 10000");
        assertThat(s.generateImage(request().providerOption("runpod", "refiner_inference_steps", 10).build(), "runpod")
            .provider()).as("any input field of the worker passes").isEqualTo("runpod");
      }
      assertThat(calls(postRequestedFor(urlPathEqualTo("/v2/" + ENDPOINT + "/run")))).hasSize(1);
    }

    @Test
    void readsWorkerSdxlBase64DataUrisAndSendsTheSdxlInput() {
      StubImage image = StubImages.png(64, 48, 42);
      stubs.success(image);
      ImageGenerationRequest req = request().negativePrompt("blurry").size(1024, 768).seed(42L).steps(30).guidanceScale(6.5)
          .build();
      try (ImageGenerationService s = service(config().build())) {
        ImageGenerationResponse r = s.generateImage(req, "runpod");

        assertThat(r.provider()).isEqualTo("runpod");
        assertThat(r.images()).hasSize(1);
        assertThat(r.image().bytes()).isEqualTo(image.bytes());
        assertThat(r.image().seed()).isEqualTo(42L);
        assertThat(r.model()).isEqualTo(ENDPOINT);
        assertThat(r.metadata()).containsEntry("worker_id", RunPodStubs.WORKER_ID).containsEntry("job_id", JOB);
        assertThat(r.attempts()).last().extracting(Attempt::remoteJobId).isEqualTo(JOB);
      }
      List<LoggedRequest> submits = submits();
      assertThat(submits).hasSize(1);
      stubs.assertSubmitted(req, submits.get(0), KEY);
      JsonNode input = RunPodStubs.body(submits.get(0)).path("input");
      assertThat(input.path("prompt").asText()).isEqualTo("a red fox in the snow");
      assertThat(input.path("negative_prompt").asText()).isEqualTo("blurry");
      assertThat(input.path("width").isInt()).isTrue();
      assertThat(input.path("guidance_scale").asDouble()).isEqualTo(6.5);
      assertThat(input.path("num_inference_steps").asInt()).isEqualTo(30);
      assertThat(input.path("num_images").asInt()).isEqualTo(1);
      assertThat(calls(getRequestedFor(urlPathEqualTo("/v2/" + ENDPOINT + "/status/" + JOB))))
          .isNotEmpty()
          .allSatisfy(p -> assertThat(p.getHeader("Authorization")).isEqualTo("Bearer " + KEY));
      assertThat(calls(postRequestedFor(urlPathEqualTo("/v2/" + ENDPOINT + "/cancel/" + JOB)))).isEmpty();
    }

    @Test
    void downloadsPresignedS3Urls() {
      StubImage a = StubImages.png(40, 40, 7);
      StubImage b = StubImages.jpeg(40, 40, 8);
      stubs.acceptsSubmit();
      stubs.statusAnswers(RunPodStubs.completed(List.of(stubs.bucketUrl(a, "a1b2c3d4"), stubs.bucketUrl(b, "e5f6a7b8")), 7));
      try (ImageGenerationService s = service(config().build())) {
        ImageGenerationResponse r = s.generateImage(request().numImages(2).build(), "runpod");

        assertThat(r.images()).extracting(GeneratedImage::bytes).containsExactly(a.bytes(), b.bytes());
        assertThat(r.images().get(0).sourceUrl()).contains("/bucket/" + JOB + "/a1b2c3d4.png");
        assertThat(r.warnings()).isEmpty();
      }
      assertThat(calls(getRequestedFor(urlPathEqualTo("/bucket/" + JOB + "/a1b2c3d4.png")))).hasSize(1);
      assertThat(RunPodStubs.body(submits().get(0)).path("input").path("num_images").asInt()).isEqualTo(2);
    }

    @Test
    void readsComfyUiBase64WithoutDataPrefixAndReportsItsErrors() {
      StubImage image = StubImages.png(32, 32, 3);
      ObjectNode output = JSON.createObjectNode();
      ObjectNode img = output.putArray("images").addObject();
      img.put("filename", "ComfyUI_00001_.png");
      img.put("type", "base64");
      img.put("data", Base64.getEncoder().encodeToString(image.bytes()));
      output.putArray("errors").add("node 12: preview skipped");
      stubs.acceptsSubmit();
      stubs.statusAnswers(RunPodStubs.completedWith(output));
      try (ImageGenerationService s = service(config().build())) {
        ImageGenerationResponse r = s.generateImage(request().build(), "runpod");

        assertThat(r.image().bytes()).isEqualTo(image.bytes());
        assertThat(r.warnings()).anySatisfy(w -> assertThat(w).contains("node 12: preview skipped"));
      }
    }

    @Test
    void completedWithoutImagesIsAFailureNotASuccess() {
      ObjectNode output = JSON.createObjectNode();
      output.putArray("errors").add("ComfyUI produced no output");
      stubs.acceptsSubmit();
      stubs.statusAnswers(RunPodStubs.completedWith(output));
      try (ImageGenerationService s = service(config().build())) {
        assertThatThrownBy(() -> s.generateImage(request().build(), "runpod"))
            .isInstanceOf(ProviderUnavailableException.class)
            .hasMessageContaining("without images")
            .hasMessageContaining("ComfyUI produced no output");
      }
    }

    @Test
    void reportsQueuedThenRunningAsProgress() throws Exception {
      stubs.queuedThenRunningThenDone(StubImages.png(32, 32, 1));
      List<ProgressEvent> events = new CopyOnWriteArrayList<>();
      try (ImageGenerationService s = service(config().build())) {
        GenerationJob job = s.submit(request().build()).onProgress(events::add);
        job.result().get(15, TimeUnit.SECONDS);
      }
      List<ProgressEvent.Stage> stages = events.stream().map(ProgressEvent::stage).distinct().toList();
      assertThat(stages).containsSubsequence(ProgressEvent.Stage.QUEUED, ProgressEvent.Stage.RUNNING,
          ProgressEvent.Stage.DOWNLOADING, ProgressEvent.Stage.DONE);
      assertThat(calls(getRequestedFor(urlPathEqualTo("/v2/" + ENDPOINT + "/status/" + JOB)))).hasSizeGreaterThanOrEqualTo(5);
      assertThat(submits()).hasSize(1);
    }
  }

  // ------------------------------------------------------------------ job failures

  @Nested
  class Failures {
    @Test
    void workerKeyErrorIsTheWorkersTextAndNotRetried() {
      stubs.acceptsSubmit();
      stubs.statusAnswers(RunPodStubs.failed(JSON.getNodeFactory().textNode(RunPodStubs.KEY_ERROR)));
      ImageGenerationService s = ImageGenerationService.builder().provider(new RunPodProviderFactory(), config().build())
          .maxRetries(2).build();
      try (s) {
        assertThatThrownBy(() -> s.generateImage(request().build(), "runpod"))
            .isInstanceOf(InvalidRequestException.class)
            .hasMessageContaining("KeyError")
            .hasMessageContaining("'K_DPM'")
            .hasMessageContaining(JOB)
            .hasMessageNotContaining("Traceback");
      }
      assertThat(submits()).hasSize(1);
    }

    @Test
    void workerValidationListIsAnInvalidRequest() {
      stubs.invalidRequest("Unexpected input. foo is not a valid input option.");
      try (ImageGenerationService s = service(config().build())) {
        assertThatThrownBy(() -> s.generateImage(request().build(), "runpod"))
            .isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.violations())
                .singleElement().asString().contains("foo is not a valid input option"));
      }
    }

    @Test
    void cudaOutOfMemoryIsRetryableAndFailsOver() {
      String oom = "{\"error_type\": \"<class 'torch.OutOfMemoryError'>\", \"error_message\": \"CUDA out of memory. Tried to"
          + " allocate 2.00 GiB\", \"error_traceback\": \"Traceback ...\", \"worker_id\": \"462u6mrq9s28h6\"}";
      stubs.acceptsSubmit();
      stubs.statusAnswers(RunPodStubs.failed(JSON.getNodeFactory().textNode(oom)));
      try (ImageGenerationService s = service(config().build())) {
        assertThatThrownBy(() -> s.generateImage(request().build(), "runpod"))
            .isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
              assertThat(e.retryMayHelp()).isTrue();
              assertThat(e.failoverMayHelp()).isTrue();
              assertThat(e.outcomeUnknown()).isFalse();
            })
            .hasMessageContaining("OutOfMemoryError: CUDA out of memory")
            .hasMessageContaining(RunPodStubs.WORKER_ID);
      }
    }

    @Test
    void timedOutJobFailsOverToTheNextProvider() {
      stubs.acceptsSubmit();
      stubs.statusAnswers(RunPodStubs.status("TIMED_OUT"));
      Backup backup = new Backup();
      try (ImageGenerationService s = withBackup(config().build(), backup)) {
        ImageGenerationResponse r = s.generateImageWithFailover(request().build());

        assertThat(r.provider()).isEqualTo("backup");
        Attempt first = r.attempts().get(0);
        assertThat(first.provider()).isEqualTo("runpod");
        assertThat(first.outcome()).isEqualTo(Attempt.Outcome.FAILED);
        assertThat(first.errorKind()).isEqualTo(ErrorKind.UNAVAILABLE);
        assertThat(first.message()).contains("timed out");
        assertThat(first.remoteJobId()).isEqualTo(JOB);
      }
      assertThat(submits()).hasSize(1);
      assertThat(backup.calls).isEqualTo(1);
    }

    @Test
    void timedOutJobIsNeverSubmittedAgainToTheSameEndpointEvenWithRetriesLeft() {
      stubs.acceptsSubmit();
      stubs.acceptsCancel();
      stubs.statusAnswers(RunPodStubs.status("TIMED_OUT"));
      Backup backup = new Backup();
      try (ImageGenerationService s = withBackup(config().build(), backup, 2)) {
        ImageGenerationResponse r = s.generateImageWithFailover(request().timeout(Duration.ofSeconds(300)).build());

        assertThat(r.provider()).isEqualTo("backup");
        Attempt first = r.attempts().get(0);
        assertThat(first.provider()).isEqualTo("runpod");
        assertThat(first.outcome()).isEqualTo(Attempt.Outcome.FAILED);
        assertThat(first.calls()).as("one call: no retry on RunPod").isEqualTo(1);
        assertThat(first.message()).contains("timed out").contains("may have been billed").contains("not resubmitted");
      }
      assertThat(submits()).as("exactly one /run in the journal").hasSize(1);
      assertThat(backup.calls).isEqualTo(1);
    }

    @Test
    void timedOutJobIsNotRetriedOnRunPod() {
      stubs.acceptsSubmit();
      stubs.statusAnswers(RunPodStubs.status("TIMED_OUT"));
      ImageGenerationService s = ImageGenerationService.builder().provider(new RunPodProviderFactory(), config().build())
          .maxRetries(2).retryBackoff(Duration.ofMillis(10), Duration.ofMillis(50)).build();
      try (s) {
        assertThatThrownBy(() -> s.generateImage(request().build(), "runpod"))
            .isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
              assertThat(e.retryMayHelp()).isFalse();
              assertThat(e.failoverMayHelp()).isTrue();
            });
      }
      assertThat(submits()).hasSize(1);
    }

    @Test
    void cancelledAtRunPodIsNotTakenForACallerCancel() {
      stubs.acceptsSubmit();
      stubs.statusAnswers(RunPodStubs.status("CANCELLED"));
      try (ImageGenerationService s = service(config().build())) {
        assertThatThrownBy(() -> s.generateImage(request().build(), "runpod"))
            .isInstanceOfSatisfying(ProviderUnavailableException.class, e -> assertThat(e.failoverMayHelp()).isTrue())
            .hasMessageContaining("cancelled at RunPod");
      }
    }

    @Test
    void expiredJobIsReportedLostAndNeverResubmitted() {
      stubs.acceptsSubmit();
      server.stubFor(get(urlPathEqualTo("/v2/" + ENDPOINT + "/status/" + JOB)).willReturn(aResponse().withStatus(404)));
      ImageGenerationService s = ImageGenerationService.builder().provider(new RunPodProviderFactory(), config().build())
          .maxRetries(2).build();
      try (s) {
        assertThatThrownBy(() -> s.generateImage(request().build(), "runpod"))
            .isInstanceOf(ProviderUnavailableException.class)
            .hasMessageContaining("no longer known");
      }
      assertThat(submits()).hasSize(1);
    }

    @Test
    void pollErrorsKeepTheJobInsteadOfResubmitting() {
      stubs.acceptsSubmit();
      String url = "/v2/" + ENDPOINT + "/status/" + JOB;
      StubImage image = StubImages.png(16, 16, 5);
      server.stubFor(get(urlPathEqualTo(url)).inScenario("poll").whenScenarioStateIs(Scenario.STARTED)
          .willReturn(aResponse().withStatus(502)).willSetStateTo("again"));
      server.stubFor(get(urlPathEqualTo(url)).inScenario("poll").whenScenarioStateIs("again")
          .willReturn(aResponse().withStatus(429)).willSetStateTo("ok"));
      server.stubFor(get(urlPathEqualTo(url)).inScenario("poll").whenScenarioStateIs("ok")
          .willReturn(okJson(RunPodStubs.completed(List.of(RunPodStubs.dataUri(image)), 5))));
      ImageGenerationService s = ImageGenerationService.builder().provider(new RunPodProviderFactory(),
          config().set("poll-max-interval", "200ms").build()).maxRetries(2).build();
      try (s) {
        assertThat(s.generateImage(request().build(), "runpod").image().bytes()).isEqualTo(image.bytes());
      }
      assertThat(submits()).hasSize(1);
    }

    @Test
    void unknownEndpointFailsOverWithoutRetry() {
      server.stubFor(post(urlPathEqualTo("/v2/" + ENDPOINT + "/run"))
          .willReturn(aResponse().withStatus(404)));
      Backup backup = new Backup();
      try (ImageGenerationService s = withBackup(config().build(), backup)) {
        ImageGenerationResponse r = s.generateImageWithFailover(request().build());
        assertThat(r.provider()).isEqualTo("backup");
        assertThat(r.attempts().get(0).message()).contains("endpoint '" + ENDPOINT + "' not found");
        assertThat(r.attempts().get(0).calls()).isEqualTo(1);
      }
      assertThat(submits()).hasSize(1);
    }

    @Test
    void pollingThatGivesUpCancelsTheJobAndNeverResubmits() throws InterruptedException {
      stubs.acceptsSubmit();
      stubs.acceptsCancel();
      server.stubFor(get(urlPathEqualTo("/v2/" + ENDPOINT + "/status/" + JOB)).willReturn(aResponse().withStatus(503)));
      ImageGenerationService s = ImageGenerationService.builder().provider(new RunPodProviderFactory(),
          config().set("poll-max-interval", "200ms").build()).maxRetries(2).build();
      try (s) {
        assertThatThrownBy(() -> s.generateImage(request().build(), "runpod"))
            .isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
              assertThat(e.retryMayHelp()).isFalse();
              assertThat(e.failoverMayHelp()).isTrue();
            })
            .hasMessageContaining("lost track of job " + JOB);
      }
      assertThat(submits()).hasSize(1);
      assertThat(calls(getRequestedFor(urlPathEqualTo("/v2/" + ENDPOINT + "/status/" + JOB)))).hasSizeGreaterThan(5);
      waitFor(() -> !calls(postRequestedFor(urlPathEqualTo("/v2/" + ENDPOINT + "/cancel/" + JOB))).isEmpty(), "the cancel");
      assertThat(calls(postRequestedFor(urlPathEqualTo("/v2/" + ENDPOINT + "/cancel/" + JOB)))).hasSize(1);
    }

    @Test
    void refusedKeyIsAnAuthenticationFailureWithoutTheKey() {
      stubs.authenticationRefused();
      try (ImageGenerationService s = service(config().build())) {
        assertThatThrownBy(() -> s.generateImage(request().build(), "runpod"))
            .isInstanceOf(AuthenticationException.class)
            .hasMessageContaining("401")
            .hasMessageNotContaining(KEY);
      }
    }
  }

  // ------------------------------------------------------------------ cancel

  @Nested
  class Cancel {
    @Test
    void callerCancelSendsTheRemoteCancel() throws Exception {
      stubs.neverFinishes();
      try (ImageGenerationService s = service(config().build())) {
        GenerationJob job = s.submit(request().build());
        waitFor(() -> !calls(getRequestedFor(urlPathEqualTo("/v2/" + ENDPOINT + "/status/" + JOB))).isEmpty(), "a poll");
        assertThat(job.cancel()).isTrue();
        waitFor(() -> !calls(postRequestedFor(urlPathEqualTo("/v2/" + ENDPOINT + "/cancel/" + JOB))).isEmpty(), "the cancel");
        assertThat(job.status()).isEqualTo(GenerationJob.Status.CANCELLED);
      }
      List<LoggedRequest> cancels = calls(postRequestedFor(urlPathEqualTo("/v2/" + ENDPOINT + "/cancel/" + JOB)));
      assertThat(cancels).hasSize(1);
      assertThat(cancels.get(0).getHeader("Authorization")).isEqualTo("Bearer " + KEY);
      assertThat(submits()).hasSize(1);
    }

    @Test
    void deadlineCancelsTheRemoteJob() {
      stubs.neverFinishes(); // no /health stub: the cold-start check must not get in the way
      try (ImageGenerationService s = service(config().build())) {
        assertThatThrownBy(() -> s.generateImage(request().timeout(Duration.ofMillis(1500)).build(), "runpod"))
            .isInstanceOfSatisfying(GenerationTimeoutException.class, e -> assertThat(e.remoteCancelled()).isTrue());
      }
      assertThat(calls(postRequestedFor(urlPathEqualTo("/v2/" + ENDPOINT + "/cancel/" + JOB)))).hasSize(1);
      assertThat(submits()).hasSize(1);
    }
  }

  // ------------------------------------------------------------------ job policy

  @Nested
  class JobPolicy {
    @Test
    void runBodyCarriesAPolicyBoundedByTheRequestsDeadline() {
      stubs.success(StubImages.png(16, 16, 1));
      try (ImageGenerationService s = service(config().build())) {
        s.generateImage(request().timeout(Duration.ofSeconds(30)).build(), "runpod");
      }
      JsonNode policy = RunPodStubs.body(submits().get(0)).path("policy");
      assertThat(policy.path("executionTimeout").isIntegralNumber()).as("milliseconds, an integer: " + policy).isTrue();
      assertThat(policy.path("executionTimeout").asLong()).isBetween(20_000L, 30_000L);
      assertThat(policy.path("ttl").asLong()).isBetween(20_000L, 30_000L);
      assertThat(policy.has("lowPriority")).isFalse();
    }

    @Test
    void configuredPolicyIsLoweredToTheDeadlineNeverRaised() {
      stubs.success(StubImages.png(16, 16, 1));
      try (ImageGenerationService s = service(config().set("execution-timeout", "20s").set("ttl", "1h")
          .set("low-priority", "true").build())) {
        s.generateImage(request().timeout(Duration.ofSeconds(60)).build(), "runpod");
      }
      JsonNode policy = RunPodStubs.body(submits().get(0)).path("policy");
      assertThat(policy.path("executionTimeout").asLong()).as("the configured 20 s is shorter").isEqualTo(20_000L);
      assertThat(policy.path("ttl").asLong()).as("1 h lowered to the deadline").isBetween(50_000L, 60_000L);
      assertThat(policy.path("lowPriority").asBoolean()).isTrue();
    }

    @Test
    void policyIsClampedToRunPodsLimits() {
      RunPodWire.Policy shortDeadline = RunPodProvider.jobPolicy(null, Duration.ofSeconds(2));
      assertThat(shortDeadline.executionTimeout()).as("RunPod's minimum, 5 s").isEqualTo(5_000L);
      assertThat(shortDeadline.ttl()).as("RunPod's minimum, 10 s").isEqualTo(10_000L);
      assertThat(shortDeadline.lowPriority()).isNull();

      RunPodWire.Policy longDeadline = RunPodProvider.jobPolicy(null, Duration.ofDays(30));
      assertThat(longDeadline.executionTimeout()).as("RunPod's maximum, 7 days").isEqualTo(Duration.ofDays(7).toMillis());
      assertThat(longDeadline.ttl()).isEqualTo(Duration.ofDays(7).toMillis());

      RunPodWire.Policy configured = RunPodProvider.jobPolicy(new RunPodWire.Policy(8_000L, null, false), Duration.ofMinutes(5));
      assertThat(configured.executionTimeout()).isEqualTo(8_000L);
      assertThat(configured.ttl()).isEqualTo(Duration.ofMinutes(5).toMillis());
      assertThat(configured.lowPriority()).isFalse();
    }
  }

  // ------------------------------------------------------------------ input mapping

  @Nested
  class InputMapping {
    @Test
    void templateMapsTheRequestOntoACustomWorkerInput() {
      String template = "{\"workflow_input\": {\"text\": \"{{prompt}}\", \"neg\": \"{{negative_prompt}}\","
          + " \"size\": [{{width}}, {{height}}], \"seed\": {{seed}}, \"cfg\": \"{{guidance}}\","
          + " \"label\": \"fox: {{prompt}} ({{steps}} steps)\", \"count\": {{num_images}}}, \"mode\": \"txt2img\","
          + " \"extra\": {\"keep\": true}}";
      stubs.success(StubImages.png(16, 16, 1));
      ImageGenerationRequest req = request().negativePrompt("ugly").size(512, 768).guidanceScale(3.5).steps(4)
          .providerOption("runpod", "mode", "fast")
          .providerOption("runpod", "extra", Map.of("added", 1))
          .build();
      try (ImageGenerationService s = service(config().set("input-template", template).build())) {
        s.generateImage(req, "runpod");
      }
      JsonNode input = RunPodStubs.body(submits().get(0)).path("input");
      ObjectNode expected = JSON.createObjectNode();
      ObjectNode w = expected.putObject("workflow_input");
      w.put("text", "a red fox in the snow");
      w.put("neg", "ugly");
      w.putArray("size").add(512).add(768);
      w.put("cfg", 3.5);
      w.put("label", "fox: a red fox in the snow (4 steps)");
      w.put("count", 1);
      expected.put("mode", "fast");
      expected.putObject("extra").put("keep", true).put("added", 1);
      assertThat(input).isEqualTo(expected); // no seed set: the "seed" field is left out
    }

    @Test
    void eachModelAliasHasItsEndpointAndTemplate() {
      String flux = "fluxschnell0001";
      RunPodStubs fluxStubs = new RunPodStubs(server, flux);
      fluxStubs.success(StubImages.png(16, 16, 2));
      stubs.success(StubImages.png(16, 16, 3));
      ProviderConfig c = config()
          .set("endpoint.sdxl", ENDPOINT)
          .set("endpoint-flux-schnell", flux) // the form environment variables and properties files produce
          .set("input-template.flux-schnell", "{\"prompt\": \"{{prompt}}\", \"num_steps\": {{steps}}, \"model\": \"{{model}}\"}")
          .build();
      ImageProvider p = new RunPodProviderFactory().create(c);
      assertThat(p.capabilities().models()).containsExactlyInAnyOrder("sdxl", "flux-schnell");
      assertThat(p.capabilities().anyModel()).isFalse();
      // one entry per model alias, each saying which endpoint serves it
      assertThat(p.models()).extracting(m -> m.id()).containsExactlyInAnyOrder("sdxl", "flux-schnell");
      assertThat(p.models()).filteredOn(m -> m.id().equals("flux-schnell")).singleElement()
          .satisfies(m -> assertThat(m.description()).contains(flux));
      try (ImageGenerationService s = service(c)) {
        ImageGenerationResponse r = s.generateImage(request().model("flux-schnell").steps(4).build(), "runpod");
        assertThat(r.model()).isEqualTo("flux-schnell");
        assertThat(s.generateImage(request().model("sdxl").build(), "runpod").model()).isEqualTo("sdxl");
        assertThatThrownBy(() -> s.generateImage(request().model("dall-e-3").build(), "runpod"))
            .isInstanceOf(NoCapableProviderException.class);
      }
      List<LoggedRequest> fluxSubmits = calls(postRequestedFor(urlPathEqualTo("/v2/" + flux + "/run")));
      assertThat(fluxSubmits).hasSize(1);
      JsonNode fluxInput = RunPodStubs.body(fluxSubmits.get(0)).path("input");
      assertThat(fluxInput.path("num_steps").isInt()).isTrue();
      assertThat(fluxInput.path("model").asText()).isEqualTo("flux-schnell");
      assertThat(fluxInput.has("negative_prompt")).isFalse();
      assertThat(submits()).hasSize(1);
      assertThat(RunPodStubs.body(submits().get(0)).path("input").has("negative_prompt")).isTrue();
    }

    @Test
    void templateWithoutANegativePromptIsServedWithoutItAndWarnsUnlessStrict() {
      stubs.success(StubImages.png(16, 16, 1));
      ProviderConfig c = config().set("input-template", "{\"text\": \"{{prompt}}\", \"steps\": {{steps}}}").build();
      Backup backup = new Backup();
      try (ImageGenerationService s = withBackup(c, backup)) {
        ImageGenerationResponse r = s.generateImage(request().negativePrompt("ugly").sampler("euler").steps(4).build(), "runpod");
        assertThat(r.provider()).isEqualTo("runpod");
        assertThat(r.warnings()).containsExactly("negative prompt not sent: the default model does not take it",
            "sampler 'euler' not sent: the default model does not take it");

        ImageGenerationResponse strict = s.generateImageWithFailover(request().negativePrompt("ugly").strict(true).build());
        assertThat(strict.provider()).isEqualTo("backup");
        assertThat(strict.attempts().get(0).outcome()).isEqualTo(Attempt.Outcome.SKIPPED);
        assertThat(strict.attempts().get(0).message())
            .isEqualTo("negative prompt would be dropped: the default model does not take it (strict request)");
      }
      assertThat(submits()).hasSize(1);
      JsonNode input = RunPodStubs.body(submits().get(0)).path("input");
      assertThat(input.toString()).doesNotContain("ugly").doesNotContain("euler");
      assertThat(input.path("steps").asInt()).isEqualTo(4);
    }

    @Test
    void samplerBecomesAWorkerSdxlSchedulerOrAWarning() {
      stubs.success(StubImages.png(16, 16, 1));
      try (ImageGenerationService s = service(config().build())) {
        s.generateImage(request().sampler("euler_a").build(), "runpod");
        ImageGenerationResponse r = s.generateImage(request().sampler("uni_pc").build(), "runpod");
        assertThat(r.warnings()).anySatisfy(w -> assertThat(w).contains("uni_pc"));
      }
      assertThat(RunPodStubs.body(submits().get(0)).path("input").path("scheduler").asText()).isEqualTo("K_EULER_ANCESTRAL");
      assertThat(RunPodStubs.body(submits().get(1)).path("input").has("scheduler")).isFalse();
    }

    @Test
    void templateCanBeReadFromAFile(@TempDir Path dir) throws Exception {
      Path file = dir.resolve("comfy.json");
      Files.writeString(file, "{\"workflow\": {\"6\": {\"inputs\": {\"text\": \"{{prompt}}\", \"seed\": {{seed}}}}}}");
      stubs.success(StubImages.png(16, 16, 1));
      try (ImageGenerationService s = service(config().set("input-template", "@" + file).build())) {
        s.generateImage(request().seed(7L).build(), "runpod");
      }
      JsonNode inputs = RunPodStubs.body(submits().get(0)).path("input").path("workflow").path("6").path("inputs");
      assertThat(inputs.path("text").asText()).isEqualTo("a red fox in the snow");
      assertThat(inputs.path("seed").isIntegralNumber()).isTrue();
      assertThat(inputs.path("seed").asLong()).isEqualTo(7L);
    }

    @Test
    void configurationMistakesAreNamedAtCreate() {
      RunPodProviderFactory f = new RunPodProviderFactory();
      assertThatThrownBy(() -> f.create(config().set("input-template", "{\"p\": \"{{promt}}\"}").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("input-template").hasMessageContaining("{{promt}}");
      assertThatThrownBy(() -> f.create(config().set("input-template", "{\"p\": ").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("input-template");
      assertThatThrownBy(() -> f.create(config().set("endpoint", "../../admin").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("endpoint");
      assertThatThrownBy(() -> f.create(config().set("gpu", "TPUv5").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("gpu");
      assertThatThrownBy(() -> f.create(config().set("endpoint.sdxl", ENDPOINT).set("price-per-gpu-second.sdxl", "0.0004").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("price.sdxl");
      assertThatThrownBy(() -> f.create(config().set("price.flux", "0.0004").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("endpoint.flux");
      assertThatThrownBy(() -> f.create(ProviderConfig.builder("runpod").apiKey(KEY).build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("endpoint");
    }
  }

  // ------------------------------------------------------------------ health

  @Nested
  class Health {
    @Test
    void mapsWorkersAndQueue() {
      stubs.healthy();
      try (ImageGenerationService s = service(config().build())) {
        ProviderHealth h = s.testConnection("runpod");
        assertThat(h.state()).isEqualTo(ProviderHealth.State.UP);
        assertThat(h.queueDepth()).isZero();
        assertThat(h.workersReady()).isEqualTo(4);
      }
      assertThat(calls(getRequestedFor(urlPathEqualTo("/v2/" + ENDPOINT + "/health"))))
          .singleElement().satisfies(r -> assertThat(r.getHeader("Authorization")).isEqualTo("Bearer " + KEY));
    }

    @Test
    void coldEndpointWithALongQueueIsDegraded() {
      stubs.healthAnswers("{\"jobs\":{\"completed\":3,\"failed\":0,\"inProgress\":0,\"inQueue\":25,\"retried\":0},"
          + "\"workers\":{\"idle\":0,\"initializing\":2,\"ready\":0,\"running\":0,\"throttled\":1}}");
      try (ImageGenerationService s = service(config().build())) {
        ProviderHealth h = s.testConnection("runpod");
        assertThat(h.state()).isEqualTo(ProviderHealth.State.DEGRADED);
        assertThat(h.isUsable()).isTrue();
        assertThat(h.queueDepth()).isEqualTo(25);
        assertThat(h.workersReady()).isZero();
        assertThat(h.message()).contains("cold");
      }
    }

    @Test
    void readsTheNewerIdleRunningShape() {
      stubs.healthAnswers("{\"jobs\":{\"inProgress\":1,\"inQueue\":2},\"workers\":{\"idle\":3,\"running\":1}}");
      try (ImageGenerationService s = service(config().build())) {
        ProviderHealth h = s.testConnection("runpod");
        assertThat(h.state()).isEqualTo(ProviderHealth.State.UP);
        assertThat(h.workersReady()).isEqualTo(3);
        assertThat(h.queueDepth()).isEqualTo(2);
      }
    }

    @Test
    void combinesEveryConfiguredEndpoint() {
      String flux = "fluxschnell0001";
      stubs.healthy();
      new RunPodStubs(server, flux).healthAnswers("{\"jobs\":{\"inProgress\":0,\"inQueue\":12},"
          + "\"workers\":{\"idle\":0,\"ready\":0,\"running\":0}}");
      try (ImageGenerationService s = service(config().set("endpoint.flux-schnell", flux).build())) {
        ProviderHealth h = s.testConnection("runpod");
        assertThat(h.state()).isEqualTo(ProviderHealth.State.DEGRADED);
        assertThat(h.queueDepth()).isEqualTo(12);
        assertThat(h.workersReady()).isEqualTo(4);
        assertThat(h.message()).contains(ENDPOINT).contains(flux);
      }
    }

    @Test
    void refusedKeyAndUnknownEndpoint() {
      stubs.healthAuthRefused();
      try (ImageGenerationService s = service(config().build())) {
        ProviderHealth h = s.testConnection("runpod");
        assertThat(h.state()).isEqualTo(ProviderHealth.State.AUTH_FAILED);
        assertThat(String.valueOf(h.message())).doesNotContain(KEY);
      }
      server.resetAll();
      try (ImageGenerationService s = service(config().build())) {
        assertThat(s.testConnection("runpod").state()).isEqualTo(ProviderHealth.State.DOWN);
      }
    }

    @Test
    void coldEndpointIsSkippedWhenTheDeadlineIsShort() {
      stubs.success(StubImages.png(16, 16, 1));
      stubs.healthAnswers("{\"jobs\":{\"inProgress\":0,\"inQueue\":40},\"workers\":{\"idle\":0,\"ready\":0,\"running\":0}}");
      Backup backup = new Backup();
      try (ImageGenerationService s = withBackup(config().set("priority", "1").build(), backup)) {
        ImageGenerationResponse r = s.generateImageWithFailover(request().timeout(Duration.ofSeconds(20)).build());
        assertThat(r.provider()).isEqualTo("backup");
        assertThat(r.attempts().get(0).message()).contains("cold").contains("not submitted");
        assertThat(r.attempts().get(0).mayBeBilled()).isFalse();
      }
      assertThat(submits()).isEmpty();
    }

    @Test
    void coldEndpointIsStillUsedWhenTheDeadlineAllowsACold() {
      stubs.success(StubImages.png(16, 16, 1));
      stubs.healthAnswers("{\"jobs\":{\"inProgress\":0,\"inQueue\":40},\"workers\":{\"idle\":0,\"ready\":0,\"running\":0}}");
      Backup backup = new Backup();
      try (ImageGenerationService s = withBackup(config().set("priority", "1").build(), backup)) {
        ImageGenerationResponse r = s.generateImageWithFailover(request().timeout(Duration.ofMinutes(5)).build());
        assertThat(r.provider()).isEqualTo("runpod");
      }
      assertThat(submits()).hasSize(1);
      assertThat(calls(getRequestedFor(urlPathEqualTo("/v2/" + ENDPOINT + "/health")))).isEmpty();
      assertThat(backup.calls).isZero();
    }
  }

  // ------------------------------------------------------------------ cost

  @Nested
  class Costs {
    @Test
    void costIsExecutionTimeTimesThePricePerGpuSecond() {
      stubs.success(StubImages.png(16, 16, 1));
      try (ImageGenerationService s = service(config().set("price-per-gpu-second", "0.00076").build())) {
        ImageGenerationResponse r = s.generateImage(request().build(), "runpod");

        assertThat(r.cost().source()).isEqualTo(Cost.Source.PROVIDER_REPORTED);
        assertThat(r.cost().amount()).isEqualByComparingTo(new BigDecimal("0.004651")); // 6.120 s x 0.00076
        assertThat(r.timings().queue()).isEqualTo(Duration.ofMillis(RunPodStubs.DELAY_MS));
        assertThat(r.timings().run()).isEqualTo(Duration.ofMillis(RunPodStubs.EXECUTION_MS));
        assertThat(s.estimateCost(request().numImages(2).build()).amount()).isEqualByComparingTo("0.0076"); // 2 x 5 s
      }
    }

    @Test
    void gpuClassFromRunPodsPriceListPerModel() {
      stubs.success(StubImages.png(16, 16, 1));
      ProviderConfig c = config().set("endpoint.sdxl", ENDPOINT).set("gpu.sdxl", "H100 PRO").set("gpu", "A100").build();
      try (ImageGenerationService s = service(c)) {
        assertThat(s.generateImage(request().model("sdxl").build(), "runpod").cost().amount())
            .isEqualByComparingTo("0.007099"); // 6.120 s x 0.00116
        assertThat(s.generateImage(request().build(), "runpod").cost().amount())
            .isEqualByComparingTo("0.004651"); // default endpoint: 6.120 s x 0.00076
      }
    }

    @Test
    void pricePerAliasOverridesTheGpuClass() {
      stubs.success(StubImages.png(16, 16, 1));
      ProviderConfig c = config().set("endpoint.sdxl", ENDPOINT).set("gpu", "A100").set("price.sdxl", "0.001").build();
      try (ImageGenerationService s = service(c)) {
        assertThat(s.generateImage(request().model("sdxl").build(), "runpod").cost().amount())
            .isEqualByComparingTo("0.00612"); // 6.120 s x 0.001: a bare number is per second
        assertThat(s.generateImage(request().build(), "runpod").cost().amount())
            .isEqualByComparingTo("0.004651"); // default endpoint: 6.120 s x 0.00076 (A100)
        assertThat(s.estimateCost(request().model("sdxl").build()).amount()).isEqualByComparingTo("0.005"); // 5 s
      }
    }

    @Test
    void noPriceConfiguredIsUnknownNeverZero() {
      stubs.success(StubImages.png(16, 16, 1));
      try (ImageGenerationService s = service(config().build())) {
        ImageGenerationResponse r = s.generateImage(request().build(), "runpod");
        assertThat(r.cost().isKnown()).isFalse();
        assertThat(r.cost().source()).isEqualTo(Cost.Source.UNKNOWN);
        assertThat(s.estimateCost(request().build()).isKnown()).isFalse();
      }
    }
  }

  // ------------------------------------------------------------------ configuration

  @Nested
  class Configuration {
    @Test
    void configuredNeedsAKeyAndAnEndpoint() {
      RunPodProviderFactory f = new RunPodProviderFactory();
      assertThat(f.id()).isEqualTo("runpod");
      assertThat(f.customaryEnvironment()).containsEntry("api-key", List.of("RUNPOD_API_KEY"));
      assertThat(f.isConfigured(ProviderConfig.builder("runpod").apiKey(KEY).build())).isFalse();
      assertThat(f.isConfigured(ProviderConfig.builder("runpod").set("endpoint", ENDPOINT).build())).isFalse();
      assertThat(f.isConfigured(ProviderConfig.builder("runpod").apiKey(KEY).set("endpoint.sdxl", ENDPOINT).build())).isTrue();
      assertThat(f.isConfigured(config().build())).isTrue();
    }

    @Test
    void readsTheCustomaryVariableAndPerModelEndpointsFromTheEnvironment() {
      Map<String, String> env = Map.of("RUNPOD_API_KEY", KEY, "IMAGEGEN_RUNPOD_ENDPOINT_SDXL", ENDPOINT,
          "IMAGEGEN_RUNPOD_BASE_URL", server.baseUrl() + "/v2");
      Properties props = new Properties();
      props.setProperty("imagegen.runpod.endpoint.flux-schnell", "fluxschnell0001");
      try (ImageGenerationService s = ImageGenerationService.fromEnvironment(env, props)) {
        assertThat(s.providers()).contains("runpod");
        assertThat(s.listModels()).extracting(m -> m.id()).contains("sdxl", "flux-schnell");
      }
    }
  }
}
