package dev.imagegen.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.Cost;
import dev.imagegen.ImageGenerationRequest;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** One price scheme for every provider: built-in prices, overridden per model or for all by configuration. */
class PriceTableTest {

  private static PriceTable table(ProviderConfig config) {
    return PriceTable.builder("acme")
        .price("acme/flux-schnell", PriceTable.Price.perImage("0.003"))
        .price("acme/sdxl", PriceTable.Price.perSecond("0.000725"))
        .price("acme/flux-pro", PriceTable.Price.perMegapixel("0.04"))
        .alias("schnell", "acme/flux-schnell")
        .modelOf(r -> r.model() == null ? "acme/flux-schnell" : r.model())
        .build(config);
  }

  private static ImageGenerationRequest req(String model, int n) {
    return ImageGenerationRequest.builder().prompt("a cat").model(model).numImages(n).size(1024, 1024).build();
  }

  private static BigDecimal usd(Cost c) {
    return c.amountOrZero();
  }

  @Test
  void builtInPricesApplyPerUnit() {
    PriceTable t = table(ProviderConfig.builder("acme").build());
    assertThat(usd(t.estimate(req("acme/flux-schnell", 2)))).isEqualByComparingTo("0.006");
    assertThat(usd(t.estimate(req("acme/sdxl", 1)))).isEqualByComparingTo("0.003625"); // 5 s typical
    assertThat(usd(t.estimate(req("acme/flux-pro", 1)))).isEqualByComparingTo("0.041943"); // 1.048576 MP
    assertThat(t.estimate(req("acme/unknown", 1)).isKnown()).as("a model nobody priced is unknown, never free").isFalse();
  }

  @Test
  void aConfiguredPricePerModelOverridesOnlyThatEntryAndKeepsItsUnitForABareNumber() {
    Properties p = new Properties();
    p.setProperty("imagegen.acme.price.acme/sdxl", "0.001");
    p.setProperty("imagegen.acme.price.acme/new-model", "0.05/image");
    ProviderConfig c = ProviderConfig.from("acme", Map.of(), p, Map.of());
    PriceTable t = table(c);
    assertThat(t.price("acme/sdxl")).isEqualTo(new PriceTable.Price(new BigDecimal("0.001"), PriceTable.Unit.SECOND));
    assertThat(usd(t.estimate(req("acme/new-model", 1)))).isEqualByComparingTo("0.05");
    assertThat(usd(t.estimate(req("acme/flux-schnell", 1)))).as("other entries keep their built-in price")
        .isEqualByComparingTo("0.003");
  }

  @Test
  void environmentVariablesReachTheSameEntriesAndAnAliasPricesItsModel() {
    ProviderConfig c = ProviderConfig.from("acme", Map.of("IMAGEGEN_ACME_PRICE_SCHNELL", "0.002"), new Properties(), Map.of());
    PriceTable t = table(c);
    assertThat(usd(t.estimate(req("acme/flux-schnell", 1)))).isEqualByComparingTo("0.002");
    assertThat(t.price("schnell")).isEqualTo(t.price("acme/flux-schnell"));
  }

  @Test
  void aProviderWidePriceCoversEveryModelWithoutItsOwnConfiguredPrice() {
    ProviderConfig c = ProviderConfig.builder("acme").set("price-per-image", "0.01").set("price.acme/sdxl", "0.002/second")
        .build();
    PriceTable t = table(c);
    assertThat(usd(t.estimate(req("acme/flux-schnell", 1)))).isEqualByComparingTo("0.01");
    assertThat(usd(t.estimate(req("acme/unknown", 3)))).isEqualByComparingTo("0.03");
    assertThat(t.price("acme/sdxl").unit()).isEqualTo(PriceTable.Unit.SECOND);
    assertThat(t.estimate(req("acme/sdxl", 1)).isKnown()).isTrue();
  }

  @Test
  void aZeroPriceIsFree() {
    PriceTable t = table(ProviderConfig.builder("acme").set("price.acme/flux-schnell", "0").build());
    assertThat(t.estimate(req("acme/flux-schnell", 4))).isEqualTo(Cost.free());
  }

  @Test
  void aPerSecondModelReservesItsPriceForTheTimeLeftAndBillsTheReportedGpuTime() {
    PriceTable t = table(ProviderConfig.builder("acme").build());
    assertThat(usd(t.maximum(req("acme/sdxl", 1), Duration.ofSeconds(100)))).isEqualByComparingTo("0.0725");
    ProviderResult r = ProviderResult.builder("acme/sdxl").gpuSeconds(2.0).build();
    Cost actual = t.actual(req("acme/sdxl", 1), r);
    assertThat(usd(actual)).isEqualByComparingTo("0.00145");
    assertThat(actual.source()).isEqualTo(Cost.Source.PROVIDER_REPORTED);
    ProviderResult stated = ProviderResult.builder("acme/sdxl").reportedCost(Cost.providerReported(new BigDecimal("0.9")))
        .build();
    assertThat(usd(t.actual(req("acme/sdxl", 1), stated))).as("a cost the provider stated wins").isEqualByComparingTo("0.9");
  }

  @Test
  void wholeMegapixelsRoundEachImageUp() {
    PriceTable t = PriceTable.builder("acme").price("m", PriceTable.Price.perMegapixel("0.003")).wholeMegapixels()
        .modelOf(r -> "m").build(ProviderConfig.builder("acme").build());
    assertThat(usd(t.estimate(req("m", 2)))).isEqualByComparingTo("0.012"); // 1.05 MP -> 2 each
  }

  @Test
  void anUnreadablePriceNamesTheKeyAndTheForms() {
    assertThatThrownBy(() -> table(ProviderConfig.builder("acme").set("price.acme/sdxl", "cheap").build()))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("acme").hasMessageContaining("'price.acme/sdxl'")
        .hasMessageContaining("0.03/image").hasMessageContaining("cheap");
    assertThatThrownBy(() -> table(ProviderConfig.builder("acme").set("price.acme/sdxl", "0.1/hour").build()))
        .hasMessageContaining("hour");
    assertThatThrownBy(() -> table(ProviderConfig.builder("acme").set("price-per-image", "-1").build()))
        .hasMessageContaining("negative");
    assertThatThrownBy(() -> table(ProviderConfig.from("acme", Map.of("IMAGEGEN_ACME_PRICE_PER_IMGAE", "0.01"),
        new Properties(), Map.of()))).as("a misspelt provider-wide price is reported, not ignored")
        .hasMessageContaining("'price-per-imgae'").hasMessageContaining("price-per-image, price-per-megapixel");
  }

  @Test
  void aBuiltInPriceForEveryModelATypicalRunTimeAndMeasuredSecondsBilledAsAnEstimate() {
    PriceTable t = PriceTable.builder("acme").everyModel(PriceTable.Price.perSecond("0.0001")).typicalSeconds(10)
        .price("acme/flux-schnell", PriceTable.Price.perImage("0.003")).reportedSecondsEstimated()
        .build(ProviderConfig.builder("acme").build());
    assertThat(usd(t.estimate(req("acme/flux-schnell", 1)))).as("a model's own built-in price wins over every model's")
        .isEqualByComparingTo("0.003");
    assertThat(usd(t.estimate(req("any/model", 1)))).isEqualByComparingTo("0.001");
    Cost c = t.actual(req("any/model", 1), ProviderResult.builder("any/model").gpuSeconds(3.0).build());
    assertThat(usd(c)).isEqualByComparingTo("0.0003");
    assertThat(c.source()).isEqualTo(Cost.Source.ESTIMATED);
    PriceTable configured = PriceTable.builder("acme").everyModel(PriceTable.Price.perSecond("0.0001"))
        .build(ProviderConfig.builder("acme").set("price-per-image", "0.02").set("typical-gpu-seconds", "2").build());
    assertThat(usd(configured.estimate(req("any/model", 1)))).as("configuration wins over the built-in default")
        .isEqualByComparingTo("0.02");
    assertThat(configured.appliesConfiguration()).isTrue();
  }

  @Test
  void aProvidersDefaultSizeResolutionFactorAndSurchargeApplyToAModelsOwnPriceOnly() {
    PriceTable.Builder b = PriceTable.builder("acme").modelOf(r -> r.model())
        .price("mp-model", PriceTable.Price.perMegapixel("0.003")).wholeMegapixels()
        .price("tiered", PriceTable.Price.perImage("0.10"))
        .sizeOf(r -> new int[] {r.width() == null ? 1024 : r.width(), r.height() == null ? 768 : r.height()})
        .perImageFactor((model, r) -> "4K".equals(r.providerOptions("acme").get("resolution")) ? new BigDecimal("2")
            : BigDecimal.ONE)
        .surcharge((model, r) -> Boolean.TRUE.equals(r.providerOptions("acme").get("web")) ? new BigDecimal("0.015")
            : BigDecimal.ZERO);
    PriceTable t = b.build(ProviderConfig.builder("acme").build());
    ImageGenerationRequest noSize = ImageGenerationRequest.builder().prompt("x").model("mp-model").build();
    assertThat(usd(t.estimate(noSize))).as("1024x768 is one whole megapixel").isEqualByComparingTo("0.003");
    ImageGenerationRequest fourK = ImageGenerationRequest.builder().prompt("x").model("tiered").numImages(2)
        .providerOption("acme", "resolution", "4K").providerOption("acme", "web", true).build();
    assertThat(usd(t.estimate(fourK))).isEqualByComparingTo("0.415"); // 0.10 x 2 x 2 images + 0.015
    PriceTable flat = b.build(ProviderConfig.builder("acme").set("price-per-image", "0.05").build());
    assertThat(usd(flat.estimate(fourK))).as("a price for every model has no tiers or surcharges")
        .isEqualByComparingTo("0.10");
    assertThat(t.estimate(ImageGenerationRequest.builder().prompt("x").build()).isKnown())
        .as("a request the mapping says cannot run here has no price").isFalse();
  }
}
