package dev.imagegen.micrometer;

import static dev.imagegen.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.ContentPolicyException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.ScriptedProvider;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** What a Prometheus scrape shows: a success and a failure are both exported. */
class PrometheusScrapeTest {

  @Test
  void aSuccessAndAFailureAreBothScraped() throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.ok(),
        ScriptedProvider.fail(new ContentPolicyException("NSFW", "a")));
    try (ImageGenerationService service = ImageGenerationService.builder().provider(a, ProviderConfig.builder("a").build())
        .listener(ImagegenMetrics.create(registry)).build()) {
      ImageGenerationRequest r = ImageGenerationRequest.builder().prompt("a red fox").build();
      service.generateImageWithFailover(r);
      assertThatThrownBy(() -> service.generateImageWithFailover(r)).isInstanceOf(ContentPolicyException.class);
      eventually(Duration.ofSeconds(10), () -> assertThat(registry.find("gen_ai.client.operation.duration").timers()
          .stream().mapToLong(Timer::count).sum()).isEqualTo(2));
    }
    String scrape = registry.scrape();
    assertThat(scrape).contains("gen_ai_client_operation_duration_seconds_count{error_type=\"content_policy\"");
    assertThat(scrape).contains("gen_ai_client_operation_duration_seconds_count{error_type=\"none\"");
    assertThat(scrape).contains("imagegen_attempts_total{error_type=\"content_policy\"");
    assertThat(scrape).contains("imagegen_attempts_total{error_type=\"none\"");
  }

  /** Spring Boot's setup: a meter handler turns each Observation into a timer with its low-cardinality keys. */
  @Test
  void observationsTimedByAMeterHandlerAreScrapedForSuccessesAndFailures() throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    io.micrometer.observation.ObservationRegistry observations = io.micrometer.observation.ObservationRegistry.create();
    observations.observationConfig().observationHandler(
        new io.micrometer.core.instrument.observation.DefaultMeterObservationHandler(registry));
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.ok(),
        ScriptedProvider.fail(new ContentPolicyException("NSFW", "a")));
    try (ImageGenerationService service = ImageGenerationService.builder().provider(a, ProviderConfig.builder("a").build())
        .listener(ImagegenObservations.create(observations)).build()) {
      ImageGenerationRequest r = ImageGenerationRequest.builder().prompt("a red fox").build();
      service.generateImageWithFailover(r);
      assertThatThrownBy(() -> service.generateImageWithFailover(r)).isInstanceOf(ContentPolicyException.class);
      eventually(Duration.ofSeconds(10), () -> assertThat(registry.find(ImagegenObservations.GENERATION).timers()
          .stream().mapToLong(Timer::count).sum()).isEqualTo(2));
    }
    String scrape = registry.scrape();
    assertThat(scrape).containsPattern("imagegen_generation_seconds_count\\{[^}]*error_type=\"none\"");
    assertThat(scrape).containsPattern("imagegen_generation_seconds_count\\{[^}]*error_type=\"content_policy\"");
    assertThat(scrape).containsPattern("imagegen_attempt_seconds_count\\{[^}]*error_type=\"none\"");
    assertThat(scrape).containsPattern("imagegen_attempt_seconds_count\\{[^}]*error_type=\"content_policy\"");
    assertThat(scrape).doesNotContain("fox");
  }
}
