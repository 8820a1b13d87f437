package dev.imagegen.provider.bfl;

import dev.imagegen.ErrorKind;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.spi.SoftInput;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * BFL's models, each with the path it is submitted to, how it takes a size, how many input images
 * it takes and its built-in price (see {@code shared/protocols/bfl.md}). Immutable.
 */
final class BflModels {
  private BflModels() {}

  /** How a model takes its output size. */
  enum Sizing {
    /** {@code width}/{@code height}, multiples of 16, at least 64, at most 4 MP in all (FLUX.2). */
    FLUX2,
    /** {@code width}/{@code height}, multiples of 32, 256 to 1440 (FLUX.1 [pro], [dev], 1.1 [pro]). */
    FLUX1,
    /** {@code aspect_ratio} only, BFL picks the pixel size (Kontext, 1.1 [pro] Ultra). */
    ASPECT_RATIO
  }

  /**
   * One model.
   *
   * @param id the id, also the path under {@code /v1/}
   * @param description what it is
   * @param sizing how it takes a size
   * @param maxInputImages input images it takes ({@code input_image}, {@code input_image_2}, ...), 0 = text only
   * @param stepsAndGuidance whether it reads {@code steps} and {@code guidance}
   * @param maxGuidance the largest {@code guidance} it accepts (0 when it takes none)
   * @param perImage its price per image in USD, or null (FLUX.2: per megapixel, see {@link #firstMp})
   * @param firstMp FLUX.2: USD for the first output megapixel, else null
   * @param furtherMp FLUX.2: USD for each further output megapixel and each input megapixel, else null
   */
  record Model(String id, String description, Sizing sizing, int maxInputImages, boolean stepsAndGuidance, double maxGuidance,
      @Nullable BigDecimal perImage, @Nullable BigDecimal firstMp, @Nullable BigDecimal furtherMp) {

    /** Whether the model is a FLUX.2 model, priced per megapixel. */
    boolean isFlux2() {
      return sizing == Sizing.FLUX2;
    }
  }

  /** The FLUX.2 [pro] model, the default for text to image. */
  static final String FLUX_2_PRO = "flux-2-pro";
  /** FLUX.1 Kontext [pro], the default for editing. */
  static final String KONTEXT_PRO = "flux-kontext-pro";
  /** The largest FLUX.2 output, in pixels: 4 MP (2048 by 2048). */
  static final long FLUX2_MAX_PIXELS = 2048L * 2048L;

  /** Every model, by id, in the order {@code listModels()} shows them. */
  static final Map<String, Model> ALL;

  static {
    Map<String, Model> m = new LinkedHashMap<>();
    // FLUX.2 per megapixel (BFL's skills reference, 2026-02): first output MP + each further MP; input MP at the further rate.
    // Reference images: 8 for pro/max/flex, klein 4 (the client catalog says 5 for klein-9b; the lower figure is kept)
    add(m, new Model(FLUX_2_PRO, "FLUX.2 [pro]: text to image and editing with up to 8 input images", Sizing.FLUX2, 8, false, 0,
        null, usd("0.03"), usd("0.015")));
    add(m, new Model("flux-2-max", "FLUX.2 [max]: highest quality, text to image and editing with up to 8 input images",
        Sizing.FLUX2, 8, false, 0, null, usd("0.07"), usd("0.03")));
    add(m, new Model("flux-2-flex", "FLUX.2 [flex]: typography, steps and guidance, up to 8 input images", Sizing.FLUX2, 8,
        true, 10, null, usd("0.05"), usd("0.05")));
    add(m, new Model("flux-2-klein-4b", "FLUX.2 [klein] 4B: fastest, up to 4 input images", Sizing.FLUX2, 4, false, 0, null,
        usd("0.014"), usd("0.001")));
    add(m, new Model("flux-2-klein-9b", "FLUX.2 [klein] 9B: fast, up to 4 input images", Sizing.FLUX2, 4, false, 0, null,
        usd("0.015"), usd("0.002")));
    // FLUX.1 per image (docs.bfl.ml pricing): Kontext [pro] 4 credits, [max] 8, 1.1 [pro] 4, Ultra 6; [dev] 2.5 (a reseller
    // quoting bfl.ai/pricing); FLUX.1 [pro] has no confirmed price: unknown unless configured
    add(m, new Model(KONTEXT_PRO, "FLUX.1 Kontext [pro]: editing with an input image (up to 4), or text to image",
        Sizing.ASPECT_RATIO, 4, false, 0, usd("0.04"), null, null));
    add(m, new Model("flux-kontext-max", "FLUX.1 Kontext [max]: editing with an input image (up to 4), or text to image",
        Sizing.ASPECT_RATIO, 4, false, 0, usd("0.08"), null, null));
    add(m, new Model("flux-pro-1.1", "FLUX1.1 [pro]: text to image", Sizing.FLUX1, 0, false, 0, usd("0.04"), null, null));
    add(m, new Model("flux-pro-1.1-ultra", "FLUX1.1 [pro] Ultra: text to image up to 4 MP, by aspect ratio",
        Sizing.ASPECT_RATIO, 0, false, 0, usd("0.06"), null, null));
    add(m, new Model("flux-pro", "FLUX.1 [pro]: text to image", Sizing.FLUX1, 0, false, 0, null, null, null));
    add(m, new Model("flux-dev", "FLUX.1 [dev]: text to image, steps and guidance", Sizing.FLUX1, 0, true, 5, usd("0.025"),
        null, null));
    ALL = Map.copyOf(m);
    ORDER = List.copyOf(m.keySet());
  }

  /** The ids in listing order. */
  static final List<String> ORDER;

  private static void add(Map<String, Model> m, Model model) {
    m.put(model.id(), model);
  }

  private static BigDecimal usd(String v) {
    return new BigDecimal(v);
  }

  /**
   * A model by id, ignoring case and surrounding white space.
   *
   * @param name the name
   * @return the model, or null when BFL has none by that name
   */
  static @Nullable Model find(@Nullable String name) {
    return name == null ? null : ALL.get(name.strip().toLowerCase(java.util.Locale.ROOT));
  }

  /**
   * The soft inputs a model ignores: steps and guidance unless it reads them (negative prompt and
   * sampler are ignored by every BFL model, declared provider-wide).
   *
   * @param model the model, or null when unknown
   */
  static Set<SoftInput> ignored(@Nullable Model model) {
    return model == null || model.stepsAndGuidance() ? Set.of() : EnumSet.of(SoftInput.STEPS, SoftInput.GUIDANCE);
  }

  /**
   * The input images in the order they are sent: the init image first ({@code input_image}),
   * then the references ({@code input_image_2}, ...).
   *
   * @param r the request
   */
  static List<InputImage> orderedInputs(ImageGenerationRequest r) {
    List<InputImage> out = new ArrayList<>();
    InputImage init = r.initImage();
    if (init != null) {
      out.add(init);
    }
    out.addAll(r.inputImages(InputImage.Role.REFERENCE));
    return out;
  }

  /**
   * Checks that a model can serve a request: a size it takes, no more input images than it
   * takes, no mask, one image, steps and guidance in its range.
   *
   * @param providerId the provider id, for messages
   * @param r the request
   * @param model the model
   * @throws ImageGenerationException ({@link ErrorKind#NO_CAPABLE_PROVIDER}, failover allowed) when it cannot
   */
  static void check(String providerId, ImageGenerationRequest r, Model model) {
    List<String> why = new ArrayList<>();
    Integer w = r.width();
    Integer h = r.height();
    if (w != null && h != null) {
      switch (model.sizing()) {
        case FLUX2 -> {
          if (w < 64 || h < 64 || w % 16 != 0 || h % 16 != 0 || (long) w * h > FLUX2_MAX_PIXELS) {
            why.add("size " + w + "x" + h + ": " + model.id() + " takes multiples of 16, at least 64, at most 4 MP ("
                + FLUX2_MAX_PIXELS + " pixels)");
          }
        }
        case FLUX1 -> {
          if (w < 256 || h < 256 || w > 1440 || h > 1440 || w % 32 != 0 || h % 32 != 0) {
            why.add("size " + w + "x" + h + ": " + model.id() + " takes multiples of 32 from 256 to 1440");
          }
        }
        case ASPECT_RATIO -> {
          double ratio = w / (double) h;
          double min = model.id().startsWith("flux-kontext") ? 0.25 : 9.0 / 21;
          double max = model.id().startsWith("flux-kontext") ? 4.0 : 21.0 / 9;
          if (ratio < min - 1e-9 || ratio > max + 1e-9) {
            why.add("size " + w + "x" + h + ": " + model.id() + " takes aspect ratios from "
                + (model.id().startsWith("flux-kontext") ? "1:4 to 4:1" : "9:21 to 21:9"));
          }
        }
        default -> throw new IllegalStateException("unknown sizing " + model.sizing());
      }
    }
    int inputs = orderedInputs(r).size();
    if (inputs > model.maxInputImages()) {
      why.add(model.maxInputImages() == 0 ? model.id() + " is text to image and takes no input images (" + inputs + " given)"
          : inputs + " input images, " + model.id() + " takes at most " + model.maxInputImages());
    }
    if (r.initImage() == null && !r.inputImages(InputImage.Role.REFERENCE).isEmpty() && !model.isFlux2()) {
      // Kontext edits its input_image; references alone are only FLUX.2's multi-reference generation
      why.add(model.id() + " edits an init image: reference images need an init image (or a FLUX.2 model)");
    }
    if (r.mask() != null) {
      why.add("BFL models here take no inpainting mask; the mask would be dropped");
    }
    if (r.numImages() > 1) {
      why.add(r.numImages() + " images requested; a BFL task makes one");
    }
    if (model.stepsAndGuidance()) {
      if (r.steps() != null && (r.steps() < 1 || r.steps() > 50)) {
        why.add("steps " + r.steps() + ": " + model.id() + " takes 1 to 50");
      }
      Double g = r.guidanceScale();
      if (g != null && (g < 1.5 || g > model.maxGuidance())) {
        why.add("guidance " + g + ": " + model.id() + " takes 1.5 to " + model.maxGuidance());
      }
    }
    if (!why.isEmpty()) {
      throw notCapable(providerId, String.join("; ", why));
    }
  }

  /**
   * An error saying BFL cannot serve the request; another provider may.
   *
   * @param providerId the provider id
   * @param message why
   */
  static ImageGenerationException notCapable(String providerId, String message) {
    return new ImageGenerationException(message, providerId, ErrorKind.NO_CAPABLE_PROVIDER, false, true, null);
  }

  /**
   * The {@code aspect_ratio} for a size: the width and height divided by their greatest common
   * divisor, e.g. 1920x1080 is {@code 16:9}.
   *
   * @param w the width
   * @param h the height
   */
  static String aspectRatio(int w, int h) {
    int a = w;
    int b = h;
    while (b != 0) {
      int t = a % b;
      a = b;
      b = t;
    }
    return (w / a) + ":" + (h / a);
  }
}
