package dev.imagegen.provider.bfl;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.Cost;
import dev.imagegen.ErrorKind;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.InputImage;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testkit.KitContext;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.BflStubs;
import java.io.IOException;
import java.math.BigDecimal;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** BFL-specific behaviour on WireMock: the submit body per model, the polling host, every status and error row, prices. */
class BflProviderTest {
  static final String KEY = "bfl_test-key-5b0d9c1e";
  static final String ID = BflStubs.TASK_ID;
  static final ObjectMapper JSON = new ObjectMapper();

  WireMockServer server;
  BflStubs stubs;
  final List<ImageGenerationService> services = new ArrayList<>();

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    stubs = new BflStubs(server);
  }

  @AfterEach
  void stop() {
    services.forEach(ImageGenerationService::close);
    server.stop();
  }

  ProviderConfig.Builder config() {
    return ProviderConfig.builder("bfl").apiKey(KEY).baseUrl(server.baseUrl()).set("polling-hosts", BflStubs.POLLING_HOST)
        .set("poll-interval", "200ms").set("timeout", "5s");
  }

  ImageGenerationService service(ProviderConfig config, int retries) {
    ImageGenerationService s = ImageGenerationService.builder().provider(new BflProviderFactory(), config)
        .maxRetries(retries).retryBackoff(Duration.ofMillis(10), Duration.ofMillis(20)).defaultTimeout(Duration.ofSeconds(15))
        .build();
    services.add(s);
    return s;
  }

  ImageGenerationService service() {
    return service(config().build(), 0);
  }

  static JsonNode body(LoggedRequest r) {
    try {
      return JSON.readTree(r.getBodyAsString());
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  LoggedRequest onlySubmit(String model) {
    List<LoggedRequest> submits = server.findAll(postRequestedFor(urlPathEqualTo("/v1/" + model)));
    assertThat(submits).hasSize(1);
    return submits.get(0);
  }

  List<LoggedRequest> polls() {
    return server.findAll(getRequestedFor(urlPathEqualTo("/v1/get_result")));
  }

  static ImageGenerationRequest.Builder fox() {
    return ImageGenerationRequest.builder().prompt("a red fox in snow");
  }

  // ------------------------------------------------------------------ request mapping

  @Nested
  class RequestMapping {
    @Test
    void flux2ProSendsBflFieldsWithXKeyAndDropsWhatItDoesNotTake() {
      StubImage img = StubImages.png(1024, 768, 1234567890L);
      stubs.success(img);

      ImageGenerationResponse r = service().generateImage(fox().size(1024, 768).seed(1234567890L).steps(30)
          .guidanceScale(4.0).negativePrompt("blurry").outputFormat("png").build(), "bfl");

      assertThat(r.model()).isEqualTo("flux-2-pro");
      assertThat(r.image().bytes()).isEqualTo(img.bytes());
      assertThat(r.image().seed()).isEqualTo(1234567890L);
      assertThat(r.metadata()).containsEntry("task_id", ID).containsEntry("credits", "3.0");
      assertThat(r.warnings()).anyMatch(w -> w.contains("negative prompt")).anyMatch(w -> w.startsWith("steps"))
          .anyMatch(w -> w.startsWith("guidance"));
      LoggedRequest submit = onlySubmit("flux-2-pro");
      assertThat(submit.getHeader("x-key")).isEqualTo(KEY);
      assertThat(submit.containsHeader("Authorization")).isFalse();
      JsonNode b = body(submit);
      assertThat(b.path("prompt").asText()).isEqualTo("a red fox in snow");
      assertThat(b.path("width").asInt()).isEqualTo(1024);
      assertThat(b.path("height").asInt()).isEqualTo(768);
      assertThat(b.path("seed").asLong()).isEqualTo(1234567890L);
      assertThat(b.path("output_format").asText()).isEqualTo("png");
      assertThat(b.has("steps")).isFalse();
      assertThat(b.has("guidance")).isFalse();
      assertThat(b.has("negative_prompt")).isFalse();
      assertThat(b.has("safety_tolerance")).isFalse();
      assertThat(b.has("prompt_upsampling")).isFalse();
    }

    @Test
    void fluxDevAndFlexSendStepsAndGuidance() {
      stubs.success(StubImages.png(512, 512, 1));
      service().generateImage(fox().model("flux-dev").size(512, 512).steps(28).guidanceScale(3.0).build(), "bfl");
      JsonNode b = body(onlySubmit("flux-dev"));
      assertThat(b.path("steps").asInt()).isEqualTo(28);
      assertThat(b.path("guidance").asDouble()).isEqualTo(3.0);

      service().generateImage(fox().model("flux-2-flex").size(512, 512).steps(50).guidanceScale(7.5).build(), "bfl");
      JsonNode f = body(onlySubmit("flux-2-flex"));
      assertThat(f.path("steps").asInt()).isEqualTo(50);
      assertThat(f.path("guidance").asDouble()).isEqualTo(7.5);
    }

    @Test
    void kontextEditSendsTheInitImageThenReferencesAndAnAspectRatio() {
      stubs.success(StubImages.png(64, 64, 2));
      byte[] local = StubImages.png(64, 64, 9).bytes();
      ImageGenerationResponse r = service().generateImage(fox().prompt("make the fox blue").size(1024, 576)
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, local))
          .inputImage(InputImage.ofUrl(InputImage.Role.REFERENCE, URI.create("https://example.com/style.png"))).build(), "bfl");

      assertThat(r.model()).isEqualTo("flux-kontext-pro"); // edit-model, as the request has input images
      JsonNode b = body(onlySubmit("flux-kontext-pro"));
      assertThat(b.path("input_image").asText()).isEqualTo(Base64.getEncoder().encodeToString(local));
      assertThat(b.path("input_image_2").asText()).isEqualTo("https://example.com/style.png");
      assertThat(b.path("aspect_ratio").asText()).isEqualTo("16:9");
      assertThat(b.has("width")).isFalse();
      assertThat(b.has("height")).isFalse();
      assertThat(r.warnings()).anyMatch(w -> w.contains("aspect_ratio 16:9"));
    }

    @Test
    void configuredSafetyToleranceUpsamplingAndOptionsAreSent() {
      stubs.success(StubImages.png(64, 64, 2));
      ImageGenerationService s = service(config().set("safety-tolerance", "5").set("prompt-upsampling", "true").build(), 0);
      s.generateImage(fox().model("flux-pro-1.1-ultra").size(2048, 1024).providerOption("bfl", "raw", true).build(), "bfl");
      JsonNode b = body(onlySubmit("flux-pro-1.1-ultra"));
      assertThat(b.path("safety_tolerance").asInt()).isEqualTo(5);
      assertThat(b.path("prompt_upsampling").asBoolean()).isTrue();
      assertThat(b.path("raw").asBoolean()).isTrue();
      assertThat(b.path("aspect_ratio").asText()).isEqualTo("2:1");
    }

    @Test
    void flux2GetsAtMostSafetyTolerance5AndFlux1UpTo6() {
      stubs.success(StubImages.png(64, 64, 2));
      ImageGenerationService s = service(config().set("safety-tolerance", "6").build(), 0);
      ImageGenerationResponse r = s.generateImage(fox().model("flux-2-pro").build(), "bfl");
      assertThat(body(onlySubmit("flux-2-pro")).path("safety_tolerance").asInt()).isEqualTo(5);
      assertThat(r.warnings()).anyMatch(w -> w.contains("safety_tolerance 6 sent as 5"));
      s.generateImage(fox().model("flux-pro-1.1").build(), "bfl");
      assertThat(body(onlySubmit("flux-pro-1.1")).path("safety_tolerance").asInt()).isEqualTo(6);
    }

    @Test
    void webpIsNotOfferedAndSaysSo() {
      stubs.success(StubImages.png(64, 64, 2));
      ImageGenerationResponse r = service().generateImage(fox().size(512, 512).outputFormat("webp").build(), "bfl");
      assertThat(body(onlySubmit("flux-2-pro")).has("output_format")).isFalse();
      assertThat(r.warnings()).anyMatch(w -> w.contains("webp"));
    }
  }

  // ------------------------------------------------------------------ polling

  @Nested
  class Polling {
    @Test
    void pollsTheReturnedPollingUrlOnItsOwnHostWithTheKeyAndDownloadsWithout() {
      StubImage img = StubImages.png(64, 64, 3);
      stubs.success(img);
      ImageGenerationResponse r = service().generateImage(fox().build(), "bfl");

      assertThat(r.metadata()).containsEntry("polling_host", BflStubs.POLLING_HOST).doesNotContainKey("polling_host_refused");
      List<LoggedRequest> polls = polls();
      assertThat(polls).isNotEmpty().allSatisfy(p -> {
        assertThat(p.getHost()).isEqualTo(BflStubs.POLLING_HOST); // not the base URL's localhost
        assertThat(p.getHeader("x-key")).isEqualTo(KEY);
        assertThat(p.queryParameter("id").firstValue()).isEqualTo(ID);
      });
      List<LoggedRequest> downloads = server.findAll(getRequestedFor(urlPathMatching("/delivery/.*")));
      assertThat(downloads).hasSize(1);
      assertThat(downloads.get(0).containsHeader("x-key")).isFalse();
    }

    @Test
    void aPollingUrlOnAForeignHostNeverGetsTheKey() {
      WireMockServer foreign = new WireMockServer(options().dynamicPort());
      foreign.start();
      try {
        StubImage img = StubImages.png(64, 64, 3);
        stubs.success(img);
        // the submit names another origin (same host name, another port): not the base URL's, not allowed
        String elsewhere = "http://localhost:" + foreign.port() + "/v1/get_result?id=" + ID;
        server.stubFor(BflStubs.anySubmit().atPriority(1).willReturn(BflStubs.json(200, BflStubs.submitAnswer(ID, elsewhere,
            null))));
        foreign.stubFor(get(urlPathMatching("/.*")).willReturn(BflStubs.json(200, BflStubs.pending(ID, null))));

        ImageGenerationResponse r = service(config().set("polling-hosts", "localhost").build(), 0)
            .generateImage(fox().build(), "bfl");

        assertThat(foreign.getAllServeEvents()).isEmpty();
        assertThat(r.metadata()).containsEntry("polling_host_refused", "localhost");
        assertThat(polls()).isNotEmpty().allSatisfy(p -> assertThat(p.getHost()).isEqualTo("localhost"));
      } finally {
        foreign.stop();
      }
    }

    @Test
    void aMissingPollingUrlFallsBackToGetResultUnderTheBase() {
      stubs.success(StubImages.png(64, 64, 3));
      server.stubFor(BflStubs.anySubmit().atPriority(1).willReturn(BflStubs.json(200, BflStubs.submitAnswer(ID, null, null))));
      service().generateImage(fox().build(), "bfl");
      assertThat(polls()).isNotEmpty().allSatisfy(p -> assertThat(p.getHost()).isEqualTo("localhost"));
    }

    @Test
    void pendingReportsProgressAsPercentThenReady() throws Exception {
      StubImage img = StubImages.png(64, 64, 4);
      stubs.stubPendingThenReady(img);
      ProviderConfig config = config().build();
      ImageProvider provider = new BflProviderFactory().create(config);
      try (KitContext ctx = KitContext.of(provider, config)) {
        ProviderResult r = provider.generate(fox().build(), ctx).get(10, TimeUnit.SECONDS);
        assertThat(r.images().get(0).bytes()).isEqualTo(img.bytes());
        assertThat(ctx.remoteJobId()).isEqualTo(ID);
        assertThat(ctx.events().stream().filter(e -> e.stage() == ProgressEvent.Stage.RUNNING).map(ProgressEvent::percent))
            .containsExactly(20.0, 60.0);
        // BFL has no cancel endpoint: the registered cancel sends nothing
        ctx.remoteCancel().get(1, TimeUnit.SECONDS).get().get(1, TimeUnit.SECONDS);
        assertThat(server.getAllServeEvents()).noneMatch(e -> e.getRequest().getUrl().contains("cancel"));
      }
    }

    @Test
    void aPollWithoutProgressAfterOneWithItStaysRunning() throws Exception {
      StubImage img = StubImages.png(64, 64, 4);
      stubs.success(img);
      String sc = "progress-gap";
      server.stubFor(BflStubs.poll(ID).atPriority(1).inScenario(sc).whenScenarioStateIs("Started")
          .willReturn(BflStubs.json(200, BflStubs.pending(ID, null))).willSetStateTo("p1"));
      server.stubFor(BflStubs.poll(ID).atPriority(1).inScenario(sc).whenScenarioStateIs("p1")
          .willReturn(BflStubs.json(200, BflStubs.pending(ID, 0.5))).willSetStateTo("p2"));
      server.stubFor(BflStubs.poll(ID).atPriority(1).inScenario(sc).whenScenarioStateIs("p2")
          .willReturn(BflStubs.json(200, BflStubs.pending(ID, null))).willSetStateTo("done"));
      ProviderConfig config = config().build();
      ImageProvider provider = new BflProviderFactory().create(config);
      try (KitContext ctx = KitContext.of(provider, config)) {
        provider.generate(fox().build(), ctx).get(10, TimeUnit.SECONDS);
        List<ProgressEvent.Stage> stages = ctx.events().stream().map(ProgressEvent::stage)
            .filter(st -> st == ProgressEvent.Stage.QUEUED || st == ProgressEvent.Stage.RUNNING).toList();
        assertThat(stages).containsExactly(ProgressEvent.Stage.QUEUED, ProgressEvent.Stage.RUNNING,
            ProgressEvent.Stage.RUNNING);
      }
    }

    @Test
    void aMalformedPollIsReadAgainNotResubmitted() {
      StubImage img = StubImages.png(64, 64, 5);
      stubs.success(img);
      server.stubFor(BflStubs.poll(ID).inScenario("bad").whenScenarioStateIs("Started").atPriority(1)
          .willReturn(BflStubs.json(200, "{\"status\":")).willSetStateTo("ok"));
      ImageGenerationResponse r = service().generateImage(fox().build(), "bfl");
      assertThat(r.image().bytes()).isEqualTo(img.bytes());
      assertThat(server.findAll(stubs.submitRequests())).hasSize(1);
      assertThat(polls()).hasSizeGreaterThanOrEqualTo(2);
    }

    @Test
    void aStalledSampleDownloadStillMeetsTheDeadline() {
      StubImage img = StubImages.png(64, 64, 5);
      stubs.success(img);
      server.stubFor(get(urlPathEqualTo(BflStubs.samplePath(ID, img))).atPriority(1).willReturn(aResponse().withStatus(200)
          .withHeader("Content-Type", "image/png").withBody(img.bytes()).withChunkedDribbleDelay(5, 20_000)));
      long t0 = System.nanoTime();
      ImageGenerationException e = catchThrowableOfType(ImageGenerationException.class,
          () -> service(config().build(), 0).generateImage(fox().timeout(Duration.ofSeconds(2)).build(), "bfl"));
      assertThat(e).isNotNull();
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(6));
      assertThat(server.findAll(stubs.submitRequests())).hasSize(1);
    }

    @Test
    void anExpiredSampleIsAClearErrorAndNotResubmitted() {
      StubImage img = StubImages.png(64, 64, 5);
      stubs.success(img);
      stubs.stubSampleExpired(ID, img);
      ImageGenerationException e = catchThrowableOfType(ImageGenerationException.class,
          () -> service(config().build(), 2).generateImage(fox().build(), "bfl"));
      assertThat(e.providerId()).isEqualTo("bfl");
      assertThat(e).hasMessageContaining("403");
      assertThat(server.findAll(stubs.submitRequests())).hasSize(1);
    }
  }

  // ------------------------------------------------------------------ statuses and error rows

  @Nested
  class Errors {
    @ParameterizedTest
    @ValueSource(strings = {"Request Moderated", "Content Moderated"})
    void moderationIsAContentPolicyRefusalAndEndsPolling(String status) {
      stubs.stubEnded(status);
      ContentPolicyException e = catchThrowableOfType(ContentPolicyException.class,
          () -> service().generateImage(fox().build(), "bfl"));
      assertThat(e).hasMessageContaining(status).hasMessageContaining(ID).hasMessageContaining("Derivative Works Filter");
      assertThat(e.failoverMayHelp()).isFalse();
      assertThat(polls()).hasSize(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"Error", "Task not found", "Some New Status"})
    void otherStatusesAreTerminalAndFailOver(String status) {
      stubs.stubEnded(status);
      ProviderUnavailableException e = catchThrowableOfType(ProviderUnavailableException.class,
          () -> service().generateImage(fox().build(), "bfl"));
      assertThat(e).hasMessageContaining(status);
      assertThat(e.failoverMayHelp()).isTrue();
      assertThat(e.retryMayHelp()).isFalse();
      assertThat(polls()).hasSize(1);
    }

    @Test
    void a404PollIsATaskGoneNotPolledAgain() {
      stubs.stubSubmit();
      server.stubFor(BflStubs.poll(ID).willReturn(BflStubs.json(404, "{\"detail\":\"Task not found\"}")));
      ProviderUnavailableException e = catchThrowableOfType(ProviderUnavailableException.class,
          () -> service().generateImage(fox().build(), "bfl"));
      assertThat(e).hasMessageContaining("404").hasMessageContaining("Task not found");
      assertThat(e.failoverMayHelp()).isTrue();
      assertThat(polls()).hasSize(1);
    }

    @Test
    void submit400And422AreInvalidWithBflsText() {
      server.stubFor(BflStubs.anySubmit().willReturn(BflStubs.json(400, "{\"detail\":\"prompt must not be empty\"}")));
      assertThatThrownBy(() -> service().generateImage(fox().build(), "bfl")).isInstanceOf(InvalidRequestException.class)
          .hasMessageContaining("prompt must not be empty");
      server.resetAll();
      stubs.invalidRequest("Input should be a multiple of 16");
      assertThatThrownBy(() -> service().generateImage(fox().build(), "bfl")).isInstanceOf(InvalidRequestException.class)
          .hasMessageContaining("width: Input should be a multiple of 16");
    }

    @ParameterizedTest
    @ValueSource(ints = {401, 403})
    void refusedKeyIsAuthenticationAndNotRetried(int status) {
      server.stubFor(BflStubs.anySubmit().willReturn(BflStubs.json(status, BflStubs.UNAUTHORIZED)));
      AuthenticationException e = catchThrowableOfType(AuthenticationException.class,
          () -> service(config().build(), 3).generateImage(fox().build(), "bfl"));
      assertThat(e.failoverMayHelp()).isTrue();
      assertThat(e).hasMessageNotContaining(KEY);
      assertThat(server.findAll(stubs.submitRequests())).hasSize(1);
    }

    @Test
    void noCreditsIs402InsufficientCreditsFailoverNoRetry() {
      stubs.outOfCredits();
      InsufficientCreditsException e = catchThrowableOfType(InsufficientCreditsException.class,
          () -> service(config().build(), 3).generateImage(fox().build(), "bfl"));
      assertThat(e.failoverMayHelp()).isTrue();
      assertThat(e).hasMessageContaining("enough credits");
      assertThat(server.findAll(stubs.submitRequests())).hasSize(1);
    }

    @Test
    void a404SubmitIsAnUnknownModelPath() {
      server.stubFor(BflStubs.anySubmit().willReturn(BflStubs.json(404, "{\"detail\":\"Not Found\"}")));
      assertThatThrownBy(() -> service().generateImage(fox().model("flux-pro").build(), "bfl"))
          .isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.failoverMayHelp()).isTrue())
          .hasMessageContaining("/v1/flux-pro");
    }

    @Test
    void a429WithRetryAfterCarriesItAndIsRetriedWhenShort() {
      // Retry-After: 0 once ended the generation as cancelled (an async retry with no delay): it must be retried at once
      stubs.success(StubImages.png(64, 64, 6));
      server.stubFor(BflStubs.anySubmit().atPriority(1).inScenario("429").whenScenarioStateIs("Started")
          .willReturn(BflStubs.json(429, BflStubs.TOO_MANY).withHeader("Retry-After", "0")).willSetStateTo("ok"));
      ImageGenerationResponse r = service(config().build(), 2).generateImage(fox().build(), "bfl");
      assertThat(r.images()).hasSize(1);
      assertThat(server.findAll(stubs.submitRequests())).hasSize(2); // a 429 was not executed: safe to send again

      server.resetAll();
      stubs.rateLimited(Duration.ofSeconds(7));
      RateLimitedException e = catchThrowableOfType(RateLimitedException.class,
          () -> service().generateImage(fox().build(), "bfl"));
      assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(7));
    }

    @Test
    void a429WithoutRetryAfterIsStillRateLimited() {
      server.stubFor(BflStubs.anySubmit().willReturn(BflStubs.json(429, BflStubs.TOO_MANY)));
      RateLimitedException e = catchThrowableOfType(RateLimitedException.class,
          () -> service().generateImage(fox().build(), "bfl"));
      assertThat(e.retryAfter()).isNull();
      assertThat(e.retryMayHelp()).isTrue();
    }

    @ParameterizedTest
    @ValueSource(ints = {500, 502, 503, 504})
    void a5xxToTheSubmitIsNeverResent(int status) {
      stubs.success(StubImages.png(64, 64, 6));
      server.stubFor(BflStubs.anySubmit().atPriority(1).willReturn(BflStubs.json(status, BflStubs.UNAVAILABLE)));
      ProviderUnavailableException e = catchThrowableOfType(ProviderUnavailableException.class,
          () -> service(config().build(), 3).generateImage(fox().build(), "bfl"));
      assertThat(e.outcomeUnknown()).isTrue();
      assertThat(server.findAll(stubs.submitRequests())).hasSize(1);
    }

    @Test
    void aSubmitWhoseAnswerNeverComesIsNeverResent() {
      stubs.success(StubImages.png(64, 64, 6));
      server.stubFor(BflStubs.anySubmit().atPriority(1).willReturn(aResponse().withFault(Fault.EMPTY_RESPONSE)));
      ImageGenerationException e = catchThrowableOfType(ImageGenerationException.class,
          () -> service(config().build(), 3).generateImage(fox().build(), "bfl"));
      assertThat(e.providerId()).isEqualTo("bfl");
      assertThat(server.findAll(stubs.submitRequests())).hasSize(1);

      server.resetAll();
      stubs.success(StubImages.png(64, 64, 6));
      server.stubFor(BflStubs.anySubmit().atPriority(1).willReturn(BflStubs.json(200,
          BflStubs.submitAnswer(ID, stubs.pollingUrl(ID), null)).withFixedDelay(3000)));
      ImageGenerationException slow = catchThrowableOfType(ImageGenerationException.class,
          () -> service(config().set("timeout", "1s").build(), 3).generateImage(fox().build(), "bfl"));
      assertThat(slow.providerId()).isEqualTo("bfl");
      assertThat(server.findAll(stubs.submitRequests())).hasSize(1);
    }

    @Test
    void aSubmitWithoutAnIdIsAnUnknownOutcome() {
      server.stubFor(BflStubs.anySubmit().willReturn(BflStubs.json(200, "{\"polling_url\":null}")));
      ProviderUnavailableException e = catchThrowableOfType(ProviderUnavailableException.class,
          () -> service(config().build(), 3).generateImage(fox().build(), "bfl"));
      assertThat(e.outcomeUnknown()).isTrue();
      assertThat(server.findAll(stubs.submitRequests())).hasSize(1);
    }
  }

  // ------------------------------------------------------------------ capabilities

  @Nested
  class Capabilities {
    ImageGenerationException refused(ImageGenerationRequest req) {
      ImageGenerationException e = catchThrowableOfType(ImageGenerationException.class,
          () -> service().generateImage(req, "bfl"));
      assertThat(e).isNotNull();
      server.verify(0, postRequestedFor(urlPathMatching("/.*")));
      return e;
    }

    @Test
    void eachModelKeepsItsOwnSizeRule() {
      // 1008 is a multiple of 16 (FLUX.2) but not of 32 (FLUX.1)
      assertThat(refused(fox().model("flux-pro-1.1").size(1008, 768).build())).hasMessageContaining("multiples of 32");
      assertThat(refused(fox().model("flux-dev").size(1472, 768).build())).hasMessageContaining("256 to 1440");
      assertThat(refused(fox().model("flux-2-pro").size(2064, 2048).build())).hasMessageContaining("4 MP");
      assertThat(refused(fox().model("flux-kontext-pro").size(2560, 512).build())).hasMessageContaining("1:4 to 4:1");
      stubs.success(StubImages.png(64, 64, 1));
      service().generateImage(fox().model("flux-2-pro").size(1008, 768).build(), "bfl");
      assertThat(body(onlySubmit("flux-2-pro")).path("width").asInt()).isEqualTo(1008);
    }

    @Test
    void inputImagesOnlyWhereTheModelTakesThemAndNoMoreThanItTakes() {
      InputImage init = InputImage.ofUrl(InputImage.Role.INIT, URI.create("https://example.com/a.png"));
      ImageGenerationException e = refused(fox().model("flux-pro-1.1").inputImage(init).build());
      assertThat(e.kind()).isEqualTo(ErrorKind.NO_CAPABLE_PROVIDER);
      assertThat(e.failoverMayHelp()).isTrue();
      assertThat(e).hasMessageContaining("text to image");
      ImageGenerationRequest.Builder five = fox().model("flux-2-klein-4b").inputImage(init);
      for (int i = 0; i < 4; i++) {
        five.inputImage(InputImage.ofUrl(InputImage.Role.REFERENCE, URI.create("https://example.com/r" + i + ".png")));
      }
      assertThat(refused(five.build())).hasMessageContaining("5 input images, flux-2-klein-4b takes at most 4");
    }

    @Test
    void masksAndSeveralImagesAreRefused() {
      InputImage init = InputImage.ofUrl(InputImage.Role.INIT, URI.create("https://example.com/a.png"));
      InputImage mask = InputImage.ofUrl(InputImage.Role.MASK, URI.create("https://example.com/m.png"));
      assertThat(refused(fox().inputImage(init).inputImage(mask).build())).hasMessageContaining("mask");
      assertThat(refused(fox().numImages(2).build())).hasMessageContaining("2 images");
    }

    @Test
    void guidanceOutsideTheModelsRangeIsRefused() {
      assertThat(refused(fox().model("flux-dev").guidanceScale(7.0).build())).hasMessageContaining("1.5 to 5.0");
      assertThat(refused(fox().model("flux-kontext-max").size(1024, 1024).build().toBuilder().model("flux-9").build()))
          .hasMessageContaining("flux-9");
    }

    @Test
    void declaresWhatItCanDo() {
      ImageProvider p = new BflProviderFactory().create(config().build());
      var c = p.capabilities();
      assertThat(c.negativePrompt()).isFalse();
      assertThat(c.mask()).isFalse();
      assertThat(c.cancellable()).isFalse();
      assertThat(c.maxImagesPerRequest()).isEqualTo(1);
      assertThat(c.img2img()).isTrue();
      assertThat(c.models()).contains("flux-2-pro", "flux-kontext-pro", "flux-kontext-max", "flux-pro-1.1-ultra", "flux-dev");
      assertThat(p.models()).extracting(ModelInfo::id).contains("flux-2-klein-9b");
    }
  }

  // ------------------------------------------------------------------ configuration and health

  @Nested
  class Configuration {
    @Test
    void regionPicksTheRegionalHostAndRefusesABaseUrlBesideIt() {
      ProviderConfig eu = ProviderConfig.builder("bfl").apiKey(KEY).set("region", "eu").build();
      assertThat(new BflProviderFactory().create(eu).toString()).contains("https://api.eu.bfl.ai");
      ProviderConfig us = ProviderConfig.builder("bfl").apiKey(KEY).set("region", "US").build();
      assertThat(new BflProviderFactory().create(us).toString()).contains("https://api.us.bfl.ai");
      assertThat(new BflProviderFactory().create(ProviderConfig.builder("bfl").apiKey(KEY).build()).toString())
          .contains("https://api.bfl.ai");
      assertThatThrownBy(() -> new BflProviderFactory().create(config().set("region", "eu").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("region").hasMessageContaining("base-url");
      assertThatThrownBy(() -> new BflProviderFactory().create(ProviderConfig.builder("bfl").apiKey(KEY).set("region", "asia")
          .build())).isInstanceOf(IllegalStateException.class).hasMessageContaining("region");
    }

    @Test
    void badValuesAreReportedNamingTheKey() {
      assertThatThrownBy(() -> new BflProviderFactory().create(config().set("polling-hosts", "*.ai").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("polling-hosts");
      assertThatThrownBy(() -> new BflProviderFactory().create(config().set("model", "flux-schnell").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("'model'");
      assertThatThrownBy(() -> new BflProviderFactory().create(config().set("edit-model", "flux-pro-1.1").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("edit-model");
      assertThatThrownBy(() -> new BflProviderFactory().create(config().set("safety-tolerance", "9").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("safety-tolerance");
      assertThatThrownBy(() -> new BflProviderFactory().create(ProviderConfig.builder("bfl").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("BFL_API_KEY");
    }

    @Test
    void factoryDefaultsToBflsActiveTaskLimitAndItsCustomaryVariable() {
      BflProviderFactory f = new BflProviderFactory();
      assertThat(f.defaults()).containsEntry(ProviderConfig.MAX_CONCURRENT, "24");
      assertThat(f.customaryEnvironment()).containsEntry(ProviderConfig.API_KEY, List.of("BFL_API_KEY"));
      ProviderConfig fromEnv = ProviderConfig.from("bfl", Map.of("BFL_API_KEY", "k"), new java.util.Properties(),
          f.customaryEnvironment());
      assertThat(f.isConfigured(fromEnv)).isTrue();
    }

    @Test
    void healthReadsCredits() {
      stubs.healthy();
      ProviderHealth h = service().testConnection("bfl");
      assertThat(h.state()).isEqualTo(ProviderHealth.State.UP);
      assertThat(h.toString()).contains("123.5");
      server.verify(getRequestedFor(urlPathEqualTo("/v1/credits")).withHeader("x-key", equalTo(KEY)));
    }
  }

  // ------------------------------------------------------------------ hosts

  @Nested
  class Hosts {
    final URI base = URI.create("https://api.bfl.ai");
    final BflHosts hosts = BflHosts.of("bfl", base, BflHosts.DEFAULT);

    @Test
    void bflsClusterHostsAreTrusted() {
      for (String h : List.of("api.bfl.ai", "api.eu.bfl.ai", "api.us.bfl.ai", "api.eu2.bfl.ai", "api.us1.bfl.ai", "API.EU4.BFL.AI")) {
        assertThat(hosts.trusted("https://" + h + "/v1/get_result?id=x")).as(h).isNotNull();
      }
    }

    @Test
    void otherHostsSchemesAndPortsAreNot() {
      for (String u : List.of("https://api.bfl.ai.evil.example/v1/get_result", "https://evilbfl.ai/v1/get_result",
          "https://api.eu.x.bfl.ai/v1", "https://delivery-eu1.bfl.ai/x", "http://api.eu2.bfl.ai/v1/get_result",
          "https://api.eu2.bfl.ai:8443/v1/get_result", "ftp://api.bfl.ai/x", "not a url")) {
        assertThat(hosts.trusted(u)).as(u).isNull();
      }
      assertThat(hosts.trusted(null)).isNull();
    }

    @Test
    void theBaseUrlsOriginIsAlwaysTrusted() {
      BflHosts none = BflHosts.of("bfl", URI.create("http://127.0.0.1:8080"), "");
      assertThat(none.trusted("http://127.0.0.1:8080/v1/get_result?id=x")).isNotNull();
      assertThat(none.trusted("https://api.bfl.ai/v1/get_result?id=x")).isNull();
    }

    @Test
    void wildcardsThatWouldTrustADomainAreRefused() {
      for (String bad : List.of("*", "*.ai", "bfl.*", "api.bfl.*", "a b.bfl.ai", "api.**.bfl.ai", "https://api.bfl.ai")) {
        assertThatThrownBy(() -> BflHosts.of("bfl", base, bad)).as(bad).isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("polling-hosts");
      }
    }
  }

  // ------------------------------------------------------------------ the stubs' own check

  @Nested
  class StubsCheck {
    LoggedRequest send(String model, String body, String header, String value) throws Exception {
      server.resetRequests();
      java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/"
          + model)).header("Content-Type", "application/json").header(header, value)
          .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build(),
          java.net.http.HttpResponse.BodyHandlers.discarding());
      return server.findAll(stubs.submitRequests()).get(0);
    }

    @Test
    void assertSubmittedAcceptsBflsNamesAndRefusesOthers() throws Exception {
      stubs.stubSubmit();
      ImageGenerationRequest req = fox().size(512, 512).seed(42L).steps(4).guidanceScale(3.5).build();
      String right = "{\"prompt\":\"a red fox in snow\",\"width\":512,\"height\":512,\"seed\":42}";
      stubs.assertSubmitted(req, send("flux-2-pro", right, "x-key", "k"), "k");
      assertThatThrownBy(() -> stubs.assertSubmitted(req, send("flux-2-pro", right, "Authorization", "Bearer k"), "k"))
          .isInstanceOf(AssertionError.class).hasMessageContaining("x-key");
      String withSteps = "{\"prompt\":\"a red fox in snow\",\"width\":512,\"height\":512,\"seed\":42,\"steps\":4}";
      assertThatThrownBy(() -> stubs.assertSubmitted(req, send("flux-2-pro", withSteps, "x-key", "k"), "k"))
          .isInstanceOf(AssertionError.class).hasMessageContaining("steps");
      assertThatThrownBy(() -> stubs.assertSubmitted(req, send("flux-dev", right, "x-key", "k"), "k"))
          .isInstanceOf(AssertionError.class).hasMessageContaining("steps");
      assertThatThrownBy(() -> stubs.assertSubmitted(req, send("flux-kontext-pro", right, "x-key", "k"), "k"))
          .isInstanceOf(AssertionError.class).hasMessageContaining("aspect_ratio");
    }
  }

  // ------------------------------------------------------------------ prices

  @Nested
  class Prices {
    BflPrices prices(ProviderConfig config) {
      BflProvider p = (BflProvider) new BflProviderFactory().create(config);
      return (BflPrices) p.costModel();
    }

    BigDecimal estimate(ImageGenerationRequest r) {
      Cost c = prices(config().build()).estimate(r);
      assertThat(c.isKnown()).as(r.toString()).isTrue();
      return c.amountOrZero();
    }

    @Test
    void flux2IsPricedPerMegapixelByBflsFormula() {
      // pro: 3 cents for the first MP, 1.5 per further MP: 1024x1024 = 1.048576 MP
      assertThat(estimate(fox().size(1024, 1024).build())).isEqualByComparingTo("0.030729");
      // 1920x1080 = 2.0736 MP: 0.03 + 1.0736 * 0.015
      assertThat(estimate(fox().size(1920, 1080).build())).isEqualByComparingTo("0.046104");
      // an edit: one input image counted as 1 MP at the further rate ("$0.045" for a pro edit)
      assertThat(estimate(fox().model("flux-2-pro").size(1024, 1024)
          .inputImage(InputImage.ofUrl(InputImage.Role.INIT, URI.create("https://example.com/a.png"))).build()))
          .isEqualByComparingTo("0.045729");
      assertThat(estimate(fox().model("flux-2-max").size(1024, 1024).build())).isEqualByComparingTo("0.071457");
      assertThat(estimate(fox().model("flux-2-flex").size(1024, 1024).build())).isEqualByComparingTo("0.052429");
      assertThat(estimate(fox().model("flux-2-klein-4b").size(1024, 1024).build())).isEqualByComparingTo("0.014049");
      assertThat(estimate(fox().model("flux-2-klein-9b").size(1024, 1024).build())).isEqualByComparingTo("0.015097");
      // below one megapixel: the first-MP price
      assertThat(estimate(fox().size(512, 512).build())).isEqualByComparingTo("0.03");
    }

    @Test
    void flux1IsPricedPerImageAndFlux1ProIsUnknown() {
      assertThat(estimate(fox().model("flux-kontext-pro").build())).isEqualByComparingTo("0.04");
      assertThat(estimate(fox().model("flux-kontext-max").build())).isEqualByComparingTo("0.08");
      assertThat(estimate(fox().model("flux-pro-1.1").build())).isEqualByComparingTo("0.04");
      assertThat(estimate(fox().model("flux-pro-1.1-ultra").build())).isEqualByComparingTo("0.06");
      assertThat(estimate(fox().model("flux-dev").build())).isEqualByComparingTo("0.025");
      assertThat(prices(config().build()).estimate(fox().model("flux-pro").build()).isKnown()).isFalse();
    }

    @Test
    void configuredPricesWin() {
      BflPrices p = prices(config().set("price.flux-2-pro", "0.05").set("price.flux-pro", "0.05").build());
      assertThat(p.estimate(fox().size(1920, 1080).build()).amountOrZero()).isEqualByComparingTo("0.05");
      assertThat(p.estimate(fox().model("flux-pro").build()).amountOrZero()).isEqualByComparingTo("0.05");
    }

    @Test
    void theSubmitsCostIsTheProviderReportedCost() {
      stubs.success(StubImages.png(64, 64, 1));
      server.stubFor(BflStubs.anySubmit().atPriority(1).willReturn(BflStubs.json(200,
          BflStubs.submitAnswer(ID, stubs.pollingUrl(ID), 4.5))));
      ImageGenerationResponse r = service().generateImage(fox().size(1024, 1024).build(), "bfl");
      assertThat(r.cost().amountOrZero()).isEqualByComparingTo("0.045");
      assertThat(r.cost().source()).isEqualTo(Cost.Source.PROVIDER_REPORTED);
    }

    @Test
    void withoutASubmitCostTheEstimateStands() {
      stubs.success(StubImages.png(64, 64, 1));
      server.stubFor(BflStubs.anySubmit().atPriority(1).willReturn(BflStubs.json(200,
          BflStubs.submitAnswer(ID, stubs.pollingUrl(ID), 0.0))));
      ImageGenerationResponse r = service().generateImage(fox().model("flux-kontext-pro").build(), "bfl");
      assertThat(r.cost().amountOrZero()).isEqualByComparingTo("0.04"); // a reported 0 is not taken as free
      assertThat(r.cost().source()).isEqualTo(Cost.Source.ESTIMATED);
    }
  }
}
