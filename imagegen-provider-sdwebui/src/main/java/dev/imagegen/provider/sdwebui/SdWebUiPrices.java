package dev.imagegen.provider.sdwebui;

import dev.imagegen.Cost;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderResult;
import java.math.BigDecimal;
import java.math.RoundingMode;
import org.jspecify.annotations.Nullable;

/**
 * The WebUI's price list: self-hosted, so no per-call fee. Free unless the operator sets
 * {@code price-per-gpu-second} (the host's GPU price per hour / 3600); then a generation costs that
 * price times the seconds the POST held the WebUI (the WebUI's {@code X-Process-Time}, else the
 * observed time; model loads included), marked as an estimate, and the estimate before the call
 * assumes {@code typical-gpu-seconds} (default 5) per image.
 *
 * <p>The service itself builds the configured price list from {@code price-per-gpu-second} (core's
 * {@link CostModel#fromConfig}); the measured cost reaches it as the result's stated cost.
 */
final class SdWebUiPrices {
  private SdWebUiPrices() {}

  static CostModel of(@Nullable BigDecimal pricePerGpuSecond, double typicalSecondsPerImage) {
    if (pricePerGpuSecond == null) {
      return CostModel.free();
    }
    return new CostModel() {
      @Override
      public Cost estimate(ImageGenerationRequest r) {
        return Cost.estimated(amount(pricePerGpuSecond, typicalSecondsPerImage * r.numImages()));
      }

      @Override
      public Cost actual(ImageGenerationRequest r, ProviderResult result) {
        if (result.reportedCost() != null) {
          return result.reportedCost();
        }
        if (result.gpuSeconds() != null) {
          return Cost.estimated(amount(pricePerGpuSecond, result.gpuSeconds()));
        }
        return estimate(r);
      }
    };
  }

  /** The cost of the seconds the WebUI was held, as an estimate (the WebUI bills nothing itself). */
  static @Nullable Cost measured(@Nullable BigDecimal pricePerGpuSecond, double seconds) {
    return pricePerGpuSecond == null ? null : Cost.estimated(amount(pricePerGpuSecond, seconds));
  }

  private static BigDecimal amount(BigDecimal perSecond, double seconds) {
    return perSecond.multiply(BigDecimal.valueOf(Math.max(0, seconds))).setScale(6, RoundingMode.HALF_UP);
  }
}
