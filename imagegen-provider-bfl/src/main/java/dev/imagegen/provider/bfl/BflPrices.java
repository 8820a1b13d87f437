package dev.imagegen.provider.bfl;

import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.PriceTable;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * BFL's price list. FLUX.1 models per image (Kontext [pro] $0.04, Kontext [max] $0.08, 1.1 [pro]
 * $0.04, 1.1 [pro] Ultra $0.06, [dev] $0.025; FLUX.1 [pro] unknown). FLUX.2 models per megapixel:
 * the first output megapixel at one price, each further output megapixel and each input megapixel
 * at a second ({@code cost = first + max(0, outMP - 1) * rate + inMP * rate}); an input image
 * counts as 1 MP in an estimate, as its size is not known before BFL reads it. The submit's
 * {@code cost} (credits, 1 credit = $0.01) is the provider-reported cost and wins. Configured
 * prices ({@code price.<model>}, {@code price-per-image}, {@code price-per-megapixel}) win over the
 * built-in ones, as {@link PriceTable} reads them. Immutable and thread-safe.
 */
final class BflPrices implements CostModel {
  /** The value of one BFL credit in USD. */
  static final BigDecimal USD_PER_CREDIT = new BigDecimal("0.01");

  private final PriceTable table;
  private final Function<ImageGenerationRequest, BflModels.@Nullable Model> modelOf;

  BflPrices(ProviderConfig config, Function<ImageGenerationRequest, BflModels.@Nullable Model> modelOf) {
    PriceTable.Builder b = PriceTable.builder(config.providerId()).modelOf(r -> {
      BflModels.Model m = modelOf.apply(r);
      return m == null ? null : m.id();
    });
    for (BflModels.Model m : BflModels.ALL.values()) {
      if (m.perImage() != null) {
        b.price(m.id(), new PriceTable.Price(m.perImage(), PriceTable.Unit.IMAGE));
      }
    }
    this.table = b.build(config);
    this.modelOf = modelOf;
  }

  /**
   * The cost of a FLUX.2 request by BFL's megapixel formula, or null when the model is not FLUX.2
   * or the configuration prices it.
   */
  private @Nullable Cost flux2(ImageGenerationRequest r, int width, int height) {
    BflModels.Model m = modelOf.apply(r);
    if (m == null || !m.isFlux2() || table.price(m.id()) != null) {
      return null;
    }
    return Cost.estimated(flux2Usd(m, width, height, BflModels.orderedInputs(r).size()));
  }

  /**
   * BFL's FLUX.2 formula in USD, to the micro-dollar.
   *
   * @param m a FLUX.2 model
   * @param width output width
   * @param height output height
   * @param inputMegapixels megapixels of the input images
   */
  static BigDecimal flux2Usd(BflModels.Model m, int width, int height, double inputMegapixels) {
    BigDecimal first = java.util.Objects.requireNonNull(m.firstMp());
    BigDecimal rate = java.util.Objects.requireNonNull(m.furtherMp());
    double outMp = (long) width * height / 1_000_000.0;
    BigDecimal further = BigDecimal.valueOf(Math.max(0, outMp - 1) + inputMegapixels);
    return first.add(rate.multiply(further)).setScale(6, RoundingMode.HALF_UP);
  }

  private static int[] size(ImageGenerationRequest r) {
    return new int[] {r.width() == null ? 1024 : r.width(), r.height() == null ? 1024 : r.height()};
  }

  @Override
  public Cost estimate(ImageGenerationRequest request) {
    int[] s = size(request);
    Cost c = flux2(request, s[0], s[1]);
    return c != null ? c : table.estimate(request);
  }

  @Override
  public Cost maximum(ImageGenerationRequest request, Duration maxRunTime) {
    return estimate(request);
  }

  @Override
  public Cost actual(ImageGenerationRequest request, ProviderResult result) {
    if (result.reportedCost() != null) {
      return result.reportedCost();
    }
    int[] s = size(request);
    if (!result.images().isEmpty()) {
      GeneratedImage img = result.images().get(0);
      if (img.width() > 0 && img.height() > 0) {
        s = new int[] {img.width(), img.height()};
      }
    }
    Cost c = flux2(request, s[0], s[1]);
    return c != null ? c : table.actual(request, result);
  }

  /** True: the configured prices are applied here. */
  @Override
  public boolean appliesConfiguration() {
    return true;
  }

  /**
   * The provider-reported cost of a submit's {@code cost} in credits.
   *
   * @param credits the credits, or null
   * @return the cost, or null when BFL stated none, or zero or less (an unknown cost is never zero)
   */
  static @Nullable Cost reported(@Nullable Double credits) {
    if (credits == null || credits.isNaN() || credits <= 0) {
      return null;
    }
    return Cost.providerReported(BigDecimal.valueOf(credits).multiply(USD_PER_CREDIT).setScale(6, RoundingMode.HALF_UP));
  }

  @Override
  public String toString() {
    return "BflPrices[" + table + "]";
  }
}
