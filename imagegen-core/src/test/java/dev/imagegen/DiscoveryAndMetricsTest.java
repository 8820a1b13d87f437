package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.ScriptedProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiscoveryAndMetricsTest {

  @Test
  void fromEnvironmentEnablesConfiguredProvidersFoundByServiceLoader() {
    try (ImageGenerationService s = ImageGenerationService.fromEnvironment(Map.of("SCRIPTED_TOKEN", "t0k3n-value"), new Properties())) {
      assertThat(s.providers()).containsExactly("scripted");
    }
  }

  @Test
  void nothingConfiguredEnablesTheNoAccountFallback() {
    try (ImageGenerationService s = ImageGenerationService.fromEnvironment(Map.of(), new Properties())) {
      assertThat(s.providers()).containsExactly("fallback");
    }
  }

  @Test
  void propertiesFileAndEnabledFlag(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("imagegen.properties");
    Files.writeString(file, "imagegen.scripted.api-key=from-file-123\nimagegen.fallback.enabled=false\nimagegen.routing=cheapest\n");
    try (ImageGenerationService s = ImageGenerationService.fromEnvironment(Map.of("IMAGEGEN_CONFIG", file.toString()), new Properties())) {
      assertThat(s.providers()).containsExactly("scripted");
    }
    try (ImageGenerationService s = ImageGenerationService.fromEnvironment(
        Map.of("IMAGEGEN_SCRIPTED_API_KEY", "k-123456", "IMAGEGEN_SCRIPTED_ENABLED", "false"), new Properties())) {
      assertThat(s.providers()).doesNotContain("scripted");
    }
  }

  @Test
  void configPrecedencePropertiesOverImagegenEnvOverCustomary() {
    Properties p = new Properties();
    p.setProperty("imagegen.x.base-url", "http://from-props");
    ProviderConfig c = ProviderConfig.from("x", Map.of("IMAGEGEN_X_BASE_URL", "http://from-env", "IMAGEGEN_X_TIMEOUT", "90s",
        "X_TOKEN", "customary-key", "IMAGEGEN_X_REQUESTS_PER_MINUTE", "30"), p, Map.of("api-key", java.util.List.of("X_TOKEN")));
    assertThat(c.baseUrl("http://default").toString()).isEqualTo("http://from-props");
    assertThat(c.apiKey().orElseThrow().reveal()).isEqualTo("customary-key");
    assertThat(c.duration("timeout", Duration.ZERO)).isEqualTo(Duration.ofSeconds(90));
    assertThat(c.intValue("requests-per-minute", 0)).isEqualTo(30);
  }

  @Test
  void metricsCountRequestsFailuresLatencyAndCostPerProvider() {
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.fail(new AuthenticationException("401", "a")));
    ScriptedProvider b = new ScriptedProvider("b");
    try (ImageGenerationService s = ImageGenerationService.builder()
        .provider(a, ProviderConfig.builder("a").build()).provider(b, ProviderConfig.builder("b").build()).build()) {
      s.generateImageWithFailover(ImageGenerationRequest.builder().prompt("x").numImages(2).build());
      s.generateImageWithFailover(ImageGenerationRequest.of("y"));
      MetricsSnapshot m = s.getMetrics();
      assertThat(m.requests()).isEqualTo(2);
      assertThat(m.successes()).isEqualTo(2);
      assertThat(m.failures()).isZero();
      assertThat(m.latency().count()).isEqualTo(2);
      assertThat(m.latency().p99()).isGreaterThanOrEqualTo(m.latency().p50());
      assertThat(m.providers().get("a").failuresByKind()).containsEntry(ErrorKind.AUTHENTICATION, 1L);
      assertThat(m.providers().get("b").successes()).isEqualTo(2);
      assertThat(m.providers().get("b").images()).isEqualTo(3);
      assertThat(m.totalCost()).isEqualByComparingTo("0");
      assertThat(s.health()).containsKeys("a", "b");
    }
  }
}
