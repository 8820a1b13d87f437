package dev.imagegen.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.imagegen.ConfigurationException;
import dev.imagegen.ImageGenerationService;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** Configuration mistakes an operator makes, with every provider module and the example plugin on the class path. */
class ConfigurationMistakesTest {

  private static Properties props(String... kv) {
    Properties p = new Properties();
    for (int i = 0; i < kv.length; i += 2) {
      p.setProperty(kv[i], kv[i + 1]);
    }
    return p;
  }

  @Test
  void misspeltSettingsOfRealProvidersAreReportedWithTheNearestKnownName() {
    Map<String, String> env = Map.of("FAL_KEY", "fal-key-123", "IMAGEGEN_FALL_API_KEY", "x", "IMAGEGEN_FAL_APIKEY", "x",
        "IMAGEGEN_FAL_PRIORTY", "1");
    Properties p = props("imagegen.replicte.api-key", "x", "imagegen.rounting", "cheapest",
        "imagegen.fal.baseurl", "http://127.0.0.1:9", "imagegen.pixelforge.apikey", "x");
    try (ImageGenerationService s = ImageGenerationService.fromEnvironment(env, p)) {
      assertThat(s.providers()).containsExactly("fal");
      assertThat(s.configurationWarnings()).containsExactlyInAnyOrder(
          "imagegen.fal.baseurl (system property): no such setting; did you mean imagegen.fal.base-url?",
          "imagegen.pixelforge.apikey (system property): no such setting; did you mean imagegen.pixelforge.api-key?",
          "imagegen.replicte.api-key (system property): no such setting; did you mean imagegen.replicate.api-key?",
          "imagegen.rounting (system property): no such setting; did you mean imagegen.routing?",
          "IMAGEGEN_FALL_API_KEY (environment variable): no such setting; did you mean IMAGEGEN_FAL_API_KEY?",
          "IMAGEGEN_FAL_APIKEY (environment variable): no such setting; did you mean IMAGEGEN_FAL_API_KEY?",
          "IMAGEGEN_FAL_PRIORTY (environment variable): no such setting; did you mean IMAGEGEN_FAL_PRIORITY?");
    }
  }

  @Test
  void documentedKeysOfEveryProviderRaiseNoWarning() {
    Map<String, String> env = Map.of("FAL_KEY", "fal-key-123", "IMAGEGEN_FAL_ENABLED", "yes", "IMAGEGEN_FAL_STORAGE_URL",
        "https://storage.example", "IMAGEGEN_HORDE_CENSOR_NSFW", "on", "IMAGEGEN_RUNPOD_ENDPOINT_SDXL", "abc123",
        "IMAGEGEN_LOCAL_SDXL_MAX_LOADED", "1");
    Properties p = props("imagegen.fal.price.fal-ai/flux/dev", "0.025", "imagegen.horde.model-fast", "SDXL 1.0",
        "imagegen.sdwebui.catalog-ttl", "5m", "imagegen.huggingface.bill-to", "acme", "imagegen.replicate.wait-seconds", "30",
        "imagegen.local-sdxl.model.sdxl-turbo", "/nowhere", "imagegen.local-sdxl.enabled", "false");
    try (ImageGenerationService s = ImageGenerationService.fromEnvironment(env, p)) {
      assertThat(s.configurationWarnings()).isEmpty();
      assertThat(s.providers()).containsExactly("fal");
    }
  }

  @Test
  void badValuesOfSeveralProvidersAreReportedTogether() {
    Map<String, String> env = Map.of("FAL_KEY", "fal-key-123", "IMAGEGEN_FAL_UPLOAD_CACHE_TTL", "forever",
        "REPLICATE_API_TOKEN", "r8-token-456", "IMAGEGEN_REPLICATE_PRIORITY", "two");
    ConfigurationException e = catchThrowableOfType(ConfigurationException.class,
        () -> ImageGenerationService.fromEnvironment(env, props("imagegen.routing", "cheapst")).close());
    assertThat(e.problems()).hasSize(3);
    assertThat(e.problems()).anySatisfy(m -> assertThat(m).startsWith("imagegen.routing (system property): 'cheapst'"));
    assertThat(e.problems()).anySatisfy(m -> assertThat(m).startsWith("fal: 'upload-cache-ttl' (environment variable "
        + "IMAGEGEN_FAL_UPLOAD_CACHE_TTL) is not a duration"));
    assertThat(e.problems()).anySatisfy(m -> assertThat(m).isEqualTo("replicate: 'priority' (environment variable "
        + "IMAGEGEN_REPLICATE_PRIORITY) is not an integer: two"));
    assertThat(e.getMessage()).doesNotContain("fal-key-123").doesNotContain("r8-token-456");
  }
}
