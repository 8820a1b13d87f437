package dev.imagegen.springai;

import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.InvalidRequestException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.springframework.ai.image.Image;
import org.springframework.ai.image.ImageGeneration;
import org.springframework.ai.image.ImageMessage;
import org.springframework.ai.image.ImageModel;
import org.springframework.ai.image.ImageOptions;
import org.springframework.ai.image.ImagePrompt;
import org.springframework.ai.image.ImageResponse;

/**
 * Spring AI's {@link ImageModel} backed by an {@link ImageGenerationService}: an application that
 * codes against the framework gets imagegen's failover, budgets and cost reports behind it.
 *
 * <p>How a prompt is mapped:
 * <ul>
 *   <li>messages with a positive weight (or none) are joined with {@code ", "} as the prompt, those
 *       with a negative weight as the negative prompt, in order (imagegen has no per-term weights:
 *       only the sign counts);</li>
 *   <li>options: {@code n} is the number of images, {@code model} an imagegen alias or a
 *       provider-native id, {@code width} and {@code height} the size (both or neither),
 *       {@code style} an imagegen style; {@link ImagegenImageOptions} adds a negative prompt, a
 *       seed, a preset and an output format;</li>
 *   <li>{@code responseFormat} {@value ImagegenImageOptions#B64_JSON} (the default) puts each
 *       image's bytes in {@link Image#getB64Json()}; {@value ImagegenImageOptions#URL} puts the
 *       provider's URL in {@link Image#getUrl()} when the provider served the image from one, and
 *       the bytes otherwise, with a warning in the response metadata;</li>
 *   <li>the options given to the constructor are the defaults; a call's options win field by field.</li>
 * </ul>
 *
 * <p>The response has one {@link ImageGeneration} per image, each with an
 * {@link ImagegenImageGenerationMetadata}, and an {@link ImagegenImageResponseMetadata} naming the
 * provider that served, the model, the cost and the number of attempts.
 *
 * <p>Errors: a prompt or options that cannot be mapped are an {@link IllegalArgumentException}
 * listing every problem; what the service throws ({@code AllProvidersFailedException},
 * {@code BudgetExceededException}, ...: unchecked, naming the provider) passes through unchanged.
 *
 * <p>Thread-safe; it does not own the service (closing the service is the application's job).
 */
public final class ImagegenImageModel implements ImageModel {

  private final ImageGenerationService service;
  private final ImagegenImageOptions defaults;

  /**
   * A model with no default options: imagegen's defaults apply.
   *
   * @param service the service that generates
   */
  public ImagegenImageModel(ImageGenerationService service) {
    this(service, ImagegenImageOptions.builder().build());
  }

  /**
   * A model with default options, which each call's options override field by field.
   *
   * @param service the service that generates
   * @param defaults the default options: the framework's ({@code ImageOptionsBuilder}) or {@link ImagegenImageOptions}
   */
  public ImagegenImageModel(ImageGenerationService service, ImageOptions defaults) {
    this.service = Objects.requireNonNull(service, "service");
    this.defaults = ImagegenImageOptions.from(Objects.requireNonNull(defaults, "defaults")).build();
  }

  /** The default options, as given to the constructor. */
  public ImagegenImageOptions getDefaultOptions() {
    return defaults;
  }

  /**
   * Generates the images with failover.
   *
   * @param prompt the messages and options
   * @return one generation per image, with imagegen's metadata
   * @throws IllegalArgumentException when the prompt or the options cannot be mapped (every problem listed)
   * @throws dev.imagegen.ImageGenerationException what the service throws, unchanged
   */
  @Override
  public ImageResponse call(ImagePrompt prompt) {
    Objects.requireNonNull(prompt, "prompt");
    ImagegenImageOptions options = merge(defaults, prompt.getOptions());
    boolean wantsUrl = responseFormatIsUrl(options);
    ImageGenerationRequest request = toRequest(prompt, options);
    ImageGenerationResponse response = service.generateImageWithFailover(request);
    return toResponse(response, wantsUrl);
  }

  /** The call's options over the defaults, field by field. */
  static ImagegenImageOptions merge(ImagegenImageOptions defaults, @Nullable ImageOptions call) {
    if (call == null) {
      return defaults;
    }
    ImagegenImageOptions c = ImagegenImageOptions.from(call).build();
    return ImagegenImageOptions.builder()
        .n(first(c.getN(), defaults.getN()))
        .model(first(c.getModel(), defaults.getModel()))
        .width(first(c.getWidth(), defaults.getWidth()))
        .height(first(c.getHeight(), defaults.getHeight()))
        .responseFormat(first(c.getResponseFormat(), defaults.getResponseFormat()))
        .style(first(c.getStyle(), defaults.getStyle()))
        .negativePrompt(first(c.getNegativePrompt(), defaults.getNegativePrompt()))
        .seed(first(c.getSeed(), defaults.getSeed()))
        .preset(first(c.getPreset(), defaults.getPreset()))
        .outputFormat(first(c.getOutputFormat(), defaults.getOutputFormat()))
        .build();
  }

  private static <T> @Nullable T first(@Nullable T a, @Nullable T b) {
    return a != null ? a : b;
  }

  private static boolean responseFormatIsUrl(ImagegenImageOptions options) {
    String f = options.getResponseFormat();
    return f != null && f.trim().equalsIgnoreCase(ImagegenImageOptions.URL);
  }

  /**
   * The imagegen request for a prompt and merged options.
   *
   * @throws IllegalArgumentException listing every problem: the adapter's and imagegen's validation together
   */
  static ImageGenerationRequest toRequest(ImagePrompt prompt, ImagegenImageOptions o) {
    List<String> problems = new ArrayList<>();
    List<String> positive = new ArrayList<>();
    List<String> negative = new ArrayList<>();
    List<ImageMessage> messages = prompt.getInstructions();
    if (messages == null || messages.isEmpty()) {
      problems.add("the prompt has no messages");
    } else {
      for (int i = 0; i < messages.size(); i++) {
        readMessage(i, messages.get(i), positive, negative, problems);
      }
      if (positive.isEmpty() && problems.isEmpty()) {
        problems.add("the prompt has no message with a positive weight (negative weights only say what to avoid)");
      }
    }
    String optionsNegative = o.getNegativePrompt();
    if (optionsNegative != null && !optionsNegative.isBlank()) {
      negative.add(optionsNegative.trim());
    }

    Integer n = o.getN();
    if (n != null && n < 1) {
      problems.add("n must be at least 1, was " + n);
      n = null;
    }
    Integer width = o.getWidth();
    Integer height = o.getHeight();
    boolean widthOk = positive("width", width, problems);
    boolean heightOk = positive("height", height, problems);
    if (!widthOk || !heightOk) {
      width = null; // reported above; imagegen's own check would add "set together" to it
      height = null;
    }
    String format = o.getResponseFormat();
    if (format != null && !format.trim().equalsIgnoreCase(ImagegenImageOptions.B64_JSON)
        && !format.trim().equalsIgnoreCase(ImagegenImageOptions.URL)) {
      problems.add("responseFormat must be " + ImagegenImageOptions.B64_JSON + " or " + ImagegenImageOptions.URL
          + ", was '" + format + "'");
    }
    Long seed = o.getSeed();
    if (seed != null && seed < 0) {
      problems.add("seed must not be negative, was " + seed);
      seed = null;
    }

    ImageGenerationRequest.Builder b = ImageGenerationRequest.builder()
        .prompt(positive.isEmpty() ? "(none)" : String.join(", ", positive))
        .model(blankToNull(o.getModel()))
        .width(width)
        .height(height)
        .seed(seed)
        .style(blankToNull(o.getStyle()))
        .preset(blankToNull(o.getPreset()))
        .outputFormat(blankToNull(o.getOutputFormat()));
    if (n != null) {
      b.numImages(n);
    }
    if (!negative.isEmpty()) {
      b.negativePrompt(String.join(", ", negative));
    }
    ImageGenerationRequest request;
    try {
      request = b.build();
    } catch (InvalidRequestException e) {
      problems.addAll(e.violations());
      throw invalid(problems, e);
    }
    if (!problems.isEmpty()) {
      throw invalid(problems, null);
    }
    return request;
  }

  private static void readMessage(int i, @Nullable ImageMessage m, List<String> positive, List<String> negative,
      List<String> problems) {
    if (m == null) {
      problems.add("message " + i + " is null");
      return;
    }
    String text = m.getText();
    Float weight = m.getWeight();
    boolean ok = true;
    if (text == null || text.isBlank()) {
      problems.add("message " + i + " has no text");
      ok = false;
    }
    if (weight != null && (weight.isNaN() || weight == 0f)) {
      problems.add("message " + i + " has weight " + weight
          + ": use a positive weight for what to draw, a negative one for what to avoid");
      ok = false;
    }
    if (!m.getMedia().isEmpty()) {
      problems.add("message " + i + " carries media (" + m.getMedia().size()
          + "): input images are not supported through Spring AI's ImageModel; use ImageGenerationService with InputImage");
      ok = false;
    }
    if (ok && text != null) {
      (weight == null || weight > 0 ? positive : negative).add(text.trim());
    }
  }

  private static boolean positive(String name, @Nullable Integer value, List<String> problems) {
    if (value != null && value <= 0) {
      problems.add(name + " must be positive, was " + value);
      return false;
    }
    return true;
  }

  private static @Nullable String blankToNull(@Nullable String s) {
    return s == null || s.isBlank() ? null : s.trim();
  }

  private static IllegalArgumentException invalid(List<String> problems, @Nullable Throwable cause) {
    String message = problems.size() == 1 ? "invalid image prompt: " + problems.get(0)
        : "invalid image prompt (" + problems.size() + " problems): " + String.join("; ", problems);
    return new IllegalArgumentException(message, cause);
  }

  private static ImageResponse toResponse(ImageGenerationResponse response, boolean wantsUrl) {
    List<String> warnings = new ArrayList<>(response.warnings());
    List<ImageGeneration> generations = new ArrayList<>(response.images().size());
    int inline = 0;
    for (GeneratedImage img : response.images()) {
      String url = img.sourceUrl();
      Image image;
      if (wantsUrl && url != null) {
        image = new Image(url, null);
      } else {
        if (wantsUrl) {
          inline++;
        }
        image = new Image(null, Base64.getEncoder().encodeToString(img.bytes()));
      }
      generations.add(new ImageGeneration(image, ImagegenImageGenerationMetadata.of(img)));
    }
    if (inline > 0) {
      warnings.add(String.format(Locale.ROOT,
          "responseFormat url: %d of %d images came without a URL from %s; they are returned as b64_json", inline,
          response.images().size(), response.provider()));
    }
    return new ImageResponse(generations, new ImagegenImageResponseMetadata(response, warnings));
  }
}
