package dev.imagegen.spring.boot;

import dev.imagegen.ImageGenerationService;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;

/**
 * Adds the {@code imagegen} health indicator ({@code /actuator/health/imagegen}) when Spring
 * Boot's health support ({@code spring-boot-health}, brought by
 * {@code spring-boot-starter-actuator}) is on the class path and there is an
 * {@link ImageGenerationService} bean. Turned off with
 * {@code management.health.imagegen.enabled=false}.
 */
@AutoConfiguration(after = ImageGenerationAutoConfiguration.class)
@ConditionalOnClass(HealthIndicator.class)
@ConditionalOnBean(ImageGenerationService.class)
@ConditionalOnEnabledHealthIndicator("imagegen")
public class ImageGenerationHealthAutoConfiguration {

  /** Created by Spring. */
  public ImageGenerationHealthAutoConfiguration() {}

  /**
   * The indicator, named {@code imagegen} in the health endpoint.
   *
   * @param service the service whose providers it reports
   * @return the indicator
   */
  @Bean
  @ConditionalOnMissingBean(name = "imagegenHealthIndicator")
  public ImageGenerationHealthIndicator imagegenHealthIndicator(ImageGenerationService service) {
    return new ImageGenerationHealthIndicator(service);
  }
}
