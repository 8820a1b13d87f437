package dev.imagegen.internal;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.Preset;
import dev.imagegen.PromptStyles;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns a user's request into the one providers receive: the named preset fills what the request
 * leaves unset, then style and enhancers are expanded into the prompt (and cleared, so nothing
 * expands twice). The default negative prompt is not written into the request: providers that
 * take a negative prompt send {@link ImageGenerationRequest#effectiveNegativePrompt()}, and
 * providers that take none are not skipped for a default the user never asked for.
 */
final class Prompts {
  private final Map<String, Preset> presets = new LinkedHashMap<>();

  Prompts(EngineSettings settings) {
    Preset.builtIns().forEach(p -> presets.put(p.name(), p));
    settings.presets.forEach(p -> presets.put(p.name(), p));
  }

  List<Preset> presets() {
    return List.copyOf(presets.values());
  }

  ImageGenerationRequest prepare(ImageGenerationRequest r) {
    if (r.preset() != null) {
      Preset p = presets.get(r.preset());
      if (p == null) {
        throw new InvalidRequestException("unknown preset '" + r.preset() + "' (known: " + String.join(", ", presets.keySet()) + ")",
            null);
      }
      r = p.applyTo(r);
    }
    if (r.style() == null && r.qualityEnhancers().isEmpty()) {
      return r;
    }
    String prompt = PromptStyles.expand(r.prompt(), r.style(), r.qualityEnhancers());
    return r.toBuilder().prompt(prompt).style(null).qualityEnhancers(List.of()).build();
  }
}
