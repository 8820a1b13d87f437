package dev.imagegen.langchain4j;

import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.langchain4j.data.image.Image;
import dev.langchain4j.model.image.ImageModel;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.Response;
import java.math.BigDecimal;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * LangChain4j's {@link ImageModel} backed by an {@link ImageGenerationService}: an application that
 * codes against the framework gets imagegen's failover, budgets and cost reports behind it.
 * Build one with {@link #builder()}; the builder's settings (model, size, negative prompt, style,
 * seed, ...) apply to every call.
 *
 * <p>Images out carry their bytes ({@link Image#base64Data()}) and media type, the provider's URL
 * when it served one (such URLs may expire; the bytes do not), and, as {@link Image#revisedPrompt()},
 * the prompt imagegen sent when a preset or style changed it. {@link Response#metadata()} names
 * the provider that served, the model, the cost and the attempts under the {@code imagegen.*} keys
 * below; there is no token usage. The finish reason is {@link FinishReason#CONTENT_FILTER} when the
 * provider flagged an image (some
 * providers return a blanked image with a flag; when every image is flagged imagegen throws
 * {@code ContentPolicyException} instead), else {@link FinishReason#STOP}.
 *
 * <p>Images in ({@code edit}): an image's {@code base64Data}, or a {@code data:} URL, or an
 * {@code http}/{@code https} URL, which imagegen passes to providers that take URLs and fetches for
 * those that do not, with its address checks (no loopback, private, link-local or cloud metadata
 * addresses unless the provider's configuration allows them). Other URLs ({@code file:} and the rest) are refused: an image URL may come from
 * a model's output, and reading local files on its word is not safe.
 *
 * <p>Errors: a prompt, count or image that cannot be used is an {@link IllegalArgumentException}
 * listing every problem (LangChain4j's convention), imagegen's own request validation included;
 * nothing is sent. What the service throws ({@code AllProvidersFailedException},
 * {@code BudgetExceededException}, ...: unchecked, each naming the provider) passes through unchanged.
 *
 * <p>Thread-safe; it does not own the service (closing the service is the application's job).
 */
public final class ImagegenImageModel implements ImageModel {

  /** Metadata key of the provider that served ({@code String}). */
  public static final String PROVIDER = "imagegen.provider";
  /** Metadata key of the model that served, as the provider named it ({@code String}). */
  public static final String MODEL = "imagegen.model";
  /** Metadata key of the cost in US dollars ({@code BigDecimal}); absent when the price is unknown (never zero for unknown). */
  public static final String COST_USD = "imagegen.cost-usd";
  /** Metadata key of whether the cost is an estimate from the price list rather than what the provider reported ({@code Boolean}). */
  public static final String COST_ESTIMATED = "imagegen.cost-estimated";
  /** Metadata key of where the cost comes from: {@code ESTIMATED}, {@code PROVIDER_REPORTED}, {@code FREE}, {@code CACHED} or {@code UNKNOWN} ({@code String}). */
  public static final String COST_SOURCE = "imagegen.cost-source";
  /** Metadata key of the number of attempts made, failed and skipped providers included, the successful one last ({@code Integer}). */
  public static final String ATTEMPTS = "imagegen.attempts";
  /** Metadata key of imagegen's id of the generation, as in its logs ({@code String}). */
  public static final String GENERATION_ID = "imagegen.generation-id";
  /** Metadata key of what the caller should know, such as an input a provider ignored ({@code List<String>}). */
  public static final String WARNINGS = "imagegen.warnings";
  /** Metadata key of the whole imagegen response: every attempt, timings, the provider's own metadata ({@code ImageGenerationResponse}). */
  public static final String RESPONSE = "imagegen.response";

  private static final Pattern SIZE = Pattern.compile("\\s*(\\d{1,5})\\s*[xX*]\\s*(\\d{1,5})\\s*");
  private static final Pattern WHITESPACE = Pattern.compile("\\s+");
  private static final Pattern DATA_URL = Pattern.compile("data:([^;,]*)((?:;[^;,]*)*),(.*)", Pattern.DOTALL);

  private final ImageGenerationService service;
  private final @Nullable String model;
  private final @Nullable Integer width;
  private final @Nullable Integer height;
  private final @Nullable String negativePrompt;
  private final @Nullable String style;
  private final @Nullable Long seed;
  private final @Nullable String preset;
  private final @Nullable String outputFormat;
  private final @Nullable Double strength;

  private ImagegenImageModel(Builder b, ImageGenerationService service, @Nullable Integer width, @Nullable Integer height) {
    this.service = service;
    this.model = blankToNull(b.model);
    this.width = width;
    this.height = height;
    this.negativePrompt = b.negativePrompt;
    this.style = blankToNull(b.style);
    this.seed = b.seed;
    this.preset = blankToNull(b.preset);
    this.outputFormat = blankToNull(b.outputFormat);
    this.strength = b.strength;
  }

  /** A new builder; {@link Builder#service} is required. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Generates one image with failover.
   *
   * @param prompt what to draw
   * @return the image and imagegen's metadata
   * @throws IllegalArgumentException when the prompt cannot be used (every problem listed)
   * @throws dev.imagegen.ImageGenerationException what the service throws, unchanged
   */
  @Override
  public Response<Image> generate(String prompt) {
    return single(generateAll(prompt, 1, null, null));
  }

  /**
   * Generates {@code n} images with failover, in one request to the provider that serves.
   *
   * @param prompt what to draw
   * @param n how many images, 1 to {@value ImageGenerationRequest#MAX_IMAGES}
   * @return the images and imagegen's metadata
   * @throws IllegalArgumentException when the prompt or {@code n} cannot be used (every problem listed)
   * @throws dev.imagegen.ImageGenerationException what the service throws, unchanged
   */
  @Override
  public Response<List<Image>> generate(String prompt, int n) {
    return generateAll(prompt, n, null, null);
  }

  /**
   * Edits an image (img2img) with failover, among the providers that take an init image.
   *
   * @param image the image to edit: base64 data, a {@code data:} URL or an http(s) URL
   * @param prompt what to make of it
   * @return the edited image and imagegen's metadata
   * @throws IllegalArgumentException when the image or the prompt cannot be used (every problem listed)
   * @throws dev.imagegen.ImageGenerationException what the service throws, unchanged
   *     ({@code NoCapableProviderException} when no configured provider edits images)
   */
  @Override
  public Response<Image> edit(Image image, String prompt) {
    required("image", image);
    return single(generateAll(prompt, 1, image, null));
  }

  /**
   * Inpaints an image with failover, among the providers that take a mask: white in the mask is repainted.
   *
   * @param image the image to edit: base64 data, a {@code data:} URL or an http(s) URL
   * @param mask the mask, given the same ways
   * @param prompt what to paint into the masked area
   * @return the edited image and imagegen's metadata
   * @throws IllegalArgumentException when an image or the prompt cannot be used (every problem listed)
   * @throws dev.imagegen.ImageGenerationException what the service throws, unchanged
   *     ({@code NoCapableProviderException} when no configured provider takes masks)
   */
  @Override
  public Response<Image> edit(Image image, Image mask, String prompt) {
    required("image", image);
    required("mask", mask);
    return single(generateAll(prompt, 1, image, mask));
  }

  /** An edit without its image must not turn into a plain generation. */
  private static void required(String name, @Nullable Image image) {
    if (image == null) {
      throw new IllegalArgumentException(name + " must not be null");
    }
  }

  private Response<Image> single(Response<List<Image>> all) {
    return Response.from(all.content().get(0), null, all.finishReason(), all.metadata());
  }

  private Response<List<Image>> generateAll(@Nullable String prompt, int n, @Nullable Image image,
      @Nullable Image mask) {
    ImageGenerationRequest request = toRequest(prompt, n, image, mask);
    return toResponse(prompt, service.generateImageWithFailover(request));
  }

  /** The imagegen request; every problem, the adapter's and imagegen's, in one exception. */
  ImageGenerationRequest toRequest(@Nullable String prompt, int n, @Nullable Image image, @Nullable Image mask) {
    List<String> problems = new ArrayList<>();
    if (prompt == null || prompt.isBlank()) {
      problems.add("prompt must not be empty");
    }
    ImageGenerationRequest.Builder b = ImageGenerationRequest.builder()
        .prompt(prompt == null || prompt.isBlank() ? "(none)" : prompt)
        .numImages(n)
        .model(model)
        .width(width)
        .height(height)
        .negativePrompt(negativePrompt)
        .style(style)
        .seed(seed)
        .preset(preset)
        .outputFormat(outputFormat);
    if (image != null) {
      InputImage init = toInput("image", image, InputImage.Role.INIT, problems);
      if (init != null) {
        b.inputImage(init).strength(strength);
      }
    }
    if (mask != null) {
      InputImage m = toInput("mask", mask, InputImage.Role.MASK, problems);
      if (m != null) {
        b.inputImage(m);
      }
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

  private static @Nullable InputImage toInput(String name, Image image, InputImage.Role role, List<String> problems) {
    String data = image.base64Data();
    if (data != null && !data.isBlank()) {
      return decoded(name, decodeBase64(name, data, problems), role, problems);
    }
    URI url = image.url();
    if (url == null) {
      problems.add(name + " has neither base64Data nor a url");
      return null;
    }
    String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
    switch (scheme) {
      case "data":
        return decoded(name, fromDataUrl(name, url, problems), role, problems);
      case "http":
      case "https":
        if (url.getHost() == null || url.getHost().isEmpty()) {
          problems.add(name + " url has no host: " + describe(url));
          return null;
        }
        return InputImage.ofUrl(role, url);
      default:
        problems.add(name + " url scheme '" + scheme + "' is not read (" + describe(url)
            + "): give the image as base64Data, a data: URL or an http(s) URL");
        return null;
    }
  }

  private static byte @Nullable [] fromDataUrl(String name, URI url, List<String> problems) {
    Matcher m = DATA_URL.matcher(url.toString());
    if (!m.matches()) {
      problems.add(name + " is not a valid data: URL");
      return null;
    }
    boolean base64 = false;
    for (String param : m.group(2).split(";")) {
      base64 |= param.trim().equalsIgnoreCase("base64");
    }
    if (!base64) {
      problems.add(name + " data: URL must be base64-encoded (data:image/png;base64,...)");
      return null;
    }
    return decodeBase64(name, m.group(3), problems);
  }

  private static byte @Nullable [] decodeBase64(String name, String data, List<String> problems) {
    String compact = WHITESPACE.matcher(data).replaceAll("");
    if (compact.isEmpty()) {
      problems.add(name + " base64Data is empty");
      return null;
    }
    try {
      return Base64.getDecoder().decode(compact.getBytes(StandardCharsets.US_ASCII));
    } catch (IllegalArgumentException e) {
      problems.add(name + " base64Data is not valid base64: " + e.getMessage());
      return null;
    }
  }

  private static @Nullable InputImage decoded(String name, byte @Nullable [] bytes, InputImage.Role role,
      List<String> problems) {
    if (bytes == null) {
      return null;
    }
    if (ImageFormat.sniff(bytes) == null) {
      problems.add(name + " is not a PNG, JPEG or WebP image (" + bytes.length + " bytes)");
      return null;
    }
    return InputImage.ofBytes(role, bytes);
  }

  /** Scheme, host and path only: query strings may hold signatures, data: URLs the whole image. */
  private static String describe(URI url) {
    if ("data".equalsIgnoreCase(url.getScheme())) {
      return "data: URL";
    }
    return url.getScheme() + "://" + (url.getHost() == null ? "" : url.getHost()) + (url.getPath() == null ? "" : url.getPath());
  }

  private static IllegalArgumentException invalid(List<String> problems, @Nullable Throwable cause) {
    String message = problems.size() == 1 ? "invalid image request: " + problems.get(0)
        : "invalid image request (" + problems.size() + " problems): " + String.join("; ", problems);
    return new IllegalArgumentException(message, cause);
  }

  private static Response<List<Image>> toResponse(@Nullable String prompt, ImageGenerationResponse response) {
    String sent = response.metadata().get("prompt");
    String revised = sent != null && !sent.equals(prompt) ? sent : null;
    List<Image> images = new ArrayList<>(response.images().size());
    boolean flagged = false;
    for (GeneratedImage g : response.images()) {
      Image.Builder b = Image.builder().base64Data(Base64.getEncoder().encodeToString(g.bytes())).mimeType(g.mediaType());
      if (g.sourceUrl() != null) {
        b.url(g.sourceUrl());
      }
      if (revised != null) {
        b.revisedPrompt(revised);
      }
      images.add(b.build());
      flagged |= g.nsfw();
    }
    return Response.from(images, null, flagged ? FinishReason.CONTENT_FILTER : FinishReason.STOP, metadata(response));
  }

  private static Map<String, Object> metadata(ImageGenerationResponse response) {
    Map<String, Object> md = new LinkedHashMap<>();
    Cost cost = response.cost();
    md.put(PROVIDER, response.provider());
    md.put(MODEL, response.model());
    BigDecimal amount = cost.amount();
    if (amount != null && "USD".equals(cost.currency())) {
      md.put(COST_USD, amount);
    }
    md.put(COST_ESTIMATED, cost.source() == Cost.Source.ESTIMATED);
    md.put(COST_SOURCE, cost.source().name());
    md.put(ATTEMPTS, response.attempts().size());
    md.put(GENERATION_ID, response.id());
    md.put(WARNINGS, response.warnings());
    md.put(RESPONSE, response);
    return md;
  }

  private static @Nullable String blankToNull(@Nullable String s) {
    return s == null || s.isBlank() ? null : s.trim();
  }

  @Override
  public String toString() {
    return "ImagegenImageModel[model=" + model + ", size=" + width + "x" + height + ", style=" + style + ", preset="
        + preset + ", negativePrompt=" + (negativePrompt == null ? "unset" : "set") + "]";
  }

  /** Builds {@link ImagegenImageModel}s. Not thread-safe. */
  public static final class Builder {
    private @Nullable ImageGenerationService service;
    private @Nullable String model;
    private @Nullable String size;
    private @Nullable Integer width;
    private @Nullable Integer height;
    private @Nullable String negativePrompt;
    private @Nullable String style;
    private @Nullable Long seed;
    private @Nullable String preset;
    private @Nullable String outputFormat;
    private @Nullable Double strength;

    private Builder() {}

    /** @param service the service that generates (required) @return this */
    public Builder service(ImageGenerationService service) { this.service = service; return this; }
    /** @param modelName an imagegen alias ({@code flux-schnell}, {@code sdxl}, {@code sdxl-turbo}) or a provider-native id @return this */
    public Builder modelName(@Nullable String modelName) { this.model = modelName; return this; }
    /** @param size the size as {@code WIDTHxHEIGHT}, e.g. {@code 1024x768} @return this */
    public Builder size(@Nullable String size) { this.size = size; this.width = null; this.height = null; return this; }
    /** @param width width in pixels @param height height in pixels @return this */
    public Builder size(int width, int height) { this.width = width; this.height = height; this.size = null; return this; }
    /** @param negativePrompt what to avoid, for every call @return this */
    public Builder negativePrompt(@Nullable String negativePrompt) { this.negativePrompt = negativePrompt; return this; }
    /** @param style an imagegen style name ({@code dev.imagegen.PromptStyles#styles()}) @return this */
    public Builder style(@Nullable String style) { this.style = style; return this; }
    /** @param seed the seed for reproducible output, or null for random @return this */
    public Builder seed(@Nullable Long seed) { this.seed = seed; return this; }
    /** @param preset an imagegen preset name @return this */
    public Builder preset(@Nullable String preset) { this.preset = preset; return this; }
    /** @param outputFormat png, jpeg or webp @return this */
    public Builder outputFormat(@Nullable String outputFormat) { this.outputFormat = outputFormat; return this; }
    /** @param strength how far an edit may move from its image, in (0, 1]; edits only @return this */
    public Builder strength(@Nullable Double strength) { this.strength = strength; return this; }

    /**
     * Checks the settings with imagegen's own request validation and builds the model.
     *
     * @return the model
     * @throws IllegalArgumentException listing every problem (no service, a size that is not
     *     {@code WIDTHxHEIGHT} or out of range, an unknown style, a negative seed, a strength outside (0, 1]...)
     */
    public ImagegenImageModel build() {
      List<String> problems = new ArrayList<>();
      if (service == null) {
        problems.add("service is required");
      }
      Integer w = width;
      Integer h = height;
      if (size != null && !size.isBlank()) {
        Matcher m = SIZE.matcher(size);
        if (m.matches()) {
          w = Integer.valueOf(m.group(1));
          h = Integer.valueOf(m.group(2));
        } else {
          problems.add("size must be WIDTHxHEIGHT, e.g. 1024x768, was '" + size + "'");
        }
      }
      if (strength != null && (strength.isNaN() || strength <= 0 || strength > 1)) {
        problems.add("strength must be in (0, 1], was " + strength);
      }
      try {
        ImageGenerationRequest.builder().prompt("settings check").model(blankToNull(model)).width(w).height(h)
            .negativePrompt(negativePrompt).style(blankToNull(style)).seed(seed).preset(blankToNull(preset))
            .outputFormat(blankToNull(outputFormat)).build();
      } catch (InvalidRequestException e) {
        problems.addAll(e.violations());
      }
      ImageGenerationService s = service;
      if (!problems.isEmpty() || s == null) {
        throw new IllegalArgumentException(problems.size() == 1 ? "invalid ImagegenImageModel settings: " + problems.get(0)
            : "invalid ImagegenImageModel settings (" + problems.size() + " problems): " + String.join("; ", problems));
      }
      return new ImagegenImageModel(this, s, w, h);
    }
  }
}
