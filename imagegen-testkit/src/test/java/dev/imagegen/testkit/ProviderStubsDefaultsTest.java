package dev.imagegen.testkit;

import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The scenario defaults a simple API's stubs get from the primitives, on the wire. */
class ProviderStubsDefaultsTest {
  private static WireMockServer server;
  private static final HttpClient CLIENT = HttpClient.newHttpClient();

  /** A simple API's stubs: only the primitives. */
  record Simple(WireMockServer wireMock) implements ProviderStubs {
    @Override public MappingBuilder submitStub() { return post("/render"); }
    @Override public MappingBuilder healthStub() { return get("/me"); }
    @Override public ResponseDefinitionBuilder successAnswer(StubImage image) {
      return okJson("{\"seed\":" + image.seed() + "}");
    }
    @Override public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {}
  }

  /** Stubs that gave no primitive. */
  record Bare() implements ProviderStubs {
    @Override public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {}
  }

  /** Stubs that list a scenario as unsupported. */
  record Listed() implements ProviderStubs {
    @Override public Map<Scenario, String> unsupported() { return Map.of(Scenario.CONTENT_POLICY, "no content filter"); }
    @Override public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {}
  }

  private final Simple stubs = new Simple(server);

  @BeforeAll
  static void start() {
    server = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
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

  private static HttpResponse<String> send(String method, String path) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.baseUrl() + path)).timeout(Duration.ofSeconds(5));
    return CLIENT.send(method.equals("POST") ? b.POST(HttpRequest.BodyPublishers.ofString("{}")).build() : b.GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void refusalsUseTheStatusAndTheErrorBody() throws Exception {
    stubs.authenticationRefused();
    assertThat(send("POST", "/render")).satisfies(r -> assertThat(r.statusCode()).isEqualTo(401))
        .satisfies(r -> assertThat(r.body()).isEqualTo("{\"error\":\"invalid API key\"}"));
    reset();
    stubs.outOfCredits();
    assertThat(send("POST", "/render").statusCode()).isEqualTo(402);
    reset();
    stubs.invalidRequest("width \"7\" is not allowed");
    HttpResponse<String> invalid = send("POST", "/render");
    assertThat(invalid.statusCode()).isEqualTo(400);
    assertThat(invalid.body()).isEqualTo("{\"error\":\"width \\\"7\\\" is not allowed\"}");
    reset();
    stubs.rateLimited(Duration.ofSeconds(120));
    HttpResponse<String> limited = send("POST", "/render");
    assertThat(limited.statusCode()).isEqualTo(429);
    assertThat(limited.headers().firstValue("Retry-After")).hasValue("120");
  }

  @Test
  void successesFaultsAndHealth() throws Exception {
    stubs.success(StubImages.png(8, 8, 5));
    assertThat(send("POST", "/render").body()).isEqualTo("{\"seed\":5}");
    reset();
    stubs.serverErrorThenSuccess(StubImages.png(8, 8, 6));
    assertThat(send("POST", "/render").statusCode()).isEqualTo(503);
    assertThat(send("POST", "/render").body()).isEqualTo("{\"seed\":6}");
    assertThat(server.findAll(stubs.submitRequests())).hasSize(2);
    reset();
    stubs.emptyResponse();
    assertThat(send("POST", "/render").body()).isEmpty();
    reset();
    stubs.malformedJson();
    assertThat(send("POST", "/render").body()).startsWith("{").doesNotEndWith("}");
    reset();
    stubs.connectionReset();
    assertThatThrownBy(() -> send("POST", "/render")).isInstanceOf(IOException.class);
    reset();
    stubs.healthy();
    assertThat(send("GET", "/me").statusCode()).isEqualTo(200);
    reset();
    stubs.healthAuthRefused();
    assertThat(send("GET", "/me").statusCode()).isEqualTo(401);
    assertThat(stubs.cancelRequests()).isNull();
    assertThat(stubs.pollRequests()).isNull();
  }

  @Test
  void whatHasNoDefaultOrLacksAPrimitiveSaysWhatToDo() {
    assertThatThrownBy(() -> stubs.contentPolicy()).isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("CONTENT_POLICY").hasMessageContaining("unsupported()");
    assertThatThrownBy(() -> stubs.queuedThenRunningThenDone(StubImages.png(8, 8, 1)))
        .hasMessageContaining("QUEUED_PROGRESS");
    assertThatThrownBy(() -> new Bare().authenticationRefused()).isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("Bare").hasMessageContaining("submitStub()");
    assertThatThrownBy(() -> new Bare().submitRequests()).hasMessageContaining("submitStub()");
    assertThatThrownBy(() -> new Listed().contentPolicy()).isInstanceOf(UnsupportedOperationException.class)
        .hasMessage("Listed cannot exhibit contentPolicy(): no content filter");
  }
}
