package dev.imagegen;

import java.util.Objects;

/**
 * A LoRA to apply, by the name the provider knows it under, with its weight.
 *
 * @param name the LoRA's name or id
 * @param weight its strength, usually 0..1 (validated to -5..5)
 */
public record Lora(String name, double weight) {
  /** Checks the name. */
  public Lora {
    Objects.requireNonNull(name, "name");
  }
}
