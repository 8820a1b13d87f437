package dev.imagegen.provider.replicate;

import dev.imagegen.Cost;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Replicate's price list, per model: flux-schnell at $0.003 per output image (an estimate from the
 * list price); time-priced models (sdxl and every model run by version) at {@code predict_time}
 * times the hardware's price per second, reported as provider-reported usage; other official models
 * unknown. The hardware price comes from {@code price-per-gpu-second} or from {@code gpu} (one of
 * the GPUs on replicate.com/pricing); without either, time-priced models cost
 * {@link Cost#unknown()}, never zero. Immutable and thread-safe.
 */
final class ReplicatePrices implements CostModel {
  /** Config key: the GPU the time-priced models run on, e.g. {@code a40-large}; picks its price per second. */
  static final String GPU = "gpu";
  /** Config key (core's): GPU seconds per image assumed by estimates. */
  static final String TYPICAL_GPU_SECONDS = "typical-gpu-seconds";

  /** Price per second of each GPU (replicate.com/pricing, undated, about 2025). */
  static final Map<String, BigDecimal> GPU_PRICES = gpuPrices();

  private final String defaultModel;
  private final @Nullable BigDecimal perSecond;
  private final double typicalSeconds;
  private final @Nullable BigDecimal configuredPerImage;
  private final boolean perMegapixelConfigured;

  ReplicatePrices(ProviderConfig config, String defaultModel) {
    this.defaultModel = defaultModel;
    Optional<BigDecimal> configured = config.decimal(ProviderConfig.PRICE_PER_GPU_SECOND);
    BigDecimal p = configured.orElse(null);
    if (p == null && config.get(GPU).isPresent()) {
      String gpu = config.get(GPU).get().strip().toLowerCase(Locale.ROOT).replace(' ', '-').replace('_', '-');
      p = GPU_PRICES.get(gpu);
      if (p == null) {
        throw new IllegalStateException(ReplicateProvider.ID + ": '" + GPU + "' must be one of " + GPU_PRICES.keySet()
            + ", was: " + config.get(GPU).get());
      }
    }
    this.perSecond = p;
    this.typicalSeconds = config.decimal(TYPICAL_GPU_SECONDS).map(BigDecimal::doubleValue).orElse(5.0);
    this.configuredPerImage = config.decimal(ProviderConfig.PRICE_PER_IMAGE).orElse(null);
    this.perMegapixelConfigured = config.get(ProviderConfig.PRICE_PER_MEGAPIXEL).isPresent();
  }

  @Override
  public Cost estimate(ImageGenerationRequest request) {
    ReplicateModels.Target t = target(request);
    if (t == null) {
      return Cost.unknown();
    }
    switch (t.pricing()) {
      case PER_IMAGE:
        return perImage(t, request.numImages());
      case PER_GPU_SECOND:
        if (perSecond == null) {
          return Cost.unknown();
        }
        return Cost.estimated(perSecond.multiply(BigDecimal.valueOf(typicalSeconds * request.numImages()))
            .setScale(6, RoundingMode.HALF_UP));
      default:
        return Cost.unknown();
    }
  }

  @Override
  public Cost maximum(ImageGenerationRequest request, java.time.Duration maxRunTime) {
    ReplicateModels.Target t = target(request);
    if (t != null && t.pricing() == ReplicateModels.Pricing.PER_GPU_SECOND && perSecond != null) {
      return CostModel.perSecondMaximum(perSecond, maxRunTime, estimate(request));
    }
    return estimate(request);
  }

  @Override
  public Cost actual(ImageGenerationRequest request, ProviderResult result) {
    if (result.reportedCost() != null) {
      return result.reportedCost();
    }
    ReplicateModels.Target t = target(request);
    if (t == null) {
      return Cost.unknown();
    }
    switch (t.pricing()) {
      case PER_IMAGE:
        return perImage(t, result.images().size());
      case PER_GPU_SECOND:
        if (perSecond != null && result.gpuSeconds() != null) {
          return Cost.providerReported(perSecond.multiply(BigDecimal.valueOf(result.gpuSeconds()))
              .setScale(6, RoundingMode.HALF_UP));
        }
        return estimate(request);
      default:
        return Cost.unknown();
    }
  }

  /**
   * The cost a per-image model's result states, so that a provider-wide
   * {@code price-per-gpu-second} (which replaces this price list in the service) does not price
   * flux-schnell by GPU time: the configured {@code price-per-image}, else the model's list price,
   * times the images. Null for other models, and when {@code price-per-megapixel} is configured.
   *
   * @param t the model
   * @param images images produced
   */
  @Nullable Cost statedCost(ReplicateModels.Target t, int images) {
    if (t.pricing() != ReplicateModels.Pricing.PER_IMAGE || perMegapixelConfigured) {
      return null;
    }
    Cost c = perImage(t, images);
    return c.isKnown() ? c : null;
  }

  private Cost perImage(ReplicateModels.Target t, int images) {
    BigDecimal price = configuredPerImage != null ? configuredPerImage : t.listPricePerImage();
    if (price == null) {
      return Cost.unknown();
    }
    if (price.signum() == 0) {
      return Cost.free();
    }
    return Cost.estimated(price.multiply(BigDecimal.valueOf(images)).setScale(6, RoundingMode.HALF_UP));
  }

  private ReplicateModels.@Nullable Target target(ImageGenerationRequest request) {
    String m = request.model() == null || request.model().isBlank() ? defaultModel : request.model();
    return ReplicateModels.tryResolve(m);
  }

  private static Map<String, BigDecimal> gpuPrices() {
    Map<String, BigDecimal> m = new LinkedHashMap<>();
    m.put("t4", new BigDecimal("0.000225"));
    m.put("a40", new BigDecimal("0.000575"));
    m.put("a40-large", new BigDecimal("0.000725"));
    m.put("l40s", new BigDecimal("0.000975"));
    m.put("a100-80gb", new BigDecimal("0.0014"));
    m.put("h100", new BigDecimal("0.001525"));
    return java.util.Collections.unmodifiableMap(m);
  }
}
