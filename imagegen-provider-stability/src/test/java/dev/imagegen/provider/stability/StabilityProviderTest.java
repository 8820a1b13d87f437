package dev.imagegen.provider.stability;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.http.Request;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.AllProvidersFailedException;
import dev.imagegen.Attempt;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.Cost;
import dev.imagegen.ErrorKind;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationTimeoutException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.InputImage;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.InvalidRequestException;
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
import dev.imagegen.testkit.stubs.StabilityStubs;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Stability specifics on a WireMock server shaped like the protocol file. */
class StabilityProviderTest {
  static final String KEY = "sk-TestSecretKey0123456789abcdefABCDEF";
  static final String CORE = "/v2beta/stable-image/generate/core";
  static final String ULTRA = "/v2beta/stable-image/generate/ultra";
  static final String SD3 = "/v2beta/stable-image/generate/sd3";
  static final String INPAINT = "/v2beta/stable-image/edit/inpaint";

  WireMockServer server;
  StabilityStubs stubs;
  final StubImage png = StubImages.png(96, 64, 343940597L);
  final List<ImageGenerationService> services = new ArrayList<>();

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    stubs = new StabilityStubs(server);
  }

  @AfterEach
  void stop() {
    services.forEach(ImageGenerationService::close);
    server.stop();
  }

  ProviderConfig.Builder config() {
    return ProviderConfig.builder("stability").apiKey(KEY).baseUrl(server.baseUrl()).set("priority", "1");
  }

  ImageGenerationService service(ProviderConfig config, ImageProvider... others) {
    ImageGenerationService.Builder b = ImageGenerationService.builder()
        .retryBackoff(Duration.ofMillis(10), Duration.ofMillis(50))
        .provider(new StabilityProviderFactory(), config);
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

  StabilityProvider provider(ProviderConfig config) {
    return (StabilityProvider) new StabilityProviderFactory().create(config);
  }

  static ImageGenerationRequest.Builder request() {
    return ImageGenerationRequest.builder().prompt("a red fox in the snow").timeout(Duration.ofSeconds(20));
  }

  ImageGenerationResponse generate(ImageGenerationRequest r) {
    return service().generateImage(r, "stability");
  }

  List<LoggedRequest> posts() {
    return server.findAll(postRequestedFor(urlPathMatching(StabilityStubs.GENERATE)));
  }

  LoggedRequest onlyPost() {
    List<LoggedRequest> p = posts();
    assertThat(p).hasSize(1);
    return p.get(0);
  }

  /** The parts by name: text values, or {@code file:<content-type>:<bytes>} for files. */
  static Map<String, String> parts(LoggedRequest r) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Request.Part p : r.getParts()) {
      String disposition = p.getHeader("Content-Disposition").firstValue();
      out.put(p.getName(), disposition.contains("filename=")
          ? "file:" + p.getHeader("Content-Type").firstValue() + ":" + p.getBody().asBytes().length
          : p.getBody().asString());
    }
    return out;
  }

  static <T extends Throwable> T thrown(Class<T> type, org.assertj.core.api.ThrowableAssert.ThrowingCallable call) {
    Throwable t = catchThrowable(call);
    assertThat(t).isInstanceOf(type);
    return type.cast(t);
  }

  static byte[] bytesOf(StubImage i) {
    return i.bytes();
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("request mapping")
  class WireBody {

    @Test
    @DisplayName("prompt only: a multipart POST to generate/core with accept image/*; image and seed from the answer")
    void promptOnlyIsMultipartToCore() {
      stubs.success(png);
      ImageGenerationResponse r = generate(request().build());

      LoggedRequest post = onlyPost();
      assertThat(post.getUrl()).isEqualTo(CORE);
      assertThat(post.getHeader("Content-Type")).startsWith("multipart/form-data; boundary=");
      assertThat(post.getHeader("accept")).isEqualTo("image/*");
      assertThat(post.getHeader("authorization")).isEqualTo("Bearer " + KEY);
      Map<String, String> f = parts(post);
      assertThat(f).containsEntry("prompt", "a red fox in the snow").containsEntry("output_format", "png")
          .containsEntry("negative_prompt", request().build().effectiveNegativePrompt()); // imagegen's default one
      assertThat(f.keySet()).doesNotContain("aspect_ratio", "seed", "model", "mode", "strength", "cfg_scale", "image");
      GeneratedImage img = r.image();
      assertThat(img.bytes()).isEqualTo(png.bytes());
      assertThat(img.seed()).isEqualTo(343940597L);
      assertThat(r.model()).isEqualTo("core");
      assertThat(r.metadata()).containsEntry("finish_reason", "SUCCESS").containsEntry("credits", "3")
          .containsEntry("x_request_id", "5a6b7c8d9e0f");
    }

    @Test
    @DisplayName("a size goes as the nearest aspect ratio, with a warning; steps and sampler are not sent")
    void sizeIsAnAspectRatioAndStepsAreDropped() {
      stubs.success(png);
      ImageGenerationResponse r = generate(request().size(1344, 768).seed(7L).steps(30).sampler("euler").guidanceScale(5.0)
          .negativePrompt("blurry").build());

      Map<String, String> f = parts(onlyPost());
      assertThat(f).containsEntry("aspect_ratio", "16:9").containsEntry("seed", "7").containsEntry("negative_prompt", "blurry");
      assertThat(f.keySet()).doesNotContain("steps", "num_inference_steps", "sampler", "cfg_scale", "width", "height");
      assertThat(r.warnings()).anyMatch(w -> w.contains("1344x768") && w.contains("16:9"))
          .anyMatch(w -> w.startsWith("steps 30 not sent")).anyMatch(w -> w.startsWith("sampler 'euler' not sent"))
          .anyMatch(w -> w.startsWith("guidance scale 5.0 not sent"));
    }

    @Test
    @DisplayName("sd3.5-large-turbo: generate/sd3 with model, mode, cfg_scale; webp becomes png with a warning")
    void sd3TakesModelModeAndCfgScale() {
      stubs.success(png);
      ImageGenerationResponse r = generate(request().model("sd3.5-large-turbo").guidanceScale(4.5).negativePrompt("text")
          .outputFormat("webp").build());

      LoggedRequest post = onlyPost();
      assertThat(post.getUrl()).isEqualTo(SD3);
      assertThat(parts(post)).containsEntry("model", "sd3.5-large-turbo").containsEntry("mode", "text-to-image")
          .containsEntry("cfg_scale", "4.5").containsEntry("negative_prompt", "text").containsEntry("output_format", "png");
      assertThat(r.warnings()).anyMatch(w -> w.contains("webp"));
      assertThat(r.model()).isEqualTo("sd3.5-large-turbo");
    }

    @Test
    @DisplayName("sd3-large-turbo takes no negative prompt: left out, with core's warning")
    void sd3LargeTurboGetsNoNegativePrompt() {
      stubs.success(png);
      ImageGenerationResponse r = generate(request().model("sd3-large-turbo").negativePrompt("text").build());

      assertThat(parts(onlyPost())).doesNotContainKey("negative_prompt").containsEntry("model", "sd3-large-turbo");
      assertThat(r.warnings()).anyMatch(w -> w.startsWith("negative prompt not sent"));
    }

    @Test
    @DisplayName("ultra with an init image: image file and strength, no aspect ratio")
    void ultraImageToImage() {
      stubs.success(png);
      StubImage init = StubImages.png(256, 256, 1);
      generate(request().model("stable-image-ultra").size(1024, 1024)
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, init.bytes())).strength(0.7).build());

      LoggedRequest post = onlyPost();
      assertThat(post.getUrl()).isEqualTo(ULTRA);
      Map<String, String> f = parts(post);
      assertThat(f).containsEntry("image", "file:image/png:" + init.bytes().length).containsEntry("strength", "0.7");
      assertThat(f).doesNotContainKey("aspect_ratio");
    }

    @Test
    @DisplayName("an init image and no model: img2img-model (sd3.5-large), mode image-to-image, default strength with a warning")
    void imageToImageWithoutModelUsesTheImg2imgModel() {
      stubs.success(png);
      ImageGenerationResponse r = generate(request()
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, StubImages.png(64, 64, 1).bytes())).build());

      LoggedRequest post = onlyPost();
      assertThat(post.getUrl()).isEqualTo(SD3);
      assertThat(parts(post)).containsEntry("model", "sd3.5-large").containsEntry("mode", "image-to-image")
          .containsEntry("strength", "0.5");
      assertThat(r.warnings()).anyMatch(w -> w.startsWith("strength not set"));
    }

    @Test
    @DisplayName("a mask: edit/inpaint with image, mask and grow_mask; no strength, no aspect ratio")
    void maskGoesToInpaint() {
      stubs.success(png);
      StubImage init = StubImages.png(128, 128, 1);
      StubImage mask = StubImages.png(128, 128, 2);
      ImageGenerationResponse r = generate(request().size(1024, 1024)
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, init.bytes()))
          .inputImage(InputImage.ofBytes(InputImage.Role.MASK, mask.bytes()))
          .providerOption("stability", "grow_mask", 3).build());

      LoggedRequest post = onlyPost();
      assertThat(post.getUrl()).isEqualTo(INPAINT);
      Map<String, String> f = parts(post);
      assertThat(f).containsEntry("image", "file:image/png:" + init.bytes().length)
          .containsEntry("mask", "file:image/png:" + mask.bytes().length).containsEntry("grow_mask", "3");
      assertThat(f.keySet()).doesNotContain("strength", "aspect_ratio", "model", "mode");
      assertThat(r.model()).isEqualTo("inpaint");
    }

    @Test
    @DisplayName("an init image given as a URL is fetched and sent as a file")
    void initImageUrlIsFetched() {
      StubImage init = StubImages.png(80, 80, 1);
      server.stubFor(get(urlPathEqualTo("/inputs/fox.png")).willReturn(aResponse().withStatus(200)
          .withHeader("Content-Type", "image/png").withBody(init.bytes())));
      stubs.success(png);
      generate(request().model("ultra").inputImage(InputImage.ofUrl(InputImage.Role.INIT,
          URI.create(server.baseUrl() + "/inputs/fox.png"))).strength(0.4).build());

      assertThat(parts(onlyPost())).containsEntry("image", "file:image/png:" + init.bytes().length);
    }

    @Test
    @DisplayName("core's style_preset from providerOptions; an unknown preset or another model is refused before sending")
    void stylePresetIsCoreOnly() {
      stubs.success(png);
      generate(request().providerOption("stability", "style_preset", "pixel-art").build());
      assertThat(parts(onlyPost())).containsEntry("style_preset", "pixel-art");

      server.resetRequests();
      InvalidRequestException bad = thrown(InvalidRequestException.class, () -> generate(request()
          .providerOption("stability", "style_preset", "watercolour").build()));
      assertThat(bad.getMessage()).contains("watercolour");
      InvalidRequestException ultra = thrown(InvalidRequestException.class, () -> generate(request().model("ultra")
          .providerOption("stability", "style_preset", "anime").build()));
      assertThat(ultra.getMessage()).contains("core only");
      assertThat(posts()).isEmpty();
    }

    @Test
    @DisplayName("a seed beyond 4294967294 is refused before sending")
    void seedOutOfRangeIsRefused() {
      stubs.success(png);
      InvalidRequestException e = thrown(InvalidRequestException.class, () -> generate(request().seed(4_294_967_295L).build()));
      assertThat(e.getMessage()).contains("4294967294");
      assertThat(posts()).isEmpty();
    }

    @Test
    @DisplayName("a request body over 10 MiB is refused before sending")
    void oversizedRequestIsRefusedBeforeSending() {
      stubs.success(png);
      byte[] big = Arrays.copyOf(StubImages.png(64, 64, 1).bytes(), 11 * 1024 * 1024);
      InvalidRequestException e = thrown(InvalidRequestException.class, () -> generate(request().model("ultra")
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, big)).strength(0.5).build()));
      assertThat(e.getMessage()).contains("10 MiB");
      assertThat(posts()).isEmpty();
    }

    @Test
    @DisplayName("the JSON answer form is read too: base64 image, finish_reason and seed in the body")
    void jsonAnswerIsRead() {
      stubs.successJson(png);
      ImageGenerationResponse r = generate(request().build());
      assertThat(r.image().bytes()).isEqualTo(png.bytes());
      assertThat(r.image().seed()).isEqualTo(343940597L);
    }

    @Test
    @DisplayName("client-id is sent as stability-client-id")
    void clientIdHeader() {
      stubs.success(png);
      service(config().set("client-id", "my-app").build()).generateImage(request().build(), "stability");
      assertThat(onlyPost().getHeader("stability-client-id")).isEqualTo("my-app");
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("capabilities")
  class Capabilities {

    @Test
    @DisplayName("an init image on core, a mask with ultra, an unknown model: declined with failover allowed, nothing sent")
    void declinedInputsAreNotSent() {
      stubs.success(png);
      InputImage init = InputImage.ofBytes(InputImage.Role.INIT, StubImages.png(64, 64, 1).bytes());
      InputImage mask = InputImage.ofBytes(InputImage.Role.MASK, StubImages.png(64, 64, 2).bytes());
      for (ImageGenerationRequest r : List.of(request().model("core").inputImage(init).build(),
          request().model("ultra").inputImage(init).inputImage(mask).build())) {
        ImageGenerationException e = thrown(ImageGenerationException.class, () -> generate(r));
        assertThat(e.kind()).isEqualTo(ErrorKind.NO_CAPABLE_PROVIDER);
        assertThat(e.failoverMayHelp()).isTrue();
      }
      StabilityProvider p = provider(config().build());
      assertThat(p.capabilities().whyNot(request().model("flux-schnell").build())).isNotEmpty();
      assertThat(posts()).isEmpty();
    }

    @Test
    @DisplayName("one image per call; a strict request with steps is skipped; a negative prompt is honoured")
    void honestCapabilities() {
      ProviderCapabilities c = provider(config().build()).capabilities();
      assertThat(c.maxImagesPerRequest()).isEqualTo(1);
      assertThat(c.whyNot(request().numImages(2).build())).anyMatch(w -> w.contains("2 images"));
      assertThat(c.whyNot(request().steps(20).strict(true).build())).anyMatch(w -> w.contains("steps"));
      assertThat(c.whyNot(request().steps(20).build())).isEmpty();
      assertThat(c.negativePrompt()).isTrue();
      assertThat(c.img2img()).isTrue();
      assertThat(c.mask()).isTrue();
      assertThat(c.maxReferenceImages()).isZero();
      assertThat(c.queued()).isFalse();
      assertThat(c.cancellable()).isFalse();
      // guidance is taken by the SD3 family only
      assertThat(c.ignoredInputs(request().model("sd3.5-medium").guidanceScale(3.0).build())).doesNotContain(
          dev.imagegen.spi.SoftInput.GUIDANCE);
      assertThat(c.ignoredInputs(request().model("ultra").guidanceScale(3.0).build())).contains(
          dev.imagegen.spi.SoftInput.GUIDANCE);
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("error table")
  class Errors {

    @Test
    @DisplayName("400 bad_request: InvalidRequestException with the errors array and the error id")
    void badRequest() {
      server.stubFor(stubs.submitStub().willReturn(StabilityStubs.error(400, "bad_request", "prompt: is required",
          "aspect_ratio: must be one of 21:9, 16:9")));
      InvalidRequestException e = thrown(InvalidRequestException.class, () -> generate(request().build()));
      assertThat(e.getMessage()).contains("bad_request").contains("prompt: is required; aspect_ratio: must be one of")
          .contains(StabilityStubs.ERROR_ID);
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("401: AuthenticationException naming STABILITY_API_KEY, the key not shown")
    void unauthorized() {
      stubs.authenticationRefused();
      AuthenticationException e = thrown(AuthenticationException.class, () -> generate(request().build()));
      assertThat(e.getMessage()).contains("STABILITY_API_KEY").doesNotContain(KEY);
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("402 payment_required: InsufficientCreditsException, failover allowed, no retry")
    void paymentRequired() {
      stubs.outOfCredits();
      InsufficientCreditsException e = thrown(InsufficientCreditsException.class, () -> generate(request().build()));
      assertThat(e.failoverMayHelp()).isTrue();
      assertThat(e.retryMayHelp()).isFalse();
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("403 content_moderation: ContentPolicyException, not charged, not failed over")
    void contentModeration() {
      stubs.moderation();
      Backup backup = new Backup();
      Throwable t = catchThrowable(() -> service(config().build(), backup).generateImageWithFailover(request().build()));
      ContentPolicyException e = unwrap(t, ContentPolicyException.class);
      assertThat(e.getMessage()).contains("content_moderation").contains("not charged");
      assertThat(backup.calls).hasValue(0);
    }

    @Test
    @DisplayName("403 without content_moderation: AuthenticationException")
    void forbidden() {
      server.stubFor(stubs.submitStub().willReturn(StabilityStubs.error(403, "forbidden", "this key may not use ultra")));
      thrown(AuthenticationException.class, () -> generate(request().build()));
    }

    @Test
    @DisplayName("404: ProviderUnavailableException, failover, no retry")
    void notFound() {
      server.stubFor(stubs.submitStub().willReturn(StabilityStubs.error(404, "not_found", "no such endpoint")));
      ProviderUnavailableException e = thrown(ProviderUnavailableException.class, () -> generate(request().build()));
      assertThat(e.failoverMayHelp()).isTrue();
      assertThat(e.outcomeUnknown()).isFalse();
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("413: InvalidRequestException telling to send smaller input images")
    void payloadTooLarge() {
      stubs.payloadTooLarge();
      InvalidRequestException e = thrown(InvalidRequestException.class, () -> generate(request().build()));
      assertThat(e.getMessage()).contains("10 MiB").contains("smaller input images");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("422: InvalidRequestException with the errors array")
    void unprocessable() {
      stubs.unprocessable("English is the only supported language for this service.");
      InvalidRequestException e = thrown(InvalidRequestException.class, () -> generate(request().build()));
      assertThat(e.getMessage()).contains("English is the only supported language");
    }

    @Test
    @DisplayName("429 without Retry-After (as documented): RateLimitedException with the 60 s lockout")
    void rateLimitedAsDocumented() {
      stubs.rateLimitedAsDocumented();
      RateLimitedException e = thrown(RateLimitedException.class, () -> generate(request().build()));
      assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(60));
      assertThat(e.getMessage()).contains("150 requests");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("429 with Retry-After: that delay")
    void rateLimitedWithRetryAfter() {
      stubs.rateLimited(Duration.ofSeconds(90));
      RateLimitedException e = thrown(RateLimitedException.class, () -> generate(request().build()));
      assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(90));
    }

    @Test
    @DisplayName("500 in Stability's shape: a failed, uncharged result; retried on Stability, then another provider")
    void ownServerErrorIsRetriedThenFailsOverNotBilled() {
      stubs.serverErrorThenSuccess(png);
      ImageGenerationResponse served = service(config().build(), new Backup()).generateImageWithFailover(request().build());
      assertThat(served.provider()).isEqualTo("stability");
      assertThat(served.attempts()).singleElement().satisfies(a -> assertThat(a.calls()).isEqualTo(2));
      assertThat(posts()).hasSize(2);

      server.resetAll();
      server.stubFor(stubs.submitStub().willReturn(StabilityStubs.error(500, "internal_error", "An unexpected server error")));
      Backup backup = new Backup();
      ImageGenerationResponse r = service(config().build(), backup).generateImageWithFailover(request().build());
      assertThat(r.provider()).isEqualTo("backup");
      Attempt first = r.attempts().get(0);
      assertThat(first.provider()).isEqualTo("stability");
      assertThat(first.mayBeBilled()).isFalse();
      assertThat(first.message()).contains("internal_error");
      assertThat(first.calls()).isEqualTo(3); // the engine's 2 retries
    }

    @Test
    @DisplayName("502 from a gateway (no Stability body): outcome unknown, reported as possibly billed, not resent")
    void gatewayErrorIsAnUnknownOutcome() {
      stubs.gatewayError();
      Backup backup = new Backup();
      Throwable t = catchThrowable(() -> service(config().build(), backup).generateImageWithFailover(request().build()));
      assertThat(t).isNotNull();
      assertThat(String.valueOf(t.getMessage()) + causes(t)).contains("billed");
      assertThat(backup.calls).hasValue(0);
      assertThat(posts()).hasSize(1);
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("finish-reason")
  class FinishReason {

    @Test
    @DisplayName("CONTENT_FILTERED (200, blurred image): ContentPolicyException saying it was billed; not failed over")
    void contentFilteredIsNotASuccess() {
      stubs.contentPolicy();
      Backup backup = new Backup();
      Throwable t = catchThrowable(() -> service(config().build(), backup).generateImageWithFailover(request().build()));
      ContentPolicyException e = unwrap(t, ContentPolicyException.class);
      assertThat(e.getMessage()).contains("CONTENT_FILTERED").contains("was billed").contains("3 credits, $0.03");
      assertThat(backup.calls).hasValue(0);
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("CONTENT_FILTERED is charged: the budget spends its price and the attempt says billed")
    void contentFilteredSpendsTheBudget() {
      stubs.contentPolicy();
      Backup backup = new Backup();
      ImageGenerationService s = ImageGenerationService.builder().retryBackoff(Duration.ofMillis(10), Duration.ofMillis(50))
          .provider(new StabilityProviderFactory(), config().build())
          .provider(backup, ProviderConfig.builder("backup").set("priority", "2").build()).failoverOnContentPolicy(true)
          .budget(dev.imagegen.BudgetPolicy.builder().perProvider("stability", new java.math.BigDecimal("0.05")).build()).build();
      services.add(s);
      ImageGenerationResponse r = s.generateImageWithFailover(request().build());
      assertThat(r.provider()).isEqualTo("backup");
      assertThat(r.attempts().get(0).mayBeBilled()).isTrue();
      // $0.03 of $0.05 spent: another $0.03 core image does not fit, so Stability is skipped without a call
      ImageGenerationResponse next = s.generateImageWithFailover(request().build());
      assertThat(next.provider()).isEqualTo("backup");
      assertThat(next.attempts().get(0).message()).contains("0.03 USD spent or reserved");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("CONTENT_FILTERED in the JSON form: the same")
    void contentFilteredInJson() {
      server.stubFor(stubs.submitStub().willReturn(StabilityStubs.json(png, "CONTENT_FILTERED")));
      ContentPolicyException e = thrown(ContentPolicyException.class, () -> generate(request().model("ultra").build()));
      assertThat(e.getMessage()).contains("8 credits, $0.08");
    }

    @Test
    @DisplayName("another finish-reason than SUCCESS: a failure with failover")
    void otherFinishReasonFails() {
      server.stubFor(stubs.submitStub().willReturn(StabilityStubs.image(png, "ERROR")));
      ProviderUnavailableException e = thrown(ProviderUnavailableException.class, () -> generate(request().build()));
      assertThat(e.getMessage()).contains("finish-reason ERROR");
      assertThat(e.failoverMayHelp()).isTrue();
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("faults")
  class Faults {

    @Test
    @DisplayName("connection reset after sending: outcome unknown, one POST")
    void resetAfterSending() {
      server.stubFor(stubs.submitStub().willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
      ProviderUnavailableException e = thrown(ProviderUnavailableException.class, () -> generate(request().build()));
      assertThat(e.getMessage() + causes(e)).contains("billed");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("a body that never comes: the deadline holds")
    void slowBodyMeetsTheDeadline() {
      server.stubFor(stubs.submitStub().willReturn(stubs.successAnswer(png).withFixedDelay(10_000)));
      long t0 = System.nanoTime();
      Throwable t = catchThrowable(() -> generate(request().timeout(Duration.ofSeconds(1)).build()));
      assertThat(t).isInstanceOf(GenerationTimeoutException.class);
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
    }

    @Test
    @DisplayName("malformed JSON at 200: a clear error naming the provider, one POST")
    void malformedJson() {
      stubs.malformedJson();
      ImageGenerationException e = thrown(ImageGenerationException.class, () -> generate(request().build()));
      assertThat(e.providerId()).isEqualTo("stability");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("an image over max-image-bytes: refused, naming the limit")
    void oversizedImage() {
      stubs.success(StubImages.webp(64, 64, 1, 20_000));
      ImageGenerationException e = thrown(ImageGenerationException.class, () -> service(config().set("max-image-bytes", "4096")
          .build()).generateImage(request().build(), "stability"));
      assertThat(e.getMessage()).contains("4096");
    }

    @Test
    @DisplayName("bytes that are not an image at 200: a failure, not a success")
    void undecodableImage() {
      server.stubFor(stubs.submitStub().willReturn(aResponse().withStatus(200).withHeader("Content-Type", "image/png")
          .withHeader("finish-reason", "SUCCESS").withBody("not an image at all")));
      ImageGenerationException e = thrown(ImageGenerationException.class, () -> generate(request().build()));
      assertThat(e.getMessage()).contains("not a PNG, JPEG or WebP");
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("cost")
  class Costs {

    @Test
    @DisplayName("credits per model and endpoint at $0.01 a credit")
    void pricePerModel() {
      CostModel c = provider(config().build()).costModel();
      assertThat(c.estimate(request().build()).amount()).isEqualByComparingTo("0.03"); // core, the default
      assertThat(c.estimate(request().model("ultra").build()).amount()).isEqualByComparingTo("0.08");
      assertThat(c.estimate(request().model("stable-image-ultra").build()).amount()).isEqualByComparingTo("0.08");
      assertThat(c.estimate(request().model("sd3.5-large").build()).amount()).isEqualByComparingTo("0.065");
      assertThat(c.estimate(request().model("sd3.5-large-turbo").build()).amount()).isEqualByComparingTo("0.04");
      assertThat(c.estimate(request().model("sd3.5-medium").build()).amount()).isEqualByComparingTo("0.035");
      assertThat(c.estimate(request().model("sd3-large").build()).amount()).isEqualByComparingTo("0.065");
      assertThat(c.estimate(request().model("sd3-large-turbo").build()).amount()).isEqualByComparingTo("0.04");
      assertThat(c.estimate(request().model("sd3-medium").build()).amount()).isEqualByComparingTo("0.035");
      InputImage init = InputImage.ofBytes(InputImage.Role.INIT, StubImages.png(64, 64, 1).bytes());
      InputImage mask = InputImage.ofBytes(InputImage.Role.MASK, StubImages.png(64, 64, 2).bytes());
      assertThat(c.estimate(request().inputImage(init).inputImage(mask).build()).amount()).isEqualByComparingTo("0.03");
      // image to image without a model runs on img2img-model, sd3.5-large
      assertThat(c.estimate(request().inputImage(init).build()).amount()).isEqualByComparingTo("0.065");
      assertThat(c.estimate(request().model("flux-schnell").build()).isKnown()).isFalse();
    }

    @Test
    @DisplayName("a generation costs its model's price, estimated; price.<model> and credit-price override")
    void configuredPrices() {
      stubs.success(png);
      ImageGenerationResponse r = generate(request().build());
      assertThat(r.cost().amount()).isEqualByComparingTo("0.03");
      assertThat(r.cost().source()).isEqualTo(Cost.Source.ESTIMATED);

      CostModel c = provider(config().set("price.ultra", "0.09").set("credit-price", "0.02").build()).costModel();
      assertThat(c.estimate(request().model("ultra").build()).amount()).isEqualByComparingTo("0.09");
      assertThat(c.estimate(request().build()).amount()).isEqualByComparingTo("0.06");
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("configuration and health")
  class ConfigurationAndHealth {

    @Test
    @DisplayName("the client-side limiter defaults to 840 requests a minute, within 150 per 10 s")
    void limiterDefault() throws Exception {
      assertThat(new StabilityProviderFactory().defaults()).containsEntry("requests-per-minute", "840");
      // spaced evenly: the 8th of 8 calls made at once cannot reach the API before 7 intervals of 60/840 s (71 ms) have
      // passed since they were made; measured from the moment they were made (a lower bound only: a slow first
      // connection on a loaded machine delays the first arrival and would shrink a first-to-last span)
      stubs.success(png);
      ImageGenerationService s = service(); // the builder applies the factory's defaults
      List<CompletableFuture<ImageGenerationResponse>> all = new ArrayList<>();
      long made = System.currentTimeMillis();
      for (int i = 0; i < 8; i++) {
        all.add(s.generateAsync(request().build(), "stability"));
      }
      CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get();
      List<Long> at = posts().stream().map(p -> p.getLoggedDate().getTime()).sorted().toList();
      assertThat(at).hasSize(8);
      assertThat(at.get(7) - made).isGreaterThanOrEqualTo(450L);
    }

    @Test
    @DisplayName("fromEnvironment finds the factory and enables it from STABILITY_API_KEY")
    void customaryVariable() {
      stubs.success(png);
      ImageGenerationService s = ImageGenerationService.fromEnvironment(Map.of("STABILITY_API_KEY", KEY,
          "IMAGEGEN_STABILITY_BASE_URL", server.baseUrl()), new java.util.Properties());
      services.add(s);
      assertThat(s.providers()).contains("stability");
      s.generateImage(request().build(), "stability");
      assertThat(onlyPost().getHeader("authorization")).isEqualTo("Bearer " + KEY);
    }

    @Test
    @DisplayName("bad configuration is refused naming the key")
    void badConfiguration() {
      assertThatThrownBy(() -> provider(ProviderConfig.builder("stability").baseUrl(server.baseUrl()).build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("api-key");
      assertThatThrownBy(() -> provider(config().set("model", "sdxl").build())).hasMessageContaining("model")
          .hasMessageContaining("sdxl");
      assertThatThrownBy(() -> provider(config().set("img2img-model", "core").build())).hasMessageContaining("img2img-model");
      assertThatThrownBy(() -> provider(config().set("credit-price", "-1").build())).hasMessageContaining("credit-price");
      assertThat(new StabilityProviderFactory().customaryEnvironment()).containsEntry("api-key", List.of("STABILITY_API_KEY"));
      assertThat(new StabilityProviderFactory().isConfigured(ProviderConfig.builder("stability").build())).isFalse();
    }

    @Test
    @DisplayName("model sets the default model")
    void defaultModelSetting() {
      stubs.success(png);
      service(config().set("model", "sd3.5-medium").build()).generateImage(request().build(), "stability");
      assertThat(parts(onlyPost())).containsEntry("model", "sd3.5-medium");
    }

    @Test
    @DisplayName("health: the balance's credits when UP, DEGRADED at zero, AUTH_FAILED for a refused key")
    void health() {
      stubs.healthy();
      ProviderHealth up = service().testConnection("stability");
      assertThat(up.state()).isEqualTo(ProviderHealth.State.UP);
      assertThat(up.message()).contains("12.5 credits");
      assertThat(server.findAll(com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor(
          urlPathEqualTo(StabilityStubs.BALANCE))).get(0).getHeader("authorization")).isEqualTo("Bearer " + KEY);

      server.resetAll();
      server.stubFor(stubs.healthStub().willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
          .withBody("{\"credits\":0}")));
      assertThat(service().testConnection("stability").state()).isEqualTo(ProviderHealth.State.DEGRADED);

      server.resetAll();
      stubs.healthAuthRefused();
      assertThat(service().testConnection("stability").state()).isEqualTo(ProviderHealth.State.AUTH_FAILED);
    }
  }

  // ------------------------------------------------------------------------------------------

  static <T extends Throwable> T unwrap(Throwable t, Class<T> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return type.cast(c);
      }
      if (c instanceof AllProvidersFailedException a) {
        for (Attempt at : a.attempts()) {
          if (type.isInstance(at.cause())) {
            return type.cast(at.cause());
          }
        }
      }
    }
    throw new AssertionError("no " + type.getSimpleName() + " in " + t);
  }

  static String causes(Throwable t) {
    StringBuilder b = new StringBuilder();
    for (Throwable c = t.getCause(); c != null; c = c.getCause()) {
      b.append(" / ").append(c.getMessage());
    }
    if (t instanceof AllProvidersFailedException a) {
      a.attempts().forEach(at -> b.append(" / ").append(at));
    }
    return b.toString();
  }

  /** A second provider that always succeeds, counting its calls. */
  static final class Backup implements ImageProvider {
    final AtomicInteger calls = new AtomicInteger();

    @Override
    public String id() {
      return "backup";
    }

    @Override
    public ProviderCapabilities capabilities() {
      return ProviderCapabilities.builder().negativePrompt(true).seed(true).build();
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
