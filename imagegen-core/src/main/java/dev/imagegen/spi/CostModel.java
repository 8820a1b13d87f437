package dev.imagegen.spi;

import dev.imagegen.Cost;
import dev.imagegen.ImageGenerationRequest;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;

/**
 * A provider's price list: estimates a request's cost before it is sent (budgets reserve this
 * amount) and computes the actual cost from what the provider reported. Implementations are
 * immutable and thread-safe. A price nobody configured is {@link Cost#unknown()}, never zero.
 */
public interface CostModel {

  /**
   * The expected cost of a request, all its images included. Called before sending, by routing
   * ({@code CHEAPEST}), budgets and {@code estimateCost}.
   *
   * @param request the request
   */
  Cost estimate(ImageGenerationRequest request);

  /**
   * The most a request can cost when the provider may work on it for up to {@code maxRunTime}
   * (the time left before the request's deadline, which is also the server-side limit imagegen
   * sends where the provider accepts one). Budgets reserve this amount before the call, so that a
   * provider-reported cost above the estimate still stays within the limit. The default is the
   * estimate, right for prices per image or per megapixel; a price per unit of time must override
   * it.
   *
   * @param request the request
   * @param maxRunTime the longest the provider may run the request
   */
  default Cost maximum(ImageGenerationRequest request, Duration maxRunTime) {
    return estimate(request);
  }

  /**
   * The cost of a finished generation. The default uses a cost the provider stated, then the
   * estimate. Provider-reported usage always wins over the estimate.
   *
   * @param request the request
   * @param result what the provider returned
   */
  default Cost actual(ImageGenerationRequest request, ProviderResult result) {
    if (result.reportedCost() != null) {
      return result.reportedCost();
    }
    return estimate(request);
  }

  /**
   * The most a job billed per second can cost when it runs for {@code maxRunTime}: that time at
   * that price, and never less than the estimate. For price lists of per-second models.
   *
   * @param usdPerSecond the price of one second
   * @param maxRunTime the longest the job may run
   * @param estimate the typical cost
   * @return the larger of the two
   */
  static Cost perSecondMaximum(BigDecimal usdPerSecond, Duration maxRunTime, Cost estimate) {
    BigDecimal longest = usdPerSecond.multiply(BigDecimal.valueOf(maxRunTime.toMillis()).movePointLeft(3))
        .setScale(6, RoundingMode.UP);
    return estimate.isKnown() && estimate.amountOrZero().compareTo(longest) >= 0 ? estimate : Cost.estimated(longest);
  }

  /**
   * Whether this price list has already applied the provider's price configuration
   * ({@code price.<model>}, {@code price-per-image} and the others), as {@link PriceTable} does
   * and a provider's own price list built on one should. The service then applies nothing over
   * it; otherwise the flat {@code price-per-*} keys replace it ({@link #fromConfig}). Default
   * false.
   *
   * @return true when the configuration is already applied
   */
  default boolean appliesConfiguration() {
    return false;
  }

  /** Free: every generation costs nothing. */
  static CostModel free() {
    return r -> Cost.free();
  }

  /** No price known: every cost is {@link Cost#unknown()}. */
  static CostModel unknown() {
    return r -> Cost.unknown();
  }

  /**
   * A fixed price per image.
   *
   * @param usd price of one image in USD
   */
  static CostModel perImage(BigDecimal usd) {
    return r -> Cost.estimated(usd.multiply(BigDecimal.valueOf(r.numImages())));
  }

  /**
   * A price per megapixel of output (fal's FLUX models, for example).
   *
   * @param usd price of one megapixel in USD
   */
  static CostModel perMegapixel(BigDecimal usd) {
    return r -> Cost.estimated(usd.multiply(BigDecimal.valueOf(r.megapixels() * r.numImages()))
        .setScale(6, RoundingMode.HALF_UP));
  }

  /**
   * A price per GPU-second: estimates from a typical run time per image, and uses the GPU time the
   * provider reports ({@link ProviderResult#gpuSeconds()}) for the actual cost.
   *
   * @param usdPerSecond price of one GPU-second in USD
   * @param typicalSecondsPerImage run time assumed for the estimate
   */
  static CostModel perGpuSecond(BigDecimal usdPerSecond, double typicalSecondsPerImage) {
    return new CostModel() {
      @Override
      public Cost estimate(ImageGenerationRequest r) {
        return Cost.estimated(usdPerSecond.multiply(BigDecimal.valueOf(typicalSecondsPerImage * r.numImages()))
            .setScale(6, RoundingMode.HALF_UP));
      }

      @Override
      public Cost maximum(ImageGenerationRequest r, Duration maxRunTime) {
        return perSecondMaximum(usdPerSecond, maxRunTime, estimate(r));
      }

      @Override
      public Cost actual(ImageGenerationRequest r, ProviderResult result) {
        if (result.reportedCost() != null) {
          return result.reportedCost();
        }
        if (result.gpuSeconds() != null) {
          return Cost.providerReported(usdPerSecond.multiply(BigDecimal.valueOf(result.gpuSeconds()))
              .setScale(6, RoundingMode.HALF_UP));
        }
        return estimate(r);
      }
    };
  }

  /**
   * The price list an operator configured ({@code price-per-image}, {@code price-per-megapixel},
   * {@code price-per-gpu-second} with {@code typical-gpu-seconds}), or the provider's default.
   * A configured price of zero means free.
   *
   * @param config the provider's configuration
   * @param providerDefault the provider's built-in price list
   */
  static CostModel fromConfig(ProviderConfig config, CostModel providerDefault) {
    var perImage = config.decimal(ProviderConfig.PRICE_PER_IMAGE);
    if (perImage.isPresent()) {
      return perImage.get().signum() == 0 ? free() : perImage(perImage.get());
    }
    var perMp = config.decimal(ProviderConfig.PRICE_PER_MEGAPIXEL);
    if (perMp.isPresent()) {
      return perMp.get().signum() == 0 ? free() : perMegapixel(perMp.get());
    }
    var perSecond = config.decimal(ProviderConfig.PRICE_PER_GPU_SECOND);
    if (perSecond.isPresent()) {
      double typical = config.decimal("typical-gpu-seconds").map(BigDecimal::doubleValue).orElse(5.0);
      return perSecond.get().signum() == 0 ? free() : perGpuSecond(perSecond.get(), typical);
    }
    return providerDefault;
  }
}
