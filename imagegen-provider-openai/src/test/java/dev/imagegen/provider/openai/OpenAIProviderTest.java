package dev.imagegen.provider.openai;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
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
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.http.Request;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.AllProvidersFailedException;
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
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.OpenAIStubs;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpHeaders;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** OpenAI Images specifics on a WireMock server shaped like the protocol file. */
class OpenAIProviderTest {
  static final String KEY = "sk-proj-TestSecretKey0123456789abcdefABCDEF";
  static final ObjectMapper JSON = new ObjectMapper();

  WireMockServer server;
  OpenAIStubs stubs;
  final StubImage png = StubImages.png(96, 64, 5);
  final List<ImageGenerationService> services = new ArrayList<>();
  final Backup backup = new Backup();

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    stubs = new OpenAIStubs(server);
  }

  @AfterEach
  void stop() {
    services.forEach(ImageGenerationService::close);
    server.stop();
  }

  ProviderConfig.Builder config() {
    return ProviderConfig.builder("openai").apiKey(KEY).baseUrl(server.baseUrl() + "/v1").set("flavour", "openai")
        .set("priority", "1");
  }

  ImageGenerationService service(ProviderConfig c, ImageGenerationService.Builder b) {
    b.retryBackoff(Duration.ofMillis(10), Duration.ofMillis(50)).provider(new OpenAIProviderFactory(), c)
        .provider(backup, ProviderConfig.builder("backup").set("priority", "2").build());
    ImageGenerationService s = b.build();
    services.add(s);
    return s;
  }

  ImageGenerationService service(ProviderConfig c) {
    return service(c, ImageGenerationService.builder());
  }

  ImageGenerationService service() {
    return service(config().build());
  }

  static ImageGenerationRequest.Builder request() {
    return ImageGenerationRequest.builder().prompt("a red fox in the snow").timeout(Duration.ofSeconds(20));
  }

  List<LoggedRequest> posts() {
    return server.findAll(postRequestedFor(urlPathMatching("/.*images/(generations|edits)")));
  }

  static JsonNode body(LoggedRequest r) throws Exception {
    return JSON.readTree(r.getBody());
  }

  /** The failure a generation ended with: the exception itself, or the last attempt's cause. */
  static Throwable failure(Runnable call) {
    Throwable t = catchThrowable(call::run);
    if (t instanceof AllProvidersFailedException all && !all.attempts().isEmpty()
        && all.attempts().get(all.attempts().size() - 1).cause() != null) {
      return all.attempts().get(all.attempts().size() - 1).cause();
    }
    return t;
  }

  static HttpResult answer(int status, String body, Map<String, List<String>> headers) {
    return new HttpResult("POST", URI.create("https://api.openai.com/v1/images/generations"), status,
        HttpHeaders.of(headers, (a, b) -> true), body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("request mapping")
  class Mapping {

    @Test
    @DisplayName("generations: model always sent, every GPT image field under its wire name, no response_format")
    void generationsBody() throws Exception {
      server.stubFor(post(urlPathEqualTo(OpenAIStubs.GENERATIONS)).willReturn(OpenAIStubs.ok(OpenAIStubs.gptImage(
          List.of(png, StubImages.png(96, 64, 6)), "high", OpenAIStubs.USAGE))));
      ImageGenerationService s = service(config().set("organization", "org-abc").set("project", "proj_1")
          .set("moderation", "low").set("user", "user-42").build());
      ImageGenerationRequest req = request().size(1536, 1024).numImages(2).outputFormat("webp").seed(7L).steps(30)
          .negativePrompt("blurry").providerOption("openai", "quality", "high")
          .providerOption("openai", "background", "opaque").providerOption("openai", "output_compression", 80).build();
      ImageGenerationResponse r = s.generateImage(req, "openai");

      assertThat(r.images()).hasSize(2);
      assertThat(r.images().get(0).bytes()).isEqualTo(png.bytes());
      assertThat(r.model()).isEqualTo("gpt-image-2");
      assertThat(r.metadata()).containsEntry("quality", "high").containsEntry("openai_request_id", OpenAIStubs.REQUEST_ID)
          .containsEntry("input_image_tokens", "40").containsEntry("output_tokens", "1056");
      assertThat(r.warnings()).anyMatch(w -> w.contains("negative prompt not sent"))
          .anyMatch(w -> w.contains("seed not sent")).anyMatch(w -> w.contains("steps"));

      LoggedRequest sent = posts().get(0);
      assertThat(sent.getHeader("Authorization")).isEqualTo("Bearer " + KEY);
      assertThat(sent.getHeader("OpenAI-Organization")).isEqualTo("org-abc");
      assertThat(sent.getHeader("OpenAI-Project")).isEqualTo("proj_1");
      assertThat(body(sent)).isEqualTo(JSON.readTree("{\"model\":\"gpt-image-2\",\"prompt\":\"a red fox in the snow\",\"n\":2,"
          + "\"size\":\"1536x1024\",\"quality\":\"high\",\"background\":\"opaque\",\"output_format\":\"webp\","
          + "\"output_compression\":80,\"moderation\":\"low\",\"user\":\"user-42\"}"));
      stubs.assertSubmitted(req, sent, KEY);
    }

    @Test
    @DisplayName("the configured model is sent; a request's own model id wins")
    void modelIsConfiguration() throws Exception {
      stubs.success(png);
      ImageGenerationService s = service(config().set("model", "gpt-image-2-2026-04-21").build());
      s.generateImage(request().build(), "openai");
      s.generateImage(request().model("gpt-image-2.6-sunburst").build(), "openai");
      assertThat(body(posts().get(0)).path("model").asText()).isEqualTo("gpt-image-2-2026-04-21");
      assertThat(body(posts().get(1)).path("model").asText()).isEqualTo("gpt-image-2.6-sunburst");
      assertThat(body(posts().get(0)).has("size")).as("no size asked: the API's auto").isFalse();
    }

    @Test
    @DisplayName("edits: several images as repeated image[] parts, the mask turned into OpenAI's alpha mask, no moderation")
    void editsAreMultipart() throws Exception {
      stubs.editSuccess(png);
      byte[] mask = whiteCentreMask();
      ImageGenerationRequest req = request().inputImage(InputImage.ofBytes(InputImage.Role.INIT, png.bytes()))
          .inputImage(InputImage.ofBytes(InputImage.Role.REFERENCE, StubImages.jpeg(64, 64, 3).bytes()))
          .inputImage(InputImage.ofBytes(InputImage.Role.MASK, mask)).providerOption("openai", "moderation", "low")
          .providerOption("openai", "input_fidelity", "high").build();
      ImageGenerationResponse r = service().generateImage(req, "openai");

      assertThat(r.warnings()).anyMatch(w -> w.contains("moderation not sent"));
      LoggedRequest sent = server.findAll(postRequestedFor(urlPathEqualTo(OpenAIStubs.EDITS))).get(0);
      assertThat(sent.getHeader("Content-Type")).startsWith("multipart/form-data; boundary=");
      List<String> names = sent.getParts().stream().map(Request.Part::getName).toList();
      assertThat(names).containsExactly("model", "prompt", "n", "input_fidelity", "image[]", "image[]", "mask");
      Request.Part first = sent.getParts().stream().filter(p -> p.getName().equals("image[]")).findFirst().orElseThrow();
      assertThat(first.getBody().asBytes()).isEqualTo(png.bytes());
      assertThat(part(sent, "model")).isEqualTo("gpt-image-2");
      assertThat(part(sent, "prompt")).isEqualTo("a red fox in the snow");
      BufferedImage m = ImageIO.read(new ByteArrayInputStream(sent.getParts().stream().filter(p -> p.getName().equals("mask"))
          .findFirst().orElseThrow().getBody().asBytes()));
      assertThat(m.getRGB(8, 8) >>> 24).as("white (repaint) is transparent for OpenAI").isZero();
      assertThat(m.getRGB(0, 0) >>> 24).as("black (keep) is opaque").isEqualTo(0xFF);
    }

    @Test
    @DisplayName("one input image goes as a single part named image")
    void oneImageIsPartImage() {
      stubs.editSuccess(png);
      service().generateImage(request().inputImage(InputImage.ofBytes(InputImage.Role.INIT, png.bytes())).build(), "openai");
      LoggedRequest sent = server.findAll(postRequestedFor(urlPathEqualTo(OpenAIStubs.EDITS))).get(0);
      assertThat(sent.getParts().stream().map(Request.Part::getName)).contains("image").doesNotContain("image[]", "mask");
    }

    @Test
    @DisplayName("an input image given as a URL is fetched and sent as a file part")
    void urlInputIsFetched() {
      stubs.editSuccess(png);
      StubImage in = StubImages.jpeg(48, 48, 4);
      server.stubFor(get(urlPathEqualTo("/inputs/photo.jpg")).willReturn(aResponse().withStatus(200)
          .withHeader("Content-Type", "image/jpeg").withBody(in.bytes())));
      service().generateImage(request().inputImage(InputImage.ofUrl(InputImage.Role.INIT,
          URI.create(server.baseUrl() + "/inputs/photo.jpg"))).build(), "openai");
      LoggedRequest sent = server.findAll(postRequestedFor(urlPathEqualTo(OpenAIStubs.EDITS))).get(0);
      Request.Part image = sent.getParts().stream().filter(p -> p.getName().equals("image")).findFirst().orElseThrow();
      assertThat(image.getBody().asBytes()).isEqualTo(in.bytes());
      assertThat(image.getHeaders().getContentTypeHeader().mimeTypePart()).isEqualTo("image/jpeg");
    }

    @Test
    @DisplayName("DALL·E-style URL answers are downloaded; revised_prompt kept")
    void urlAnswersAreDownloaded() {
      stubs.urlAnswer(png);
      ImageGenerationResponse r = service().generateImage(request().build(), "openai");
      assertThat(r.image().bytes()).isEqualTo(png.bytes());
      assertThat(r.metadata()).containsEntry("revised_prompt", "a lighthouse at dusk, oil");
      assertThat(r.cost().isKnown()).as("no usage: the estimate from the table").isTrue();
      assertThat(r.cost().source()).isEqualTo(Cost.Source.ESTIMATED);
    }

    private String part(LoggedRequest r, String name) {
      return r.getParts().stream().filter(p -> p.getName().equals(name)).findFirst().orElseThrow().getBody().asString();
    }
  }

  static byte[] whiteCentreMask() throws Exception {
    BufferedImage img = new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB);
    for (int y = 4; y < 12; y++) {
      for (int x = 4; x < 12; x++) {
        img.setRGB(x, y, 0xFFFFFF);
      }
    }
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    ImageIO.write(img, "png", b);
    return b.toByteArray();
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("capabilities and refusals before any call")
  class Capabilities {

    @Test
    @DisplayName("declares what the Images API does: edits with 16 images, masks, 10 per call, no negative prompt or seed")
    void declared() {
      ProviderCapabilities c = new OpenAIProviderFactory().create(config().build()).capabilities();
      assertThat(c.img2img()).isTrue();
      assertThat(c.mask()).isTrue();
      assertThat(c.maxReferenceImages()).isEqualTo(16);
      assertThat(c.maxImagesPerRequest()).isEqualTo(10);
      assertThat(c.negativePrompt()).isFalse();
      assertThat(c.seed()).isFalse();
      assertThat(c.loras()).isFalse();
      assertThat(c.cancellable()).isFalse();
    }

    @Test
    @DisplayName("a retired model is skipped by routing: the next provider serves, nothing is sent")
    void retiredModelFailsOverWithoutACall() {
      ImageGenerationResponse r = service().generateImageWithFailover(request().model("dall-e-3").build());
      assertThat(r.provider()).isEqualTo("backup");
      assertThat(r.attempts().get(0).message()).contains("dall-e-3");
      assertThat(posts()).isEmpty();
    }

    @Test
    @DisplayName("a retired model as the configured default is refused at create, naming the key")
    void retiredDefaultModelIsAConfigurationError() {
      assertThatThrownBy(() -> new OpenAIProviderFactory().create(config().set("model", "gpt-image-1").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("'model'").hasMessageContaining("retired-models");
    }

    @Test
    @DisplayName("a name that is not an OpenAI model id (sdxl) is skipped by routing")
    void foreignModelIsSkipped() {
      assertThat(service().generateImageWithFailover(request().model("sdxl").build()).provider()).isEqualTo("backup");
      assertThat(posts()).isEmpty();
    }

    @Test
    @DisplayName("gpt-image-2 size limits: too few pixels and a ratio past 3:1 are refused before the call")
    void sizeLimits() {
      Throwable small = failure(() -> service().generateImage(request().size(640, 640).build(), "openai"));
      assertThat(small).isInstanceOf(InvalidRequestException.class).hasMessageContaining("655360");
      Throwable wide = failure(() -> service().generateImage(request().size(3840, 1024).build(), "openai"));
      assertThat(wide).isInstanceOf(InvalidRequestException.class).hasMessageContaining("1:3 and 3:1");
      assertThat(posts()).isEmpty();
    }

    @Test
    @DisplayName("gpt-image-1 (where not retired) makes three sizes only, and the error lists them")
    void fixedSizes() {
      Throwable t = failure(() -> service(config().set("retired-models", "dall-e-2").set("model", "gpt-image-1").build())
          .generateImage(request().size(1024, 768).build(), "openai"));
      assertThat(t).isInstanceOf(InvalidRequestException.class).hasMessageContaining("1024x1024, 1536x1024, 1024x1536");
      assertThat(posts()).isEmpty();
    }

    @Test
    @DisplayName("transparent background with jpeg output, or on gpt-image-2, is refused; an unknown providerOptions value too")
    void transparentJpeg() {
      stubs.success(png);
      Throwable t = failure(() -> service().generateImage(request().outputFormat("jpeg")
          .providerOption("openai", "background", "transparent").build(), "openai"));
      assertThat(t).isInstanceOf(InvalidRequestException.class).hasMessageContaining("png or webp");
      Throwable gpt2 = failure(() -> service().generateImage(request().providerOption("openai", "background", "transparent")
          .build(), "openai"));
      assertThat(gpt2).isInstanceOf(InvalidRequestException.class).hasMessageContaining("gpt-image-2 makes no transparent");
      service().generateImage(request().model("gpt-image-2.6-sunburst").providerOption("openai", "background", "transparent")
          .build(), "openai");
      assertThat(posts()).as("later models are not refused on a guess").hasSize(1);
      server.resetRequests();
      Throwable q = failure(() -> service().generateImage(request().providerOption("openai", "quality", "ultra").build(),
          "openai"));
      assertThat(q).isInstanceOf(InvalidRequestException.class).hasMessageContaining("quality");
      assertThat(posts()).isEmpty();
    }

    @Test
    @DisplayName("a strict request with a negative prompt skips this provider (soft input made hard)")
    void strictNegativePrompt() {
      ImageGenerationResponse r = service().generateImageWithFailover(request().negativePrompt("blurry").strict(true).build());
      assertThat(r.provider()).isEqualTo("backup");
      assertThat(posts()).isEmpty();
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("error table")
  class Errors {

    @Test
    @DisplayName("400 moderation_blocked: ContentPolicyException, not failed over")
    void moderationBlocked() {
      stubs.contentPolicy();
      Throwable t = failure(() -> service().generateImageWithFailover(request().build()));
      assertThat(t).isInstanceOf(ContentPolicyException.class).hasMessageContaining("moderation_blocked")
          .hasMessageContaining(OpenAIStubs.REQUEST_ID);
      assertThat(backup.calls).hasValue(0);
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("400 content_policy_violation (DALL·E): ContentPolicyException")
    void contentPolicyViolation() {
      server.stubFor(post(urlPathEqualTo(OpenAIStubs.GENERATIONS)).willReturn(OpenAIStubs.failed(400,
          OpenAIStubs.CONTENT_POLICY_VIOLATION)));
      assertThat(failure(() -> service().generateImage(request().build(), "openai"))).isInstanceOf(ContentPolicyException.class);
    }

    @Test
    @DisplayName("Azure refusals: content_policy_violation with inner_error, and contentFilter, are ContentPolicyException")
    void azureRefusals() {
      String observed = "{\"error\":{\"code\":\"content_policy_violation\",\"inner_error\":{\"code\":"
          + "\"ResponsibleAIPolicyViolation\",\"content_filter_results\":{\"sexual\":{\"filtered\":true,\"severity\":"
          + "\"high\"}}},\"message\":\"Your request was rejected as a result of our safety system.\",\"type\":null,"
          + "\"param\":\"prompt\"}}";
      assertThat(OpenAIErrors.map("openai", answer(400, observed, Map.of()), JSON, null)).isInstanceOf(ContentPolicyException.class);
      String documented = "{\"error\":{\"code\":\"contentFilter\",\"message\":\"Your task failed as a result of our safety "
          + "system.\"}}";
      assertThat(OpenAIErrors.map("openai", answer(400, documented, Map.of()), JSON, null))
          .isInstanceOf(ContentPolicyException.class);
    }

    @Test
    @DisplayName("Azure 404 DeploymentNotFound names the deployment")
    void azureDeploymentNotFound() {
      server.stubFor(post(urlPathMatching("/openai/deployments/.*")).willReturn(OpenAIStubs.failed(404, "{\"error\":{\"code\":"
          + "\"DeploymentNotFound\",\"message\":\"The API deployment for this resource does not exist.\"}}")));
      ProviderConfig c = ProviderConfig.builder("openai").set("endpoint", server.baseUrl()).set("azure-api-key", "azure-secret-0123")
          .set("deployment", "img-gone").set("flavour", "azure").build();
      assertThat(failure(() -> service(c).generateImage(request().build(), "openai"))).isInstanceOf(InvalidRequestException.class)
          .hasMessageContaining("deployment 'img-gone'");
    }

    @Test
    @DisplayName("400 invalid_request_error: InvalidRequestException naming the param, not retried")
    void invalidRequestNamesParam() {
      stubs.invalidRequest("Invalid value: '1000x1000'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.");
      Throwable t = failure(() -> service().generateImage(request().build(), "openai"));
      assertThat(t).isInstanceOf(InvalidRequestException.class).hasMessageContaining("parameter 'size'")
          .hasMessageContaining("Supported values are");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("401 invalid_api_key: AuthenticationException, fails over; the key never in the message")
    void unauthorized() {
      stubs.authenticationRefused();
      ImageGenerationService s = service();
      ImageGenerationResponse r = s.generateImageWithFailover(request().build());
      assertThat(r.provider()).isEqualTo("backup");
      assertThat(r.attempts().get(0).cause()).isInstanceOf(AuthenticationException.class);
      assertThat(r.attempts().get(0).message()).contains("invalid_api_key").doesNotContain(KEY);
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("403 region not supported: AuthenticationException")
    void forbidden() {
      server.stubFor(post(urlPathEqualTo(OpenAIStubs.GENERATIONS)).willReturn(OpenAIStubs.failed(403, OpenAIStubs.REGION)));
      assertThat(failure(() -> service().generateImage(request().build(), "openai"))).isInstanceOf(AuthenticationException.class)
          .hasMessageContaining("territory not supported");
    }

    @Test
    @DisplayName("404 model_not_found: InvalidRequestException naming the model; failover goes on as for a capability skip")
    void modelNotFound() {
      stubs.modelNotFound("gpt-image-2.9");
      Throwable t = failure(() -> service().generateImage(request().model("gpt-image-2.9").build(), "openai"));
      assertThat(t).isInstanceOf(InvalidRequestException.class).hasMessageContaining("model 'gpt-image-2.9'")
          .hasMessageContaining("model_not_found");
      assertThat(((InvalidRequestException) t).failoverMayHelp()).isTrue();

      // with failoverOnInvalidRequest off (the default), another provider still serves: it serves another model
      ImageGenerationResponse r = service().generateImageWithFailover(request().model("gpt-image-2.9").build());
      assertThat(r.provider()).isEqualTo("backup");
      assertThat(r.attempts().get(0).provider()).isEqualTo("openai");
      assertThat(r.attempts().get(0).message()).contains("model 'gpt-image-2.9'");
      assertThat(backup.calls).hasValue(1);
    }

    @Test
    @DisplayName("429 insufficient_quota: InsufficientCreditsException, no retry, fails over")
    void insufficientQuota() {
      stubs.outOfCredits();
      ImageGenerationResponse r = service().generateImageWithFailover(request().build());
      assertThat(r.provider()).isEqualTo("backup");
      assertThat(r.attempts().get(0).cause()).isInstanceOf(InsufficientCreditsException.class);
      assertThat(posts()).as("waiting does not cure it: one call").hasSize(1);
    }

    @Test
    @DisplayName("400 billing_hard_limit_reached is out of credit too; 403 unverified organisation is not a missing model")
    void billingLimitAndUnverifiedOrg() {
      String billing = OpenAIStubs.error("Billing hard limit has been reached", "invalid_request_error", null,
          "billing_hard_limit_reached");
      assertThat(OpenAIErrors.map("openai", answer(400, billing, Map.of()), JSON, null))
          .isInstanceOf(InsufficientCreditsException.class);
      String unverified = OpenAIStubs.error("Your organization must be verified to use the model `gpt-image-2`.",
          "invalid_request_error", null, null);
      assertThat(OpenAIErrors.map("openai", answer(403, unverified, Map.of()), JSON, null))
          .isInstanceOf(AuthenticationException.class);
    }

    @Test
    @DisplayName("429 rate_limit_exceeded with retry-after 1: waited out and retried")
    void rateLimitedIsRetried() {
      String sc = "rl";
      server.stubFor(post(urlPathEqualTo(OpenAIStubs.GENERATIONS)).inScenario(sc).whenScenarioStateIs("Started")
          .willReturn(OpenAIStubs.rateLimitAnswer(Duration.ofSeconds(1))).willSetStateTo("ok"));
      server.stubFor(post(urlPathEqualTo(OpenAIStubs.GENERATIONS)).inScenario(sc).whenScenarioStateIs("ok")
          .willReturn(stubs.successAnswer(png)));
      ImageGenerationResponse r = service().generateImage(request().build(), "openai");
      assertThat(r.provider()).isEqualTo("openai");
      assertThat(posts()).hasSize(2);
    }

    @Test
    @DisplayName("429 without Retry-After: the wait is the reset of the exhausted x-ratelimit budget")
    void rateLimitHeaders() {
      HttpResult r = answer(429, OpenAIStubs.RATE_LIMIT, Map.of("x-ratelimit-remaining-requests", List.of("0"),
          "x-ratelimit-reset-requests", List.of("6m0s"), "x-ratelimit-remaining-tokens", List.of("1200"),
          "x-ratelimit-reset-tokens", List.of("20ms")));
      ImageGenerationException e = OpenAIErrors.map("openai", r, JSON, null);
      assertThat(e).isInstanceOf(RateLimitedException.class).hasMessageContaining("requests 0/? left, reset in 6m0s");
      assertThat(e.retryAfter()).isEqualTo(Duration.ofMinutes(6));
      HttpResult ms = answer(429, OpenAIStubs.RATE_LIMIT, Map.of("retry-after-ms", List.of("1500"), "retry-after",
          List.of("9")));
      assertThat(OpenAIErrors.map("openai", ms, JSON, null).retryAfter()).isEqualTo(Duration.ofMillis(1500));
    }

    @Test
    @DisplayName("429 with x-should-retry: false is not retried")
    void shouldRetryFalseOn429() {
      HttpResult r = answer(429, OpenAIStubs.RATE_LIMIT, Map.of("x-should-retry", List.of("false"), "retry-after", List.of("1")));
      ImageGenerationException e = OpenAIErrors.map("openai", r, JSON, null);
      assertThat(e).isInstanceOf(ProviderUnavailableException.class);
      assertThat(e.retryMayHelp()).isFalse();
      assertThat(e.failoverMayHelp()).isTrue();
    }

    @Test
    @DisplayName("500 server_error in OpenAI's error shape: no image was made, so retried and then failed over")
    void serverErrorIsRetriedThenFailedOver() {
      stubs.serverError(null);
      ImageGenerationResponse r = service().generateImageWithFailover(request().build());
      assertThat(r.provider()).isEqualTo("backup");
      assertThat(posts()).hasSize(3); // 1 call + 2 retries, the engine's default
      assertThat(r.attempts().get(0).mayBeBilled()).isFalse();
      assertThat(r.attempts().get(0).message()).contains("HTTP 500").contains("no image was made");
    }

    @Test
    @DisplayName("500 with x-should-retry: false: not retried, failed over")
    void shouldRetryFalseIsNotRetried() {
      stubs.serverError(Boolean.FALSE);
      ImageGenerationResponse r = service().generateImageWithFailover(request().build());
      assertThat(r.provider()).isEqualTo("backup");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("a 502 page that is not OpenAI's error shape (a proxy): unknown outcome, never resubmitted")
    void aProxysErrorPageIsAnUnknownOutcome() {
      server.stubFor(post(urlPathEqualTo(OpenAIStubs.GENERATIONS)).willReturn(aResponse().withStatus(502)
          .withHeader("Content-Type", "text/html").withBody("<html><body>502 Bad Gateway</body></html>")));
      Throwable t = failure(() -> service().generateImageWithFailover(request().build()));
      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("HTTP 502");
      assertThat(((ProviderUnavailableException) t).outcomeUnknown()).isTrue();
      assertThat(posts()).hasSize(1);
      assertThat(backup.calls).hasValue(0);
    }

    @Test
    @DisplayName("500 with x-should-retry: true: the server says it may be repeated, so it is retried")
    void shouldRetryTrueIsRetried() {
      String sc = "retry";
      server.stubFor(post(urlPathEqualTo(OpenAIStubs.GENERATIONS)).inScenario(sc).whenScenarioStateIs("Started")
          .willReturn(OpenAIStubs.failed(500, OpenAIStubs.SERVER_ERROR).withHeader("x-should-retry", "true"))
          .willSetStateTo("ok"));
      server.stubFor(post(urlPathEqualTo(OpenAIStubs.GENERATIONS)).inScenario(sc).whenScenarioStateIs("ok")
          .willReturn(stubs.successAnswer(png)));
      ImageGenerationResponse r = service().generateImage(request().build(), "openai");
      assertThat(r.provider()).isEqualTo("openai");
      assertThat(posts()).hasSize(2);
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("faults")
  class Faults {

    @Test
    @DisplayName("connection reset after the POST: unknown outcome, one call")
    void reset() {
      server.stubFor(post(urlPathEqualTo(OpenAIStubs.GENERATIONS)).willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
      Throwable t = failure(() -> service().generateImageWithFailover(request().build()));
      assertThat(t).isInstanceOf(ProviderUnavailableException.class);
      assertThat(((ProviderUnavailableException) t).outcomeUnknown()).isTrue();
      assertThat(posts()).hasSize(1);
      assertThat(backup.calls).as("a billed image may exist: not tried elsewhere by default").hasValue(0);
    }

    @Test
    @DisplayName("200 with data: [] is a failure, not a success")
    void emptyData() {
      server.stubFor(post(urlPathEqualTo(OpenAIStubs.GENERATIONS)).willReturn(OpenAIStubs.ok("{\"created\":1,\"data\":[]}")));
      assertThat(failure(() -> service().generateImage(request().build(), "openai")))
          .isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("no image");
    }

    @Test
    @DisplayName("base64 beyond max-image-bytes is refused before decoding, naming the limit")
    void oversized() {
      stubs.success(StubImages.webp(64, 64, 1, 50_000));
      Throwable t = failure(() -> service(config().set("max-image-bytes", "10000").build()).generateImage(request().build(),
          "openai"));
      assertThat(t).isInstanceOf(ImageGenerationException.class).hasMessageContaining("10000");
    }

    @Test
    @DisplayName("malformed JSON: a clear error, outcome unknown")
    void malformed() {
      stubs.malformedJson();
      Throwable t = failure(() -> service().generateImage(request().build(), "openai"));
      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("malformed JSON");
      assertThat(posts()).hasSize(1);
    }

    @Test
    @DisplayName("a body that dribbles past the deadline still ends on time")
    void slowBody() {
      server.stubFor(post(urlPathEqualTo(OpenAIStubs.GENERATIONS)).willReturn(stubs.successAnswer(png)
          .withChunkedDribbleDelay(50, 10_000)));
      long t0 = System.nanoTime();
      Throwable t = failure(() -> service().generateImage(request().timeout(Duration.ofSeconds(2)).build(), "openai"));
      assertThat(t).isInstanceOf(ImageGenerationException.class);
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(6));
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("cost")
  class Costs {

    @Test
    @DisplayName("usage priced per token kind: gpt-image-1, 10 text + 40 image in, 1056 out = $0.04269")
    void gptImage1FromUsage() {
      stubs.success(png);
      ImageGenerationResponse r = service(config().set("retired-models", "dall-e-2").set("model", "gpt-image-1").build())
          .generateImage(request().build(), "openai");
      // 10 x $5 + 40 x $10 + 1056 x $40 per 1M; pricing the 40 image tokens as text would give $0.04249
      assertThat(r.cost().amount()).isEqualByComparingTo("0.04269");
      assertThat(r.cost().source()).isEqualTo(Cost.Source.PROVIDER_REPORTED);
    }

    @Test
    @DisplayName("gpt-image-2: 10 x $5 + 40 x $8 + 1056 x $30 per 1M = $0.03205, over the estimate")
    void gptImage2FromUsage() {
      stubs.success(png);
      ImageGenerationResponse r = service().generateImage(request().size(1024, 1024).providerOption("openai", "quality", "high")
          .build(), "openai");
      assertThat(r.cost().amount()).isEqualByComparingTo("0.03205");
      assertThat(r.cost().source()).isEqualTo(Cost.Source.PROVIDER_REPORTED);
    }

    @Test
    @DisplayName("one entry of the table overridden by configuration: image-output $40 for gpt-image-2")
    void overrideOneEntry() {
      stubs.success(png);
      ImageGenerationResponse r = service(config().set("price.gpt-image-2.image-output", "40").build())
          .generateImage(request().build(), "openai");
      assertThat(r.cost().amount()).isEqualByComparingTo("0.04261"); // 50 + 320 + 42240 micro-dollars per token unit
    }

    @Test
    @DisplayName("usage without the input split on an edit: input priced as images, marked an estimate")
    void usageWithoutSplit() {
      OpenAIPrices p = (OpenAIPrices) new OpenAIProviderFactory().create(config().build()).costModel();
      OpenAIWire.Usage u = new OpenAIWire.Usage(100L, 1000L, 1100L, null, null);
      Cost c = p.fromUsage("gpt-image-2", u, true);
      assertThat(c).isNotNull();
      assertThat(c.amount()).isEqualByComparingTo("0.0308"); // 100 x 8 + 1000 x 30 per 1M
      assertThat(c.source()).isEqualTo(Cost.Source.ESTIMATED);
      assertThat(p.fromUsage("gpt-image-2", u, false).amount()).isEqualByComparingTo("0.0305"); // 100 x 5 + 1000 x 30
    }

    @Test
    @DisplayName("output split into image and text tokens: text at the text-output price ($10 for gpt-image-2)")
    void outputTextTokens() {
      OpenAIPrices p = (OpenAIPrices) new OpenAIProviderFactory().create(config().build()).costModel();
      OpenAIWire.Usage u = new OpenAIWire.Usage(169L, 4599L, 4768L, new OpenAIWire.Details(169L, 0L),
          new OpenAIWire.Details(439L, 4160L));
      // 169 x $5 + 4160 x $30 + 439 x $10 per 1M; all 4599 output tokens as image would give $0.138815
      Cost c = p.fromUsage("gpt-image-2", u, false);
      assertThat(c).isNotNull();
      assertThat(c.amount()).isEqualByComparingTo("0.130035");
      assertThat(c.source()).isEqualTo(Cost.Source.PROVIDER_REPORTED);
      // no text-output price known (gpt-image-1): the protocol's formula, every output token as image output
      assertThat(p.fromUsage("gpt-image-1", u, false).amount()).isEqualByComparingTo("0.184805"); // 169 x 5 + 4599 x 40
    }

    @Test
    @DisplayName("estimate from the same table: high 1024x1024 = 7024 tokens x $30; auto estimated medium, reserved high")
    void estimateBeforeTheCall() {
      ImageGenerationService s = service();
      ImageGenerationRequest high = request().prompt("abcdefghijklmnopqrst").size(1024, 1024)
          .providerOption("openai", "quality", "high").build();
      // 7024 x $30 + 5 text tokens x $5 per 1M
      assertThat(s.estimateCosts(high).get("openai").amount()).isEqualByComparingTo("0.210745");
      ImageGenerationRequest auto = request().prompt("abcdefghijklmnopqrst").size(1024, 1024).build();
      CostModel m = new OpenAIProviderFactory().create(config().build()).costModel();
      assertThat(m.estimate(auto).amount()).isEqualByComparingTo("0.052705"); // 1756 x 30 + 5 x 5
      assertThat(m.maximum(auto, Duration.ofMinutes(1)).amount()).isEqualByComparingTo("0.21082"); // 7024 x 30 + 20 x 5
    }

    @Test
    @DisplayName("a model without prices costs unknown, never $0; price.<model> gives a per-image price")
    void unknownPriceIsUnknown() {
      CostModel m = new OpenAIProviderFactory().create(config().build()).costModel();
      assertThat(m.estimate(request().model("gpt-image-2.5-flare").build()).isKnown()).isFalse();
      CostModel priced = new OpenAIProviderFactory().create(config().set("price.gpt-image-2.5-flare", "0.05").build()).costModel();
      assertThat(priced.estimate(request().model("gpt-image-2.5-flare").numImages(2).build()).amount())
          .isEqualByComparingTo("0.10");
    }

    @Test
    @DisplayName("price keys that do not fit token billing are refused, naming the key")
    void badPriceKeys() {
      assertThatThrownBy(() -> new OpenAIProviderFactory().create(config().set("price-per-megapixel", "0.01").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("price-per-megapixel");
      assertThatThrownBy(() -> new OpenAIProviderFactory().create(config().set("price.gpt-image-2.text-input", "cheap").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("price.gpt-image-2.text-input");
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("flavours")
  class Flavours {

    @Test
    @DisplayName("Azure: deployment path, api-version query, api-key header, no Bearer")
    void azure() {
      stubs.azureSuccess("img-prod", OpenAIProvider.DEFAULT_API_VERSION, png);
      ProviderConfig c = ProviderConfig.builder("openai").set("endpoint", server.baseUrl()).set("azure-api-key", "azure-secret-0123")
          .set("deployment", "img-prod").set("flavour", "azure").build();
      ImageGenerationResponse r = service(c).generateImage(request().build(), "openai");
      assertThat(r.metadata()).containsEntry("azure_deployment", "img-prod").containsEntry("openai_flavour", "azure");
      LoggedRequest sent = server.findAll(postRequestedFor(urlPathEqualTo("/openai/deployments/img-prod/images/generations")))
          .get(0);
      assertThat(sent.getUrl()).endsWith("?api-version=" + OpenAIProvider.DEFAULT_API_VERSION);
      assertThat(sent.getHeader("api-key")).isEqualTo("azure-secret-0123");
      assertThat(sent.containsHeader("Authorization")).isFalse();
    }

    @Test
    @DisplayName("Azure v1 surface: /openai/v1/images/generations, no api-version, the deployment as model")
    void azureV1() throws Exception {
      server.stubFor(post(urlPathEqualTo("/openai/v1/images/generations")).willReturn(stubs.successAnswer(png)));
      ProviderConfig c = ProviderConfig.builder("openai").set("endpoint", server.baseUrl()).set("azure-api-key", "azure-secret-0123")
          .set("deployment", "img-prod").set("api-version", "v1").build();
      service(c).generateImage(request().build(), "openai");
      LoggedRequest sent = server.findAll(postRequestedFor(urlPathEqualTo("/openai/v1/images/generations"))).get(0);
      assertThat(sent.getUrl()).doesNotContain("api-version");
      assertThat(body(sent).path("model").asText()).isEqualTo("img-prod");
      assertThat(sent.getHeader("api-key")).isEqualTo("azure-secret-0123");
    }

    @Test
    @DisplayName("Azure without a deployment is a configuration error naming the key")
    void azureNeedsDeployment() {
      assertThatThrownBy(() -> new OpenAIProviderFactory().create(ProviderConfig.builder("openai")
          .set("endpoint", "https://res.openai.azure.com").set("azure-api-key", "k").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("'deployment'");
    }

    @Test
    @DisplayName("a compatible server (Together-like): its response_format spelling, width/height, no usage, cost unknown not $0")
    void compatibleServer() throws Exception {
      server.stubFor(post(urlPathEqualTo(OpenAIStubs.GENERATIONS)).willReturn(OpenAIStubs.ok(OpenAIStubs.together(
          "black-forest-labs/FLUX.1-schnell", png))));
      ProviderConfig c = ProviderConfig.builder("openai").apiKey("tgp_v1_secret").baseUrl(server.baseUrl() + "/v1")
          .set("model", "black-forest-labs/FLUX.1-schnell").set("response-format", "base64").build();
      ImageGenerationResponse r = service(c).generateImage(request().size(1024, 768).seed(3L).negativePrompt("blurry").build(),
          "openai");
      assertThat(r.image().bytes()).isEqualTo(png.bytes());
      assertThat(r.model()).isEqualTo("black-forest-labs/FLUX.1-schnell");
      assertThat(r.metadata()).containsEntry("openai_flavour", "compatible");
      assertThat(r.cost().isKnown()).isFalse();
      assertThat(body(posts().get(0))).isEqualTo(JSON.readTree("{\"model\":\"black-forest-labs/FLUX.1-schnell\","
          + "\"prompt\":\"a red fox in the snow\",\"n\":1,\"size\":\"1024x768\",\"response_format\":\"base64\",\"width\":1024,"
          + "\"height\":768,\"negative_prompt\":\"blurry\",\"seed\":3}"));

      ProviderConfig priced = ProviderConfig.builder("openai").baseUrl(server.baseUrl() + "/v1")
          .set("model", "black-forest-labs/FLUX.1-schnell").set("price.black-forest-labs/FLUX.1-schnell", "0.0027").build();
      assertThat(service(priced).generateImage(request().build(), "openai").cost().amount()).isEqualByComparingTo("0.0027");
    }

    @Test
    @DisplayName("flavour inferred from the keys, and overridable")
    void inference() {
      assertThat(OpenAIFlavour.of(ProviderConfig.builder("openai").apiKey("k").build())).isEqualTo(OpenAIFlavour.OPENAI);
      assertThat(OpenAIFlavour.of(ProviderConfig.builder("openai").baseUrl("https://eu.api.openai.com/v1").build()))
          .isEqualTo(OpenAIFlavour.OPENAI);
      assertThat(OpenAIFlavour.of(ProviderConfig.builder("openai").baseUrl("http://localhost:8080/v1").build()))
          .isEqualTo(OpenAIFlavour.COMPATIBLE);
      assertThat(OpenAIFlavour.of(ProviderConfig.builder("openai").baseUrl("https://res.openai.azure.com").build()))
          .isEqualTo(OpenAIFlavour.AZURE);
      assertThat(OpenAIFlavour.of(ProviderConfig.builder("openai").set("endpoint", "https://x.example").build()))
          .isEqualTo(OpenAIFlavour.AZURE);
      assertThat(OpenAIFlavour.of(ProviderConfig.builder("openai").baseUrl("http://localhost:1/v1").set("flavour", "openai")
          .build())).isEqualTo(OpenAIFlavour.OPENAI);
      assertThatThrownBy(() -> OpenAIFlavour.of(ProviderConfig.builder("openai").set("flavour", "bedrock").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("flavour");
    }

    @Test
    @DisplayName("the customary variables fill the keys")
    void customaryVariables() {
      ProviderConfig c = ProviderConfig.from("openai", Map.of("OPENAI_API_KEY", "sk-a", "OPENAI_BASE_URL", "http://h:1/v1",
          "AZURE_OPENAI_API_KEY", "az", "AZURE_OPENAI_ENDPOINT", "https://r.openai.azure.com"), new java.util.Properties(),
          new OpenAIProviderFactory().customaryEnvironment());
      assertThat(c.get("api-key")).hasValue("sk-a");
      assertThat(c.get("base-url")).hasValue("http://h:1/v1");
      assertThat(c.get("azure-api-key")).hasValue("az");
      assertThat(c.get("endpoint")).hasValue("https://r.openai.azure.com");
    }
  }

  // ------------------------------------------------------------------------------------------
  @Nested
  @DisplayName("health and small parts")
  class Health {

    @Test
    @DisplayName("health reads GET /models/{model}: UP for a good key, AUTH_FAILED for a refused one")
    void health() {
      stubs.healthy();
      ImageGenerationService s = service();
      assertThat(s.testConnection("openai").state()).isEqualTo(ProviderHealth.State.UP);
      assertThat(server.findAll(getRequestedFor(urlPathEqualTo("/v1/models/gpt-image-2")))).hasSize(1);
      server.resetAll();
      stubs.healthAuthRefused();
      assertThat(service().testConnection("openai").state()).isEqualTo(ProviderHealth.State.AUTH_FAILED);
    }

    @Test
    @DisplayName("a shutdown_date on the model reports DEGRADED")
    void shutdownDate() {
      server.stubFor(get(urlPathMatching(OpenAIStubs.MODELS)).willReturn(OpenAIStubs.ok("{\"id\":\"gpt-image-2\","
          + "\"object\":\"model\",\"shutdown_date\":\"2027-03-01\"}")));
      ProviderHealth h = service().testConnection("openai");
      assertThat(h.state()).isEqualTo(ProviderHealth.State.DEGRADED);
      assertThat(h.message()).contains("2027-03-01");
    }

    @Test
    @DisplayName("reset durations as OpenAI writes them")
    void durations() {
      assertThat(OpenAIErrors.parseDuration("6m0s")).isEqualTo(Duration.ofMinutes(6));
      assertThat(OpenAIErrors.parseDuration("20ms")).isEqualTo(Duration.ofMillis(20));
      assertThat(OpenAIErrors.parseDuration("1h2m3.5s")).isEqualTo(Duration.ofMillis(3_723_500));
      assertThat(OpenAIErrors.parseDuration("soon")).isNull();
      assertThat(OpenAIErrors.parseDuration("5x")).isNull();
    }

    @Test
    @DisplayName("the stream stub is the protocol's SSE shape: two partials, then completed with usage")
    void streamStub() {
      String sse = OpenAIStubs.stream(png, png);
      assertThat(sse.split("event: image_generation.partial_image", -1)).hasSize(3);
      assertThat(sse).contains("\"type\":\"image_generation.completed\"", "\"usage\":{\"input_tokens\":50");
    }
  }

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
