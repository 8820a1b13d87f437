package dev.imagegen.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * A whole Spring Boot web application with Actuator: the service comes from application
 * properties (the scripted provider of core's test-jar, found through ServiceLoader like a
 * provider module), generates an image, and its health is read over HTTP.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
    "imagegen.scripted.api-key=k-app", "imagegen.scripted.priority=1", "imagegen.budget.total=2", "imagegen.health.cache-ttl=1h",
    "management.endpoint.health.show-details=always", "management.endpoints.web.exposure.include=health,metrics"})
class ImageGenerationApplicationTest {

  /** An application as a user writes one, without component scanning (this package holds the starter's own classes). */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  static class App {}

  @Autowired ImageGenerationService service;
  @LocalServerPort int port;

  @Test
  void theBeanGeneratesAnImageAndActuatorShowsEachProvidersHealth() throws Exception {
    ImageGenerationResponse response = service.generateImageWithFailover(ImageGenerationRequest.of("a red kite"));
    assertThat(response.provider()).isEqualTo("scripted");
    assertThat(response.image().format()).isEqualTo(ImageFormat.PNG);

    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/actuator/health"))
        .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
    JsonNode imagegen = new ObjectMapper().readTree(answer.body()).path("components").path("imagegen");
    assertThat(imagegen.path("status").asText()).as(answer.body()).isEqualTo("UP");
    assertThat(imagegen.path("details").path("scripted").path("state").asText()).as(answer.body()).isEqualTo("UP");

    // the component alone, as a probe would read it; still the cached check (TTL 1 h)
    HttpResponse<String> component = http.send(HttpRequest.newBuilder(
        URI.create("http://localhost:" + port + "/actuator/health/imagegen")).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(component.statusCode()).isEqualTo(200);
    assertThat(new ObjectMapper().readTree(component.body()).path("details").path("scripted").path("state").asText()).isEqualTo("UP");

    // the meters, bound through imagegen-micrometer with Boot's MeterRegistry (events arrive on the listener's thread)
    dev.imagegen.testing.Eventually.eventually(Duration.ofSeconds(10), () -> {
      JsonNode duration = metric(http, "gen_ai.client.operation.duration?tag=gen_ai.provider.name:scripted");
      assertThat(duration.path("measurements").get(0).path("value").asDouble()).as(duration.toString()).isEqualTo(1.0);
    });
    JsonNode attempts = metric(http, "imagegen.attempts?tag=imagegen.attempt.outcome:succeeded");
    assertThat(attempts.path("measurements").get(0).path("value").asDouble()).as(attempts.toString()).isEqualTo(1.0);
    JsonNode left = metric(http, "imagegen.budget.remaining?tag=imagegen.budget.scope:total");
    assertThat(left.path("measurements").get(0).path("value").asDouble()).as(left.toString()).isEqualTo(2.0);
  }

  private JsonNode metric(HttpClient http, String nameAndQuery) {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/actuator/metrics/"
          + nameAndQuery)).GET().build(), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(nameAndQuery + ": " + r.body()).isEqualTo(200);
      return new ObjectMapper().readTree(r.body());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
