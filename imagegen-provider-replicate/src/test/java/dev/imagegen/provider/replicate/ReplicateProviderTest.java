package dev.imagegen.provider.replicate;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.Attempt;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.Cost;
import dev.imagegen.ErrorKind;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationJob;
import dev.imagegen.GenerationTimeoutException;
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
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.ReplicateStubs;
import java.math.BigDecimal;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Replicate-specific behaviour against a WireMock server speaking Replicate's protocol. */
class ReplicateProviderTest {
  static final String KEY = "r8_TestSecretToken0123456789abcdef";
  static final ObjectMapper JSON = new ObjectMapper();
  static WireMockServer server;

  ReplicateStubs stubs;
  final List<ImageGenerationService> services = new ArrayList<>();
  final Fallback fallback = new Fallback();

  @BeforeAll
  static void startServer() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
  }

  @AfterAll
  static void stopServer() {
    server.stop();
  }

  @BeforeEach
  void reset() {
    server.resetAll();
    stubs = new ReplicateStubs(server);
  }

  @AfterEach
  void close() {
    services.forEach(ImageGenerationService::close);
  }

  ProviderConfig config(String... extra) {
    ProviderConfig.Builder b = ProviderConfig.builder("replicate").apiKey(KEY).baseUrl(server.baseUrl() + "/v1")
        .set("poll-interval", "100ms").set("reconcile-delay", "100ms");
    for (int i = 0; i < extra.length; i += 2) {
      b.set(extra[i], extra[i + 1]);
    }
    return b.build();
  }

  ImageGenerationService service(String... extra) {
    return service(false, extra);
  }

  ImageGenerationService service(boolean withFallback, String... extra) {
    ImageGenerationService.Builder b = ImageGenerationService.builder()
        .provider(new ReplicateProviderFactory(), config(extra))
        .defaultTimeout(Duration.ofSeconds(20))
        .maxRetries(2)
        .retryBackoff(Duration.ofMillis(10), Duration.ofMillis(50))
        .maxRetryAfter(Duration.ofSeconds(1));
    if (withFallback) {
      b.provider(fallback, ProviderConfig.builder(Fallback.ID).set("priority", "1000").build());
    }
    ImageGenerationService s = b.build();
    services.add(s);
    return s;
  }

  static ImageGenerationRequest.Builder request() {
    return ImageGenerationRequest.builder().prompt("a red fox in snow");
  }

  List<LoggedRequest> creates() {
    return server.findAll(stubs.submitRequests());
  }

  List<LoggedRequest> polls() {
    return server.findAll(stubs.pollRequests());
  }

  static JsonNode body(LoggedRequest r) throws Exception {
    return JSON.readTree(r.getBodyAsString());
  }

  @Nested
  class Creating {

    @Test
    void officialModelGoesToItsModelPathWithFluxInputNames() throws Exception {
      String id = ReplicateStubs.newId();
      StubImage a = StubImages.png(96, 56, 3);
      StubImage b = StubImages.png(96, 56, 4);
      stubs.created(stubs.prediction(id, "succeeded").output(stubs.serveImage(id, 0, a), stubs.serveImage(id, 1, b))
          .metrics(2, 0.81).logs("Using seed: 42\n").json());

      ImageGenerationResponse r = service().generateImage(request().model("flux-schnell").size(1024, 576).numImages(2).seed(42L)
          .steps(4).outputFormat("png").negativePrompt("blurry").build(), "replicate");

      assertThat(r.images()).extracting(GeneratedImage::bytes).containsExactly(a.bytes(), b.bytes());
      assertThat(r.images()).allSatisfy(i -> assertThat(i.seed()).isEqualTo(42L));
      assertThat(r.model()).isEqualTo("black-forest-labs/flux-schnell");
      assertThat(r.metadata()).containsEntry("prediction_id", id).containsEntry("predict_time", "0.81");
      assertThat(r.warnings()).anySatisfy(w -> assertThat(w).contains("negative prompt"));
      assertThat(r.cost()).isEqualTo(Cost.estimated(new BigDecimal("0.006000")));

      LoggedRequest create = creates().get(0);
      assertThat(creates()).hasSize(1);
      assertThat(create.getUrl()).isEqualTo("/v1/models/black-forest-labs/flux-schnell/predictions");
      assertThat(create.getHeader("Authorization")).isEqualTo("Bearer " + KEY);
      assertThat(create.getHeader("Prefer")).isEqualTo("wait=10");
      assertThat(create.getHeader("Cancel-After")).matches("\\d+s");
      JsonNode body = body(create);
      assertThat(body.has("version")).isFalse();
      JsonNode in = body.get("input");
      assertThat(in.get("prompt").asText()).isEqualTo("a red fox in snow");
      assertThat(in.get("aspect_ratio").asText()).isEqualTo("16:9");
      assertThat(in.get("num_outputs").asInt()).isEqualTo(2);
      assertThat(in.get("num_inference_steps").asInt()).isEqualTo(4);
      assertThat(in.get("seed").asLong()).isEqualTo(42L);
      assertThat(in.get("output_format").asText()).isEqualTo("png");
      assertThat(in.get("go_fast").asBoolean(true)).as("fp8 is not deterministic with a seed").isFalse();
      assertThat(in.has("negative_prompt")).isFalse();
      assertThat(in.has("width")).isFalse();
      assertThat(polls()).as("a terminal answer to the create needs no poll").isEmpty();
    }

    @Test
    void sdxlGoesToPredictionsWithItsVersionAndInputNames() throws Exception {
      String id = ReplicateStubs.newId();
      StubImage img = StubImages.png(48, 64, 5);
      stubs.created(stubs.prediction(id, "succeeded").model("stability-ai/sdxl", ReplicateModels.SDXL_VERSION)
          .output(stubs.serveImage(id, 0, img)).predictTime(8.4).json());
      byte[] init = StubImages.png(64, 64, 1).bytes();
      URI maskUrl = URI.create("https://example.com/masks/m.png");

      ImageGenerationResponse r = service().generateImage(request().model("sdxl").size(768, 1024).negativePrompt("blurry")
          .sampler("DPM++ 2M Karras").guidanceScale(9.0).steps(30).seed(7L)
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, init)).inputImage(InputImage.ofUrl(InputImage.Role.MASK, maskUrl))
          .strength(0.6).providerOption("replicate", "lora_scale", 0.8).providerOption("replicate", "refine", "expert_ensemble_refiner")
          .build(), "replicate");

      assertThat(r.image().bytes()).isEqualTo(img.bytes());
      assertThat(r.model()).isEqualTo("stability-ai/sdxl:" + ReplicateModels.SDXL_VERSION);
      LoggedRequest create = creates().get(0);
      assertThat(create.getUrl()).isEqualTo("/v1/predictions");
      JsonNode body = body(create);
      assertThat(body.get("version").asText()).isEqualTo(ReplicateModels.SDXL_VERSION);
      JsonNode in = body.get("input");
      assertThat(in.get("prompt").asText()).isEqualTo("a red fox in snow");
      assertThat(in.get("negative_prompt").asText()).isEqualTo("blurry");
      assertThat(in.get("width").asInt()).isEqualTo(768);
      assertThat(in.get("height").asInt()).isEqualTo(1024);
      assertThat(in.get("num_outputs").asInt()).isEqualTo(1);
      assertThat(in.get("scheduler").asText()).isEqualTo("KarrasDPM");
      assertThat(in.get("guidance_scale").asDouble()).isEqualTo(9.0);
      assertThat(in.get("num_inference_steps").asInt()).isEqualTo(30);
      assertThat(in.get("seed").asLong()).isEqualTo(7L);
      assertThat(in.get("image").asText()).startsWith("data:image/png;base64,");
      assertThat(in.get("mask").asText()).isEqualTo(maskUrl.toString());
      assertThat(in.get("prompt_strength").asDouble()).isEqualTo(0.6);
      assertThat(in.get("lora_scale").asDouble()).isEqualTo(0.8);
      assertThat(in.get("refine").asText()).isEqualTo("expert_ensemble_refiner");
      assertThat(in.has("aspect_ratio")).isFalse();
    }

    @Test
    void communityModelByOwnerNameAndVersionSendsOnlyTheVersionHash() throws Exception {
      String version = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa";
      String id = ReplicateStubs.newId();
      stubs.created(stubs.prediction(id, "succeeded").singleOutput(stubs.serveImage(id, 0, StubImages.jpeg(32, 32, 1))).json());

      ImageGenerationResponse r = service().generateImage(request().model("acme/painter:" + version).build(), "replicate");

      assertThat(r.images()).hasSize(1);
      assertThat(creates().get(0).getUrl()).isEqualTo("/v1/predictions");
      assertThat(body(creates().get(0)).get("version").asText()).isEqualTo(version);
      assertThat(body(creates().get(0)).get("input").has("num_outputs")).isFalse();
    }

    @Test
    void waitIsBoundedByTheDeadlineAndCanBeTurnedOff() throws Exception {
      String id = ReplicateStubs.newId();
      stubs.created(stubs.prediction(id, "succeeded").output(stubs.serveImage(id, 0, StubImages.png(8, 8, 1))).json());

      service("wait-seconds", "60").generateImage(request().timeout(Duration.ofSeconds(4)).build(), "replicate");
      int n = Integer.parseInt(creates().get(0).getHeader("Prefer").substring("wait=".length()));
      assertThat(n).isBetween(1, 3);

      server.resetRequests();
      service("wait-seconds", "0").generateImage(request().build(), "replicate");
      assertThat(creates().get(0).containsHeader("Prefer")).isFalse();
    }

    @Test
    void providerOptionsOverrideAndRemoveInputs() throws Exception {
      String id = ReplicateStubs.newId();
      stubs.created(stubs.prediction(id, "succeeded").output(stubs.serveImage(id, 0, StubImages.png(8, 8, 1))).json());
      Map<String, Object> opts = new LinkedHashMap<>();
      opts.put("go_fast", true);
      opts.put("disable_safety_checker", true);
      opts.put("num_outputs", null);
      ImageGenerationRequest r = request().seed(3L).build();
      ImageGenerationRequest withOptions = new ImageGenerationRequest(r.prompt(), r.negativePrompt(), r.defaultNegativePrompt(),
          r.model(), r.width(), r.height(), r.numImages(), r.seed(), r.steps(), r.guidanceScale(), r.sampler(), r.style(),
          r.qualityEnhancers(), r.loras(), r.inputImages(), r.strength(), r.outputFormat(), r.preset(), r.timeout(),
          Map.of("replicate", opts), r.strict());

      service().generateImage(withOptions, "replicate");

      JsonNode in = body(creates().get(0)).get("input");
      assertThat(in.get("go_fast").asBoolean()).as("the option overrides the seed's go_fast=false").isTrue();
      assertThat(in.get("disable_safety_checker").asBoolean()).isTrue();
      assertThat(in.has("num_outputs")).as("a null option removes the field").isFalse();
      assertThat(in.get("seed").asLong()).isEqualTo(3L);
    }

    @Test
    void aspectRatioIsTheNearestFluxTakes() {
      assertThat(ReplicateModels.nearestAspectRatio(1024, 1024)).isEqualTo("1:1");
      assertThat(ReplicateModels.nearestAspectRatio(1344, 768)).isEqualTo("16:9");
      assertThat(ReplicateModels.nearestAspectRatio(768, 1344)).isEqualTo("9:16");
      assertThat(ReplicateModels.nearestAspectRatio(1024, 768)).isEqualTo("4:3");
      assertThat(ReplicateModels.nearestAspectRatio(1536, 640)).isEqualTo("21:9");
      assertThat(ReplicateModels.nearestAspectRatio(832, 1024)).isEqualTo("4:5");
    }

    @Test
    void unknownSamplerIsRefusedBeforeAnyCall() {
      assertThatThrownBy(() -> service().generateImage(request().model("sdxl").sampler("lms-turbo").build(), "replicate"))
          .isInstanceOf(InvalidRequestException.class).hasMessageContaining("K_EULER_ANCESTRAL");
      assertThat(creates()).isEmpty();
    }

    @Test
    void modelsReplicateCannotServeFailOverWithoutACall() {
      ImageGenerationService s = service(true);

      ImageGenerationResponse turbo = s.generateImageWithFailover(request().model("sdxl-turbo").build());
      ImageGenerationResponse edit = s.generateImageWithFailover(request().model("flux-schnell")
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, StubImages.png(8, 8, 1).bytes())).build());

      assertThat(turbo.provider()).isEqualTo(Fallback.ID);
      assertThat(edit.provider()).isEqualTo(Fallback.ID);
      assertThat(turbo.attempts().get(0).errorKind()).isEqualTo(ErrorKind.NO_CAPABLE_PROVIDER);
      assertThat(creates()).isEmpty();
    }

    @Test
    void aNameThatIsNoReplicateModelIsSkippedByRoutingAndNoCapableAlone() {
      ImageGenerationService s = service(true);

      ImageGenerationResponse r = s.generateImageWithFailover(request().model("sdxl-turbo").build());
      assertThat(r.attempts().get(0).outcome()).isEqualTo(dev.imagegen.Attempt.Outcome.SKIPPED);
      assertThat(r.attempts().get(0).message()).contains("no model 'sdxl-turbo' (known: ");
      assertThatThrownBy(() -> service().generateImageWithFailover(request().model("sdxl-turbo").build()))
          .isInstanceOf(dev.imagegen.NoCapableProviderException.class).hasMessageContaining("replicate: no model 'sdxl-turbo'");
      assertThatThrownBy(() -> service().generateImage(request().prompt("a".repeat(1 << 20)).build(), "replicate"))
          .isInstanceOf(InvalidRequestException.class)
          .hasMessageContaining("prompt is 1048576 characters; replicate accepts at most 10000");
      assertThat(creates()).isEmpty();
    }
  }

  @Nested
  class SoftInputs {

    @Test
    void fluxDropsNegativePromptGuidanceAndSamplerWithCoreWarnings() throws Exception {
      String id = ReplicateStubs.newId();
      stubs.created(stubs.prediction(id, "succeeded").output(stubs.serveImage(id, 0, StubImages.png(8, 8, 1))).json());

      ImageGenerationResponse r = service().generateImage(request().model("flux-schnell").negativePrompt("blurry")
          .guidanceScale(3.5).sampler("euler").steps(4).build(), "replicate");

      JsonNode in = body(creates().get(0)).get("input");
      assertThat(in.has("negative_prompt")).isFalse();
      assertThat(in.has("guidance_scale")).isFalse();
      assertThat(in.has("scheduler")).isFalse();
      assertThat(in.get("num_inference_steps").asInt()).isEqualTo(4);
      assertThat(r.warnings()).containsExactly(
          "negative prompt not sent: model 'flux-schnell' does not take it",
          "sampler 'euler' not sent: model 'flux-schnell' does not take it",
          "guidance scale 3.5 not sent: model 'flux-schnell' does not take it");
    }

    @Test
    void strictFluxRequestWithANegativePromptSkipsReplicateWithTheReason() {
      ImageGenerationResponse r = service(true).generateImageWithFailover(request().model("flux-schnell")
          .negativePrompt("blurry").strict(true).build());

      assertThat(r.provider()).isEqualTo(Fallback.ID);
      Attempt first = r.attempts().get(0);
      assertThat(first.provider()).isEqualTo("replicate");
      assertThat(first.outcome()).isEqualTo(Attempt.Outcome.SKIPPED);
      assertThat(first.message()).isEqualTo(
          "negative prompt would be dropped: model 'flux-schnell' does not take it (strict request)");
      assertThat(creates()).isEmpty();
    }

    @Test
    void strictSdxlRequestIsServedWithEveryInput() throws Exception {
      String id = ReplicateStubs.newId();
      stubs.created(stubs.prediction(id, "succeeded").model("stability-ai/sdxl", ReplicateModels.SDXL_VERSION)
          .output(stubs.serveImage(id, 0, StubImages.png(8, 8, 1))).json());

      ImageGenerationResponse r = service(true).generateImageWithFailover(request().model("sdxl").negativePrompt("blurry")
          .guidanceScale(9.0).strict(true).build());

      assertThat(r.provider()).isEqualTo("replicate");
      assertThat(r.warnings()).isEmpty();
      JsonNode in = body(creates().get(0)).get("input");
      assertThat(in.get("negative_prompt").asText()).isEqualTo("blurry");
      assertThat(in.get("guidance_scale").asDouble()).isEqualTo(9.0);
    }
  }

  @Nested
  class Waiting {

    @Test
    void pollsWhenTheWaitEndsBeforeThePredictionDoes() {
      String id = ReplicateStubs.newId();
      StubImage img = StubImages.webp(64, 64, 9, 100);
      String path = stubs.serveImage(id, 0, img);
      // urls.get names the real API: the provider keeps to its configured base URL
      stubs.created(stubs.prediction(id, "processing").urls("https://api.replicate.com/v1/predictions/" + id,
          "https://api.replicate.com/v1/predictions/" + id + "/cancel").json());
      server.stubFor(ReplicateStubs.anyPoll().inScenario("p").whenScenarioStateIs("Started")
          .willReturn(ReplicateStubs.json(200, stubs.prediction(id, "processing").logs("  40%|████      | 2/5\n").json()))
          .willSetStateTo("done"));
      server.stubFor(ReplicateStubs.anyPoll().inScenario("p").whenScenarioStateIs("done")
          .willReturn(ReplicateStubs.json(200, stubs.prediction(id, "succeeded").output(path).metrics(1, 0.56).json())));
      List<ProgressEvent> events = Collections.synchronizedList(new ArrayList<>());

      GenerationJob job = service().submit(request().build()).onProgress(events::add);
      ImageGenerationResponse r = job.result().join();

      assertThat(r.image().bytes()).isEqualTo(img.bytes());
      assertThat(r.attempts().get(r.attempts().size() - 1).remoteJobId()).isEqualTo(id);
      assertThat(creates()).hasSize(1);
      assertThat(polls()).hasSizeGreaterThanOrEqualTo(2)
          .allSatisfy(p -> {
            assertThat(p.getUrl()).isEqualTo("/v1/predictions/" + id);
            assertThat(p.getHeader("Authorization")).isEqualTo("Bearer " + KEY);
          });
      assertThat(events).anySatisfy(e -> assertThat(e.percent()).isEqualTo(40.0));
    }

    @Test
    void abortedPredictionEndsTheWait() {
      String id = ReplicateStubs.newId();
      stubs.created(stubs.prediction(id, "starting").json());
      server.stubFor(ReplicateStubs.anyPoll().willReturn(ReplicateStubs.json(200, stubs.prediction(id, "aborted").json())));
      long t0 = System.nanoTime();

      assertThatThrownBy(() -> service().generateImage(request().build(), "replicate"))
          .isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
            assertThat(e.failoverMayHelp()).isTrue();
            assertThat(e.retryMayHelp()).isFalse();
            assertThat(e.outcomeUnknown()).isFalse();
          })
          .hasMessageContaining("aborted");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
      assertThat(creates()).as("an aborted prediction is not created again at Replicate").hasSize(1);
    }

    @Test
    void abortedPredictionWithTimeLeftFailsOverAndSaysItWasNotStartedNorBilled() {
      String id = ReplicateStubs.newId();
      stubs.created(stubs.prediction(id, "starting").json());
      server.stubFor(ReplicateStubs.anyPoll().willReturn(ReplicateStubs.json(200, stubs.prediction(id, "aborted").json())));

      ImageGenerationResponse r = service(true).generateImageWithFailover(request().timeout(Duration.ofSeconds(300)).build());

      assertThat(r.provider()).isEqualTo(Fallback.ID);
      assertThat(fallback.calls).hasValue(1);
      Attempt first = r.attempts().get(0);
      assertThat(first.provider()).isEqualTo("replicate");
      assertThat(first.outcome()).isEqualTo(Attempt.Outcome.FAILED);
      assertThat(first.errorKind()).isEqualTo(ErrorKind.UNAVAILABLE);
      assertThat(first.remoteJobId()).isEqualTo(id);
      assertThat(first.mayBeBilled()).isFalse();
      assertThat(first.message()).contains("aborted").contains("not started").contains("not billed");
      assertThat(creates()).hasSize(1);
    }

    @Test
    void removedOutputIsAFailureNotAnEmptySuccess() {
      String id = ReplicateStubs.newId();
      stubs.created(stubs.prediction(id, "succeeded").dataRemoved().json());

      assertThatThrownBy(() -> service().generateImage(request().build(), "replicate"))
          .isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("data_removed");
    }
  }

  @Nested
  class Failing {

    @Test
    void nsfwFailureIsAContentPolicyRefusal() {
      stubs.contentPolicy();

      ContentPolicyException e = catchThrowableOfType(
          () -> service(true).generateImageWithFailover(request().build()), ContentPolicyException.class);

      assertThat(e).hasMessageContaining(ReplicateStubs.NSFW_FLUX);
      assertThat(fallback.calls.get()).as("no failover on a content refusal by default").isZero();
      assertThat(creates()).hasSize(1);
    }

    @Test
    void sdxlNsfwTextIsRecognisedToo() {
      String id = ReplicateStubs.newId();
      stubs.created(stubs.prediction(id, "failed").error(ReplicateStubs.NSFW_SDXL).json());

      assertThatThrownBy(() -> service().generateImage(request().model("sdxl").build(), "replicate"))
          .isInstanceOf(ContentPolicyException.class).hasMessageContaining("NSFW content detected");
    }

    @Test
    void otherFailedPredictionFailsOverWithoutASecondCreate() {
      String id = ReplicateStubs.newId();
      stubs.created(stubs.prediction(id, "failed").error("CUDA out of memory. Tried to allocate 2.00 GiB").json());

      ImageGenerationResponse r = service(true).generateImageWithFailover(request().build());

      assertThat(r.provider()).isEqualTo(Fallback.ID);
      Attempt first = r.attempts().get(0);
      assertThat(first.errorKind()).isEqualTo(ErrorKind.UNAVAILABLE);
      assertThat(first.message()).contains("CUDA out of memory");
      assertThat(creates()).hasSize(1);
    }

    @Test
    void inputValidation422CarriesReplicatesDetail() {
      server.stubFor(ReplicateStubs.anyCreate().willReturn(ReplicateStubs.problem(422, ReplicateStubs.STEPS_422)));

      InvalidRequestException e = catchThrowableOfType(
          () -> service(true).generateImageWithFailover(request().steps(10).build()), InvalidRequestException.class);

      assertThat(e.providerId()).isEqualTo("replicate");
      assertThat(e).hasMessageContaining("input.num_inference_steps: Must be less than or equal to 4");
      assertThat(e.violations()).singleElement().asString().contains("Input validation failed");
      assertThat(fallback.calls.get()).isZero();
      assertThat(creates()).hasSize(1);
    }

    @Test
    void invalidVersion422FailsOver() {
      server.stubFor(ReplicateStubs.anyCreate().willReturn(ReplicateStubs.problem(422, ReplicateStubs.VERSION_422)));

      ImageGenerationResponse r = service(true).generateImageWithFailover(request().model("sdxl").build());

      assertThat(r.provider()).isEqualTo(Fallback.ID);
      assertThat(r.attempts().get(0).message()).contains("The specified version does not exist");
      assertThat(creates()).hasSize(1);
    }

    @Test
    void insufficientCredit402FailsOverWithoutRetry() {
      stubs.outOfCredits();

      ImageGenerationResponse r = service(true).generateImageWithFailover(request().build());

      assertThat(r.provider()).isEqualTo(Fallback.ID);
      assertThat(r.attempts().get(0).cause()).isInstanceOf(InsufficientCreditsException.class)
          .hasMessageContaining("You have insufficient credit to run this model");
      assertThat(creates()).hasSize(1);
    }

    @Test
    void unauthenticated401IsAnAuthenticationFailure() {
      stubs.authenticationRefused();

      assertThatThrownBy(() -> service().generateImage(request().build(), "replicate"))
          .isInstanceOf(AuthenticationException.class).hasMessageContaining("You did not pass a valid authentication token");
      assertThat(creates()).hasSize(1);
    }

    @Test
    void throttled429ReadsTheWaitFromTheBodyWithoutRetryAfter() {
      server.stubFor(ReplicateStubs.anyCreate().willReturn(ReplicateStubs.json(429,
          "{\"detail\":\"Request was throttled. Your rate limit resets in ~30s.\"}")));

      RateLimitedException e = catchThrowableOfType(
          () -> service().generateImage(request().build(), "replicate"), RateLimitedException.class);

      assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(30));
      assertThat(creates()).as("30 s is past the retry limit: no sleep, no retry").hasSize(1);
    }

    @Test
    void throttled429PrefersRetryAfter() {
      server.stubFor(ReplicateStubs.anyCreate().willReturn(aResponse().withStatus(429).withHeader("Retry-After", "7")
          .withBody("{\"detail\":\"Request was throttled. Your rate limit resets in ~30s.\"}")));

      RateLimitedException e = catchThrowableOfType(
          () -> service().generateImage(request().build(), "replicate"), RateLimitedException.class);

      assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(7));
    }

    @Test
    void serverErrorOnCreateIsNotRetriedOnReplicateNorPaidForElsewhere() {
      stubs.serverErrorThenSuccess(StubImages.png(8, 8, 1));

      ProviderUnavailableException e = catchThrowableOfType(
          () -> service(true).generateImageWithFailover(request().build()), ProviderUnavailableException.class);

      assertThat(e.outcomeUnknown()).isTrue();
      assertThat(creates()).hasSize(1);
      assertThat(fallback.calls).hasValue(0);
    }

    @Test
    void serverErrorOnCreateIsRetriedWhenConfigured() {
      stubs.serverErrorThenSuccess(StubImages.png(8, 8, 1));

      ImageGenerationResponse r = service("retry-create-on-server-error", "true").generateImage(request().build(), "replicate");

      assertThat(r.images()).hasSize(1);
      assertThat(creates()).hasSize(2);
    }

    @Test
    void pollErrorsKeepThePrediction() {
      String id = ReplicateStubs.newId();
      StubImage img = StubImages.png(8, 8, 2);
      stubs.created(stubs.prediction(id, "starting").json());
      server.stubFor(ReplicateStubs.anyPoll().inScenario("e").whenScenarioStateIs("Started")
          .willReturn(aResponse().withStatus(503)).willSetStateTo("throttled"));
      server.stubFor(ReplicateStubs.anyPoll().inScenario("e").whenScenarioStateIs("throttled")
          .willReturn(ReplicateStubs.json(429, "{\"detail\":\"Request was throttled. Your rate limit resets in ~1s.\"}"))
          .willSetStateTo("ok"));
      server.stubFor(ReplicateStubs.anyPoll().inScenario("e").whenScenarioStateIs("ok").willReturn(
          ReplicateStubs.json(200, stubs.prediction(id, "succeeded").output(stubs.serveImage(id, 0, img)).json())));

      ImageGenerationResponse r = service().generateImage(request().build(), "replicate");

      assertThat(r.image().bytes()).isEqualTo(img.bytes());
      assertThat(creates()).hasSize(1);
      assertThat(polls()).hasSize(3);
    }

    @Test
    void tokenNeverAppearsInAnErrorMessage() {
      server.stubFor(ReplicateStubs.anyCreate().willReturn(ReplicateStubs.problem(401,
          "{\"title\":\"Unauthenticated\",\"detail\":\"token " + KEY + " is not valid\",\"status\":401}")));

      AuthenticationException e = catchThrowableOfType(
          () -> service().generateImage(request().build(), "replicate"), AuthenticationException.class);

      assertThat(e.getMessage()).doesNotContain(KEY).contains("is not valid");
      assertThat(new ReplicateProviderFactory().create(config()).toString()).doesNotContain(KEY);
    }
  }

  @Nested
  class Cancelling {

    @Test
    void deadlineCancelsAtTheCancelUrl() throws Exception {
      String id = ReplicateStubs.newId();
      String cancelUrl = server.baseUrl() + "/v1/predictions/" + id + "/cancel?from=urls";
      stubs.created(stubs.prediction(id, "starting").urls(server.baseUrl() + "/v1/predictions/" + id, cancelUrl).json());
      server.stubFor(ReplicateStubs.anyPoll().willReturn(ReplicateStubs.json(200, stubs.prediction(id, "processing").json())));
      stubs.cancelAnswers(id);

      GenerationTimeoutException e = catchThrowableOfType(() -> service().generateImage(
          request().timeout(Duration.ofMillis(1500)).build(), "replicate"), GenerationTimeoutException.class);

      assertThat(e.remoteCancelled()).isTrue();
      List<LoggedRequest> cancels = awaitRequests(postRequestedFor(urlEqualTo("/v1/predictions/" + id + "/cancel?from=urls")), 1);
      assertThat(cancels).hasSize(1);
      assertThat(cancels.get(0).getHeader("Authorization")).isEqualTo("Bearer " + KEY);
      assertThat(creates()).hasSize(1);
      int polled = polls().size();
      Thread.sleep(400);
      assertThat(polls()).as("polling stops once cancelled").hasSize(polled);
    }

    @Test
    void callerCancelSendsTheRemoteCancel() throws Exception {
      stubs.neverFinishes();
      GenerationJob job = service().submit(request().build());
      awaitRequests(stubs.pollRequests(), 1);

      assertThat(job.cancel()).isTrue();

      List<LoggedRequest> cancels = awaitRequests(stubs.cancelRequests(), 1);
      assertThat(cancels).hasSize(1);
      assertThatThrownBy(() -> job.result().get(2, TimeUnit.SECONDS)).isInstanceOfAny(
          java.util.concurrent.CancellationException.class, ExecutionException.class);
    }

    @Test
    void resetAfterTheCreateIsNeverResubmittedNorPaidForTwice() {
      server.stubFor(ReplicateStubs.anyCreate().willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));

      ProviderUnavailableException e = catchThrowableOfType(
          () -> service(true).generateImageWithFailover(request().build()), ProviderUnavailableException.class);

      assertThat(creates()).as("a lost create is never sent again").hasSize(1);
      assertThat(e.outcomeUnknown()).isTrue();
      assertThat(e.getMessage()).contains("may be billed");
      assertThat(fallback.calls).as("no second provider is paid for the same image by default").hasValue(0);
    }

    @Test
    void resetAfterTheCreateFailsOverWhenTheOperatorAllowsIt() {
      server.stubFor(ReplicateStubs.anyCreate().willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));

      ImageGenerationService.Builder b = ImageGenerationService.builder().failoverOnUnknownOutcome(true)
          .provider(new ReplicateProviderFactory(), config()).defaultTimeout(Duration.ofSeconds(20))
          .provider(fallback, ProviderConfig.builder(Fallback.ID).set("priority", "1000").build());
      ImageGenerationService s = b.build();
      services.add(s);
      ImageGenerationResponse r = s.generateImageWithFailover(request().build());

      assertThat(creates()).as("a lost create is never sent again").hasSize(1);
      assertThat(r.provider()).isEqualTo(Fallback.ID);
      Attempt lost = r.attempts().get(0);
      assertThat(lost.mayBeBilled()).isTrue();
      assertThat(lost.cause()).isInstanceOf(ProviderUnavailableException.class);
      assertThat(((ProviderUnavailableException) lost.cause()).outcomeUnknown()).isTrue();
    }

    @Test
    void createAnswerWithoutIdIsAnUnknownOutcome() {
      stubs.emptyResponse();

      ProviderUnavailableException e = catchThrowableOfType(
          () -> service().generateImage(request().build(), "replicate"), ProviderUnavailableException.class);

      assertThat(e.outcomeUnknown()).isTrue();
      assertThat(creates()).hasSize(1);
    }
  }

  /** A create whose answer was lost, looked up in List predictions. */
  @Nested
  class Reconciling {
    /** The input a default request sends to flux-schnell, as Replicate echoes it. */
    static final String INPUT = "{\"prompt\":\"a red fox in snow\",\"num_outputs\":1}";

    /** A prediction of flux-schnell created through the API a moment after the test set it up, with {@link #INPUT}. */
    ReplicateStubs.Prediction ours(String id, String status) {
      return stubs.prediction(id, status).source("api").createdAt(Instant.now().plusSeconds(1)).input(INPUT);
    }

    /** Predictions a listing may show that are not the lost create's. */
    ReplicateStubs.Prediction[] others() {
      return new ReplicateStubs.Prediction[] {
          // the same input, made on the website
          stubs.prediction(ReplicateStubs.newId(), "succeeded").source("web").createdAt(Instant.now().plusSeconds(1)).input(INPUT),
          // the same input, another model
          stubs.prediction(ReplicateStubs.newId(), "succeeded").model("stability-ai/sdxl", ReplicateModels.SDXL_VERSION)
              .source("api").createdAt(Instant.now().plusSeconds(1)).input(INPUT),
          // another prompt
          stubs.prediction(ReplicateStubs.newId(), "processing").source("api").createdAt(Instant.now())
              .input("{\"prompt\":\"a grey wolf in snow\",\"num_outputs\":1}"),
          // another number of images
          stubs.prediction(ReplicateStubs.newId(), "succeeded").source("api").createdAt(Instant.now())
              .input("{\"prompt\":\"a red fox in snow\",\"num_outputs\":2}"),
          // the same input, long before the create
          stubs.prediction(ReplicateStubs.newId(), "succeeded").source("api").createdAt(Instant.now().minusSeconds(120))
              .input(INPUT)};
    }

    void createIsReset() {
      server.stubFor(ReplicateStubs.anyCreate().willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
    }

    List<LoggedRequest> lists() {
      return server.findAll(stubs.listRequests());
    }

    @Test
    void resetAfterTheCreateIsServedFromThePredictionItMade() {
      createIsReset();
      String id = ReplicateStubs.newId();
      StubImage img = StubImages.png(8, 8, 6);
      List<ReplicateStubs.Prediction> listed = new ArrayList<>(List.of(others()));
      listed.add(1, ours(id, "succeeded").output(stubs.serveImage(id, 0, img)).metrics(1, 0.56));
      stubs.lists(listed.toArray(new ReplicateStubs.Prediction[0]));

      ImageGenerationResponse r = service(true).generateImageWithFailover(request().build());

      assertThat(r.provider()).isEqualTo("replicate");
      assertThat(r.image().bytes()).isEqualTo(img.bytes());
      assertThat(r.metadata()).containsEntry("prediction_id", id).containsEntry("reconciled", "true");
      assertThat(r.attempts().get(r.attempts().size() - 1).remoteJobId()).isEqualTo(id);
      assertThat(creates()).as("the lost create is not sent again").hasSize(1);
      assertThat(fallback.calls).hasValue(0);
      assertThat(lists()).singleElement().satisfies(l -> {
        assertThat(l.getHeader("Authorization")).isEqualTo("Bearer " + KEY);
        assertThat(l.queryParameter("created_after").isPresent()).isTrue();
        assertThat(Instant.parse(l.queryParameter("created_after").firstValue())).isBefore(Instant.now());
      });
    }

    @Test
    void serverErrorToTheCreateWithNothingListedIsCreatedOnceMore() {
      stubs.serverErrorThenSuccess(StubImages.png(8, 8, 1));
      stubs.lists(others());

      ImageGenerationResponse r = service(true).generateImageWithFailover(request().build());

      assertThat(r.provider()).isEqualTo("replicate");
      assertThat(r.images()).hasSize(1);
      assertThat(creates()).as("one create after the listing showed none was made").hasSize(2);
      assertThat(lists()).hasSize(1);
      assertThat(fallback.calls).hasValue(0);
    }

    @Test
    void secondPageIsReadWhenTheFirstDoesNotReachBackToTheCreate() {
      createIsReset();
      String id = ReplicateStubs.newId();
      StubImage img = StubImages.png(8, 8, 7);
      stubs.listsTwoPages(List.of(others()[0], others()[2]),
          List.of(ours(id, "succeeded").output(stubs.serveImage(id, 0, img)), others()[4]));

      ImageGenerationResponse r = service().generateImage(request().build(), "replicate");

      assertThat(r.image().bytes()).isEqualTo(img.bytes());
      assertThat(lists()).hasSize(2);
      assertThat(creates()).hasSize(1);
    }

    @Test
    void twoMatchingPredictionsStopAsPossiblyBilled() {
      createIsReset();
      stubs.lists(ours(ReplicateStubs.newId(), "processing"), ours(ReplicateStubs.newId(), "succeeded"));

      assertStopsAsPossiblyBilled();
      assertThat(polls()).as("neither is adopted").isEmpty();
    }

    @Test
    void predictionWithoutItsInputStopsAsPossiblyBilled() {
      createIsReset();
      stubs.lists(ours(ReplicateStubs.newId(), "processing").withoutInput());

      assertStopsAsPossiblyBilled();
    }

    @Test
    void predictionWithMoreInputFieldsThanSentStopsAsPossiblyBilled() {
      createIsReset();
      stubs.lists(ours(ReplicateStubs.newId(), "succeeded")
          .input("{\"prompt\":\"a red fox in snow\",\"num_outputs\":1,\"seed\":7,\"go_fast\":false}"));

      assertStopsAsPossiblyBilled();
    }

    @Test
    void listingAnswered500StopsAsPossiblyBilled() {
      createIsReset();
      server.stubFor(ReplicateStubs.anyList().willReturn(ReplicateStubs.json(500, "{\"detail\":\"Internal server error\"}")));

      assertStopsAsPossiblyBilled();
    }

    @Test
    void listingResetStopsAsPossiblyBilled() {
      createIsReset();
      server.stubFor(ReplicateStubs.anyList().willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));

      assertStopsAsPossiblyBilled();
    }

    @Test
    void listingNotFoundStopsAsPossiblyBilled() {
      createIsReset(); // no listing stubbed: WireMock answers 404

      assertStopsAsPossiblyBilled();
    }

    void assertStopsAsPossiblyBilled() {
      ProviderUnavailableException e = catchThrowableOfType(
          () -> service(true).generateImageWithFailover(request().build()), ProviderUnavailableException.class);

      assertThat(e.outcomeUnknown()).isTrue();
      assertThat(e.getMessage()).contains("may be billed");
      assertThat(creates()).as("nothing is created again").hasSize(1);
      assertThat(lists()).as("the listing was asked").isNotEmpty();
      assertThat(fallback.calls).as("no second provider is paid for the same image").hasValue(0);
    }

    @Test
    void runningPredictionFoundIsPolledToCompletion() {
      createIsReset();
      String id = ReplicateStubs.newId();
      StubImage img = StubImages.png(8, 8, 8);
      String path = stubs.serveImage(id, 0, img);
      stubs.lists(ours(id, "processing"));
      server.stubFor(ReplicateStubs.anyPoll().inScenario("r").whenScenarioStateIs("Started")
          .willReturn(ReplicateStubs.json(200, stubs.prediction(id, "processing").json())).willSetStateTo("done"));
      server.stubFor(ReplicateStubs.anyPoll().inScenario("r").whenScenarioStateIs("done")
          .willReturn(ReplicateStubs.json(200, stubs.prediction(id, "succeeded").output(path).metrics(1, 0.56).json())));

      ImageGenerationResponse r = service(true).generateImageWithFailover(request().build());

      assertThat(r.provider()).isEqualTo("replicate");
      assertThat(r.image().bytes()).isEqualTo(img.bytes());
      assertThat(polls()).hasSizeGreaterThanOrEqualTo(2).allSatisfy(p -> assertThat(p.getUrl()).isEqualTo("/v1/predictions/" + id));
      assertThat(creates()).hasSize(1);
      assertThat(fallback.calls).hasValue(0);
    }

    @Test
    void runningPredictionFoundIsCancelledAtTheDeadline() throws Exception {
      createIsReset();
      String id = ReplicateStubs.newId();
      stubs.lists(ours(id, "starting"));
      server.stubFor(ReplicateStubs.anyPoll().willReturn(ReplicateStubs.json(200, stubs.prediction(id, "processing").json())));
      stubs.cancelAnswers(id);

      GenerationTimeoutException e = catchThrowableOfType(() -> service().generateImage(
          request().timeout(Duration.ofSeconds(3)).build(), "replicate"), GenerationTimeoutException.class);

      assertThat(e).isNotNull();
      List<LoggedRequest> cancels = awaitRequests(postRequestedFor(urlEqualTo("/v1/predictions/" + id + "/cancel")), 1);
      assertThat(cancels).hasSize(1);
      assertThat(cancels.get(0).getHeader("Authorization")).isEqualTo("Bearer " + KEY);
      assertThat(e.remoteCancelled()).isTrue();
      assertThat(creates()).hasSize(1);
    }

    @Test
    void canceledPredictionFoundFailsOver() {
      createIsReset();
      stubs.lists(ours(ReplicateStubs.newId(), "canceled"));

      ImageGenerationResponse r = service(true).generateImageWithFailover(request().build());

      assertThat(r.provider()).isEqualTo(Fallback.ID);
      assertThat(r.attempts().get(0).message()).contains("found and cancelled");
      assertThat(creates()).hasSize(1);
    }

    @Test
    void inputsAreComparedByValue() throws Exception {
      JsonNode sent = JSON.readTree("{\"prompt\":\"fox\",\"guidance_scale\":9.0,\"seed\":7,\"image\":\"data:image/png;base64,AAAA\"}");

      assertThat(ReplicateReconcile.sameInput(sent, JSON.readTree(
          "{\"prompt\":\"fox\",\"guidance_scale\":9,\"seed\":7,\"image\":\"https://replicate.delivery/x.png\",\"extra\":1}")))
          .isTrue();
      assertThat(ReplicateReconcile.sameInput(sent, JSON.readTree(
          "{\"prompt\":\"fox\",\"guidance_scale\":9.5,\"seed\":7,\"image\":\"https://replicate.delivery/x.png\"}")))
          .isFalse();
      assertThat(ReplicateReconcile.sameInput(sent, JSON.readTree("{\"prompt\":\"fox\",\"guidance_scale\":9,\"seed\":7}")))
          .as("a field sent is missing").isFalse();
      assertThat(ReplicateReconcile.addsFields(sent, JSON.readTree("{\"prompt\":\"fox\",\"seed\":7,\"extra\":1}"))).isTrue();
      assertThat(ReplicateReconcile.addsFields(sent, JSON.readTree("{\"prompt\":\"fox\",\"seed\":7,\"extra\":null}"))).isFalse();
    }
  }

  @Nested
  class Costing {

    void sdxlSucceeds(double predictTime) {
      String id = ReplicateStubs.newId();
      stubs.created(stubs.prediction(id, "succeeded").model("stability-ai/sdxl", ReplicateModels.SDXL_VERSION)
          .output(stubs.serveImage(id, 0, StubImages.png(8, 8, 1))).predictTime(predictTime).json());
    }

    @Test
    void predictTimeTimesTheConfiguredGpuPriceIsProviderReported() {
      sdxlSucceeds(8.4);

      ImageGenerationResponse r = service("price-per-gpu-second", "0.000725").generateImage(request().model("sdxl").build(),
          "replicate");

      assertThat(r.cost()).isEqualTo(Cost.providerReported(new BigDecimal("0.006090")));
    }

    @Test
    void gpuKeyPicksTheListPrice() {
      sdxlSucceeds(2.0);

      ImageGenerationResponse r = service("gpu", "l40s").generateImage(request().model("sdxl").build(), "replicate");

      assertThat(r.cost()).isEqualTo(Cost.providerReported(new BigDecimal("0.001950")));
    }

    @Test
    void timeBilledModelWithoutAPriceIsUnknownNotZero() {
      sdxlSucceeds(8.4);
      ImageGenerationService s = service();

      ImageGenerationResponse r = s.generateImage(request().model("sdxl").build(), "replicate");

      assertThat(r.cost()).isEqualTo(Cost.unknown());
      assertThat(s.estimateCost(request().model("sdxl").build())).isEqualTo(Cost.unknown());
    }

    @Test
    void perImageModelIsNotPricedByGpuTime() {
      String id = ReplicateStubs.newId();
      stubs.created(stubs.prediction(id, "succeeded").output(stubs.serveImage(id, 0, StubImages.png(8, 8, 1)))
          .metrics(1, 0.56).json());
      ImageGenerationService s = service("price-per-gpu-second", "0.001");

      ImageGenerationResponse r = s.generateImage(request().model("flux-schnell").build(), "replicate");

      assertThat(r.cost()).isEqualTo(Cost.estimated(new BigDecimal("0.003000")));
    }

    @Test
    void aModelsOwnPriceWinsOverTheHardwarePrice() {
      sdxlSucceeds(2.0);
      ImageGenerationService s = service("gpu", "l40s", "price.sdxl", "0.001", "price.flux-schnell", "0.004");

      ImageGenerationResponse r = s.generateImage(request().model("sdxl").build(), "replicate");

      assertThat(r.cost()).isEqualTo(Cost.providerReported(new BigDecimal("0.002000")));
      assertThat(s.estimateCost(request().model("flux-schnell").numImages(2).build()))
          .isEqualTo(Cost.estimated(new BigDecimal("0.008")));
    }

    @Test
    void estimatesFollowEachModelsPricing() {
      ImageGenerationService s = service("gpu", "a40-large", "typical-gpu-seconds", "10");

      assertThat(s.estimateCost(request().model("flux-schnell").numImages(3).build()))
          .isEqualTo(Cost.estimated(new BigDecimal("0.009000")));
      assertThat(s.estimateCost(request().model("sdxl").build())).isEqualTo(Cost.estimated(new BigDecimal("0.007250")));
      assertThat(s.estimateCost(request().model("acme/some-official-model").build())).isEqualTo(Cost.unknown());
    }
  }

  @Nested
  class Checking {

    @Test
    void healthChecksTheTokenAtAccount() {
      stubs.healthy();

      ProviderHealth h = service().testConnection("replicate");

      assertThat(h.state()).isEqualTo(ProviderHealth.State.UP);
      assertThat(h.message()).contains("acme");
      server.verify(getRequestedFor(urlPathEqualTo("/v1/account")).withHeader("Authorization", equalTo("Bearer " + KEY)));
    }

    @Test
    void refusedTokenIsAuthFailed() {
      stubs.healthAuthRefused();

      assertThat(service().testConnection("replicate").state()).isEqualTo(ProviderHealth.State.AUTH_FAILED);
    }

    @Test
    void unreachableIsDown() {
      ImageGenerationService s = ImageGenerationService.builder().provider(new ReplicateProviderFactory(),
          ProviderConfig.builder("replicate").apiKey(KEY).baseUrl("http://127.0.0.1:9/v1").build()).build();
      services.add(s);

      assertThat(s.testConnection("replicate").state()).isEqualTo(ProviderHealth.State.DOWN);
    }

    @Test
    void listModelsShowsTheConfiguredModels() {
      assertThat(service().listModels()).extracting(ModelInfo::id)
          .containsExactly("black-forest-labs/flux-schnell", "stability-ai/sdxl:" + ReplicateModels.SDXL_VERSION);
      assertThat(service().listModels().get(0).aliases()).containsExactly("flux-schnell");
      assertThat(service("models", "sdxl, acme/painter").listModels()).extracting(ModelInfo::id)
          .containsExactly("stability-ai/sdxl:" + ReplicateModels.SDXL_VERSION, "acme/painter", "black-forest-labs/flux-schnell");
    }

    @Test
    void aModelOfferedByAliasAndByIdIsListedOnce() {
      List<ModelInfo> models = new ReplicateProviderFactory().create(
          config("models", "flux-schnell, black-forest-labs/flux-schnell, sdxl, stability-ai/sdxl")).models();
      assertThat(models).extracting(ModelInfo::id)
          .containsExactly("black-forest-labs/flux-schnell", "stability-ai/sdxl:" + ReplicateModels.SDXL_VERSION);
      assertThat(models.get(0).aliases()).containsExactly("flux-schnell");
      assertThat(models).allSatisfy(m -> assertThat(m.description()).isNotBlank());
    }

    @Test
    void factoryReadsTheCustomaryTokenAndChecksItsKeys() {
      ReplicateProviderFactory f = new ReplicateProviderFactory();
      assertThat(f.id()).isEqualTo("replicate");
      assertThat(f.customaryEnvironment()).containsEntry("api-key", List.of("REPLICATE_API_TOKEN"));
      assertThat(f.isConfigured(ProviderConfig.builder("replicate").build())).isFalse();
      assertThatThrownBy(() -> f.create(config("wait-seconds", "61"))).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("wait-seconds");
      assertThatThrownBy(() -> f.create(config("gpu", "tpu"))).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("gpu");
      assertThatThrownBy(() -> f.create(ProviderConfig.builder("replicate").build())).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("api-key");

      stubs.healthy();
      Properties p = new Properties();
      p.setProperty("imagegen.replicate.base-url", server.baseUrl() + "/v1");
      try (ImageGenerationService s = ImageGenerationService.fromEnvironment(Map.of("REPLICATE_API_TOKEN", "r8_fromEnv"), p)) {
        assertThat(s.providers()).contains("replicate");
        assertThat(s.testConnection("replicate").state()).isEqualTo(ProviderHealth.State.UP);
      }
      server.verify(getRequestedFor(urlPathEqualTo("/v1/account")).withHeader("Authorization", containing("r8_fromEnv")));
    }

    @Test
    void bodyWaitIsParsed() {
      assertThat(ReplicateWire.waitInBody("Request was throttled. Your rate limit resets in ~30s.")).isEqualTo(Duration.ofSeconds(30));
      assertThat(ReplicateWire.waitInBody("resets in 5 seconds")).isEqualTo(Duration.ofSeconds(5));
      assertThat(ReplicateWire.waitInBody("Request was throttled.")).isNull();
    }
  }

  List<LoggedRequest> awaitRequests(com.github.tomakehurst.wiremock.matching.RequestPatternBuilder p, int n)
      throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    List<LoggedRequest> found = server.findAll(p);
    while (found.size() < n && System.nanoTime() < end) {
      Thread.sleep(20);
      found = server.findAll(p);
    }
    return found;
  }

  /** A second provider that always succeeds, to show what fails over. */
  static final class Fallback implements ImageProvider {
    static final String ID = "fallback";
    final AtomicInteger calls = new AtomicInteger();

    @Override
    public String id() {
      return ID;
    }

    @Override
    public ProviderCapabilities capabilities() {
      return ProviderCapabilities.builder().negativePrompt(true).seed(true).img2img(true).mask(true).maxImagesPerRequest(10)
          .free(true).build();
    }

    @Override
    public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context) {
      calls.incrementAndGet();
      return CompletableFuture.completedFuture(ProviderResult.builder("fallback-model")
          .image(GeneratedImage.of(StubImages.png(8, 8, 1).bytes(), null, null, false)).build());
    }

    @Override
    public CompletableFuture<ProviderHealth> health(ProviderContext context) {
      return CompletableFuture.completedFuture(ProviderHealth.up(ID, Duration.ZERO));
    }

    @Override
    public CostModel costModel() {
      return CostModel.free();
    }
  }
}
