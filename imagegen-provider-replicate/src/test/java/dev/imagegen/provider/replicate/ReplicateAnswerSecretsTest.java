package dev.imagegen.provider.replicate;

import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testkit.stubs.ReplicateStubs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A failed prediction's error text comes from a 2xx answer: it never shows the token. */
class ReplicateAnswerSecretsTest {
  private static final String KEY = "r8_TestSecret/Token+0123456789abcdef";
  private static WireMockServer server;
  private ReplicateStubs stubs;

  @BeforeAll
  static void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  @BeforeEach
  void reset() {
    server.resetAll();
    stubs = new ReplicateStubs(server);
  }

  @Test
  void aFailedPredictionEchoingTheTokenNeverShowsIt() {
    stubs.created(stubs.prediction("p1failed0000", "failed").error("auth header was Bearer " + KEY).json());
    ProviderConfig config = ProviderConfig.builder("replicate").apiKey(KEY).baseUrl(server.baseUrl() + "/v1")
        .set("poll-interval", "100ms").build();
    try (ImageGenerationService s = ImageGenerationService.builder().provider(new ReplicateProviderFactory(), config)
        .maxRetries(0).build()) {
      Throwable t = catchThrowable(() -> s.generateImage(ImageGenerationRequest.of("a fox"), "replicate"));
      assertThat(t).isInstanceOf(ImageGenerationException.class).hasMessageContaining("failed");
      assertThat(t.getMessage()).doesNotContain(KEY);
    }
  }
}
