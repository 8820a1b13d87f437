package dev.imagegen.provider.huggingface;

import dev.imagegen.Cost;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * Hugging Face's price list. HF Inference bills compute time times the hardware's price per
 * second; the only published figure is the docs' example, a FLUX.1-dev request of 10 s on a
 * $0.00012/s GPU costing $0.0012. So the estimate is {@code 0.00012 USD/s x 10 s} per image, and
 * the cost of a finished generation is {@code 0.00012 USD/s x} the compute time HF reported in
 * {@code x-compute-time}, still an estimate (the hardware's real price is not in the answer).
 * Monthly included credits ($0.10 free, $2.00 PRO) are not subtracted.
 *
 * <p>Operators override with {@code price-per-gpu-second} and {@code typical-gpu-seconds} (or any
 * other price key, which imagegen's core reads first). Immutable; thread-safe.
 */
final class HuggingFacePrices implements CostModel {
  /** The docs' example GPU price, USD per second. */
  static final BigDecimal DEFAULT_USD_PER_SECOND = new BigDecimal("0.00012");
  /** The docs' example run time of one FLUX.1-dev image, seconds. */
  static final double DEFAULT_TYPICAL_SECONDS = 10.0;

  private final BigDecimal usdPerSecond;
  private final double typicalSeconds;

  HuggingFacePrices(ProviderConfig config) {
    this.usdPerSecond = config.decimal(ProviderConfig.PRICE_PER_GPU_SECOND).orElse(DEFAULT_USD_PER_SECOND);
    this.typicalSeconds = config.decimal("typical-gpu-seconds").map(BigDecimal::doubleValue).orElse(DEFAULT_TYPICAL_SECONDS);
  }

  @Override
  public Cost estimate(ImageGenerationRequest request) {
    return Cost.estimated(usdPerSecond.multiply(BigDecimal.valueOf(typicalSeconds * request.numImages()))
        .setScale(6, RoundingMode.HALF_UP));
  }

  @Override
  public Cost maximum(ImageGenerationRequest request, java.time.Duration maxRunTime) {
    return CostModel.perSecondMaximum(usdPerSecond, maxRunTime, estimate(request));
  }

  @Override
  public Cost actual(ImageGenerationRequest request, ProviderResult result) {
    if (result.reportedCost() != null) {
      return result.reportedCost();
    }
    Double seconds = result.gpuSeconds();
    if (seconds != null && seconds > 0) {
      return Cost.estimated(usdPerSecond.multiply(BigDecimal.valueOf(seconds)).setScale(6, RoundingMode.HALF_UP));
    }
    return estimate(request);
  }
}
