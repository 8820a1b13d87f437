package dev.imagegen.provider.fal;

import dev.imagegen.Cost;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.spi.PriceTable;
import dev.imagegen.spi.PriceTable.Price;
import dev.imagegen.spi.ProviderConfig;
import java.math.BigDecimal;
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
 * {@link Cost#unknown()} unless the operator prices it. fal's own parts are given to the table: the
 * size a request without one produces ({@link FalModels#outputSize}), the resolution multipliers and
 * the web search surcharge (for a model's own price only, not a provider-wide one). The table has
 * applied the price configuration itself, so the service keeps it and core's one key scheme holds:
 * {@code price.<model>} wins over {@code price-per-*}, which wins over the built-in prices.
 */
final class FalPrices {
  private static final BigDecimal WEB_SEARCH = new BigDecimal("0.015");

  private FalPrices() {}

  /**
   * fal's price list with the operator's prices over it.
   *
   * @param config the configuration
   * @param modelOf the fal id a request runs on, or null when it cannot run
   * @return the price list (immutable, thread-safe)
   * @throws IllegalStateException naming the key when a price cannot be read
   */
  static PriceTable of(ProviderConfig config, Function<ImageGenerationRequest, @Nullable String> modelOf) {
    String id = config.providerId();
    PriceTable.Builder b = PriceTable.builder(id).modelOf(modelOf).wholeMegapixels()
        .price(FalModels.FLUX_SCHNELL, Price.perMegapixel("0.003"))
        .price(FalModels.NANO_BANANA_PRO_EDIT, Price.perImage("0.15"))
        .price(FalModels.NANO_BANANA_2_EDIT, Price.perImage("0.08"))
        .sizeOf(r -> FalModels.outputSize(id, r))
        .perImageFactor((model, r) -> factor(id, model, r))
        .surcharge((model, r) -> model.equals(FalModels.NANO_BANANA_2_EDIT)
            && Boolean.TRUE.equals(r.providerOptions(id).get("enable_web_search")) ? WEB_SEARCH : BigDecimal.ZERO);
    FalModels.ALIASES.forEach(b::alias);
    return b.build(config);
  }

  /**
   * The built-in price of a model in words, for its description (the operator's prices may
   * differ), or null when it has none.
   *
   * @param model a fal app id
   */
  static @Nullable String builtIn(String model) {
    return switch (model) {
      case FalModels.FLUX_SCHNELL -> "$0.003 per megapixel, each image rounded up to whole megapixels";
      case FalModels.NANO_BANANA_PRO_EDIT -> "$0.15 per image, 4K billed 2x";
      case FalModels.NANO_BANANA_2_EDIT -> "$0.08 per image, 2K 1.5x, 4K 2x, web search +$0.015";
      default -> null;
    };
  }

  /** The resolution multiplier of a model's own price: 4K billed twice, nano-banana-2's 2K 1.5 times. */
  private static BigDecimal factor(String providerId, String model, ImageGenerationRequest r) {
    if (!FalModels.takesResolution(model)) {
      return BigDecimal.ONE;
    }
    String res = FalModels.resolutionOf(providerId, r);
    if (res.equals("4K")) {
      return BigDecimal.valueOf(2);
    }
    return res.equals("2K") && model.equals(FalModels.NANO_BANANA_2_EDIT) ? new BigDecimal("1.5") : BigDecimal.ONE;
  }
}
