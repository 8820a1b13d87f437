package dev.imagegen.spi;

import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationRequest;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A provider's price list per model, with one configuration scheme for every provider:
 *
 * <ul>
 *   <li>{@code price.<model>} prices one model (or alias): {@code 0.03}, {@code 0.03/image},
 *       {@code 0.003/megapixel} or {@code 0.0014/second}; a bare number keeps the model's built-in
 *       unit, else the table's default unit. As a property
 *       {@code imagegen.fal.price.fal-ai/flux/dev=0.025}, as a variable
 *       {@code IMAGEGEN_FAL_PRICE_FAL_AI_FLUX_DEV=0.025} (dots, slashes and underscores in the
 *       model part may be written as dashes).</li>
 *   <li>{@code price-per-image}, {@code price-per-megapixel}, {@code price-per-gpu-second} price
 *       every model that has no {@code price.<model>}, over the built-in prices.</li>
 *   <li>{@code typical-gpu-seconds} (default 5) is the run time a per-second price assumes per image
 *       for estimates.</li>
 * </ul>
 *
 * A price of zero means free; a model with no price costs {@link Cost#unknown()}, never zero. The
 * most a per-second model can cost is its price for the time left before the deadline
 * ({@link CostModel#perSecondMaximum}); its actual cost is the GPU time the provider reports.
 * A per-megapixel price counts each image's megapixels, rounded up to whole ones when
 * {@link Builder#wholeMegapixels()} is set. A cost the provider stated always wins.
 *
 * <p>The service applies no other price configuration over a {@code PriceTable}. Immutable and
 * thread-safe.
 *
 * <pre>{@code
 * PriceTable prices = PriceTable.builder(config.providerId())
 *     .price("flux-schnell", PriceTable.Price.perImage("0.003"))
 *     .modelOf(request -> resolve(request.model()))
 *     .build(config);
 * }</pre>
 */
public final class PriceTable implements CostModel {
  private static final List<String> PROVIDER_WIDE = List.of(ProviderConfig.PRICE_PER_IMAGE,
      ProviderConfig.PRICE_PER_MEGAPIXEL, ProviderConfig.PRICE_PER_GPU_SECOND);

  /** Config key: the run time a per-second price assumes per image. */
  public static final String TYPICAL_GPU_SECONDS = "typical-gpu-seconds";
  private static final double DEFAULT_TYPICAL_SECONDS = 5.0;

  /** What a price is per. */
  public enum Unit {
    /** Per output image. */
    IMAGE,
    /** Per megapixel of output. */
    MEGAPIXEL,
    /** Per second of GPU time. */
    SECOND
  }

  /**
   * One model's price.
   *
   * @param usd USD per unit, not negative
   * @param unit the unit
   */
  public record Price(BigDecimal usd, Unit unit) {
    /** Checks the amount. */
    public Price {
      if (usd.signum() < 0) {
        throw new IllegalArgumentException("a price cannot be negative: " + usd);
      }
    }

    /**
     * A price per image.
     *
     * @param usd USD, e.g. {@code "0.003"}
     * @return the price
     */
    public static Price perImage(String usd) {
      return new Price(new BigDecimal(usd), Unit.IMAGE);
    }

    /**
     * A price per megapixel.
     *
     * @param usd USD, e.g. {@code "0.003"}
     * @return the price
     */
    public static Price perMegapixel(String usd) {
      return new Price(new BigDecimal(usd), Unit.MEGAPIXEL);
    }

    /**
     * A price per GPU-second.
     *
     * @param usd USD, e.g. {@code "0.000725"}
     * @return the price
     */
    public static Price perSecond(String usd) {
      return new Price(new BigDecimal(usd), Unit.SECOND);
    }

    /**
     * Reads {@code 0.03}, {@code 0.03/image}, {@code 0.003/megapixel} (or {@code /mp}),
     * {@code 0.0014/second} (or {@code /s}, {@code /gpu-second}).
     *
     * @param text the value
     * @param bareUnit the unit of a bare number
     * @return the price
     * @throws IllegalArgumentException when the text is not such a price
     */
    public static Price parse(String text, Unit bareUnit) {
      String v = text.strip().toLowerCase(Locale.ROOT).replace(" ", "");
      Unit unit = bareUnit;
      int slash = v.indexOf('/');
      if (slash >= 0) {
        String suffix = v.substring(slash + 1);
        v = v.substring(0, slash);
        switch (suffix) {
          case "image": case "img": unit = Unit.IMAGE; break;
          case "megapixel": case "mp": unit = Unit.MEGAPIXEL; break;
          case "second": case "s": case "sec": case "gpu-second": unit = Unit.SECOND; break;
          default: throw new IllegalArgumentException("unknown unit '" + suffix + "'");
        }
      }
      BigDecimal usd;
      try {
        usd = new BigDecimal(v);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not a number: '" + v + "'", e);
      }
      return new Price(usd, unit);
    }
  }

  private final Map<String, Price> configured;
  private final @Nullable Price everyModel;
  private final Map<String, Price> builtIn;
  private final @Nullable Price builtInEvery;
  private final Function<ImageGenerationRequest, @Nullable String> modelOf;
  private final boolean nullModelCannotRun;
  private final double typicalSeconds;
  private final boolean wholeMegapixels;
  private final boolean secondsEstimated;
  private final Function<ImageGenerationRequest, int[]> sizeOf;
  private final BiFunction<String, ImageGenerationRequest, BigDecimal> factor;
  private final BiFunction<String, ImageGenerationRequest, BigDecimal> surcharge;

  private PriceTable(Map<String, Price> configured, @Nullable Price everyModel, Map<String, Price> builtIn, Builder b,
      double typicalSeconds) {
    this.configured = configured;
    this.everyModel = everyModel;
    this.builtIn = builtIn;
    this.builtInEvery = b.everyModel;
    this.modelOf = b.modelOf;
    this.nullModelCannotRun = b.modelOfSet;
    this.typicalSeconds = typicalSeconds;
    this.wholeMegapixels = b.wholeMegapixels;
    this.secondsEstimated = b.secondsEstimated;
    this.sizeOf = b.sizeOf;
    this.factor = b.factor;
    this.surcharge = b.surcharge;
  }

  /**
   * Starts a price list.
   *
   * @param providerId the provider, for messages
   * @return the builder
   */
  public static Builder builder(String providerId) {
    return new Builder(providerId);
  }

  /**
   * The price in force for a model: its {@code price.<model>}, else the provider-wide price, else
   * its built-in one, else the built-in price of every model ({@link Builder#everyModel}).
   *
   * @param model the model id or alias, or null
   * @return the price, or null when none is known
   */
  public @Nullable Price price(@Nullable String model) {
    String key = model == null ? null : ProviderConfig.normalizeKeyPart(model);
    Price own = key == null ? null : configured.get(key);
    if (own != null) {
      return own;
    }
    if (everyModel != null) {
      return everyModel;
    }
    Price built = key == null ? null : builtIn.get(key);
    return built != null ? built : builtInEvery;
  }

  /**
   * The price of the model a request runs on.
   *
   * @param request the request
   * @return the price, or null when none is known
   */
  public @Nullable Price priceOf(ImageGenerationRequest request) {
    String model = modelOf.apply(request);
    return model == null && nullModelCannotRun ? null : price(model);
  }

  /** Whether a model's price is its own (configured or built in for it), not one for every model. */
  private boolean own(@Nullable String model) {
    String key = model == null ? null : ProviderConfig.normalizeKeyPart(model);
    return key != null && (configured.containsKey(key) || everyModel == null && builtIn.containsKey(key));
  }

  /** A per-image price for {@code images} images, with a model's own resolution factor and surcharge. */
  private Cost perImage(Price p, ImageGenerationRequest r, int images) {
    String model = modelOf.apply(r);
    if (model == null || !own(model)) {
      return Cost.estimated(p.usd().multiply(BigDecimal.valueOf(images)));
    }
    return Cost.estimated(p.usd().multiply(factor.apply(model, r)).multiply(BigDecimal.valueOf(images))
        .add(surcharge.apply(model, r)));
  }

  @Override
  public Cost estimate(ImageGenerationRequest request) {
    Price p = priceOf(request);
    if (p == null) {
      return Cost.unknown();
    }
    if (p.usd().signum() == 0) {
      return Cost.free();
    }
    int n = request.numImages();
    switch (p.unit()) {
      case IMAGE:
        return perImage(p, request, n);
      case MEGAPIXEL: {
        int[] size = sizeOf.apply(request);
        return Cost.estimated(perMegapixels(p, megapixels(size[0], size[1]) * n));
      }
      default:
        return Cost.estimated(scale(p.usd().multiply(BigDecimal.valueOf(typicalSeconds * n))));
    }
  }

  @Override
  public Cost maximum(ImageGenerationRequest request, Duration maxRunTime) {
    Price p = priceOf(request);
    if (p != null && p.unit() == Unit.SECOND && p.usd().signum() > 0) {
      return CostModel.perSecondMaximum(p.usd(), maxRunTime, estimate(request));
    }
    return estimate(request);
  }

  @Override
  public Cost actual(ImageGenerationRequest request, ProviderResult result) {
    if (result.reportedCost() != null) {
      return result.reportedCost();
    }
    Price p = priceOf(request);
    if (p == null) {
      return Cost.unknown();
    }
    if (p.usd().signum() == 0) {
      return Cost.free();
    }
    switch (p.unit()) {
      case IMAGE:
        return result.images().isEmpty() ? estimate(request) : perImage(p, request, result.images().size());
      case MEGAPIXEL: {
        if (result.images().isEmpty()) {
          return estimate(request);
        }
        int[] asked = sizeOf.apply(request);
        double mp = 0;
        for (GeneratedImage img : result.images()) {
          boolean known = img.width() > 0 && img.height() > 0;
          mp += megapixels(known ? img.width() : asked[0], known ? img.height() : asked[1]);
        }
        return Cost.estimated(perMegapixels(p, mp));
      }
      default:
        if (result.gpuSeconds() != null) {
          BigDecimal usd = scale(p.usd().multiply(BigDecimal.valueOf(result.gpuSeconds())));
          return secondsEstimated ? Cost.estimated(usd) : Cost.providerReported(usd);
        }
        return estimate(request);
    }
  }

  private double megapixels(int width, int height) {
    long pixels = (long) width * height;
    return wholeMegapixels ? Math.max(1, (pixels + 999_999) / 1_000_000) : pixels / 1_000_000.0;
  }

  private BigDecimal perMegapixels(Price p, double megapixels) {
    // whole megapixels multiply exactly; fractions are rounded to micro-dollars
    return wholeMegapixels ? p.usd().multiply(BigDecimal.valueOf((long) megapixels))
        : scale(p.usd().multiply(BigDecimal.valueOf(megapixels)));
  }

  private static BigDecimal scale(BigDecimal usd) {
    return usd.setScale(6, RoundingMode.HALF_UP);
  }

  /** True: the table has read the provider's price configuration itself. */
  @Override
  public boolean appliesConfiguration() {
    return true;
  }

  @Override
  public String toString() {
    return "PriceTable[configured " + configured + ", every model " + everyModel + ", built in " + builtIn + "]";
  }

  /** Builds a {@link PriceTable}: the built-in prices, then the configuration over them. Not thread-safe. */
  public static final class Builder {
    private final String providerId;
    private final Map<String, Price> builtIn = new LinkedHashMap<>();
    private final Map<String, String> aliases = new LinkedHashMap<>();
    private Function<ImageGenerationRequest, @Nullable String> modelOf = ImageGenerationRequest::model;
    private boolean modelOfSet;
    private Function<ImageGenerationRequest, int[]> sizeOf = r -> new int[] {r.width() == null ? 1024 : r.width(),
        r.height() == null ? 1024 : r.height()};
    private BiFunction<String, ImageGenerationRequest, BigDecimal> factor = (m, r) -> BigDecimal.ONE;
    private BiFunction<String, ImageGenerationRequest, BigDecimal> surcharge = (m, r) -> BigDecimal.ZERO;
    private Unit bareUnit = Unit.IMAGE;
    private boolean wholeMegapixels;
    private @Nullable Price everyModel;
    private double typicalSeconds = DEFAULT_TYPICAL_SECONDS;
    private boolean secondsEstimated;

    private Builder(String providerId) {
      this.providerId = providerId;
    }

    /**
     * A built-in price.
     *
     * @param model the model id (or alias)
     * @param price its price
     * @return this builder
     */
    public Builder price(String model, Price price) {
      builtIn.put(ProviderConfig.normalizeKeyPart(model), price);
      return this;
    }

    /**
     * Another name of a model: {@code price.<alias>} prices the model too, and the model's price
     * applies to the alias.
     *
     * @param alias the alias
     * @param model the model it stands for
     * @return this builder
     */
    public Builder alias(String alias, String model) {
      aliases.put(ProviderConfig.normalizeKeyPart(alias), ProviderConfig.normalizeKeyPart(model));
      return this;
    }

    /**
     * Which model a request runs on (default its {@code model}, where null means the provider's
     * default). A mapping given here returns null when the request cannot run on this provider,
     * and its cost is then unknown.
     *
     * @param value the mapping
     * @return this builder
     */
    public Builder modelOf(Function<ImageGenerationRequest, @Nullable String> value) {
      this.modelOf = value;
      this.modelOfSet = true;
      return this;
    }

    /**
     * The unit of a bare number in {@code price.<model>} for a model without a built-in price
     * (default {@link Unit#IMAGE}).
     *
     * @param value the unit
     * @return this builder
     */
    public Builder bareUnit(Unit value) {
      this.bareUnit = value;
      return this;
    }

    /**
     * A built-in price of every model without a built-in price of its own (configuration wins over
     * both).
     *
     * @param price the price
     * @return this builder
     */
    public Builder everyModel(Price price) {
      this.everyModel = price;
      return this;
    }

    /**
     * The run time a per-second price assumes per image when {@code typical-gpu-seconds} is unset
     * (default 5 s).
     *
     * @param seconds the seconds, above 0
     * @return this builder
     */
    public Builder typicalSeconds(double seconds) {
      this.typicalSeconds = seconds;
      return this;
    }

    /**
     * Bills the GPU seconds the provider reports as an estimate rather than as provider-reported
     * usage: for a provider whose reported time is measured by imagegen, not billed by the
     * provider.
     *
     * @return this builder
     */
    public Builder reportedSecondsEstimated() {
      this.secondsEstimated = true;
      return this;
    }

    /**
     * The pixel size a request produces, for a per-megapixel price (default its width and height,
     * else 1024 by 1024): for a provider whose default size is another.
     *
     * @param value the size as {@code {width, height}}
     * @return this builder
     */
    public Builder sizeOf(Function<ImageGenerationRequest, int[]> value) {
      this.sizeOf = value;
      return this;
    }

    /**
     * A multiplier of a model's own per-image price for a request (a resolution tier, e.g. 4K
     * billed twice); not applied to a price for every model. Default 1.
     *
     * @param value the factor for a model and a request
     * @return this builder
     */
    public Builder perImageFactor(BiFunction<String, ImageGenerationRequest, BigDecimal> value) {
      this.factor = value;
      return this;
    }

    /**
     * An amount added once per request to a model's own per-image price (a paid option such as a
     * web search); not applied to a price for every model. Default zero.
     *
     * @param value the surcharge in USD for a model and a request
     * @return this builder
     */
    public Builder surcharge(BiFunction<String, ImageGenerationRequest, BigDecimal> value) {
      this.surcharge = value;
      return this;
    }

    /**
     * Bills each image's megapixels rounded up to whole ones (fal's FLUX models).
     *
     * @return this builder
     */
    public Builder wholeMegapixels() {
      this.wholeMegapixels = true;
      return this;
    }

    /**
     * The table, with the configuration's prices over the built-in ones.
     *
     * @param config the provider's configuration
     * @return the table
     * @throws IllegalStateException naming the key when a price cannot be read
     */
    public PriceTable build(ProviderConfig config) {
      Map<String, Price> builtInAll = new LinkedHashMap<>(builtIn);
      Map<String, Price> configured = new LinkedHashMap<>();
      config.values().forEach((key, value) -> {
        String k = ProviderConfig.normalizeKeyPart(key);
        if (k.startsWith("price-per-")) { // a provider-wide key: a misspelt one must not be ignored
          if (!PROVIDER_WIDE.contains(k) && !k.startsWith(ProviderConfig.PRICE_PER_GPU_SECOND + "-")) {
            throw new IllegalStateException(providerId + ": '" + key + "' is not a price key; the provider-wide ones are "
                + String.join(", ", PROVIDER_WIDE) + ", one model's is price.<model>");
          }
        } else if (k.startsWith("price-")) {
          String model = k.substring("price-".length());
          Price built = builtIn.get(aliases.getOrDefault(model, model));
          configured.put(model, parse(key, value, built != null ? built.unit() : bareUnit));
        }
      });
      aliases.forEach((alias, model) -> {
        propagate(builtInAll, alias, model);
        propagate(configured, alias, model);
      });
      Price every = provideWide(config);
      double typical = config.decimal(TYPICAL_GPU_SECONDS).map(BigDecimal::doubleValue).orElse(typicalSeconds);
      if (typical <= 0) {
        throw new IllegalStateException(providerId + ": '" + TYPICAL_GPU_SECONDS + "' must be above 0, was " + typical);
      }
      return new PriceTable(Map.copyOf(configured), every, Map.copyOf(builtInAll), this, typical);
    }

    private static void propagate(Map<String, Price> table, String alias, String model) {
      if (table.containsKey(alias) && !table.containsKey(model)) {
        table.put(model, table.get(alias));
      } else if (table.containsKey(model) && !table.containsKey(alias)) {
        table.put(alias, table.get(model));
      }
    }

    private @Nullable Price provideWide(ProviderConfig config) {
      var perImage = config.decimal(ProviderConfig.PRICE_PER_IMAGE);
      if (perImage.isPresent()) {
        return checked(ProviderConfig.PRICE_PER_IMAGE, perImage.get(), Unit.IMAGE);
      }
      var perMp = config.decimal(ProviderConfig.PRICE_PER_MEGAPIXEL);
      if (perMp.isPresent()) {
        return checked(ProviderConfig.PRICE_PER_MEGAPIXEL, perMp.get(), Unit.MEGAPIXEL);
      }
      var perSecond = config.decimal(ProviderConfig.PRICE_PER_GPU_SECOND);
      return perSecond.map(usd -> checked(ProviderConfig.PRICE_PER_GPU_SECOND, usd, Unit.SECOND)).orElse(null);
    }

    private Price checked(String key, BigDecimal usd, Unit unit) {
      if (usd.signum() < 0) {
        throw new IllegalStateException(providerId + ": '" + key + "' cannot be negative, was " + usd.toPlainString());
      }
      return new Price(usd, unit);
    }

    private Price parse(String key, String value, Unit unit) {
      try {
        return Price.parse(value, unit);
      } catch (IllegalArgumentException e) {
        throw new IllegalStateException(providerId + ": '" + key + "' must be a price such as 0.03, 0.03/image, "
            + "0.003/megapixel or 0.0014/second, was '" + value + "' (" + e.getMessage() + ")");
      }
    }
  }
}
