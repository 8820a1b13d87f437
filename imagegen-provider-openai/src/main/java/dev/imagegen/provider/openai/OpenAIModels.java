package dev.imagegen.provider.openai;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * What each family of OpenAI image models takes, recognised by the model id's prefix (ids are
 * configuration: a new snapshot {@code gpt-image-2-2026-04-21} or {@code gpt-image-2.6-flare}
 * falls in its family without a code change):
 *
 * <pre>
 * family      models                                   sizes                                        n     response_format
 * GPT_IMAGE   gpt-image-2 and later                    WxH, both ÷16, ≤3840, 1:3..3:1, 655,360..8,294,400 px  1-10  never (base64)
 * GPT_IMAGE_1 gpt-image-1, -1-mini, -1.5, chatgpt-image  1024x1024 1536x1024 1024x1536                 1-10  never (base64)
 * DALL_E_3    dall-e-3                                 1024x1024 1792x1024 1024x1792                 1     b64_json
 * DALL_E_2    dall-e-2                                 256x256 512x512 1024x1024                     1-10  b64_json
 * COMPATIBLE  any model of an OpenAI-compatible server  WxH as asked                                 1-10  b64_json or base64
 * </pre>
 *
 * Immutable; thread-safe.
 */
final class OpenAIModels {
  /** The default model: the live GPT image model of the 2026-08 OpenAPI spec. */
  static final String DEFAULT_MODEL = "gpt-image-2";

  /**
   * Models OpenAI has shut down (protocol lifecycle table, 2026-12): refused before any call, so
   * routing skips this provider for them. The {@code retired-models} key replaces the list.
   */
  static final List<String> RETIRED = List.of("dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5",
      "gpt-image-1.5-2025-12-16", "chatgpt-image-latest");

  /** The largest number of pixels a gpt-image-2 image may have (3840x2160). */
  static final long MAX_PIXELS = 3840L * 2160;
  /** Above this many pixels (2560x1440) a gpt-image-2 size is experimental. */
  static final long EXPERIMENTAL_PIXELS = 2560L * 1440;
  /** The smallest number of pixels a gpt-image-2 image may have. */
  static final long MIN_PIXELS = 655_360;
  /** The longest edge of a gpt-image-2 image. */
  static final int MAX_EDGE = 3840;
  /** Most input images one edit takes. */
  static final int MAX_EDIT_IMAGES = 16;
  /** Longest prompt of the GPT image models, in characters. */
  static final int MAX_PROMPT = 32_000;

  private OpenAIModels() {}

  /** A family of models that take the same fields. */
  enum Family {
    /** gpt-image-2 and later: any size within limits. */
    GPT_IMAGE(10, 32_000, false),
    /** gpt-image-1, -1-mini, -1.5, chatgpt-image-latest: three sizes. */
    GPT_IMAGE_1(10, 32_000, false),
    /** dall-e-3: one image per call, three sizes, URLs unless b64_json is asked. */
    DALL_E_3(1, 4000, true),
    /** dall-e-2: three square sizes. */
    DALL_E_2(10, 1000, true),
    /** A model of an OpenAI-compatible server: sizes as asked. */
    COMPATIBLE(10, 32_000, true);

    /** Most images one call makes. */
    final int maxImages;
    /** Longest prompt, in characters. */
    final int maxPrompt;
    /** Whether the model takes {@code response_format}. */
    final boolean responseFormat;

    Family(int maxImages, int maxPrompt, boolean responseFormat) {
      this.maxImages = maxImages;
      this.maxPrompt = maxPrompt;
      this.responseFormat = responseFormat;
    }

    /** Whether the family takes the GPT image fields (quality low..high, background, output_format, moderation). */
    boolean gptImage() {
      return this == GPT_IMAGE || this == GPT_IMAGE_1;
    }

    /** The fixed sizes of the family, empty when any size within limits is taken. */
    List<String> sizes() {
      switch (this) {
        case GPT_IMAGE_1: return List.of("1024x1024", "1536x1024", "1024x1536");
        case DALL_E_3: return List.of("1024x1024", "1792x1024", "1024x1792");
        case DALL_E_2: return List.of("256x256", "512x512", "1024x1024");
        default: return List.of();
      }
    }
  }

  /**
   * The family of a model id.
   *
   * @param model the model id as sent
   * @param compatible whether the server is an OpenAI-compatible one (not OpenAI or Azure)
   */
  static Family family(String model, boolean compatible) {
    String m = model.toLowerCase(Locale.ROOT);
    if (m.startsWith("dall-e-3")) {
      return Family.DALL_E_3;
    }
    if (m.startsWith("dall-e-2")) {
      return Family.DALL_E_2;
    }
    if (m.startsWith("gpt-image-1") || m.startsWith("chatgpt-image")) {
      return Family.GPT_IMAGE_1;
    }
    if (m.startsWith("gpt-image")) {
      return Family.GPT_IMAGE;
    }
    return compatible ? Family.COMPATIBLE : Family.GPT_IMAGE;
  }

  /**
   * Whether a model refuses {@code background: transparent}: gpt-image-2 and its dated snapshots
   * (openai-python's {@code images.edit} and {@code generate} docs).
   *
   * @param model the model id
   */
  static boolean noTransparency(String model) {
    String m = model.toLowerCase(Locale.ROOT);
    return m.equals("gpt-image-2") || m.matches("gpt-image-2-\\d{4}-\\d{2}-\\d{2}");
  }

  /** Whether a name looks like an OpenAI image model id (so routing passes it through). */
  static boolean isOpenAIImageModel(String model) {
    String m = model.toLowerCase(Locale.ROOT);
    return m.startsWith("gpt-image") || m.startsWith("dall-e") || m.startsWith("chatgpt-image");
  }

  /**
   * What is wrong with a size for a family, or null when it is taken.
   *
   * @param family the family
   * @param model the model id, for the message
   * @param width the width
   * @param height the height
   */
  static @Nullable String sizeProblem(Family family, String model, int width, int height) {
    String size = width + "x" + height;
    List<String> fixed = family.sizes();
    if (!fixed.isEmpty()) {
      return fixed.contains(size) ? null : "size " + size + " is not one " + model + " makes (" + String.join(", ", fixed) + ")";
    }
    if (family != Family.GPT_IMAGE) {
      return null;
    }
    List<String> why = new ArrayList<>();
    if (width % 16 != 0 || height % 16 != 0) {
      why.add("both edges must be multiples of 16");
    }
    if (width > MAX_EDGE || height > MAX_EDGE) {
      why.add("no edge may exceed " + MAX_EDGE);
    }
    long pixels = (long) width * height;
    if (pixels > MAX_PIXELS || pixels < MIN_PIXELS) {
      why.add("the image must have " + MIN_PIXELS + " to " + MAX_PIXELS + " pixels, not " + pixels);
    }
    if (Math.max(width, height) > 3L * Math.min(width, height)) {
      why.add("the aspect ratio must lie within 1:3 and 3:1");
    }
    return why.isEmpty() ? null : "size " + size + " is not one " + model + " makes: " + String.join("; ", why);
  }
}
