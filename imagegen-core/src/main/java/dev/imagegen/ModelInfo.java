package dev.imagegen;

import java.util.List;

/**
 * A model a provider can serve.
 *
 * @param provider the provider id
 * @param id the provider's own model id
 * @param aliases imagegen aliases that map to it ({@code flux-schnell}, {@code sdxl}...)
 * @param description a short description, may be empty
 */
public record ModelInfo(String provider, String id, List<String> aliases, String description) {
  /** Copies the aliases. */
  public ModelInfo {
    aliases = List.copyOf(aliases);
  }
}
