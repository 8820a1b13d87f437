package dev.imagegen;

import java.util.List;

/**
 * A model a provider can serve. {@code listModels()} gives one per model of each provider, its
 * aliases listed on it rather than as models of their own.
 *
 * @param provider the provider id
 * @param id the provider's own model id
 * @param aliases names a request may give instead of the id ({@code flux-schnell}, {@code sdxl}...)
 * @param description a short description (what it does, its built-in price), empty when the provider has none
 */
public record ModelInfo(String provider, String id, List<String> aliases, String description) {
  /** Copies the aliases. */
  public ModelInfo {
    aliases = List.copyOf(aliases);
  }
}
