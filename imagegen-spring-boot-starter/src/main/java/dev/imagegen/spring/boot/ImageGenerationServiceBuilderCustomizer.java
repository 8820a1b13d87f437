package dev.imagegen.spring.boot;

import dev.imagegen.ImageGenerationService;

/**
 * Changes the {@link ImageGenerationService.Builder} of the auto-configured service before it is
 * built: adds a provider made in code, a budget store, a listener. Every bean of this type is
 * applied, in {@link org.springframework.core.Ordered} / {@link org.springframework.core.annotation.Order}
 * order, after the {@code imagegen.*} properties have been read, so what a customizer sets wins
 * over a property.
 */
@FunctionalInterface
public interface ImageGenerationServiceBuilderCustomizer {

  /**
   * Changes the builder.
   *
   * @param builder the builder, already configured from the {@code imagegen.*} properties
   */
  void customize(ImageGenerationService.Builder builder);
}
