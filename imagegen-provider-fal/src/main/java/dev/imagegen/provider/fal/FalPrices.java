package dev.imagegen.provider.fal;

import dev.imagegen.Cost;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.PriceTable;
import dev.imagegen.spi.PriceTable.Price;
import dev.imagegen.spi.PriceTable.Unit;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * fal's prices, per model: per megapixel (rounded up per image) or per image, with resolution
 * multipliers. Built-in (USD, from the protocol notes, seen 2026-11, unconfirmed on fal's own pages):
 *
 * <table>
 * <caption>built-in prices</caption>
 * <tr><th>model</th><th>price</th></tr>
 * <tr><td>{@code fal-ai/flux/schnell}</td><td>$0.003 per megapixel, each image rounded up to whole megapixels</td></tr>
 * <tr><td>{@code fal-ai/nano-banana-pro/edit}</td><td>$0.15 per image, 4K billed 2x</td></tr>
 * <tr><td>{@code fal-ai/nano-banana-2/edit}</td><td>$0.08 per image, 2K 1.5x, 4K 2x, web search +$0.015</td></tr>
 * </table>
 *
 * The prices and the operator's keys are core's {@link PriceTable} ({@code price.<model-id>} or
 * {@code price.<alias>}, {@code price-per-image}, {@code price-per-megapixel}); any other model costs
 * {@link Cost#unknown()} unless the operator prices it. This class adds what is fal's own: the size
 * a request without one produces ({@link FalModels#outputSize}), the resolution multipliers (for a
 * model's own price only, not a provider-wide one) and the web search surcharge. It has applied
 * the price configuration itself ({@link #appliesConfiguration()}), so the service keeps it and
 * core's one key scheme holds: {@code price.<model>} wins over {@code price-per-*}, which wins over
 * the built-in prices. Immutable and thread-safe.
 */
final class FalPrices implements CostModel {
  private static final BigDecimal WEB_SEARCH = new BigDecimal("0.015");

  private final String providerId;
  private final PriceTable table;
  private final Function<ImageGenerationRequest, @Nullable String> modelOf;

  /**
   * Reads the operator's prices.
   *
   * @param config the configuration
   * @param modelOf the fal id a request runs on, or null when it cannot run
   * @throws IllegalStateException naming the key when a price cannot be read
   */
  FalPrices(ProviderConfig config, Function<ImageGenerationRequest, @Nullable String> modelOf) {
    this.providerId = config.providerId();
    this.modelOf = modelOf;
    PriceTable.Builder b = PriceTable.builder(providerId).modelOf(modelOf)
        .price(FalModels.FLUX_SCHNELL, Price.perMegapixel("0.003"))
        .price(FalModels.NANO_BANANA_PRO_EDIT, Price.perImage("0.15"))
        .price(FalModels.NANO_BANANA_2_EDIT, Price.perImage("0.08"));
    FalModels.ALIASES.forEach(b::alias);
    this.table = b.build(config);
  }

  @Override
  public Cost estimate(ImageGenerationRequest request) {
    return cost(request, null);
  }

  /** A per-second price reserves its price for the time left (core's table); any other is its estimate. */
  @Override
  public Cost maximum(ImageGenerationRequest request, Duration maxRunTime) {
    String model = modelOf.apply(request);
    Price p = model == null ? null : table.price(model);
    return p != null && p.unit() == Unit.SECOND ? table.maximum(request, maxRunTime) : estimate(request);
  }

  @Override
  public Cost actual(ImageGenerationRequest request, ProviderResult result) {
    if (result.reportedCost() != null) {
      return result.reportedCost();
    }
    return cost(request, result.images().isEmpty() ? null : result);
  }

  /** True: the prices come from core's {@link PriceTable}, which has read the configuration. */
  @Override
  public boolean appliesConfiguration() {
    return true;
  }

  /** The cost of a request: estimated, or from the images of its result when it has some. */
  private Cost cost(ImageGenerationRequest r, @Nullable ProviderResult result) {
    String model = modelOf.apply(r);
    // a request that cannot run has no price (the table would give it the provider-wide one)
    Price p = model == null ? null : table.price(model);
    if (p == null) {
      return Cost.unknown();
    }
    if (p.usd().signum() == 0) {
      return Cost.free();
    }
    if (p.unit() == Unit.SECOND) {
      return result == null ? table.estimate(r) : table.actual(r, result);
    }
    if (p.unit() == Unit.MEGAPIXEL) {
      int[] asked = FalModels.outputSize(providerId, r);
      long mp = result == null ? megapixels(asked[0], asked[1]) * r.numImages() : result.images().stream()
          .mapToLong(img -> img.width() > 0 && img.height() > 0 ? megapixels(img.width(), img.height())
              : megapixels(asked[0], asked[1])).sum();
      return Cost.estimated(p.usd().multiply(BigDecimal.valueOf(mp)));
    }
    int images = result == null ? r.numImages() : result.images().size();
    return Cost.estimated(p.usd().multiply(factor(model, p, r)).multiply(BigDecimal.valueOf(images)).add(extras(model, r)));
  }

  /** Whole megapixels an image is billed for: rounded up. */
  static long megapixels(int width, int height) {
    long pixels = (long) width * height;
    return Math.max(1, (pixels + 999_999) / 1_000_000);
  }

  /** The resolution multiplier of a model's own price; a provider-wide price (the table's for no model) has none. */
  private BigDecimal factor(String model, Price p, ImageGenerationRequest r) {
    if (!FalModels.takesResolution(model) || p == table.price(null)) {
      return BigDecimal.ONE;
    }
    String res = FalModels.resolutionOf(providerId, r);
    if (res.equals("4K")) {
      return BigDecimal.valueOf(2);
    }
    return res.equals("2K") && model.equals(FalModels.NANO_BANANA_2_EDIT) ? new BigDecimal("1.5") : BigDecimal.ONE;
  }

  private BigDecimal extras(String model, ImageGenerationRequest r) {
    boolean webSearch = Boolean.TRUE.equals(r.providerOptions(providerId).get("enable_web_search"));
    return model.equals(FalModels.NANO_BANANA_2_EDIT) && webSearch ? WEB_SEARCH : BigDecimal.ZERO;
  }
}
