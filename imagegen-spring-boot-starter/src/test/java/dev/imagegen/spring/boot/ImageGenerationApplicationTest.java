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
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * A whole Spring Boot web application with Actuator: the service comes from application
 * properties (the scripted provider of core's test-jar, found through ServiceLoader like a
 * provider module), generates an image, and its health is read over HTTP.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
    "imagegen.scripted.api-key=k-app", "imagegen.scripted.priority=1", "imagegen.budget.total=2", "imagegen.health.cache-ttl=1h",
    "management.endpoint.health.show-details=always"})
class ImageGenerationApplicationTest {

  @SpringBootApplication
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
  }
}
