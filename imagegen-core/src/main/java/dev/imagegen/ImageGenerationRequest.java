package dev.imagegen;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * What to generate: an immutable, validated request. Build one with {@link #builder()}. Every
 * way of making one (the builder, {@link #toBuilder()}, the canonical constructor) validates it in
 * the constructor and reports every problem at once as an {@link InvalidRequestException}; lists
 * and maps are copied, so a request never changes after it is made.
 *
 * <p>Fields left null mean "the provider's default". Sizes are in pixels and must be multiples of
 * 8 between {@value #MIN_SIZE} and {@value #MAX_SIZE}; each provider's own limits are checked by
 * routing, which skips providers that cannot honour the request.
 *
 * @param prompt what to draw (before style expansion)
 * @param negativePrompt what to avoid, or null for the default negative prompt (see {@link PromptStyles})
 * @param defaultNegativePrompt whether the default negative prompt applies when none is set
 * @param model an alias ({@code flux-schnell}, {@code sdxl}, {@code sdxl-turbo}) or a provider-native id, or null
 * @param width width in pixels, or null
 * @param height height in pixels, or null
 * @param numImages how many images, 1 to {@value #MAX_IMAGES}
 * @param seed the seed for reproducible output, or null for random
 * @param steps sampling steps, or null
 * @param guidanceScale classifier-free guidance (CFG), or null
 * @param sampler sampler name, or null
 * @param style a style from {@link PromptStyles#styles()}, or null
 * @param qualityEnhancers enhancers from {@link PromptStyles#enhancers()}
 * @param loras LoRAs to apply
 * @param inputImages input images with their roles
 * @param strength img2img denoising strength in (0, 1], only with an init image
 * @param outputFormat {@code png}, {@code jpeg} or {@code webp}, or null
 * @param preset a preset name whose fields fill what this request leaves unset, or null
 * @param timeout the overall deadline for this request, failover included, or null for the service default
 * @param providerOptions per-provider extra fields, keyed by provider id, validated by that provider
 * @param strict whether soft inputs (negative prompt, sampler, guidance scale, steps) must be
 *     honoured too: a provider whose model would ignore one is skipped instead of being sent the
 *     request without it (see {@link dev.imagegen.spi.SoftInput})
 */
public record ImageGenerationRequest(
    String prompt,
    @Nullable String negativePrompt,
    boolean defaultNegativePrompt,
    @Nullable String model,
    @Nullable Integer width,
    @Nullable Integer height,
    int numImages,
    @Nullable Long seed,
    @Nullable Integer steps,
    @Nullable Double guidanceScale,
    @Nullable String sampler,
    @Nullable String style,
    List<String> qualityEnhancers,
    List<Lora> loras,
    List<InputImage> inputImages,
    @Nullable Double strength,
    @Nullable String outputFormat,
    @Nullable String preset,
    @Nullable Duration timeout,
    Map<String, Map<String, Object>> providerOptions,
    boolean strict) {

  /** Smallest width or height accepted. */
  public static final int MIN_SIZE = 64;
  /** Largest width or height accepted. */
  public static final int MAX_SIZE = 4096;
  /** Most images per request. */
  public static final int MAX_IMAGES = 10;
  /** Most sampling steps. */
  public static final int MAX_STEPS = 500;
  /** Largest guidance scale. */
  public static final double MAX_GUIDANCE = 100;

  /**
   * Validates the request and copies its collections.
   *
   * @throws InvalidRequestException listing every problem found (a blank prompt, sizes out of
   *     range, a null list or a null element in one, a strength without an init image...)
   */
  public ImageGenerationRequest {
    List<String> v = new ArrayList<>();
    qualityEnhancers = copy("qualityEnhancers", qualityEnhancers, v);
    loras = copy("loras", loras, v);
    inputImages = copy("inputImages", inputImages, v);
    providerOptions = copyOptions(providerOptions, v);
    if (outputFormat != null) {
      outputFormat = outputFormat.toLowerCase(Locale.ROOT);
    }
    validate(prompt, width, height, numImages, seed, steps, guidanceScale, style, qualityEnhancers, loras, inputImages,
        strength, outputFormat, timeout, v);
    if (!v.isEmpty()) {
      throw new InvalidRequestException(v, null, null);
    }
  }

  private static <T> List<T> copy(String name, @Nullable List<T> list, List<String> v) {
    if (list == null) {
      v.add(name + " must not be null (use an empty list)");
      return List.of();
    }
    List<T> out = new ArrayList<>(list.size());
    for (int i = 0; i < list.size(); i++) {
      T e = list.get(i);
      if (e == null) {
        v.add(name + "[" + i + "] must not be null");
      } else {
        out.add(e);
      }
    }
    return List.copyOf(out);
  }

  /** Copies the options keeping their order; a null value stays (a provider may read it as "remove this field"). */
  private static Map<String, Map<String, Object>> copyOptions(@Nullable Map<String, Map<String, Object>> options,
      List<String> v) {
    if (options == null) {
      v.add("providerOptions must not be null (use an empty map)");
      return Map.of();
    }
    Map<String, Map<String, Object>> out = new LinkedHashMap<>();
    options.forEach((provider, fields) -> {
      if (provider == null || provider.isBlank()) {
        v.add("providerOptions has a null or blank provider id");
      } else if (fields == null) {
        v.add("providerOptions for '" + provider + "' must not be null (use an empty map)");
      } else {
        Map<String, Object> copy = new LinkedHashMap<>();
        fields.forEach((k, value) -> {
          if (k == null || k.isBlank()) {
            v.add("providerOptions for '" + provider + "' has a null or blank field name");
          } else {
            copy.put(k, value);
          }
        });
        out.put(provider, Collections.unmodifiableMap(copy));
      }
    });
    return Collections.unmodifiableMap(out);
  }

  private static void validate(@Nullable String prompt, @Nullable Integer width, @Nullable Integer height, int numImages,
      @Nullable Long seed, @Nullable Integer steps, @Nullable Double guidanceScale, @Nullable String style,
      List<String> qualityEnhancers, List<Lora> loras, List<InputImage> inputImages, @Nullable Double strength,
      @Nullable String outputFormat, @Nullable Duration timeout, List<String> v) {
    if (prompt == null || prompt.isBlank()) {
      v.add("prompt must not be empty");
    }
    if ((width == null) != (height == null)) {
      v.add("width and height must be set together");
    }
    checkSize("width", width, v);
    checkSize("height", height, v);
    if (numImages < 1 || numImages > MAX_IMAGES) {
      v.add("numImages must be between 1 and " + MAX_IMAGES + ", was " + numImages);
    }
    if (seed != null && seed < 0) {
      v.add("seed must not be negative, was " + seed);
    }
    if (steps != null && (steps < 1 || steps > MAX_STEPS)) {
      v.add("steps must be between 1 and " + MAX_STEPS + ", was " + steps);
    }
    if (guidanceScale != null && (guidanceScale.isNaN() || guidanceScale < 0 || guidanceScale > MAX_GUIDANCE)) {
      v.add("guidanceScale must be between 0 and " + (int) MAX_GUIDANCE + ", was " + guidanceScale);
    }
    long inits = inputImages.stream().filter(i -> i.role() == InputImage.Role.INIT).count();
    long masks = inputImages.stream().filter(i -> i.role() == InputImage.Role.MASK).count();
    if (strength != null) {
      if (strength.isNaN() || strength <= 0 || strength > 1) {
        v.add("strength must be in (0, 1], was " + strength);
      }
      if (inits == 0) {
        v.add("strength needs an init image (InputImage.Role.INIT)");
      }
    }
    if (inits > 1) {
      v.add("at most one init image, was " + inits);
    }
    if (masks > 1) {
      v.add("at most one mask, was " + masks);
    }
    if (masks > 0 && inits == 0) {
      v.add("a mask needs an init image");
    }
    if (style != null && PromptStyles.styleText(style) == null) {
      v.add("unknown style '" + style + "' (known: " + String.join(", ", PromptStyles.styles()) + ")");
    }
    for (String e : qualityEnhancers) {
      if (PromptStyles.enhancerText(e) == null) {
        v.add("unknown quality enhancer '" + e + "' (known: " + String.join(", ", PromptStyles.enhancers()) + ")");
      }
    }
    for (Lora l : loras) {
      if (l.name().isBlank()) {
        v.add("a LoRA needs a name");
      }
      if (Double.isNaN(l.weight()) || l.weight() < -5 || l.weight() > 5) {
        v.add("LoRA '" + l.name() + "' weight must be between -5 and 5, was " + l.weight());
      }
    }
    if (outputFormat != null && ImageFormat.fromName(outputFormat) == null) {
      v.add("outputFormat must be png, jpeg or webp, was '" + outputFormat + "'");
    }
    if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
      v.add("timeout must be positive, was " + timeout);
    }
  }

  private static void checkSize(String name, @Nullable Integer value, List<String> v) {
    if (value == null) {
      return;
    }
    if (value < MIN_SIZE || value > MAX_SIZE) {
      v.add(name + " must be between " + MIN_SIZE + " and " + MAX_SIZE + ", was " + value);
    } else if (value % 8 != 0) {
      v.add(name + " must be a multiple of 8, was " + value);
    }
  }

  /** A new builder. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A request for a prompt with every other field at its default.
   *
   * @param prompt what to draw
   */
  public static ImageGenerationRequest of(String prompt) {
    return builder().prompt(prompt).build();
  }

  /** A builder holding this request's fields, to derive a changed copy. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.prompt = prompt;
    b.negativePrompt = negativePrompt;
    b.defaultNegativePrompt = defaultNegativePrompt;
    b.model = model;
    b.width = width;
    b.height = height;
    b.numImages = numImages;
    b.seed = seed;
    b.steps = steps;
    b.guidanceScale = guidanceScale;
    b.sampler = sampler;
    b.style = style;
    b.qualityEnhancers.addAll(qualityEnhancers);
    b.loras.addAll(loras);
    b.inputImages.addAll(inputImages);
    b.strength = strength;
    b.outputFormat = outputFormat;
    b.preset = preset;
    b.timeout = timeout;
    providerOptions.forEach((k, v) -> b.providerOptions.put(k, new LinkedHashMap<>(v)));
    b.strict = strict;
    return b;
  }

  /** The input images with a role, in order. */
  public List<InputImage> inputImages(InputImage.Role role) {
    List<InputImage> out = new ArrayList<>();
    for (InputImage i : inputImages) {
      if (i.role() == role) {
        out.add(i);
      }
    }
    return out;
  }

  /** The init image, or null. */
  public @Nullable InputImage initImage() {
    List<InputImage> l = inputImages(InputImage.Role.INIT);
    return l.isEmpty() ? null : l.get(0);
  }

  /** The mask, or null. */
  public @Nullable InputImage mask() {
    List<InputImage> l = inputImages(InputImage.Role.MASK);
    return l.isEmpty() ? null : l.get(0);
  }

  /**
   * The options given for one provider (empty when none).
   *
   * @param providerId the provider id
   */
  public Map<String, Object> providerOptions(String providerId) {
    Map<String, Object> m = providerOptions.get(providerId);
    return m == null ? Map.of() : m;
  }

  /**
   * The negative prompt a provider should send: the request's own, else
   * {@link PromptStyles#DEFAULT_NEGATIVE_PROMPT} unless turned off, else null.
   */
  public @Nullable String effectiveNegativePrompt() {
    if (negativePrompt != null) {
      return negativePrompt.isBlank() ? null : negativePrompt;
    }
    return defaultNegativePrompt ? PromptStyles.DEFAULT_NEGATIVE_PROMPT : null;
  }

  /** The megapixels of one image at the requested (or a 1024x1024 default) size. */
  public double megapixels() {
    int w = width == null ? 1024 : width;
    int h = height == null ? 1024 : height;
    return w * (double) h / 1_000_000.0;
  }

  @Override
  public String toString() {
    return "ImageGenerationRequest[prompt=" + abbreviate(prompt) + ", model=" + model + ", size=" + width + "x" + height
        + ", numImages=" + numImages + ", seed=" + seed + ", steps=" + steps + ", inputImages=" + inputImages.size()
        + (strict ? ", strict" : "") + "]";
  }

  private static String abbreviate(String s) {
    return s.length() <= 60 ? '"' + s + '"' : '"' + s.substring(0, 57) + "...\"";
  }

  /** Builds {@link ImageGenerationRequest}s. Not thread-safe. */
  public static final class Builder {
    private @Nullable String prompt;
    private @Nullable String negativePrompt;
    private boolean defaultNegativePrompt = true;
    private @Nullable String model;
    private @Nullable Integer width;
    private @Nullable Integer height;
    private int numImages = 1;
    private @Nullable Long seed;
    private @Nullable Integer steps;
    private @Nullable Double guidanceScale;
    private @Nullable String sampler;
    private @Nullable String style;
    private final List<String> qualityEnhancers = new ArrayList<>();
    private final List<Lora> loras = new ArrayList<>();
    private final List<InputImage> inputImages = new ArrayList<>();
    private @Nullable Double strength;
    private @Nullable String outputFormat;
    private @Nullable String preset;
    private @Nullable Duration timeout;
    private final Map<String, Map<String, Object>> providerOptions = new LinkedHashMap<>();
    private boolean strict;

    private Builder() {}

    /** @param prompt what to draw; required, not blank @return this */
    public Builder prompt(@Nullable String prompt) { this.prompt = prompt; return this; }
    /** @param negativePrompt what to avoid, or null for the default @return this */
    public Builder negativePrompt(@Nullable String negativePrompt) { this.negativePrompt = negativePrompt; return this; }
    /** @param enabled whether the default negative prompt applies when none is set (default true) @return this */
    public Builder defaultNegativePrompt(boolean enabled) { this.defaultNegativePrompt = enabled; return this; }
    /** @param model an alias or provider-native id @return this */
    public Builder model(@Nullable String model) { this.model = model; return this; }
    /** @param width width in pixels @return this */
    public Builder width(@Nullable Integer width) { this.width = width; return this; }
    /** @param height height in pixels @return this */
    public Builder height(@Nullable Integer height) { this.height = height; return this; }
    /** @param width width in pixels @param height height in pixels @return this */
    public Builder size(int width, int height) { this.width = width; this.height = height; return this; }
    /** @param numImages how many images (default 1) @return this */
    public Builder numImages(int numImages) { this.numImages = numImages; return this; }
    /** @param seed the seed, or null for random @return this */
    public Builder seed(@Nullable Long seed) { this.seed = seed; return this; }
    /** @param steps sampling steps @return this */
    public Builder steps(@Nullable Integer steps) { this.steps = steps; return this; }
    /** @param guidanceScale classifier-free guidance @return this */
    public Builder guidanceScale(@Nullable Double guidanceScale) { this.guidanceScale = guidanceScale; return this; }
    /** @param sampler sampler name @return this */
    public Builder sampler(@Nullable String sampler) { this.sampler = sampler; return this; }
    /** @param style a style name @return this */
    public Builder style(@Nullable String style) { this.style = style; return this; }
    /** @param enhancers quality enhancer names, appended @return this */
    public Builder qualityEnhancers(String... enhancers) { this.qualityEnhancers.addAll(List.of(enhancers)); return this; }
    /** @param enhancers quality enhancer names, replacing any set before @return this */
    public Builder qualityEnhancers(List<String> enhancers) { this.qualityEnhancers.clear(); this.qualityEnhancers.addAll(enhancers); return this; }
    /** @param name LoRA name @param weight LoRA weight @return this */
    public Builder lora(String name, double weight) { this.loras.add(new Lora(name, weight)); return this; }
    /** @param image an input image, appended @return this */
    public Builder inputImage(InputImage image) { this.inputImages.add(image); return this; }
    /** @param strength img2img denoising strength in (0, 1] @return this */
    public Builder strength(@Nullable Double strength) { this.strength = strength; return this; }
    /** @param outputFormat png, jpeg or webp @return this */
    public Builder outputFormat(@Nullable String outputFormat) { this.outputFormat = outputFormat; return this; }
    /** @param preset a preset name @return this */
    public Builder preset(@Nullable String preset) { this.preset = preset; return this; }
    /** @param timeout overall deadline for the request @return this */
    public Builder timeout(@Nullable Duration timeout) { this.timeout = timeout; return this; }

    /**
     * Asks for strict handling: every input is hard. By default a soft input (negative prompt,
     * sampler, guidance scale, steps) that the serving model ignores is left out and reported in
     * {@link ImageGenerationResponse#warnings()}; with strict handling a provider that would leave
     * one out is skipped, with the reason in the attempts.
     *
     * @param strict whether soft inputs must be honoured too (default false)
     * @return this
     */
    public Builder strict(boolean strict) { this.strict = strict; return this; }

    /**
     * Sets an option only one provider reads (its escape hatch for inputs imagegen does not model).
     *
     * @param providerId the provider id, e.g. {@code replicate}
     * @param key the provider's own field name
     * @param value the value, JSON-compatible
     * @return this
     */
    public Builder providerOption(String providerId, String key, Object value) {
      providerOptions.computeIfAbsent(providerId, k -> new LinkedHashMap<>()).put(key, value);
      return this;
    }

    /**
     * Validates and builds the request.
     *
     * @return the request
     * @throws InvalidRequestException listing every problem found
     */
    public ImageGenerationRequest build() {
      return new ImageGenerationRequest(prompt == null ? "" : prompt, negativePrompt, defaultNegativePrompt, model, width,
          height, numImages, seed, steps, guidanceScale, sampler, style, qualityEnhancers, loras, inputImages, strength,
          outputFormat, preset, timeout, providerOptions, strict);
    }
  }
}
