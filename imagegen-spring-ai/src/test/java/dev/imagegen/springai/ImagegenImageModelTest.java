package dev.imagegen.springai;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.AllProvidersFailedException;
import dev.imagegen.AuthenticationException;
import dev.imagegen.BudgetExceededException;
import dev.imagegen.BudgetPolicy;
import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testing.CapturedLogs;
import dev.imagegen.testing.ScriptedProvider;
import dev.imagegen.testing.TestImages;
import java.math.BigDecimal;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.ai.image.Image;
import org.springframework.ai.image.ImageGeneration;
import org.springframework.ai.image.ImageMessage;
import org.springframework.ai.image.ImageModel;
import org.springframework.ai.image.ImageOptionsBuilder;
import org.springframework.ai.image.ImagePrompt;
import org.springframework.ai.image.ImageResponse;
import org.springframework.ai.image.ImageResponseMetadata;

class ImagegenImageModelTest {

  private static final byte[] RED = TestImages.png(16, 8);
  private static final byte[] BLUE = TestImages.jpeg(8, 16);

  private ImageGenerationService service;

  @AfterEach
  void close() {
    if (service != null) {
      service.close();
    }
  }

  private static ScriptedProvider paid(String id, String pricePerImage) {
    return new ScriptedProvider(id, ProviderCapabilities.builder().negativePrompt(true).seed(true).anyModel(true)
        .maxImagesPerRequest(4).build(), CostModel.perImage(new BigDecimal(pricePerImage)));
  }

  private ImageModel model(ScriptedProvider... providers) {
    return model(ImageOptionsBuilder.builder().build(), providers);
  }

  private ImageModel model(org.springframework.ai.image.ImageOptions defaults, ScriptedProvider... providers) {
    ImageGenerationService.Builder b = ImageGenerationService.builder();
    int priority = 1;
    for (ScriptedProvider p : providers) {
      b.provider(p, ProviderConfig.builder(p.id()).set("priority", String.valueOf(priority++)).build());
    }
    service = b.build();
    return new ImagegenImageModel(service, defaults);
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

  @Test
  void positiveWeightsAreThePromptAndNegativeWeightsTheNegativePrompt() {
    ScriptedProvider p = paid("p", "0.01");
    ImageModel model = model(p);

    model.call(new ImagePrompt(List.of(new ImageMessage("a red fox", 1.0f), new ImageMessage("blurry", -1.0f),
        new ImageMessage("in fresh snow"), new ImageMessage("watermark", -0.5f))));

    ImageGenerationRequest sent = p.requests.get(0);
    assertThat(sent.prompt()).isEqualTo("a red fox, in fresh snow");
    assertThat(sent.negativePrompt()).isEqualTo("blurry, watermark");
  }

  @Test
  void optionsMapToTheRequestAndTheCallsOptionsWinOverTheDefaults() {
    ScriptedProvider p = paid("p", "0.01");
    ImageModel model = model(ImageOptionsBuilder.builder().model("sdxl").width(512).height(512).n(3).style("watercolor")
        .build(), p);

    model.call(new ImagePrompt("a lighthouse", ImageOptionsBuilder.builder().n(2).width(1024).height(768).build()));

    ImageGenerationRequest sent = p.requests.get(0);
    assertThat(sent.numImages()).isEqualTo(2);
    assertThat(sent.width()).isEqualTo(1024);
    assertThat(sent.height()).isEqualTo(768);
    assertThat(sent.model()).as("default kept where the call sets nothing").isEqualTo("sdxl");
    assertThat(sent.prompt()).as("the style comes from the defaults").contains("a lighthouse");
    assertThat(sent.style() + " " + sent.prompt()).contains("watercolor");
  }

  @Test
  void imagegenOptionsCarryNegativePromptSeedAndOutputFormat() {
    ScriptedProvider p = paid("p", "0.01");
    ImageModel model = model(ImagegenImageOptions.builder().negativePrompt("text, logo").seed(7L).build(), p);

    model.call(new ImagePrompt(List.of(new ImageMessage("a kite"), new ImageMessage("people", -1f)),
        ImagegenImageOptions.builder().outputFormat("webp").seed(99L).build()));

    ImageGenerationRequest sent = p.requests.get(0);
    assertThat(sent.negativePrompt()).isEqualTo("people, text, logo");
    assertThat(sent.seed()).isEqualTo(99L);
    assertThat(sent.outputFormat()).isEqualTo("webp");
  }

  @Test
  void eachImageIsOneGenerationWithItsBytesInB64Json() {
    ScriptedProvider p = paid("p", "0.04").then(serve(new byte[][] {RED, BLUE}));
    ImageModel model = model(p);

    ImageResponse response = model.call(new ImagePrompt("two tiles", ImageOptionsBuilder.builder().n(2).build()));

    assertThat(response.getResults()).hasSize(2);
    assertThat(response.getResults()).extracting(g -> Base64.getDecoder().decode(g.getOutput().getB64Json()))
        .containsExactly(RED, BLUE);
    assertThat(response.getResults()).extracting(g -> g.getOutput().getUrl()).containsOnlyNulls();
    ImagegenImageGenerationMetadata second = (ImagegenImageGenerationMetadata) response.getResults().get(1).getMetadata();
    assertThat(second.mediaType()).isEqualTo("image/jpeg");
    assertThat(second.width()).isEqualTo(8);
    assertThat(second.height()).isEqualTo(16);
    assertThat(second.seed()).isEqualTo(41L);
  }

  @Test
  void responseMetadataNamesTheProviderThatServedAfterFailoverWithCostAndAttempts() {
    ScriptedProvider down = paid("down", "0.01").then(ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "down", null)));
    ScriptedProvider up = paid("up", "0.04").then(serve(new byte[][] {RED}));
    ImageModel model = model(down, up);

    ImageResponse response = model.call(new ImagePrompt("a fox", ImageOptionsBuilder.builder().n(2).build()));

    ImageResponseMetadata md = response.getMetadata();
    assertThat((String) md.get(ImagegenImageResponseMetadata.PROVIDER)).isEqualTo("up");
    assertThat((String) md.get(ImagegenImageResponseMetadata.MODEL)).isEqualTo("scripted-model-v2");
    assertThat((BigDecimal) md.get(ImagegenImageResponseMetadata.COST_USD)).isEqualByComparingTo("0.08");
    assertThat((Boolean) md.get(ImagegenImageResponseMetadata.COST_ESTIMATED)).isTrue();
    assertThat((String) md.get(ImagegenImageResponseMetadata.COST_SOURCE)).isEqualTo("ESTIMATED");
    assertThat((Integer) md.get(ImagegenImageResponseMetadata.ATTEMPTS)).isGreaterThanOrEqualTo(2);

    ImagegenImageResponseMetadata typed = (ImagegenImageResponseMetadata) md;
    assertThat(typed.provider()).isEqualTo("up");
    assertThat(typed.costUsd()).isEqualByComparingTo("0.08");
    assertThat(typed.costEstimated()).isTrue();
    assertThat(typed.attempts()).isEqualTo(typed.imagegenResponse().attempts().size());
    assertThat(typed.imagegenResponse().attempts().get(0).provider()).isEqualTo("down");
  }

  @Test
  void aProviderReportedCostIsNotAnEstimateAndAnUnknownPriceHasNoAmount() {
    ScriptedProvider reported = paid("r", "0.04").then((r, ctx) -> CompletableFuture.completedFuture(
        ProviderResult.builder("m").image(GeneratedImage.of(RED, null, null, false))
            .reportedCost(Cost.providerReported(new BigDecimal("0.0123"))).build()));
    ImagegenImageResponseMetadata md = (ImagegenImageResponseMetadata) model(reported).call(new ImagePrompt("x"))
        .getMetadata();
    assertThat(md.costUsd()).isEqualByComparingTo("0.0123");
    assertThat(md.costEstimated()).isFalse();
    assertThat((Boolean) md.get(ImagegenImageResponseMetadata.COST_ESTIMATED)).isFalse();
    service.close();

    ScriptedProvider unpriced = new ScriptedProvider("u", ProviderCapabilities.builder().build(), CostModel.unknown());
    ImagegenImageResponseMetadata none = (ImagegenImageResponseMetadata) model(unpriced).call(new ImagePrompt("x"))
        .getMetadata();
    assertThat(none.costUsd()).as("an unknown price is never reported as zero").isNull();
    assertThat(none.containsKey(ImagegenImageResponseMetadata.COST_USD)).isFalse();
    assertThat((String) none.get(ImagegenImageResponseMetadata.COST_SOURCE)).isEqualTo("UNKNOWN");
  }

  @Test
  void urlFormatReturnsTheProvidersUrlWhereItHasOneAndSaysSoWhereItFallsBackToBase64() {
    ScriptedProvider p = paid("p", "0.01").then(serve(new byte[][] {RED, BLUE}, "https://cdn.example/1.png"));
    ImageModel model = model(p);

    ImageResponse response = model.call(new ImagePrompt("two", ImageOptionsBuilder.builder().n(2)
        .responseFormat("url").build()));

    Image first = response.getResults().get(0).getOutput();
    Image second = response.getResults().get(1).getOutput();
    assertThat(first.getUrl()).isEqualTo("https://cdn.example/1.png");
    assertThat(first.getB64Json()).isNull();
    assertThat(second.getUrl()).isNull();
    assertThat(Base64.getDecoder().decode(second.getB64Json())).isEqualTo(BLUE);
    List<String> warnings = response.getMetadata().get(ImagegenImageResponseMetadata.WARNINGS);
    assertThat(warnings).anySatisfy(w -> assertThat(w).contains("1 of 2 images came without a URL").contains("b64_json"));
  }

  @Test
  void badOptionsAreOneIllegalArgumentExceptionListingEveryProblemAndNothingIsSent() {
    ScriptedProvider p = paid("p", "0.01");
    ImageModel model = model(p);

    assertThatThrownBy(() -> model.call(new ImagePrompt("a fox", ImageOptionsBuilder.builder().n(0).width(-64)
        .height(512).responseFormat("png").build())))
        .isExactlyInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("3 problems")
        .hasMessageContaining("n must be at least 1, was 0")
        .hasMessageContaining("width must be positive, was -64")
        .hasMessageContaining("responseFormat must be b64_json or url, was 'png'");
    assertThat(p.calls).hasValue(0);
  }

  @Test
  void imagegensOwnValidationIsListedWithTheAdaptersInTheSameException() {
    ScriptedProvider p = paid("p", "0.01");
    ImageModel model = model(p);

    assertThatThrownBy(() -> model.call(new ImagePrompt(List.of(new ImageMessage("a fox"), new ImageMessage(" ", 1f)),
        ImageOptionsBuilder.builder().width(500).height(512).style("vivid").n(11).build())))
        .isExactlyInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("4 problems")
        .hasMessageContaining("message 1 has no text")
        .hasMessageContaining("width must be a multiple of 8, was 500")
        .hasMessageContaining("unknown style 'vivid'")
        .hasMessageContaining("numImages must be between 1 and 10, was 11");
    assertThat(p.calls).hasValue(0);
  }

  @Test
  void aPromptWithOnlyNegativeWeightsOrAZeroWeightIsRefused() {
    ImageModel model = model(paid("p", "0.01"));
    assertThatThrownBy(() -> model.call(new ImagePrompt(List.of(new ImageMessage("blurry", -1f)))))
        .isExactlyInstanceOf(IllegalArgumentException.class).hasMessageContaining("no message with a positive weight");
    assertThatThrownBy(() -> model.call(new ImagePrompt(List.of(new ImageMessage("a fox"), new ImageMessage("snow", 0f)))))
        .isExactlyInstanceOf(IllegalArgumentException.class).hasMessageContaining("message 1 has weight 0.0");
    assertThatThrownBy(() -> model.call(new ImagePrompt(List.of())))
        .isExactlyInstanceOf(IllegalArgumentException.class).hasMessageContaining("no messages");
  }

  @Test
  void imagegensExceptionsPassThroughUnchanged() {
    ScriptedProvider a = paid("a", "0.01").then(ScriptedProvider.fail(new AuthenticationException("HTTP 401", "a")));
    ImageModel model = model(a);
    assertThatThrownBy(() -> model.call(new ImagePrompt("a fox")))
        .isInstanceOf(AllProvidersFailedException.class)
        .hasMessageContaining("a failed (AUTHENTICATION)");
  }

  @Test
  void theBudgetStopsTheCallBeforeTheProviderIsPaid() {
    ScriptedProvider p = paid("p", "0.04");
    service = ImageGenerationService.builder().provider(p, ProviderConfig.builder("p").build())
        .budget(BudgetPolicy.builder().total("0.05").build()).build();
    ImageModel model = new ImagegenImageModel(service);

    model.call(new ImagePrompt("one"));
    assertThatThrownBy(() -> model.call(new ImagePrompt("two", ImageOptionsBuilder.builder().n(2).build())))
        .isInstanceOf(BudgetExceededException.class);
    assertThat(p.calls).hasValue(1);
  }

  @Test
  void messagesCarryingMediaAreRefusedNotDropped() {
    ImageModel model = model(paid("p", "0.01"));
    org.springframework.ai.content.Media media = org.springframework.ai.content.Media.builder()
        .mimeType(org.springframework.util.MimeTypeUtils.IMAGE_PNG).data(RED).build();
    ImageMessage withMedia = new ImageMessage("make it blue", 1f, List.of(media), java.util.Map.of());
    assertThatThrownBy(() -> model.call(new ImagePrompt(List.of(withMedia))))
        .isExactlyInstanceOf(IllegalArgumentException.class).hasMessageContaining("message 0 carries media");
  }

  @Test
  void optionsToStringLeavesTheNegativePromptOut() {
    assertThat(ImagegenImageOptions.builder().negativePrompt("my secret brand").n(2).build().toString())
        .doesNotContain("my secret brand").contains("n=2");
  }

  @Test
  void generationsAreSpringAiTypes() {
    ImageResponse response = model(paid("p", "0.01")).call(new ImagePrompt("x"));
    ImageGeneration g = response.getResult();
    assertThat(g).isNotNull();
    assertThat(g.getMetadata()).isInstanceOf(org.springframework.ai.image.ImageGenerationMetadata.class);
  }

  @Test
  void noPromptTextReachesALogLineThroughAFailover() {
    assertThat(CapturedLogs.active()).as("the build selects core's capturing SLF4J provider").isTrue();
    ScriptedProvider down = paid("down", "0.01").then(ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "down", null)));
    ScriptedProvider up = paid("up", "0.04");
    ImageModel model = model(down, up);
    long mark = CapturedLogs.mark();

    model.call(new ImagePrompt(List.of(new ImageMessage("zebra-cathedral-7731"), new ImageMessage("okapi-9914", -1f))));

    assertThat(CapturedLogs.since(mark, e -> e.logger().endsWith(".down"))).as("the failover was logged").isNotEmpty();
    assertThat(CapturedLogs.since(mark, e -> true))
        .noneSatisfy(e -> assertThat(e.toString()).containsAnyOf("zebra-cathedral-7731", "okapi-9914"));
  }
}
