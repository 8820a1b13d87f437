package dev.imagegen;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The built-in prompt styles and quality enhancers, and how they expand into prompt text.
 *
 * <p>Expansion is deterministic: the final prompt is the user's prompt, then the style's text,
 * then each enhancer's text in the order the request lists them (duplicates dropped), joined with
 * {@code ", "}. For example {@code "a red fox"} with style {@code watercolor} and enhancer
 * {@code sharp_focus} becomes {@code "a red fox, watercolor painting, soft washes of color, paper
 * texture, sharp focus, crisp details"}.
 *
 * <p>The default negative prompt ({@link #DEFAULT_NEGATIVE_PROMPT}) applies unless the request sets
 * one or turns it off with {@link ImageGenerationRequest.Builder#defaultNegativePrompt(boolean)}.
 */
public final class PromptStyles {

  /** The negative prompt applied when a request sets none. */
  public static final String DEFAULT_NEGATIVE_PROMPT =
      "blurry, low quality, lowres, distorted, deformed, disfigured, bad anatomy, extra limbs, watermark, text, signature, jpeg artifacts";

  private static final Map<String, String> STYLES = ordered(
      "watercolor", "watercolor painting, soft washes of color, paper texture",
      "oil_painting", "oil painting, visible brush strokes, rich textures, canvas",
      "digital_art", "digital art, highly detailed, trending on artstation",
      "cartoon", "cartoon style, bold outlines, flat vibrant colors",
      "realistic", "photorealistic, realistic lighting, natural colors, photograph",
      "sketch", "pencil sketch, graphite, hand-drawn lines, monochrome",
      "anime", "anime style, cel shading, expressive characters");

  private static final Map<String, String> ENHANCERS = ordered(
      "high_detail", "highly detailed, intricate details",
      "professional_lighting", "professional lighting, studio lighting",
      "sharp_focus", "sharp focus, crisp details",
      "vibrant_colors", "vibrant colors, saturated",
      "cinematic", "cinematic composition, dramatic lighting, film still");

  private PromptStyles() {}

  private static Map<String, String> ordered(String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return Collections.unmodifiableMap(m);
  }

  /** The style names, in documentation order. */
  public static Set<String> styles() {
    return STYLES.keySet();
  }

  /** The quality enhancer names, in documentation order. */
  public static Set<String> enhancers() {
    return ENHANCERS.keySet();
  }

  /**
   * The text a style adds.
   *
   * @param style a style name, any case
   * @return the text, or null when the style is unknown
   */
  public static @Nullable String styleText(String style) {
    return STYLES.get(style.toLowerCase(Locale.ROOT));
  }

  /**
   * The text an enhancer adds.
   *
   * @param enhancer an enhancer name, any case
   * @return the text, or null when unknown
   */
  public static @Nullable String enhancerText(String enhancer) {
    return ENHANCERS.get(enhancer.toLowerCase(Locale.ROOT));
  }

  /**
   * Expands a prompt with a style and enhancers, as described in the class comment.
   *
   * @param prompt the user's prompt
   * @param style a style name, or null
   * @param enhancers enhancer names, possibly empty
   * @return the final prompt
   * @throws IllegalArgumentException for an unknown style or enhancer
   */
  public static String expand(String prompt, @Nullable String style, List<String> enhancers) {
    List<String> parts = new ArrayList<>();
    parts.add(prompt.strip());
    if (style != null) {
      String t = styleText(style);
      if (t == null) {
        throw new IllegalArgumentException("unknown style '" + style + "' (known: " + String.join(", ", styles()) + ")");
      }
      parts.add(t);
    }
    List<String> seen = new ArrayList<>();
    for (String e : enhancers) {
      String key = e.toLowerCase(Locale.ROOT);
      if (seen.contains(key)) {
        continue;
      }
      seen.add(key);
      String t = enhancerText(key);
      if (t == null) {
        throw new IllegalArgumentException("unknown quality enhancer '" + e + "' (known: " + String.join(", ", enhancers()) + ")");
      }
      parts.add(t);
    }
    return String.join(", ", parts);
  }
}
