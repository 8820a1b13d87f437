package dev.imagegen.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;

/** Spring's property names onto core's flat kebab-case keys. */
class SpringEnvironmentSettingsTest {

  @Test
  void relaxedSpellingsBecomeKebabCaseAndBracketedSegmentsStayAsWritten() {
    assertThat(SpringEnvironmentSettings.canonical("imagegen.fal.api-key")).isEqualTo("imagegen.fal.api-key");
    assertThat(SpringEnvironmentSettings.canonical("imagegen.fal.apiKey")).isEqualTo("imagegen.fal.api-key");
    assertThat(SpringEnvironmentSettings.canonical("imagegen.fal.api_key")).isEqualTo("imagegen.fal.api-key");
    assertThat(SpringEnvironmentSettings.canonical("imagegen.health.cacheTTL")).isEqualTo("imagegen.health.cache-ttl");
    assertThat(SpringEnvironmentSettings.canonical("imagegen.sdwebui.baseURL")).isEqualTo("imagegen.sdwebui.base-url");
    assertThat(SpringEnvironmentSettings.canonical("imagegen.replicate.price[black-forest-labs/Flux_1.1]"))
        .isEqualTo("imagegen.replicate.price.black-forest-labs/Flux_1.1");
    assertThat(SpringEnvironmentSettings.canonical("imagegen.replicate.price.[a.b]")).isEqualTo("imagegen.replicate.price.a.b");
    assertThat(SpringEnvironmentSettings.canonical("server.port")).isEqualTo("server.port");
  }

  @Test
  void onlyImagegenPropertiesAreTakenTheHigherPrecedenceSpellingWinsAndEnvironmentVariablesAreLeftToCore() {
    StandardEnvironment env = new StandardEnvironment();
    env.getPropertySources().addFirst(new MapPropertySource("high", Map.of("imagegen.fal.apiKey", "k-high", "server.port", "1")));
    env.getPropertySources().addLast(new MapPropertySource("low", Map.of("imagegen.fal.api-key", "k-low", "imagegen.routing", "fastest")));
    env.getPropertySources().addLast(new SystemEnvironmentPropertySource("fakeEnv", Map.of("IMAGEGEN_ROUTING", "cheapest")));
    Properties p = SpringEnvironmentSettings.imagegenProperties(env);
    assertThat(p).containsEntry("imagegen.fal.api-key", "k-high").containsEntry("imagegen.routing", "fastest")
        .doesNotContainKeys("server.port", "imagegen.fal.apiKey", "IMAGEGEN_ROUTING");
  }
}
