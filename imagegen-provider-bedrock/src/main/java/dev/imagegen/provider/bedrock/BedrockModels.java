package dev.imagegen.provider.bedrock;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** The image models on Bedrock this provider knows, their aliases, and which body each takes. Immutable. */
final class BedrockModels {
  static final String NOVA_CANVAS = "amazon.nova-canvas-v1:0";
  static final String TITAN_V2 = "amazon.titan-image-generator-v2:0";
  static final String SD35_LARGE = "stability.sd3-5-large-v1:0";
  static final String ULTRA = "stability.stable-image-ultra-v1:1";
  static final String CORE = "stability.stable-image-core-v1:1";

  /** Which request and answer body a model speaks. */
  enum Family {
    /** Amazon Nova Canvas: {@code taskType} envelope, {@code images} + {@code error} answer. */
    NOVA,
    /** Amazon Titan Image Generator v2: Nova's envelope with other limits and no {@code style}. */
    TITAN,
    /** Stability's models on Bedrock: {@code prompt}/{@code aspect_ratio}, {@code seeds} + {@code finish_reasons} answer. */
    STABILITY
  }

  /** Alias to model id, in the README's order. */
  static final Map<String, String> ALIASES;

  static {
    Map<String, String> a = new LinkedHashMap<>();
    a.put("nova-canvas", NOVA_CANVAS);
    a.put("titan-image-v2", TITAN_V2);
    a.put("sd3.5-large", SD35_LARGE);
    a.put("stable-image-ultra", ULTRA);
    a.put("stable-image-core", CORE);
    ALIASES = java.util.Collections.unmodifiableMap(a);
  }

  private BedrockModels() {}

  /** The model id for a name: an alias's id, else the name itself (an id, ARN or inference profile). */
  static String resolve(String name) {
    String n = name.strip();
    String id = ALIASES.get(n.toLowerCase(Locale.ROOT));
    return id != null ? id : n;
  }

  /**
   * The family of a model id, ARN or inference-profile id ({@code us.amazon.nova-canvas-v1:0}), or
   * null when it is none of the image models this provider speaks.
   */
  static @Nullable Family family(String modelId) {
    String m = modelId.toLowerCase(Locale.ROOT);
    if (m.contains("amazon.nova-canvas")) {
      return Family.NOVA;
    }
    if (m.contains("amazon.titan-image-generator-v2")) {
      return Family.TITAN;
    }
    if (m.contains("stability.sd3") || m.contains("stability.stable-image")) {
      return Family.STABILITY;
    }
    return null;
  }

  /** Whether a Stability model takes an init image ({@code mode: image-to-image}): SD3.5 Large only. */
  static boolean takesInitImage(String modelId) {
    Family f = family(modelId);
    return f == Family.STABILITY ? modelId.toLowerCase(Locale.ROOT).contains("stability.sd3-5-large") : f != null;
  }
}
