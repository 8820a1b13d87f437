package dev.imagegen.provider.runpod;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testkit.stubs.RunPodStubs;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A RunPod submit whose outcome is unknown is never repeated, and the answer's own text never shows the key. */
class RunPodSubmitSafetyTest {
  private static final String KEY = "rpa_TESTKEY/0123+456789ABCDEF";
  private static WireMockServer server;

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
  }

  private static ImageGenerationService service() {
    ProviderConfig config = ProviderConfig.builder("runpod").apiKey(KEY).baseUrl(server.baseUrl() + "/v2")
        .set("endpoint", RunPodStubs.ENDPOINT).set("poll-interval", "200ms").set("timeout", "5s").build();
    return ImageGenerationService.builder().provider(new RunPodProviderFactory(), config).maxRetries(3)
        .retryBackoff(Duration.ofMillis(5), Duration.ofMillis(20)).defaultTimeout(Duration.ofSeconds(20)).build();
  }

  private static String run() {
    return "/v2/" + RunPodStubs.ENDPOINT + "/run";
  }

  @Test
  void aServerErrorToRunIsAnUnknownOutcomeAndSubmittedOnce() {
    server.stubFor(post(urlPathEqualTo(run())).willReturn(aResponse().withStatus(502).withBody("Bad Gateway")));
    try (ImageGenerationService s = service()) {
      Throwable t = catchThrowable(() -> s.generateImage(ImageGenerationRequest.of("a fox"), "runpod"));
      assertThat(t).isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
        assertThat(e.outcomeUnknown()).isTrue();
        assertThat(e.retryMayHelp()).isFalse();
      });
    }
    server.verify(1, postRequestedFor(urlPathEqualTo(run())));
  }

  @Test
  void anInvalidJobIdEchoingTheKeyNeverShowsIt() {
    server.stubFor(post(urlPathEqualTo(run())).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json")
        .withBody("{\"id\":\"bad id " + KEY.replace("/", "\\/") + "\",\"status\":\"IN_QUEUE\"}")));
    try (ImageGenerationService s = service()) {
      Throwable t = catchThrowable(() -> s.generateImage(ImageGenerationRequest.of("a fox"), "runpod"));
      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("cannot be polled");
      assertThat(t.getMessage()).doesNotContain(KEY).doesNotContain(KEY.replace("/", "\\/"));
    }
  }
}
