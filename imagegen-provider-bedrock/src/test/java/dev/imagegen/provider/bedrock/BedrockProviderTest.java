package dev.imagegen.provider.bedrock;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.Cost;
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
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.BedrockStubs;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Bedrock's own behaviour, against WireMock answering InvokeModel's wire format (protocols/bedrock-images.md). */
class BedrockProviderTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SECRET = "wJalrXUtnFEMI-bedrock-test-secret-0001";
  private static final String KEY_ID = "AKIABEDROCKTEST00001";
  private static final String NOVA = BedrockModels.NOVA_CANVAS;

  private WireMockServer server;
  private BedrockStubs stubs;
  private ImageGenerationService service;

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    stubs = new BedrockStubs(server);
  }

  @AfterEach
  void stop() {
    if (service != null) {
      service.close();
    }
    server.stop();
  }

  private ImageGenerationService service(String... keyValues) {
    return service(3, keyValues);
  }

  private ImageGenerationService service(int retries, String... keyValues) {
    service = ImageGenerationService.builder().provider(new BedrockProviderFactory(), config(keyValues))
        .retryBackoff(Duration.ofMillis(5), Duration.ofMillis(20)).maxRetries(retries).build();
    return service;
  }

  private ProviderConfig config(String... keyValues) {
    ProviderConfig.Builder b = ProviderConfig.builder("bedrock").baseUrl(server.baseUrl()).set("region", "us-west-2")
        .set("access-key-id", KEY_ID).set("secret-access-key", SECRET);
    for (int i = 0; i < keyValues.length; i += 2) {
      b.set(keyValues[i], keyValues[i + 1]);
    }
    return b.build();
  }

  private static ImageGenerationRequest.Builder request() {
    return ImageGenerationRequest.builder().prompt("a red fox in snow");
  }

  private ImageGenerationResponse generate(ImageGenerationRequest r) {
    return service == null ? service().generateImage(r, "bedrock") : service.generateImage(r, "bedrock");
  }

  private Throwable failure(ImageGenerationRequest r) {
    return catchThrowable(() -> generate(r));
  }

  private List<LoggedRequest> invokes() {
    return server.findAll(postRequestedFor(urlPathMatching(BedrockStubs.INVOKE_PATH)));
  }

  private LoggedRequest onlyInvoke() {
    List<LoggedRequest> all = invokes();
    assertThat(all).as("exactly one InvokeModel call").hasSize(1);
    return all.get(0);
  }

  private static JsonNode body(LoggedRequest r) throws Exception {
    return JSON.readTree(r.getBodyAsString());
  }

  private static String b64(StubImage i) {
    return Base64.getEncoder().encodeToString(i.bytes());
  }

  private void novaAnswers(StubImage... images) {
    StringBuilder b = new StringBuilder("{\"images\":[");
    for (int i = 0; i < images.length; i++) {
      b.append(i == 0 ? "" : ",").append('"').append(b64(images[i])).append('"');
    }
    server.stubFor(stubs.submitStub().willReturn(BedrockStubs.ok(b.append("]}").toString())));
  }

  private void errorAnswer(int status, String type, String message) {
    server.stubFor(stubs.submitStub().willReturn(stubs.error(status, type, message)));
  }

  // ================================================================== request mapping

  @Nested
  class RequestMapping {
    @Test
    void novaTextToImageSendsNovasFieldsSignedWithSigV4ForTheRegion() throws Exception {
      novaAnswers(StubImages.png(1024, 768, 12), StubImages.png(1024, 768, 12));

      ImageGenerationResponse r = service().generateImage(request().negativePrompt("blurry").size(1024, 768).seed(12L)
          .guidanceScale(6.5).numImages(2).steps(30).providerOption("bedrock", "quality", "premium")
          .providerOption("bedrock", "style", "photorealism").build(), "bedrock");

      assertThat(r.images()).hasSize(2);
      assertThat(r.model()).isEqualTo(NOVA);
      assertThat(r.image().seed()).isEqualTo(12L);
      assertThat(r.warnings()).anyMatch(w -> w.contains("steps"));
      LoggedRequest sent = onlyInvoke();
      assertThat(sent.getUrl()).as("the colon of the model id is percent-encoded").isEqualTo(
          "/model/amazon.nova-canvas-v1%3A0/invoke");
      assertThat(sent.getHeader("Authorization")).startsWith("AWS4-HMAC-SHA256 Credential=" + KEY_ID + "/")
          .contains("/us-west-2/bedrock/aws4_request").contains("Signature=");
      assertThat(sent.getHeader("X-Amz-Date")).isNotBlank();
      assertThat(sent.getHeader("Content-Type")).startsWith("application/json");
      assertThat(sent.getHeader("Accept")).isEqualTo("application/json");
      assertThat(sent.getHeader("X-Amz-Security-Token")).isNull();
      assertThat(sent.getHeaders().all()).noneMatch(h -> h.values().stream().anyMatch(v -> v.contains(SECRET)));
      assertThat(body(sent)).isEqualTo(JSON.readTree("{\"taskType\":\"TEXT_IMAGE\",\"textToImageParams\":{\"text\":"
          + "\"a red fox in snow\",\"negativeText\":\"blurry\",\"style\":\"PHOTOREALISM\"},\"imageGenerationConfig\":"
          + "{\"numberOfImages\":2,\"width\":1024,\"height\":768,\"quality\":\"premium\",\"cfgScale\":6.5,\"seed\":12}}"));
    }

    @Test
    void negativeTextIsLeftOutNotSentAsNull() throws Exception {
      novaAnswers(StubImages.png(1024, 1024, 1));

      generate(request().build());

      JsonNode params = body(onlyInvoke()).get("textToImageParams");
      assertThat(params.has("negativeText")).isFalse();
      assertThat(body(onlyInvoke()).get("imageGenerationConfig").get("width").asInt()).as("Nova's default size").isEqualTo(1024);
    }

    @Test
    void aBedrockBearerTokenInTheEnvironmentDoesNotReplaceSigV4() {
      novaAnswers(StubImages.png(1024, 1024, 1));
      System.setProperty("aws.bearerTokenBedrock", "bedrock-api-key-from-elsewhere");
      try {
        service().generateImage(request().build(), "bedrock");
      } finally {
        System.clearProperty("aws.bearerTokenBedrock");
      }

      assertThat(onlyInvoke().getHeader("Authorization")).startsWith("AWS4-HMAC-SHA256 Credential=" + KEY_ID + "/");
    }

    @Test
    void sessionTokenTravelsAsSecurityToken() {
      novaAnswers(StubImages.png(1024, 1024, 1));

      service("session-token", "FwoGZXIvYXdzEXAMPLETOKEN").generateImage(request().build(), "bedrock");

      assertThat(onlyInvoke().getHeader("X-Amz-Security-Token")).isEqualTo("FwoGZXIvYXdzEXAMPLETOKEN");
    }

    @Test
    void apiKeyIsReadAsTheSecretAccessKey() {
      novaAnswers(StubImages.png(1024, 1024, 1));
      service = ImageGenerationService.builder().provider(new BedrockProviderFactory(), ProviderConfig.builder("bedrock")
          .baseUrl(server.baseUrl()).set("region", "eu-west-1").set("access-key-id", KEY_ID).apiKey(SECRET).build()).build();

      generate(request().build());

      assertThat(onlyInvoke().getHeader("Authorization")).contains("/eu-west-1/bedrock/aws4_request");
    }

    @Test
    void maskAndInitImageMakeAnInpaintingTaskWithoutSize() throws Exception {
      StubImage init = StubImages.png(512, 512, 1);
      StubImage mask = StubImages.png(512, 512, 2);
      novaAnswers(StubImages.png(512, 512, 3));

      ImageGenerationResponse r = generate(request().size(1024, 1024)
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, init.bytes()))
          .inputImage(InputImage.ofBytes(InputImage.Role.MASK, mask.bytes())).build());

      JsonNode b = body(onlyInvoke());
      assertThat(b.get("taskType").asText()).isEqualTo("INPAINTING");
      assertThat(b.get("inPaintingParams").get("image").asText()).isEqualTo(b64(init));
      assertThat(b.get("inPaintingParams").get("maskImage").asText()).isEqualTo(b64(mask));
      assertThat(b.get("inPaintingParams").get("text").asText()).isEqualTo("a red fox in snow");
      assertThat(b.get("imageGenerationConfig").has("width")).isFalse();
      assertThat(r.warnings()).anyMatch(w -> w.contains("inpainting keeps the init image's size"));
    }

    @Test
    void referenceImagesMakeAVariationWithTheirSimilarityOption() throws Exception {
      StubImage a = StubImages.png(64, 64, 1);
      StubImage b = StubImages.png(64, 64, 2);
      novaAnswers(StubImages.png(1024, 1024, 3));

      generate(request().providerOption("bedrock", "similarityStrength", 0.9)
          .inputImage(InputImage.ofBytes(InputImage.Role.REFERENCE, a.bytes()))
          .inputImage(InputImage.ofBytes(InputImage.Role.REFERENCE, b.bytes())).build());

      JsonNode body = body(onlyInvoke());
      assertThat(body.get("taskType").asText()).isEqualTo("IMAGE_VARIATION");
      assertThat(body.get("imageVariationParams").get("images")).hasSize(2);
      assertThat(body.get("imageVariationParams").get("images").get(1).asText()).isEqualTo(b64(b));
      assertThat(body.get("imageVariationParams").get("similarityStrength").asDouble()).isEqualTo(0.9);
      assertThat(body.get("imageGenerationConfig").get("width").asInt()).isEqualTo(1024);
    }

    @Test
    void anInitImageWithoutMaskIsAVariationWithSimilarityFromStrength() throws Exception {
      StubImage init = StubImages.png(64, 64, 1);
      novaAnswers(StubImages.png(1024, 1024, 3));

      generate(request().strength(0.3).inputImage(InputImage.ofBytes(InputImage.Role.INIT, init.bytes())).build());

      JsonNode body = body(onlyInvoke());
      assertThat(body.get("taskType").asText()).isEqualTo("IMAGE_VARIATION");
      assertThat(body.get("imageVariationParams").get("images").get(0).asText()).isEqualTo(b64(init));
      assertThat(body.get("imageVariationParams").get("similarityStrength").asDouble()).isEqualTo(0.7);
    }

    @Test
    void sixImagesToVaryAreRefused() {
      byte[] png = StubImages.png(64, 64, 1).bytes();
      ImageGenerationRequest.Builder b = request().inputImage(InputImage.ofBytes(InputImage.Role.INIT, png));
      for (int i = 0; i < 5; i++) {
        b.inputImage(InputImage.ofBytes(InputImage.Role.REFERENCE, png));
      }

      assertThat(failure(b.build())).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("at most 5");
      assertThat(invokes()).isEmpty();
    }

    @Test
    void stabilityGetsItsOwnBodyAndReportsItsSeed() throws Exception {
      StubImage img = StubImages.png(1344, 768, 2130420379L);
      stubs.stabilitySuccess(img);

      ImageGenerationResponse r = generate(request().model("sd3.5-large").size(1344, 768).negativePrompt("blurry")
          .seed(7L).guidanceScale(5.0).outputFormat("jpeg").build());

      assertThat(r.model()).isEqualTo(BedrockModels.SD35_LARGE);
      assertThat(r.image().seed()).as("the seed Bedrock reported").isEqualTo(2130420379L);
      assertThat(r.warnings()).anyMatch(w -> w.contains("guidance")).anyMatch(w -> w.contains("aspect_ratio 16:9"));
      LoggedRequest sent = onlyInvoke();
      assertThat(sent.getUrl()).isEqualTo("/model/stability.sd3-5-large-v1%3A0/invoke");
      assertThat(body(sent)).isEqualTo(JSON.readTree("{\"prompt\":\"a red fox in snow\",\"negative_prompt\":\"blurry\","
          + "\"mode\":\"text-to-image\",\"aspect_ratio\":\"16:9\",\"seed\":7,\"output_format\":\"jpeg\"}"));
    }

    @Test
    void ultraAndCoreGetNoMode() throws Exception {
      stubs.stabilitySuccess(StubImages.png(64, 64, 1));

      generate(request().model("stable-image-ultra").build());

      JsonNode b = body(onlyInvoke());
      assertThat(b.has("mode")).isFalse();
      assertThat(b.has("aspect_ratio")).as("no size asked: the model's default 1:1").isFalse();
      assertThat(onlyInvoke().getUrl()).isEqualTo("/model/stability.stable-image-ultra-v1%3A1/invoke");
    }

    @Test
    void sd35ImageToImageSendsImageAndStrength() throws Exception {
      StubImage init = StubImages.png(64, 64, 1);
      stubs.stabilitySuccess(StubImages.png(64, 64, 2));

      generate(request().model(BedrockModels.SD35_LARGE).strength(0.55)
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, init.bytes())).build());

      JsonNode b = body(onlyInvoke());
      assertThat(b.get("mode").asText()).isEqualTo("image-to-image");
      assertThat(b.get("image").asText()).isEqualTo(b64(init));
      assertThat(b.get("strength").asDouble()).isEqualTo(0.55);
      assertThat(b.has("aspect_ratio")).isFalse();
    }

    @Test
    void seedOutsideNovasRangeIsFoldedWithAWarning() throws Exception {
      novaAnswers(StubImages.png(1024, 1024, 1));

      ImageGenerationResponse r = generate(request().seed(858_993_460L).build());

      assertThat(body(onlyInvoke()).get("imageGenerationConfig").get("seed").asLong()).isZero();
      assertThat(r.warnings()).anyMatch(w -> w.contains("seed 858993460 sent as 0"));
    }
  }

  // ================================================================== capabilities

  @Nested
  class Capabilities {
    @Test
    void twoImagesFromStabilityAreRefusedBeforeSending() {
      Throwable t = failure(request().model("stable-image-core").numImages(2).build());

      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("one per call")
          .hasMessageContaining("nothing was sent");
      assertThat(((ImageGenerationException) t).failoverMayHelp()).isTrue();
      assertThat(invokes()).isEmpty();
    }

    @Test
    void aMaskOnStabilityIsRefusedBeforeSending() {
      byte[] png = StubImages.png(64, 64, 1).bytes();
      Throwable t = failure(request().model("sd3.5-large").inputImage(InputImage.ofBytes(InputImage.Role.INIT, png))
          .inputImage(InputImage.ofBytes(InputImage.Role.MASK, png)).build());

      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("mask");
      assertThat(invokes()).isEmpty();
    }

    @Test
    void initImageOnUltraIsRefused() {
      Throwable t = failure(request().model("stable-image-ultra")
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, StubImages.png(64, 64, 1).bytes())).build());

      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("image to image");
      assertThat(invokes()).isEmpty();
    }

    @Test
    void novaSizeOutsideItsRatioIsRefused() {
      Throwable t = failure(request().size(320, 1600).build());

      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("1:4 and 4:1");
      assertThat(invokes()).isEmpty();
    }

    @Test
    void novaSizeOfFourMegapixelsIsRefused() {
      Throwable t = failure(request().size(2048, 2048).build());

      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("4,194,304");
      assertThat(invokes()).isEmpty();
    }

    @Test
    void promptLongerThanNovasLimitIsRefusedButStabilityTakesIt() {
      String longPrompt = "fox ".repeat(300);
      assertThat(failure(request().prompt(longPrompt).build())).isInstanceOf(ProviderUnavailableException.class)
          .hasMessageContaining("1024");
      assertThat(invokes()).isEmpty();

      stubs.stabilitySuccess(StubImages.png(64, 64, 1));
      generate(request().prompt(longPrompt).model("stable-image-core").build());
      assertThat(invokes()).hasSize(1);
    }

    @Test
    void aModelThatIsNoBedrockImageModelIsSkippedByRouting() {
      Throwable t = failure(request().model("dall-e-3").build());

      assertThat(t).isInstanceOf(ImageGenerationException.class).hasMessageContaining("dall-e-3");
      assertThat(invokes()).isEmpty();
    }

    @Test
    void inferenceProfileIdsPassThroughWithTheirFamilysBody() throws Exception {
      novaAnswers(StubImages.png(1024, 1024, 1));

      generate(request().model("us.amazon.nova-canvas-v1:0").build());

      assertThat(onlyInvoke().getUrl()).isEqualTo("/model/us.amazon.nova-canvas-v1%3A0/invoke");
      assertThat(body(onlyInvoke()).get("taskType").asText()).isEqualTo("TEXT_IMAGE");
    }

    @Test
    void unknownStyleOrOptionIsAnInvalidRequest() {
      assertThat(failure(request().providerOption("bedrock", "style", "cubism").build()))
          .isInstanceOf(InvalidRequestException.class).hasMessageContaining("cubism");
      assertThat(failure(request().providerOption("bedrock", "cfg_scale", 7).build()))
          .isInstanceOf(InvalidRequestException.class).hasMessageContaining("cfg_scale");
      assertThat(invokes()).isEmpty();
    }

    @Test
    void strictRequestWithStepsIsNotServed() {
      Throwable t = failure(request().steps(30).strict(true).build());

      assertThat(t).isInstanceOf(ImageGenerationException.class).hasMessageContaining("steps");
      assertThat(invokes()).isEmpty();
    }

    @Test
    void capabilitiesAreWhatNovaOffers() {
      BedrockProvider p = new BedrockProvider(config());
      try {
        assertThat(p.capabilities().maxImagesPerRequest()).isEqualTo(5);
        assertThat(p.capabilities().maxReferenceImages()).isEqualTo(5);
        assertThat(p.capabilities().mask()).isTrue();
        assertThat(p.capabilities().cancellable()).isFalse();
        assertThat(p.capabilities().free()).isFalse();
        assertThat(p.capabilities().ignoredInputs(request().model("stable-image-core").build()))
            .contains(dev.imagegen.spi.SoftInput.GUIDANCE);
        assertThat(p.capabilities().ignoredInputs(request().build())).doesNotContain(dev.imagegen.spi.SoftInput.GUIDANCE);
      } finally {
        p.close();
      }
    }
  }

  // ================================================================== error rows

  @Nested
  class Errors {
    @Test
    void validationExceptionWithTheContentFilterTextIsAContentPolicyRefusal() {
      stubs.contentPolicy();

      Throwable t = failure(request().build());

      assertThat(t).isInstanceOf(ContentPolicyException.class).hasMessageContaining("blocked by our content filters");
      assertThat(invokes()).hasSize(1);
    }

    @Test
    void validationExceptionForAnInputImageIsAContentPolicyRefusal() {
      errorAnswer(400, "ValidationException", "This request has been blocked by our content filters. Please adjust your "
          + "input image to submit a new request.");

      assertThat(failure(request().build())).isInstanceOf(ContentPolicyException.class);
    }

    @Test
    void otherValidationExceptionIsAnInvalidRequestWithBedrocksText() {
      errorAnswer(400, "ValidationException", "1 validation error detected: Value at 'width' failed to satisfy constraint");

      Throwable t = failure(request().build());

      assertThat(t).isInstanceOf(InvalidRequestException.class).hasMessageContaining("failed to satisfy constraint")
          .hasMessageContaining("ValidationException");
      assertThat(invokes()).hasSize(1);
    }

    @Test
    void serviceQuotaExceededIsOutOfCreditWithFailover() {
      stubs.outOfCredits();

      Throwable t = failure(request().build());

      assertThat(t).isInstanceOf(InsufficientCreditsException.class).hasMessageContaining("quota");
      assertThat(((ImageGenerationException) t).failoverMayHelp()).isTrue();
      assertThat(invokes()).hasSize(1);
    }

    @Test
    void accessDeniedIsAnAuthenticationFailure() {
      errorAnswer(403, "AccessDeniedException", "You don't have access to the model with the specified model ID.");

      Throwable t = failure(request().build());

      assertThat(t).isInstanceOf(AuthenticationException.class).hasMessageContaining("bedrock:InvokeModel")
          .hasMessageContaining("You don't have access");
      assertThat(invokes()).hasSize(1);
    }

    @Test
    void unrecognizedClientIsAnAuthenticationFailureWithoutTheSecret() {
      stubs.authenticationRefused();

      Throwable t = failure(request().build());

      assertThat(t).isInstanceOf(AuthenticationException.class).hasMessageContaining("UnrecognizedClientException");
      assertThat(String.valueOf(t.getMessage())).doesNotContain(SECRET);
    }

    @Test
    void resourceNotFoundFailsOverNamingTheRegion() {
      errorAnswer(404, "ResourceNotFoundException", "The requested resource could not be found.");

      Throwable t = failure(request().build());

      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("us-west-2")
          .hasMessageContaining("end of life");
      assertThat(((ProviderUnavailableException) t).failoverMayHelp()).isTrue();
      assertThat(invokes()).as("a missing model is not retried").hasSize(1);
    }

    @Test
    void anInvalidModelIdentifierFailsOverInsteadOfBeingAnInvalidRequest() {
      errorAnswer(400, "ValidationException", "The provided model identifier is invalid.");

      Throwable t = failure(request().build());

      assertThat(t).isInstanceOf(ProviderUnavailableException.class).isNotInstanceOf(InvalidRequestException.class)
          .hasMessageContaining("end of life");
      assertThat(((ImageGenerationException) t).failoverMayHelp()).isTrue();
      assertThat(invokes()).hasSize(1);
    }

    @Test
    void modelTimeoutIsRetriedByTheEngineAsNotBilled() {
      errorAnswer(408, "ModelTimeoutException", "Model has timed out in processing the request.");

      Throwable t = failure(request().build());

      // a typed AWS error answer: InvokeModel failed and returned no image, so it is retried (the protocol's action)
      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("ModelTimeoutException");
      assertThat(((ProviderUnavailableException) t).outcomeUnknown()).isFalse();
      assertThat(((ProviderUnavailableException) t).notBilled()).isTrue();
      assertThat(invokes()).as("one call and the engine's 3 retries; the SDK's own are off").hasSize(4);
    }

    @Test
    void modelErrorFailsOverWithoutRetry() {
      errorAnswer(424, "ModelErrorException", "The model failed to process the request.");

      Throwable t = failure(request().build());

      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("model failed");
      assertThat(((ImageGenerationException) t).retryMayHelp()).isFalse();
      assertThat(invokes()).hasSize(1);
    }

    @Test
    void throttlingIsRateLimited() {
      errorAnswer(429, "ThrottlingException", "Too many requests, please wait before trying again.");

      Throwable t = catchThrowable(() -> service(0).generateImage(request().build(), "bedrock"));

      assertThat(t).isInstanceOf(RateLimitedException.class).hasMessageContaining("Too many requests");
      assertThat(invokes()).as("the SDK's own retries are off").hasSize(1);
    }

    @Test
    void throttlingIsRetriedByTheEngineThenSucceeds() {
      server.stubFor(stubs.submitStub().inScenario("t").whenScenarioStateIs(Scenario.STARTED).willSetStateTo("ok")
          .willReturn(stubs.error(429, "ThrottlingException", "Too many requests")));
      server.stubFor(stubs.submitStub().inScenario("t").whenScenarioStateIs("ok")
          .willReturn(BedrockStubs.ok("{\"images\":[\"" + b64(StubImages.png(1024, 1024, 1)) + "\"]}")));

      ImageGenerationResponse r = generate(request().build());

      assertThat(r.images()).hasSize(1);
      assertThat(invokes()).hasSize(2);
    }

    @Test
    void modelNotReadyIsNotAThrottleAndIsRetried() {
      server.stubFor(stubs.submitStub().inScenario("m").whenScenarioStateIs(Scenario.STARTED).willSetStateTo("ok")
          .willReturn(stubs.error(429, "ModelNotReadyException", "Model is not ready for inference.")));
      server.stubFor(stubs.submitStub().inScenario("m").whenScenarioStateIs("ok")
          .willReturn(BedrockStubs.ok("{\"images\":[\"" + b64(StubImages.png(1024, 1024, 1)) + "\"]}")));

      assertThat(generate(request().build()).images()).hasSize(1);
      assertThat(invokes()).hasSize(2);
    }

    @Test
    void modelNotReadyWithoutRetriesIsUnavailableNotRateLimited() {
      errorAnswer(429, "ModelNotReadyException", "Model is not ready for inference.");

      Throwable t = catchThrowable(() -> service(0).generateImage(request().build(), "bedrock"));

      assertThat(t).isInstanceOf(ProviderUnavailableException.class).isNotInstanceOf(RateLimitedException.class)
          .hasMessageContaining("not ready");
      assertThat(((ImageGenerationException) t).retryMayHelp()).isTrue();
      assertThat(invokes()).as("the SDK's own ModelNotReady retries are off").hasSize(1);
    }

    @Test
    void internalServerErrorIsRetriedByTheEngineAsNotBilled() {
      errorAnswer(500, "InternalServerException", "An internal server error occurred.");

      Throwable t = failure(request().build());

      // a typed AWS error answer: InvokeModel failed and returned no image, so it is retried (the protocol's action)
      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("InternalServerException");
      assertThat(((ProviderUnavailableException) t).outcomeUnknown()).isFalse();
      assertThat(((ProviderUnavailableException) t).notBilled()).isTrue();
      assertThat(invokes()).as("one call and the engine's 3 retries; the SDK's own are off").hasSize(4);
    }

    @Test
    void serviceUnavailableIsRetriedByTheEngineAsNotBilled() {
      errorAnswer(503, "ServiceUnavailableException", "The service isn't currently available.");

      Throwable t = failure(request().build());

      // a typed AWS error answer: InvokeModel failed and returned no image, so it is retried (the protocol's action)
      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("ServiceUnavailableException");
      assertThat(((ProviderUnavailableException) t).outcomeUnknown()).isFalse();
      assertThat(((ProviderUnavailableException) t).notBilled()).isTrue();
      assertThat(invokes()).as("one call and the engine's 3 retries; the SDK's own are off").hasSize(4);
    }

    @Test
    void errorTypeIsReadWithoutItsSuffixAndFromTheBodyWhenTheHeaderIsMissing() {
      server.stubFor(stubs.submitStub().willReturn(aResponse().withStatus(400).withHeader("Content-Type", "application/json")
          .withBody("{\"__type\":\"com.amazon.bedrock#ServiceQuotaExceededException\",\"message\":\"quota\"}")));

      assertThat(failure(request().build())).isInstanceOf(InsufficientCreditsException.class)
          .hasMessageContaining("ServiceQuotaExceededException (HTTP 400)");
    }

    @Test
    void errorBodyNeverEchoesTheSecret() {
      errorAnswer(400, "ValidationException", "bad signature for " + SECRET);

      Throwable t = failure(request().build());

      assertThat(String.valueOf(t.getMessage())).doesNotContain(SECRET);
    }
  }

  // ================================================================== 200 answers that are refusals

  @Nested
  class Answers {
    @Test
    void novaWithSomeImagesBlockedReturnsTheRestWithAWarning() {
      stubs.someBlocked(StubImages.png(1024, 1024, 5));

      ImageGenerationResponse r = generate(request().numImages(3).build());

      assertThat(r.images()).hasSize(1);
      assertThat(r.warnings()).anyMatch(w -> w.contains("2 of 3 images were blocked"));
      assertThat(r.metadata()).containsEntry("images_blocked", "2");
    }

    @Test
    void novaWithEveryImageBlockedIsAContentPolicyRefusal() {
      stubs.allBlocked();

      Throwable t = failure(request().build());

      assertThat(t).isInstanceOf(ContentPolicyException.class).hasMessageContaining("All of the generated images");
      assertThat(invokes()).hasSize(1);
    }

    @Test
    void stabilityFilteredPromptIsAContentPolicyRefusalNamingIt() {
      stubs.stabilityFiltered("Filter reason: prompt");

      assertThat(failure(request().model("stable-image-core").build())).isInstanceOf(ContentPolicyException.class)
          .hasMessageContaining("prompt");
    }

    @Test
    void stabilityFilteredOutputIsAContentPolicyRefusal() {
      stubs.stabilityFiltered("Filter reason: output image");

      assertThat(failure(request().model("stable-image-core").build())).isInstanceOf(ContentPolicyException.class)
          .hasMessageContaining("output image");
    }

    @Test
    void stabilityInferenceErrorFailsOver() {
      stubs.stabilityFiltered("Inference error");

      Throwable t = failure(request().model("stable-image-core").build());

      assertThat(t).isInstanceOf(ProviderUnavailableException.class).isNotInstanceOf(ContentPolicyException.class)
          .hasMessageContaining("Inference error");
    }

    @Test
    void anAnswerWithoutImagesIsAFailureNotASuccess() {
      server.stubFor(stubs.submitStub().willReturn(BedrockStubs.ok("{\"images\":[]}")));

      assertThat(failure(request().build())).isInstanceOf(ProviderUnavailableException.class)
          .hasMessageContaining("no image");
    }

    @Test
    void requestIdOfTheAnswerIsInTheMetadata() {
      server.stubFor(stubs.submitStub().willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
          .withHeader("x-amzn-RequestId", "req-123").withBody("{\"images\":[\"" + b64(StubImages.png(1024, 1024, 1))
          + "\"]}")));

      assertThat(generate(request().build()).metadata()).containsEntry("request_id", "req-123")
          .containsEntry("task", "TEXT_IMAGE");
    }
  }

  // ================================================================== faults

  @Nested
  class Faults {
    @Test
    void closingAServiceAfterACallReturnsAtOnce() {
      novaAnswers(StubImages.png(16, 16, 1));
      generate(request().build());
      long t0 = System.nanoTime();
      service.close();
      service = null;
      // the SDK's own event loops were shut down inside close() with Netty's 2 s quiet period
      assertThat(java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(1_500);
      // the shared event loops stay, as daemon threads, and serve the next service
      assertThat(Thread.getAllStackTraces().keySet()).filteredOn(t -> t.getName().startsWith("imagegen-bedrock-netty-"))
          .allMatch(Thread::isDaemon);
      novaAnswers(StubImages.png(16, 16, 2));
      assertThat(generate(request().build()).images()).hasSize(1);
    }

    @Test
    void resetAfterSendingIsAnUnknownOutcomeNeverResubmitted() {
      server.stubFor(stubs.submitStub().willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));

      Throwable t = failure(request().build());

      assertThat(t).isInstanceOf(ProviderUnavailableException.class);
      assertThat(((ProviderUnavailableException) t).outcomeUnknown()).isTrue();
      assertThat(invokes()).hasSize(1);
    }

    @Test
    void connectionRefusedIsRetriedAndNotBilled() {
      service = ImageGenerationService.builder().provider(new BedrockProviderFactory(), ProviderConfig.builder("bedrock")
          .baseUrl("http://127.0.0.1:1").set("region", "us-west-2").set("access-key-id", KEY_ID)
          .set("secret-access-key", SECRET).build()).retryBackoff(Duration.ofMillis(5), Duration.ofMillis(20)).maxRetries(0)
          .build();

      Throwable t = failure(request().build());

      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("cannot connect");
      assertThat(((ProviderUnavailableException) t).outcomeUnknown()).isFalse();
      assertThat(((ProviderUnavailableException) t).retryMayHelp()).isTrue();
    }

    @Test
    void slowBodyMeetsTheConfiguredTimeout() {
      server.stubFor(stubs.submitStub().willReturn(BedrockStubs.ok("{\"images\":[\"" + b64(StubImages.png(1024, 1024, 1))
          + "\"]}").withChunkedDribbleDelay(20, 5000)));

      long t0 = System.nanoTime();
      Throwable t = catchThrowable(() -> service(0, "timeout", "800ms")
          .generateImage(request().timeout(Duration.ofSeconds(20)).build(), "bedrock"));

      assertThat(t).isInstanceOf(ProviderUnavailableException.class);
      assertThat(((ProviderUnavailableException) t).outcomeUnknown()).isTrue();
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(3500));
      assertThat(invokes()).hasSize(1);
    }

    @Test
    void malformedJsonIsAClearErrorNeverResubmitted() {
      server.stubFor(stubs.submitStub().willReturn(BedrockStubs.ok("{\"images\": [\"iVBOR")));

      Throwable t = failure(request().build());

      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("malformed JSON");
      assertThat(((ProviderUnavailableException) t).outcomeUnknown()).isTrue();
      assertThat(invokes()).hasSize(1);
    }

    @Test
    void imageOverMaxImageBytesIsRefusedNamingTheLimit() {
      novaAnswers(StubImages.webp(64, 64, 1, 20_000));

      Throwable t = catchThrowable(() -> service("max-image-bytes", "4096").generateImage(request().build(), "bedrock"));

      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("4096");
    }

    @Test
    void anAnswerBodyFarPastTheLimitIsCutOffWhileItStreams() {
      // 17 MiB of base64: past the smallest bound (16 MiB) that max-image-bytes=1000 gives
      String huge = "A".repeat(17 << 20);
      server.stubFor(stubs.submitStub().willReturn(BedrockStubs.ok("{\"images\":[\"" + huge + "\"]}")));

      Throwable t = catchThrowable(() -> service("max-image-bytes", "1000").generateImage(request().build(), "bedrock"));

      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("answered more than 16777216 bytes")
          .hasMessageContaining("max-image-bytes");
    }

    @Test
    void notAnImageIsAFailure() {
      server.stubFor(stubs.submitStub().willReturn(BedrockStubs.ok("{\"images\":[\""
          + Base64.getEncoder().encodeToString("not an image at all, just text".getBytes()) + "\"]}")));

      assertThat(failure(request().build())).isInstanceOf(ProviderUnavailableException.class);
    }
  }

  // ================================================================== cost

  @Nested
  class Costs {
    @Test
    void noBuiltInPriceSoTheCostIsUnknownNeverZero() {
      novaAnswers(StubImages.png(1024, 1024, 1));

      ImageGenerationResponse r = generate(request().build());

      assertThat(r.cost().isKnown()).isFalse();
      assertThat(service.estimateCost(request().build()).isKnown()).isFalse();
    }

    @Test
    void aConfiguredPricePerImageCountsEveryImage() {
      novaAnswers(StubImages.png(1024, 1024, 1), StubImages.png(1024, 1024, 1));

      ImageGenerationResponse r = service("price.nova-canvas", "0.04").generateImage(request().numImages(2).build(),
          "bedrock");

      assertThat(r.cost().amount()).isEqualByComparingTo(new BigDecimal("0.08"));
      assertThat(service.estimateCost(request().numImages(3).build()).amount()).isEqualByComparingTo(new BigDecimal("0.12"));
    }

    @Test
    void eachModelHasItsOwnPrice() {
      service("price.stable-image-ultra", "0.14", "price.stability.sd3-5-large-v1:0", "0.08");

      assertThat(service.estimateCost(request().model("stable-image-ultra").build()).amount())
          .isEqualByComparingTo(new BigDecimal("0.14"));
      assertThat(service.estimateCost(request().model("sd3.5-large").build()).amount())
          .isEqualByComparingTo(new BigDecimal("0.08"));
      assertThat(service.estimateCost(request().build()).isKnown()).as("Nova has no price configured").isFalse();
    }
  }

  // ================================================================== health

  @Nested
  class Health {
    @Test
    void theEmptyProbeRefusedAsInvalidMeansUpAndGeneratesNothing() throws Exception {
      stubs.healthy();

      ProviderHealth h = service().testConnection("bedrock");

      assertThat(h.state()).isEqualTo(ProviderHealth.State.UP);
      assertThat(body(onlyInvoke())).isEqualTo(JSON.readTree("{}"));
      assertThat(onlyInvoke().getUrl()).isEqualTo("/model/amazon.nova-canvas-v1%3A0/invoke");
    }

    @Test
    void anInvalidModelIdentifierIsDownNotUp() {
      server.stubFor(stubs.healthStub().willReturn(stubs.error(400, "ValidationException",
          "The provided model identifier is invalid.")));

      assertThat(service().testConnection("bedrock").state()).isEqualTo(ProviderHealth.State.DOWN);
    }

    @Test
    void accessDeniedIsAuthFailed() {
      server.stubFor(stubs.healthStub().willReturn(stubs.error(403, "AccessDeniedException", "no access")));

      assertThat(service().testConnection("bedrock").state()).isEqualTo(ProviderHealth.State.AUTH_FAILED);
    }

    @Test
    void aRetiredModelIsDown() {
      server.stubFor(stubs.healthStub().willReturn(stubs.error(404, "ResourceNotFoundException", "not found")));

      ProviderHealth h = service().testConnection("bedrock");

      assertThat(h.state()).isEqualTo(ProviderHealth.State.DOWN);
      assertThat(h.message()).contains("end of life");
    }
  }

  // ================================================================== configuration

  @Nested
  class Configuration {
    private IllegalStateException refused(Map<String, String> values) {
      ProviderConfig.Builder b = ProviderConfig.builder("bedrock");
      values.forEach(b::set);
      Throwable t = catchThrowable(() -> new BedrockProviderFactory().create(b.build()));
      assertThat(t).isInstanceOf(IllegalStateException.class);
      assertThat(String.valueOf(t.getMessage())).doesNotContain(SECRET).doesNotContain(KEY_ID);
      return (IllegalStateException) t;
    }

    @Test
    void regionIsRequired() {
      assertThat(refused(Map.of("access-key-id", KEY_ID, "secret-access-key", SECRET))).hasMessageContaining("'region'");
    }

    @Test
    void aRegionMustLookLikeOne() {
      assertThat(refused(Map.of("region", "Virginia", "access-key-id", KEY_ID, "secret-access-key", SECRET)))
          .hasMessageContaining("not an AWS region");
    }

    @Test
    void aKeyIdWithoutItsSecretIsRefused() {
      assertThat(refused(Map.of("region", "us-east-1", "access-key-id", KEY_ID))).hasMessageContaining("go together");
    }

    @Test
    void aSessionTokenAloneIsRefused() {
      assertThat(refused(Map.of("region", "us-east-1", "session-token", "tok"))).hasMessageContaining("session-token");
    }

    @Test
    void twoCredentialSourcesAreRefused() {
      assertThat(refused(Map.of("region", "us-east-1", "access-key-id", KEY_ID, "secret-access-key", SECRET,
          "profile", "dev"))).hasMessageContaining("twice");
    }

    @Test
    void noCredentialsAreRefusedNamingTheKeys() {
      assertThat(refused(Map.of("region", "us-east-1"))).hasMessageContaining("access-key-id")
          .hasMessageContaining("default-credentials");
    }

    @Test
    void anUnknownDefaultModelIsRefused() {
      assertThat(refused(Map.of("region", "us-east-1", "access-key-id", KEY_ID, "secret-access-key", SECRET,
          "model", "gpt-image-1"))).hasMessageContaining("gpt-image-1");
    }

    @Test
    void isConfiguredNeedsARegionAndOneCredentialSource() {
      BedrockProviderFactory f = new BedrockProviderFactory();
      assertThat(f.isConfigured(ProviderConfig.builder("bedrock").set("access-key-id", KEY_ID)
          .set("secret-access-key", SECRET).build())).isFalse();
      assertThat(f.isConfigured(ProviderConfig.builder("bedrock").set("region", "us-east-1").build())).isFalse();
      assertThat(f.isConfigured(ProviderConfig.builder("bedrock").set("region", "us-east-1").set("access-key-id", KEY_ID)
          .set("secret-access-key", SECRET).build())).isTrue();
      assertThat(f.isConfigured(ProviderConfig.builder("bedrock").set("region", "us-east-1").set("profile", "dev").build()))
          .isTrue();
      assertThat(f.isConfigured(ProviderConfig.builder("bedrock").set("region", "us-east-1")
          .set("default-credentials", "true").build())).isTrue();
      assertThat(f.customaryEnvironment()).containsEntry("region", List.of("AWS_REGION", "AWS_DEFAULT_REGION"))
          .containsEntry("secret-access-key", List.of("AWS_SECRET_ACCESS_KEY"));
    }

    @Test
    void toStringShowsRegionAndEndpointButNoCredential() {
      BedrockProvider p = new BedrockProvider(config("session-token", "TOKEN-VALUE-123"));
      try {
        assertThat(p.toString()).contains("us-west-2").doesNotContain(SECRET).doesNotContain("TOKEN-VALUE-123");
      } finally {
        p.close();
      }
    }
  }
}
