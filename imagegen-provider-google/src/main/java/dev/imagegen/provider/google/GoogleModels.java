package dev.imagegen.provider.google;

import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * What imagegen knows of each Gemini image model: its aspect ratios, whether it takes
 * {@code imageConfig.imageSize}, how many input images it takes, and its built-in token prices.
 * Any other Gemini image id passes through with the {@link #GENERIC} profile. Immutable.
 */
final class GoogleModels {
  /** The model used when neither the request nor {@code model} names one. */
  static final String DEFAULT_MODEL = "gemini-2.5-flash-image";

  /** The ratios every Gemini image model takes (python-genai {@code ImageConfig.aspect_ratio}). */
  static final List<String> BASE_RATIOS = List.of("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9");
  /** The base ratios and the extreme ones newer models add (python-genai {@code AspectRatio}). */
  static final List<String> EXTENDED_RATIOS = List.of("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
      "1:4", "4:1", "1:8", "8:1");
  /** The size tiers, with their spelling on the wire (capital K). */
  static final List<String> SIZES = List.of("1K", "2K", "4K");

  /** A Gemini image model id: {@code gemini-...} naming an image model. */
  private static final Pattern GEMINI_IMAGE = Pattern.compile("gemini-[a-z0-9][a-z0-9.-]*");

  /**
   * Token prices of a model, in USD per million tokens.
   *
   * @param image per million output image tokens
   * @param text per million output text (and thought) tokens, or null to bill them at {@code image}
   * @param input per million input tokens, or null when unknown (input is then not billed)
   * @param tokensPerImage output image tokens of one image per size tier, for estimates
   */
  record Rates(BigDecimal image, @Nullable BigDecimal text, @Nullable BigDecimal input, Map<String, Long> tokensPerImage) {

    /** The output image tokens one image of a size tier is assumed to take. */
    long tokensFor(String size) {
      Long t = tokensPerImage.get(size);
      if (t != null) {
        return t;
      }
      return tokensPerImage.values().stream().mapToLong(Long::longValue).max().orElse(0);
    }
  }

  /**
   * One model.
   *
   * @param id the model id
   * @param ratios the aspect ratios it takes
   * @param sizeTiers whether it takes {@code imageSize} (2K, 4K); without, its images are about 1024 px
   * @param maxInputImages how many input images (init and references) it takes
   * @param rates its built-in prices, or null when none is known
   * @param source where the facts come from, for the README and messages
   */
  record Profile(String id, List<String> ratios, boolean sizeTiers, int maxInputImages, @Nullable Rates rates, String source) {}

  /** A Gemini image id imagegen has no facts about: base ratios, one size, three input images, no price. */
  static final Profile GENERIC = new Profile("", BASE_RATIOS, false, 3, null, "no facts known");

  private static final Map<String, Profile> KNOWN = new LinkedHashMap<>();

  static {
    // pricing page as quoted on discuss.ai.google.dev (2025): $30 per 1M image tokens, 1290 per image, input $0.30;
    // the text rate is gemini-2.5-flash's
    add(new Profile(DEFAULT_MODEL, BASE_RATIOS, false, 3,
        new Rates(usd("30"), usd("2.50"), usd("0.30"), Map.of("1K", 1290L)), "GA 2025-10-02"));
    // third-party readings of the pricing page (2026-03): $0.134 per 1K/2K image, $0.24 per 4K
    add(new Profile("gemini-3-pro-image", BASE_RATIOS, true, 14,
        new Rates(usd("120"), usd("12"), usd("2"), Map.of("1K", 1120L, "2K", 1120L, "4K", 2000L)), "third-party pricing"));
    // third-party reading: $60 per 1M image tokens, $0.067 at 1K; text and input rates unknown
    add(new Profile("gemini-3.1-flash-image", EXTENDED_RATIOS, true, 14,
        new Rates(usd("60"), null, null, Map.of("1K", 1120L, "2K", 1680L, "4K", 2520L)), "third-party pricing"));
    add(new Profile("gemini-3.1-flash-lite-image", BASE_RATIOS, false, 3, null, "no price known"));
    add(new Profile("gemini-nano-banana-2.1", BASE_RATIOS, false, 3, null, "no price known"));
  }

  /** Ids reported as shut down on the Gemini API, with what to use instead: a 404 for one says so. */
  static final Map<String, String> RETIRED = Map.of(
      "gemini-2.0-flash-preview-image-generation", DEFAULT_MODEL,
      "gemini-2.0-flash-exp-image-generation", DEFAULT_MODEL,
      "gemini-2.5-flash-image-preview", DEFAULT_MODEL,
      "gemini-3-pro-image-preview", "gemini-3-pro-image",
      "gemini-3.1-flash-image-preview", "gemini-3.1-flash-image");

  private GoogleModels() {}

  private static void add(Profile p) {
    KNOWN.put(p.id(), p);
  }

  private static BigDecimal usd(String v) {
    return new BigDecimal(v);
  }

  /** The models imagegen has a profile for, in order. */
  static List<String> known() {
    return List.copyOf(KNOWN.keySet());
  }

  /** The profile of a model id (ignoring case and a {@code models/} prefix); {@link #GENERIC} for others. */
  static Profile profile(String model) {
    Profile p = KNOWN.get(normalise(model));
    return p != null ? p : new Profile(normalise(model), GENERIC.ratios(), GENERIC.sizeTiers(), GENERIC.maxInputImages(),
        null, GENERIC.source());
  }

  /** Whether a model has a profile of its own. */
  static boolean isKnown(String model) {
    return KNOWN.containsKey(normalise(model));
  }

  /** A model id as the API names it: lower case, without a {@code models/} prefix. */
  static String normalise(String model) {
    String m = model.strip().toLowerCase(Locale.ROOT);
    return m.startsWith("models/") ? m.substring("models/".length()) : m;
  }

  /** Whether a name is a Gemini model id this provider passes through (it must name an image model). */
  static boolean isGeminiImageId(String model) {
    String m = normalise(model);
    return GEMINI_IMAGE.matcher(m).matches() && (m.contains("image") || m.contains("nano-banana"));
  }

  /** Whether a name is an Imagen id: those answer only {@code :predict}, which is gone from the Gemini API. */
  static boolean isImagen(String model) {
    return normalise(model).startsWith("imagen-");
  }

  /**
   * The size tier a request's pixel size asks for: its longer side up to 1024 is {@code 1K}, up to
   * 2048 {@code 2K}, above {@code 4K}; no size means {@code 1K}.
   */
  static String sizeTier(@Nullable Integer width, @Nullable Integer height) {
    int longer = Math.max(width == null ? 0 : width, height == null ? 0 : height);
    return longer <= 1024 ? "1K" : longer <= 2048 ? "2K" : "4K";
  }
}
