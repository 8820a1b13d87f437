package dev.imagegen.spring.boot;

import dev.imagegen.ImageGenerationService;
import dev.imagegen.micrometer.ImagegenMetrics;
import dev.imagegen.micrometer.ImagegenObservations;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.observation.ObservationRegistry;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Binds the service to Micrometer when {@code imagegen-micrometer} is on the class path: with a
 * {@link MeterRegistry} bean, the {@link ImagegenMetrics} listener (OpenTelemetry GenAI and
 * imagegen meters) and the service's gauges (pending generations, budget remaining); with an
 * {@link ObservationRegistry} bean, the {@link ImagegenObservations} listener (an Observation per
 * generation and per attempt, so that Micrometer Tracing makes spans of them). Both are added to
 * the auto-configured service through an {@link ImageGenerationServiceBuilderCustomizer}; a
 * service bean of the application's own gets them by adding the beans as listeners itself. A bean
 * of the application's own of either type replaces the default one; Spring Boot's own properties
 * filter the meters and observations ({@code management.metrics.enable.imagegen=false},
 * {@code management.metrics.enable.gen_ai=false}, {@code management.observations.enable.imagegen=false}).
 */
@AutoConfiguration(before = ImageGenerationAutoConfiguration.class, afterName = {
    "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration",
    "org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration",
    "org.springframework.boot.micrometer.observation.autoconfigure.ObservationAutoConfiguration"})
@ConditionalOnClass({ImagegenMetrics.class, ImageGenerationService.class})
public class ImageGenerationMetricsAutoConfiguration {

  /** Created by Spring. */
  public ImageGenerationMetricsAutoConfiguration() {}

  /** The meters, when a {@link MeterRegistry} exists. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(MeterRegistry.class)
  @ConditionalOnBean(MeterRegistry.class)
  static class Meters {
    @Bean
    @ConditionalOnMissingBean
    ImagegenMetrics imagegenMetrics(MeterRegistry registry) {
      return ImagegenMetrics.create(registry);
    }

    @Bean
    ImageGenerationServiceBuilderCustomizer imagegenMetricsListener(ImagegenMetrics metrics) {
      return builder -> builder.listener(metrics);
    }

    /** The service's gauges, removed when the context closes. */
    @Bean(destroyMethod = "close")
    ImagegenMetrics.ServiceGauges imagegenServiceGauges(ImagegenMetrics metrics, ObjectProvider<ImageGenerationService> service) {
      return metrics.bindTo(service.getObject());
    }
  }

  /** The observations, when an {@link ObservationRegistry} exists. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(ObservationRegistry.class)
  @ConditionalOnBean(ObservationRegistry.class)
  static class Observations {
    @Bean
    @ConditionalOnMissingBean
    ImagegenObservations imagegenObservations(ObservationRegistry registry) {
      return ImagegenObservations.create(registry);
    }

    @Bean
    ImageGenerationServiceBuilderCustomizer imagegenObservationsListener(ImagegenObservations observations) {
      return builder -> builder.listener(observations);
    }
  }
}
