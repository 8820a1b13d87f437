package dev.imagegen.provider.google;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
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
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.Attempt;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.InputImage;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.NoCapableProviderException;
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
import dev.imagegen.testkit.stubs.GoogleStubs;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Gemini API specifics on a WireMock server shaped like the protocol file. */
class GoogleProviderTest {
  static final String KEY = "AIzaSyTestSecretKey0123456789abcdefGHIJ";
  static final String FLASH = "/v1beta/models/gemini-2.5-flash-image:generateContent";
  static final String PRO = "/v1beta/models/gemini-3-pro-image:generateContent";
  static final ObjectMapper JSON = new ObjectMapper();

  WireMockServer server;
  GoogleStubs stubs;
  final StubImage png = StubImages.png(96, 64, 5);
  final List<ImageGenerationService> services = new ArrayList<>();

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    stubs = new GoogleStubs(server);
  }

  @AfterEach
  void stop() {
    services.forEach(ImageGenerationService::close);
    server.stop();
  }

  ProviderConfig.Builder config() {
    return ProviderConfig.builder("google").apiKey(KEY).baseUrl(server.baseUrl() + "/v1beta").set("priority", "1");
  }

  ImageGenerationService service(ProviderConfig google, ImageProvider... others) {
    ImageGenerationService.Builder b = ImageGenerationService.builder()
        .retryBackoff(Duration.ofMillis(10), Duration.ofMillis(50))
        .provider(new GoogleProviderFactory(), google.withDefaults(new GoogleProviderFactory().defaults()));
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

  ImageGenerationResponse generate(ImageGenerationRequest r) {
    return service().generateImage(r, "google");
  }

  List<LoggedRequest> posts() {
    return server.findAll(postRequestedFor(urlPathMatching(GoogleStubs.GENERATE)));
  }

  void answer(String path, int status, String json) {
    server.stubFor(post(urlPathEqualTo(path)).willReturn(GoogleStubs.answer(status, json)));
  }

  static <T extends Throwable> T thrown(Class<T> type, org.assertj.core.api.ThrowableAssert.ThrowingCallable call) {
    Throwable t = catchThrowable(call);
    assertThat(t).isInstanceOf(type);
    assertThat(String.valueOf(t.getMessage())).doesNotContain(KEY);
    return type.cast(t);
  }

  static JsonNode body(LoggedRequest r) throws Exception {
    return JSON.readTree(r.getBody());
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("request mapping")
  class RequestMapping {

    @Test
    @DisplayName("the default model, the key in x-goog-api-key only, one user turn with the prompt, TEXT and IMAGE")
    void textToImageBody() throws Exception {
      stubs.success(png);
      ImageGenerationResponse r = generate(request().build());

      assertThat(r.image().bytes()).isEqualTo(png.bytes());
      assertThat(r.image().mediaType()).isEqualTo("image/png");
      assertThat(r.model()).isEqualTo("gemini-2.5-flash-image");
      LoggedRequest p = posts().get(0);
      assertThat(p.getUrl()).isEqualTo(FLASH);
      assertThat(p.getHeader("x-goog-api-key")).isEqualTo(KEY);
      assertThat(p.containsHeader("Authorization")).isFalse();
      assertThat(body(p)).isEqualTo(JSON.readTree("{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"a red fox in the "
          + "snow\"}]}],\"generationConfig\":{\"responseModalities\":[\"TEXT\",\"IMAGE\"]}}"));
      assertThat(r.metadata()).containsEntry("model_version", "gemini-2.5-flash-image").containsEntry("response_ids", "mD9ZabCdEf")
          .containsEntry("model_text", "Here is the image you asked for.");
    }

    @Test
    @DisplayName("a size becomes the nearest aspect ratio, with a warning; 2.5-flash gets no imageSize")
    void sizeToAspectRatioOnFlash() throws Exception {
      stubs.success(png);
      ImageGenerationResponse r = generate(request().size(1000, 560).build());

      JsonNode ic = body(posts().get(0)).path("generationConfig").path("imageConfig");
      assertThat(ic).isEqualTo(JSON.readTree("{\"aspectRatio\":\"16:9\"}"));
      assertThat(r.warnings()).anyMatch(w -> w.contains("size 1000x560 sent as aspectRatio 16:9")
          && w.contains("about 1024 px"));
    }

    @Test
    @DisplayName("gemini-3-pro-image gets the size tier: 2K up to 2048 px, 4K above; 1K is left to the default")
    void sizeTiersOnPro() throws Exception {
      server.stubFor(post(urlPathEqualTo(PRO)).willReturn(GoogleStubs.answer(200, GoogleStubs.imageBody(png))));
      ImageGenerationService s = service();
      s.generateImage(request().model("gemini-3-pro-image").size(2048, 1152).build(), "google");
      s.generateImage(request().model("gemini-3-pro-image").size(3072, 4096).build(), "google");
      s.generateImage(request().model("gemini-3-pro-image").size(1024, 1024).build(), "google");

      assertThat(body(posts().get(0)).at("/generationConfig/imageConfig")).isEqualTo(
          JSON.readTree("{\"aspectRatio\":\"16:9\",\"imageSize\":\"2K\"}"));
      assertThat(body(posts().get(1)).at("/generationConfig/imageConfig")).isEqualTo(
          JSON.readTree("{\"aspectRatio\":\"3:4\",\"imageSize\":\"4K\"}"));
      assertThat(body(posts().get(2)).at("/generationConfig/imageConfig")).isEqualTo(JSON.readTree("{\"aspectRatio\":\"1:1\"}"));
    }

    @Test
    @DisplayName("gemini-3.1-flash-image takes the extreme ratios (4:1); 2.5-flash does not (21:9)")
    void extendedRatiosOnlyWhereTaken() throws Exception {
      stubs.success(png);
      ImageGenerationService s = service();
      s.generateImage(request().model("gemini-3.1-flash-image").size(2048, 512).build(), "google");
      s.generateImage(request().size(2048, 512).build(), "google");

      assertThat(body(posts().get(0)).at("/generationConfig/imageConfig/aspectRatio").asText()).isEqualTo("4:1");
      assertThat(body(posts().get(1)).at("/generationConfig/imageConfig/aspectRatio").asText()).isEqualTo("21:9");
    }

    @Test
    @DisplayName("editing: the init image and the references go inline after the prompt, in order; strength is not sent")
    void editingSendsInputImagesInline() throws Exception {
      stubs.success(png);
      StubImage init = StubImages.png(40, 40, 1);
      StubImage ref = StubImages.jpeg(40, 40, 2);
      ImageGenerationResponse r = generate(request().prompt("make the jacket red")
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, init.bytes())).strength(0.6)
          .inputImage(InputImage.ofBytes(InputImage.Role.REFERENCE, ref.bytes())).build());

      JsonNode parts = body(posts().get(0)).at("/contents/0/parts");
      assertThat(parts).hasSize(3);
      assertThat(parts.get(0).path("text").asText()).isEqualTo("make the jacket red");
      assertThat(parts.get(1).path("inlineData").path("mimeType").asText()).isEqualTo("image/png");
      assertThat(parts.get(1).path("inlineData").path("data").asText()).isEqualTo(init.base64());
      assertThat(parts.get(2).path("inlineData").path("mimeType").asText()).isEqualTo("image/jpeg");
      assertThat(parts.get(2).path("inlineData").path("data").asText()).isEqualTo(ref.base64());
      assertThat(r.warnings()).anyMatch(w -> w.contains("strength 0.6 not sent"));
    }

    @Test
    @DisplayName("an input image given by URL is fetched (without the key) and sent inline; the key never goes elsewhere")
    void inputImageByUrlIsFetchedAndInlined() throws Exception {
      stubs.success(png);
      StubImage ref = StubImages.jpeg(40, 40, 2);
      server.stubFor(com.github.tomakehurst.wiremock.client.WireMock.get(urlPathEqualTo("/files/ref.jpg"))
          .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "image/jpeg").withBody(ref.bytes())));
      generate(request().inputImage(InputImage.ofUrl(InputImage.Role.REFERENCE,
          java.net.URI.create(server.baseUrl() + "/files/ref.jpg"))).build());

      JsonNode part = body(posts().get(0)).at("/contents/0/parts/1/inlineData");
      assertThat(part.path("mimeType").asText()).isEqualTo("image/jpeg");
      assertThat(part.path("data").asText()).isEqualTo(ref.base64());
      LoggedRequest fetch = server.findAll(com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor(
          urlPathEqualTo("/files/ref.jpg"))).get(0);
      assertThat(fetch.containsHeader("x-goog-api-key")).isFalse();
    }

    @Test
    @DisplayName("soft inputs (negative prompt, steps, guidance, sampler) are dropped with a warning each; seed too")
    void softInputsAreDroppedWithWarnings() throws Exception {
      stubs.success(png);
      ImageGenerationResponse r = generate(request().negativePrompt("blurry").steps(30).guidanceScale(7.0).sampler("euler")
          .seed(7L).build());

      String sent = posts().get(0).getBodyAsString();
      assertThat(sent).doesNotContain("blurry").doesNotContain("seed").doesNotContain("euler");
      assertThat(r.warnings()).anyMatch(w -> w.startsWith("negative prompt not sent"))
          .anyMatch(w -> w.startsWith("steps")).anyMatch(w -> w.startsWith("guidance scale"))
          .anyMatch(w -> w.startsWith("sampler")).anyMatch(w -> w.contains("seed not sent"));
    }

    @Test
    @DisplayName("providerOptions: generationConfig merges deeply; Vertex-only imageConfig keys are refused before sending")
    void providerOptions() throws Exception {
      stubs.success(png);
      generate(request().size(1024, 1024).providerOption("google", "generationConfig",
          Map.of("temperature", 0.4, "imageConfig", Map.of("imageSize", "2K"))).build());
      JsonNode gc = body(posts().get(0)).path("generationConfig");
      assertThat(gc.path("temperature").asDouble()).isEqualTo(0.4);
      assertThat(gc.path("imageConfig")).isEqualTo(JSON.readTree("{\"aspectRatio\":\"1:1\",\"imageSize\":\"2K\"}"));

      thrown(InvalidRequestException.class, () -> generate(request().providerOption("google", "generationConfig",
          Map.of("imageConfig", Map.of("personGeneration", "ALLOW_ALL"))).build()));
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("response-modalities=IMAGE sends IMAGE alone")
    void imageOnlyModality() throws Exception {
      stubs.success(png);
      service(config().set("response-modalities", "IMAGE").build()).generateImage(request().build(), "google");
      assertThat(body(posts().get(0)).at("/generationConfig/responseModalities").toString()).isEqualTo("[\"IMAGE\"]");
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("capabilities: what is refused before any call")
  class Capabilities {

    @Test
    @DisplayName("a mask, a strict soft input, a non-Gemini name or an Imagen id: skipped by routing, nothing sent")
    void skippedWithTheReason() {
      ImageGenerationService s = service();
      byte[] img = StubImages.png(8, 8, 1).bytes();
      thrown(NoCapableProviderException.class, () -> s.generateImage(request()
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, img)).inputImage(InputImage.ofBytes(InputImage.Role.MASK, img))
          .build(), "google"));
      assertThat(thrown(NoCapableProviderException.class, () -> s.generateImage(request().negativePrompt("blurry").strict(true)
          .build(), "google")).getMessage()).contains("negative prompt would be dropped");
      thrown(NoCapableProviderException.class, () -> s.generateImage(request().model("flux-schnell").build(), "google"));
      thrown(NoCapableProviderException.class, () -> s.generateImage(request().model("imagen-4.0-generate-001").build(),
          "google"));
      assertThat(posts()).isEmpty();
    }

    @Test
    @DisplayName("more input images than the model takes: refused without a call; max-input-images raises the limit")
    void inputImageLimit() {
      stubs.success(png);
      byte[] img = StubImages.png(8, 8, 1).bytes();
      ImageGenerationRequest.Builder b = request().model("gemini-2.5-flash-image");
      for (int i = 0; i < 4; i++) {
        b.inputImage(InputImage.ofBytes(InputImage.Role.REFERENCE, img));
      }
      ImageGenerationRequest four = b.build();
      Throwable t = catchThrowable(() -> generate(four));
      assertThat(t).isInstanceOf(ImageGenerationException.class);
      assertThat(posts()).isEmpty();

      service(config().set("max-input-images", "5").build()).generateImage(four, "google");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("an Imagen, retired or non-image model as 'model' fails at create, naming the key; a bad value too")
    void badModelConfiguration() {
      GoogleProviderFactory f = new GoogleProviderFactory();
      assertThatThrownBy(() -> f.create(config().set("model", "imagen-4.0-generate-001").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("'model'").hasMessageContaining(":predict");
      assertThatThrownBy(() -> f.create(config().set("model", "gemini-3-pro-image-preview").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("gemini-3-pro-image");
      assertThatThrownBy(() -> f.create(config().set("model", "gemini-2.5-flash").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("'model'");
      assertThatThrownBy(() -> f.create(config().set("response-modalities", "TEXT").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("response-modalities");
      assertThatThrownBy(() -> f.create(ProviderConfig.builder("google").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("GEMINI_API_KEY");
    }

    @Test
    @DisplayName("GOOGLE_API_KEY, then GEMINI_API_KEY: python-genai's order")
    void customaryVariables() {
      GoogleProviderFactory f = new GoogleProviderFactory();
      ProviderConfig both = ProviderConfig.from("google", Map.of("GOOGLE_API_KEY", "g-key", "GEMINI_API_KEY", "m-key"),
          new Properties(), f.customaryEnvironment());
      assertThat(both.apiKey().orElseThrow().reveal()).isEqualTo("g-key");
      ProviderConfig gemini = ProviderConfig.from("google", Map.of("GEMINI_API_KEY", "m-key"), new Properties(),
          f.customaryEnvironment());
      assertThat(f.isConfigured(gemini)).isTrue();
      assertThat(gemini.apiKey().orElseThrow().reveal()).isEqualTo("m-key");
    }

    @Test
    @DisplayName("what the provider claims: img2img and references, no mask, no seed, one call per image up to 10")
    void declared() {
      ProviderCapabilities c = new GoogleProviderFactory().create(config().build()).capabilities();
      assertThat(c.img2img()).isTrue();
      assertThat(c.mask()).isFalse();
      assertThat(c.seed()).isFalse();
      assertThat(c.negativePrompt()).isFalse();
      assertThat(c.maxReferenceImages()).isEqualTo(2); // 3 input images on gemini-2.5-flash-image, one of them the init
      assertThat(c.maxImagesPerRequest()).isEqualTo(10);
      assertThat(c.cancellable()).isFalse();
      assertThat(c.free()).isFalse();
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("HTTP 200 answers without an image")
  class Blocked {

    @Test
    @DisplayName("promptFeedback.blockReason: ContentPolicyException with the reason, not failed over")
    void promptBlocked() {
      answer(FLASH, 200, GoogleStubs.promptBlockedBody("PROHIBITED_CONTENT"));
      Backup backup = new Backup();
      ImageGenerationException e = thrown(ImageGenerationException.class, () -> service(config().build(), backup)
          .generateImageWithFailover(request().build()));
      assertThat(e).isInstanceOf(ContentPolicyException.class).hasMessageContaining("PROHIBITED_CONTENT");
      assertThat(backup.calls).hasValue(0);
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("finishReason IMAGE_SAFETY with no parts: ContentPolicyException")
    void imageSafety() {
      answer(FLASH, 200, GoogleStubs.outputBlockedBody("IMAGE_SAFETY"));
      assertThat(thrown(ContentPolicyException.class, () -> generate(request().build())).getMessage())
          .contains("IMAGE_SAFETY").contains("Unable to show the generated image");
    }

    @Test
    @DisplayName("finishReason NO_IMAGE: a clear no-image error that allows failover")
    void noImage() {
      answer(FLASH, 200, GoogleStubs.outputBlockedBody("NO_IMAGE"));
      ProviderUnavailableException e = thrown(ProviderUnavailableException.class, () -> generate(request().build()));
      assertThat(e.getMessage()).contains("no image").contains("NO_IMAGE");
      assertThat(e.failoverMayHelp()).isTrue();
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("STOP with text only: no image, the model's text quoted")
    void textOnly() {
      answer(FLASH, 200, GoogleStubs.textOnlyBody());
      assertThat(thrown(ProviderUnavailableException.class, () -> generate(request().build())).getMessage())
          .contains("no image").contains("I can describe the scene").contains("text only");
    }

    @Test
    @DisplayName("a thought part (with a draft image) first: the image is the first part that is no thought")
    void thoughtPartsAreSkipped() {
      StubImage draft = StubImages.png(16, 16, 3);
      answer(PRO, 200, GoogleStubs.thoughtFirstBody(draft, png));
      ImageGenerationResponse r = generate(request().model("gemini-3-pro-image").build());
      assertThat(r.image().bytes()).isEqualTo(png.bytes());
      assertThat(r.images()).hasSize(1);
      assertThat(r.metadata()).containsEntry("usage_thought_tokens", "200");
    }

    @Test
    @DisplayName("bytes that are no image inside inlineData: a failure, never a success")
    void undecodable() {
      StubImage junk = new StubImage("not an image at all".getBytes(java.nio.charset.StandardCharsets.UTF_8), "image/png", 1,
          1, 0);
      answer(FLASH, 200, GoogleStubs.imageBody(junk));
      thrown(ImageGenerationException.class, () -> generate(request().build()));
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("error rows")
  class Errors {

    @Test
    @DisplayName("400 INVALID_ARGUMENT + API_KEY_INVALID: AuthenticationException (not invalid request), failover allowed")
    void badKey() {
      stubs.authenticationRefused();
      AuthenticationException e = thrown(AuthenticationException.class, () -> generate(request().build()));
      assertThat(e.failoverMayHelp()).isTrue();
      assertThat(e.getMessage()).contains("API key not valid");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("400 INVALID_ARGUMENT: InvalidRequestException with Google's message")
    void invalidArgument() {
      stubs.invalidRequest("Invalid value at 'generation_config.image_config.aspect_ratio'");
      InvalidRequestException e = thrown(InvalidRequestException.class, () -> generate(request().build()));
      assertThat(e.getMessage()).contains("INVALID_ARGUMENT").contains("aspect_ratio");
      assertThat(e.failoverMayHelp()).isFalse();
    }

    @Test
    @DisplayName("400 FAILED_PRECONDITION: InsufficientCreditsException (billing needed)")
    void failedPrecondition() {
      stubs.outOfCredits();
      InsufficientCreditsException e = thrown(InsufficientCreditsException.class, () -> generate(request().build()));
      assertThat(e.getMessage()).contains("billing");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("403 PERMISSION_DENIED: AuthenticationException")
    void permissionDenied() {
      answer(FLASH, 403, GoogleStubs.PERMISSION_DENIED);
      assertThat(thrown(AuthenticationException.class, () -> generate(request().build())).getMessage())
          .contains("PERMISSION_DENIED");
    }

    @Test
    @DisplayName("404 NOT_FOUND for a retired model: fails over, naming the replacement")
    void retiredModel() {
      answer("/v1beta/models/gemini-3-pro-image-preview:generateContent", 404,
          GoogleStubs.notFoundBody("gemini-3-pro-image-preview"));
      Backup backup = new Backup();
      ImageGenerationResponse r = service(config().build(), backup).generateImageWithFailover(request()
          .model("gemini-3-pro-image-preview").build());
      assertThat(r.provider()).isEqualTo("backup");
      Attempt first = r.attempts().get(0);
      assertThat(first.provider()).isEqualTo("google");
      assertThat(first.message()).contains("retired").contains("use gemini-3-pro-image");
      assertThat(first.calls()).isEqualTo(1);
    }

    @Test
    @DisplayName("429 RESOURCE_EXHAUSTED: RateLimitedException carrying RetryInfo.retryDelay")
    void rateLimited() {
      answer(FLASH, 429, GoogleStubs.resourceExhaustedBody(Duration.ofSeconds(37), false));
      RateLimitedException e = thrown(RateLimitedException.class, () -> generate(request().build()));
      assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(37));
    }

    @Test
    @DisplayName("RetryInfo.retryDelay is a protobuf duration: whole and fractional seconds, rounded up")
    void retryDelayFormat() {
      assertThat(GoogleErrors.parseDelay("37s")).isEqualTo(Duration.ofSeconds(37));
      assertThat(GoogleErrors.parseDelay("58.934310785s")).isEqualTo(Duration.ofMillis(58_935));
      assertThat(GoogleErrors.parseDelay("37")).isNull();
      assertThat(GoogleErrors.parseDelay("-1s")).isNull();
    }

    @Test
    @DisplayName("429 for a per-day quota: retryAfter until midnight Pacific time")
    void dailyQuota() {
      answer(FLASH, 429, GoogleStubs.resourceExhaustedBody(Duration.ofSeconds(20), true));
      RateLimitedException e = thrown(RateLimitedException.class, () -> generate(request().build()));
      Duration expected = GoogleErrors.untilMidnightPacific(ZonedDateTime.now(GoogleErrors.QUOTA_ZONE));
      assertThat(e.retryAfter()).isNotNull();
      assertThat(Math.abs(e.retryAfter().minus(expected).toSeconds())).isLessThan(60);
      assertThat(e.getMessage()).contains("daily quota");
    }

    @Test
    @DisplayName("500, 503, 504 in Google's shape: not charged, so retried and then failed over; a proxy's 502 stays unknown")
    void serverErrors() {
      for (String[] row : new String[][] {{"500", GoogleStubs.INTERNAL}, {"503", GoogleStubs.UNAVAILABLE},
          {"504", GoogleStubs.DEADLINE_EXCEEDED}}) {
        server.resetAll();
        answer(FLASH, Integer.parseInt(row[0]), row[1]);
        Backup backup = new Backup();
        ImageGenerationResponse r = service(config().build(), backup).generateImageWithFailover(request().build());
        assertThat(r.provider()).as(row[0]).isEqualTo("backup");
        assertThat(r.attempts().get(0).mayBeBilled()).as(row[0]).isFalse();
        assertThat(r.attempts().get(0).message()).as(row[0]).contains("not charged");
        assertThat(posts()).as(row[0]).hasSize(3); // one call and the engine's two retries
      }
      server.resetAll();
      server.stubFor(post(urlPathEqualTo(FLASH)).willReturn(aResponse().withStatus(502).withBody("<html>Bad Gateway</html>")));
      ProviderUnavailableException e = thrown(ProviderUnavailableException.class, () -> generate(request().build()));
      assertThat(e.outcomeUnknown()).isTrue();
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("faults: a reset after sending and malformed JSON are clear errors naming google, sent once")
    void faults() {
      server.stubFor(post(urlPathEqualTo(FLASH)).willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
      ProviderUnavailableException reset = thrown(ProviderUnavailableException.class, () -> generate(request().build()));
      assertThat(reset.providerId()).isEqualTo("google");
      assertThat(reset.outcomeUnknown()).isTrue();
      assertThat(posts()).hasSize(1);

      server.resetAll();
      answer(FLASH, 200, "{\"candidates\":[{\"content\":{\"parts\":[{\"inlineData\":{\"data\":\"iVBOR");
      ProviderUnavailableException bad = thrown(ProviderUnavailableException.class, () -> generate(request().build()));
      assertThat(bad.getMessage()).contains("malformed JSON");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("an inline image past max-image-bytes is refused with the limit named")
    void oversizedInlineImage() {
      answer(FLASH, 200, GoogleStubs.imageBody(StubImages.webp(64, 64, 1, 20_000)));
      ImageGenerationException e = thrown(ImageGenerationException.class, () -> service(config().set("max-image-bytes", "4096")
          .build()).generateImage(request().build(), "google"));
      assertThat(e.getMessage()).contains("4096");
    }

    @Test
    @DisplayName("health: a good key is UP, API_KEY_INVALID is AUTH_FAILED")
    void health() {
      stubs.healthy();
      ImageGenerationService s = service();
      ProviderHealth up = s.testConnection("google");
      assertThat(up.state()).isEqualTo(ProviderHealth.State.UP);
      assertThat(up.message()).contains("Nano Banana");
      LoggedRequest probe = server.findAll(com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor(
          urlPathEqualTo("/v1beta/models/gemini-2.5-flash-image"))).get(0);
      assertThat(probe.getHeader("x-goog-api-key")).isEqualTo(KEY);
      assertThat(probe.getUrl()).doesNotContain("key=");
      server.resetAll();
      stubs.healthAuthRefused();
      assertThat(service().testConnection("google").state()).isEqualTo(ProviderHealth.State.AUTH_FAILED);
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("several images: one call each")
  class SeveralImages {

    @Test
    @DisplayName("numImages 3: three calls, three images, the tokens of all three in the cost")
    void threeCalls() {
      stubs.success(png);
      ImageGenerationResponse r = generate(request().numImages(3).build());
      assertThat(r.images()).hasSize(3);
      assertThat(posts()).hasSize(3);
      assertThat(r.metadata()).containsEntry("calls", "3").containsEntry("usage_image_tokens", "3870");
      assertThat(r.cost()).isEqualTo(Cost.providerReported(new BigDecimal("0.116171")));
    }

    @Test
    @DisplayName("parallel-calls bounds the calls in flight: 3 slow calls one at a time take 3 times as long")
    void boundedConcurrency() {
      server.stubFor(post(urlPathEqualTo(FLASH)).willReturn(GoogleStubs.answer(200, GoogleStubs.imageBody(png))
          .withFixedDelay(400)));
      long t0 = System.nanoTime();
      service(config().set("parallel-calls", "1").build()).generateImage(request().numImages(3).build(), "google");
      Duration serial = Duration.ofNanos(System.nanoTime() - t0);
      assertThat(serial).isGreaterThanOrEqualTo(Duration.ofMillis(1200));
    }

    @Test
    @DisplayName("a cancel while the first of three calls is in flight: no further call is started")
    void cancelStopsFurtherCalls() throws Exception {
      server.stubFor(post(urlPathEqualTo(FLASH)).willReturn(GoogleStubs.answer(200, GoogleStubs.imageBody(png))
          .withFixedDelay(1500)));
      dev.imagegen.GenerationJob job = service(config().set("parallel-calls", "1").build()).submit(request().numImages(3)
          .build());
      long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (posts().isEmpty() && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      job.cancel();
      Thread.sleep(2500);
      assertThat(job.result().isCancelled()).isTrue();
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("a call failing after one succeeded: the image made is returned with a warning, no further call, both "
        + "answers' tokens in the cost")
    void partialResult() {
      String s = "partial";
      server.stubFor(post(urlPathEqualTo(FLASH)).inScenario(s).whenScenarioStateIs(
          com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED).willReturn(GoogleStubs.answer(200,
          GoogleStubs.imageBody(png))).willSetStateTo("blocked"));
      server.stubFor(post(urlPathEqualTo(FLASH)).inScenario(s).whenScenarioStateIs("blocked").willReturn(GoogleStubs.answer(
          200, GoogleStubs.outputBlockedBody("IMAGE_SAFETY"))));
      ImageGenerationResponse r = service(config().set("parallel-calls", "1").build()).generateImage(request().numImages(3)
          .build(), "google");

      assertThat(r.images()).hasSize(1);
      assertThat(posts()).hasSize(2);
      assertThat(r.warnings()).anyMatch(w -> w.startsWith("only 1 of 3 images: call 2 failed") && w.contains("IMAGE_SAFETY"));
      assertThat(r.metadata()).containsEntry("images_requested", "3").containsEntry("images_returned", "1")
          .containsEntry("usage_prompt_tokens", "23");
      // 1290 x 30 + 8 x 2.50 + (12 + 11) x 0.30, per million
      assertThat(r.cost()).isEqualTo(Cost.providerReported(new BigDecimal("0.038727")));
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("cost")
  class Costs {

    @Test
    @DisplayName("one image on gemini-2.5-flash-image: 1290 x $30 + 8 x $2.50 + 12 x $0.30 per million = $0.038724")
    void fromUsageMetadata() {
      stubs.success(png);
      ImageGenerationResponse r = generate(request().build());
      assertThat(r.cost()).isEqualTo(Cost.providerReported(new BigDecimal("0.038724")));
      assertThat(r.metadata()).containsEntry("usage_image_tokens", "1290").containsEntry("usage_text_tokens", "8")
          .containsEntry("usage_prompt_tokens", "12");
    }

    @Test
    @DisplayName("estimates: $0.0387 per 2.5-flash image, $0.1344 per 1K/2K and $0.24 per 4K gemini-3-pro-image")
    void estimates() {
      CostModel prices = new GoogleProviderFactory().create(config().build()).costModel();
      assertThat(prices.estimate(request().numImages(2).build())).isEqualTo(Cost.estimated(new BigDecimal("0.077400")));
      assertThat(prices.estimate(request().model("gemini-3-pro-image").size(2048, 2048).build()))
          .isEqualTo(Cost.estimated(new BigDecimal("0.134400")));
      assertThat(prices.estimate(request().model("gemini-3-pro-image").size(4096, 4096).build()))
          .isEqualTo(Cost.estimated(new BigDecimal("0.240000")));
      assertThat(prices.estimate(request().model("gemini-nano-banana-2.1").build()).isKnown()).isFalse();
    }

    @Test
    @DisplayName("gemini-3.1-flash-image: text billed at the image rate, input not billed (no rates known)")
    void flash31Rates() {
      stubs.success(png);
      ImageGenerationResponse r = generate(request().model("gemini-3.1-flash-image").build());
      // (1290 + 8) x $60 per million
      assertThat(r.cost()).isEqualTo(Cost.providerReported(new BigDecimal("0.077880")));
    }

    @Test
    @DisplayName("a model without rates costs UNKNOWN, never zero; token-price.<model> gives it rates")
    void unknownThenConfigured() {
      stubs.success(png);
      ImageGenerationRequest req = request().model("gemini-nano-banana-2.1").build();
      assertThat(generate(req).cost()).isEqualTo(Cost.unknown());
      ImageGenerationResponse r = service(config().set("token-price.gemini-nano-banana-2.1",
          "image=10,text=1,input=0,tokens-per-image=1000").build()).generateImage(req, "google");
      // 1290 x 10 + 8 x 1, per million
      assertThat(r.cost()).isEqualTo(Cost.providerReported(new BigDecimal("0.012908")));
    }

    @Test
    @DisplayName("price.<model> (per image) replaces the token computation; the env form of token-price works too")
    void perImageOverride() {
      stubs.success(png);
      ImageGenerationResponse r = service(config().set("price.gemini-2.5-flash-image", "0.05").build())
          .generateImage(request().numImages(2).build(), "google");
      assertThat(r.cost()).isEqualTo(Cost.estimated(new BigDecimal("0.10")));
      CostModel env = new GoogleProviderFactory().create(config().set("token-price-gemini-2-5-flash-image", "image=60").build())
          .costModel();
      assertThat(env.estimate(request().build())).isEqualTo(Cost.estimated(new BigDecimal("0.077400")));
    }

    @Test
    @DisplayName("a token-price that cannot be read fails at create, naming the key")
    void badTokenPrice() {
      GoogleProviderFactory f = new GoogleProviderFactory();
      assertThatThrownBy(() -> f.create(config().set("token-price.gemini-2.5-flash-image", "image=abc").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("token-price.gemini-2-5-flash-image");
      assertThatThrownBy(() -> f.create(config().set("token-price.gemini-nano-banana-2.1", "text=1").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("image=");
      assertThatThrownBy(() -> f.create(config().set("token-price.gemini-2.5-flash-image", "images=1").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("unknown entry");
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
