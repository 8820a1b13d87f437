package dev.imagegen.provider.stability;

import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.StabilityStubs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The testkit's Stability stubs as the protocol document describes them: each check of
 * {@link StabilityStubs#assertSubmitted} can fail, and the asynchronous shape answers as documented.
 */
class StabilityStubsTest {
  WireMockServer server;
  StabilityStubs stubs;
  final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    stubs = new StabilityStubs(server);
  }

  @AfterEach
  void stop() {
    server.stop();
  }

  LoggedRequest send(String path, String contentType, String body) throws Exception {
    server.resetRequests();
    http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path)).header("Content-Type", contentType)
        .header("authorization", "Bearer k").header("accept", "image/*").POST(HttpRequest.BodyPublishers.ofString(body))
        .build(), HttpResponse.BodyHandlers.discarding());
    List<LoggedRequest> all = server.findAll(postRequestedFor(urlPathMatching(".*")));
    assertThat(all).hasSize(1);
    return all.get(0);
  }

  static String form(String... nameValues) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < nameValues.length; i += 2) {
      b.append("--b\r\nContent-Disposition: form-data; name=\"").append(nameValues[i]).append("\"\r\n\r\n")
          .append(nameValues[i + 1]).append("\r\n");
    }
    return b.append("--b--\r\n").toString();
  }

  @Test
  void assertSubmittedAcceptsTheDocumentedFormAndRejectsEachDeviation() throws Exception {
    stubs.success(StubImages.png(64, 64, 1));
    ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("p").negativePrompt("n").size(1344, 768).seed(42L).build();
    String mp = "multipart/form-data; boundary=b";
    String core = "/v2beta/stable-image/generate/core";
    stubs.assertSubmitted(req, send(core, mp, form("prompt", "p", "negative_prompt", "n", "aspect_ratio", "16:9", "seed", "42",
        "output_format", "png")), "k");

    LoggedRequest json = send(core, "application/json", "{\"prompt\":\"p\",\"aspect_ratio\":\"16:9\",\"seed\":42}");
    assertThatThrownBy(() -> stubs.assertSubmitted(req, json, "k")).isInstanceOf(AssertionError.class);
    LoggedRequest ratio = send(core, mp, form("prompt", "p", "negative_prompt", "n", "aspect_ratio", "1:1", "seed", "42"));
    assertThatThrownBy(() -> stubs.assertSubmitted(req, ratio, "k")).hasMessageContaining("aspect_ratio");
    LoggedRequest steps = send(core, mp, form("prompt", "p", "negative_prompt", "n", "aspect_ratio", "16:9", "seed", "42", "steps", "30"));
    assertThatThrownBy(() -> stubs.assertSubmitted(req, steps, "k")).hasMessageContaining("steps");
    LoggedRequest path = send("/v2beta/stable-image/generate/ultra", mp, form("prompt", "p", "negative_prompt", "n", "aspect_ratio", "16:9",
        "seed", "42"));
    assertThatThrownBy(() -> stubs.assertSubmitted(req, path, "k")).hasMessageContaining("path");
    LoggedRequest key = send(core, mp, form("prompt", "p", "negative_prompt", "n", "aspect_ratio", "16:9", "seed", "42"));
    assertThatThrownBy(() -> stubs.assertSubmitted(req, key, "other")).hasMessageContaining("authorization");

    ImageGenerationRequest turbo = ImageGenerationRequest.builder().prompt("p").model("sd3-large-turbo")
        .negativePrompt("text").build();
    LoggedRequest negative = send("/v2beta/stable-image/generate/sd3", mp, form("prompt", "p", "model", "sd3-large-turbo",
        "negative_prompt", "text"));
    assertThatThrownBy(() -> stubs.assertSubmitted(turbo, negative, "k")).hasMessageContaining("negative_prompt");
  }

  @Test
  void theSubmitStubMatchesOnlyMultipartWithAPrompt() throws Exception {
    stubs.success(StubImages.png(64, 64, 1));
    HttpResponse<byte[]> ok = http.send(HttpRequest.newBuilder(URI.create(server.baseUrl()
        + "/v2beta/stable-image/generate/core")).header("Content-Type", "multipart/form-data; boundary=b")
        .header("authorization", "Bearer k").header("accept", "image/*")
        .POST(HttpRequest.BodyPublishers.ofString(form("prompt", "p"))).build(), HttpResponse.BodyHandlers.ofByteArray());
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(ok.headers().firstValue("finish-reason")).hasValue("SUCCESS");
    assertThat(ok.headers().firstValue("seed")).hasValue("1");
    HttpResponse<byte[]> json = http.send(HttpRequest.newBuilder(URI.create(server.baseUrl()
        + "/v2beta/stable-image/generate/core")).header("Content-Type", "application/json")
        .header("authorization", "Bearer k").header("accept", "image/*")
        .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"p\"}")).build(), HttpResponse.BodyHandlers.ofByteArray());
    assertThat(json.statusCode()).isNotEqualTo(200);
  }

  @Test
  void asyncSubmitThenTwoPendingPollsThenTheImageAndUnknownIdsAre404() throws Exception {
    StubImage img = StubImages.png(64, 64, 7);
    stubs.asyncThenDone("a6dc6c6e", img);
    HttpResponse<String> submit = http.send(HttpRequest.newBuilder(URI.create(server.baseUrl()
        + StabilityStubs.CREATIVE_UPSCALE)).header("authorization", "Bearer k")
        .POST(HttpRequest.BodyPublishers.ofString(form("prompt", "p"))).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(submit.body()).isEqualTo("{\"id\":\"a6dc6c6e\"}");
    HttpRequest poll = HttpRequest.newBuilder(URI.create(server.baseUrl() + StabilityStubs.RESULTS + "a6dc6c6e")).GET().build();
    HttpResponse<String> first = http.send(poll, HttpResponse.BodyHandlers.ofString());
    assertThat(first.statusCode()).isEqualTo(202);
    assertThat(first.body()).contains("\"status\":\"in-progress\"");
    assertThat(http.send(poll, HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(202);
    HttpResponse<byte[]> done = http.send(poll, HttpResponse.BodyHandlers.ofByteArray());
    assertThat(done.statusCode()).isEqualTo(200);
    assertThat(done.body()).isEqualTo(img.bytes());
    HttpResponse<String> unknown = http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + StabilityStubs.RESULTS
        + "nope")).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(unknown.body()).contains("\"name\":\"not_found\"").contains("\"errors\":[");
  }
}
