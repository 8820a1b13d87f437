package dev.imagegen.provider.replicate;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.matching.RequestPatternBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.testkit.ProviderStubs;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * Replicate's API on a WireMock server, answering with bodies shaped exactly like
 * {@code shared/protocols/replicate.md}: predictions at {@code /v1}, output files under a
 * {@code replicate.delivery}-like path on the same server, problem-JSON errors.
 */
final class ReplicateStubs implements ProviderStubs {
  static final String BASE_PATH = "/v1";
  static final String FLUX_CREATE = BASE_PATH + "/models/black-forest-labs/flux-schnell/predictions";
  static final String VERSION_CREATE = BASE_PATH + "/predictions";
  static final String NSFW_FLUX = "All generated images contained NSFW content. Try running it again with a different prompt.";
  static final String NSFW_SDXL = "NSFW content detected. Try running it again, or try a different prompt.";
  static final String UNAUTHENTICATED =
      "{\"title\":\"Unauthenticated\",\"detail\":\"You did not pass a valid authentication token\",\"status\":401}";
  static final String INSUFFICIENT_CREDIT = "{\"title\":\"Insufficient credit\",\"detail\":\"You have insufficient credit to run "
      + "this model. Go to https://replicate.com/account/billing#billing to purchase credit. Once you purchase credit, please "
      + "wait a few minutes before trying again.\",\"status\":402}";
  static final String STEPS_422 = "{\"detail\":\"- input.num_inference_steps: Must be less than or equal to 4\\n\",\"status\":422,"
      + "\"title\":\"Input validation failed\",\"invalid_fields\":[{\"type\":\"number_lte\",\"field\":\"input.num_inference_steps\","
      + "\"description\":\"Must be less than or equal to 4\"}]}";
  static final String VERSION_422 = "{\"title\":\"Invalid version or not permitted\",\"detail\":\"The specified version does not "
      + "exist (or perhaps you don't have permission to use it?)\",\"status\":422}";
  static final String NOT_FOUND_404 = "{\"detail\":\"The requested resource could not be found.\",\"status\":404}";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String STARTED = com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
  private static final AtomicInteger IDS = new AtomicInteger();

  private final WireMockServer server;

  ReplicateStubs(WireMockServer server) {
    this.server = server;
  }

  @Override
  public Map<Scenario, String> unsupported() {
    return Map.of(Scenario.QUEUED_PROGRESS, "Replicate reports no queue position: a prediction is 'starting' until a "
        + "worker takes it, then 'processing' (ReplicateProviderTest covers progress and poll errors)");
  }

  /**
   * The kit's scenario 6 expects a 5xx answer to a submit to be retried. Replicate's protocol says
   * a POST may be retried only where a duplicate paid prediction is acceptable, so the provider
   * fails over by default; the kit runs with the opt-in that allows the retry.
   */
  @Override
  public Map<String, String> extraConfig() {
    return Map.of(ReplicateProvider.RETRY_CREATE_ON_SERVER_ERROR, "true");
  }

  @Override
  public String basePath() {
    return BASE_PATH;
  }

  @Override
  public Duration minPollInterval() {
    // Replicate documents no polling floor (its clients poll every 0.5 s); the provider never goes below 100 ms
    return Duration.ofMillis(100);
  }

  // ------------------------------------------------------------------ bodies

  /** A fresh prediction id in Replicate's style (26 lower-case letters and digits). */
  static String newId() {
    String n = Integer.toString(IDS.incrementAndGet(), 36);
    return ("s14dfnzq35rma0cqtjw9m48hmw".substring(0, 26 - n.length()) + n);
  }

  /**
   * A prediction object as Replicate returns it.
   *
   * @param id its id
   * @param status its status
   */
  Prediction prediction(String id, String status) {
    return new Prediction(server.baseUrl(), id, status);
  }

  /** Builds a prediction body. */
  static final class Prediction {
    private final ObjectNode node = JSON.createObjectNode();
    private final String baseUrl;

    Prediction(String baseUrl, String id, String status) {
      this.baseUrl = baseUrl;
      node.put("id", id);
      node.put("model", "black-forest-labs/flux-schnell");
      node.put("version", "hidden");
      node.putObject("input").put("prompt", "a red fox in snow");
      node.put("logs", "");
      node.putNull("output");
      node.put("data_removed", false);
      node.putNull("error");
      node.put("status", status);
      node.put("created_at", "2025-07-04T09:16:21.145Z");
      ObjectNode urls = node.putObject("urls");
      urls.put("get", baseUrl + BASE_PATH + "/predictions/" + id);
      urls.put("cancel", baseUrl + BASE_PATH + "/predictions/" + id + "/cancel");
      urls.put("stream", "https://stream.replicate.com/v1/files/bcwr-n43f" + id);
      urls.put("web", "https://replicate.com/p/" + id);
      if (!status.equals("starting")) {
        node.put("started_at", "2025-07-04T09:16:21.400Z");
      }
      if (ReplicateWire.TERMINAL.contains(status)) {
        node.put("completed_at", "2025-07-04T09:16:22.355Z");
      }
    }

    Prediction model(String model, String version) {
      node.put("model", model);
      node.put("version", version);
      return this;
    }

    /** Output as an array of URLs (flux-schnell, sdxl). */
    Prediction output(String... paths) {
      ArrayNode a = node.putArray("output");
      for (String p : paths) {
        a.add(p.startsWith("http") ? p : baseUrl + p);
      }
      return this;
    }

    /** Output as one URL string (e.g. flux-1.1-pro). */
    Prediction singleOutput(String path) {
      node.put("output", path.startsWith("http") ? path : baseUrl + path);
      return this;
    }

    Prediction metrics(int images, double predictTime) {
      ObjectNode m = node.putObject("metrics");
      m.put("image_count", images);
      m.put("predict_time", predictTime);
      m.put("total_time", predictTime + 0.65);
      return this;
    }

    Prediction predictTime(double predictTime) {
      ObjectNode m = node.putObject("metrics");
      m.put("predict_time", predictTime);
      m.put("total_time", predictTime + 0.65);
      return this;
    }

    Prediction error(String error) {
      node.put("error", error);
      return this;
    }

    Prediction logs(String logs) {
      node.put("logs", logs);
      return this;
    }

    Prediction urls(@Nullable String getUrl, @Nullable String cancelUrl) {
      ObjectNode urls = (ObjectNode) node.get("urls");
      urls.put("get", getUrl);
      urls.put("cancel", cancelUrl);
      return this;
    }

    Prediction dataRemoved() {
      node.put("data_removed", true);
      node.putNull("output");
      return this;
    }

    String json() {
      return node.toString();
    }
  }

  /** Serves an image at a replicate.delivery-like path; returns the path. */
  String serveImage(String id, int index, StubImage image) {
    String ext = image.mediaType().equals("image/png") ? "png" : image.mediaType().equals("image/jpeg") ? "jpg" : "webp";
    String path = "/replicate.delivery/xezq/RoEhEdyl8PoIG" + id + "/out-" + index + "." + ext;
    server.stubFor(get(urlPathEqualTo(path)).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", image.mediaType()).withBody(image.bytes())));
    return path;
  }

  /** Every create path: official models and {@code POST /predictions}. */
  static MappingBuilder anyCreate() {
    return post(urlPathMatching(BASE_PATH + "(/models/[^/]+/[^/]+)?/predictions"));
  }

  static MappingBuilder anyPoll() {
    return get(urlPathMatching(BASE_PATH + "/predictions/[^/]+"));
  }

  static MappingBuilder anyCancel() {
    return post(urlPathMatching(BASE_PATH + "/predictions/[^/]+/cancel"));
  }

  void created(String body) {
    server.stubFor(anyCreate().willReturn(json(201, body)));
  }

  static com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder json(int status, String body) {
    return aResponse().withStatus(status).withHeader("Content-Type", "application/json").withBody(body);
  }

  static com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder problem(int status, String body) {
    return aResponse().withStatus(status).withHeader("Content-Type", "application/problem+json").withBody(body);
  }

  /** A cancel endpoint answering 200 with the prediction, now {@code canceled}. */
  void cancelAnswers(String id) {
    server.stubFor(anyCancel().willReturn(json(200, prediction(id, "canceled").json())));
  }

  // ------------------------------------------------------------------ ProviderStubs

  @Override
  public void success(StubImage image) {
    String id = newId();
    String path = serveImage(id, 0, image);
    created(prediction(id, "succeeded").output(path).metrics(1, 0.56)
        .logs("Using seed: " + image.seed() + "\n").json());
    server.stubFor(anyPoll().willReturn(json(200, prediction(id, "succeeded").output(path).metrics(1, 0.56)
        .logs("Using seed: " + image.seed() + "\n").json())));
    cancelAnswers(id);
  }

  @Override
  public void queuedThenRunningThenDone(StubImage image) {
    String id = newId();
    String path = serveImage(id, 0, image);
    created(prediction(id, "starting").json());
    String s = "progress";
    server.stubFor(anyPoll().inScenario(s).whenScenarioStateIs(STARTED).willReturn(
        json(200, prediction(id, "starting").json())).willSetStateTo("p1"));
    server.stubFor(anyPoll().inScenario(s).whenScenarioStateIs("p1").willReturn(
        json(200, prediction(id, "processing").logs("Using seed: " + image.seed() + "\n  25%|██▌       | 1/4 [00:00<00:00]\n")
            .json())).willSetStateTo("p2"));
    server.stubFor(anyPoll().inScenario(s).whenScenarioStateIs("p2").willReturn(
        json(200, prediction(id, "processing").logs("Using seed: " + image.seed() + "\n  75%|███████▌  | 3/4 [00:00<00:00]\n")
            .json())).willSetStateTo("done"));
    server.stubFor(anyPoll().inScenario(s).whenScenarioStateIs("done").willReturn(
        json(200, prediction(id, "succeeded").output(path).metrics(1, 0.56).logs("Using seed: " + image.seed() + "\n").json())));
    cancelAnswers(id);
  }

  @Override
  public void authenticationRefused() {
    server.stubFor(anyCreate().willReturn(problem(401, UNAUTHENTICATED)));
    server.stubFor(get(urlPathEqualTo(BASE_PATH + "/account")).willReturn(problem(401, UNAUTHENTICATED)));
  }

  @Override
  public void outOfCredits() {
    server.stubFor(anyCreate().willReturn(problem(402, INSUFFICIENT_CREDIT)));
  }

  @Override
  public void rateLimited(Duration retryAfter) {
    long s = Math.max(1, retryAfter.toSeconds());
    server.stubFor(anyCreate().willReturn(aResponse().withStatus(429).withHeader("Content-Type", "application/json")
        .withHeader("Retry-After", Long.toString(s))
        .withBody("{\"detail\":\"Request was throttled. Your rate limit resets in ~" + s + "s.\"}")));
  }

  @Override
  public void serverErrorThenSuccess(StubImage image) {
    String id = newId();
    String path = serveImage(id, 0, image);
    String s = "server-error";
    server.stubFor(anyCreate().inScenario(s).whenScenarioStateIs(STARTED)
        .willReturn(aResponse().withStatus(503).withHeader("Content-Type", "text/plain").withBody("Service Unavailable"))
        .willSetStateTo("ok"));
    server.stubFor(anyCreate().inScenario(s).whenScenarioStateIs("ok")
        .willReturn(json(201, prediction(id, "succeeded").output(path).metrics(1, 0.56).json())));
    cancelAnswers(id);
  }

  @Override
  public void connectionReset() {
    server.stubFor(anyCreate().willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
  }

  @Override
  public void emptyResponse() {
    server.stubFor(anyCreate().willReturn(aResponse().withStatus(201).withHeader("Content-Type", "application/json")));
  }

  @Override
  public void malformedJson() {
    server.stubFor(anyCreate().willReturn(json(201, "{\"id\":\"s14dfnzq35rma0cqtjw9m48hmw\",\"status\":\"star")));
  }

  @Override
  public void neverFinishes() {
    String id = newId();
    created(prediction(id, "starting").json());
    server.stubFor(anyPoll().willReturn(json(200, prediction(id, "processing").logs("  10%|█         | 5/50\n").json())));
    cancelAnswers(id);
  }

  @Override
  public void contentPolicy() {
    String id = newId();
    created(prediction(id, "processing").json());
    server.stubFor(anyPoll().willReturn(json(200, prediction(id, "failed").error(NSFW_FLUX).predictTime(0.61).json())));
    cancelAnswers(id);
  }

  @Override
  public void resultUrlNotFound() {
    String id = newId();
    String path = "/replicate.delivery/xezq/gone" + id + "/out-0.webp";
    server.stubFor(get(urlPathEqualTo(path)).willReturn(aResponse().withStatus(404)));
    created(prediction(id, "succeeded").output(path).metrics(1, 0.56).json());
    server.stubFor(anyPoll().willReturn(json(200, prediction(id, "succeeded").output(path).metrics(1, 0.56).json())));
    cancelAnswers(id);
  }

  @Override
  public void oversizedImage(StubImage image) {
    success(image);
  }

  @Override
  public void invalidRequest(String providerMessage) {
    ObjectNode body = JSON.createObjectNode();
    body.put("detail", providerMessage);
    body.put("status", 422);
    body.put("title", "Input validation failed");
    ObjectNode f = body.putArray("invalid_fields").addObject();
    f.put("type", "number_lte");
    f.put("field", "input.num_inference_steps");
    f.put("description", providerMessage);
    server.stubFor(anyCreate().willReturn(problem(422, body.toString())));
  }

  @Override
  public void healthy() {
    server.stubFor(get(urlPathEqualTo(BASE_PATH + "/account"))
        .willReturn(json(200, "{\"type\":\"user\",\"username\":\"acme\",\"name\":\"Acme\"}")));
  }

  @Override
  public void healthAuthRefused() {
    server.stubFor(get(urlPathEqualTo(BASE_PATH + "/account")).willReturn(problem(401, UNAUTHENTICATED)));
  }

  @Override
  public RequestPatternBuilder submitRequests() {
    return postRequestedFor(urlPathMatching(BASE_PATH + "(/models/[^/]+/[^/]+)?/predictions"));
  }

  @Override
  public RequestPatternBuilder cancelRequests() {
    return postRequestedFor(urlPathMatching(BASE_PATH + "/predictions/[^/]+/cancel"));
  }

  @Override
  public RequestPatternBuilder pollRequests() {
    return getRequestedFor(urlPathMatching(BASE_PATH + "/predictions/[^/]+"));
  }

  @Override
  public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
    check(("Bearer " + apiKey).equals(submit.getHeader("Authorization")), "Authorization: Bearer <api-key>, was "
        + (submit.getHeader("Authorization") == null ? "absent" : "another value"));
    check("application/json".equals(submit.getHeader("Content-Type")), "Content-Type application/json");
    String prefer = submit.getHeader("Prefer");
    check(prefer == null || prefer.matches("wait=([1-9]|[1-5][0-9]|60)"), "Prefer: wait=N with N in 1..60, was " + prefer);
    JsonNode body;
    try {
      body = JSON.readTree(submit.getBodyAsString());
    } catch (IOException e) {
      throw new AssertionError("create body is not JSON: " + submit.getBodyAsString(), e);
    }
    JsonNode in = body.path("input");
    check(in.isObject(), "body has an input object");
    check(request.prompt().equals(in.path("prompt").asText()), "input.prompt is the request's prompt");
    ReplicateModels.Target t = ReplicateModels.resolve(request.model(), "flux-schnell");
    String path = submit.getUrl().replaceAll("\\?.*", "");
    if (t.official()) {
      check(path.equals(BASE_PATH + "/models/" + t.model() + "/predictions"), "official create path, was " + path);
      check(!body.has("version"), "no version on an official create");
    } else {
      check(path.equals(VERSION_CREATE), "POST /predictions, was " + path);
      check(t.version().equals(body.path("version").asText()), "version " + t.version());
    }
    if (request.seed() != null) {
      check(in.path("seed").asLong() == request.seed(), "input.seed");
    }
    if (request.steps() != null) {
      check(in.path("num_inference_steps").asInt() == request.steps(), "input.num_inference_steps");
    }
    check(in.path("num_outputs").asInt() == request.numImages(), "input.num_outputs");
    if (t.family() == ReplicateModels.Family.FLUX_SCHNELL) {
      if (request.width() != null) {
        check(ReplicateModels.nearestAspectRatio(request.width(), request.height()).equals(in.path("aspect_ratio").asText()),
            "input.aspect_ratio from width/height");
      }
      for (String absent : List.of("negative_prompt", "guidance_scale", "width", "height")) {
        check(!in.has(absent), "flux-schnell takes no " + absent);
      }
    } else {
      if (request.effectiveNegativePrompt() != null) {
        check(request.effectiveNegativePrompt().equals(in.path("negative_prompt").asText()), "input.negative_prompt");
      }
      if (request.width() != null) {
        check(in.path("width").asInt() == request.width() && in.path("height").asInt() == request.height(),
            "input.width and input.height");
      }
      if (request.guidanceScale() != null) {
        check(in.path("guidance_scale").asDouble() == request.guidanceScale(), "input.guidance_scale");
      }
    }
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      throw new AssertionError("replicate create: expected " + what);
    }
  }
}
