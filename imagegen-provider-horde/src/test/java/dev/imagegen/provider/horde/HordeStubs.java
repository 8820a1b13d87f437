package dev.imagegen.provider.horde;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.delete;
import static com.github.tomakehurst.wiremock.client.WireMock.deleteRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.matching.RequestPatternBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.testkit.ProviderStubs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * AI Horde's v2 API on a WireMock server, answering the way {@code shared/protocols/horde.md}
 * documents it: 202 {@code {"id","kudos","warnings"}} on submit, {@code /generate/check} without
 * images, {@code /generate/status} with {@code generations} whose {@code img} is a presigned R2 URL
 * (served here under {@code /r2/}), {@code seed} as a string, errors as {@code {"message","rc"}}.
 */
final class HordeStubs implements ProviderStubs {
  static final String BASE = "/api/v2";
  static final String ID = "8c1f6a52-3b7e-4d0e-9f2a-6e4b1d9c7a10";
  static final String GEN_ID = "4b0e9d7c-1a2f-4e3b-8c5d-9f6a7b8c9d0e";
  static final String WORKER_ID = "0b7a2c1e-5d4f-4a3b-9c8d-7e6f5a4b3c2d";
  static final String MODEL = "AlbedoBase XL (SDXL)";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String STARTED = com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;

  private final WireMockServer server;

  HordeStubs(WireMockServer server) {
    this.server = server;
  }

  // ------------------------------------------------------------------------- bodies

  /** The 202 of a submit; {@code warnings} only when given. */
  static String submitted(String id, double kudos, String... warningCodes) {
    StringBuilder s = new StringBuilder("{\"id\":\"" + id + "\",\"kudos\":" + kudos);
    if (warningCodes.length > 0) {
      s.append(",\"warnings\":[");
      for (int i = 0; i < warningCodes.length; i++) {
        String code = warningCodes[i];
        String message = code.equals("NoAvailableWorker")
            ? "Warning: No available workers can fulfill this request. It will expire in 20 minutes unless a worker appears."
            : "Warning: " + code;
        s.append(i > 0 ? "," : "").append("{\"code\":\"").append(code).append("\",\"message\":\"").append(message).append("\"}");
      }
      s.append(']');
    }
    return s.append('}').toString();
  }

  /** A check body. */
  static String check(int finished, int processing, int restarted, int waiting, boolean done, boolean faulted, int waitTime,
      int queuePosition, double kudos, boolean isPossible) {
    return "{\"finished\":" + finished + ",\"processing\":" + processing + ",\"restarted\":" + restarted + ",\"waiting\":"
        + waiting + ",\"done\":" + done + ",\"faulted\":" + faulted + ",\"wait_time\":" + waitTime + ",\"queue_position\":"
        + queuePosition + ",\"kudos\":" + kudos + ",\"is_possible\":" + isPossible + "}";
  }

  static String queued(int position, int waitTime) {
    return check(0, 0, 0, 1, false, false, waitTime, position, 0.0, true);
  }

  static String processing(int waitTime) {
    return check(0, 1, 0, 0, false, false, waitTime, 0, 0.0, true);
  }

  static String done(int n, double kudos) {
    return check(n, 0, 0, 0, true, false, 0, 0, kudos, true);
  }

  /** One generation of a status body. */
  static String generation(String img, String seed, String genId, boolean censored) {
    return "{\"img\":\"" + img + "\",\"seed\":\"" + seed + "\",\"id\":\"" + genId + "\",\"worker_id\":\"" + WORKER_ID
        + "\",\"worker_name\":\"gpu-farm-3\",\"model\":\"" + MODEL + "\",\"state\":\"ok\",\"censored\":" + censored
        + ",\"gen_metadata\":" + (censored ? "[{\"type\":\"censorship\",\"value\":\"nsfw\"}]" : "[]") + "}";
  }

  /** A finished status body with these generations. */
  static String status(double kudos, String... generations) {
    String check = done(generations.length, kudos);
    return check.substring(0, check.length() - 1) + ",\"generations\":[" + String.join(",", generations) + "],\"shared\":false}";
  }

  /** An error body. */
  static String error(String message, @Nullable String rc) {
    return rc == null ? "{\"message\":\"" + message + "\"}" : "{\"message\":\"" + message + "\",\"rc\":\"" + rc + "\"}";
  }

  /** The presigned R2 URL of a generation, served by {@link #image}. */
  String r2Url(String genId) {
    return server.baseUrl() + "/r2/horde-images/" + genId + ".webp?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=1800"
        + "&X-Amz-Signature=6f1d0c";
  }

  // ------------------------------------------------------------------------- building blocks

  static ResponseDefinitionBuilder json(int status, String body) {
    return aResponse().withStatus(status).withHeader("Content-Type", "application/json").withBody(body);
  }

  void submitAnswers(ResponseDefinitionBuilder answer) {
    server.stubFor(post(urlPathEqualTo(BASE + "/generate/async")).willReturn(answer));
  }

  void accepted(String... warningCodes) {
    submitAnswers(json(202, submitted(ID, 17.0, warningCodes)));
  }

  void checkAnswers(ResponseDefinitionBuilder answer) {
    server.stubFor(get(urlPathEqualTo(BASE + "/generate/check/" + ID)).willReturn(answer));
  }

  /** The check answers these bodies in turn, the last one from then on. */
  void checkSequence(String... bodies) {
    String state = STARTED;
    for (int i = 0; i < bodies.length; i++) {
      String next = i == bodies.length - 1 ? state : "check-" + (i + 1);
      server.stubFor(get(urlPathEqualTo(BASE + "/generate/check/" + ID)).inScenario("check").whenScenarioStateIs(state)
          .willReturn(json(200, bodies[i])).willSetStateTo(next));
      state = next;
    }
  }

  void statusAnswers(ResponseDefinitionBuilder answer) {
    server.stubFor(get(urlPathEqualTo(BASE + "/generate/status/" + ID)).willReturn(answer));
  }

  void image(String genId, StubImage image) {
    server.stubFor(get(urlPathEqualTo("/r2/horde-images/" + genId + ".webp"))
        .willReturn(aResponse().withStatus(200).withHeader("Content-Type", image.mediaType()).withBody(image.bytes())));
  }

  /** DELETE answers as the Horde does: the status at the time, with nothing left waiting. */
  void cancellable() {
    server.stubFor(delete(urlPathEqualTo(BASE + "/generate/status/" + ID)).willReturn(json(200,
        "{\"finished\":0,\"processing\":0,\"restarted\":0,\"waiting\":0,\"done\":false,\"faulted\":false,\"wait_time\":0,"
            + "\"queue_position\":0,\"kudos\":0.0,\"is_possible\":true,\"generations\":[],\"shared\":false}")));
  }

  /** A whole successful generation of one image with the given check answers before done. */
  void finishesWith(StubImage image, String... checksBeforeDone) {
    accepted();
    String[] checks = new String[checksBeforeDone.length + 1];
    System.arraycopy(checksBeforeDone, 0, checks, 0, checksBeforeDone.length);
    checks[checks.length - 1] = done(1, 17.0);
    checkSequence(checks);
    statusAnswers(json(200, status(17.0, generation(r2Url(GEN_ID), Long.toString(image.seed()), GEN_ID, false))));
    image(GEN_ID, image);
    cancellable();
  }

  // ------------------------------------------------------------------------- ProviderStubs

  @Override
  public String basePath() {
    return BASE;
  }

  @Override
  public Duration minPollInterval() {
    return HordeProvider.POLL_FLOOR;
  }

  @Override
  public void success(StubImage image) {
    finishesWith(image);
  }

  @Override
  public void queuedThenRunningThenDone(StubImage image) {
    finishesWith(image, queued(3, 38), queued(1, 12), processing(6));
  }

  @Override
  public void authenticationRefused() {
    submitAnswers(json(401, error("Invalid API Key", "InvalidAPIKey")));
  }

  @Override
  public void outOfCredits() {
    submitAnswers(json(403, error("Due to heavy demand, for requests over 576x576 or over 50 steps (25 for k_heun and "
        + "k_dpm_2*), the client needs to already have the required kudos. This request requires 25.78 kudos to fulfil.",
        "KudosUpfront")));
  }

  @Override
  public void rateLimited(Duration retryAfter) {
    submitAnswers(json(429, error("2 per 1 second", null)).withHeader("Retry-After", Long.toString(retryAfter.toSeconds())));
  }

  @Override
  public void serverErrorThenSuccess(StubImage image) {
    finishesWith(image);
    server.stubFor(post(urlPathEqualTo(BASE + "/generate/async")).inScenario("submit").whenScenarioStateIs(STARTED)
        .willReturn(json(500, error("Internal Server Error", null))).willSetStateTo("recovered"));
    server.stubFor(post(urlPathEqualTo(BASE + "/generate/async")).inScenario("submit").whenScenarioStateIs("recovered")
        .willReturn(json(202, submitted(ID, 17.0))));
  }

  @Override
  public void connectionReset() {
    submitAnswers(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER));
    cancellable();
  }

  @Override
  public void emptyResponse() {
    submitAnswers(aResponse().withStatus(200).withHeader("Content-Type", "application/json"));
  }

  @Override
  public void malformedJson() {
    submitAnswers(json(202, "{\"id\":\"" + ID + "\",\"kudos\":17.0,\"warn"));
  }

  @Override
  public void neverFinishes() {
    accepted();
    checkAnswers(json(200, queued(7, 38)));
    cancellable();
  }

  @Override
  public void contentPolicy() {
    accepted();
    checkAnswers(json(200, done(1, 0.0)));
    statusAnswers(json(200, status(0.0, generation(r2Url(GEN_ID), "3188263487", GEN_ID, true))));
    cancellable();
  }

  @Override
  public void resultUrlNotFound() {
    accepted();
    checkAnswers(json(200, done(1, 17.0)));
    statusAnswers(json(200, status(17.0, generation(r2Url(GEN_ID), "3188263487", GEN_ID, false))));
    server.stubFor(get(urlPathEqualTo("/r2/horde-images/" + GEN_ID + ".webp")).willReturn(aResponse().withStatus(404)
        .withHeader("Content-Type", "application/xml")
        .withBody("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code></Error>")));
    cancellable();
  }

  @Override
  public void oversizedImage(StubImage image) {
    finishesWith(image);
  }

  @Override
  public void invalidRequest(String providerMessage) {
    submitAnswers(json(400, "{\"errors\":{\"params.width\":" + quote(providerMessage) + "},"
        + "\"message\":\"Input payload validation failed\"}"));
  }

  @Override
  public void healthy() {
    heartbeat("OK");
    server.stubFor(get(urlPathEqualTo(BASE + "/find_user")).willReturn(json(200,
        "{\"username\":\"alice#4711\",\"id\":4711,\"kudos\":1520.0,\"concurrency\":30,\"worker_count\":0}")));
    models();
  }

  @Override
  public void healthAuthRefused() {
    heartbeat("OK");
    server.stubFor(get(urlPathEqualTo(BASE + "/find_user")).willReturn(json(404, error("User not found", "UserNotFound"))));
    models();
  }

  void heartbeat(String message) {
    server.stubFor(get(urlPathEqualTo(BASE + "/status/heartbeat")).willReturn(json(200,
        "{\"message\":\"" + message + "\",\"version\":\"5.1.5\",\"queue\":0,\"threads\":8,\"active_count\":2,"
            + "\"db_connection\":true}")));
  }

  void models() {
    server.stubFor(get(urlPathEqualTo(BASE + "/status/models")).willReturn(json(200, "["
        + "{\"name\":\"Flux.1-Schnell fp8 (Compact)\",\"count\":9,\"performance\":2.1,\"queued\":4.5,\"jobs\":3.0,\"eta\":41,"
        + "\"type\":\"image\"},"
        + "{\"name\":\"AlbedoBase XL (SDXL)\",\"count\":14,\"performance\":1.4,\"queued\":20.0,\"jobs\":6.0,\"eta\":12,"
        + "\"type\":\"image\"}]")));
  }

  @Override
  public RequestPatternBuilder submitRequests() {
    return postRequestedFor(urlPathEqualTo(BASE + "/generate/async"));
  }

  @Override
  public RequestPatternBuilder cancelRequests() {
    return deleteRequestedFor(urlPathMatching(BASE + "/generate/status/.+"));
  }

  @Override
  public RequestPatternBuilder pollRequests() {
    return getRequestedFor(urlPathMatching(BASE + "/generate/check/.+"));
  }

  @Override
  public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
    JsonNode body;
    try {
      body = JSON.readTree(submit.getBodyAsString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    String negative = request.effectiveNegativePrompt();
    assertThat(body.path("prompt").asText()).as("prompt, negative after ###")
        .isEqualTo(negative == null ? request.prompt() : request.prompt() + "###" + negative);
    JsonNode params = body.path("params");
    if (request.width() != null) {
      assertThat(params.path("width").asInt()).as("params.width").isEqualTo(request.width());
      assertThat(params.path("height").asInt()).as("params.height").isEqualTo(request.height());
    }
    if (request.seed() != null) {
      assertThat(params.path("seed").isTextual()).as("params.seed is a string").isTrue();
      assertThat(params.path("seed").asText()).as("params.seed").isEqualTo(Long.toString(request.seed()));
    }
    if (request.steps() != null) {
      assertThat(params.path("steps").asInt()).as("params.steps").isEqualTo(request.steps());
    }
    if (request.guidanceScale() != null) {
      assertThat(params.path("cfg_scale").asDouble()).as("params.cfg_scale").isCloseTo(request.guidanceScale(), within(0.01));
    }
    assertThat(params.path("n").asInt()).as("params.n").isEqualTo(request.numImages());
    assertThat(body.path("models").isArray() && !body.path("models").isEmpty()).as("models named").isTrue();
    assertThat(submit.getHeader("apikey")).as("apikey header").isEqualTo(apiKey);
    assertThat(submit.getHeader("Client-Agent")).as("Client-Agent header").matches("[^:]+:[^:]+:.+");
  }

  private static String quote(String s) {
    try {
      return JSON.writeValueAsString(s);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The submits the server received, parsed. */
  List<JsonNode> submits() {
    return server.findAll(submitRequests()).stream().map(r -> {
      try {
        return JSON.readTree(r.getBodyAsString());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }).toList();
  }
}
