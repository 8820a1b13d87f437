package dev.imagegen.testkit.stubs;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.matching.RequestPatternBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.testkit.ProviderStubs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * RunPod's serverless queue API on WireMock, answering exactly as the protocol document
 * {@code ../shared/protocols/runpod.md} describes it, with the worker-sdxl handler behind it:
 * {@code POST /v2/{endpoint}/run} → {@code {"id","status":"IN_QUEUE"}},
 * {@code GET /v2/{endpoint}/status/{id}} → the job object (worker-sdxl's output on success),
 * {@code POST /v2/{endpoint}/cancel/{id}} → {@code {"id","status":"CANCELLED"}},
 * {@code GET /v2/{endpoint}/health} → job and worker counts; 401 with an empty body for a refused key.
 *
 * <p>{@link #extraConfig()} sets the provider's {@code endpoint} key to the endpoint id served.
 * Not thread-safe: set up stubs from one thread.
 */
public final class RunPodStubs implements ProviderStubs {
  /** The endpoint id the stubs serve by default (the protocol file's example). */
  public static final String ENDPOINT = "vsrx8zdokf21gz";
  /** The job id every submit answers with. */
  public static final String JOB_ID = "5e0ae067-4a83-49b5-8368-8961f7067018-u1";
  /** The worker id jobs report. */
  public static final String WORKER_ID = "462u6mrq9s28h6";
  /** The {@code delayTime} (ms in queue) a completed job reports. */
  public static final long DELAY_MS = 11449;
  /** The {@code executionTime} (ms running) a completed job reports. */
  public static final long EXECUTION_MS = 6120;
  /** The protocol file's FAILED example: the handler raised, {@code error} is a JSON string. */
  public static final String KEY_ERROR = "{\"error_type\": \"<class 'KeyError'>\", \"error_message\": \"'K_DPM'\","
      + " \"error_traceback\": \"Traceback ...\", \"hostname\": \"462u6mrq9s28h6-64411c3e\", \"worker_id\": \"462u6mrq9s28h6\","
      + " \"runpod_version\": \"1.7.9\"}";
  /** The protocol file's health example. */
  public static final String HEALTHY = "{\"jobs\":{\"completed\":72,\"failed\":1,\"inProgress\":6,\"inQueue\":0,\"retried\":1},"
      + "\"workers\":{\"idle\":4,\"initializing\":0,\"ready\":4,\"running\":1,\"throttled\":0}}";

  /*
   * The poll floor the imagegen RunPod provider enforces (200 ms; the protocol document gives no
   * floor, only per-endpoint rate limits on /status). A literal here: the testkit depends on no
   * provider module.
   */
  private static final Duration POLL_FLOOR = Duration.ofMillis(200);

  private static final ObjectMapper JSON = new ObjectMapper();
  private final WireMockServer server;
  private final String endpoint;

  /**
   * Stubs for the endpoint {@link #ENDPOINT} on this server.
   *
   * @param server the WireMock server the stubs are registered on
   */
  public RunPodStubs(WireMockServer server) {
    this(server, ENDPOINT);
  }

  /**
   * Stubs for an endpoint on this server.
   *
   * @param server the WireMock server the stubs are registered on
   * @param endpoint the endpoint id
   */
  public RunPodStubs(WireMockServer server, String endpoint) {
    this.server = server;
    this.endpoint = endpoint;
  }

  @Override
  public Map<Scenario, String> unsupported() {
    return Map.of(
        Scenario.QUEUED_PROGRESS, "RunPod's /status reports IN_QUEUE and IN_PROGRESS but no queue position or percent"
            + " (RunPodProviderTest covers queued-then-running progress and poll errors)",
        Scenario.OUT_OF_CREDITS, "RunPod's serverless API documents no out-of-credit answer (only an account spend cap)",
        Scenario.CONTENT_POLICY, "RunPod runs the operator's own worker: no content filter or censored-output flag in the API");
  }

  /**
   * {@inheritDoc}
   *
   * <p>{@code endpoint}: the endpoint id served.
   */
  @Override
  public Map<String, String> extraConfig() {
    return Map.of("endpoint", endpoint);
  }

  @Override
  public String basePath() {
    return "/v2";
  }

  @Override
  public Duration minPollInterval() {
    return POLL_FLOOR;
  }

  // --------------------------------------------------------------- paths

  /**
   * A path under the endpoint.
   *
   * @param rest the rest of the path, e.g. {@code /run}
   * @return {@code /v2/{endpoint}} plus it
   */
  public String path(String rest) {
    return "/v2/" + endpoint + rest;
  }

  // --------------------------------------------------------------- bodies

  /**
   * The submit answer: the job {@link #JOB_ID}, {@code IN_QUEUE}.
   *
   * @return the JSON body
   */
  public static String submitted() {
    return "{\"id\":\"" + JOB_ID + "\",\"status\":\"IN_QUEUE\"}";
  }

  /**
   * A job object with only id and status.
   *
   * @param status e.g. {@code IN_QUEUE}, {@code IN_PROGRESS}, {@code CANCELLED}
   * @return the JSON body
   */
  public static String status(String status) {
    return "{\"id\":\"" + JOB_ID + "\",\"status\":\"" + status + "\"}";
  }

  /**
   * An image as a data URI, as worker-sdxl returns it.
   *
   * @param image the image
   * @return {@code data:<type>;base64,...}
   */
  public static String dataUri(StubImage image) {
    return "data:" + image.mediaType() + ";base64," + Base64.getEncoder().encodeToString(image.bytes());
  }

  /**
   * worker-sdxl's COMPLETED job: {@code images} (and {@code image_url}, the first of them) plus {@code seed}.
   *
   * @param images data URIs or URLs
   * @param seed the seed
   * @return the JSON body
   */
  public static String completed(List<String> images, long seed) {
    ObjectNode job = JSON.createObjectNode();
    job.put("delayTime", DELAY_MS);
    job.put("executionTime", EXECUTION_MS);
    job.put("id", JOB_ID);
    ObjectNode output = job.putObject("output");
    output.put("image_url", images.get(0));
    ArrayNode list = output.putArray("images");
    images.forEach(list::add);
    output.put("seed", seed);
    job.put("status", "COMPLETED");
    job.put("workerId", WORKER_ID);
    return job.toString();
  }

  /**
   * A COMPLETED job with any output (other workers' shapes).
   *
   * @param output the {@code output} value
   * @return the JSON body
   */
  public static String completedWith(JsonNode output) {
    ObjectNode job = JSON.createObjectNode();
    job.put("delayTime", DELAY_MS);
    job.put("executionTime", EXECUTION_MS);
    job.put("id", JOB_ID);
    job.set("output", output);
    job.put("status", "COMPLETED");
    job.put("workerId", WORKER_ID);
    return job.toString();
  }

  /**
   * A FAILED job.
   *
   * @param error the {@code error} value (a string holding JSON, or a list)
   * @return the JSON body
   */
  public static String failed(JsonNode error) {
    ObjectNode job = JSON.createObjectNode();
    job.put("delayTime", 980);
    job.put("executionTime", 41);
    job.put("id", JOB_ID);
    job.put("status", "FAILED");
    job.put("workerId", WORKER_ID);
    job.set("error", error);
    return job.toString();
  }

  // --------------------------------------------------------------- building blocks

  /** {@code /run} accepts the job. */
  public void acceptsSubmit() {
    server.stubFor(post(urlPathEqualTo(path("/run"))).willReturn(okJson(submitted())));
  }

  /**
   * {@code /status} answers this body every time.
   *
   * @param body the job object
   */
  public void statusAnswers(String body) {
    server.stubFor(get(urlPathEqualTo(path("/status/" + JOB_ID))).willReturn(okJson(body)));
  }

  /** {@code /cancel} acknowledges. */
  public void acceptsCancel() {
    server.stubFor(post(urlPathEqualTo(path("/cancel/" + JOB_ID))).willReturn(okJson(status("CANCELLED"))));
  }

  /**
   * {@code /health} answers this body.
   *
   * @param body the health body
   */
  public void healthAnswers(String body) {
    server.stubFor(get(urlPathEqualTo(path("/health"))).willReturn(okJson(body)));
  }

  /**
   * A presigned S3 URL (worker-sdxl with BUCKET_ENDPOINT_URL) on the stub server serving the image.
   *
   * @param image the image
   * @param name the object's base name
   * @return the absolute URL
   */
  public String bucketUrl(StubImage image, String name) {
    String p = "/bucket/" + JOB_ID + "/" + name + ".png";
    server.stubFor(get(urlPathEqualTo(p)).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", image.mediaType()).withBody(image.bytes())));
    return server.baseUrl() + p + "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=604800&X-Amz-Signature=abc123";
  }

  // --------------------------------------------------------------- kit scenarios

  @Override
  public void success(StubImage image) {
    acceptsSubmit();
    acceptsCancel();
    statusAnswers(completed(List.of(dataUri(image)), image.seed()));
  }

  @Override
  public void queuedThenRunningThenDone(StubImage image) {
    acceptsSubmit();
    acceptsCancel();
    String url = path("/status/" + JOB_ID);
    server.stubFor(get(urlPathEqualTo(url)).inScenario("job").whenScenarioStateIs(STARTED)
        .willReturn(okJson(status("IN_QUEUE"))).willSetStateTo("queued-again"));
    server.stubFor(get(urlPathEqualTo(url)).inScenario("job").whenScenarioStateIs("queued-again")
        .willReturn(okJson(status("IN_QUEUE"))).willSetStateTo("running"));
    server.stubFor(get(urlPathEqualTo(url)).inScenario("job").whenScenarioStateIs("running")
        .willReturn(okJson(status("IN_PROGRESS"))).willSetStateTo("running-again"));
    server.stubFor(get(urlPathEqualTo(url)).inScenario("job").whenScenarioStateIs("running-again")
        .willReturn(okJson(status("IN_PROGRESS"))).willSetStateTo("done"));
    server.stubFor(get(urlPathEqualTo(url)).inScenario("job").whenScenarioStateIs("done")
        .willReturn(okJson(completed(List.of(dataUri(image)), image.seed()))));
  }

  @Override
  public void authenticationRefused() {
    // the official client checks 401 before parsing: the body is empty or not JSON
    server.stubFor(post(urlPathMatching("/v2/" + endpoint + "/.*")).willReturn(aResponse().withStatus(401)));
    server.stubFor(get(urlPathMatching("/v2/" + endpoint + "/.*")).willReturn(aResponse().withStatus(401)));
  }

  /** Registers nothing: RunPod documents no out-of-credit answer ({@link #unsupported()}). */
  @Override
  public void outOfCredits() {
    // unsupported(): RunPod documents no such answer
  }

  @Override
  public void rateLimited(Duration retryAfter) {
    server.stubFor(post(urlPathEqualTo(path("/run"))).willReturn(aResponse().withStatus(429)
        .withHeader("Retry-After", String.valueOf(retryAfter.toSeconds()))));
  }

  @Override
  public void serverErrorThenSuccess(StubImage image) {
    String url = path("/run");
    server.stubFor(post(urlPathEqualTo(url)).inScenario("submit").whenScenarioStateIs(STARTED)
        .willReturn(aResponse().withStatus(500).withHeader("Content-Type", "text/plain").withBody("Internal Server Error"))
        .willSetStateTo("recovered"));
    server.stubFor(post(urlPathEqualTo(url)).inScenario("submit").whenScenarioStateIs("recovered")
        .willReturn(okJson(submitted())));
    acceptsCancel();
    statusAnswers(completed(List.of(dataUri(image)), image.seed()));
  }

  @Override
  public void connectionReset() {
    server.stubFor(post(urlPathEqualTo(path("/run"))).willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
    acceptsCancel();
  }

  @Override
  public void emptyResponse() {
    server.stubFor(post(urlPathEqualTo(path("/run"))).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json")));
    acceptsCancel();
  }

  @Override
  public void malformedJson() {
    server.stubFor(post(urlPathEqualTo(path("/run"))).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"" + JOB_ID + "\",\"status\":\"IN_QU")));
    acceptsCancel();
  }

  @Override
  public void neverFinishes() {
    acceptsSubmit();
    acceptsCancel();
    statusAnswers(status("IN_QUEUE"));
  }

  /** Registers nothing: RunPod's API has no content filter ({@link #unsupported()}). */
  @Override
  public void contentPolicy() {
    // unsupported(): no content filter in RunPod's API
  }

  @Override
  public void resultUrlNotFound() {
    acceptsSubmit();
    acceptsCancel();
    String gone = server.baseUrl() + "/bucket/" + JOB_ID + "/3f2a9c1e.png?X-Amz-Expires=604800&X-Amz-Signature=abc123";
    server.stubFor(get(urlPathMatching("/bucket/.*")).willReturn(aResponse().withStatus(404)
        .withHeader("Content-Type", "application/xml")
        .withBody("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code></Error>")));
    statusAnswers(completed(List.of(gone), 42));
  }

  @Override
  public void oversizedImage(StubImage image) {
    acceptsSubmit();
    acceptsCancel();
    statusAnswers(completed(List.of(dataUri(image)), image.seed()));
  }

  /** worker-sdxl's validation: the handler returns {@code {"error": [...]}}, and the job is FAILED with that list. */
  @Override
  public void invalidRequest(String providerMessage) {
    acceptsSubmit();
    acceptsCancel();
    statusAnswers(failed(JSON.createArrayNode().add(providerMessage)));
  }

  @Override
  public void healthy() {
    healthAnswers(HEALTHY);
  }

  @Override
  public void healthAuthRefused() {
    server.stubFor(get(urlPathEqualTo(path("/health"))).willReturn(aResponse().withStatus(401)));
  }

  // --------------------------------------------------------------- the wire

  @Override
  public RequestPatternBuilder submitRequests() {
    return postRequestedFor(urlPathMatching("/v2/[^/]+/run(sync)?"));
  }

  @Override
  public @Nullable RequestPatternBuilder cancelRequests() {
    return postRequestedFor(urlPathMatching("/v2/[^/]+/cancel/.+"));
  }

  @Override
  public @Nullable RequestPatternBuilder pollRequests() {
    return getRequestedFor(urlPathMatching("/v2/[^/]+/status/.+"));
  }

  /**
   * {@inheritDoc}
   *
   * <p>RunPod's and worker-sdxl's names: {@code Authorization: Bearer <key>}, the body's
   * {@code input} with {@code prompt}, {@code negative_prompt}, {@code width}, {@code height},
   * {@code seed}, {@code num_inference_steps}, {@code guidance_scale} and {@code num_images}, and
   * none of the names worker-sdxl rejects ({@code num_outputs}, {@code cfg}, {@code steps},
   * {@code guidance}).
   */
  @Override
  public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
    check(("Bearer " + apiKey).equals(submit.getHeader("Authorization")),
        "Authorization must be 'Bearer <key>', was " + (submit.getHeader("Authorization") == null ? "absent" : "something else"));
    JsonNode body;
    try {
      body = JSON.readTree(submit.getBodyAsString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    JsonNode input = body.path("input");
    check(input.isObject(), "the body must carry an 'input' object: " + body);
    check(request.prompt().equals(input.path("prompt").asText(null)), "input.prompt: " + input.path("prompt"));
    String negative = request.effectiveNegativePrompt();
    if (negative != null) {
      check(negative.equals(input.path("negative_prompt").asText(null)), "input.negative_prompt: " + input.path("negative_prompt"));
    }
    if (request.width() != null) {
      check(input.path("width").isInt() && input.path("width").asInt() == request.width(), "input.width (an int): " + input.path("width"));
    }
    if (request.height() != null) {
      check(input.path("height").isInt() && input.path("height").asInt() == request.height(),
          "input.height (an int): " + input.path("height"));
    }
    if (request.seed() != null) {
      check(input.path("seed").isIntegralNumber() && input.path("seed").asLong() == request.seed(), "input.seed: " + input.path("seed"));
    }
    if (request.steps() != null) {
      check(input.path("num_inference_steps").isInt() && input.path("num_inference_steps").asInt() == request.steps(),
          "input.num_inference_steps: " + input.path("num_inference_steps"));
    }
    if (request.guidanceScale() != null) {
      check(input.path("guidance_scale").isNumber()
          && Math.abs(input.path("guidance_scale").asDouble() - request.guidanceScale()) < 1e-9,
          "input.guidance_scale: " + input.path("guidance_scale"));
    }
    check(input.path("num_images").asInt(1) == request.numImages(), "input.num_images: " + input.path("num_images"));
    for (String bad : List.of("num_outputs", "cfg", "steps", "guidance")) {
      check(!input.has(bad), "worker-sdxl rejects unknown input key '" + bad + "'");
    }
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      throw new AssertionError("RunPod submit: " + what);
    }
  }

  /**
   * The JSON of a logged request's body.
   *
   * @param r the request as WireMock logged it
   * @return its parsed body
   */
  public static JsonNode body(LoggedRequest r) {
    try {
      return Objects.requireNonNull(JSON.readTree(r.getBodyAsString()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
