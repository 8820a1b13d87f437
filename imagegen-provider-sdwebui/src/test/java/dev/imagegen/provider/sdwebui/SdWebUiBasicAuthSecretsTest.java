package dev.imagegen.provider.sdwebui;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.ProviderHealth;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testkit.stubs.SdWebUiStubs;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The WebUI's Basic authorization value, and the password in it, never appear in a message. */
class SdWebUiBasicAuthSecretsTest {
  private static final String USER = "webui";
  private static final String PASSWORD = "hunter2-pass";
  private static final String BASIC = Base64.getEncoder()
      .encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8));
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

  private static ImageGenerationService service(String... auth) {
    ProviderConfig.Builder b = ProviderConfig.builder("sdwebui").baseUrl(server.baseUrl()).set("poll-interval", "200ms");
    for (int i = 0; i < auth.length; i += 2) {
      b.set(auth[i], auth[i + 1]);
    }
    return ImageGenerationService.builder().provider(new SdWebUiProviderFactory(), b.build()).maxRetries(0).build();
  }

  private static String echo() {
    return "{\"detail\":\"rejected Authorization: Basic " + BASIC + " (password " + PASSWORD + ")\"}";
  }

  @Test
  void anErrorEchoingTheBasicHeaderNeverShowsItOrThePassword() {
    server.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
        .withBody(SdWebUiStubs.IDLE)));
    server.stubFor(post(urlPathEqualTo(SdWebUiStubs.TXT2IMG)).willReturn(aResponse().withStatus(500)
        .withHeader("Content-Type", "application/json").withBody(echo())));
    for (String[] auth : new String[][] {{"username", USER, "password", PASSWORD}, {"api-auth", USER + ":" + PASSWORD}}) {
      try (ImageGenerationService s = service(auth)) {
        Throwable t = catchThrowable(() -> s.generateImage(ImageGenerationRequest.of("a lighthouse"), "sdwebui"));
        assertThat(t).isNotNull();
        assertThat(t.getMessage()).doesNotContain(BASIC).doesNotContain(PASSWORD);
      }
    }
  }

  @Test
  void aHealthCheckRefusedWithTheHeaderEchoedNeverShowsIt() {
    server.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(401).withHeader("Content-Type", "application/json")
        .withBody(echo())));
    try (ImageGenerationService s = service("username", USER, "password", PASSWORD)) {
      ProviderHealth h = s.testConnection("sdwebui");
      assertThat(h.message()).isNotNull().doesNotContain(BASIC).doesNotContain(PASSWORD);
    }
  }
}
