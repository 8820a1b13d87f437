package dev.imagegen.provider.horde;

import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testkit.stubs.HordeStubs;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Text from Horde's 2xx answers (an unusable id, heartbeat and user fields) never shows the key. */
class HordeAnswerSecretsTest {
  private static final String KEY = "hordekey-Zq81xW0/secret";
  private static WireMockServer server;
  private HordeStubs stubs;

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
    stubs = new HordeStubs(server);
  }

  private static ImageGenerationService service() {
    ProviderConfig config = ProviderConfig.builder("horde").baseUrl(server.baseUrl() + HordeStubs.BASE).apiKey(KEY)
        .set("poll-interval", "1s").build();
    return ImageGenerationService.builder().provider(new HordeProviderFactory(), config).maxRetries(0)
        .defaultTimeout(Duration.ofSeconds(20)).build();
  }

  @Test
  void anUnusableIdEchoingTheKeyNeverShowsIt() {
    stubs.submitAnswers(HordeStubs.json(202, "{\"id\":\"not-an-id " + KEY + "\",\"kudos\":10}"));
    try (ImageGenerationService s = service()) {
      Throwable t = catchThrowable(() -> s.generateImage(ImageGenerationRequest.of("a fox"), "horde"));
      assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("without a usable id");
      assertThat(t.getMessage()).doesNotContain(KEY);
    }
  }

  @Test
  void aHeartbeatEchoingTheKeyNeverShowsIt() {
    server.stubFor(get(urlPathEqualTo(HordeStubs.BASE + "/status/heartbeat")).willReturn(HordeStubs.json(200,
        "{\"message\":\"OK\",\"version\":\"4.44 " + KEY.replace("/", "\\/") + "\"}")));
    server.stubFor(get(urlPathEqualTo(HordeStubs.BASE + "/find_user")).willReturn(HordeStubs.json(200,
        "{\"username\":\"me#1 " + KEY + "\",\"kudos\":100}")));
    try (ImageGenerationService s = service()) {
      ProviderHealth h = s.testConnection("horde");
      assertThat(h.message()).isNotNull().doesNotContain(KEY).doesNotContain(KEY.replace("/", "\\/"));
    }
  }
}
