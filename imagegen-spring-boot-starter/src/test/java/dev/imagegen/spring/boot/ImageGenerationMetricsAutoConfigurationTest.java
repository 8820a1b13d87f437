package dev.imagegen.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.micrometer.ImagegenMetrics;
import dev.imagegen.micrometer.ImagegenObservations;
import dev.imagegen.testing.Eventually;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.observation.tck.TestObservationRegistry;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** With a MeterRegistry or an ObservationRegistry, the auto-configured service reports to it; without, nothing is bound. */
class ImageGenerationMetricsAutoConfigurationTest {

  private final ApplicationContextRunner runner = new ApplicationContextRunner()
      .withInitializer(FakeEnvironmentVariables.none())
      .withConfiguration(AutoConfigurations.of(ImageGenerationAutoConfiguration.class, ImageGenerationMetricsAutoConfiguration.class))
      .withPropertyValues("imagegen.horde.enabled=false", "imagegen.scripted.api-key=k-1", "imagegen.budget.total=3");

  @Test
  void aMeterRegistryGetsTheGenerationMetersAndTheServiceGauges() {
    runner.withBean(MeterRegistry.class, SimpleMeterRegistry::new).run(context -> {
      assertThat(context).hasNotFailed().hasSingleBean(ImagegenMetrics.class).doesNotHaveBean(ImagegenObservations.class);
      MeterRegistry registry = context.getBean(MeterRegistry.class);
      context.getBean(ImageGenerationService.class).generateImageWithFailover(ImageGenerationRequest.of("a heron"));
      Eventually.eventually(Duration.ofSeconds(10), () -> assertThat(registry.find("gen_ai.client.operation.duration")
          .tag("gen_ai.provider.name", "scripted").timer()).isNotNull().satisfies(t -> assertThat(t.count()).isEqualTo(1)));
      assertThat(registry.find("imagegen.budget.remaining").tag("imagegen.budget.scope", "total").gauge().value()).isEqualTo(3.0);
      assertThat(registry.find("imagegen.generations.pending").gauge()).isNotNull();
    });
  }

  @Test
  void theGaugesAreRemovedWhenTheContextCloses() {
    MeterRegistry registry = new SimpleMeterRegistry();
    runner.withBean(MeterRegistry.class, () -> registry).run(context ->
        assertThat(registry.find("imagegen.generations.pending").gauge()).isNotNull());
    assertThat(registry.find("imagegen.generations.pending").gauge()).isNull();
  }

  @Test
  void anObservationRegistryGetsAnObservationPerGeneration() {
    TestObservationRegistry observations = TestObservationRegistry.create();
    runner.withBean(io.micrometer.observation.ObservationRegistry.class, () -> observations).run(context -> {
      assertThat(context).hasNotFailed().hasSingleBean(ImagegenObservations.class).doesNotHaveBean(ImagegenMetrics.class);
      context.getBean(ImageGenerationService.class).generateImageWithFailover(ImageGenerationRequest.of("a heron"));
      Eventually.eventually(Duration.ofSeconds(10), () -> io.micrometer.observation.tck.TestObservationRegistryAssert
          .assertThat(observations).hasObservationWithNameEqualTo(ImagegenObservations.GENERATION).that().hasBeenStopped());
    });
  }

  @Test
  void withoutARegistryOrWithoutTheModuleNothingIsBound() {
    runner.run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(ImagegenMetrics.class)
        .doesNotHaveBean(ImagegenObservations.class).hasSingleBean(ImageGenerationService.class));
    runner.withBean(MeterRegistry.class, SimpleMeterRegistry::new)
        .withClassLoader(new FilteredClassLoader(ImagegenMetrics.class))
        .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(ImagegenMetrics.class)
            .hasSingleBean(ImageGenerationService.class));
  }

  @Test
  void anApplicationsOwnMetricsBeanWins() {
    runner.withBean(MeterRegistry.class, SimpleMeterRegistry::new)
        .withBean("myMetrics", ImagegenMetrics.class, () -> ImagegenMetrics.builder(new SimpleMeterRegistry()).build())
        .run(context -> assertThat(context).hasNotFailed().getBean(ImagegenMetrics.class).isSameAs(context.getBean("myMetrics")));
  }
}
