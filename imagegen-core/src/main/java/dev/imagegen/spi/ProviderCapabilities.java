package dev.imagegen.spi;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What a provider can do. Routing compares each request with these and skips (with the reason in
 * the attempts) providers that cannot honour it, so failover never drops an input silently.
 *
 * @param models model names the provider accepts (aliases and native ids); see {@code anyModel}
 * @param anyModel whether names outside {@code models} are passed through as native ids
 * @param minSize smallest width or height
 * @param maxSize largest width or height
 * @param sizeMultiple width and height must be multiples of this
 * @param maxSteps most sampling steps
 * @param negativePrompt whether a negative prompt is honoured
 * @param seed whether seeds are honoured
 * @param img2img whether an init image is honoured
 * @param mask whether an inpainting mask is honoured
 * @param maxReferenceImages how many reference images an editing model takes (0 = none)
 * @param maxImagesPerRequest most images one request can produce (after any fan-out the provider does)
 * @param loras whether LoRAs are honoured
 * @param queued whether jobs wait in a remote queue (progress reports a queue position)
 * @param cancellable whether a running job can be cancelled remotely
 * @param free whether generation costs nothing
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
    boolean free) {

  /** Copies the model set. */
  public ProviderCapabilities {
    models = Set.copyOf(new LinkedHashSet<>(models));
  }

  /** A builder starting from text-to-image only, any size 64..2048 in multiples of 8. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Why this provider cannot serve a request.
   *
   * @param request the request
   * @return the reasons, empty when it can
   */
  public List<String> whyNot(ImageGenerationRequest request) {
    List<String> why = new ArrayList<>();
    if (request.model() != null && !anyModel && !models.contains(request.model())) {
      why.add("model '" + request.model() + "' not offered (offers " + String.join(", ", new java.util.TreeSet<>(models)) + ")");
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
    if (request.negativePrompt() != null && !request.negativePrompt().isBlank() && !negativePrompt) {
      why.add("no negative prompt support (it would be dropped)");
    }
    return why;
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

    private Builder() {}

    /** @param names model names accepted; also turns off {@code anyModel} unless set after @return this */
    public Builder models(String... names) { models.addAll(List.of(names)); anyModel = false; return this; }
    /** @param names model names accepted @return this */
    public Builder models(java.util.Collection<String> names) { models.addAll(names); anyModel = false; return this; }
    /** @param v whether unknown model names pass through as native ids @return this */
    public Builder anyModel(boolean v) { anyModel = v; return this; }
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

    /** Builds the capabilities. */
    public ProviderCapabilities build() {
      return new ProviderCapabilities(models, anyModel, minSize, maxSize, sizeMultiple, maxSteps, negativePrompt, seed,
          img2img, mask, maxReferenceImages, maxImagesPerRequest, loras, queued, cancellable, free);
    }
  }
}
