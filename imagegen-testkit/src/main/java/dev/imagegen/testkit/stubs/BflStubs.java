package dev.imagegen.testkit.stubs;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.matching.RequestPatternBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.StubImages;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Black Forest Labs' API on a WireMock server, answering with bodies shaped like the protocol
 * document {@code ../shared/protocols/bfl.md}: submit {@code POST /v1/{model}} with {@code x-key}
 * answering {@code {id, polling_url, cost}}, the {@code polling_url} naming another host than the
 * submit's ({@value #POLLING_HOST}, the same server reached by address where the base URL says
 * {@code localhost}: a cluster host such as {@code api.eu2.bfl.ai} stands in), polls at
 * {@code GET /v1/get_result?id=} ({@code Pending} with {@code progress}, {@code Ready} with
 * {@code result.sample}, {@code Request Moderated}, {@code Content Moderated}, {@code Error},
 * {@code Task not found}), the signed result under a delivery-like {@code /delivery/} path,
 * {@code GET /v1/credits}, and errors as {@code {"detail": ...}} (422, FastAPI style) or
 * {@code {"error": ..., "message": ...}} (401, 402, 429, 5xx).
 *
 * <p>{@link #extraConfig()} allows {@value #POLLING_HOST} as a polling host. Not thread-safe: set
 * up stubs from one thread.
 */
public final class BflStubs implements ProviderStubs {
  /** The task id of the protocol's samples. */
  public static final String TASK_ID = "2fa25140-591f-4839-b377-9945a7a3881a";
  /** The host the submit answer's {@code polling_url} names: this server, by another name than the base URL's. */
  public static final String POLLING_HOST = "127.0.0.1";
  /** Credits the submit answer reports ({@code cost}): 3 credits, $0.03, FLUX.2 [pro] at 1 MP. */
  public static final double COST_CREDITS = 3.0;
  /** The 401 body. */
  public static final String UNAUTHORIZED = "{\"error\":\"invalid_api_key\",\"message\":\"The provided API key is invalid or "
      + "expired\"}";
  /** The 402 body. */
  public static final String NO_CREDITS = "{\"error\":\"insufficient_credits\",\"message\":\"Your account does not have "
      + "enough credits\"}";
  /** The 429 body. */
  public static final String TOO_MANY = "{\"error\":\"rate_limit_exceeded\",\"message\":\"Too many concurrent requests\"}";
  /** The 503 body. */
  public static final String UNAVAILABLE = "{\"error\":\"service_unavailable\",\"message\":\"Service temporarily "
      + "unavailable\"}";

  /*
   * The imagegen bfl provider never polls faster than 200 ms (BFL documents no floor; its client
   * polls every second). A literal here: the testkit depends on no provider module.
   */
  private static final Duration POLL_FLOOR = Duration.ofMillis(200);
  /* The models that read steps and guidance, from the protocol document. */
  private static final Set<String> STEPS_AND_GUIDANCE = Set.of("flux-dev", "flux-2-flex");
  /* The models that take an aspect ratio instead of a size. */
  private static final Set<String> ASPECT_RATIO = Set.of("flux-kontext-pro", "flux-kontext-max", "flux-pro-1.1-ultra");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String STARTED = com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;

  private final WireMockServer server;

  /**
   * Stubs on this server.
   *
   * @param server the WireMock server the stubs are registered on
   */
  public BflStubs(WireMockServer server) {
    this.server = server;
  }

  /**
   * {@inheritDoc}
   *
   * <p>{@code polling-hosts}: {@value #POLLING_HOST}, the host the submit answers name.
   */
  @Override
  public Map<String, String> extraConfig() {
    return Map.of("polling-hosts", POLLING_HOST);
  }

  @Override
  public Duration minPollInterval() {
    return POLL_FLOOR;
  }

  @Override
  public Map<Scenario, String> unsupported() {
    return Map.of(Scenario.QUEUED_PROGRESS, "BFL reports no queue position, only a progress fraction while Pending",
        Scenario.REMOTE_CANCEL, "BFL has no cancel endpoint");
  }

  // ------------------------------------------------------------------ bodies

  /**
   * The {@code polling_url} of a task, on {@value #POLLING_HOST}.
   *
   * @param taskId the task id
   * @return the absolute URL
   */
  public String pollingUrl(String taskId) {
    return "http://" + POLLING_HOST + ":" + server.port() + "/v1/get_result?id=" + taskId;
  }

  /**
   * The submit answer with this {@code polling_url}.
   *
   * @param taskId the task id
   * @param pollingUrl the polling URL, or null to leave it out
   * @param cost the credits, or null to leave {@code cost} out (FLUX.1 models)
   * @return the JSON body
   */
  public static String submitAnswer(String taskId, @Nullable String pollingUrl, @Nullable Double cost) {
    ObjectNode n = JSON.createObjectNode();
    n.put("id", taskId);
    if (pollingUrl != null) {
      n.put("polling_url", pollingUrl);
    }
    if (cost != null) {
      n.put("cost", cost);
      n.put("input_mp", 0);
      n.put("output_mp", 1.05);
    }
    return n.toString();
  }

  /**
   * A {@code Pending} poll answer.
   *
   * @param taskId the task id
   * @param progress the progress fraction, or null
   * @return the JSON body
   */
  public static String pending(String taskId, @Nullable Double progress) {
    ObjectNode n = JSON.createObjectNode();
    n.put("id", taskId);
    n.put("status", "Pending");
    n.putNull("result");
    if (progress != null) {
      n.put("progress", progress);
    }
    return n.toString();
  }

  /**
   * A {@code Ready} poll answer.
   *
   * @param taskId the task id
   * @param sampleUrl the signed URL of the image
   * @param seed the seed
   * @param prompt the prompt echoed
   * @return the JSON body
   */
  public static String ready(String taskId, String sampleUrl, long seed, String prompt) {
    ObjectNode n = JSON.createObjectNode();
    n.put("id", taskId);
    n.put("status", "Ready");
    ObjectNode r = n.putObject("result");
    r.put("sample", sampleUrl);
    r.put("prompt", prompt);
    r.put("seed", seed);
    return n.toString();
  }

  /**
   * A terminal poll answer without a result: {@code Request Moderated}, {@code Content Moderated},
   * {@code Error} or {@code Task not found}.
   *
   * @param taskId the task id
   * @param status the status
   * @return the JSON body
   */
  public static String ended(String taskId, String status) {
    ObjectNode n = JSON.createObjectNode();
    n.put("id", taskId);
    n.put("status", status);
    n.putNull("result");
    if (status.endsWith("Moderated")) {
      n.putObject("details").putArray("Moderation Reasons").add("Derivative Works Filter");
    }
    return n.toString();
  }

  /**
   * The path the signed result of a task is served at.
   *
   * @param taskId the task id
   * @param image the image (its media type picks the extension)
   * @return the path
   */
  public static String samplePath(String taskId, StubImage image) {
    return "/delivery/results/" + taskId + "/sample." + (image.mediaType().equals("image/png") ? "png" : "jpeg");
  }

  /**
   * The signed URL of a task's result on this server (a query like a blob SAS).
   *
   * @param taskId the task id
   * @param image the image
   * @return the absolute URL
   */
  public String sampleUrl(String taskId, StubImage image) {
    return server.baseUrl() + samplePath(taskId, image) + "?se=2026-12-03T10%3A10%3A00Z&sp=r&sig=c2lnbmVk";
  }

  // ------------------------------------------------------------------ stub helpers

  /**
   * Every submit: a POST to {@code /v1/} and a model path (not {@code get_result} or {@code credits}).
   *
   * @return a mapping to complete with an answer
   */
  public static MappingBuilder anySubmit() {
    return post(urlPathMatching("/v1/(?!get_result|credits).+"));
  }

  /**
   * The polls of a task.
   *
   * @param taskId the task id
   * @return a mapping to complete with an answer
   */
  public static MappingBuilder poll(String taskId) {
    return get(urlPathEqualTo("/v1/get_result")).withQueryParam("id", equalTo(taskId));
  }

  /**
   * A JSON answer.
   *
   * @param status the HTTP status
   * @param body the body
   * @return the answer
   */
  public static ResponseDefinitionBuilder json(int status, String body) {
    return aResponse().withStatus(status).withHeader("Content-Type", "application/json").withBody(body);
  }

  /** Every submit answers with {@link #TASK_ID}, polled on {@value #POLLING_HOST}, and {@link #COST_CREDITS}. */
  public void stubSubmit() {
    server.stubFor(anySubmit().willReturn(json(200, submitAnswer(TASK_ID, pollingUrl(TASK_ID), COST_CREDITS))));
  }

  /**
   * The signed result URL serves an image.
   *
   * @param taskId the task id
   * @param image the image
   */
  public void stubSample(String taskId, StubImage image) {
    server.stubFor(get(urlPathEqualTo(samplePath(taskId, image))).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", image.mediaType()).withBody(image.bytes())));
  }

  /**
   * The signed result URL has expired: 403 with the blob store's XML, as after ten minutes.
   *
   * @param taskId the task id
   * @param image the image
   */
  public void stubSampleExpired(String taskId, StubImage image) {
    server.stubFor(get(urlPathEqualTo(samplePath(taskId, image))).willReturn(aResponse().withStatus(403)
        .withHeader("Content-Type", "application/xml").withBody("<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>"
            + "AuthenticationFailed</Code><Message>Signed expiry time has expired</Message></Error>")));
  }

  /**
   * A task polled twice {@code Pending} (progress 0.2, then 0.6), then {@code Ready} with this image.
   *
   * @param image the image
   */
  public void stubPendingThenReady(StubImage image) {
    stubSubmit();
    String sc = "bfl-progress";
    server.stubFor(poll(TASK_ID).inScenario(sc).whenScenarioStateIs(STARTED)
        .willReturn(json(200, pending(TASK_ID, 0.2))).willSetStateTo("pending-2"));
    server.stubFor(poll(TASK_ID).inScenario(sc).whenScenarioStateIs("pending-2")
        .willReturn(json(200, pending(TASK_ID, 0.6))).willSetStateTo("ready"));
    server.stubFor(poll(TASK_ID).inScenario(sc).whenScenarioStateIs("ready")
        .willReturn(json(200, ready(TASK_ID, sampleUrl(TASK_ID, image), image.seed(), "a red fox in snow"))));
    stubSample(TASK_ID, image);
  }

  /**
   * A task that ends with a status without a result.
   *
   * @param status {@code Request Moderated}, {@code Content Moderated}, {@code Error} or {@code Task not found}
   */
  public void stubEnded(String status) {
    stubSubmit();
    server.stubFor(poll(TASK_ID).willReturn(json(200, ended(TASK_ID, status))));
  }

  // ------------------------------------------------------------------ ProviderStubs

  @Override
  public void success(StubImage image) {
    stubSubmit();
    server.stubFor(poll(TASK_ID).willReturn(json(200, ready(TASK_ID, sampleUrl(TASK_ID, image), image.seed(),
        "a red fox in snow"))));
    stubSample(TASK_ID, image);
  }

  /** {@inheritDoc} BFL reports no queue position: {@code Pending} twice with a progress, then {@code Ready}. */
  @Override
  public void queuedThenRunningThenDone(StubImage image) {
    stubPendingThenReady(image);
  }

  @Override
  public void authenticationRefused() {
    server.stubFor(anySubmit().willReturn(json(401, UNAUTHORIZED)));
  }

  @Override
  public void outOfCredits() {
    server.stubFor(anySubmit().willReturn(json(402, NO_CREDITS)));
  }

  @Override
  public void rateLimited(Duration retryAfter) {
    server.stubFor(anySubmit().willReturn(json(429, TOO_MANY).withHeader("Retry-After", String.valueOf(retryAfter.toSeconds()))));
  }

  @Override
  public void serverErrorThenSuccess(StubImage image) {
    success(image);
    server.stubFor(anySubmit().inScenario("bfl-5xx").whenScenarioStateIs(STARTED)
        .willReturn(json(503, UNAVAILABLE)).willSetStateTo("recovered"));
    server.stubFor(anySubmit().inScenario("bfl-5xx").whenScenarioStateIs("recovered")
        .willReturn(json(200, submitAnswer(TASK_ID, pollingUrl(TASK_ID), COST_CREDITS))));
  }

  @Override
  public void connectionReset() {
    server.stubFor(anySubmit().willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
  }

  @Override
  public void emptyResponse() {
    server.stubFor(anySubmit().willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")));
  }

  @Override
  public void malformedJson() {
    server.stubFor(anySubmit().willReturn(json(200, "{\"id\":\"" + TASK_ID + "\",\"polling_url\":")));
  }

  /** The task stays {@code Pending} (BFL has no cancel endpoint). */
  @Override
  public void neverFinishes() {
    stubSubmit();
    server.stubFor(poll(TASK_ID).willReturn(json(200, pending(TASK_ID, null))));
  }

  /** The poll answers {@code Request Moderated}. */
  @Override
  public void contentPolicy() {
    stubEnded("Request Moderated");
  }

  @Override
  public void resultUrlNotFound() {
    StubImage image = StubImages.png(64, 64, 3);
    success(image);
    server.stubFor(get(urlPathMatching("/delivery/.*")).willReturn(aResponse().withStatus(404)
        .withHeader("Content-Type", "application/xml").withBody("<Error><Code>BlobNotFound</Code></Error>")));
  }

  /** A 422 with FastAPI's {@code detail} list, naming {@code width}. */
  @Override
  public void invalidRequest(String providerMessage) {
    ObjectNode n = JSON.createObjectNode();
    ObjectNode d = n.putArray("detail").addObject();
    d.putArray("loc").add("body").add("width");
    d.put("msg", providerMessage);
    d.put("type", "value_error");
    server.stubFor(anySubmit().willReturn(json(422, n.toString())));
  }

  /** {@code GET /v1/credits} answers a balance. */
  @Override
  public void healthy() {
    server.stubFor(get(urlPathEqualTo("/v1/credits")).willReturn(json(200, "{\"credits\":123.5}")));
  }

  /** {@code GET /v1/credits} answers 401. */
  @Override
  public void healthAuthRefused() {
    server.stubFor(get(urlPathEqualTo("/v1/credits")).willReturn(json(401, UNAUTHORIZED)));
  }

  @Override
  public RequestPatternBuilder submitRequests() {
    return postRequestedFor(urlPathMatching("/v1/(?!get_result|credits).+"));
  }

  @Override
  public RequestPatternBuilder pollRequests() {
    return getRequestedFor(urlPathEqualTo("/v1/get_result"));
  }

  /**
   * {@inheritDoc}
   *
   * <p>BFL's names: {@code x-key: <key>} (no {@code Authorization}), a JSON body with
   * {@code prompt}, {@code seed}, {@code width}/{@code height} (an {@code aspect_ratio} for
   * Kontext and Ultra), and {@code steps}/{@code guidance} only for flux-dev and flux-2-flex.
   */
  @Override
  public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
    check(apiKey, submit.getHeader("x-key"), "x-key header");
    check(false, submit.containsHeader("Authorization"), "Authorization header present");
    String ct = submit.getHeader("Content-Type");
    if (ct == null || !ct.startsWith("application/json")) {
      throw new AssertionError("submit Content-Type should be application/json, was " + ct);
    }
    String path = submit.getUrl();
    String model = path.substring(path.lastIndexOf('/') + 1);
    JsonNode body = read(submit.getBodyAsString());
    check(request.prompt(), body.path("prompt").asText(null), "prompt");
    if (request.width() != null && request.height() != null) {
      if (ASPECT_RATIO.contains(model)) {
        check(true, body.hasNonNull("aspect_ratio"), "aspect_ratio present");
        check(false, body.has("width"), "width present");
      } else {
        check(request.width(), body.path("width").asInt(-1), "width");
        check(request.height(), body.path("height").asInt(-1), "height");
      }
    }
    if (request.seed() != null) {
      check(request.seed(), body.path("seed").asLong(-1), "seed");
    }
    boolean takesSteps = STEPS_AND_GUIDANCE.contains(model);
    if (request.steps() != null) {
      check(takesSteps, body.has("steps"), "steps present (" + model + ")");
      if (takesSteps) {
        check(request.steps(), body.path("steps").asInt(-1), "steps");
      }
    }
    if (request.guidanceScale() != null) {
      check(takesSteps, body.has("guidance"), "guidance present (" + model + ")");
      if (takesSteps) {
        check(request.guidanceScale(), body.path("guidance").asDouble(-1), "guidance");
      }
    }
    check(false, body.has("negative_prompt"), "negative_prompt present (BFL models take none)");
  }

  private static JsonNode read(String s) {
    try {
      return JSON.readTree(s);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void check(Object expected, @Nullable Object actual, String what) {
    if (!Objects.equals(expected, actual)) {
      throw new AssertionError("submit " + what + ": expected <" + expected + "> but was <" + actual + ">");
    }
  }

  /**
   * The statuses that end a task without a result, as the protocol lists them.
   *
   * @return {@code Request Moderated}, {@code Content Moderated}, {@code Error}, {@code Task not found}
   */
  public static List<String> terminalStatuses() {
    return List.of("Request Moderated", "Content Moderated", "Error", "Task not found");
  }
}
