package dev.imagegen.provider.horde;

import static com.github.tomakehurst.wiremock.client.WireMock.deleteRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static dev.imagegen.testkit.stubs.HordeStubs.BASE;
import static dev.imagegen.testkit.stubs.HordeStubs.GEN_ID;
import static dev.imagegen.testkit.stubs.HordeStubs.ID;
import static dev.imagegen.testkit.stubs.HordeStubs.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
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
import dev.imagegen.testkit.stubs.HordeStubs;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** AI Horde's wire protocol against a WireMock Horde: what goes on the wire and what comes back. */
class HordeProviderTest {
  private static final String KEY = "hordekey-Zq81xW0";
  private static final StubImage WEBP = StubImages.webp(1024, 768, 3188263487L, 64);

  private static WireMockServer server;
  private HordeStubs stubs;
  private final List<ImageGenerationService> services = new ArrayList<>();

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
    stubs = new HordeStubs(server);
  }

  @AfterEach
  void close() {
    services.forEach(ImageGenerationService::close);
  }

  private ProviderConfig.Builder config() {
    return ProviderConfig.builder("horde").baseUrl(server.baseUrl() + BASE).apiKey(KEY).set("poll-interval", "1s")
        .set("timeout", "5s");
  }

  private ImageGenerationService service(ProviderConfig config) {
    ImageGenerationService s = ImageGenerationService.builder().provider(new HordeProviderFactory(), config).maxRetries(0)
        .defaultTimeout(Duration.ofSeconds(20)).build();
    services.add(s);
    return s;
  }

  private ImageGenerationService service() {
    return service(config().build());
  }

  private static ImageGenerationRequest.Builder fox() {
    return ImageGenerationRequest.builder().prompt("red fox in snow").negativePrompt("blurry, lowres").size(1024, 768);
  }

  private JsonNode onlySubmit() {
    List<JsonNode> submits = stubs.submits();
    assertThat(submits).as("submits").hasSize(1);
    return submits.get(0);
  }

  private LoggedRequest onlySubmitRequest() {
    List<LoggedRequest> all = server.findAll(stubs.submitRequests());
    assertThat(all).hasSize(1);
    return all.get(0);
  }

  private void awaitCancel() throws InterruptedException {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (server.findAll(stubs.cancelRequests()).isEmpty() && System.nanoTime() < until) {
      Thread.sleep(50);
    }
  }

  @Nested
  @DisplayName("text to image")
  class TextToImage {

    @Test
    @DisplayName("the submit carries the Horde's field names and values, and every image comes back as bytes")
    void submitCarriesHordeFieldsAndImagesComeBack() {
      stubs.accepted("StepsTooFew");
      stubs.checkSequence(HordeStubs.queued(2, 20), HordeStubs.done(2, 34.0));
      String gen2 = "9d0e4b0e-1a2f-4e3b-8c5d-7c9f6a7b8c9d";
      stubs.statusAnswers(json(200, HordeStubs.status(34.0,
          HordeStubs.generation(stubs.r2Url(GEN_ID), "3188263487", GEN_ID, false),
          HordeStubs.generation(stubs.r2Url(gen2), "not-a-number", gen2, false))));
      stubs.image(GEN_ID, WEBP);
      stubs.image(gen2, StubImages.webp(1024, 768, 7, 64));

      ImageGenerationResponse r = service().generateImage(fox().seed(3188263487L).steps(25).guidanceScale(6.5)
          .sampler("DPM++ 2M Karras").numImages(2).model("flux-schnell").build(), "horde");

      assertThat(r.images()).hasSize(2);
      GeneratedImage first = r.images().get(0);
      assertThat(first.bytes()).isEqualTo(WEBP.bytes());
      assertThat(first.mediaType()).isEqualTo("image/webp");
      assertThat(first.width()).isEqualTo(1024);
      assertThat(first.height()).isEqualTo(768);
      assertThat(first.seed()).isEqualTo(3188263487L);
      assertThat(first.nsfw()).isFalse();
      assertThat(first.sourceUrl()).contains("/r2/horde-images/" + GEN_ID + ".webp");
      assertThat(r.images().get(1).seed()).as("a seed the Horde reports as text").isNull();
      assertThat(r.model()).isEqualTo(HordeStubs.MODEL);
      assertThat(r.cost().source()).isEqualTo(Cost.Source.FREE);
      assertThat(r.warnings()).anyMatch(w -> w.contains("StepsTooFew"));
      assertThat(r.metadata()).containsEntry("kudos", "34.0").containsEntry("kudos-estimated", "17.0")
          .containsEntry("workers", "gpu-farm-3").containsEntry("horde-request-id", ID);

      JsonNode body = onlySubmit();
      assertThat(body.path("prompt").asText()).isEqualTo("red fox in snow###blurry, lowres");
      JsonNode params = body.path("params");
      assertThat(params.path("seed").isTextual()).as("seed is sent as a JSON string").isTrue();
      assertThat(params.path("seed").asText()).isEqualTo("3188263487");
      assertThat(params.path("width").asInt()).isEqualTo(1024);
      assertThat(params.path("height").asInt()).isEqualTo(768);
      assertThat(params.path("steps").asInt()).isEqualTo(25);
      assertThat(params.path("cfg_scale").asDouble()).isEqualTo(6.5);
      assertThat(params.path("sampler_name").asText()).isEqualTo("k_dpmpp_2m");
      assertThat(params.path("karras").asBoolean()).isTrue();
      assertThat(params.path("n").asInt()).isEqualTo(2);
      assertThat(body.path("models").toString()).isEqualTo("[\"Flux.1-Schnell fp8 (Compact)\"]");
      // the applied defaults differ from the swagger: every one is sent explicitly
      assertThat(body.path("nsfw").isBoolean() && !body.path("nsfw").asBoolean()).as("nsfw false, explicit").isTrue();
      assertThat(body.path("censor_nsfw").isBoolean() && body.path("censor_nsfw").asBoolean()).as("censor_nsfw").isTrue();
      assertThat(body.path("validated_backends").isBoolean()).as("validated_backends explicit").isTrue();
      assertThat(body.path("r2").asBoolean()).isTrue();

      LoggedRequest submit = onlySubmitRequest();
      assertThat(submit.getHeader("apikey")).isEqualTo(KEY);
      assertThat(submit.getHeader("Client-Agent")).matches("imagegen-java:[^:]+:https://github\\.com/.+");
      // check polled, then status read exactly once, and the check carried the Client-Agent too
      List<LoggedRequest> checks = server.findAll(stubs.pollRequests());
      assertThat(checks).hasSize(2);
      assertThat(checks.get(0).getHeader("Client-Agent")).isEqualTo(submit.getHeader("Client-Agent"));
      server.verify(1, getRequestedFor(urlPathEqualTo(BASE + "/generate/status/" + ID)));
      server.verify(0, deleteRequestedFor(urlPathEqualTo(BASE + "/generate/status/" + ID)));
    }

    @Test
    @DisplayName("a request without a model asks for the SDXL model at 1024x1024 with the Horde's defaults spelt out")
    void defaultModelAndDefaults() {
      stubs.success(WEBP);

      service().generateImage(ImageGenerationRequest.builder().prompt("a lighthouse").defaultNegativePrompt(false).build(),
          "horde");

      JsonNode body = onlySubmit();
      assertThat(body.path("prompt").asText()).as("no ### without a negative prompt").isEqualTo("a lighthouse");
      assertThat(body.path("models").toString()).isEqualTo("[\"AlbedoBase XL (SDXL)\"]");
      JsonNode params = body.path("params");
      assertThat(params.path("width").asInt()).isEqualTo(1024);
      assertThat(params.path("height").asInt()).isEqualTo(1024);
      assertThat(params.path("cfg_scale").asDouble()).isEqualTo(5.0);
      assertThat(params.path("karras").asBoolean()).isTrue();
      assertThat(params.path("sampler_name").asText()).isEqualTo("k_euler_a");
      assertThat(params.has("seed")).as("no seed: the Horde picks one").isFalse();
    }

    @Test
    @DisplayName("the default negative prompt goes after ###, a Horde model name passes through, LoRAs and clip skip are sent")
    void negativeDefaultPassThroughModelLorasClipSkip() {
      stubs.success(WEBP);

      service().generateImage(ImageGenerationRequest.builder().prompt("castle").model("Deliberate").size(512, 512)
          .lora("GlowingRunesAI", 0.8).providerOption("horde", "clip_skip", 2)
          .providerOption("horde", "post_processing", List.of("RealESRGAN_x4plus")).build(), "horde");

      JsonNode body = onlySubmit();
      assertThat(body.path("prompt").asText()).startsWith("castle###").hasSizeGreaterThan("castle###".length());
      assertThat(body.path("models").toString()).isEqualTo("[\"Deliberate\"]");
      JsonNode params = body.path("params");
      assertThat(params.path("clip_skip").asInt()).isEqualTo(2);
      assertThat(params.path("post_processing").toString()).isEqualTo("[\"RealESRGAN_x4plus\"]");
      assertThat(params.path("loras").toString()).isEqualTo("[{\"name\":\"GlowingRunesAI\",\"model\":0.8,\"clip\":0.8}]");
    }

    @Test
    @DisplayName("without a key the anonymous key 0000000000 is sent")
    void anonymousKey() {
      stubs.success(WEBP);
      ProviderConfig anonymous = ProviderConfig.builder("horde").baseUrl(server.baseUrl() + BASE).set("poll-interval", "1s")
          .build();
      assertThat(new HordeProviderFactory().isConfigured(anonymous)).isFalse();

      service(anonymous).generateImage(fox().build(), "horde");

      assertThat(onlySubmitRequest().getHeader("apikey")).isEqualTo("0000000000");
    }

    @Test
    @DisplayName("fromEnvironment enables the Horde anonymously when nothing is configured, and reads AI_HORDE_API_KEY")
    void fromEnvironment() {
      stubs.success(WEBP);
      Properties props = new Properties();
      props.setProperty("imagegen.horde.base-url", server.baseUrl() + BASE);
      props.setProperty("imagegen.horde.poll-interval", "1s");

      ImageGenerationService anonymous = ImageGenerationService.fromEnvironment(Map.of(), props);
      services.add(anonymous);
      assertThat(anonymous.providers()).contains("horde");
      anonymous.generateImage(fox().build(), "horde");
      assertThat(onlySubmitRequest().getHeader("apikey")).isEqualTo("0000000000");

      server.resetRequests();
      ImageGenerationService keyed = ImageGenerationService.fromEnvironment(Map.of("AI_HORDE_API_KEY", KEY), props);
      services.add(keyed);
      keyed.generateImage(fox().build(), "horde");
      assertThat(onlySubmitRequest().getHeader("apikey")).isEqualTo(KEY);
    }

    @Test
    @DisplayName("a configured client-agent is sent as is")
    void clientAgentConfigured() {
      stubs.success(WEBP);

      service(config().set("client-agent", "acme-render:2.1:ops@acme.example").build()).generateImage(fox().build(), "horde");

      assertThat(onlySubmitRequest().getHeader("Client-Agent")).isEqualTo("acme-render:2.1:ops@acme.example");
    }

    @Test
    @DisplayName("an unknown sampler or horde option is refused before anything is sent")
    void refusedBeforeSending() {
      stubs.success(WEBP);
      ImageGenerationService s = service();

      InvalidRequestException sampler = catchThrowableOfType(InvalidRequestException.class,
          () -> s.generateImage(fox().sampler("warp drive").build(), "horde"));
      InvalidRequestException option = catchThrowableOfType(InvalidRequestException.class,
          () -> s.generateImage(fox().providerOption("horde", "nfsw", true).providerOption("horde", "turbo", true).build(),
              "horde"));
      InvalidRequestException value = catchThrowableOfType(InvalidRequestException.class,
          () -> s.generateImage(fox().providerOption("horde", "clip_skip", 40).build(), "horde"));

      assertThat(sampler.getMessage()).contains("warp drive").contains("k_euler_a");
      assertThat(option.violations()).hasSize(2);
      assertThat(option.getMessage()).contains("unknown key 'nfsw'").contains("unknown key 'turbo'").contains("nsfw");
      assertThat(value.getMessage()).contains("clip_skip");
      server.verify(0, stubs.submitRequests());
    }

    @Test
    @DisplayName("a prompt over 15,000 characters (up to 7,500 words) is refused before anything is sent")
    void longPromptRefusedBeforeSending() {
      stubs.success(WEBP);
      ImageGenerationService s = service();

      InvalidRequestException e = catchThrowableOfType(InvalidRequestException.class,
          () -> s.generateImage(fox().prompt("fox ".repeat(262_144)).build(), "horde"));

      assertThat(e.violations()).containsExactly("prompt is 1048576 characters; horde accepts at most 15000");
      server.verify(0, stubs.submitRequests());
      s.generateImage(fox().prompt("f ".repeat(7_500).strip()).build(), "horde");
      server.verify(1, stubs.submitRequests());
    }

    @Test
    @DisplayName("an unknown sampler skips the Horde in failover with the reason; its own and A1111 names do not")
    void unknownSamplerIsASkipReason() {
      ImageProvider p = new HordeProviderFactory().create(config().build());

      assertThat(p.capabilities().invalid(fox().sampler("warp drive").build(), "horde"))
          .singleElement().asString().contains("sampler 'warp drive' is not one of horde's samplers").contains("k_euler_a");
      assertThat(p.capabilities().invalid(fox().sampler("DPM++ 2M Karras").build(), "horde")).isEmpty();
      assertThat(p.capabilities().invalid(fox().sampler("k_lms").build(), "horde")).isEmpty();
    }
  }

  @Nested
  @DisplayName("img2img and inpainting")
  class Img2Img {

    @Test
    @DisplayName("init image, mask and strength go out as source_image, source_mask, inpainting and denoising_strength")
    void inpaintingFields() {
      stubs.success(WEBP);
      byte[] init = StubImages.png(64, 64, 1).bytes();
      byte[] mask = StubImages.png(64, 64, 2).bytes();

      service().generateImage(fox().inputImage(InputImage.ofBytes(InputImage.Role.INIT, init))
          .inputImage(InputImage.ofBytes(InputImage.Role.MASK, mask)).strength(0.55).build(), "horde");

      JsonNode body = onlySubmit();
      assertThat(Base64.getDecoder().decode(body.path("source_image").asText())).isEqualTo(init);
      assertThat(Base64.getDecoder().decode(body.path("source_mask").asText())).isEqualTo(mask);
      assertThat(body.path("source_processing").asText()).isEqualTo("inpainting");
      assertThat(body.path("params").path("denoising_strength").asDouble()).isEqualTo(0.55);
    }

    @Test
    @DisplayName("an init image given as a URL is passed on as one; without a mask the processing is img2img")
    void img2imgFromUrl() {
      stubs.success(WEBP);

      service().generateImage(fox().inputImage(InputImage.ofUrl(InputImage.Role.INIT, URI.create("https://img.example/cat.png")))
          .strength(0.3).build(), "horde");

      JsonNode body = onlySubmit();
      assertThat(body.path("source_image").asText()).isEqualTo("https://img.example/cat.png");
      assertThat(body.path("source_processing").asText()).isEqualTo("img2img");
      assertThat(body.has("source_mask")).isFalse();
      assertThat(body.path("params").path("denoising_strength").asDouble()).isEqualTo(0.3);
    }
  }

  @Nested
  @DisplayName("no worker, faults and censorship")
  class Faults {

    @Test
    @DisplayName("a NoAvailableWorker warning on the 202 deletes the request and fails over at once")
    void noAvailableWorkerFailsOverAtOnce() {
      stubs.accepted("NoAvailableWorker");
      stubs.cancellable();
      ImageGenerationService s = ImageGenerationService.builder()
          .provider(new HordeProviderFactory(), config().set("priority", "1").build())
          .provider(new Backup(), ProviderConfig.builder("backup").set("priority", "2").build())
          .maxRetries(2).build();
      services.add(s);

      long t0 = System.nanoTime();
      ImageGenerationResponse r = s.generateImageWithFailover(fox().build());

      assertThat(r.provider()).isEqualTo("backup");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(3));
      assertThat(r.attempts().get(0).provider()).isEqualTo("horde");
      assertThat(r.attempts().get(0).message()).contains("NoAvailableWorker");
      server.verify(1, stubs.submitRequests());
      server.verify(0, stubs.pollRequests());
      server.verify(1, deleteRequestedFor(urlPathEqualTo(BASE + "/generate/status/" + ID)));
    }

    @Test
    @DisplayName("is_possible false on the check fails at once (no waiting) and deletes the request")
    void isPossibleFalseFailsFast() {
      stubs.accepted();
      stubs.checkAnswers(json(200, HordeStubs.check(0, 0, 0, 1, false, false, 0, 1, 0.0, false)));
      stubs.cancellable();

      long t0 = System.nanoTime();
      ProviderUnavailableException e = catchThrowableOfType(ProviderUnavailableException.class,
          () -> service().generateImage(fox().build(), "horde"));

      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(4));
      assertThat(e.getMessage()).contains("is_possible");
      assertThat(e.failoverMayHelp()).isTrue();
      assertThat(e.retryMayHelp()).isFalse();
      server.verify(1, stubs.pollRequests());
      server.verify(1, deleteRequestedFor(urlPathEqualTo(BASE + "/generate/status/" + ID)));
      server.verify(1, stubs.submitRequests());
    }

    @Test
    @DisplayName("a faulted request fails over, without a retry on the Horde")
    void faulted() {
      stubs.accepted();
      stubs.checkSequence(HordeStubs.processing(10), HordeStubs.check(0, 0, 3, 0, true, true, 0, 0, 0.0, true));

      ProviderUnavailableException e = catchThrowableOfType(ProviderUnavailableException.class,
          () -> service(config().build()).generateImage(fox().build(), "horde"));

      assertThat(e.getMessage()).contains("faulted").contains("restarted 3");
      assertThat(e.failoverMayHelp()).isTrue();
      assertThat(e.retryMayHelp()).isFalse();
      server.verify(1, stubs.submitRequests());
    }

    @Test
    @DisplayName("every image censored: ContentPolicyException naming the censorship, nothing downloaded")
    void allCensored() {
      stubs.contentPolicy();

      ContentPolicyException e = catchThrowableOfType(ContentPolicyException.class,
          () -> service().generateImage(fox().build(), "horde"));

      assertThat(e.getMessage()).contains("censored").contains("nsfw");
      assertThat(e.failoverMayHelp()).isFalse();
      server.verify(0, getRequestedFor(urlPathEqualTo("/r2/horde-images/" + GEN_ID + ".webp")));
    }

    @Test
    @DisplayName("some images censored: they come back flagged nsfw, with a warning (here inline, as with r2 false)")
    void someCensored() {
      String gen2 = "9d0e4b0e-1a2f-4e3b-8c5d-7c9f6a7b8c9d";
      StubImage blanked = StubImages.webp(1024, 768, 2, 8);
      stubs.accepted();
      stubs.checkAnswers(json(200, HordeStubs.done(2, 17.0)));
      stubs.statusAnswers(json(200, HordeStubs.status(17.0,
          HordeStubs.generation(stubs.r2Url(GEN_ID), "1", GEN_ID, false),
          HordeStubs.generation(Base64.getEncoder().encodeToString(blanked.bytes()), "2", gen2, true))));
      stubs.image(GEN_ID, WEBP);

      ImageGenerationResponse r = service(config().set("r2", "false").build()).generateImage(fox().numImages(2).build(),
          "horde");

      assertThat(onlySubmit().path("r2").asBoolean(true)).isFalse();
      assertThat(r.images()).extracting(GeneratedImage::nsfw).containsExactly(false, true);
      assertThat(r.images().get(1).bytes()).isEqualTo(blanked.bytes());
      assertThat(r.images().get(1).sourceUrl()).isNull();
      assertThat(r.warnings()).anyMatch(w -> w.contains("1 of 2 images were censored"));
      assertThat(r.metadata()).containsEntry("censored", "1");
    }

    @Test
    @DisplayName("a request that expired while polling (404 RequestNotFound) fails over")
    void expiredWhilePolling() {
      stubs.accepted();
      stubs.checkAnswers(json(404, HordeStubs.error("Request not found", "RequestNotFound")));

      ProviderUnavailableException e = catchThrowableOfType(ProviderUnavailableException.class,
          () -> service().generateImage(fox().build(), "horde"));

      assertThat(e.getMessage()).contains("RequestNotFound");
      assertThat(e.failoverMayHelp()).isTrue();
      server.verify(1, stubs.submitRequests());
    }
  }

  @Nested
  @DisplayName("error answers")
  class Errors {

    @Test
    @DisplayName("403 KudosUpfront: InsufficientCreditsException, no retry")
    void kudosUpfront() {
      stubs.outOfCredits();

      InsufficientCreditsException e = catchThrowableOfType(InsufficientCreditsException.class,
          () -> service(config().build()).generateImage(fox().build(), "horde"));

      assertThat(e.getMessage()).contains("KudosUpfront").contains("25.78 kudos");
      assertThat(e.failoverMayHelp()).isTrue();
      server.verify(1, stubs.submitRequests());
    }

    @Test
    @DisplayName("400 schema validation: InvalidRequestException listing each field the Horde named")
    void schemaValidation() {
      stubs.submitAnswers(json(400, "{\"errors\":{\"params.width\":\"3100 is greater than the maximum of 3072\","
          + "\"params.seed\":\"12 is not of type 'string'\"},\"message\":\"Input payload validation failed\"}"));

      InvalidRequestException e = catchThrowableOfType(InvalidRequestException.class,
          () -> service().generateImage(fox().build(), "horde"));

      assertThat(e.violations()).hasSize(2);
      assertThat(e.getMessage()).contains("Input payload validation failed")
          .contains("params.width: 3100 is greater than the maximum of 3072").contains("params.seed");
    }

    @Test
    @DisplayName("rc codes: MaintenanceMode (400) fails over, CorruptPrompt is a content refusal, InvalidAPIKey is auth")
    void returnCodes() {
      ImageGenerationService s = service();

      stubs.submitAnswers(json(400, HordeStubs.error("Horde is in maintenance mode", "MaintenanceMode")));
      ProviderUnavailableException maintenance = catchThrowableOfType(ProviderUnavailableException.class,
          () -> s.generateImage(fox().build(), "horde"));
      assertThat(maintenance.getMessage()).contains("MaintenanceMode");
      assertThat(maintenance.failoverMayHelp()).isTrue();

      stubs.submitAnswers(json(400, HordeStubs.error("This prompt appears to violate our terms of service", "CorruptPrompt")));
      ContentPolicyException corrupt = catchThrowableOfType(ContentPolicyException.class,
          () -> s.generateImage(fox().build(), "horde"));
      assertThat(corrupt.getMessage()).contains("CorruptPrompt");
      assertThat(corrupt.retryMayHelp()).isFalse();

      stubs.submitAnswers(json(400, HordeStubs.error("Too many LoRAs", "TooManyLoras")));
      assertThatThrownBy(() -> s.generateImage(fox().build(), "horde")).isInstanceOf(InvalidRequestException.class)
          .hasMessageContaining("TooManyLoras");

      stubs.submitAnswers(json(401, HordeStubs.error("Invalid API Key", "InvalidAPIKey")));
      assertThatThrownBy(() -> s.generateImage(fox().build(), "horde")).isInstanceOf(AuthenticationException.class)
          .hasMessageContaining("InvalidAPIKey").hasMessageNotContaining(KEY);
    }

    @Test
    @DisplayName("429 TooManyPrompts: RateLimitedException")
    void tooManyPrompts() {
      stubs.submitAnswers(json(429, HordeStubs.error("Too many concurrent requests", "TooManyPrompts"))
          .withHeader("Retry-After", "30"));

      RateLimitedException e = catchThrowableOfType(RateLimitedException.class,
          () -> service().generateImage(fox().build(), "horde"));

      assertThat(e.getMessage()).contains("TooManyPrompts");
      assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(30));
    }
  }

  @Nested
  @DisplayName("polling, progress and cancel")
  class Polling {

    @Test
    @DisplayName("progress reports queue position, wait time as ETA and counts in order; polls never beat the 1 s floor")
    void progressAndPollFloor() {
      stubs.finishesWith(WEBP, HordeStubs.queued(7, 38), HordeStubs.processing(6));
      ProviderConfig fast = config().set("poll-interval", "100ms").build();
      assertThat(((HordeProvider) new HordeProviderFactory().create(fast)).pollPolicy().interval())
          .as("poll-interval below the floor is raised to it").isEqualTo(Duration.ofSeconds(1));
      assertThat(((HordeProvider) new HordeProviderFactory().create(ProviderConfig.builder("horde").build())).pollPolicy()
          .interval()).as("default interval").isEqualTo(Duration.ofSeconds(2));
      List<ProgressEvent> events = new CopyOnWriteArrayList<>();

      service(fast).submit(fox().build()).onProgress(events::add).result().join();

      List<ProgressEvent> horde = events.stream().filter(e -> "horde".equals(e.provider())).toList();
      ProgressEvent queued = horde.stream().filter(e -> e.stage() == ProgressEvent.Stage.QUEUED).findFirst().orElseThrow();
      assertThat(queued.queuePosition()).isEqualTo(7);
      assertThat(queued.eta()).isEqualTo(Duration.ofSeconds(38));
      ProgressEvent running = horde.stream().filter(e -> e.stage() == ProgressEvent.Stage.RUNNING).findFirst().orElseThrow();
      assertThat(running.eta()).isEqualTo(Duration.ofSeconds(6));
      assertThat(running.percent()).isEqualTo(0.0);
      assertThat(running.message()).contains("processing 1");
      assertThat(horde.indexOf(queued)).isLessThan(horde.indexOf(running));
      assertThat(horde).extracting(ProgressEvent::stage).contains(ProgressEvent.Stage.DOWNLOADING);

      List<LoggedRequest> polls = server.findAll(stubs.pollRequests());
      assertThat(polls).hasSize(3);
      for (int i = 1; i < polls.size(); i++) {
        long gap = polls.get(i).getLoggedDate().getTime() - polls.get(i - 1).getLoggedDate().getTime();
        assertThat(gap).as("gap between poll %d and %d", i, i + 1).isGreaterThanOrEqualTo(950);
      }
    }

    @Test
    @DisplayName("the deadline passing deletes the remote request")
    void cancelOnDeadline() throws InterruptedException {
      stubs.neverFinishes();

      assertThatThrownBy(() -> service().generateImage(fox().timeout(Duration.ofMillis(1500)).build(), "horde"))
          .isInstanceOf(GenerationTimeoutException.class);

      awaitCancel();
      server.verify(1, deleteRequestedFor(urlPathEqualTo(BASE + "/generate/status/" + ID)));
      assertThat(server.findAll(deleteRequestedFor(urlPathEqualTo(BASE + "/generate/status/" + ID))).get(0)
          .getHeader("apikey")).isEqualTo(KEY);
      server.verify(1, stubs.submitRequests());
    }

    @Test
    @DisplayName("the caller cancelling deletes the remote request")
    void cancelByCaller() throws InterruptedException {
      stubs.neverFinishes();
      CompletableFuture<ImageGenerationResponse> f = service().generateAsync(fox().build(), "horde");
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (server.findAll(stubs.pollRequests()).isEmpty() && System.nanoTime() < until) {
        Thread.sleep(50);
      }

      f.cancel(true);

      awaitCancel();
      server.verify(1, deleteRequestedFor(urlPathEqualTo(BASE + "/generate/status/" + ID)));
      assertThatThrownBy(f::get).isInstanceOfAny(java.util.concurrent.CancellationException.class, ExecutionException.class);
    }
  }

  @Nested
  @DisplayName("health and models")
  class Health {

    @Test
    @DisplayName("testConnection checks the heartbeat and the key; listModels then shows worker counts")
    void healthyAndModels() {
      stubs.healthy();
      ImageGenerationService s = service();
      assertThat(s.listModels()).extracting(ModelInfo::id).contains(HordeStubs.MODEL);

      ProviderHealth h = s.testConnection("horde");

      assertThat(h.state()).isEqualTo(ProviderHealth.State.UP);
      assertThat(h.message()).contains("alice#4711").contains("1520 kudos");
      assertThat(h.workersReady()).isEqualTo(14);
      assertThat(server.findAll(getRequestedFor(urlPathEqualTo(BASE + "/find_user"))).get(0).getHeader("apikey"))
          .isEqualTo(KEY);
      List<ModelInfo> models = s.listModels();
      assertThat(models.get(0).id()).isEqualTo(HordeStubs.MODEL);
      assertThat(models.get(0).aliases()).containsExactly("sdxl");
      assertThat(models.get(0).description()).startsWith("14 workers");
      assertThat(models).extracting(ModelInfo::id).contains("Flux.1-Schnell fp8 (Compact)");
    }

    @Test
    @DisplayName("find_user's 404 UserNotFound means a bad key; a heartbeat that does not answer means down")
    void badKeyAndDown() {
      stubs.healthAuthRefused();
      ImageGenerationService s = service();

      assertThat(s.testConnection("horde").state()).isEqualTo(ProviderHealth.State.AUTH_FAILED);

      server.resetAll();
      assertThat(s.testConnection("horde").state()).isEqualTo(ProviderHealth.State.DOWN);

      stubs.healthy();
      stubs.heartbeat("OVERLOADED");
      assertThat(s.testConnection("horde").state()).isEqualTo(ProviderHealth.State.DEGRADED);
    }
  }

  @Test
  @DisplayName("the factory: id, customary variables, anonymous fallback, invalid client-agent named")
  void factory() {
    HordeProviderFactory f = new HordeProviderFactory();
    assertThat(f.id()).isEqualTo("horde");
    assertThat(f.customaryEnvironment()).containsEntry("api-key", List.of("AI_HORDE_API_KEY", "HORDE_API_KEY"));
    assertThat(f.enabledWhenNothingConfigured()).isTrue();
    assertThat(f.isConfigured(ProviderConfig.builder("horde").apiKey(KEY).build())).isTrue();
    assertThatThrownBy(() -> f.create(ProviderConfig.builder("horde").set("client-agent", "just a name").build()))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("client-agent");
    ImageProvider p = f.create(ProviderConfig.builder("horde").apiKey(KEY).build());
    assertThat(p.toString()).doesNotContain(KEY);
    assertThat(p.capabilities().free()).isTrue();
    assertThat(p.capabilities().maxImagesPerRequest()).isEqualTo(20);
    assertThat(p.capabilities().whyNot(fox().size(1000, 1000).build())).anyMatch(w -> w.contains("multiple of 64"));
    assertThat(p.costModel().estimate(fox().build())).isEqualTo(Cost.free());
  }

  @Test
  @DisplayName("sampler names: the Horde's own, A1111's and diffusers-style names map; Karras suffix sets karras")
  void samplers() {
    assertThat(HordeRequests.sampler("k_euler_a")).containsExactly("k_euler_a", null);
    assertThat(HordeRequests.sampler("Euler a")).containsExactly("k_euler_a", null);
    assertThat(HordeRequests.sampler("DPM++ 2M Karras")).containsExactly("k_dpmpp_2m", "karras");
    assertThat(HordeRequests.sampler("dpmpp_sde")).containsExactly("k_dpmpp_sde", null);
    assertThat(HordeRequests.sampler("ddim")).containsExactly("DDIM", null);
    assertThat(HordeRequests.sampler("LCM")).containsExactly("lcm", null);
    assertThat(HordeRequests.sampler("unipc")).isNull();
  }

  @Test
  @DisplayName("aliases: built-in ones map, model-<alias> adds one, an unmapped imagegen alias fails over instead of queueing")
  void aliases() {
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    HordeRequests plain = new HordeRequests(ProviderConfig.builder("horde").build());
    assertThat(plain.prepare(fox().model("sdxl").build(), json).model()).isEqualTo("AlbedoBase XL (SDXL)");
    assertThat(plain.prepare(fox().model("Juggernaut XL").build(), json).model()).isEqualTo("Juggernaut XL");
    ProviderUnavailableException turbo = catchThrowableOfType(ProviderUnavailableException.class,
        () -> plain.prepare(fox().model("sdxl-turbo").build(), json));
    assertThat(turbo.failoverMayHelp()).isTrue();
    assertThat(turbo.getMessage()).contains("model-sdxl-turbo");

    HordeRequests mapped = new HordeRequests(ProviderConfig.builder("horde").set("model-sdxl-turbo", "SDXL Lightning")
        .set("default-model", "flux-schnell").build());
    assertThat(mapped.prepare(fox().model("sdxl-turbo").build(), json).body().path("models").toString())
        .isEqualTo("[\"SDXL Lightning\"]");
    HordeRequests.Prepared flux = mapped.prepare(ImageGenerationRequest.of("a cat"), json);
    assertThat(flux.model()).isEqualTo("Flux.1-Schnell fp8 (Compact)");
    assertThat(flux.body().path("params").path("steps").asInt()).isEqualTo(4);
    assertThat(flux.body().path("params").path("karras").asBoolean()).isFalse();
  }

  /** A second provider that always succeeds, to show failover. */
  private static final class Backup implements ImageProvider {
    @Override public String id() { return "backup"; }
    @Override public ProviderCapabilities capabilities() {
      return ProviderCapabilities.builder().sizes(64, 2048, 8).negativePrompt(true).seed(true).build();
    }
    @Override public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context) {
      return CompletableFuture.completedFuture(ProviderResult.builder("backup-model")
          .image(GeneratedImage.of(StubImages.png(64, 64, 3).bytes(), 3L, null, false)).build());
    }
    @Override public CompletableFuture<ProviderHealth> health(ProviderContext context) {
      return CompletableFuture.completedFuture(ProviderHealth.up("backup", Duration.ZERO));
    }
    @Override public CostModel costModel() { return CostModel.free(); }
  }
}
