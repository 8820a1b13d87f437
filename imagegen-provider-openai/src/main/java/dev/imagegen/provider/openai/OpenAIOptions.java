package dev.imagegen.provider.openai;

import dev.imagegen.spi.ProviderConfig;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The optional Images API fields a request sets through {@code providerOptions} (under their wire
 * names) or the configuration sets as defaults: {@code quality}, {@code background},
 * {@code moderation}, {@code output_compression}, {@code user}, {@code input_fidelity},
 * {@code style}. Each value is checked against what the API takes. Thread-safe; all methods are
 * static.
 */
final class OpenAIOptions {
  /** Wire name to the values the API takes (empty: any text). */
  static final Map<String, List<String>> VALUES = Map.of(
      "quality", List.of("low", "medium", "high", "auto", "standard", "hd"),
      "background", List.of("transparent", "opaque", "auto"),
      "moderation", List.of("low", "auto"),
      "input_fidelity", List.of("high", "low"),
      "style", List.of("vivid", "natural"),
      "user", List.of(),
      "output_compression", List.of());

  private OpenAIOptions() {}

  /**
   * The defaults the configuration sets, under their wire names.
   *
   * @param config the configuration
   * @return wire name to value
   * @throws IllegalStateException naming the key when a value is not one the API takes
   */
  static Map<String, String> defaults(ProviderConfig config) {
    Map<String, String> out = new LinkedHashMap<>();
    choice(config, OpenAIProvider.QUALITY, "quality", out);
    choice(config, OpenAIProvider.BACKGROUND, "background", out);
    choice(config, OpenAIProvider.MODERATION, "moderation", out);
    choice(config, OpenAIProvider.INPUT_FIDELITY, "input_fidelity", out);
    config.get(OpenAIProvider.USER).map(String::strip).filter(v -> !v.isEmpty()).ifPresent(v -> out.put("user", v));
    if (config.get(OpenAIProvider.OUTPUT_COMPRESSION).isPresent()) {
      out.put("output_compression", String.valueOf(config.intValue(OpenAIProvider.OUTPUT_COMPRESSION, 100, 0, 100)));
    }
    return Map.copyOf(out);
  }

  private static void choice(ProviderConfig config, String key, String wire, Map<String, String> out) {
    if (config.get(key).isPresent()) {
      out.put(wire, config.choice(key, "auto", VALUES.getOrDefault(wire, List.of()).toArray(String[]::new)));
    }
  }

  /**
   * A request's value for a field: checked, or a problem.
   *
   * @param wire the wire name
   * @param value what the request set
   * @return the problem, or null when the value is taken
   */
  static @Nullable String problem(String wire, Object value) {
    List<String> allowed = VALUES.get(wire);
    if (allowed == null) {
      return null;
    }
    String v = String.valueOf(value).strip().toLowerCase(Locale.ROOT);
    if ("output_compression".equals(wire)) {
      try {
        int c = Integer.parseInt(v);
        return c >= 0 && c <= 100 ? null : "providerOptions output_compression must be 0-100, was " + value;
      } catch (NumberFormatException e) {
        return "providerOptions output_compression must be a whole number 0-100, was '" + value + "'";
      }
    }
    return allowed.isEmpty() || allowed.contains(v) ? null
        : "providerOptions " + wire + " must be one of " + String.join(", ", allowed) + ", was '" + value + "'";
  }
}
