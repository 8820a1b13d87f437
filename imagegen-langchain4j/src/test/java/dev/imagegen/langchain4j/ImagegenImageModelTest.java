package dev.imagegen.langchain4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.AllProvidersFailedException;
import dev.imagegen.AuthenticationException;
import dev.imagegen.BudgetExceededException;
import dev.imagegen.BudgetPolicy;
import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.InputImage;
import dev.imagegen.NoCapableProviderException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testing.CapturedLogs;
import dev.imagegen.testing.ScriptedProvider;
import dev.imagegen.testing.TestImages;
import dev.langchain4j.data.image.Image;
import dev.langchain4j.model.image.ImageModel;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.Response;
import java.math.BigDecimal;
import java.net.URI;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ImagegenImageModelTest {

  private static final byte[] RED = TestImages.png(16, 8);
  private static final byte[] BLUE = TestImages.jpeg(8, 16);
  private static final byte[] MASK = TestImages.png(16, 16);

  private ImageGenerationService service;

  @AfterEach
  void close() {
    if (service != null) {
      service.close();
    }
  }

  private static ProviderCapabilities editing() {
    return ProviderCapabilities.builder().negativePrompt(true).seed(true).anyModel(true).img2img(true).mask(true)
        .maxImagesPerRequest(4).build();
  }

  private static ScriptedProvider paid(String id, String pricePerImage) {
    return new ScriptedProvider(id, editing(), CostModel.perImage(new BigDecimal(pricePerImage)));
  }

  private ImageGenerationService service(ScriptedProvider... providers) {
    ImageGenerationService.Builder b = ImageGenerationService.builder();
    int priority = 1;
    for (ScriptedProvider p : providers) {
      b.provider(p, ProviderConfig.builder(p.id()).set("priority", String.valueOf(priority++)).build());
    }
    service = b.build();
    return service;
  }

  private ImageModel model(ScriptedProvider... providers) {
    return ImagegenImageModel.builder().service(service(providers)).build();
  }

  /** Serves the given images, in order, with a URL for each one given. */
  private static ScriptedProvider.Step serve(byte[][] images, String... urls) {
    return (r, ctx) -> {
      ProviderResult.Builder b = ProviderResult.builder("scripted-model-v2");
      for (int i = 0; i < r.numImages(); i++) {
        b.image(GeneratedImage.of(images[i % images.length], 40L + i, i < urls.length ? urls[i] : null, false));
      }
      return CompletableFuture.completedFuture(b.build());
    };
  }

  private static byte[] bytes(Image image) {
    return Base64.getDecoder().decode(image.base64Data());
  }

  @Test
  void generateReturnsTheImageBytesAndMediaType() {
    ScriptedProvider p = paid("p", "0.01").then(serve(new byte[][] {BLUE}));
    Response<Image> r = model(p).generate("a red fox in snow");

    assertThat(bytes(r.content())).isEqualTo(BLUE);
    assertThat(r.content().mimeType()).isEqualTo("image/jpeg");
    assertThat(r.content().url()).isNull();
    assertThat(r.tokenUsage()).isNull();
    assertThat(r.finishReason()).isEqualTo(FinishReason.STOP);
    assertThat(p.requests.get(0).prompt()).isEqualTo("a red fox in snow");
    assertThat(p.requests.get(0).numImages()).isEqualTo(1);
  }

  @Test
  void generateNReturnsNImagesFromOneRequest() {
    ScriptedProvider p = paid("p", "0.01").then(serve(new byte[][] {RED, BLUE}, "https://cdn.example/1.png"));
    Response<List<Image>> r = model(p).generate("tiles", 2);

    assertThat(r.content()).hasSize(2);
    assertThat(r.content()).extracting(ImagegenImageModelTest::bytes).containsExactly(RED, BLUE);
    assertThat(r.content()).extracting(Image::mimeType).containsExactly("image/png", "image/jpeg");
    assertThat(r.content().get(0).url()).isEqualTo(URI.create("https://cdn.example/1.png"));
    assertThat(p.calls).hasValue(1);
    assertThat(p.requests.get(0).numImages()).isEqualTo(2);
  }

  @Test
  void metadataNamesTheProviderThatServedAfterFailoverWithCostAndAttempts() {
    ScriptedProvider down = paid("down", "0.01").then(ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "down", null)));
    ScriptedProvider up = paid("up", "0.04").then(serve(new byte[][] {RED}));
    Response<List<Image>> r = model(down, up).generate("a fox", 2);

    assertThat(r.metadata()).containsEntry(ImagegenImageModel.PROVIDER, "up")
        .containsEntry(ImagegenImageModel.MODEL, "scripted-model-v2")
        .containsEntry(ImagegenImageModel.COST_ESTIMATED, true)
        .containsEntry(ImagegenImageModel.COST_SOURCE, "ESTIMATED");
    assertThat((BigDecimal) r.metadata().get(ImagegenImageModel.COST_USD)).isEqualByComparingTo("0.08");
    ImageGenerationResponse full = (ImageGenerationResponse) r.metadata().get(ImagegenImageModel.RESPONSE);
    assertThat(r.metadata().get(ImagegenImageModel.ATTEMPTS)).isEqualTo(full.attempts().size());
    assertThat(full.attempts()).hasSizeGreaterThanOrEqualTo(2);
    assertThat(full.attempts().get(0).provider()).isEqualTo("down");
    assertThat(r.metadata().get(ImagegenImageModel.GENERATION_ID)).isEqualTo(full.id());
  }

  @Test
  void anUnknownPriceHasNoCostEntryRatherThanZero() {
    ScriptedProvider unpriced = new ScriptedProvider("u", editing(), CostModel.unknown());
    Response<Image> r = model(unpriced).generate("x");
    assertThat(r.metadata()).doesNotContainKey(ImagegenImageModel.COST_USD)
        .containsEntry(ImagegenImageModel.COST_SOURCE, "UNKNOWN").containsEntry(ImagegenImageModel.COST_ESTIMATED, false);
  }

  @Test
  void aProviderReportedCostIsNotAnEstimate() {
    ScriptedProvider reported = paid("r", "0.04").then((req, ctx) -> CompletableFuture.completedFuture(
        ProviderResult.builder("m").image(GeneratedImage.of(RED, null, null, false))
            .reportedCost(Cost.providerReported(new BigDecimal("0.0123"))).build()));
    Response<Image> r = model(reported).generate("x");
    assertThat((BigDecimal) r.metadata().get(ImagegenImageModel.COST_USD)).isEqualByComparingTo("0.0123");
    assertThat(r.metadata()).containsEntry(ImagegenImageModel.COST_ESTIMATED, false);
  }

  @Test
  void builderDefaultsApplyToEveryCall() {
    ScriptedProvider p = paid("p", "0.01");
    ImageModel model = ImagegenImageModel.builder().service(service(p)).modelName("sdxl").size("1024x768")
        .negativePrompt("blurry, text").seed(5L).outputFormat("webp").build();

    model.generate("a lighthouse");
    model.generate("a harbour", 2);

    assertThat(p.requests).hasSize(2).allSatisfy(sent -> {
      assertThat(sent.model()).isEqualTo("sdxl");
      assertThat(sent.width()).isEqualTo(1024);
      assertThat(sent.height()).isEqualTo(768);
      assertThat(sent.negativePrompt()).isEqualTo("blurry, text");
      assertThat(sent.seed()).isEqualTo(5L);
      assertThat(sent.outputFormat()).isEqualTo("webp");
    });
  }

  @Test
  void aStyleChangesThePromptAndTheImageSaysHowInRevisedPrompt() {
    ScriptedProvider p = paid("p", "0.01");
    Response<Image> r = ImagegenImageModel.builder().service(service(p)).style("watercolor").build().generate("a boat");
    assertThat(r.content().revisedPrompt()).contains("a boat").contains("watercolor");

    Response<Image> plain = ImagegenImageModel.builder().service(service).build().generate("a boat");
    assertThat(plain.content().revisedPrompt()).as("no revision when the prompt went out as given").isNull();
  }

  @Test
  void editSendsTheBase64ImageAsTheInitImage() {
    ScriptedProvider p = paid("p", "0.01").then(serve(new byte[][] {BLUE}));
    ImageModel model = ImagegenImageModel.builder().service(service(p)).strength(0.6).build();

    Response<Image> r = model.edit(Image.builder().base64Data(Base64.getEncoder().encodeToString(RED)).mimeType("image/png")
        .build(), "make it blue");

    ImageGenerationRequest sent = p.requests.get(0);
    assertThat(sent.initImage()).isNotNull();
    assertThat(sent.initImage().bytes()).isEqualTo(RED);
    assertThat(sent.mask()).isNull();
    assertThat(sent.strength()).isEqualTo(0.6);
    assertThat(sent.prompt()).isEqualTo("make it blue");
    assertThat(bytes(r.content())).isEqualTo(BLUE);
  }

  @Test
  void editWithAMaskSendsBothAndReadsDataUrls() {
    ScriptedProvider p = paid("p", "0.01");
    String dataUrl = "data:image/png;base64," + Base64.getEncoder().encodeToString(MASK);

    model(p).edit(Image.builder().base64Data(Base64.getEncoder().encodeToString(RED)).build(),
        Image.builder().url(dataUrl).build(), "a window here");

    ImageGenerationRequest sent = p.requests.get(0);
    assertThat(sent.initImage().bytes()).isEqualTo(RED);
    assertThat(sent.mask()).isNotNull();
    assertThat(sent.mask().bytes()).isEqualTo(MASK);
  }

  @Test
  void anHttpsImageUrlIsPassedToImagegenAsAUrlInput() {
    ScriptedProvider p = paid("p", "0.01");
    model(p).edit(Image.builder().url("https://images.example/cat.png?sig=abc").build(), "a hat");

    InputImage init = p.requests.get(0).initImage();
    assertThat(init).isNotNull();
    assertThat(init.url()).isEqualTo(URI.create("https://images.example/cat.png?sig=abc"));
  }

  @Test
  void fileUrlsAndUnusableImagesAreRefusedWithEveryProblemAndNothingIsSent() {
    ScriptedProvider p = paid("p", "0.01");
    ImageModel model = model(p);

    assertThatThrownBy(() -> model.edit(Image.builder().url("file:///etc/passwd").build(),
        Image.builder().base64Data(Base64.getEncoder().encodeToString("not an image".getBytes())).build(), " "))
        .isExactlyInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("3 problems")
        .hasMessageContaining("prompt must not be empty")
        .hasMessageContaining("image url scheme 'file' is not read")
        .hasMessageContaining("mask is not a PNG, JPEG or WebP image");
    assertThatThrownBy(() -> model.edit(Image.builder().mimeType("image/png").build(), "x"))
        .isExactlyInstanceOf(IllegalArgumentException.class).hasMessageContaining("image has neither base64Data nor a url");
    assertThatThrownBy(() -> model.edit(Image.builder().base64Data("%%%").build(), "x"))
        .isExactlyInstanceOf(IllegalArgumentException.class).hasMessageContaining("image base64Data is not valid base64");
    assertThatThrownBy(() -> model.edit(Image.builder().url("data:image/png," + "abc").build(), "x"))
        .isExactlyInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be base64-encoded");
    assertThat(p.calls).hasValue(0);
  }

  @Test
  void aBadCountIsAnIllegalArgumentExceptionFromImagegensValidation() {
    ScriptedProvider p = paid("p", "0.01");
    ImageModel model = model(p);
    assertThatThrownBy(() -> model.generate("x", 0)).isExactlyInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("numImages must be between 1 and 10, was 0");
    assertThatThrownBy(() -> model.generate("x", 11)).isExactlyInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("was 11");
    assertThat(p.calls).hasValue(0);
  }

  @Test
  void badBuilderSettingsAreReportedAtBuildWithEveryProblem() {
    assertThatThrownBy(() -> ImagegenImageModel.builder().size("big").style("vivid").seed(-1L).strength(1.5).build())
        .isExactlyInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("5 problems")
        .hasMessageContaining("service is required")
        .hasMessageContaining("size must be WIDTHxHEIGHT")
        .hasMessageContaining("strength must be in (0, 1], was 1.5")
        .hasMessageContaining("unknown style 'vivid'")
        .hasMessageContaining("seed must not be negative, was -1");
    assertThatThrownBy(() -> ImagegenImageModel.builder().service(service(paid("p", "0.01"))).size("1001x30").build())
        .isExactlyInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("width must be a multiple of 8, was 1001")
        .hasMessageContaining("height must be between 64 and 4096, was 30");
  }

  @Test
  void imagegensExceptionsPassThroughUnchanged() {
    ScriptedProvider a = paid("a", "0.01").then(ScriptedProvider.fail(new AuthenticationException("HTTP 401", "a")));
    assertThatThrownBy(() -> model(a).generate("a fox"))
        .isInstanceOf(AllProvidersFailedException.class).hasMessageContaining("a failed (AUTHENTICATION)");
  }

  @Test
  void anEditNoProviderCanServeIsImagegensNoCapableProvider() {
    ScriptedProvider textOnly = new ScriptedProvider("t", ProviderCapabilities.builder().build(), CostModel.free());
    assertThatThrownBy(() -> model(textOnly).edit(Image.builder().base64Data(Base64.getEncoder().encodeToString(RED))
        .build(), "x")).isInstanceOf(NoCapableProviderException.class);
    assertThat(textOnly.calls).hasValue(0);
  }

  @Test
  void theBudgetStopsTheCallBeforeTheProviderIsPaid() {
    ScriptedProvider p = paid("p", "0.04");
    service = ImageGenerationService.builder().provider(p, ProviderConfig.builder("p").build())
        .budget(BudgetPolicy.builder().total("0.05").build()).build();
    ImageModel model = ImagegenImageModel.builder().service(service).build();

    model.generate("one");
    assertThatThrownBy(() -> model.generate("two", 2)).isInstanceOf(BudgetExceededException.class);
    assertThat(p.calls).hasValue(1);
  }

  @Test
  void aFlaggedImageFinishesWithContentFilter() {
    ScriptedProvider p = paid("p", "0.01").then((r, ctx) -> CompletableFuture.completedFuture(ProviderResult.builder("m")
        .image(GeneratedImage.of(RED, 1L, null, false)).image(GeneratedImage.of(BLUE, 2L, null, true)).build()));
    Response<List<Image>> r = model(p).generate("x", 2);
    assertThat(r.finishReason()).isEqualTo(FinishReason.CONTENT_FILTER);
    assertThat(r.content()).hasSize(2);
  }

  @Test
  void toStringLeavesTheNegativePromptOut() {
    assertThat(ImagegenImageModel.builder().service(service(paid("p", "0.01"))).negativePrompt("our secret brand").build()
        .toString()).doesNotContain("our secret brand");
  }

  @Test
  void noPromptTextReachesALogLineThroughAFailover() {
    assertThat(CapturedLogs.active()).as("the build selects core's capturing SLF4J provider").isTrue();
    ScriptedProvider down = paid("down", "0.01").then(ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "down", null)));
    ScriptedProvider up = paid("up", "0.04");
    ImageModel model = ImagegenImageModel.builder().service(service(down, up)).negativePrompt("okapi-9914").build();
    long mark = CapturedLogs.mark();

    model.generate("zebra-cathedral-7731");

    assertThat(CapturedLogs.since(mark, e -> e.logger().endsWith(".down"))).as("the failover was logged").isNotEmpty();
    assertThat(CapturedLogs.since(mark, e -> true))
        .noneSatisfy(e -> assertThat(e.toString()).containsAnyOf("zebra-cathedral-7731", "okapi-9914"));
  }

  @Test
  void aRefusedUrlIsNamedWithoutItsQueryString() {
    ImageModel model = model(paid("p", "0.01"));
    assertThatThrownBy(() -> model.edit(Image.builder().url("ftp://files.example/cat.png?token=s3cr3t-token").build(), "x"))
        .isExactlyInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ftp://files.example/cat.png")
        .hasMessageNotContaining("s3cr3t-token");
  }

  @Test
  void anEditWithoutItsImageIsRefusedNotTurnedIntoAGeneration() {
    ScriptedProvider p = paid("p", "0.01");
    ImageModel model = model(p);
    Image red = Image.builder().base64Data(Base64.getEncoder().encodeToString(RED)).build();
    assertThatThrownBy(() -> model.edit(null, "x")).isExactlyInstanceOf(IllegalArgumentException.class)
        .hasMessage("image must not be null");
    assertThatThrownBy(() -> model.edit(red, null, "x")).isExactlyInstanceOf(IllegalArgumentException.class)
        .hasMessage("mask must not be null");
    assertThat(p.calls).hasValue(0);
  }
}
