package dev.imagegen.provider.stability;

import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * What Stability's v2beta endpoints take, per model, and what each result costs in credits (the
 * protocol's table; failed results are not charged). Immutable; all members are static.
 *
 * <table>
 * <caption>models</caption>
 * <tr><th>model</th><th>endpoint</th><th>credits</th><th>init image</th><th>negative prompt</th><th>guidance</th></tr>
 * <tr><td>ultra</td><td>generate/ultra</td><td>8</td><td>yes ({@code image} + {@code strength})</td><td>yes</td><td>no</td></tr>
 * <tr><td>core</td><td>generate/core</td><td>3</td><td>no</td><td>yes</td><td>no</td></tr>
 * <tr><td>sd3.5-large, sd3-large</td><td>generate/sd3</td><td>6.5</td><td>yes ({@code mode=image-to-image})</td><td>yes</td><td>{@code cfg_scale}</td></tr>
 * <tr><td>sd3.5-large-turbo</td><td>generate/sd3</td><td>4</td><td>yes</td><td>yes</td><td>{@code cfg_scale}</td></tr>
 * <tr><td>sd3-large-turbo</td><td>generate/sd3</td><td>4</td><td>yes</td><td>no</td><td>{@code cfg_scale}</td></tr>
 * <tr><td>sd3.5-medium, sd3-medium</td><td>generate/sd3</td><td>3.5</td><td>yes</td><td>yes</td><td>{@code cfg_scale}</td></tr>
 * <tr><td>inpaint</td><td>edit/inpaint</td><td>3</td><td>required, with a mask or an alpha channel</td><td>yes</td><td>no</td></tr>
 * </table>
 */
final class StabilityModels {
  private StabilityModels() {}

  /** The generate and edit endpoints, under the base URL. */
  static final String ULTRA_PATH = "/v2beta/stable-image/generate/ultra";
  /** Stable Image Core. */
  static final String CORE_PATH = "/v2beta/stable-image/generate/core";
  /** The SD 3.5 / SD3 family; the model goes in the {@code model} field. */
  static final String SD3_PATH = "/v2beta/stable-image/generate/sd3";
  /** Inpainting. */
  static final String INPAINT_PATH = "/v2beta/stable-image/edit/inpaint";
  /** The v1 account endpoint {@code health()} asks: {@code {"credits": 12.5}}. */
  static final String BALANCE_PATH = "/v1/user/balance";

  /** USD per credit (platform.stability.ai/pricing). */
  static final BigDecimal CREDIT_USD = new BigDecimal("0.01");

  /** The aspect ratios every generate endpoint takes ({@code 1:1} is the API's default). */
  static final List<String> ASPECT_RATIOS = List.of("21:9", "16:9", "3:2", "5:4", "1:1", "4:5", "2:3", "9:16", "9:21");

  /** Core's {@code style_preset} values. */
  static final Set<String> STYLE_PRESETS = Set.of("enhance", "anime", "photographic", "digital-art", "comic-book",
      "fantasy-art", "line-art", "analog-film", "neon-punk", "isometric", "low-poly", "origami", "modeling-compound",
      "cinematic", "3d-model", "pixel-art", "tile-texture");

  /** The largest {@code seed} the API takes; 0 means random. */
  static final long MAX_SEED = 4_294_967_294L;

  /** The largest request body the API takes: 10 MiB. */
  static final long MAX_REQUEST_BYTES = 10L * 1024 * 1024;

  /** The endpoints, by what they do. */
  enum Kind {
    /** {@code generate/ultra}. */
    ULTRA,
    /** {@code generate/core}. */
    CORE,
    /** {@code generate/sd3} with a {@code model} field. */
    SD3,
    /** {@code edit/inpaint}. */
    INPAINT
  }

  /**
   * One model.
   *
   * @param id imagegen's name for it, also the {@code model} field of {@code generate/sd3}
   * @param kind its endpoint
   * @param credits credits per successful image
   * @param megapixels output resolution in megapixels (for messages)
   */
  record Model(String id, Kind kind, BigDecimal credits, double megapixels) {

    /** The endpoint's path under the base URL. */
    String path() {
      switch (kind) {
        case ULTRA:
          return ULTRA_PATH;
        case CORE:
          return CORE_PATH;
        case SD3:
          return SD3_PATH;
        default:
          return INPAINT_PATH;
      }
    }

    /** Whether it takes an init image ({@code image}). */
    boolean takesInitImage() {
      return kind != Kind.CORE;
    }

    /** Whether it takes {@code negative_prompt}: all but {@code sd3-large-turbo}. */
    boolean takesNegativePrompt() {
      return !"sd3-large-turbo".equals(id);
    }

    /** Whether it takes a guidance scale ({@code cfg_scale}): the SD3 family. */
    boolean takesGuidance() {
      return kind == Kind.SD3;
    }

    /** Whether it can answer WebP: not the SD3 family ({@code png} or {@code jpeg} only). */
    boolean takesWebp() {
      return kind != Kind.SD3;
    }

    /** Whether it takes {@code aspect_ratio}: the generate endpoints without an init image. */
    boolean takesAspectRatio(boolean withInitImage) {
      return kind != Kind.INPAINT && !withInitImage;
    }
  }

  /** Every model, in the order listed. */
  static final Map<String, Model> MODELS;
  /** Other names of models. */
  static final Map<String, String> ALIASES = Map.of("stable-image-ultra", "ultra", "stable-image-core", "core");

  static {
    Map<String, Model> m = new LinkedHashMap<>();
    add(m, "ultra", Kind.ULTRA, "8", 1.0);
    add(m, "core", Kind.CORE, "3", 1.5);
    add(m, "sd3.5-large", Kind.SD3, "6.5", 1.0);
    add(m, "sd3.5-large-turbo", Kind.SD3, "4", 1.0);
    add(m, "sd3.5-medium", Kind.SD3, "3.5", 1.0);
    add(m, "sd3-large", Kind.SD3, "6.5", 1.0);
    add(m, "sd3-large-turbo", Kind.SD3, "4", 1.0);
    add(m, "sd3-medium", Kind.SD3, "3.5", 1.0);
    add(m, "inpaint", Kind.INPAINT, "3", 4.0);
    MODELS = java.util.Collections.unmodifiableMap(m);
  }

  private static void add(Map<String, Model> m, String id, Kind kind, String credits, double megapixels) {
    m.put(id, new Model(id, kind, new BigDecimal(credits), megapixels));
  }

  /**
   * The model of a name (an id or an alias, any case), or null when there is none.
   *
   * @param name the name
   */
  static @Nullable Model of(String name) {
    String n = name.strip().toLowerCase(Locale.ROOT);
    String id = ALIASES.getOrDefault(n, n);
    return MODELS.get(id);
  }
}
