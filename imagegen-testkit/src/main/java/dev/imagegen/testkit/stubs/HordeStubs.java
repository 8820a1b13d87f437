package dev.imagegen.testkit.stubs;

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
 * AI Horde's v2 API on a WireMock server, answering the way the protocol document
 * {@code ../shared/protocols/horde.md} describes it: 202 {@code {"id","kudos","warnings"}} on
 * {@code POST /generate/async}, {@code GET /generate/check/{id}} without images,
 * {@code GET /generate/status/{id}} with {@code generations} whose {@code img} is a presigned R2 URL
 * (served here under {@code /r2/}), {@code seed} as a string, {@code DELETE /generate/status/{id}}
 * to cancel, {@code /find_user}, {@code /status/heartbeat} and {@code /status/models} for health,
 * and errors as {@code {"message","rc"}}.
 *
 * <p>The API lives under {@link #BASE} ({@code /api/v2}) on the server. Every submit answers with
 * the job id {@link #ID}. Not thread-safe: set up stubs from one thread.
 */
public final class HordeStubs implements ProviderStubs {
  /** The path of the API on the server, as on {@code https://aihorde.net/api/v2}. */
  public static final String BASE = "/api/v2";
  /** The job id every accepted submit answers with. */
  public static final String ID = "8c1f6a52-3b7e-4d0e-9f2a-6e4b1d9c7a10";
  /** The id of the generation a finished job reports. */
  public static final String GEN_ID = "4b0e9d7c-1a2f-4e3b-8c5d-9f6a7b8c9d0e";
  /** The worker id finished generations report. */
  public static final String WORKER_ID = "0b7a2c1e-5d4f-4a3b-9c8d-7e6f5a4b3c2d";
  /** The model finished generations report. */
  public static final String MODEL = "AlbedoBase XL (SDXL)";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String STARTED = com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
  /*
   * The poll floor the imagegen Horde provider enforces (1 s; the protocol document advises polling
   * /check every 2 to 5 s and rate-limits per request id). A literal here: the testkit depends on no
   * provider module.
   */
  private static final Duration POLL_FLOOR = Duration.ofSeconds(1);

  private final WireMockServer server;

  /**
   * Stubs on this server.
   *
   * @param server the WireMock server the stubs are registered on
   */
  public HordeStubs(WireMockServer server) {
    this.server = server;
  }

  // ------------------------------------------------------------------------- bodies

  /**
   * The 202 body of a submit.
   *
   * @param id the job id
   * @param kudos the kudos the job costs
   * @param warningCodes codes of {@code warnings} entries (e.g. {@code NoAvailableWorker}); the
   *     field is left out when none
   * @return the JSON body
   */
  public static String submitted(String id, double kudos, String... warningCodes) {
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

  /**
   * A {@code /generate/check} body.
   *
   * @param finished generations finished
   * @param processing generations being processed
   * @param restarted generations restarted
   * @param waiting generations waiting
   * @param done whether the job is done
   * @param faulted whether the job faulted
   * @param waitTime the expected wait in seconds
   * @param queuePosition the queue position
   * @param kudos the kudos consumed
   * @param isPossible whether any worker can serve the job
   * @return the JSON body
   */
  public static String check(int finished, int processing, int restarted, int waiting, boolean done, boolean faulted,
      int waitTime, int queuePosition, double kudos, boolean isPossible) {
    return "{\"finished\":" + finished + ",\"processing\":" + processing + ",\"restarted\":" + restarted + ",\"waiting\":"
        + waiting + ",\"done\":" + done + ",\"faulted\":" + faulted + ",\"wait_time\":" + waitTime + ",\"queue_position\":"
        + queuePosition + ",\"kudos\":" + kudos + ",\"is_possible\":" + isPossible + "}";
  }

  /**
   * A check body of a job waiting in the queue.
   *
   * @param position the queue position
   * @param waitTime the expected wait in seconds
   * @return the JSON body
   */
  public static String queued(int position, int waitTime) {
    return check(0, 0, 0, 1, false, false, waitTime, position, 0.0, true);
  }

  /**
   * A check body of a job a worker is processing.
   *
   * @param waitTime the expected wait in seconds
   * @return the JSON body
   */
  public static String processing(int waitTime) {
    return check(0, 1, 0, 0, false, false, waitTime, 0, 0.0, true);
  }

  /**
   * A check body of a finished job.
   *
   * @param n the generations finished
   * @param kudos the kudos consumed
   * @return the JSON body
   */
  public static String done(int n, double kudos) {
    return check(n, 0, 0, 0, true, false, 0, 0, kudos, true);
  }

  /**
   * One entry of a status body's {@code generations}.
   *
   * @param img the image's URL (or base64 with {@code r2:false})
   * @param seed the seed, a string as the Horde sends it
   * @param genId the generation id
   * @param censored whether the worker's filter censored the image
   * @return the JSON object
   */
  public static String generation(String img, String seed, String genId, boolean censored) {
    return "{\"img\":\"" + img + "\",\"seed\":\"" + seed + "\",\"id\":\"" + genId + "\",\"worker_id\":\"" + WORKER_ID
        + "\",\"worker_name\":\"gpu-farm-3\",\"model\":\"" + MODEL + "\",\"state\":\"ok\",\"censored\":" + censored
        + ",\"gen_metadata\":" + (censored ? "[{\"type\":\"censorship\",\"value\":\"nsfw\"}]" : "[]") + "}";
  }

  /**
   * A finished {@code /generate/status} body with these generations.
   *
   * @param kudos the kudos consumed
   * @param generations entries made with {@link #generation}
   * @return the JSON body
   */
  public static String status(double kudos, String... generations) {
    String check = done(generations.length, kudos);
    return check.substring(0, check.length() - 1) + ",\"generations\":[" + String.join(",", generations) + "],\"shared\":false}";
  }

  /**
   * An error body: {@code {"message"}} plus {@code "rc"} when given.
   *
   * @param message the message
   * @param rc the return code (e.g. {@code InvalidAPIKey}), or null for none
   * @return the JSON body
   */
  public static String error(String message, @Nullable String rc) {
    return rc == null ? "{\"message\":\"" + message + "\"}" : "{\"message\":\"" + message + "\",\"rc\":\"" + rc + "\"}";
  }

  /**
   * The presigned R2 URL of a generation on this server, served by {@link #image}.
   *
   * @param genId the generation id
   * @return the absolute URL
   */
  public String r2Url(String genId) {
    return server.baseUrl() + "/r2/horde-images/" + genId + ".webp?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=1800"
        + "&X-Amz-Signature=6f1d0c";
  }

  // ------------------------------------------------------------------------- building blocks

  /**
   * A JSON answer.
   *
   * @param status the HTTP status
   * @param body the JSON body
   * @return the answer
   */
  public static ResponseDefinitionBuilder json(int status, String body) {
    return aResponse().withStatus(status).withHeader("Content-Type", "application/json").withBody(body);
  }

  /**
   * {@code POST /generate/async} answers this.
   *
   * @param answer the answer
   */
  public void submitAnswers(ResponseDefinitionBuilder answer) {
    server.stubFor(post(urlPathEqualTo(BASE + "/generate/async")).willReturn(answer));
  }

  /**
   * The submit is accepted (202) with job id {@link #ID} and 17 kudos.
   *
   * @param warningCodes codes of warnings to add (e.g. {@code NoAvailableWorker})
   */
  public void accepted(String... warningCodes) {
    submitAnswers(json(202, submitted(ID, 17.0, warningCodes)));
  }

  /**
   * {@code GET /generate/check/{ID}} answers this every time.
   *
   * @param answer the answer
   */
  public void checkAnswers(ResponseDefinitionBuilder answer) {
    server.stubFor(get(urlPathEqualTo(BASE + "/generate/check/" + ID)).willReturn(answer));
  }

  /**
   * The check answers these bodies (200) in turn, the last one from then on.
   *
   * @param bodies check bodies
   */
  public void checkSequence(String... bodies) {
    String state = STARTED;
    for (int i = 0; i < bodies.length; i++) {
      String next = i == bodies.length - 1 ? state : "check-" + (i + 1);
      server.stubFor(get(urlPathEqualTo(BASE + "/generate/check/" + ID)).inScenario("check").whenScenarioStateIs(state)
          .willReturn(json(200, bodies[i])).willSetStateTo(next));
      state = next;
    }
  }

  /**
   * {@code GET /generate/status/{ID}} answers this.
   *
   * @param answer the answer
   */
  public void statusAnswers(ResponseDefinitionBuilder answer) {
    server.stubFor(get(urlPathEqualTo(BASE + "/generate/status/" + ID)).willReturn(answer));
  }

  /**
   * The R2 URL of a generation ({@link #r2Url}) serves this image.
   *
   * @param genId the generation id
   * @param image the image
   */
  public void image(String genId, StubImage image) {
    server.stubFor(get(urlPathEqualTo("/r2/horde-images/" + genId + ".webp"))
        .willReturn(aResponse().withStatus(200).withHeader("Content-Type", image.mediaType()).withBody(image.bytes())));
  }

  /** DELETE answers as the Horde does: the status at the time, with nothing left waiting. */
  public void cancellable() {
    server.stubFor(delete(urlPathEqualTo(BASE + "/generate/status/" + ID)).willReturn(json(200,
        "{\"finished\":0,\"processing\":0,\"restarted\":0,\"waiting\":0,\"done\":false,\"faulted\":false,\"wait_time\":0,"
            + "\"queue_position\":0,\"kudos\":0.0,\"is_possible\":true,\"generations\":[],\"shared\":false}")));
  }

  /**
   * A whole successful generation of one image: accepted, the given check answers, then done, the
   * status with the image's R2 URL, the image, and a cancel endpoint.
   *
   * @param image the image
   * @param checksBeforeDone check bodies answered before the done one
   */
  public void finishesWith(StubImage image, String... checksBeforeDone) {
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
    return POLL_FLOOR;
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

  /**
   * {@code GET /status/heartbeat} answers 200 with this message.
   *
   * @param message the heartbeat's {@code message}
   */
  public void heartbeat(String message) {
    server.stubFor(get(urlPathEqualTo(BASE + "/status/heartbeat")).willReturn(json(200,
        "{\"message\":\"" + message + "\",\"version\":\"5.1.5\",\"queue\":0,\"threads\":8,\"active_count\":2,"
            + "\"db_connection\":true}")));
  }

  /** {@code GET /status/models} lists two image models with workers. */
  public void models() {
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

  /**
   * {@inheritDoc}
   *
   * <p>The Horde's names: {@code prompt} with the negative prompt after {@code ###},
   * {@code params.width/height/steps/n}, {@code params.seed} as a string, {@code params.cfg_scale},
   * a non-empty {@code models}, the key in {@code apikey} and a {@code Client-Agent} of the form
   * {@code name:version:contact}.
   */
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

  /**
   * The submits the server received, parsed.
   *
   * @return their JSON bodies, oldest first
   */
  public List<JsonNode> submits() {
    return server.findAll(submitRequests()).stream().map(r -> {
      try {
        return JSON.readTree(r.getBodyAsString());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }).toList();
  }
}
