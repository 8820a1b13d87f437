/**
 * Spring Boot auto-configuration for imagegen: an {@link dev.imagegen.ImageGenerationService} bean
 * configured from the {@code imagegen.*} properties of the Spring {@code Environment} (the keys
 * {@link dev.imagegen.ImageGenerationService#fromEnvironment()} reads), customizable with
 * {@link dev.imagegen.spring.boot.ImageGenerationServiceBuilderCustomizer} beans, with an Actuator
 * health indicator fed from cached provider checks.
 */
@NullMarked
package dev.imagegen.spring.boot;

import org.jspecify.annotations.NullMarked;
