package dev.imagegen.spi;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * What a provider can do. Routing compares each request with these and skips (with the reason in
 * the attempts) providers that cannot honour it, so failover never drops an input silently.
 *
 * <p>One rule for every provider decides what "cannot honour" means. A hard input (init image,
 * mask, reference images, LoRAs, size, image count, a model not offered) that the provider cannot
 * take makes it skip the request: {@link #whyNot} gives the reason. A {@link SoftInput soft input}
 * (negative prompt, sampler, guidance scale, steps) that the serving model ignores does not: the
 * provider sends the request without it ({@link #softDrops}) and adds {@link #warnings} to its
 * result, unless the request is {@link ImageGenerationRequest#strict() strict}, which makes soft
 * inputs hard ({@link #whyNot} then lists them too). Which soft inputs are ignored is declared
 * here, for the whole provider ({@link #ignoredInputs}) and per model ({@link #modelInputs}), so a
 * provider never decides it by hand.
 *
 * <p>Some requests are not a matter of what the provider offers but are wrong for it:
 * {@link #invalid} lists them (a prompt longer than {@code maxPromptLength}, a sampler the
 * provider does not know), and {@link #unknownOptions} lists the {@code providerOptions} keys it
 * does not read. Routing skips a provider for these too; a request for one named provider, or
 * for the only one configured, fails with an {@link dev.imagegen.InvalidRequestException}
 * before anything is sent.
 *
 * @param models model names the provider accepts (aliases and native ids); see {@code anyModel}
 * @param anyModel whether names outside {@code models} are passed through as native ids (those
 *     {@code modelNames} accepts)
 * @param modelNames which names outside {@code models} a provider with {@code anyModel} passes
 *     through, e.g. those shaped like its native ids
 * @param minSize smallest width or height
 * @param maxSize largest width or height
 * @param sizeMultiple width and height must be multiples of this
 * @param maxSteps most sampling steps
 * @param negativePrompt whether a negative prompt is honoured (by at least some models; false puts
 *     {@link SoftInput#NEGATIVE_PROMPT} in {@code ignoredInputs})
 * @param seed whether seeds are honoured
 * @param img2img whether an init image is honoured
 * @param mask whether an inpainting mask is honoured
 * @param maxReferenceImages how many reference images an editing model takes (0 = none)
 * @param maxImagesPerRequest most images one request can produce (after any fan-out the provider does)
 * @param loras whether LoRAs are honoured
 * @param queued whether jobs wait in a remote queue (progress reports a queue position)
 * @param cancellable whether a running job can be cancelled remotely
 * @param free whether generation costs nothing
 * @param ignoredInputs soft inputs no model of this provider takes
 * @param modelInputs soft inputs the model serving a request ignores, besides {@code ignoredInputs}
 * @param maxPromptLength the longest prompt, in characters (Unicode code points) after style and
 *     preset expansion; {@value #DEFAULT_MAX_PROMPT_LENGTH} unless the provider declares its own
 * @param samplers the sampler names the provider knows; empty when it does not know them (any
 *     name is sent, or dropped as a soft input)
 * @param samplerNames which other spellings of a sampler the provider maps onto one it knows
 * @param optionKeys the {@code providerOptions} keys the provider reads; see {@code anyOption}
 * @param anyOption whether the provider forwards any {@code providerOptions} field (a model's own
 *     inputs, say), so no key is unknown
 */
public record ProviderCapabilities(
    Set<String> models,
    boolean anyModel,
    int minSize,
    int maxSize,
    int sizeMultiple,
    int maxSteps,
    boolean negativePrompt,
    boolean seed,
    boolean img2img,
    boolean mask,
    int maxReferenceImages,
    int maxImagesPerRequest,
    boolean loras,
    boolean queued,
    boolean cancellable,
    boolean free,
    Set<SoftInput> ignoredInputs,
    ModelInputs modelInputs,
    Predicate<String> modelNames,
    int maxPromptLength,
    Set<String> samplers,
    Predicate<String> samplerNames,
    Set<String> optionKeys,
    boolean anyOption) {

  /**
   * The prompt limit of a provider that declares none, in characters: the limit several image APIs
   * document (Stability, Bedrock), and far beyond what CLIP or T5 encoders read.
   */
  public static final int DEFAULT_MAX_PROMPT_LENGTH = 10_000;

  /**
   * Which soft inputs the model serving a request ignores: a provider whose models differ (FLUX
   * takes no negative prompt, SDXL does) resolves the request's model its own way here.
   */
  @FunctionalInterface
  public interface ModelInputs {
    /** Every model honours every soft input the provider takes. */
    ModelInputs NONE_IGNORED = request -> Set.of();

    /**
     * The soft inputs the model that would serve a request ignores.
     *
     * @param request the request (its model may be null: the provider's default)
     * @return those inputs, empty when it honours them all
     */
    Set<SoftInput> ignoredBy(ImageGenerationRequest request);
  }

  /**
   * Copies the model set and keeps {@code negativePrompt} and {@code ignoredInputs} consistent: a
   * provider that takes no negative prompt ignores {@link SoftInput#NEGATIVE_PROMPT}.
   */
  public ProviderCapabilities {
    models = Set.copyOf(new LinkedHashSet<>(models));
    EnumSet<SoftInput> ignored = EnumSet.noneOf(SoftInput.class);
    if (ignoredInputs != null) {
      ignored.addAll(ignoredInputs);
    }
    if (!negativePrompt) {
      ignored.add(SoftInput.NEGATIVE_PROMPT);
    }
    if (ignored.contains(SoftInput.NEGATIVE_PROMPT)) {
      negativePrompt = false;
    }
    ignoredInputs = Collections.unmodifiableSet(ignored);
    if (modelInputs == null) {
      modelInputs = ModelInputs.NONE_IGNORED;
    }
    if (modelNames == null) {
      modelNames = name -> true;
    }
    if (samplerNames == null) {
      samplerNames = name -> false;
    }
    if (maxPromptLength < 1) {
      throw new IllegalArgumentException("maxPromptLength must be positive, was " + maxPromptLength);
    }
    samplers = Set.copyOf(new LinkedHashSet<>(samplers));
    optionKeys = Set.copyOf(new LinkedHashSet<>(optionKeys));
  }

  /** A builder starting from text-to-image only, any size 64..2048 in multiples of 8. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Why this provider cannot serve a request: every hard input it cannot honour and, when the
   * request is {@link ImageGenerationRequest#strict() strict}, every soft input its model would
   * ignore. Soft inputs of a request that is not strict are never a reason: see
   * {@link #softDrops}.
   *
   * @param request the request
   * @return the reasons, empty when it can
   */
  public List<String> whyNot(ImageGenerationRequest request) {
    List<String> why = new ArrayList<>();
    String model = request.model();
    if (model != null && !models.contains(model) && !(anyModel && acceptsName(modelNames, model))) {
      why.add("no model '" + model + "' (known: " + String.join(", ", new TreeSet<>(models)) + ")");
    }
    Integer w = request.width();
    Integer h = request.height();
    if (w != null && h != null) {
      if (w < minSize || h < minSize || w > maxSize || h > maxSize) {
        why.add("size " + w + "x" + h + " outside " + minSize + ".." + maxSize);
      } else if (w % sizeMultiple != 0 || h % sizeMultiple != 0) {
        why.add("size " + w + "x" + h + " not a multiple of " + sizeMultiple);
      }
    }
    if (request.steps() != null && request.steps() > maxSteps) {
      why.add("steps " + request.steps() + " above " + maxSteps);
    }
    if (request.initImage() != null && !img2img) {
      why.add("no img2img (init image would be dropped)");
    }
    if (request.mask() != null && !mask) {
      why.add("no inpainting mask support (mask would be dropped)");
    }
    int refs = request.inputImages(InputImage.Role.REFERENCE).size();
    if (refs > maxReferenceImages) {
      why.add(maxReferenceImages == 0 ? "no reference images (" + refs + " would be dropped)"
          : refs + " reference images, takes at most " + maxReferenceImages);
    }
    if (request.numImages() > maxImagesPerRequest) {
      why.add(request.numImages() + " images requested, serves at most " + maxImagesPerRequest);
    }
    if (!request.loras().isEmpty() && !loras) {
      why.add("no LoRA support (LoRAs would be dropped)");
    }
    if (request.strict()) {
      for (SoftInput in : softDrops(request)) {
        why.add(describe(in, request) + " would be dropped: " + modelName(request) + " does not take it (strict request)");
      }
    }
    return why;
  }

  /**
   * What makes a request wrong for this provider, as opposed to asking for something it does not
   * offer: a prompt longer than {@link #maxPromptLength} and a sampler it does not know (when it
   * knows its samplers and the serving model takes one). Routing skips the provider for these;
   * for a request sent to this provider alone they are an
   * {@link dev.imagegen.InvalidRequestException}.
   *
   * @param request the request, its prompt expanded (style, preset)
   * @param providerId the provider's id, for the messages
   * @return the problems, e.g. {@code prompt is 1048576 characters; fal accepts at most 10000}
   */
  public List<String> invalid(ImageGenerationRequest request, String providerId) {
    List<String> out = new ArrayList<>();
    int length = request.prompt().codePointCount(0, request.prompt().length());
    if (length > maxPromptLength) {
      out.add("prompt is " + length + " characters; " + providerId + " accepts at most " + maxPromptLength);
    }
    String sampler = request.sampler();
    if (!samplers.isEmpty() && SoftInput.SAMPLER.isSetIn(request) && sampler != null
        && !ignoredInputs(request).contains(SoftInput.SAMPLER) && !knowsSampler(sampler.strip())) {
      out.add("sampler '" + sampler + "' is not one of " + providerId + "'s samplers (known: "
          + String.join(", ", new TreeSet<>(samplers)) + ")");
    }
    return out;
  }

  /**
   * The {@code providerOptions} keys this provider does not read: none when it forwards any field
   * ({@link #anyOption}).
   *
   * @param options the request's options for this provider
   * @param providerId the provider's id, for the messages
   * @return one problem per unknown key, e.g. {@code providerOptions for 'horde': unknown key 'nfsw'
   *     (horde reads: ...)}
   */
  public List<String> unknownOptions(Map<String, Object> options, String providerId) {
    List<String> out = new ArrayList<>();
    if (anyOption) {
      return out;
    }
    for (String key : options.keySet()) {
      if (!optionKeys.contains(key)) {
        out.add("providerOptions for '" + providerId + "': unknown key '" + key + "' (" + providerId
            + (optionKeys.isEmpty() ? " reads none" : " reads: " + String.join(", ", new TreeSet<>(optionKeys))) + ")");
      }
    }
    return out;
  }

  private boolean knowsSampler(String name) {
    if (samplers.contains(name) || acceptsName(samplerNames, name)) {
      return true;
    }
    return samplers.stream().anyMatch(s -> s.equalsIgnoreCase(name));
  }

  private static boolean acceptsName(Predicate<String> names, String name) {
    try {
      return names.test(name);
    } catch (RuntimeException e) {
      return false;
    }
  }

  /**
   * The soft inputs the model serving a request ignores: those of the whole provider and those
   * of the model.
   *
   * @param request the request
   * @return those inputs, whether the request sets them or not
   */
  public Set<SoftInput> ignoredInputs(ImageGenerationRequest request) {
    EnumSet<SoftInput> out = EnumSet.noneOf(SoftInput.class);
    out.addAll(ignoredInputs);
    Set<SoftInput> byModel;
    try {
      byModel = modelInputs.ignoredBy(request);
    } catch (RuntimeException e) {
      // a model the provider cannot resolve: generate() reports that; routing must not fail here
      byModel = null;
    }
    if (byModel != null) {
      out.addAll(byModel);
    }
    return out;
  }

  /**
   * The soft inputs a request sets that the serving model ignores, in {@link SoftInput} order:
   * what the provider must leave out of the wire body. A strict request with any of these is
   * skipped by routing ({@link #whyNot}), so a provider only sees them when the request is not
   * strict.
   *
   * @param request the request
   * @return those inputs, empty when nothing is dropped
   */
  public List<SoftInput> softDrops(ImageGenerationRequest request) {
    List<SoftInput> out = new ArrayList<>();
    for (SoftInput in : ignoredInputs(request)) {
      if (in.isSetIn(request)) {
        out.add(in);
      }
    }
    return out;
  }

  /**
   * Whether the provider must leave a soft input out of the wire body for a request: the request
   * sets it and the serving model ignores it.
   *
   * @param request the request
   * @param input the input
   */
  public boolean drops(ImageGenerationRequest request, SoftInput input) {
    return input.isSetIn(request) && ignoredInputs(request).contains(input);
  }

  /**
   * One warning per {@link #softDrops soft input dropped}, for the provider's result
   * ({@code ProviderResult.Builder.warning}), e.g. {@code negative prompt not sent: model
   * 'flux-schnell' does not take it}.
   *
   * @param request the request
   * @return the warnings, empty when nothing is dropped
   */
  public List<String> warnings(ImageGenerationRequest request) {
    List<String> out = new ArrayList<>();
    for (SoftInput in : softDrops(request)) {
      out.add(describe(in, request) + " not sent: " + modelName(request) + " does not take it");
    }
    return out;
  }

  private static String describe(SoftInput in, ImageGenerationRequest request) {
    String value = in.valueIn(request);
    return value.isEmpty() ? in.label() : in.label() + " " + value;
  }

  private static String modelName(ImageGenerationRequest request) {
    return request.model() == null || request.model().isBlank() ? "the default model" : "model '" + request.model() + "'";
  }

  /** Builds {@link ProviderCapabilities}. Not thread-safe. */
  public static final class Builder {
    private final Set<String> models = new LinkedHashSet<>();
    private boolean anyModel = true;
    private int minSize = 64;
    private int maxSize = 2048;
    private int sizeMultiple = 8;
    private int maxSteps = 500;
    private boolean negativePrompt;
    private boolean seed;
    private boolean img2img;
    private boolean mask;
    private int maxReferenceImages;
    private int maxImagesPerRequest = 1;
    private boolean loras;
    private boolean queued;
    private boolean cancellable;
    private boolean free;
    private final Set<SoftInput> ignoredInputs = EnumSet.noneOf(SoftInput.class);
    private ModelInputs modelInputs = ModelInputs.NONE_IGNORED;
    private Predicate<String> modelNames = name -> true;
    private int maxPromptLength = DEFAULT_MAX_PROMPT_LENGTH;
    private final Set<String> samplers = new LinkedHashSet<>();
    private Predicate<String> samplerNames = name -> false;
    private final Set<String> optionKeys = new LinkedHashSet<>();
    private boolean anyOption = true;

    private Builder() {}

    /** @param names model names accepted; also turns off {@code anyModel} unless set after @return this */
    public Builder models(String... names) { models.addAll(List.of(names)); anyModel = false; return this; }
    /** @param names model names accepted @return this */
    public Builder models(Collection<String> names) { models.addAll(names); anyModel = false; return this; }
    /** @param v whether unknown model names pass through as native ids @return this */
    public Builder anyModel(boolean v) { anyModel = v; return this; }

    /**
     * Passes through only the names outside {@code models} that look like the provider's native
     * ids, so that routing skips it for any other name ("no model 'flux-foo'") instead of the
     * provider failing after the call started. Turns on {@code anyModel}.
     *
     * @param accepted which names are native ids; fast, no I/O
     * @return this
     */
    public Builder modelNames(Predicate<String> accepted) {
      modelNames = Objects.requireNonNull(accepted, "accepted");
      anyModel = true;
      return this;
    }

    /**
     * The longest prompt the provider takes, in characters (default
     * {@value ProviderCapabilities#DEFAULT_MAX_PROMPT_LENGTH}).
     *
     * @param v the limit, positive
     * @return this
     */
    public Builder maxPromptLength(int v) { maxPromptLength = v; return this; }

    /**
     * The sampler names the provider knows: a request naming another is wrong for it.
     *
     * @param names the names, compared ignoring case
     * @return this
     */
    public Builder samplers(Collection<String> names) { samplers.addAll(names); return this; }

    /**
     * Like {@link #samplers(Collection)}, for a provider that also maps other spellings
     * ({@code Euler a}, {@code dpm++ 2m karras}) onto the names it knows.
     *
     * @param names the names, compared ignoring case
     * @param otherSpellings which other names it maps; fast, no I/O
     * @return this
     */
    public Builder samplers(Collection<String> names, Predicate<String> otherSpellings) {
      samplers.addAll(names);
      samplerNames = Objects.requireNonNull(otherSpellings, "otherSpellings");
      return this;
    }

    /**
     * The {@code providerOptions} keys the provider reads; any other key is a problem reported
     * before anything is sent. Without this call every key is accepted.
     *
     * @param keys the keys, added to those given before; none for a provider that reads none
     * @return this
     */
    public Builder optionKeys(String... keys) { optionKeys.addAll(List.of(keys)); anyOption = false; return this; }

    /**
     * Like {@link #optionKeys(String...)}.
     *
     * @param keys the keys, added to those given before
     * @return this
     */
    public Builder optionKeys(Collection<String> keys) { optionKeys.addAll(keys); anyOption = false; return this; }

    /**
     * Declares that the provider forwards any {@code providerOptions} field (a model's own inputs),
     * so no key is unknown.
     *
     * @param v whether every key is accepted
     * @return this
     */
    public Builder anyOption(boolean v) { anyOption = v; return this; }
    /** @param min smallest side @param max largest side @param multiple side multiple @return this */
    public Builder sizes(int min, int max, int multiple) { minSize = min; maxSize = max; sizeMultiple = multiple; return this; }
    /** @param v most steps @return this */
    public Builder maxSteps(int v) { maxSteps = v; return this; }
    /** @param v negative prompt honoured @return this */
    public Builder negativePrompt(boolean v) { negativePrompt = v; return this; }
    /** @param v seeds honoured @return this */
    public Builder seed(boolean v) { seed = v; return this; }
    /** @param v init image honoured @return this */
    public Builder img2img(boolean v) { img2img = v; return this; }
    /** @param v mask honoured @return this */
    public Builder mask(boolean v) { mask = v; return this; }
    /** @param v reference images taken @return this */
    public Builder maxReferenceImages(int v) { maxReferenceImages = v; return this; }
    /** @param v images per request @return this */
    public Builder maxImagesPerRequest(int v) { maxImagesPerRequest = v; return this; }
    /** @param v LoRAs honoured @return this */
    public Builder loras(boolean v) { loras = v; return this; }
    /** @param v jobs queue remotely @return this */
    public Builder queued(boolean v) { queued = v; return this; }
    /** @param v jobs can be cancelled remotely @return this */
    public Builder cancellable(boolean v) { cancellable = v; return this; }
    /** @param v generation is free @return this */
    public Builder free(boolean v) { free = v; return this; }

    /**
     * Soft inputs no model of this provider takes: requests setting them are served without them
     * (with a warning) unless strict. {@link SoftInput#NEGATIVE_PROMPT} here is
     * {@code negativePrompt(false)}.
     *
     * @param inputs the inputs, added to those given before
     * @return this
     */
    public Builder ignores(SoftInput... inputs) { ignoredInputs.addAll(List.of(inputs)); return this; }

    /**
     * Which soft inputs the model serving a request ignores, for providers whose models differ.
     *
     * @param v the lookup, called during routing: fast, no I/O, and not throwing
     * @return this
     */
    public Builder modelInputs(ModelInputs v) { modelInputs = Objects.requireNonNull(v, "modelInputs"); return this; }

    /** Builds the capabilities. */
    public ProviderCapabilities build() {
      return new ProviderCapabilities(models, anyModel, minSize, maxSize, sizeMultiple, maxSteps, negativePrompt, seed,
          img2img, mask, maxReferenceImages, maxImagesPerRequest, loras, queued, cancellable, free, ignoredInputs, modelInputs,
          modelNames, maxPromptLength, samplers, samplerNames, optionKeys, anyOption);
    }
  }
}
