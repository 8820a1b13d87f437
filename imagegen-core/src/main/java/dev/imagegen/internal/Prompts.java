package dev.imagegen.internal;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.PromptStyles;
import java.util.List;

/**
 * Turns a user's request into the one providers receive: style and enhancers expanded into the
 * prompt (and cleared, so nothing expands twice). The default negative prompt is not written into
 * the request: providers that take a negative prompt send
 * {@link ImageGenerationRequest#effectiveNegativePrompt()}, and providers that take none are not
 * skipped for a default the user never asked for.
 */
final class Prompts {
  Prompts(EngineSettings settings) {}

  ImageGenerationRequest prepare(ImageGenerationRequest r) {
    if (r.style() == null && r.qualityEnhancers().isEmpty()) {
      return r;
    }
    String prompt = PromptStyles.expand(r.prompt(), r.style(), r.qualityEnhancers());
    return r.toBuilder().prompt(prompt).style(null).qualityEnhancers(List.of()).build();
  }
}
