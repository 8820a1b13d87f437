package dev.imagegen.springai;

import dev.imagegen.Cost;
import dev.imagegen.ImageGenerationResponse;
import java.math.BigDecimal;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.springframework.ai.image.ImageResponseMetadata;

/**
 * The response-level metadata of {@link ImagegenImageModel}: which provider served, the model, what
 * it cost, how many attempts it took. The typed getters read the imagegen response; the same
 * figures are in the metadata map under the {@code imagegen.*} keys below, for code that only knows
 * {@link ImageResponseMetadata}.
 */
public final class ImagegenImageResponseMetadata extends ImageResponseMetadata {

  /** Key of the provider that served ({@code String}). */
  public static final String PROVIDER = "imagegen.provider";
  /** Key of the model that served, as the provider named it ({@code String}). */
  public static final String MODEL = "imagegen.model";
  /** Key of the cost in US dollars ({@code BigDecimal}); absent when the price is unknown. */
  public static final String COST_USD = "imagegen.cost-usd";
  /** Key of whether the cost is an estimate from the price list rather than what the provider reported ({@code Boolean}). */
  public static final String COST_ESTIMATED = "imagegen.cost-estimated";
  /** Key of where the cost comes from: {@code ESTIMATED}, {@code PROVIDER_REPORTED}, {@code FREE}, {@code CACHED} or {@code UNKNOWN} ({@code String}). */
  public static final String COST_SOURCE = "imagegen.cost-source";
  /** Key of the number of attempts made, failed and skipped providers included, the successful one last ({@code Integer}). */
  public static final String ATTEMPTS = "imagegen.attempts";
  /** Key of imagegen's id of the generation, as in its logs ({@code String}). */
  public static final String GENERATION_ID = "imagegen.generation-id";
  /** Key of the things the caller should know ({@code List<String>}): a field a provider ignored, a URL asked for and not available. */
  public static final String WARNINGS = "imagegen.warnings";

  private final ImageGenerationResponse response;
  private final List<String> warnings;

  /**
   * Metadata for an imagegen response.
   *
   * @param response the imagegen response
   * @param warnings the response's warnings and the adapter's own
   */
  ImagegenImageResponseMetadata(ImageGenerationResponse response, List<String> warnings) {
    this.response = Objects.requireNonNull(response, "response");
    this.warnings = List.copyOf(warnings);
    Cost cost = response.cost();
    put(PROVIDER, response.provider());
    put(MODEL, response.model());
    BigDecimal usd = costUsd();
    if (usd != null) {
      put(COST_USD, usd);
    }
    put(COST_ESTIMATED, cost.source() == Cost.Source.ESTIMATED);
    put(COST_SOURCE, cost.source().name());
    put(ATTEMPTS, response.attempts().size());
    put(GENERATION_ID, response.id());
    put(WARNINGS, this.warnings);
  }

  /** The provider that served. */
  public String provider() {
    return response.provider();
  }

  /** The model that served, as the provider named it. */
  public String model() {
    return response.model();
  }

  /** What the generation cost: amount, currency and where the figure comes from. */
  public Cost cost() {
    return response.cost();
  }

  /** The cost in US dollars, or null when the price is unknown (never reported as zero). */
  public @Nullable BigDecimal costUsd() {
    Cost cost = response.cost();
    return "USD".equals(cost.currency()) ? cost.amount() : null;
  }

  /** Whether {@link #cost()} is an estimate from the price list rather than what the provider reported. */
  public boolean costEstimated() {
    return response.cost().source() == Cost.Source.ESTIMATED;
  }

  /** The number of attempts made, the successful one included. */
  public int attempts() {
    return response.attempts().size();
  }

  /** The imagegen response itself: every attempt, timings, warnings and the provider's own metadata. */
  public ImageGenerationResponse imagegenResponse() {
    return response;
  }

  /** The response's warnings and the adapter's own, e.g. a URL asked for that the provider did not serve. */
  public List<String> warnings() {
    return warnings;
  }

  @Override
  public String toString() {
    return "ImagegenImageResponseMetadata[provider=" + provider() + ", model=" + model() + ", cost=" + cost()
        + ", attempts=" + attempts() + ", warnings=" + warnings.size() + "]";
  }
}
