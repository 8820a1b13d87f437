package dev.imagegen.provider.fal;

import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
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
 * Any other model costs {@link Cost#unknown()} unless the operator prices it. Operator keys, first
 * match wins: {@code price.<model-id>} (as a property {@code imagegen.fal.price.fal-ai/flux/dev}; dots,
 * slashes and underscores in the model part may be written as dashes, so the environment variable
 * {@code IMAGEGEN_FAL_PRICE_FAL_AI_FLUX_DEV} works too) with a value such as {@code 0.025},
 * {@code 0.025/image} or {@code 0.003/megapixel} (a bare number keeps the built-in unit, else per
 * image); then {@code price-per-image} / {@code price-per-megapixel} for every model (through the
 * service these two replace the whole table). Immutable and thread-safe.
 */
final class FalPrices implements CostModel {
  /** How a model is billed. */
  enum Unit {
    /** A price per output image. */
    IMAGE,
    /** A price per megapixel of output, each image rounded up to whole megapixels. */
    MEGAPIXEL
  }

  /**
   * A model's price.
   *
   * @param amount USD per unit
   * @param unit the unit
   * @param perModel whether it is the model's own price (built in or {@code price.<model>}), to which
   *     the model's resolution multipliers apply
   */
  record Price(BigDecimal amount, Unit unit, boolean perModel) {}

  /** An operator's {@code price.<model>}: a bare number has no unit. */
  private record OperatorPrice(BigDecimal amount, @Nullable Unit unit) {}

  /** The built-in table. */
  static final Map<String, Price> TABLE = Map.of(
      FalModels.FLUX_SCHNELL, new Price(new BigDecimal("0.003"), Unit.MEGAPIXEL, true),
      FalModels.NANO_BANANA_PRO_EDIT, new Price(new BigDecimal("0.15"), Unit.IMAGE, true),
      FalModels.NANO_BANANA_2_EDIT, new Price(new BigDecimal("0.08"), Unit.IMAGE, true));

  private static final BigDecimal WEB_SEARCH = new BigDecimal("0.015");

  private final String providerId;
  private final Map<String, OperatorPrice> overrides;
  private final @Nullable Price everyModel;
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
    Map<String, OperatorPrice> o = new LinkedHashMap<>();
    config.values().forEach((key, value) -> {
      String k = key.toLowerCase(Locale.ROOT);
      if ((k.startsWith("price.") || k.startsWith("price-")) && !k.startsWith("price-per-")) {
        String model = normalize(k.substring(6));
        o.put(model, parse(key, value));
      }
    });
    this.overrides = Map.copyOf(o);
    Price p = config.decimal(ProviderConfig.PRICE_PER_IMAGE).map(a -> new Price(a, Unit.IMAGE, false)).orElse(null);
    if (p == null) {
      p = config.decimal(ProviderConfig.PRICE_PER_MEGAPIXEL).map(a -> new Price(a, Unit.MEGAPIXEL, false)).orElse(null);
    }
    this.everyModel = p;
  }

  /**
   * The price of a model, or null when unknown.
   *
   * @param appId the fal id
   */
  @Nullable Price price(String appId) {
    Price built = TABLE.get(appId);
    OperatorPrice o = overrides.get(normalize(appId));
    if (o == null) {
      for (Map.Entry<String, String> a : FalModels.ALIASES.entrySet()) {
        if (a.getValue().equals(appId) && overrides.containsKey(normalize(a.getKey()))) {
          o = overrides.get(normalize(a.getKey()));
          break;
        }
      }
    }
    if (o != null) {
      // a bare number takes the built-in unit
      Unit unit = o.unit();
      return new Price(o.amount(), unit != null ? unit : built != null ? built.unit() : Unit.IMAGE, true);
    }
    if (everyModel != null) {
      return everyModel;
    }
    return built;
  }

  @Override
  public Cost estimate(ImageGenerationRequest request) {
    String model = modelOf.apply(request);
    Price p = model == null ? null : price(model);
    if (p == null) {
      return Cost.unknown();
    }
    if (p.amount().signum() == 0) {
      return Cost.free();
    }
    if (p.unit() == Unit.MEGAPIXEL) {
      int[] size = FalRequests.outputSize(providerId, request);
      long mp = megapixels(size[0], size[1]);
      return Cost.estimated(p.amount().multiply(BigDecimal.valueOf(mp * request.numImages())));
    }
    return Cost.estimated(perImage(model, p, request).multiply(BigDecimal.valueOf(request.numImages()))
        .add(extras(model, request)));
  }

  @Override
  public Cost actual(ImageGenerationRequest request, ProviderResult result) {
    if (result.reportedCost() != null) {
      return result.reportedCost();
    }
    String model = modelOf.apply(request);
    Price p = model == null ? null : price(model);
    if (p == null || result.images().isEmpty()) {
      return estimate(request);
    }
    if (p.amount().signum() == 0) {
      return Cost.free();
    }
    if (p.unit() == Unit.MEGAPIXEL) {
      int[] asked = FalRequests.outputSize(providerId, request);
      long mp = 0;
      for (GeneratedImage img : result.images()) {
        boolean known = img.width() > 0 && img.height() > 0;
        mp += megapixels(known ? img.width() : asked[0], known ? img.height() : asked[1]);
      }
      return Cost.estimated(p.amount().multiply(BigDecimal.valueOf(mp)));
    }
    return Cost.estimated(perImage(model, p, request).multiply(BigDecimal.valueOf(result.images().size()))
        .add(extras(model, request)));
  }

  /** Whole megapixels an image is billed for: rounded up. */
  static long megapixels(int width, int height) {
    long pixels = (long) width * height;
    return Math.max(1, (pixels + 999_999) / 1_000_000);
  }

  private BigDecimal perImage(String model, Price p, ImageGenerationRequest r) {
    if (!FalModels.takesResolution(model) || !p.perModel()) {
      return p.amount();
    }
    String res = FalRequests.resolutionOf(providerId, r);
    BigDecimal factor = BigDecimal.ONE;
    if (res.equals("4K")) {
      factor = BigDecimal.valueOf(2);
    } else if (res.equals("2K") && model.equals(FalModels.NANO_BANANA_2_EDIT)) {
      factor = new BigDecimal("1.5");
    }
    return p.amount().multiply(factor);
  }

  private BigDecimal extras(String model, ImageGenerationRequest r) {
    if (model.equals(FalModels.NANO_BANANA_2_EDIT) && Boolean.TRUE.equals(r.providerOptions(providerId).get("enable_web_search"))) {
      return WEB_SEARCH;
    }
    return BigDecimal.ZERO;
  }

  private OperatorPrice parse(String key, String value) {
    String v = value.strip().toLowerCase(Locale.ROOT).replace(" ", "");
    Unit u = null;
    int slash = v.indexOf('/');
    if (slash >= 0) {
      String suffix = v.substring(slash + 1);
      v = v.substring(0, slash);
      switch (suffix) {
        case "image": case "img": u = Unit.IMAGE; break;
        case "megapixel": case "mp": u = Unit.MEGAPIXEL; break;
        default:
          throw new IllegalStateException(providerId + ": '" + key + "' must be a price such as 0.03, 0.03/image or "
              + "0.003/megapixel, was " + value);
      }
    }
    try {
      BigDecimal amount = new BigDecimal(v);
      if (amount.signum() < 0) {
        throw new NumberFormatException("negative");
      }
      return new OperatorPrice(amount, u);
    } catch (NumberFormatException e) {
      throw new IllegalStateException(providerId + ": '" + key + "' must be a price such as 0.03, 0.03/image or "
          + "0.003/megapixel, was " + value);
    }
  }

  /** A model name as a config key part: lower case, with dots, slashes and underscores as dashes. */
  static String normalize(String model) {
    return model.strip().toLowerCase(Locale.ROOT).replace('/', '-').replace('.', '-').replace('_', '-');
  }
}
