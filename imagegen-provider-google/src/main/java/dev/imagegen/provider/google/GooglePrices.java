package dev.imagegen.provider.google;

import dev.imagegen.Cost;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.provider.google.GoogleModels.Rates;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.PriceTable;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The Gemini API's price list: tokens. A finished generation costs the tokens its calls reported
 * ({@code usageMetadata}, summed over the calls and put in the result's metadata by
 * {@link GoogleCalls}) at the model's rates: output image tokens at the image rate, output text and
 * thought tokens at the text rate (the image rate where none is known), input tokens at the input
 * rate (not billed where none is known). Before the call the estimate is the model's tokens per
 * image for the size tier times the image rate, per image.
 *
 * <p>Configuration over the built-in rates: {@code token-price.<model>} ({@code image=30,text=2.5,
 * input=0.3,tokens-per-image=1290}, USD per million tokens) changes a model's rates; a per-image
 * price from core's scheme ({@code price.<model>=0.05}, {@code price-per-image}) replaces the
 * token computation for that model altogether. A model with neither costs {@link Cost#unknown()}.
 * Immutable and thread-safe.
 */
final class GooglePrices implements CostModel {
  /** Config family: a model's token rates. */
  static final String TOKEN_PRICE = "token-price";
  /** Metadata keys {@link GoogleCalls} writes: the tokens of every answered call, summed. */
  static final String PROMPT_TOKENS = "usage_prompt_tokens";
  static final String IMAGE_TOKENS = "usage_image_tokens";
  static final String TEXT_TOKENS = "usage_text_tokens";
  static final String THOUGHT_TOKENS = "usage_thought_tokens";

  private static final BigDecimal MILLION = BigDecimal.valueOf(1_000_000);

  private final String providerId;
  private final PriceTable perImage;
  private final Map<String, Rates> rates;
  private final Function<ImageGenerationRequest, @Nullable String> modelOf;

  /**
   * Reads the configuration.
   *
   * @param config the provider's configuration
   * @param modelOf the model a request runs on, or null when it cannot run here
   * @throws IllegalStateException naming the key when a price cannot be read
   */
  GooglePrices(ProviderConfig config, Function<ImageGenerationRequest, @Nullable String> modelOf) {
    this.providerId = config.providerId();
    this.modelOf = modelOf;
    // no built-in per-image prices: only what the operator configured (price.<model>, price-per-image)
    this.perImage = PriceTable.builder(providerId).modelOf(modelOf).build(config);
    Map<String, Rates> r = new HashMap<>();
    for (String id : GoogleModels.known()) {
      Rates built = GoogleModels.profile(id).rates();
      if (built != null) {
        r.put(ProviderConfig.normalizeKeyPart(id), built);
      }
    }
    config.withPrefix(TOKEN_PRICE).forEach((model, value) -> r.put(model, parse(model, value, r.get(model))));
    this.rates = Map.copyOf(r);
  }

  /** The token rates in force for a model, or null when none is known. */
  @Nullable Rates rates(@Nullable String model) {
    return model == null ? null : rates.get(ProviderConfig.normalizeKeyPart(model));
  }

  @Override
  public Cost estimate(ImageGenerationRequest request) {
    if (perImage.priceOf(request) != null) {
      return perImage.estimate(request);
    }
    Rates r = rates(modelOf.apply(request));
    if (r == null) {
      return Cost.unknown();
    }
    long tokens = r.tokensFor(GoogleModels.sizeTier(request.width(), request.height())) * request.numImages();
    return Cost.estimated(perMillion(r.image(), tokens));
  }

  @Override
  public Cost actual(ImageGenerationRequest request, ProviderResult result) {
    if (result.reportedCost() != null) {
      return result.reportedCost();
    }
    if (perImage.priceOf(request) != null) {
      return perImage.actual(request, result);
    }
    Rates r = rates(modelOf.apply(request));
    if (r == null) {
      r = rates(result.model());
    }
    if (r == null) {
      return Cost.unknown();
    }
    Long image = tokens(result, IMAGE_TOKENS);
    if (image == null) {
      return estimate(request);
    }
    long text = orZero(tokens(result, TEXT_TOKENS)) + orZero(tokens(result, THOUGHT_TOKENS));
    BigDecimal usd = perMillion(r.image(), image).add(perMillion(r.text() != null ? r.text() : r.image(), text));
    if (r.input() != null) {
      usd = usd.add(perMillion(r.input(), orZero(tokens(result, PROMPT_TOKENS))));
    }
    return Cost.providerReported(usd.setScale(6, RoundingMode.HALF_UP));
  }

  /** True: {@code price.<model>} and {@code price-per-*} are read here. */
  @Override
  public boolean appliesConfiguration() {
    return true;
  }

  private static BigDecimal perMillion(BigDecimal rate, long tokens) {
    return rate.multiply(BigDecimal.valueOf(tokens)).divide(MILLION, 6, RoundingMode.HALF_UP);
  }

  private static long orZero(@Nullable Long v) {
    return v == null ? 0 : v;
  }

  private static @Nullable Long tokens(ProviderResult result, String key) {
    String v = result.metadata().get(key);
    if (v == null) {
      return null;
    }
    try {
      return Long.parseLong(v);
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /** Reads {@code image=30,text=2.5,input=0.3,tokens-per-image=1290} over a model's built-in rates. */
  private Rates parse(String model, String value, @Nullable Rates built) {
    BigDecimal image = built == null ? null : built.image();
    BigDecimal text = built == null ? null : built.text();
    BigDecimal input = built == null ? null : built.input();
    Map<String, Long> perImage = built == null ? new LinkedHashMap<>() : new LinkedHashMap<>(built.tokensPerImage());
    String key = "imagegen." + providerId + "." + TOKEN_PRICE + "." + model;
    for (String entry : value.split(",")) {
      String e = entry.strip();
      if (e.isEmpty()) {
        continue;
      }
      int eq = e.indexOf('=');
      String name = eq < 0 ? "" : e.substring(0, eq).strip().toLowerCase(Locale.ROOT);
      String v = eq < 0 ? "" : e.substring(eq + 1).strip();
      try {
        switch (name) {
          case "image": image = nonNegative(new BigDecimal(v)); break;
          case "text": text = nonNegative(new BigDecimal(v)); break;
          case "input": input = nonNegative(new BigDecimal(v)); break;
          case "tokens-per-image": {
            long t = Long.parseLong(v);
            if (t <= 0) {
              throw new NumberFormatException("must be above 0");
            }
            perImage.replaceAll((tier, old) -> t);
            GoogleModels.SIZES.forEach(tier -> perImage.put(tier, t));
            break;
          }
          default:
            throw new IllegalStateException(key + ": unknown entry '" + e + "'; write image=<usd>,text=<usd>,input=<usd>"
                + " (USD per million tokens) and tokens-per-image=<n>");
        }
      } catch (NumberFormatException x) {
        throw new IllegalStateException(key + ": '" + e + "' is not a number (" + x.getMessage() + "); write image=<usd>,"
            + "text=<usd>,input=<usd> (USD per million tokens) and tokens-per-image=<n>");
      }
    }
    if (image == null) {
      throw new IllegalStateException(key + " must give image=<usd per million output image tokens> for a model without a"
          + " built-in price");
    }
    if (perImage.isEmpty()) {
      throw new IllegalStateException(key + " must give tokens-per-image=<n> for a model without a built-in price (1290 for"
          + " gemini-2.5-flash-image)");
    }
    return new Rates(image, text, input, Map.copyOf(perImage));
  }

  private static BigDecimal nonNegative(BigDecimal v) {
    if (v.signum() < 0) {
      throw new NumberFormatException("cannot be negative");
    }
    return v;
  }
}
