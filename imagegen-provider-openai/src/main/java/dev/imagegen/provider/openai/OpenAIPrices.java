package dev.imagegen.provider.openai;

import dev.imagegen.Cost;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.PriceTable;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The GPT image models' price list: USD per million tokens of text input, image input and image
 * output (and text output where known), per model, each entry overridable by configuration; the
 * cost of a call is what its {@code usage} reports ({@link #fromUsage}), priced by kind: text input
 * tokens at the text price, input image tokens at the image-input price, output tokens at the
 * image-output price, and output text tokens, where the usage splits them out, at the text-output
 * price (the mistake of pricing image tokens as text, or text as image, is what this avoids).
 *
 * <p>Before a call, the estimate comes from the same table: the output tokens an image of that
 * quality and size takes ({@link OutputTokens}) times the image-output price, plus the prompt's
 * text tokens and the input images. {@code quality=auto} is estimated as {@code medium} and
 * reserved ({@link #maximum}) as {@code high}. A model without prices (a compatible server's) is
 * {@link Cost#unknown()}, never zero, unless a per-image price is configured.
 *
 * <p>Configuration, as for every provider's {@code price.<model>} family:
 * <ul>
 *   <li>{@code price.<model>.text-input}, {@code price.<model>.image-input},
 *       {@code price.<model>.image-output}, {@code price.<model>.text-output}: USD per 1M tokens, one
 *       entry each;</li>
 *   <li>{@code price.<model>}: a flat price per image (a compatible server's model, or to bill a
 *       model by image instead of by tokens);</li>
 *   <li>{@code price-per-image}: a flat price per image for every model without its own.</li>
 * </ul>
 *
 * Immutable; thread-safe.
 */
final class OpenAIPrices implements CostModel {
  /** The per-token keys' suffixes. */
  static final String TEXT_INPUT = "text-input";
  static final String IMAGE_INPUT = "image-input";
  static final String IMAGE_OUTPUT = "image-output";
  static final String TEXT_OUTPUT = "text-output";
  private static final BigDecimal MILLION = BigDecimal.valueOf(1_000_000);
  /** A dated snapshot of a model: {@code gpt-image-2-2026-04-21} is priced as {@code gpt-image-2}. */
  private static final Pattern SNAPSHOT = Pattern.compile("(.+)-\\d{4}-\\d{2}-\\d{2}");

  /**
   * USD per 1M tokens.
   *
   * @param textInput text input tokens, or null when unknown
   * @param imageInput image input tokens, or null when unknown
   * @param imageOutput output (image) tokens, or null when unknown
   * @param textOutput output text tokens, where the usage splits them out; null when unknown (they are
   *     then priced as image output)
   */
  record TokenPrices(@Nullable BigDecimal textInput, @Nullable BigDecimal imageInput, @Nullable BigDecimal imageOutput,
      @Nullable BigDecimal textOutput) {
    static TokenPrices of(String text, String image, String out, @Nullable String textOut) {
      return new TokenPrices(new BigDecimal(text), new BigDecimal(image), new BigDecimal(out),
          textOut == null ? null : new BigDecimal(textOut));
    }

    TokenPrices over(TokenPrices base) {
      return new TokenPrices(textInput != null ? textInput : base.textInput, imageInput != null ? imageInput : base.imageInput,
          imageOutput != null ? imageOutput : base.imageOutput, textOutput != null ? textOutput : base.textOutput);
    }
  }

  /**
   * The output tokens of one image at quality low, medium, high, for a square (1024x1024),
   * portrait (1024x1536) and landscape (1536x1024) image; other sizes scale with the square root
   * of their area.
   *
   * @param square low, medium, high
   * @param portrait low, medium, high
   * @param landscape low, medium, high
   */
  record OutputTokens(int[] square, int[] portrait, int[] landscape) {
    /** gpt-image-1: implied by its per-image prices at $40 per 1M (protocol file). */
    static final OutputTokens GPT_IMAGE_1 = new OutputTokens(new int[] {272, 1056, 4160}, new int[] {408, 1584, 6240},
        new int[] {400, 1568, 6208});
    /** gpt-image-1-mini: implied by its per-image prices at $8 per 1M (protocol file). */
    static final OutputTokens GPT_IMAGE_1_MINI = new OutputTokens(new int[] {625, 1375, 4500}, new int[] {750, 1875, 6500},
        new int[] {750, 1875, 6500});
    /** gpt-image-2: high 7024 (square) and 5488 (portrait, landscape); medium a quarter, low 1/36 of it. */
    static final OutputTokens GPT_IMAGE_2 = new OutputTokens(new int[] {196, 1756, 7024}, new int[] {152, 1372, 5488},
        new int[] {152, 1372, 5488});

    /** The tokens of one image; quality 0 low, 1 medium, 2 high. */
    long of(int quality, int width, int height) {
      int[] row = width == height ? square : width < height ? portrait : landscape;
      double base = width == height ? 1024.0 * 1024 : 1024.0 * 1536;
      double scale = Math.sqrt(((double) width * height) / base);
      return (long) Math.ceil(row[quality] * scale);
    }
  }

  /**
   * What the price of a request depends on, resolved by the provider.
   *
   * @param model the model id sent (or served by the Azure deployment), null when the request cannot run here
   * @param quality {@code low}, {@code medium}, {@code high}, {@code auto} or null (auto)
   * @param width the width, or null for {@code auto}
   * @param height the height, or null for {@code auto}
   * @param images images asked for
   * @param inputImages images sent to an edit
   * @param promptChars the prompt's length
   */
  record Priced(@Nullable String model, @Nullable String quality, @Nullable Integer width, @Nullable Integer height, int images,
      int inputImages, int promptChars) {}

  private final String providerId;
  private final Map<String, TokenPrices> tokens;
  private final Map<String, BigDecimal> perImage;
  private final @Nullable BigDecimal everyImage;
  private final Function<ImageGenerationRequest, Priced> resolve;

  private OpenAIPrices(String providerId, Map<String, TokenPrices> tokens, Map<String, BigDecimal> perImage,
      @Nullable BigDecimal everyImage, Function<ImageGenerationRequest, Priced> resolve) {
    this.providerId = providerId;
    this.tokens = Map.copyOf(tokens);
    this.perImage = Map.copyOf(perImage);
    this.everyImage = everyImage;
    this.resolve = resolve;
  }

  /** The built-in token prices, USD per 1M tokens (text in, image in, image out). */
  static Map<String, TokenPrices> builtIn() {
    Map<String, TokenPrices> m = new LinkedHashMap<>();
    m.put("gpt-image-2", TokenPrices.of("5", "8", "30", "10"));
    m.put("gpt-image-2.6-sunburst", TokenPrices.of("5", "8", "30", null));
    m.put("gpt-image-1", TokenPrices.of("5", "10", "40", null));
    m.put("gpt-image-1-mini", TokenPrices.of("2", "2.50", "8", null));
    return m;
  }

  /**
   * The table: the built-in prices with the configuration over them.
   *
   * @param config the provider's configuration
   * @param resolve what a request's price depends on
   * @return the table
   * @throws IllegalStateException naming the key when a price cannot be read
   */
  static OpenAIPrices build(ProviderConfig config, Function<ImageGenerationRequest, Priced> resolve) {
    String id = config.providerId();
    Map<String, TokenPrices> tokens = new LinkedHashMap<>();
    builtIn().forEach((k, v) -> tokens.put(ProviderConfig.normalizeKeyPart(k), v));
    Map<String, BigDecimal> perImage = new LinkedHashMap<>();
    config.withPrefix("price").forEach((key, value) -> {
      if (key.startsWith("per-")) {
        return; // price-per-image and the other provider-wide keys, read below
      }
      String field = null;
      for (String f : new String[] {TEXT_INPUT, IMAGE_INPUT, IMAGE_OUTPUT, TEXT_OUTPUT}) {
        if (key.endsWith("-" + f) && key.length() > f.length() + 1) {
          field = f;
        }
      }
      if (field == null) {
        PriceTable.Price p;
        try {
          p = PriceTable.Price.parse(value, PriceTable.Unit.IMAGE);
        } catch (IllegalArgumentException e) {
          throw new IllegalStateException(id + ": 'price." + key + "' must be a price per image such as 0.04, was '" + value
              + "' (" + e.getMessage() + ")");
        }
        if (p.unit() != PriceTable.Unit.IMAGE) {
          throw new IllegalStateException(id + ": 'price." + key + "' must be a price per image (a model is billed per image or by "
              + "its token prices price." + key + ".text-input/.image-input/.image-output), was '" + value + "'");
        }
        perImage.put(key, p.usd());
        return;
      }
      String model = key.substring(0, key.length() - field.length() - 1);
      BigDecimal usd = decimal(id, "price." + model + "." + field, value);
      TokenPrices one = TEXT_INPUT.equals(field) ? new TokenPrices(usd, null, null, null)
          : IMAGE_INPUT.equals(field) ? new TokenPrices(null, usd, null, null)
          : IMAGE_OUTPUT.equals(field) ? new TokenPrices(null, null, usd, null) : new TokenPrices(null, null, null, usd);
      TokenPrices base = tokens.getOrDefault(model, new TokenPrices(null, null, null, null));
      tokens.put(model, one.over(base));
    });
    for (String unsupported : new String[] {ProviderConfig.PRICE_PER_MEGAPIXEL, ProviderConfig.PRICE_PER_GPU_SECOND}) {
      if (config.get(unsupported).isPresent()) {
        throw new IllegalStateException(id + ": '" + unsupported + "' does not apply to the Images API, which bills tokens; set "
            + "price.<model>.text-input/.image-input/.image-output (USD per 1M tokens), price.<model> or price-per-image");
      }
    }
    BigDecimal every = config.get(ProviderConfig.PRICE_PER_IMAGE).map(v -> decimal(id, ProviderConfig.PRICE_PER_IMAGE, v))
        .orElse(null);
    return new OpenAIPrices(id, tokens, perImage, every, resolve);
  }

  private static BigDecimal decimal(String id, String key, String value) {
    BigDecimal usd;
    try {
      usd = new BigDecimal(value.strip());
    } catch (NumberFormatException e) {
      throw new IllegalStateException(id + ": '" + key + "' must be a number of USD, was '" + value + "'");
    }
    if (usd.signum() < 0) {
      throw new IllegalStateException(id + ": '" + key + "' cannot be negative, was " + value.strip());
    }
    return usd;
  }

  /**
   * A model's token prices: its own entry, else that of the model a dated snapshot belongs to.
   *
   * @param model the model id
   * @return the prices, or null when none is known
   */
  @Nullable TokenPrices tokenPrices(@Nullable String model) {
    if (model == null) {
      return null;
    }
    String key = ProviderConfig.normalizeKeyPart(model);
    TokenPrices own = tokens.get(key);
    if (own != null) {
      return own;
    }
    var m = SNAPSHOT.matcher(key);
    return m.matches() ? tokens.get(m.group(1)) : null;
  }

  /** A flat per-image price for a model: its own, else {@code price-per-image}; null when none. */
  private @Nullable BigDecimal flat(@Nullable String model) {
    if (model != null) {
      String key = ProviderConfig.normalizeKeyPart(model);
      BigDecimal own = perImage.get(key);
      if (own != null) {
        return own;
      }
      var m = SNAPSHOT.matcher(key);
      if (m.matches() && perImage.containsKey(m.group(1))) {
        return perImage.get(m.group(1));
      }
    }
    return everyImage;
  }

  /**
   * The cost of a call from its {@code usage}: input text tokens at the text-input price, input
   * image tokens at the image-input price, output tokens at the image-output price. Provider
   * reported; an estimate when the usage does not split the input (all of it priced as images when
   * the call sent images, as text otherwise).
   *
   * @param model the model the call ran on
   * @param usage the usage object
   * @param sentImages whether the call sent input images
   * @return the cost, or null when a price it needs is unknown or a flat price replaces the tokens
   */
  @Nullable Cost fromUsage(String model, OpenAIWire.Usage usage, boolean sentImages) {
    if (perImage.containsKey(ProviderConfig.normalizeKeyPart(model)) || (tokenPrices(model) == null && everyImage != null)) {
      return null; // billed per image by configuration
    }
    TokenPrices p = tokenPrices(model);
    Long out = usage.outputTokens();
    if (p == null || p.imageOutput() == null || out == null) {
      return null;
    }
    OpenAIWire.Details in = usage.inputTokensDetails();
    long inputTokens = usage.inputTokens() == null ? 0 : usage.inputTokens();
    boolean split = in != null && (in.textTokens() != null || in.imageTokens() != null);
    long text = in != null && split ? nz(in.textTokens()) : sentImages ? 0 : inputTokens;
    long image = in != null && split ? nz(in.imageTokens()) : sentImages ? inputTokens : 0;
    if ((text > 0 && p.textInput() == null) || (image > 0 && p.imageInput() == null)) {
      return null;
    }
    // output: image tokens at the image-output price; text tokens (where the usage splits them out) at
    // the text-output price when one is known, else as image output (the protocol's formula)
    OpenAIWire.Details od = usage.outputTokensDetails();
    long outText = od == null || p.textOutput() == null ? 0 : Math.min(out, nz(od.textTokens()));
    long outImage = out - outText;
    BigDecimal usd = per(text, p.textInput()).add(per(image, p.imageInput())).add(per(outImage, p.imageOutput()))
        .add(per(outText, p.textOutput()));
    return split || inputTokens == 0 ? Cost.providerReported(usd) : Cost.estimated(usd);
  }

  private static long nz(@Nullable Long v) {
    return v == null ? 0 : v;
  }

  private static BigDecimal per(long tokens, @Nullable BigDecimal perMillion) {
    return tokens == 0 || perMillion == null ? BigDecimal.ZERO : perMillion.multiply(BigDecimal.valueOf(tokens)).divide(MILLION);
  }

  @Override
  public Cost estimate(ImageGenerationRequest request) {
    return estimate(resolve.apply(request), false);
  }

  /** The reservation: {@code auto} quality priced as {@code high}, {@code auto} size as the largest class, every prompt character a token. */
  @Override
  public Cost maximum(ImageGenerationRequest request, Duration maxRunTime) {
    return estimate(resolve.apply(request), true);
  }

  @Override
  public Cost actual(ImageGenerationRequest request, ProviderResult result) {
    if (result.reportedCost() != null) {
      return result.reportedCost();
    }
    Priced p = resolve.apply(request);
    int made = result.images().isEmpty() ? p.images() : result.images().size();
    return estimate(new Priced(result.model().isBlank() ? p.model() : result.model(), p.quality(), p.width(), p.height(), made,
        p.inputImages(), p.promptChars()), false);
  }

  /** Whether configuration set this table's prices. */
  @Override
  public boolean appliesConfiguration() {
    return true;
  }

  Cost estimate(Priced p, boolean most) {
    BigDecimal flat = flat(p.model());
    if (flat != null && (perImage.containsKey(key(p.model())) || tokenPrices(p.model()) == null)) {
      return flat.signum() == 0 ? Cost.free() : Cost.estimated(flat.multiply(BigDecimal.valueOf(p.images())));
    }
    TokenPrices prices = tokenPrices(p.model());
    if (prices == null || prices.imageOutput() == null || p.model() == null) {
      return Cost.unknown();
    }
    OutputTokens table = outputTokens(p.model());
    int quality = quality(p.quality(), most);
    int w = p.width() == null ? 1024 : p.width();
    int h = p.height() == null ? (most ? 1536 : 1024) : p.height();
    long out = table.of(quality, w, h) * p.images();
    long text = most ? p.promptChars() : (p.promptChars() + 3) / 4;
    long image = (long) p.inputImages() * table.of(2, 1024, 1024);
    BigDecimal usd = per(out, prices.imageOutput()).add(per(text, prices.textInput()))
        .add(per(image, prices.imageInput() == null ? prices.imageOutput() : prices.imageInput()));
    return Cost.estimated(usd);
  }

  private static String key(@Nullable String model) {
    return model == null ? "" : ProviderConfig.normalizeKeyPart(model);
  }

  private static OutputTokens outputTokens(String model) {
    String m = model.toLowerCase(Locale.ROOT);
    if (m.startsWith("gpt-image-1-mini")) {
      return OutputTokens.GPT_IMAGE_1_MINI;
    }
    if (m.startsWith("gpt-image-1") || m.startsWith("chatgpt-image")) {
      return OutputTokens.GPT_IMAGE_1;
    }
    return OutputTokens.GPT_IMAGE_2;
  }

  private static int quality(@Nullable String q, boolean most) {
    String v = q == null ? "auto" : q.toLowerCase(Locale.ROOT);
    switch (v) {
      case "low": return 0;
      case "medium": return 1;
      case "high": case "hd": return 2;
      default: return most ? 2 : 1;
    }
  }

  @Override
  public String toString() {
    return "OpenAIPrices[" + providerId + ", per 1M tokens " + tokens + ", per image " + perImage
        + (everyImage == null ? "" : ", every image " + everyImage) + "]";
  }
}
