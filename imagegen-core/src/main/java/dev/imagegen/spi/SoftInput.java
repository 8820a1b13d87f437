package dev.imagegen.spi;

import dev.imagegen.ImageGenerationRequest;

/**
 * A request input that a model may ignore without spoiling the image. One rule for every
 * provider, applied by {@link ProviderCapabilities}: a soft input the serving model ignores is left
 * out of the wire body and reported in the response's warnings
 * ({@link ProviderCapabilities#softDrops}, {@link ProviderCapabilities#warnings}); a request with
 * {@link ImageGenerationRequest#strict()} set makes it hard, and the provider is skipped with the
 * reason ({@link ProviderCapabilities#whyNot}).
 *
 * <p>Hard inputs (init image, mask, reference images, LoRAs, sizes, image count) are never
 * dropped: a provider that cannot honour one is always skipped.
 */
public enum SoftInput {
  /** The request's own negative prompt (the default negative prompt is not an input the caller set). */
  NEGATIVE_PROMPT("negative prompt"),
  /** The sampler (scheduler) name. */
  SAMPLER("sampler"),
  /** The classifier-free guidance scale. */
  GUIDANCE("guidance scale"),
  /** The number of sampling steps. */
  STEPS("steps");

  private final String label;

  SoftInput(String label) {
    this.label = label;
  }

  /** How messages name the input, e.g. {@code negative prompt}. */
  public String label() {
    return label;
  }

  /**
   * Whether a request sets this input: a non-blank negative prompt of its own or sampler, a
   * guidance scale, a step count.
   *
   * @param request the request
   */
  public boolean isSetIn(ImageGenerationRequest request) {
    switch (this) {
      case NEGATIVE_PROMPT:
        return request.negativePrompt() != null && !request.negativePrompt().isBlank();
      case SAMPLER:
        return request.sampler() != null && !request.sampler().isBlank();
      case GUIDANCE:
        return request.guidanceScale() != null;
      case STEPS:
        return request.steps() != null;
      default:
        throw new AssertionError(this);
    }
  }

  /**
   * The request's value of this input, for messages.
   *
   * @param request the request
   */
  String valueIn(ImageGenerationRequest request) {
    switch (this) {
      case NEGATIVE_PROMPT:
        return "";
      case SAMPLER:
        return "'" + request.sampler() + "'";
      case GUIDANCE:
        return String.valueOf(request.guidanceScale());
      case STEPS:
        return String.valueOf(request.steps());
      default:
        throw new AssertionError(this);
    }
  }
}
