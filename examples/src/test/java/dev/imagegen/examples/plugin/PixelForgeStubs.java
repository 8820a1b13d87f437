package dev.imagegen.examples.plugin;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.matching.RequestPatternBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.testkit.ProviderStubs;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** The PixelForge API on WireMock, for the kit: what a plugin author writes for their own service. */
final class PixelForgeStubs implements ProviderStubs {
  private final WireMockServer server;

  PixelForgeStubs(WireMockServer server) {
    this.server = server;
  }

  @Override
  public Map<ProviderStubs.Scenario, String> unsupported() {
    return Map.of(ProviderStubs.Scenario.QUEUED_PROGRESS, "synchronous API: no queue",
        ProviderStubs.Scenario.REMOTE_CANCEL, "synchronous API: no job to cancel",
        ProviderStubs.Scenario.CONTENT_POLICY, "PixelForge has no content filter",
        ProviderStubs.Scenario.RESULT_URL_NOT_FOUND, "images come back inline");
  }

  private static String ok(StubImage image) {
    return "{\"image_base64\":\"" + Base64.getEncoder().encodeToString(image.bytes()) + "\",\"seed\":" + image.seed() + "}";
  }

  private void render(int status, String body) {
    server.stubFor(post("/v1/render").willReturn(aResponse().withStatus(status).withHeader("Content-Type", "application/json")
        .withBody(body)));
  }

  @Override public void success(StubImage image) { render(200, ok(image)); }
  @Override public void queuedThenRunningThenDone(StubImage image) { success(image); }
  @Override public void authenticationRefused() { render(401, "{\"error\":\"invalid API key\"}"); }
  @Override public void outOfCredits() { render(402, "{\"error\":\"no credits left\"}"); }

  @Override
  public void rateLimited(Duration retryAfter) {
    server.stubFor(post("/v1/render").willReturn(aResponse().withStatus(429)
        .withHeader("Retry-After", String.valueOf(retryAfter.toSeconds())).withBody("{\"error\":\"slow down\"}")));
  }

  @Override
  public void serverErrorThenSuccess(StubImage image) {
    server.stubFor(post("/v1/render").inScenario("flaky").whenScenarioStateIs(com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED)
        .willReturn(aResponse().withStatus(503).withBody("{\"error\":\"overloaded\"}")).willSetStateTo("ok"));
    server.stubFor(post("/v1/render").inScenario("flaky").whenScenarioStateIs("ok")
        .willReturn(aResponse().withStatus(200).withBody(ok(image))));
  }

  @Override public void connectionReset() {
    server.stubFor(post("/v1/render").willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
  }
  @Override public void emptyResponse() { render(200, ""); }
  @Override public void malformedJson() { render(200, "{\"image_base64\": "); }
  @Override public void neverFinishes() {
    server.stubFor(post("/v1/render").willReturn(aResponse().withFixedDelay(30_000).withBody("{}")));
  }
  @Override public void contentPolicy() { throw new UnsupportedOperationException(); }
  @Override public void resultUrlNotFound() { throw new UnsupportedOperationException(); }
  @Override public void oversizedImage(StubImage image) { success(image); }
  @Override public void invalidRequest(String providerMessage) { render(400, "{\"error\":\"" + providerMessage + "\"}"); }

  @Override public void healthy() {
    server.stubFor(get("/v1/me").willReturn(aResponse().withStatus(200).withBody("{\"user\":\"kit\"}")));
  }
  @Override public void healthAuthRefused() {
    server.stubFor(get("/v1/me").willReturn(aResponse().withStatus(401).withBody("{\"error\":\"invalid API key\"}")));
  }

  @Override public RequestPatternBuilder submitRequests() { return postRequestedFor(urlEqualTo("/v1/render")); }
  @Override public @Nullable RequestPatternBuilder cancelRequests() { return null; }

  @Override
  public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
    JsonNode body;
    try {
      body = new ObjectMapper().readTree(submit.getBodyAsString());
    } catch (Exception e) {
      throw new AssertionError("submit body is not JSON", e);
    }
    check(("Bearer " + apiKey).equals(submit.getHeader("Authorization")), "Authorization: Bearer <key>");
    check(request.prompt().equals(body.path("prompt").asText()), "prompt");
    check(java.util.Objects.equals(request.width(), body.path("width").isNumber() ? body.get("width").asInt() : null), "width");
    check(java.util.Objects.equals(request.height(), body.path("height").isNumber() ? body.get("height").asInt() : null), "height");
    check(request.seed() == null || request.seed() == body.path("seed").asLong(), "seed");
    check(java.util.Objects.equals(request.effectiveNegativePrompt(), body.path("negative_prompt").isTextual()
        ? body.get("negative_prompt").asText() : null), "negative_prompt");
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      throw new AssertionError("PixelForge submit: wrong " + what);
    }
  }
}
