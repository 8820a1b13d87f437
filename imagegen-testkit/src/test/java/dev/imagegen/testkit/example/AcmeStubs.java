package dev.imagegen.testkit.example;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.matching.RequestPatternBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.testkit.ProviderStubs;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** Acme's API answering each kit scenario, shaped like {@link AcmeWire}. */
public final class AcmeStubs implements ProviderStubs {
  static final String BASE = "/api";
  /** WireMock's initial scenario state (ProviderStubs.Scenario hides WireMock's Scenario class here). */
  private static final String STARTED = com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
  private static final ObjectMapper JSON = new ObjectMapper();
  private final WireMockServer server;

  /** @param server the kit's server */
  public AcmeStubs(WireMockServer server) {
    this.server = server;
  }

  @Override
  public String basePath() {
    return BASE;
  }

  @Override
  public Duration minPollInterval() {
    return AcmeProvider.POLL_FLOOR;
  }

  // ------------------------------------------------------------------ answers

  @Override
  public void success(StubImage image) {
    jobFinishes("job-ok", image, 200);
  }

  @Override
  public void queuedThenRunningThenDone(StubImage image) {
    submitAnswers(job("job-q", "QUEUED", Map.of("queue_position", 3)));
    String[][] steps = {
        {STARTED, "q2", json(job("job-q", "QUEUED", Map.of("queue_position", 2)))},
        {"q2", "q1", json(job("job-q", "QUEUED", Map.of("queue_position", 1)))},
        {"q1", "r40", json(job("job-q", "RUNNING", Map.of("percent", 40.0)))},
        {"r40", "r80", json(job("job-q", "RUNNING", Map.of("percent", 80.0)))},
    };
    for (String[] s : steps) {
      server.stubFor(get(urlPathEqualTo(BASE + "/v1/jobs/job-q")).inScenario("acme-progress")
          .whenScenarioStateIs(s[0]).willSetStateTo(s[1]).willReturn(ok(s[2])));
    }
    server.stubFor(get(urlPathEqualTo(BASE + "/v1/jobs/job-q")).inScenario("acme-progress")
        .whenScenarioStateIs("r80").willReturn(ok(json(done("job-q", fileUrl("job-q"), image.seed())))));
    serveFile("job-q", image, 200);
  }

  @Override
  public void authenticationRefused() {
    // Acme echoes the header it refused, as some real APIs do: imagegen must scrub it
    server.stubFor(post(urlPathEqualTo(BASE + "/v1/jobs")).willReturn(error(401, "unauthorized",
        "invalid API key in header '{{request.headers.Authorization}}'").withTransformers("response-template")));
  }

  @Override
  public void outOfCredits() {
    server.stubFor(post(urlPathEqualTo(BASE + "/v1/jobs")).willReturn(error(402, "insufficient_credits",
        "your balance is $0.00")));
  }

  @Override
  public void rateLimited(Duration retryAfter) {
    server.stubFor(post(urlPathEqualTo(BASE + "/v1/jobs")).willReturn(error(429, "rate_limited", "slow down")
        .withHeader("Retry-After", String.valueOf(retryAfter.toSeconds()))));
  }

  @Override
  public void serverErrorThenSuccess(StubImage image) {
    server.stubFor(post(urlPathEqualTo(BASE + "/v1/jobs")).inScenario("acme-5xx").whenScenarioStateIs(STARTED)
        .willSetStateTo("recovered").willReturn(error(503, "server_error", "upstream busy")));
    server.stubFor(post(urlPathEqualTo(BASE + "/v1/jobs")).inScenario("acme-5xx").whenScenarioStateIs("recovered")
        .willReturn(ok(json(job("job-ok", "QUEUED", Map.of("queue_position", 1))))));
    pollAnswers("job-ok", done("job-ok", fileUrl("job-ok"), image.seed()));
    serveFile("job-ok", image, 200);
  }

  @Override
  public void connectionReset() {
    server.stubFor(post(urlPathEqualTo(BASE + "/v1/jobs")).willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
  }

  @Override
  public void emptyResponse() {
    server.stubFor(post(urlPathEqualTo(BASE + "/v1/jobs")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json")));
  }

  @Override
  public void malformedJson() {
    server.stubFor(post(urlPathEqualTo(BASE + "/v1/jobs")).willReturn(ok("{\"id\": \"job-1\", \"status\": ")));
  }

  @Override
  public void neverFinishes() {
    submitAnswers(job("job-stuck", "QUEUED", Map.of("queue_position", 5)));
    pollAnswers("job-stuck", job("job-stuck", "QUEUED", Map.of("queue_position", 5)));
    server.stubFor(post(urlPathEqualTo(BASE + "/v1/jobs/job-stuck/cancel"))
        .willReturn(ok(json(job("job-stuck", "CANCELLED", Map.of())))));
  }

  @Override
  public void contentPolicy() {
    server.stubFor(post(urlPathEqualTo(BASE + "/v1/jobs")).willReturn(error(400, "content_policy",
        "the prompt was refused by the safety filter")));
  }

  @Override
  public void resultUrlNotFound() {
    jobFinishes("job-404", null, 404);
  }

  @Override
  public void oversizedImage(StubImage image) {
    jobFinishes("job-big", image, 200);
  }

  @Override
  public void invalidRequest(String providerMessage) {
    server.stubFor(post(urlPathEqualTo(BASE + "/v1/jobs")).willReturn(error(422, "invalid_request", providerMessage)));
  }

  @Override
  public void healthy() {
    server.stubFor(get(urlPathEqualTo(BASE + "/v1/account")).willReturn(ok("{\"credits\":12.5}")));
  }

  @Override
  public void healthAuthRefused() {
    server.stubFor(get(urlPathEqualTo(BASE + "/v1/account")).willReturn(error(401, "unauthorized", "invalid API key")));
  }

  // ------------------------------------------------------------------ the wire

  @Override
  public RequestPatternBuilder submitRequests() {
    return postRequestedFor(urlPathEqualTo(BASE + "/v1/jobs"));
  }

  @Override
  public RequestPatternBuilder cancelRequests() {
    return postRequestedFor(urlPathMatching(BASE + "/v1/jobs/[^/]+/cancel"));
  }

  @Override
  public RequestPatternBuilder pollRequests() {
    return getRequestedFor(urlPathMatching(BASE + "/v1/jobs/[^/]+"));
  }

  @Override
  public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
    assertThat(submit.getHeader("Authorization")).as("Authorization header").isEqualTo("Bearer " + apiKey);
    assertThat(submit.getHeader("Content-Type")).as("Content-Type").startsWith("application/json");
    JsonNode body;
    try {
      body = JSON.readTree(submit.getBodyAsString());
    } catch (JsonProcessingException e) {
      throw new AssertionError("the submit body is not JSON: " + submit.getBodyAsString(), e);
    }
    assertThat(body.path("prompt").asText(null)).as("prompt").isEqualTo(request.prompt());
    assertThat(body.path("negative_prompt").asText(null)).as("negative_prompt").isEqualTo(request.effectiveNegativePrompt());
    assertThat(body.path("width").isInt() ? body.get("width").asInt() : null).as("width").isEqualTo(request.width());
    assertThat(body.path("height").isInt() ? body.get("height").asInt() : null).as("height").isEqualTo(request.height());
    assertThat(body.path("seed").isNumber() ? body.get("seed").asLong() : null).as("seed").isEqualTo(request.seed());
    assertThat(body.path("steps").isInt() ? body.get("steps").asInt() : null).as("steps").isEqualTo(request.steps());
    assertThat(body.path("guidance").isNumber() ? body.get("guidance").asDouble() : null).as("guidance")
        .isEqualTo(request.guidanceScale());
  }

  // ------------------------------------------------------------------ helpers

  private void jobFinishes(String id, @Nullable StubImage image, int fileStatus) {
    submitAnswers(job(id, "QUEUED", Map.of("queue_position", 1)));
    pollAnswers(id, done(id, fileUrl(id), image == null ? 42 : image.seed()));
    serveFile(id, image, fileStatus);
  }

  private void submitAnswers(Map<String, Object> job) {
    server.stubFor(post(urlPathEqualTo(BASE + "/v1/jobs")).willReturn(ok(json(job))));
  }

  private void pollAnswers(String id, Map<String, Object> job) {
    server.stubFor(get(urlPathEqualTo(BASE + "/v1/jobs/" + id)).willReturn(ok(json(job))));
  }

  private void serveFile(String id, @Nullable StubImage image, int status) {
    ResponseDefinitionBuilder answer = aResponse().withStatus(status);
    if (image != null && status == 200) {
      answer.withHeader("Content-Type", image.mediaType()).withBody(image.bytes());
    } else {
      answer.withHeader("Content-Type", "text/plain").withBody("Not Found");
    }
    server.stubFor(get(urlPathEqualTo("/files/" + id)).willReturn(answer));
  }

  private String fileUrl(String id) {
    return server.baseUrl() + "/files/" + id;
  }

  private static Map<String, Object> job(String id, String status, Map<String, Object> extra) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", id);
    m.put("status", status);
    m.putAll(extra);
    return m;
  }

  private static Map<String, Object> done(String id, String url, long seed) {
    Map<String, Object> m = job(id, "DONE", Map.of("model", "acme-1"));
    m.put("output", Map.of("url", url, "seed", seed, "nsfw", false));
    return m;
  }

  private static ResponseDefinitionBuilder ok(String body) {
    return aResponse().withStatus(200).withHeader("Content-Type", "application/json").withBody(body);
  }

  private static ResponseDefinitionBuilder error(int status, String code, String message) {
    return aResponse().withStatus(status).withHeader("Content-Type", "application/json")
        .withBody(json(Map.of("error", Map.of("code", code, "message", message))));
  }

  private static String json(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
