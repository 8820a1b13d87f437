package dev.imagegen.provider.huggingface;

import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
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
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.Attempt;
import dev.imagegen.AuthenticationException;
import dev.imagegen.Cost;
import dev.imagegen.ErrorKind;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.NoCapableProviderException;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.HuggingFaceStubs;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Hugging Face specifics on a WireMock server shaped like the protocol file. */
class HuggingFaceProviderTest {
  static final String KEY = "hf_TestSecretToken0123456789abcdef";
  static final String SCHNELL_PATH = "/hf-inference/models/black-forest-labs/FLUX.1-schnell";
  static final String DEV_PATH = "/hf-inference/models/black-forest-labs/FLUX.1-dev";
  static final String SDXL_PATH = "/hf-inference/models/stabilityai/stable-diffusion-xl-base-1.0";
  static final ObjectMapper JSON = new ObjectMapper();

  WireMockServer server;
  HuggingFaceStubs stubs;
  final StubImage png = StubImages.png(96, 64, 5);
  final List<ImageGenerationService> services = new ArrayList<>();

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    stubs = new HuggingFaceStubs(server);
  }

  @AfterEach
  void stop() {
    services.forEach(ImageGenerationService::close);
    server.stop();
  }

  ProviderConfig.Builder config() {
    return ProviderConfig.builder("huggingface").apiKey(KEY).baseUrl(server.baseUrl() + "/hf-inference").set("priority", "1");
  }

  ImageGenerationService service(ProviderConfig hf, ImageProvider... others) {
    ImageGenerationService.Builder b = ImageGenerationService.builder()
        .retryBackoff(Duration.ofMillis(10), Duration.ofMillis(50))
        .provider(new HuggingFaceProviderFactory(), hf);
    for (ImageProvider p : others) {
      b.provider(p, ProviderConfig.builder(p.id()).set("priority", "2").build());
    }
    ImageGenerationService s = b.build();
    services.add(s);
    return s;
  }

  ImageGenerationService service() {
    return service(config().build());
  }

  static ImageGenerationRequest.Builder request() {
    return ImageGenerationRequest.builder().prompt("a red fox in the snow").timeout(Duration.ofSeconds(20));
  }

  List<LoggedRequest> posts() {
    return server.findAll(postRequestedFor(urlPathMatching(HuggingFaceStubs.MODELS)));
  }

  static <T extends Throwable> T thrown(Class<T> type, org.assertj.core.api.ThrowableAssert.ThrowingCallable call) {
    Throwable t = catchThrowable(call);
    assertThat(t).isInstanceOf(type);
    return type.cast(t);
  }

  static JsonNode body(LoggedRequest r) throws Exception {
    return JSON.readTree(r.getBody());
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("request body per model")
  class WireBody {

    @Test
    @DisplayName("FLUX.1-schnell (default): inputs, size, steps, seed; no guidance, no negative prompt; raw bytes back")
    void fluxSchnellIsTheDefaultAndTakesNoGuidanceOrNegativePrompt() throws Exception {
      stubs.success(png);
      ImageGenerationResponse r = service().generateImage(request().size(1024, 768).seed(42L).steps(4).guidanceScale(3.0)
          .negativePrompt("blurry").build(), "huggingface");

      GeneratedImage img = r.images().get(0);
      assertThat(img.bytes()).isEqualTo(png.bytes());
      assertThat(img.mediaType()).isEqualTo("image/png");
      assertThat(img.width()).isEqualTo(96);
      assertThat(img.seed()).isEqualTo(42L);
      assertThat(r.model()).isEqualTo("black-forest-labs/FLUX.1-schnell");
      assertThat(r.warnings()).contains("guidance scale 3.0 not sent: the default model does not take it",
          "negative prompt not sent: the default model does not take it");
      assertThat(r.metadata()).containsEntry("compute_time_seconds", "1.500").containsEntry("compute_type", "cpu");
      assertThat(r.cost().source()).isEqualTo(Cost.Source.ESTIMATED);
      assertThat(r.cost().amount()).isEqualByComparingTo("0.00018"); // 1.5 s x 0.00012 USD/s

      LoggedRequest sent = posts().get(0);
      assertThat(sent.getUrl()).isEqualTo(SCHNELL_PATH);
      assertThat(sent.getHeader("Authorization")).isEqualTo("Bearer " + KEY);
      assertThat(sent.getHeader("Content-Type")).startsWith("application/json");
      assertThat(sent.getHeader("Accept")).isEqualTo("image/png");
      assertThat(body(sent)).isEqualTo(JSON.readTree("{\"inputs\":\"a red fox in the snow\",\"parameters\":"
          + "{\"width\":1024,\"height\":768,\"num_inference_steps\":4,\"seed\":42}}"));
    }

    @Test
    @DisplayName("FLUX.1-dev: guidance and steps sent, negative prompt not")
    void fluxDevTakesGuidance() throws Exception {
      stubs.success(png);
      ImageGenerationRequest req = request().model("flux-dev").steps(28).guidanceScale(3.5).build();
      service().generateImage(req, "huggingface");

      LoggedRequest sent = posts().get(0);
      assertThat(sent.getUrl()).isEqualTo(DEV_PATH);
      assertThat(body(sent)).isEqualTo(JSON.readTree("{\"inputs\":\"a red fox in the snow\",\"parameters\":"
          + "{\"num_inference_steps\":28,\"guidance_scale\":3.5}}"));
      stubs.assertSubmitted(req, sent, KEY);
    }

    @Test
    @DisplayName("SDXL: every parameter, the sampler as a diffusers scheduler, Accept from outputFormat")
    void sdxlTakesEveryParameter() throws Exception {
      stubs.success(StubImages.jpeg(64, 64, 2));
      ImageGenerationRequest req = request().model("sdxl").size(1024, 1024).steps(30).guidanceScale(7.5).seed(7L)
          .negativePrompt("lowres, watermark").sampler("euler_a").outputFormat("jpeg").build();
      ImageGenerationResponse r = service().generateImage(req, "huggingface");

      assertThat(r.images().get(0).mediaType()).isEqualTo("image/jpeg");
      LoggedRequest sent = posts().get(0);
      assertThat(sent.getUrl()).isEqualTo(SDXL_PATH);
      assertThat(sent.getHeader("Accept")).isEqualTo("image/jpeg");
      assertThat(body(sent)).isEqualTo(JSON.readTree("{\"inputs\":\"a red fox in the snow\",\"parameters\":"
          + "{\"negative_prompt\":\"lowres, watermark\",\"width\":1024,\"height\":1024,\"num_inference_steps\":30,"
          + "\"guidance_scale\":7.5,\"scheduler\":\"EulerAncestralDiscreteScheduler\",\"seed\":7}}"));
      stubs.assertSubmitted(req, sent, KEY);
    }

    @Test
    @DisplayName("SDXL gets imagegen's default negative prompt when none is set")
    void sdxlGetsTheDefaultNegativePrompt() throws Exception {
      stubs.success(png);
      ImageGenerationRequest req = request().model("sdxl").build();
      service().generateImage(req, "huggingface");
      assertThat(body(posts().get(0)).path("parameters").path("negative_prompt").asText())
          .isEqualTo(req.effectiveNegativePrompt()).isNotBlank();
    }

    @Test
    @DisplayName("a prompt alone sends no parameters object")
    void promptAlone() throws Exception {
      stubs.success(png);
      service().generateImage(request().build(), "huggingface");
      assertThat(body(posts().get(0))).isEqualTo(JSON.readTree("{\"inputs\":\"a red fox in the snow\"}"));
    }

    @Test
    @DisplayName("FLUX.1-schnell takes 1-4 steps: more are lowered to 4, with a warning")
    void schnellStepsAreCapped() throws Exception {
      stubs.success(png);
      ImageGenerationResponse r = service().generateImage(request().steps(30).build(), "huggingface");
      assertThat(body(posts().get(0)).path("parameters").path("num_inference_steps").asInt()).isEqualTo(4);
      assertThat(r.warnings()).anyMatch(w -> w.contains("steps lowered from 30 to 4"));
    }

    @Test
    @DisplayName("a repo id passes through; a name that is neither alias nor repo id is skipped by routing, no call")
    void repoIdsPassThroughOtherNamesFail() {
      stubs.success(png);
      ImageGenerationService s = service();
      ImageGenerationResponse r = s.generateImage(request().model("stabilityai/sdxl-turbo").build(), "huggingface");
      assertThat(r.model()).isEqualTo("stabilityai/sdxl-turbo");
      assertThat(posts().get(0).getUrl()).isEqualTo("/hf-inference/models/stabilityai/sdxl-turbo");

      assertThatThrownBy(() -> s.generateImage(request().model("sdxl-turbo").build(), "huggingface"))
          .isInstanceOf(NoCapableProviderException.class)
          .hasMessageContaining("huggingface: no model 'sdxl-turbo' (known: ");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("X-HF-Bill-To is sent when bill-to is configured")
    void billTo() {
      stubs.success(png);
      service(config().set("bill-to", "acme-org").build()).generateImage(request().build(), "huggingface");
      server.verify(postRequestedFor(urlPathEqualTo(SCHNELL_PATH)).withHeader("X-HF-Bill-To", equalTo("acme-org")));
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("503 loading: wait when the estimate fits the deadline, else fail over at once")
  class Loading {

    void loadingThenImage(String model, double estimatedTime) {
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS)).inScenario("load").whenScenarioStateIs("Started")
          .willReturn(HuggingFaceStubs.error(503, HuggingFaceStubs.loading(model, estimatedTime))).willSetStateTo("warm"));
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS)).inScenario("load").whenScenarioStateIs("warm")
          .willReturn(HuggingFaceStubs.image(png)));
    }

    @Test
    @DisplayName("estimate fits: waits estimated_time, calls again, says so in warnings and metadata")
    void waitsWhenTheEstimateFits() {
      loadingThenImage(HuggingFaceModels.FLUX_DEV, 0.6);
      long t0 = System.nanoTime();
      ImageGenerationResponse r = service().generateImage(request().model("flux-dev").build(), "huggingface");
      long ms = (System.nanoTime() - t0) / 1_000_000;

      assertThat(r.images()).hasSize(1);
      assertThat(ms).isGreaterThanOrEqualTo(550);
      assertThat(r.warnings()).anyMatch(w -> w.contains("was loading (estimated_time 0.6 s)") && w.contains("waited 0.6 s"));
      assertThat(r.metadata()).containsEntry("loading_waits", "1").containsEntry("loading_estimated_time_seconds", "0.6");
      assertThat(r.attempts()).singleElement().satisfies(a -> {
        assertThat(a.outcome()).isEqualTo(Attempt.Outcome.SUCCEEDED);
        assertThat(a.calls()).isEqualTo(1); // the wait happened inside the provider's call
      });
      assertThat(posts()).hasSize(2).allMatch(p -> p.getUrl().equals(DEV_PATH));
    }

    @Test
    @DisplayName("estimate past the deadline: fails over at once, attempt carries the estimate, provider cools down")
    void failsOverWhenTheEstimateDoesNotFit() {
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS))
          .willReturn(HuggingFaceStubs.error(503, HuggingFaceStubs.loading(HuggingFaceModels.FLUX_SCHNELL, 2315.0))));
      Backup backup = new Backup();
      ImageGenerationService s = service(config().build(), backup);

      long t0 = System.nanoTime();
      ImageGenerationResponse r = s.generateImageWithFailover(request().timeout(Duration.ofSeconds(30)).build());
      long ms = (System.nanoTime() - t0) / 1_000_000;

      assertThat(ms).isLessThan(5_000);
      assertThat(r.provider()).isEqualTo("backup");
      assertThat(r.attempts()).hasSize(2);
      Attempt hf = r.attempts().get(0);
      assertThat(hf.provider()).isEqualTo("huggingface");
      assertThat(hf.outcome()).isEqualTo(Attempt.Outcome.FAILED);
      assertThat(hf.errorKind()).isEqualTo(ErrorKind.UNAVAILABLE);
      assertThat(hf.message()).contains("loading", "estimated_time 2315 s", "not waiting, failing over");
      assertThat(hf.cause()).isInstanceOfSatisfying(ProviderUnavailableException.class,
          e -> assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(2315)));
      assertThat(r.attempts().get(1).outcome()).isEqualTo(Attempt.Outcome.SUCCEEDED);
      assertThat(posts()).hasSize(1);

      ImageGenerationResponse again = s.generateImageWithFailover(request().build());
      assertThat(again.provider()).isEqualTo("backup");
      assertThat(again.attempts().get(0).outcome()).isEqualTo(Attempt.Outcome.SKIPPED);
      assertThat(again.attempts().get(0).message()).contains("cooling down");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("single provider: ProviderUnavailableException with retryAfter = estimated_time, no retry")
    void singleProviderGetsRetryAfter() {
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS))
          .willReturn(HuggingFaceStubs.error(503, HuggingFaceStubs.loading(HuggingFaceModels.FLUX_SCHNELL, 45.0))));
      ProviderUnavailableException e = thrown(ProviderUnavailableException.class, () -> service().generateImage(
          request().timeout(Duration.ofSeconds(5)).build(), "huggingface"));
      assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(45));
      assertThat(e.getMessage()).contains("estimated_time 45 s", "left before the deadline");
      assertThat(e.failoverMayHelp()).isTrue();
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("an estimate above max-loading-wait is not waited for even with time left")
    void maxLoadingWait() {
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS))
          .willReturn(HuggingFaceStubs.error(503, HuggingFaceStubs.loading(HuggingFaceModels.FLUX_SCHNELL, 3.0))));
      ProviderUnavailableException e = thrown(ProviderUnavailableException.class, () -> service(config().set("max-loading-wait", "1s").build())
          .generateImage(request().build(), "huggingface"));
      assertThat(e.getMessage()).contains("max-loading-wait");
      assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(3));
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("loading answers are waited out at most max-loading-retries times")
    void loadingRetriesAreCapped() {
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS))
          .willReturn(HuggingFaceStubs.error(503, HuggingFaceStubs.loading(HuggingFaceModels.FLUX_SCHNELL, 0.1))));
      ProviderUnavailableException e = thrown(ProviderUnavailableException.class, () -> service(config().set("max-loading-retries", "2").build())
          .generateImage(request().build(), "huggingface"));
      assertThat(e.getMessage()).contains("still loading after 2 waits");
      assertThat(posts()).hasSize(3);
    }

    @Test
    @DisplayName("503 'too busy' (no estimate, not loading) to the POST is an unknown outcome: not resubmitted")
    void tooBusyIsAnUnknownOutcomeAndNotResubmitted() {
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS)).inScenario("busy").whenScenarioStateIs("Started")
          .willReturn(HuggingFaceStubs.error(503, HuggingFaceStubs.TOO_BUSY)).willSetStateTo("free"));
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS)).inScenario("busy").whenScenarioStateIs("free")
          .willReturn(HuggingFaceStubs.image(png)));
      Throwable t = org.assertj.core.api.Assertions.catchThrowable(
          () -> service().generateImage(request().build(), "huggingface"));
      assertThat(t).isInstanceOfSatisfying(dev.imagegen.ProviderUnavailableException.class,
          e -> assertThat(e.outcomeUnknown()).isTrue());
      server.verify(1, com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor(urlPathMatching(HuggingFaceStubs.MODELS)));
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("errors")
  class Errors {

    @Test
    @DisplayName("402 credits exhausted: InsufficientCreditsException, no retry")
    void quotaExhausted() {
      stubs.outOfCredits();
      assertThatThrownBy(() -> service().generateImage(request().build(), "huggingface"))
          .isInstanceOf(InsufficientCreditsException.class)
          .hasMessageContaining("monthly included credits")
          .hasMessageContaining("pre-paid credits");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("the 2026 'depleted' text is quota too")
    void quotaExhausted2026() {
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS)).willReturn(HuggingFaceStubs.error(402,
          HuggingFaceStubs.CREDITS_2026)));
      assertThatThrownBy(() -> service().generateImage(request().build(), "huggingface"))
          .isInstanceOf(InsufficientCreditsException.class).hasMessageContaining("depleted");
    }

    @Test
    @DisplayName("over quota, the next provider serves at once; both attempts in the response; HF then skipped")
    void quotaFailsOverAndCoolsDown() {
      stubs.outOfCredits();
      Backup backup = new Backup();
      ImageGenerationService s = service(config().build(), backup);

      ImageGenerationResponse r = s.generateImageWithFailover(request().build());

      assertThat(r.provider()).isEqualTo("backup");
      assertThat(r.images()).hasSize(1);
      assertThat(r.attempts()).extracting(Attempt::provider).containsExactly("huggingface", "backup");
      assertThat(r.attempts().get(0).errorKind()).isEqualTo(ErrorKind.INSUFFICIENT_CREDITS);
      assertThat(r.attempts().get(0).calls()).isEqualTo(1);
      assertThat(r.attempts().get(1).outcome()).isEqualTo(Attempt.Outcome.SUCCEEDED);

      ImageGenerationResponse again = s.generateImageWithFailover(request().build());
      assertThat(again.attempts().get(0).outcome()).isEqualTo(Attempt.Outcome.SKIPPED);
      assertThat(again.attempts().get(0).message()).contains("out of credit or quota");
      assertThat(posts()).hasSize(1);
      assertThat(backup.calls).hasValue(2);
    }

    @Test
    @DisplayName("410 from the retired api-inference host says to use the router base URL")
    void retiredHost() {
      server.stubFor(post(urlPathMatching("/models/.+")).willReturn(HuggingFaceStubs.error(410, HuggingFaceStubs.RETIRED)));
      ProviderUnavailableException e = thrown(ProviderUnavailableException.class, () -> service(config().baseUrl(server.baseUrl()).build())
          .generateImage(request().build(), "huggingface"));
      assertThat(e.getMessage()).contains("retired", "https://router.huggingface.co/hf-inference", "base-url",
          "no longer supported");
      assertThat(e.failoverMayHelp()).isTrue();
      assertThat(e.retryMayHelp()).isFalse();
      assertThat(e.retryAfter()).isEqualTo(Duration.ofHours(1));
      assertThat(server.findAll(postRequestedFor(urlPathMatching("/models/.+")))).hasSize(1);
    }

    @Test
    @DisplayName("401: AuthenticationException naming HF_TOKEN, the token never shown")
    void badToken() {
      stubs.authenticationRefused();
      assertThatThrownBy(() -> service().generateImage(request().build(), "huggingface"))
          .isInstanceOf(AuthenticationException.class)
          .hasMessageContaining("Invalid credentials in Authorization header")
          .hasMessageContaining("HF_TOKEN")
          .hasMessageNotContaining(KEY);
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("403 without the Inference Providers permission: AuthenticationException")
    void missingPermission() {
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS)).willReturn(HuggingFaceStubs.error(403,
          HuggingFaceStubs.NO_PERMISSION)));
      assertThatThrownBy(() -> service().generateImage(request().build(), "huggingface"))
          .isInstanceOf(AuthenticationException.class).hasMessageContaining("Make calls to Inference Providers");
    }

    @Test
    @DisplayName("403 on a gated model: says to accept its conditions; not a refused key")
    void gatedModel() {
      server.stubFor(post(urlPathEqualTo(DEV_PATH)).willReturn(HuggingFaceStubs.error(403, "{\"error\":\"Access to model "
          + "black-forest-labs/FLUX.1-dev is restricted. You must have access to it and be authenticated to access it.\"}")));
      ProviderUnavailableException e = thrown(ProviderUnavailableException.class, () -> service().generateImage(request().model("flux-dev").build(),
          "huggingface"));
      assertThat(e.getMessage()).contains("gated", "https://huggingface.co/black-forest-labs/FLUX.1-dev");
      assertThat(e.failoverMayHelp()).isTrue();
    }

    @Test
    @DisplayName("404 unknown model: clear message, fails over, not retried")
    void unknownModel() {
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS)).willReturn(HuggingFaceStubs.error(404,
          HuggingFaceStubs.doesNotExist("acme/no-such-model"))));
      ProviderUnavailableException e = thrown(ProviderUnavailableException.class, () -> service().generateImage(
          request().model("acme/no-such-model").build(), "huggingface"));
      assertThat(e.getMessage()).contains("acme/no-such-model", "not found", "does not exist", "x-request-id");
      assertThat(e.retryMayHelp()).isFalse();
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("429 with Retry-After: RateLimitedException carrying it")
    void rateLimited() {
      stubs.rateLimited(Duration.ofSeconds(120));
      RateLimitedException e = thrown(RateLimitedException.class, () -> service().generateImage(request().build(), "huggingface"));
      assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(120));
      assertThat(e.getMessage()).contains("Rate limit reached");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("400 bad size: InvalidRequestException with HF's text, not retried; an error list is joined")
    void invalidRequest() {
      stubs.invalidRequest("`height` and `width` have to be divisible by 8 but are 1000 and 630.");
      assertThatThrownBy(() -> service().generateImage(request().build(), "huggingface"))
          .isInstanceOf(InvalidRequestException.class).hasMessageContaining("divisible by 8");
      assertThat(posts()).hasSize(1);

      server.resetAll();
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS)).willReturn(HuggingFaceStubs.error(400,
          "{\"error\":[\"width must be an integer\",\"seed must be an integer\"]}")));
      assertThatThrownBy(() -> service().generateImage(request().build(), "huggingface"))
          .isInstanceOf(InvalidRequestException.class)
          .hasMessageContaining("width must be an integer; seed must be an integer");
    }

    @Test
    @DisplayName("200 with a JSON body is a failure, not an image; never resubmitted")
    void jsonAt200() {
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS)).willReturn(HuggingFaceStubs.error(200,
          "{\"error\":\"unexpected\"}")));
      assertThatThrownBy(() -> service().generateImage(request().build(), "huggingface"))
          .isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("JSON instead of an image: unexpected");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("200 image/jpeg whose bytes are no image is a failure (magic bytes checked)")
    void undecodableImage() {
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS)).willReturn(com.github.tomakehurst.wiremock.client.WireMock
          .aResponse().withStatus(200).withHeader("Content-Type", "image/jpeg").withBody("GIF89a not really an image")));
      assertThatThrownBy(() -> service().generateImage(request().build(), "huggingface"))
          .isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("not a PNG, JPEG or WebP image");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("a token echoed in an error body is scrubbed")
    void tokenScrubbed() {
      stubs.invalidRequest("bad request from token " + KEY);
      assertThatThrownBy(() -> service().generateImage(request().build(), "huggingface"))
          .isInstanceOf(InvalidRequestException.class).hasMessageNotContaining(KEY).hasMessageContaining("****");
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("several images: one call each")
  class SeveralImages {

    @Test
    @DisplayName("3 images with seed 100: 3 calls with seeds 100, 101, 102, at most 2 at once")
    void severalCallsWithSeedPlusI() throws Exception {
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS)).willReturn(HuggingFaceStubs.image(png)
          .withFixedDelay(400)));
      ImageGenerationResponse r = service().generateImage(request().numImages(3).seed(100L).build(), "huggingface");

      assertThat(r.images()).hasSize(3).extracting(GeneratedImage::seed).containsExactly(100L, 101L, 102L);
      assertThat(r.metadata()).containsEntry("seeds", "100,101,102").containsEntry("compute_time_seconds", "4.500");
      List<LoggedRequest> sent = new ArrayList<>(posts());
      assertThat(sent).hasSize(3);
      Set<Long> seeds = new HashSet<>();
      for (LoggedRequest q : sent) {
        seeds.add(body(q).path("parameters").path("seed").asLong());
      }
      assertThat(seeds).containsExactlyInAnyOrder(100L, 101L, 102L);
      sent.sort(Comparator.comparing(LoggedRequest::getLoggedDate));
      long spread = sent.get(2).getLoggedDate().getTime() - sent.get(0).getLoggedDate().getTime();
      assertThat(spread).as("third call starts after one of the first two answered").isGreaterThanOrEqualTo(300);
      // cost: reported compute time, still an estimate
      assertThat(r.cost().amount()).isEqualByComparingTo(new BigDecimal("0.00054"));
    }

    @Test
    @DisplayName("several images without a seed get distinct seeds (identical calls could be answered from HF's cache)")
    void distinctSeedsWithoutSeed() throws Exception {
      stubs.success(png);
      ImageGenerationResponse r = service().generateImage(request().numImages(2).build(), "huggingface");
      assertThat(r.images()).hasSize(2);
      Long a = body(posts().get(0)).path("parameters").path("seed").asLong();
      Long b = body(posts().get(1)).path("parameters").path("seed").asLong();
      assertThat(a).isNotEqualTo(b);
      assertThat(r.images()).extracting(GeneratedImage::seed).containsExactlyInAnyOrder(a, b);
    }

    @Test
    @DisplayName("a failure after some images: those images, with warnings saying how many and why; no more calls")
    void partialFailureIsNotSilent() {
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS)).inScenario("q").whenScenarioStateIs("Started")
          .willReturn(HuggingFaceStubs.image(png)).willSetStateTo("broke"));
      server.stubFor(post(urlPathMatching(HuggingFaceStubs.MODELS)).inScenario("q").whenScenarioStateIs("broke")
          .willReturn(HuggingFaceStubs.error(402, HuggingFaceStubs.CREDITS_2025)));
      ImageGenerationResponse r = service(config().set("parallel-calls", "1").build())
          .generateImage(request().numImages(3).seed(1L).build(), "huggingface");

      assertThat(r.images()).hasSize(1);
      assertThat(r.warnings()).anyMatch(w -> w.contains("only 1 of 3 images") && w.contains("monthly included credits"));
      assertThat(r.metadata()).containsEntry("images_requested", "3").containsEntry("images_returned", "1");
      assertThat(posts()).hasSize(2);
    }

    @Test
    @DisplayName("more images than max-images-per-request: routing declines, no call")
    void declinedByCapabilities() {
      stubs.success(png);
      assertThatThrownBy(() -> service(config().set("max-images-per-request", "2").build())
          .generateImage(request().numImages(3).build(), "huggingface"))
          .isInstanceOf(NoCapableProviderException.class).hasMessageContaining("serves at most 2");
      assertThat(posts()).isEmpty();
    }

    @Test
    @DisplayName("a name that is no alias nor repo id, an option, a runaway prompt: refused before any call")
    void refusedBeforeAnyCall() {
      stubs.success(png);
      ImageGenerationService s = service();

      assertThatThrownBy(() -> s.generateImage(request().model("flux-foo").build(), "huggingface"))
          .isInstanceOf(NoCapableProviderException.class).hasMessageContaining("huggingface: no model 'flux-foo' (known: ");
      assertThatThrownBy(() -> s.generateImage(request().providerOption("huggingface", "guidance", 2).build(), "huggingface"))
          .isInstanceOf(dev.imagegen.InvalidRequestException.class)
          .hasMessageContaining("providerOptions for 'huggingface': unknown key 'guidance' (huggingface reads none)");
      assertThatThrownBy(() -> s.generateImage(request().prompt("a".repeat(1 << 20)).build(), "huggingface"))
          .isInstanceOf(dev.imagegen.InvalidRequestException.class)
          .hasMessageContaining("prompt is 1048576 characters; huggingface accepts at most 10000");
      assertThat(posts()).isEmpty();
      assertThat(s.generateImage(request().model("stabilityai/sdxl-turbo").build(), "huggingface").provider())
          .isEqualTo("huggingface");
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("health, dedicated endpoints, configuration")
  class HealthAndConfig {

    @Test
    @DisplayName("health: whoami-v2 accepted is UP, 401 is AUTH_FAILED, unreachable is DOWN")
    void health() {
      stubs.healthy();
      ProviderHealth up = service().testConnection("huggingface");
      assertThat(up.state()).isEqualTo(ProviderHealth.State.UP);
      assertThat(up.message()).contains("alice");
      server.verify(com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor(urlPathEqualTo("/api/whoami-v2"))
          .withHeader("Authorization", equalTo("Bearer " + KEY)));

      server.resetAll();
      stubs.healthAuthRefused();
      ProviderHealth refused = service().testConnection("huggingface");
      assertThat(refused.state()).isEqualTo(ProviderHealth.State.AUTH_FAILED);
      assertThat(refused.message()).doesNotContain(KEY);

      server.resetAll();
      server.stubFor(get(urlPathEqualTo("/api/whoami-v2")).willReturn(HuggingFaceStubs.error(502, "{\"error\":\"Bad gateway\"}")));
      assertThat(service().testConnection("huggingface").state()).isEqualTo(ProviderHealth.State.DOWN);

      ProviderHealth down = service(config().baseUrl("http://127.0.0.1:1/hf-inference").build()).testConnection("huggingface");
      assertThat(down.state()).isEqualTo(ProviderHealth.State.DOWN);
    }

    @Test
    @DisplayName("dedicated endpoint: POST to base-url itself, no model in the path; offers only its model")
    void dedicatedEndpoint() throws Exception {
      server.stubFor(post(urlPathEqualTo("/endpoint")).willReturn(HuggingFaceStubs.image(png)));
      ImageGenerationService s = service(config().baseUrl(server.baseUrl() + "/endpoint")
          .set("dedicated-endpoint", "true").set("model", "sdxl").build());

      ImageGenerationResponse r = s.generateImage(request().negativePrompt("blurry").build(), "huggingface");
      assertThat(r.model()).isEqualTo(HuggingFaceModels.SDXL);
      LoggedRequest sent = server.findAll(postRequestedFor(urlPathEqualTo("/endpoint"))).get(0);
      assertThat(body(sent).path("parameters").path("negative_prompt").asText()).isEqualTo("blurry");

      assertThatThrownBy(() -> s.generateImage(request().model("flux-dev").build(), "huggingface"))
          .isInstanceOf(NoCapableProviderException.class);
    }

    @Test
    @DisplayName("token from HF_TOKEN, then the other customary names; IMAGEGEN_ keys win")
    void customaryEnvironment() {
      HuggingFaceProviderFactory f = new HuggingFaceProviderFactory();
      Map<String, List<String>> customary = f.customaryEnvironment();
      Properties none = new Properties();
      assertThat(ProviderConfig.from("huggingface", Map.of("HF_TOKEN", "hf_a", "HUGGING_FACE_HUB_TOKEN", "hf_b"), none,
          customary).get("api-key")).hasValue("hf_a");
      assertThat(ProviderConfig.from("huggingface", Map.of("HUGGING_FACE_HUB_TOKEN", "hf_b"), none, customary)
          .get("api-key")).hasValue("hf_b");
      assertThat(ProviderConfig.from("huggingface", Map.of("HUGGINGFACEHUB_API_TOKEN", "hf_c"), none, customary)
          .get("api-key")).hasValue("hf_c");
      assertThat(ProviderConfig.from("huggingface", Map.of("HF_TOKEN", "hf_a", "IMAGEGEN_HUGGINGFACE_API_KEY", "hf_z"), none,
          customary).get("api-key")).hasValue("hf_z");
      assertThat(f.isConfigured(ProviderConfig.from("huggingface", Map.of("HF_TOKEN", "hf_a"), none, customary))).isTrue();
      assertThat(f.isConfigured(ProviderConfig.builder("huggingface").build())).isFalse();
    }

    @Test
    @DisplayName("the default base URL is today's router; no token for a Hugging Face host fails naming the key")
    void defaults() {
      HuggingFaceProviderFactory f = new HuggingFaceProviderFactory();
      ImageProvider p = f.create(ProviderConfig.builder("huggingface").apiKey(KEY).build());
      assertThat(p.toString()).contains("https://router.huggingface.co/hf-inference").doesNotContain(KEY);
      assertThat(p.capabilities().queued()).isFalse();
      assertThat(p.capabilities().cancellable()).isFalse();
      assertThat(p.capabilities().models()).contains("flux-schnell", "flux-dev", "sdxl", HuggingFaceModels.FLUX_SCHNELL);
      assertThat(f.create(ProviderConfig.builder("huggingface").apiKey(KEY).baseUrl("https://router.huggingface.co/").build())
          .toString()).contains("https://router.huggingface.co/hf-inference");
      assertThatThrownBy(() -> f.create(ProviderConfig.builder("huggingface").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("api-key");
      assertThat(p.costModel().estimate(request().numImages(2).build()).amount()).isEqualByComparingTo("0.0024");
      CostModel perModel = f.create(ProviderConfig.builder("huggingface").apiKey(KEY).set("price.sdxl", "0.0003").build())
          .costModel();
      assertThat(perModel.estimate(request().model(HuggingFaceModels.SDXL).build()).amount())
          .isEqualByComparingTo("0.003"); // price.<alias>: 0.0003 USD/s x 10 s
      assertThat(perModel.estimate(request().build()).amount()).isEqualByComparingTo("0.0012"); // the default model
      assertThat(ServiceLoader.load(ImageProviderFactory.class).stream().map(ServiceLoader.Provider::type))
          .contains(HuggingFaceProviderFactory.class);
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("soft and hard inputs: core's rule")
  class SoftInputs {

    @Test
    @DisplayName("FLUX with a negative prompt and a sampler: served without them, warned about from core")
    void fluxDropsSoftInputsFromTheBodyWithCoreWarnings() throws Exception {
      stubs.success(png);
      ImageGenerationResponse r = service().generateImage(request().model("flux-dev").negativePrompt("blurry")
          .sampler("euler_a").guidanceScale(3.5).build(), "huggingface");

      JsonNode p = body(posts().get(0)).path("parameters");
      assertThat(p.has("negative_prompt")).isFalse();
      assertThat(p.has("scheduler")).isFalse();
      assertThat(p.path("guidance_scale").asDouble()).as("FLUX.1-dev uses guidance").isEqualTo(3.5);
      assertThat(r.warnings()).containsExactly("negative prompt not sent: model 'flux-dev' does not take it",
          "sampler 'euler_a' not sent: model 'flux-dev' does not take it");
    }

    @Test
    @DisplayName("strict FLUX request with a negative prompt: Hugging Face is skipped with the reason, never called")
    void strictFluxRequestSkipsHuggingFaceWithTheReason() {
      Backup backup = new Backup();
      ImageGenerationResponse r = service(config().build(), backup).generateImageWithFailover(request()
          .model("flux-schnell").negativePrompt("blurry").strict(true).build());

      assertThat(r.provider()).isEqualTo("backup");
      assertThat(r.attempts().get(0).outcome()).isEqualTo(dev.imagegen.Attempt.Outcome.SKIPPED);
      assertThat(r.attempts().get(0).message())
          .isEqualTo("negative prompt would be dropped: model 'flux-schnell' does not take it (strict request)");
      assertThat(posts()).isEmpty();
    }

    @Test
    @DisplayName("strict SDXL request: every input honoured and sent")
    void strictSdxlRequestIsServed() throws Exception {
      stubs.success(png);
      ImageGenerationResponse r = service().generateImage(request().model("sdxl").negativePrompt("blurry").strict(true)
          .build(), "huggingface");

      assertThat(r.warnings()).isEmpty();
      assertThat(body(posts().get(0)).path("parameters").path("negative_prompt").asText()).isEqualTo("blurry");
    }
  }

  // ------------------------------------------------------------------------------------------

  /** The next provider in failover tests: always serves one image. */
  static final class Backup implements ImageProvider {
    final AtomicInteger calls = new AtomicInteger();

    @Override
    public String id() {
      return "backup";
    }

    @Override
    public ProviderCapabilities capabilities() {
      return ProviderCapabilities.builder().negativePrompt(true).seed(true).maxImagesPerRequest(10).build();
    }

    @Override
    public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context) {
      calls.incrementAndGet();
      StubImage img = StubImages.png(32, 32, 9);
      return CompletableFuture.completedFuture(ProviderResult.builder("backup-model")
          .image(GeneratedImage.of(img.bytes(), 9L, null, false)).build());
    }

    @Override
    public CompletableFuture<ProviderHealth> health(ProviderContext context) {
      return CompletableFuture.completedFuture(ProviderHealth.up("backup", Duration.ZERO));
    }

    @Override
    public CostModel costModel() {
      return CostModel.free();
    }
  }

}
