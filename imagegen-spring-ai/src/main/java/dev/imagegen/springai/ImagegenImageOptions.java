package dev.imagegen.springai;

import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.springframework.ai.image.ImageOptions;

/**
 * Spring AI {@link ImageOptions} with the few imagegen fields the framework's options lack (negative
 * prompt, seed, preset, output format). Immutable; build one with {@link #builder()}.
 *
 * <p>Any {@link ImageOptions} works with {@link ImagegenImageModel}, these or the framework's own
 * ({@code ImageOptionsBuilder}); the extra fields are read only from this type. A field left null
 * means "not set here": the model's default options fill it, and imagegen's defaults fill what both
 * leave unset.
 */
public final class ImagegenImageOptions implements ImageOptions {

  /** The response format that returns each image's bytes, base64-encoded, in {@code Image.getB64Json()}. */
  public static final String B64_JSON = "b64_json";
  /** The response format that returns the provider's URL of each image, when the provider served one. */
  public static final String URL = "url";

  private final @Nullable Integer n;
  private final @Nullable String model;
  private final @Nullable Integer width;
  private final @Nullable Integer height;
  private final @Nullable String responseFormat;
  private final @Nullable String style;
  private final @Nullable String negativePrompt;
  private final @Nullable Long seed;
  private final @Nullable String preset;
  private final @Nullable String outputFormat;

  private ImagegenImageOptions(Builder b) {
    this.n = b.n;
    this.model = b.model;
    this.width = b.width;
    this.height = b.height;
    this.responseFormat = b.responseFormat;
    this.style = b.style;
    this.negativePrompt = b.negativePrompt;
    this.seed = b.seed;
    this.preset = b.preset;
    this.outputFormat = b.outputFormat;
  }

  /** A new builder with every field unset. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A builder holding the fields of any options: the framework's five, and the imagegen ones when
   * {@code options} is an {@code ImagegenImageOptions}.
   *
   * @param options the options to copy
   * @return the builder
   */
  public static Builder from(ImageOptions options) {
    Objects.requireNonNull(options, "options");
    Builder b = new Builder();
    b.n = options.getN();
    b.model = options.getModel();
    b.width = options.getWidth();
    b.height = options.getHeight();
    b.responseFormat = options.getResponseFormat();
    b.style = options.getStyle();
    if (options instanceof ImagegenImageOptions o) {
      b.negativePrompt = o.negativePrompt;
      b.seed = o.seed;
      b.preset = o.preset;
      b.outputFormat = o.outputFormat;
    }
    return b;
  }

  /** How many images, or null. */
  @Override
  public @Nullable Integer getN() {
    return n;
  }

  /** The model: an imagegen alias ({@code flux-schnell}, {@code sdxl}...) or a provider-native id, or null. */
  @Override
  public @Nullable String getModel() {
    return model;
  }

  /** The width in pixels, or null. */
  @Override
  public @Nullable Integer getWidth() {
    return width;
  }

  /** The height in pixels, or null. */
  @Override
  public @Nullable Integer getHeight() {
    return height;
  }

  /** {@value #B64_JSON} (the default) or {@value #URL}, or null. */
  @Override
  public @Nullable String getResponseFormat() {
    return responseFormat;
  }

  /** An imagegen style name (see {@code dev.imagegen.PromptStyles#styles()}), or null. */
  @Override
  public @Nullable String getStyle() {
    return style;
  }

  /** What to avoid, added to the negative-weight messages of the prompt, or null. */
  public @Nullable String getNegativePrompt() {
    return negativePrompt;
  }

  /** The seed for reproducible output, or null for random. */
  public @Nullable Long getSeed() {
    return seed;
  }

  /** An imagegen preset name, or null. */
  public @Nullable String getPreset() {
    return preset;
  }

  /** {@code png}, {@code jpeg} or {@code webp}, or null for the provider's default. */
  public @Nullable String getOutputFormat() {
    return outputFormat;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof ImagegenImageOptions that && Objects.equals(n, that.n) && Objects.equals(model, that.model)
        && Objects.equals(width, that.width) && Objects.equals(height, that.height)
        && Objects.equals(responseFormat, that.responseFormat) && Objects.equals(style, that.style)
        && Objects.equals(negativePrompt, that.negativePrompt) && Objects.equals(seed, that.seed)
        && Objects.equals(preset, that.preset) && Objects.equals(outputFormat, that.outputFormat);
  }

  @Override
  public int hashCode() {
    return Objects.hash(n, model, width, height, responseFormat, style, negativePrompt, seed, preset, outputFormat);
  }

  /** The fields set; the negative prompt's text is left out, as prompts are. */
  @Override
  public String toString() {
    return "ImagegenImageOptions[n=" + n + ", model=" + model + ", size=" + width + "x" + height + ", responseFormat="
        + responseFormat + ", style=" + style + ", negativePrompt=" + (negativePrompt == null ? "unset" : "set")
        + ", seed=" + seed + ", preset=" + preset + ", outputFormat=" + outputFormat + "]";
  }

  /** Builds {@link ImagegenImageOptions}. Not thread-safe. */
  public static final class Builder {
    private @Nullable Integer n;
    private @Nullable String model;
    private @Nullable Integer width;
    private @Nullable Integer height;
    private @Nullable String responseFormat;
    private @Nullable String style;
    private @Nullable String negativePrompt;
    private @Nullable Long seed;
    private @Nullable String preset;
    private @Nullable String outputFormat;

    private Builder() {}

    /** @param n how many images @return this */
    public Builder n(@Nullable Integer n) { this.n = n; return this; }
    /** @param model an imagegen alias or a provider-native id @return this */
    public Builder model(@Nullable String model) { this.model = model; return this; }
    /** @param width width in pixels @return this */
    public Builder width(@Nullable Integer width) { this.width = width; return this; }
    /** @param height height in pixels @return this */
    public Builder height(@Nullable Integer height) { this.height = height; return this; }
    /** @param width width in pixels @param height height in pixels @return this */
    public Builder size(int width, int height) { this.width = width; this.height = height; return this; }
    /** @param responseFormat {@value ImagegenImageOptions#B64_JSON} or {@value ImagegenImageOptions#URL} @return this */
    public Builder responseFormat(@Nullable String responseFormat) { this.responseFormat = responseFormat; return this; }
    /** @param style an imagegen style name @return this */
    public Builder style(@Nullable String style) { this.style = style; return this; }
    /** @param negativePrompt what to avoid @return this */
    public Builder negativePrompt(@Nullable String negativePrompt) { this.negativePrompt = negativePrompt; return this; }
    /** @param seed the seed, or null for random @return this */
    public Builder seed(@Nullable Long seed) { this.seed = seed; return this; }
    /** @param preset an imagegen preset name @return this */
    public Builder preset(@Nullable String preset) { this.preset = preset; return this; }
    /** @param outputFormat png, jpeg or webp @return this */
    public Builder outputFormat(@Nullable String outputFormat) { this.outputFormat = outputFormat; return this; }

    /**
     * Builds the options. Values are checked when a call uses them, together with the prompt, so
     * that one error lists every problem.
     *
     * @return the options
     */
    public ImagegenImageOptions build() {
      return new ImagegenImageOptions(this);
    }
  }
}
