package dev.imagegen.testkit.stubs;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.absent;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
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
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.matching.RequestPatternBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.testkit.ProviderStubs;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Replicate's HTTP API on a WireMock server, answering with bodies shaped exactly like the protocol
 * document {@code ../shared/protocols/replicate.md}: predictions under {@code /v1} (official-model
 * creates at {@code /models/{owner}/{name}/predictions}, versioned creates at {@code /predictions},
 * polls at {@code /predictions/{id}}, cancels at {@code /predictions/{id}/cancel}), output files under
 * a {@code replicate.delivery}-like path on the same server, {@code GET /account} for the key check,
 * and problem-JSON errors ({@code title}, {@code detail}, {@code status}).
 *
 * <p>Not thread-safe: set up stubs from one thread.
 */
public final class ReplicateStubs implements ProviderStubs {
  /** The path of the API on the server, as on {@code https://api.replicate.com/v1}. */
  public static final String BASE_PATH = "/v1";
  /** The create path of the official {@code black-forest-labs/flux-schnell} model. */
  public static final String FLUX_CREATE = BASE_PATH + "/models/black-forest-labs/flux-schnell/predictions";
  /** The create path of a prediction by version ({@code POST /predictions}). */
  public static final String VERSION_CREATE = BASE_PATH + "/predictions";
  /** The path of List predictions ({@code GET /predictions}), the same as the versioned create's. */
  public static final String LIST = BASE_PATH + "/predictions";
  /** flux-schnell's safety-filter {@code error} of a failed prediction. */
  public static final String NSFW_FLUX = "All generated images contained NSFW content. Try running it again with a different prompt.";
  /** SDXL's safety-filter {@code error} of a failed prediction. */
  public static final String NSFW_SDXL = "NSFW content detected. Try running it again, or try a different prompt.";
  /** The 401 body. */
  public static final String UNAUTHENTICATED =
      "{\"title\":\"Unauthenticated\",\"detail\":\"You did not pass a valid authentication token\",\"status\":401}";
  /** The 402 body. */
  public static final String INSUFFICIENT_CREDIT = "{\"title\":\"Insufficient credit\",\"detail\":\"You have insufficient credit to run "
      + "this model. Go to https://replicate.com/account/billing#billing to purchase credit. Once you purchase credit, please "
      + "wait a few minutes before trying again.\",\"status\":402}";
  /** The 422 body of an input validation failure (too many steps for flux-schnell). */
  public static final String STEPS_422 = "{\"detail\":\"- input.num_inference_steps: Must be less than or equal to 4\\n\",\"status\":422,"
      + "\"title\":\"Input validation failed\",\"invalid_fields\":[{\"type\":\"number_lte\",\"field\":\"input.num_inference_steps\","
      + "\"description\":\"Must be less than or equal to 4\"}]}";
  /** The 422 body of an unknown or forbidden version. */
  public static final String VERSION_422 = "{\"title\":\"Invalid version or not permitted\",\"detail\":\"The specified version does not "
      + "exist (or perhaps you don't have permission to use it?)\",\"status\":422}";
  /** The 404 body (no {@code title}). */
  public static final String NOT_FOUND_404 = "{\"detail\":\"The requested resource could not be found.\",\"status\":404}";
  /** The version id of the community model {@code stability-ai/sdxl} (the protocol document's). */
  public static final String SDXL_VERSION = "7762fd07cf82c948538e41f63f77d685e02b063e37e496e96eefd46c929f9bdc";

  /** Terminal statuses, from the protocol document's lifecycle ({@code aborted} included). */
  private static final List<String> TERMINAL = List.of("succeeded", "failed", "canceled", "aborted");
  /** flux-schnell's {@code aspect_ratio} values, from the protocol document. */
  private static final List<String> FLUX_ASPECT_RATIOS =
      List.of("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21");
  private static final Pattern OWNER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");
  private static final Pattern VERSION_ID = Pattern.compile("[0-9a-fA-F]{64}");
  /*
   * The config key of the imagegen Replicate provider's opt-in to retrying a create after a 5xx; a
   * literal here: the testkit depends on no provider module.
   */

  private static final ObjectMapper JSON = new ObjectMapper();
  /** {@code created_at} as Replicate writes it: RFC 3339 in UTC with microseconds, e.g. {@code 2023-09-08T16:19:34.907244Z}. */
  private static final DateTimeFormatter CREATED_AT = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'")
      .withZone(ZoneOffset.UTC);
  private static final String STARTED = com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
  private static final AtomicInteger IDS = new AtomicInteger();

  private final WireMockServer server;

  /**
   * Stubs on this server.
   *
   * @param server the WireMock server the stubs are registered on
   */
  public ReplicateStubs(WireMockServer server) {
    this.server = server;
  }

  @Override
  public Map<Scenario, String> unsupported() {
    return Map.of(Scenario.QUEUED_PROGRESS, "Replicate reports no queue position: a prediction is 'starting' until a "
        + "worker takes it, then 'processing' (ReplicateProviderTest covers progress and poll errors)");
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

  /**
   * A fresh prediction id in Replicate's style (26 lower-case letters and digits).
   *
   * @return the id, different on each call
   */
  public static String newId() {
    String n = Integer.toString(IDS.incrementAndGet(), 36);
    return ("s14dfnzq35rma0cqtjw9m48hmw".substring(0, 26 - n.length()) + n);
  }

  /**
   * A prediction object as Replicate returns it, its URLs on this server.
   *
   * @param id its id
   * @param status its status
   * @return a builder of the body
   */
  public Prediction prediction(String id, String status) {
    return new Prediction(server.baseUrl(), id, status);
  }

  /**
   * Builds a prediction body: by default flux-schnell's, {@code output} null, {@code started_at}
   * after {@code starting} and {@code completed_at} once terminal, as the protocol document shows.
   */
  public static final class Prediction {
    private final ObjectNode node = JSON.createObjectNode();
    private final String baseUrl;

    /**
     * A prediction.
     *
     * @param baseUrl the server's URL, for {@code urls} and relative output paths
     * @param id its id
     * @param status its status
     */
    public Prediction(String baseUrl, String id, String status) {
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
      if (TERMINAL.contains(status)) {
        node.put("completed_at", "2025-07-04T09:16:22.355Z");
      }
    }

    /**
     * Sets {@code model} and {@code version}.
     *
     * @param model {@code owner/name}
     * @param version the version id ({@code hidden} for official models)
     * @return this
     */
    public Prediction model(String model, String version) {
      node.put("model", model);
      node.put("version", version);
      return this;
    }

    /**
     * Output as an array of URLs (flux-schnell, sdxl).
     *
     * @param paths absolute URLs, or paths on the server
     * @return this
     */
    public Prediction output(String... paths) {
      ArrayNode a = node.putArray("output");
      for (String p : paths) {
        a.add(p.startsWith("http") ? p : baseUrl + p);
      }
      return this;
    }

    /**
     * Output as one URL string (e.g. flux-1.1-pro).
     *
     * @param path an absolute URL, or a path on the server
     * @return this
     */
    public Prediction singleOutput(String path) {
      node.put("output", path.startsWith("http") ? path : baseUrl + path);
      return this;
    }

    /**
     * Sets {@code metrics} with {@code image_count}.
     *
     * @param images the image count
     * @param predictTime {@code predict_time} in seconds
     * @return this
     */
    public Prediction metrics(int images, double predictTime) {
      ObjectNode m = node.putObject("metrics");
      m.put("image_count", images);
      m.put("predict_time", predictTime);
      m.put("total_time", predictTime + 0.65);
      return this;
    }

    /**
     * Sets {@code metrics} without {@code image_count} (GPU-time billed models).
     *
     * @param predictTime {@code predict_time} in seconds
     * @return this
     */
    public Prediction predictTime(double predictTime) {
      ObjectNode m = node.putObject("metrics");
      m.put("predict_time", predictTime);
      m.put("total_time", predictTime + 0.65);
      return this;
    }

    /**
     * Sets {@code error}.
     *
     * @param error the error text
     * @return this
     */
    public Prediction error(String error) {
      node.put("error", error);
      return this;
    }

    /**
     * Sets {@code logs}.
     *
     * @param logs the logs
     * @return this
     */
    public Prediction logs(String logs) {
      node.put("logs", logs);
      return this;
    }

    /**
     * Sets {@code urls.get} and {@code urls.cancel}.
     *
     * @param getUrl the poll URL, or null
     * @param cancelUrl the cancel URL, or null
     * @return this
     */
    public Prediction urls(@Nullable String getUrl, @Nullable String cancelUrl) {
      ObjectNode urls = (ObjectNode) node.get("urls");
      urls.put("get", getUrl);
      urls.put("cancel", cancelUrl);
      return this;
    }

    /**
     * Marks the prediction's data removed (after an hour): {@code data_removed} true, {@code output} null.
     *
     * @return this
     */
    public Prediction dataRemoved() {
      node.put("data_removed", true);
      node.putNull("output");
      return this;
    }

    /**
     * Sets {@code created_at}, written as Replicate writes it (RFC 3339, UTC, microseconds).
     *
     * @param at when the prediction was created
     * @return this
     */
    public Prediction createdAt(Instant at) {
      node.put("created_at", CREATED_AT.format(at));
      return this;
    }

    /**
     * Sets {@code source}, how the prediction was created: {@code api} or {@code web} (List
     * predictions reports it).
     *
     * @param source {@code api} or {@code web}
     * @return this
     */
    public Prediction source(String source) {
      node.put("source", source);
      return this;
    }

    /**
     * Sets {@code input}, the input the create sent, which Replicate echoes.
     *
     * @param inputJson a JSON object, e.g. {@code {"prompt":"a red fox in snow","num_outputs":1}}
     * @return this
     * @throws IllegalArgumentException when it is not a JSON object
     */
    public Prediction input(String inputJson) {
      JsonNode in;
      try {
        in = JSON.readTree(inputJson);
      } catch (IOException e) {
        throw new IllegalArgumentException("input is not JSON: " + inputJson, e);
      }
      if (in == null || !in.isObject()) {
        throw new IllegalArgumentException("input is not a JSON object: " + inputJson);
      }
      node.set("input", in);
      return this;
    }

    /**
     * Removes {@code input}, as when Replicate no longer holds it.
     *
     * @return this
     */
    public Prediction withoutInput() {
      node.remove("input");
      return this;
    }

    /**
     * The body.
     *
     * @return the JSON text
     */
    public String json() {
      return node.toString();
    }
  }

  /**
   * A page of List predictions ({@code GET /predictions}) as Replicate returns it:
   * {@code {"previous":null,"next":null,"results":[...]}}, the predictions in the order given
   * (Replicate lists the most recent first).
   *
   * @param previous the previous page's URL, or null
   * @param next the next page's URL, or null
   * @param results the predictions, most recent first
   * @return the JSON text
   */
  public static String page(@Nullable String previous, @Nullable String next, Prediction... results) {
    ObjectNode page = JSON.createObjectNode();
    page.put("previous", previous);
    page.put("next", next);
    ArrayNode a = page.putArray("results");
    for (Prediction p : results) {
      a.add(p.node.deepCopy());
    }
    return page.toString();
  }

  /**
   * Every List predictions call ({@code GET /predictions}, any query).
   *
   * @return a mapping to complete with an answer
   */
  public static MappingBuilder anyList() {
    return get(urlPathEqualTo(LIST));
  }

  /**
   * List predictions answers 200 with one page holding these predictions and no further page.
   *
   * @param predictions the predictions, most recent first
   */
  public void lists(Prediction... predictions) {
    server.stubFor(anyList().willReturn(json(200, page(null, null, predictions))));
  }

  /**
   * List predictions answers with two pages: the first ({@code GET /predictions} without a
   * cursor) links the second by {@code next} ({@code ?cursor=...} on this server), the second
   * links back by {@code previous}.
   *
   * @param first the first page's predictions, most recent first
   * @param second the second page's predictions
   */
  public void listsTwoPages(List<Prediction> first, List<Prediction> second) {
    String cursor = "cD0yMDI1LTA3LTA0KzA5JTNBMTYlM0EyMS4xNDU";
    String next = server.baseUrl() + LIST + "?cursor=" + cursor;
    server.stubFor(anyList().withQueryParam("cursor", absent())
        .willReturn(json(200, page(null, next, first.toArray(new Prediction[0])))));
    server.stubFor(anyList().withQueryParam("cursor", equalTo(cursor))
        .willReturn(json(200, page(server.baseUrl() + LIST, null, second.toArray(new Prediction[0])))));
  }

  /**
   * The List predictions calls made.
   *
   * @return a pattern matching {@code GET /predictions}
   */
  public RequestPatternBuilder listRequests() {
    return getRequestedFor(urlPathEqualTo(LIST));
  }

  /**
   * Serves an image at a replicate.delivery-like path on this server.
   *
   * @param id the prediction id
   * @param index the output index
   * @param image the image
   * @return the path
   */
  public String serveImage(String id, int index, StubImage image) {
    String ext = image.mediaType().equals("image/png") ? "png" : image.mediaType().equals("image/jpeg") ? "jpg" : "webp";
    String path = "/replicate.delivery/xezq/RoEhEdyl8PoIG" + id + "/out-" + index + "." + ext;
    server.stubFor(get(urlPathEqualTo(path)).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", image.mediaType()).withBody(image.bytes())));
    return path;
  }

  /**
   * Every create path: official models and {@code POST /predictions}.
   *
   * @return a mapping to complete with an answer
   */
  public static MappingBuilder anyCreate() {
    return post(urlPathMatching(BASE_PATH + "(/models/[^/]+/[^/]+)?/predictions"));
  }

  /**
   * Every poll ({@code GET /predictions/{id}}).
   *
   * @return a mapping to complete with an answer
   */
  public static MappingBuilder anyPoll() {
    return get(urlPathMatching(BASE_PATH + "/predictions/[^/]+"));
  }

  /**
   * Every cancel ({@code POST /predictions/{id}/cancel}).
   *
   * @return a mapping to complete with an answer
   */
  public static MappingBuilder anyCancel() {
    return post(urlPathMatching(BASE_PATH + "/predictions/[^/]+/cancel"));
  }

  /**
   * Every create answers 201 with this prediction.
   *
   * @param body the prediction body
   */
  public void created(String body) {
    server.stubFor(anyCreate().willReturn(json(201, body)));
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

  /**
   * A problem-JSON answer ({@code application/problem+json}).
   *
   * @param status the HTTP status
   * @param body the body
   * @return the answer
   */
  public static ResponseDefinitionBuilder problem(int status, String body) {
    return aResponse().withStatus(status).withHeader("Content-Type", "application/problem+json").withBody(body);
  }

  /**
   * A cancel endpoint answering 200 with the prediction, now {@code canceled}.
   *
   * @param id the prediction id
   */
  public void cancelAnswers(String id) {
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

  // ------------------------------------------------------------------ the wire, from replicate.md

  /** Which input names a model takes, as far as the protocol document tells. */
  private enum Family {
    /** black-forest-labs/flux-schnell: aspect_ratio, no negative prompt, guidance or size. */
    FLUX_SCHNELL,
    /** stability-ai/sdxl: width/height, negative_prompt, guidance_scale. */
    SDXL,
    /** Any other model: its own schema; the common Cog names are expected. */
    OTHER
  }

  /**
   * Where and how a create for a model goes.
   *
   * @param path the create path
   * @param version the version id for {@code POST /predictions}, or null for an official create
   * @param family the model's input names
   */
  private record Expected(String path, @Nullable String version, Family family) {}

  /**
   * The create a model name calls for, from the protocol document: flux-schnell is official (its
   * own create path, no {@code version}); stability-ai/sdxl is a community model created at
   * {@code POST /predictions} with its version; a 64-hex id or {@code owner/name:version} is a
   * version; a bare {@code owner/name} is an official model. {@code flux-schnell} and {@code sdxl}
   * are imagegen's aliases for the two models; no model means flux-schnell, the default.
   */
  private static Expected expected(@Nullable String requested) {
    String m = requested == null || requested.isBlank() ? "flux-schnell" : requested.strip();
    String lower = m.toLowerCase(Locale.ROOT);
    if (lower.equals("flux-schnell") || lower.equals("black-forest-labs/flux-schnell")) {
      return new Expected(FLUX_CREATE, null, Family.FLUX_SCHNELL);
    }
    if (lower.equals("sdxl") || lower.equals("stability-ai/sdxl")) {
      return new Expected(VERSION_CREATE, SDXL_VERSION, Family.SDXL);
    }
    if (VERSION_ID.matcher(lower).matches()) {
      return new Expected(VERSION_CREATE, lower, lower.equals(SDXL_VERSION) ? Family.SDXL : Family.OTHER);
    }
    int colon = m.indexOf(':');
    if (colon > 0) {
      String owner = m.substring(0, colon).strip();
      String version = m.substring(colon + 1).strip().toLowerCase(Locale.ROOT);
      check(OWNER_NAME.matcher(owner).matches() && VERSION_ID.matcher(version).matches(),
          "a model the protocol document can name, was " + m);
      return new Expected(VERSION_CREATE, version, owner.equalsIgnoreCase("stability-ai/sdxl") ? Family.SDXL : Family.OTHER);
    }
    check(OWNER_NAME.matcher(m).matches(), "a model the protocol document can name, was " + m);
    return new Expected(BASE_PATH + "/models/" + m + "/predictions", null, Family.OTHER);
  }

  /**
   * {@inheritDoc}
   *
   * <p>Checked against {@code replicate.md}, not the provider's mapping: {@code Authorization: Bearer},
   * JSON, {@code Prefer: wait=N} with N in 1..60 if present; the create path and {@code version}
   * the model calls for; {@code input.prompt}, {@code seed}, {@code num_inference_steps},
   * {@code num_outputs}; for flux-schnell an {@code aspect_ratio} from its documented list, the one
   * closest to the requested width:height, and none of {@code negative_prompt},
   * {@code guidance_scale}, {@code width}, {@code height}; for other models those four fields.
   */
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
    Expected t = expected(request.model());
    String path = submit.getUrl().replaceAll("\\?.*", "");
    String version = t.version();
    if (version == null) {
      check(path.equals(t.path()), "official create path " + t.path() + ", was " + path);
      check(!body.has("version"), "no version on an official create");
    } else {
      check(path.equals(VERSION_CREATE), "POST /predictions, was " + path);
      // the document allows the bare 64-hex id or owner/name:id
      String sent = body.path("version").asText().toLowerCase(Locale.ROOT);
      check(sent.equals(version) || sent.endsWith(":" + version) && OWNER_NAME.matcher(sent.substring(0, sent.indexOf(':'))).matches(),
          "version " + version);
    }
    if (request.seed() != null) {
      check(in.path("seed").asLong() == request.seed(), "input.seed");
    }
    if (request.steps() != null) {
      check(in.path("num_inference_steps").asInt() == request.steps(), "input.num_inference_steps");
    }
    if (t.family() == Family.OTHER && !in.has("num_outputs")) {
      // a model's own schema: the document promises num_outputs only for flux-schnell and sdxl
      check(request.numImages() == 1, "input.num_outputs");
    } else {
      check(in.path("num_outputs").asInt() == request.numImages(), "input.num_outputs");
    }
    if (t.family() == Family.FLUX_SCHNELL) {
      if (request.width() != null && request.height() != null) {
        String ratio = in.path("aspect_ratio").asText();
        check(FLUX_ASPECT_RATIOS.contains(ratio), "input.aspect_ratio one of " + FLUX_ASPECT_RATIOS + ", was " + ratio);
        double sent = distance(ratio, request.width(), request.height());
        for (String other : FLUX_ASPECT_RATIOS) {
          check(distance(other, request.width(), request.height()) >= sent - 1e-12, "input.aspect_ratio closest to "
              + request.width() + "x" + request.height() + ": " + other + " is closer than " + ratio);
        }
      }
      for (String absent : List.of("negative_prompt", "guidance_scale", "width", "height")) {
        check(!in.has(absent), "flux-schnell takes no " + absent);
      }
    } else {
      if (request.effectiveNegativePrompt() != null) {
        check(request.effectiveNegativePrompt().equals(in.path("negative_prompt").asText()), "input.negative_prompt");
      }
      if (request.width() != null) {
        check(in.path("width").asInt() == request.width() && Objects.equals(in.path("height").asInt(), request.height()),
            "input.width and input.height");
      }
      if (request.guidanceScale() != null) {
        check(in.path("guidance_scale").asDouble() == request.guidanceScale(), "input.guidance_scale");
      }
    }
  }

  /** How far an aspect ratio {@code a:b} is from a size, on a log scale. */
  private static double distance(String ratio, int width, int height) {
    String[] p = ratio.split(":");
    return Math.abs(Math.log(Double.parseDouble(p[0]) / Double.parseDouble(p[1])) - Math.log((double) width / height));
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      throw new AssertionError("replicate create: expected " + what);
    }
  }
}
