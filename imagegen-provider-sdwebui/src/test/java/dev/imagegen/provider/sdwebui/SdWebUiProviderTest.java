package dev.imagegen.provider.sdwebui;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.absent;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.AllProvidersFailedException;
import dev.imagegen.AuthenticationException;
import dev.imagegen.Cost;
import dev.imagegen.ErrorKind;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationJob;
import dev.imagegen.GenerationTimeoutException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ModelInfo;
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
import dev.imagegen.testkit.stubs.SdWebUiStubs;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The WebUI's own behaviour, against WireMock answering like protocols/sdwebui.md. */
class SdWebUiProviderTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String TXT2IMG = SdWebUiStubs.TXT2IMG;
  private static final String IMG2IMG = SdWebUiStubs.IMG2IMG;
  private static final String PROGRESS = SdWebUiStubs.PROGRESS;
  private static final String INTERRUPT = SdWebUiStubs.INTERRUPT;

  private WireMockServer server;
  private ImageGenerationService service;

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
  }

  @AfterEach
  void stop() {
    if (service != null) {
      service.close();
    }
    server.stop();
  }

  private ImageGenerationService service(String... keyValues) {
    service = builder(keyValues).build();
    return service;
  }

  private ImageGenerationService.Builder builder(String... keyValues) {
    return ImageGenerationService.builder().provider(new SdWebUiProviderFactory(), config(keyValues))
        .retryBackoff(Duration.ofMillis(5), Duration.ofMillis(20));
  }

  private ProviderConfig config(String... keyValues) {
    ProviderConfig.Builder b = ProviderConfig.builder("sdwebui").baseUrl(server.baseUrl()).set("poll-interval", "200ms");
    for (int i = 0; i < keyValues.length; i += 2) {
      b.set(keyValues[i], keyValues[i + 1]);
    }
    return b.build();
  }

  private static ImageGenerationRequest.Builder request() {
    return ImageGenerationRequest.builder().prompt("a lighthouse at dusk");
  }

  private JsonNode body(LoggedRequest r) throws Exception {
    return JSON.readTree(r.getBodyAsString());
  }

  private LoggedRequest onlySubmit() {
    List<LoggedRequest> submits = server.findAll(postRequestedFor(urlPathMatching("/sdapi/v1/(txt2img|img2img)")));
    assertThat(submits).hasSize(1);
    return submits.get(0);
  }

  private void stubGenerate(String path, String body) {
    server.stubFor(post(urlPathEqualTo(path)).willReturn(SdWebUiStubs.ok(body)));
  }

  // ------------------------------------------------------------------ txt2img

  @Test
  void seedsComeFromInfoParsedAsJsonStringAndRequestMapsToWebUiFields() throws Exception {
    StubImage a = StubImages.png(64, 64, 2871624913L);
    StubImage b = StubImages.png(64, 64, 2871624914L);
    stubGenerate(TXT2IMG, SdWebUiStubs.generated(List.of(a, b), "a lighthouse at dusk", "v1-5-pruned-emaonly"));

    ImageGenerationResponse r = service().generateImage(request().size(64, 64).numImages(2).guidanceScale(6.5)
        .negativePrompt("fog").build(), "sdwebui");

    assertThat(r.images()).extracting(GeneratedImage::seed).containsExactly(2871624913L, 2871624914L);
    assertThat(r.images().get(0).bytes()).isEqualTo(a.bytes());
    assertThat(r.images().get(0).mediaType()).isEqualTo("image/png");
    assertThat(r.model()).isEqualTo("v1-5-pruned-emaonly");
    assertThat(r.metadata()).containsEntry("seed", "2871624913").containsEntry("webui_version", "v1.10.1");
    assertThat(r.cost().source()).isEqualTo(Cost.Source.FREE);

    JsonNode sent = body(onlySubmit());
    assertThat(sent.get("prompt").asText()).isEqualTo("a lighthouse at dusk");
    assertThat(sent.get("negative_prompt").asText()).isEqualTo("fog");
    assertThat(sent.get("seed").asLong()).as("random seed is -1").isEqualTo(-1L);
    assertThat(sent.get("batch_size").asInt()).isEqualTo(2);
    assertThat(sent.get("steps").asInt()).as("UI default, not the API's 50").isEqualTo(20);
    assertThat(sent.get("cfg_scale").asDouble()).isEqualTo(6.5);
    assertThat(sent.get("width").asInt()).isEqualTo(64);
    assertThat(sent.get("height").asInt()).isEqualTo(64);
    assertThat(sent.has("override_settings")).as("no model asked: the loaded checkpoint").isFalse();
    assertThat(sent.has("init_images")).isFalse();
    assertThat(onlySubmit().getHeader("Authorization")).as("no credentials configured").isNull();
  }

  @Test
  void requestedSeedIsSentAndDefaultNegativePromptApplies() throws Exception {
    StubImage a = StubImages.png(64, 64, 42);
    stubGenerate(TXT2IMG, SdWebUiStubs.generated(List.of(a), "x", "v1-5-pruned-emaonly"));

    ImageGenerationResponse r = service().generateImage(request().seed(42L).steps(8).build(), "sdwebui");

    assertThat(r.image().seed()).isEqualTo(42L);
    JsonNode sent = body(onlySubmit());
    assertThat(sent.get("seed").asLong()).isEqualTo(42L);
    assertThat(sent.get("steps").asInt()).isEqualTo(8);
    assertThat(sent.get("negative_prompt").asText()).isEqualTo(request().build().effectiveNegativePrompt());
  }

  @Test
  void gridReturnedFirstIsSkippedUsingIndexOfFirstImage() throws Exception {
    StubImage grid = StubImages.png(128, 64, 1);
    StubImage a = StubImages.png(64, 64, 11);
    StubImage b = StubImages.png(64, 64, 12);
    ObjectMapper m = new ObjectMapper();
    var root = (com.fasterxml.jackson.databind.node.ObjectNode) m.readTree(
        SdWebUiStubs.generated(List.of(grid, a, b), "p", "v1-5-pruned-emaonly"));
    var info = (com.fasterxml.jackson.databind.node.ObjectNode) m.readTree(root.get("info").asText());
    info.put("index_of_first_image", 1);
    info.putArray("all_seeds").add(11).add(12);
    root.put("info", info.toString());
    stubGenerate(TXT2IMG, root.toString());

    ImageGenerationResponse r = service().generateImage(request().numImages(2).build(), "sdwebui");

    assertThat(r.images()).hasSize(2);
    assertThat(r.images()).extracting(GeneratedImage::width).containsExactly(64, 64);
    assertThat(r.images()).extracting(GeneratedImage::seed).containsExactly(11L, 12L);
  }

  @Test
  void unreadableInfoStillDeliversImagesWithAWarning() {
    StubImage a = StubImages.jpeg(64, 64, 3);
    stubGenerate(TXT2IMG, "{\"images\":[\"" + Base64.getEncoder().encodeToString(a.bytes()) + "\"],\"parameters\":{},"
        + "\"info\":\"not json at all\"}");

    ImageGenerationResponse r = service().generateImage(request().build(), "sdwebui");

    assertThat(r.image().mediaType()).as("format sniffed, not assumed PNG").isEqualTo("image/jpeg");
    assertThat(r.image().seed()).isNull();
    assertThat(r.warnings()).anyMatch(w -> w.contains("info could not be read"));
  }

  @Test
  void loraSyntaxIsAppendedToThePrompt() throws Exception {
    stubGenerate(TXT2IMG, SdWebUiStubs.generated(List.of(StubImages.png(64, 64, 1)), "p", "v1-5-pruned-emaonly"));

    service().generateImage(request().lora("film-grain", 0.8).lora("detail", 1.0).build(), "sdwebui");

    assertThat(body(onlySubmit()).get("prompt").asText())
        .isEqualTo("a lighthouse at dusk <lora:film-grain:0.8> <lora:detail:1>");
  }

  @Test
  void unknownLoraIsRefusedWhenTheWebUiListsItsLoras() {
    server.stubFor(get(urlPathEqualTo(SdWebUiStubs.LORAS)).willReturn(SdWebUiStubs.ok(SdWebUiStubs.LORAS_BODY)));

    Throwable t = catchThrowable(() -> service().generateImage(request().lora("nope", 1).build(), "sdwebui"));

    assertThat(t).isInstanceOf(InvalidRequestException.class).hasMessageContaining("LoRA 'nope' is not installed")
        .hasMessageContaining("film-grain");
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(TXT2IMG)))).isEmpty();
  }

  @Test
  void modelAliasBecomesOverrideSettingsCheckpoint() throws Exception {
    server.stubFor(get(urlPathEqualTo(SdWebUiStubs.SD_MODELS)).willReturn(SdWebUiStubs.ok(SdWebUiStubs.SD_MODELS_BODY)));
    stubGenerate(TXT2IMG, SdWebUiStubs.generated(List.of(StubImages.png(64, 64, 1)), "p", "sd_xl_base_1.0"));

    ImageGenerationResponse r = service("models", "sdxl=sd_xl_base_1.0").generateImage(request().model("sdxl").build(), "sdwebui");

    assertThat(body(onlySubmit()).at("/override_settings/sd_model_checkpoint").asText())
        .isEqualTo("sd_xl_base_1.0.safetensors [31e35c80fc]");
    assertThat(r.model()).isEqualTo("sd_xl_base_1.0");
    assertThat(r.warnings()).noneMatch(w -> w.contains("checkpoint"));
  }

  @Test
  void checkpointTheWebUiDidNotUseGivesAWarning() {
    stubGenerate(TXT2IMG, SdWebUiStubs.generated(List.of(StubImages.png(64, 64, 1)), "p", "v1-5-pruned-emaonly"));

    // the model list is not available: the checkpoint is sent unverified, then checked in info
    ImageGenerationResponse r = service().generateImage(request().model("dreamshaper_8").build(), "sdwebui");

    assertThat(r.warnings()).anyMatch(w -> w.contains("dreamshaper_8") && w.contains("v1-5-pruned-emaonly"));
  }

  // ------------------------------------------------------------------ img2img

  @Test
  void initImageMaskAndStrengthGoToImg2Img() throws Exception {
    StubImage init = StubImages.png(64, 64, 5);
    StubImage mask = StubImages.png(64, 64, 6);
    stubGenerate(IMG2IMG, SdWebUiStubs.generated(List.of(StubImages.png(64, 64, 7)), "p", "v1-5-pruned-emaonly"));

    service().generateImage(request().inputImage(InputImage.ofBytes(InputImage.Role.INIT, init.bytes()))
        .inputImage(InputImage.ofBytes(InputImage.Role.MASK, mask.bytes())).strength(0.55).build(), "sdwebui");

    JsonNode sent = body(onlySubmit());
    assertThat(onlySubmit().getUrl()).isEqualTo(IMG2IMG);
    assertThat(sent.get("init_images")).hasSize(1);
    assertThat(Base64.getDecoder().decode(sent.get("init_images").get(0).asText())).as("bare base64, no data: prefix")
        .isEqualTo(init.bytes());
    assertThat(Base64.getDecoder().decode(sent.get("mask").asText())).isEqualTo(mask.bytes());
    assertThat(sent.get("denoising_strength").asDouble()).isEqualTo(0.55);
  }

  // ------------------------------------------------------------------ progress and interrupt

  @Test
  void progressIsPolledWhileTheCallBlocksAndStopsAfterIt() throws Exception {
    server.stubFor(post(urlPathEqualTo(TXT2IMG)).willReturn(SdWebUiStubs.ok(
        SdWebUiStubs.generated(List.of(StubImages.png(64, 64, 1)), "p", "v1-5-pruned-emaonly")).withFixedDelay(1500)));
    server.stubFor(get(urlPathEqualTo(PROGRESS)).willReturn(SdWebUiStubs.ok(SdWebUiStubs.progress(0.46, 3.9, 9, 20))));
    List<ProgressEvent> events = new CopyOnWriteArrayList<>();

    GenerationJob job = service().submit(request().build()).onProgress(events::add);
    job.result().get(10, TimeUnit.SECONDS);

    assertThat(events).anySatisfy(e -> {
      assertThat(e.stage()).isEqualTo(ProgressEvent.Stage.RUNNING);
      assertThat(e.percent()).isEqualTo(46.0);
      assertThat(e.eta()).isEqualTo(Duration.ofMillis(3900));
    });
    List<LoggedRequest> polls = server.findAll(getRequestedFor(urlPathEqualTo(PROGRESS)));
    assertThat(polls).isNotEmpty();
    assertThat(polls.get(0).queryParameter("skip_current_image").firstValue()).isEqualTo("true");
    int after = polls.size();
    Thread.sleep(700);
    assertThat(server.findAll(getRequestedFor(urlPathEqualTo(PROGRESS)))).as("polling stops with the call").hasSize(after);
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(INTERRUPT)))).isEmpty();
  }

  @Test
  void cancelSendsInterrupt() throws Exception {
    new SdWebUiStubs(server).neverFinishes();
    List<ProgressEvent> events = new CopyOnWriteArrayList<>();
    GenerationJob job = service().submit(request().build()).onProgress(events::add);
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (events.stream().noneMatch(e -> e.stage() == ProgressEvent.Stage.RUNNING) && System.nanoTime() < until) {
      Thread.sleep(20);
    }

    long t0 = System.nanoTime();
    assertThat(job.cancel()).isTrue();

    awaitRequests(postRequestedFor(urlPathEqualTo(INTERRUPT)), 1, Duration.ofSeconds(2));
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(2));
    assertThat(catchThrowable(() -> job.result().join())).isInstanceOf(CancellationException.class);
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(TXT2IMG)))).as("never resubmitted").hasSize(1);
  }

  @Test
  void deadlineSendsInterruptAndTimesOut() {
    new SdWebUiStubs(server).neverFinishes();

    Throwable t = catchThrowable(() -> service().generateImage(request().timeout(Duration.ofMillis(1500)).build(), "sdwebui"));

    assertThat(t).isInstanceOf(GenerationTimeoutException.class);
    assertThat(((GenerationTimeoutException) t).remoteCancelled()).isTrue();
    awaitRequests(postRequestedFor(urlPathEqualTo(INTERRUPT)), 1, Duration.ofSeconds(2));
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(TXT2IMG)))).hasSize(1);
  }

  @Test
  void callsGoOutOneAtATimeAndACancelledWaiterSendsNothing() throws Exception {
    server.stubFor(post(urlPathEqualTo(TXT2IMG)).willReturn(SdWebUiStubs.ok(
        SdWebUiStubs.generated(List.of(StubImages.png(64, 64, 1)), "p", "v1-5-pruned-emaonly")).withFixedDelay(800)));
    server.stubFor(get(urlPathEqualTo(PROGRESS)).willReturn(SdWebUiStubs.ok(SdWebUiStubs.IDLE)));
    ImageGenerationService s = service();

    GenerationJob first = s.submit(request().build());
    GenerationJob second = s.submit(request().build());
    GenerationJob third = s.submit(request().build());
    Thread.sleep(400);
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(TXT2IMG)))).as("the WebUI runs one at a time").hasSize(1);
    third.cancel();

    first.result().get(10, TimeUnit.SECONDS);
    second.result().get(10, TimeUnit.SECONDS);
    Thread.sleep(200);
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(TXT2IMG)))).hasSize(2);
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(INTERRUPT)))).as("a waiter's cancel is local").isEmpty();
  }

  @Test
  void lostAnswerIsNotResubmittedAndTheRunningJobIsInterrupted() {
    new SdWebUiStubs(server).connectionReset();

    Throwable t = catchThrowable(() -> service().generateImage(request().build(), "sdwebui"));

    assertThat(t).isInstanceOf(ImageGenerationException.class).hasMessageContaining("sdwebui");
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(TXT2IMG)))).as("outcome unknown: never resubmitted").hasSize(1);
    awaitRequests(postRequestedFor(urlPathEqualTo(INTERRUPT)), 1, Duration.ofSeconds(2));
  }

  @Test
  void lostAnswerWithAnIdleWebUiInterruptsNothing() {
    server.stubFor(post(urlPathEqualTo(TXT2IMG)).willReturn(aResponse().withStatus(200).withBody("")));
    server.stubFor(get(urlPathEqualTo(PROGRESS)).willReturn(SdWebUiStubs.ok(SdWebUiStubs.IDLE)));

    Throwable t = catchThrowable(() -> service().generateImage(request().build(), "sdwebui"));

    assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("empty answer");
    assertThat(((ProviderUnavailableException) t).outcomeUnknown()).isTrue();
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(TXT2IMG)))).hasSize(1);
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(INTERRUPT)))).isEmpty();
  }

  @Test
  void configuredTimeoutCapsTheCallEvenWithTimeLeft() {
    server.stubFor(post(urlPathEqualTo(TXT2IMG)).willReturn(SdWebUiStubs.ok(
        SdWebUiStubs.generated(List.of(StubImages.png(64, 64, 1)), "p", "v1-5-pruned-emaonly")).withFixedDelay(3000)));
    server.stubFor(get(urlPathEqualTo(PROGRESS)).willReturn(SdWebUiStubs.ok(SdWebUiStubs.progress(0.5, 1, 10, 20))));
    server.stubFor(post(urlPathEqualTo(INTERRUPT)).willReturn(SdWebUiStubs.ok("{}")));

    long t0 = System.nanoTime();
    Throwable t = catchThrowable(() -> builder("timeout", "700ms").maxRetries(0).build()
        .generateImage(request().timeout(Duration.ofSeconds(20)).build(), "sdwebui"));

    assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("no answer within");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(2800));
    awaitRequests(postRequestedFor(urlPathEqualTo(INTERRUPT)), 1, Duration.ofSeconds(2));
  }

  // ------------------------------------------------------------------ auth

  @Test
  void basicAuthFromUsernameAndPassword() {
    stubGenerate(TXT2IMG, SdWebUiStubs.generated(List.of(StubImages.png(64, 64, 1)), "p", "v1-5-pruned-emaonly"));

    service("username", "alice", "password", "s3cret-pass").generateImage(request().build(), "sdwebui");

    assertThat(onlySubmit().getHeader("Authorization"))
        .isEqualTo("Basic " + Base64.getEncoder().encodeToString("alice:s3cret-pass".getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void basicAuthFromApiAuthAlsoOnProgressAndInterrupt() throws Exception {
    new SdWebUiStubs(server).neverFinishes();
    String expected = "Basic " + Base64.getEncoder().encodeToString("bob:pw-1234".getBytes(StandardCharsets.UTF_8));

    GenerationJob job = service("api-auth", "bob:pw-1234,carol:other").submit(request().build());
    awaitRequests(getRequestedFor(urlPathEqualTo(PROGRESS)), 1, Duration.ofSeconds(5));
    job.cancel();
    awaitRequests(postRequestedFor(urlPathEqualTo(INTERRUPT)), 1, Duration.ofSeconds(2));

    server.verify(postRequestedFor(urlPathEqualTo(TXT2IMG)).withHeader("Authorization", equalTo(expected)));
    server.verify(getRequestedFor(urlPathEqualTo(PROGRESS)).withHeader("Authorization", equalTo(expected)));
    server.verify(postRequestedFor(urlPathEqualTo(INTERRUPT)).withHeader("Authorization", equalTo(expected)));
  }

  @Test
  void refusedCredentialsNameApiAuthButNeverThePassword() {
    server.stubFor(post(urlPathEqualTo(TXT2IMG)).willReturn(aResponse().withStatus(401)
        .withHeader("Content-Type", "application/json").withBody(SdWebUiStubs.UNAUTHORIZED_BODY)));

    Throwable t = catchThrowable(() -> service("username", "alice", "password", "s3cret-pass")
        .generateImage(request().build(), "sdwebui"));

    assertThat(t).isInstanceOf(AuthenticationException.class).hasMessageContaining("Incorrect username or password")
        .hasMessageContaining("--api-auth").hasMessageContaining("alice").hasMessageNotContaining("s3cret-pass");
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(TXT2IMG)))).as("no retry").hasSize(1);
  }

  @Test
  void missingCredentialsSayHowToSetThem() {
    server.stubFor(post(urlPathEqualTo(TXT2IMG)).withHeader("Authorization", absent()).willReturn(aResponse().withStatus(401)
        .withHeader("Content-Type", "application/json").withBody("{\"error\":\"HTTPException\",\"detail\":\"Not authenticated\","
            + "\"body\":\"\",\"errors\":\"401: Not authenticated\"}")));

    assertThatThrownBy(() -> service().generateImage(request().build(), "sdwebui"))
        .isInstanceOf(AuthenticationException.class).hasMessageContaining("Not authenticated")
        .hasMessageContaining("imagegen.sdwebui.username");
  }

  // ------------------------------------------------------------------ errors

  @Test
  void withoutApiFlagTheWebUiAnswers404AndTheMessageSaysSo() {
    server.stubFor(post(urlPathEqualTo(TXT2IMG)).willReturn(aResponse().withStatus(404)
        .withHeader("Content-Type", "application/json").withBody(SdWebUiStubs.NOT_FOUND_BODY)));

    Throwable t = catchThrowable(() -> service().generateImage(request().build(), "sdwebui"));

    assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("started without --api");
    assertThat(((ImageGenerationException) t).failoverMayHelp()).isTrue();
    assertThat(((ImageGenerationException) t).retryMayHelp()).isFalse();
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(TXT2IMG)))).hasSize(1);
  }

  @Test
  void notFoundFromTheWebUiItselfIsAnInputError() {
    server.stubFor(post(urlPathEqualTo(IMG2IMG)).willReturn(aResponse().withStatus(404)
        .withHeader("Content-Type", "application/json")
        .withBody("{\"error\":\"HTTPException\",\"detail\":\"Init image not found\",\"body\":\"\",\"errors\":\"\"}")));

    assertThatThrownBy(() -> service().generateImage(request()
        .inputImage(InputImage.ofBytes(InputImage.Role.INIT, StubImages.png(64, 64, 1).bytes())).build(), "sdwebui"))
        .isInstanceOf(InvalidRequestException.class).hasMessageContaining("Init image not found");
  }

  @Test
  void crashedGenerationCarriesTheWebUiText() {
    server.stubFor(post(urlPathEqualTo(TXT2IMG)).willReturn(aResponse().withStatus(500)
        .withHeader("Content-Type", "application/json").withBody("{\"error\":\"RuntimeError\",\"detail\":\"\",\"body\":\"\","
            + "\"errors\":\"Sizes of tensors must match except in dimension 1. Expected size 96 but got size 64\"}")));

    Throwable t = catchThrowable(() -> service().generateImage(request().build(), "sdwebui"));

    assertThat(t).isInstanceOf(ProviderUnavailableException.class)
        .hasMessageContaining("RuntimeError: Sizes of tensors must match");
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(TXT2IMG)))).as("a crash repeats: not retried").hasSize(1);
  }

  @Test
  void outOfMemoryIsAnUnknownOutcomeAndNotResubmitted() {
    new SdWebUiStubs(server).serverErrorThenSuccess(StubImages.png(64, 64, 9));

    Throwable t = catchThrowable(() -> service().generateImage(request().build(), "sdwebui"));

    assertThat(t).isInstanceOfSatisfying(ProviderUnavailableException.class, e -> assertThat(e.outcomeUnknown()).isTrue());
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(TXT2IMG)))).hasSize(1);
  }

  @Test
  void outOfMemoryTextReachesTheCaller() {
    server.stubFor(post(urlPathEqualTo(TXT2IMG)).willReturn(aResponse().withStatus(500)
        .withHeader("Content-Type", "application/json").withBody(SdWebUiStubs.OOM_BODY)));

    Throwable t = catchThrowable(() -> builder().maxRetries(0).build().generateImage(request().build(), "sdwebui"));

    assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("OutOfMemoryError")
        .hasMessageContaining("CUDA out of memory");
  }

  @Test
  void validationErrorsListEveryDetailA1111AndForgeShapes() {
    server.stubFor(post(urlPathEqualTo(TXT2IMG)).inScenario("v").whenScenarioStateIs(Scenario.STARTED)
        .willReturn(aResponse().withStatus(422).withHeader("Content-Type", "application/json").withBody(
            "{\"detail\":[{\"loc\":[\"body\",\"steps\"],\"msg\":\"value is not a valid integer\",\"type\":\"type_error.integer\"},"
                + "{\"loc\":[\"body\",\"width\"],\"msg\":\"value is not a valid integer\",\"type\":\"type_error.integer\"}]}"))
        .willSetStateTo("forge"));
    server.stubFor(post(urlPathEqualTo(TXT2IMG)).inScenario("v").whenScenarioStateIs("forge")
        .willReturn(aResponse().withStatus(422).withHeader("Content-Type", "application/json").withBody(
            "{\"detail\":[{\"type\":\"int_parsing\",\"loc\":[\"body\",\"steps\"],\"msg\":\"Input should be a valid integer, "
                + "unable to parse string as an integer\",\"input\":\"many\"}]}")));
    ImageGenerationService s = service();

    Throwable a1111 = catchThrowable(() -> s.generateImage(request().build(), "sdwebui"));
    Throwable forge = catchThrowable(() -> s.generateImage(request().build(), "sdwebui"));

    assertThat(a1111).isInstanceOf(InvalidRequestException.class);
    assertThat(((InvalidRequestException) a1111).violations()).containsExactly(
        "the WebUI rejected steps: value is not a valid integer", "the WebUI rejected width: value is not a valid integer");
    assertThat(((InvalidRequestException) forge).violations()).singleElement().asString()
        .contains("steps: Input should be a valid integer").contains("(input: many)");
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(TXT2IMG)))).as("no retry").hasSize(2);
  }

  // ------------------------------------------------------------------ samplers and schedulers

  private void stubSamplerLists() {
    server.stubFor(get(urlPathEqualTo(SdWebUiStubs.SAMPLERS)).willReturn(SdWebUiStubs.ok(SdWebUiStubs.SAMPLERS_BODY)));
    server.stubFor(get(urlPathEqualTo(SdWebUiStubs.SCHEDULERS)).willReturn(SdWebUiStubs.ok(SdWebUiStubs.SCHEDULERS_BODY)));
    stubGenerate(TXT2IMG, SdWebUiStubs.generated(List.of(StubImages.png(64, 64, 1)), "p", "v1-5-pruned-emaonly"));
  }

  @Test
  void unknownSamplerIsRefusedNamingTheValidOnesAndNothingIsSent() {
    stubSamplerLists();

    Throwable t = catchThrowable(() -> service().generateImage(request().sampler("Heun++ 9000").build(), "sdwebui"));

    assertThat(t).isInstanceOf(InvalidRequestException.class).hasMessageContaining("sampler 'Heun++ 9000'")
        .hasMessageContaining("DPM++ 2M, Euler a, Euler, DDIM");
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(TXT2IMG)))).isEmpty();
  }

  @Test
  void samplerNamesAreMatchedLooselyAndCombinedNamesSplit() throws Exception {
    stubSamplerLists();
    ImageGenerationService s = service();

    s.generateImage(request().sampler("k_euler_a").build(), "sdwebui");
    s.generateImage(request().sampler("DPM++ 2M Karras").build(), "sdwebui");
    s.generateImage(request().sampler("dpmpp_2m").providerOption("sdwebui", "scheduler", "sgm_uniform").build(), "sdwebui");

    List<LoggedRequest> sent = server.findAll(postRequestedFor(urlPathEqualTo(TXT2IMG)));
    assertThat(body(sent.get(0)).get("sampler_name").asText()).isEqualTo("Euler a");
    assertThat(body(sent.get(0)).has("scheduler")).isFalse();
    assertThat(body(sent.get(1)).get("sampler_name").asText()).isEqualTo("DPM++ 2M");
    assertThat(body(sent.get(1)).get("scheduler").asText()).isEqualTo("Karras");
    assertThat(body(sent.get(2)).get("sampler_name").asText()).isEqualTo("DPM++ 2M");
    assertThat(body(sent.get(2)).get("scheduler").asText()).isEqualTo("SGM Uniform");
    assertThat(server.findAll(getRequestedFor(urlPathEqualTo(SdWebUiStubs.SAMPLERS)))).as("cached").hasSize(1);
  }

  @Test
  void unknownSchedulerIsRefused() {
    stubSamplerLists();

    assertThatThrownBy(() -> service().generateImage(request().providerOption("sdwebui", "scheduler", "Cosine").build(),
        "sdwebui")).isInstanceOf(InvalidRequestException.class).hasMessageContaining("scheduler 'Cosine'")
        .hasMessageContaining("Automatic, Karras, Exponential, SGM Uniform");
  }

  @Test
  void samplerIsSentAsIsWhenTheWebUiCannotListThem() throws Exception {
    stubGenerate(TXT2IMG, SdWebUiStubs.generated(List.of(StubImages.png(64, 64, 1)), "p", "v1-5-pruned-emaonly"));

    service().generateImage(request().sampler("Some Custom Sampler").build(), "sdwebui");

    assertThat(body(onlySubmit()).get("sampler_name").asText()).isEqualTo("Some Custom Sampler");
  }

  @Test
  void unknownProviderOptionsAreRefused() {
    assertThatThrownBy(() -> service().generateImage(request().providerOption("sdwebui", "steps", 3)
        .providerOption("sdwebui", "wat", 1).build(), "sdwebui"))
        .isInstanceOf(InvalidRequestException.class).hasMessageContaining("option 'steps' is set from the request")
        .hasMessageContaining("unknown option 'wat'");
  }

  @Test
  void passThroughOptionsReachTheBody() throws Exception {
    stubGenerate(TXT2IMG, SdWebUiStubs.generated(List.of(StubImages.png(64, 64, 1)), "p", "v1-5-pruned-emaonly"));

    service().generateImage(request().providerOption("sdwebui", "enable_hr", true)
        .providerOption("sdwebui", "override_settings", Map.of("CLIP_stop_at_last_layers", 2)).build(), "sdwebui");

    JsonNode sent = body(onlySubmit());
    assertThat(sent.get("enable_hr").asBoolean()).isTrue();
    assertThat(sent.at("/override_settings/CLIP_stop_at_last_layers").asInt()).isEqualTo(2);
  }

  // ------------------------------------------------------------------ health, models, cost, config

  @Test
  void healthReadsTheModelListWhichListModelsThenShows() {
    new SdWebUiStubs(server).healthy();
    ImageGenerationService s = service("models", "sd15=v1-5-pruned-emaonly");
    assertThat(s.listModels()).extracting(ModelInfo::id).as("configured before the WebUI was asked")
        .containsExactly("v1-5-pruned-emaonly");

    ProviderHealth h = s.testConnection("sdwebui");

    assertThat(h.state()).isEqualTo(ProviderHealth.State.UP);
    assertThat(h.message()).contains("2 checkpoint(s)").contains("idle");
    assertThat(s.listModels()).extracting(ModelInfo::id).containsExactly("v1-5-pruned-emaonly", "sd_xl_base_1.0");
    assertThat(s.listModels().get(0).aliases()).contains("sd15", "v1-5-pruned-emaonly.safetensors [6ce0161689]");
    server.verify(getRequestedFor(urlPathEqualTo(SdWebUiStubs.SD_MODELS)));
  }

  @Test
  void healthReportsRefusedCredentialsAndMissingApi() {
    new SdWebUiStubs(server).healthAuthRefused();
    assertThat(service("api-auth", "u:wrong-pass").testConnection("sdwebui").state()).isEqualTo(ProviderHealth.State.AUTH_FAILED);
    service.close();

    server.resetAll();
    server.stubFor(get(urlPathMatching("/sdapi/.*")).willReturn(aResponse().withStatus(404)
        .withHeader("Content-Type", "application/json").withBody(SdWebUiStubs.NOT_FOUND_BODY)));
    ProviderHealth h = service().testConnection("sdwebui");
    assertThat(h.state()).isEqualTo(ProviderHealth.State.DOWN);
    assertThat(h.message()).contains("--api");
  }

  @Test
  void healthWithoutAnyCheckpointIsDegraded() {
    server.stubFor(get(urlPathEqualTo(SdWebUiStubs.SD_MODELS)).willReturn(SdWebUiStubs.ok("[]")));
    server.stubFor(get(urlPathEqualTo(PROGRESS)).willReturn(SdWebUiStubs.ok(SdWebUiStubs.progress(0.5, 2, 10, 20))));

    ProviderHealth h = service().testConnection("sdwebui");

    assertThat(h.state()).isEqualTo(ProviderHealth.State.DEGRADED);
    assertThat(h.message()).contains("no checkpoint").contains("busy (50%)");
  }

  @Test
  void healthOfAServerThatIsDown() {
    int port = server.port();
    server.stop();
    ProviderHealth h = ImageGenerationService.builder().provider(new SdWebUiProviderFactory(),
        ProviderConfig.builder("sdwebui").baseUrl("http://127.0.0.1:" + port).build()).build().testConnection("sdwebui");
    assertThat(h.state()).isEqualTo(ProviderHealth.State.DOWN);
  }

  @Test
  void pricedPerGpuSecondFromTheWebUisProcessTime() {
    stubGenerate(TXT2IMG, SdWebUiStubs.generated(List.of(StubImages.png(64, 64, 1)), "p", "v1-5-pruned-emaonly"));
    ImageGenerationService s = service("price-per-gpu-second", "0.0004");

    assertThat(s.estimateCost(request().numImages(2).build()).amount()).isEqualByComparingTo("0.004"); // 2 x 5 s typical
    ImageGenerationResponse r = s.generateImage(request().build(), "sdwebui");

    assertThat(r.cost().amount()).isEqualByComparingTo(new BigDecimal("0.001")); // X-Process-Time 2.5 s
    assertThat(r.cost().source()).isEqualTo(Cost.Source.ESTIMATED);
  }

  @Test
  void enabledOnlyWhenBaseUrlIsConfigured() {
    SdWebUiProviderFactory f = new SdWebUiProviderFactory();
    assertThat(f.isConfigured(ProviderConfig.builder("sdwebui").build())).isFalse();
    assertThat(f.isConfigured(ProviderConfig.builder("sdwebui").baseUrl("http://127.0.0.1:7860").build())).isTrue();

    Properties p = new Properties();
    assertThat(ImageGenerationService.builder().configureFrom(Map.of(), p).build().providers()).doesNotContain("sdwebui");
    p.setProperty("imagegen.sdwebui.base-url", server.baseUrl());
    try (ImageGenerationService s = ImageGenerationService.builder().configureFrom(Map.of(), p).build()) {
      assertThat(s.providers()).contains("sdwebui");
    }
  }

  @Test
  void badConfigurationNamesTheKeyNotTheSecret() {
    SdWebUiProviderFactory f = new SdWebUiProviderFactory();
    assertThatThrownBy(() -> f.create(ProviderConfig.builder("sdwebui").baseUrl("http://h").set("api-auth", "nocolonsecret").build()))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("api-auth").hasMessageNotContaining("nocolonsecret");
    assertThatThrownBy(() -> f.create(ProviderConfig.builder("sdwebui").baseUrl("http://h").set("username", "u").build()))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("password");
    assertThatThrownBy(() -> f.create(ProviderConfig.builder("sdwebui").baseUrl("ftp://h").build()))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("base-url");
  }

  // ------------------------------------------------------------------ failover

  @Test
  void remoteProviderFailsAndTheWebUiServes() {
    stubGenerate(TXT2IMG, SdWebUiStubs.generated(List.of(StubImages.png(64, 64, 77)), "p", "v1-5-pruned-emaonly"));
    FailingRemote remote = new FailingRemote();
    service = builder("priority", "2").provider(remote, ProviderConfig.builder(remote.id()).set("priority", "1").build()).build();

    ImageGenerationResponse r = service.generateImageWithFailover(request().build());

    assertThat(r.provider()).isEqualTo("sdwebui");
    assertThat(r.image().seed()).isEqualTo(77L);
    assertThat(remote.calls.get()).isGreaterThanOrEqualTo(1);
    assertThat(r.attempts()).extracting(a -> a.provider()).containsExactly("remote", "sdwebui");
    assertThat(r.attempts().get(0).errorKind()).isEqualTo(ErrorKind.UNAVAILABLE);
  }

  @Test
  void modelTheWebUiDoesNotHaveFailsOverToAProviderThatMayHaveIt() {
    server.stubFor(get(urlPathEqualTo(SdWebUiStubs.SD_MODELS)).willReturn(SdWebUiStubs.ok(SdWebUiStubs.SD_MODELS_BODY)));
    FailingRemote other = new FailingRemote();
    service = builder("priority", "1").provider(other, ProviderConfig.builder(other.id()).set("priority", "2").build()).build();

    Throwable t = catchThrowable(() -> service.generateImageWithFailover(request().model("flux-schnell").build()));

    assertThat(t).isInstanceOf(AllProvidersFailedException.class);
    assertThat(((AllProvidersFailedException) t).attempts().get(0).message()).contains("'flux-schnell' is not installed")
        .contains("v1-5-pruned-emaonly");
    assertThat(other.calls.get()).as("failed over").isEqualTo(1);
    assertThat(server.findAll(postRequestedFor(urlPathEqualTo(TXT2IMG)))).isEmpty();
  }

  private void awaitRequests(com.github.tomakehurst.wiremock.matching.RequestPatternBuilder p, int n, Duration within) {
    long until = System.nanoTime() + within.toNanos();
    while (server.findAll(p).size() < n && System.nanoTime() < until) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    assertThat(server.findAll(p)).hasSizeGreaterThanOrEqualTo(n);
  }

  /** A hosted provider that is down (its 503 mapped by core). */
  private static final class FailingRemote implements ImageProvider {
    final AtomicInteger calls = new AtomicInteger();

    @Override
    public String id() {
      return "remote";
    }

    @Override
    public ProviderCapabilities capabilities() {
      return ProviderCapabilities.builder().negativePrompt(true).seed(true).maxImagesPerRequest(4).build();
    }

    @Override
    public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context) {
      calls.incrementAndGet();
      return CompletableFuture.failedFuture(new ProviderUnavailableException("server error (HTTP 503)", id(), false, false,
          null, null));
    }

    @Override
    public CompletableFuture<ProviderHealth> health(ProviderContext context) {
      return CompletableFuture.completedFuture(ProviderHealth.up(id(), Duration.ZERO));
    }

    @Override
    public CostModel costModel() {
      return CostModel.unknown();
    }
  }
}
