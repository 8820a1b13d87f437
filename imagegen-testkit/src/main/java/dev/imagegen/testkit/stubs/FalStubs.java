package dev.imagegen.testkit.stubs;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.put;
import static com.github.tomakehurst.wiremock.client.WireMock.putRequestedFor;
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
import dev.imagegen.testkit.StubImages;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.imageio.ImageIO;
import org.jspecify.annotations.Nullable;

/**
 * fal's queue and storage APIs on a WireMock server, answering with bodies shaped exactly like the
 * protocol document {@code ../shared/protocols/fal.md}: submit at {@code /{owner}/{alias}/{path}},
 * status, result and cancel at {@code /{owner}/{alias}/requests/{id}[/status|/cancel]}, the submit
 * answer carrying the three URLs (on this server), output images under a {@code v3.fal.media}-like
 * {@code /files/} path, uploads at {@code /storage/upload/initiate} with a presigned PUT target on
 * this server, errors as {@code {"detail": …}} bodies.
 *
 * <p>The queue API lives at the server's root; {@link #extraConfig()} points {@code storage-url} at
 * the server too. Not thread-safe: set up stubs from one thread.
 */
public final class FalStubs implements ProviderStubs {
  /** The request id of the protocol's samples. */
  public static final String REQUEST_ID = "5b9d1c2e-7f3a-4c1e-9a55-0d6f2b8e41aa";
  /** The {@code owner/alias} of {@code fal-ai/flux/schnell}, which status, result and cancel use. */
  public static final String FLUX_ROOT = "fal-ai/flux";
  /** The 401 body. */
  public static final String UNAUTHORIZED = "{\"detail\":\"No user found for Key ID and Secret\"}";
  /** The 403 body of an account locked for an exhausted balance. */
  public static final String LOCKED = "{\"detail\":\"User is locked. Reason: Exhausted balance. Top up your balance at "
      + "fal.ai/dashboard/billing.\"}";
  /** The 500 body. */
  public static final String INTERNAL = "{\"detail\":\"Internal server error\",\"error_type\":\"internal_error\"}";
  /** The 429 body. */
  public static final String RATE_LIMITED = "{\"detail\":\"Rate limit exceeded: too many concurrent requests\"}";

  /*
   * fal documents no polling floor (its JS client polls every 0.5 s); the imagegen fal provider never
   * goes below 100 ms. A literal here: the testkit depends on no provider module.
   */
  private static final Duration POLL_FLOOR = Duration.ofMillis(100);
  /*
   * The request id no request has, whose status the imagegen fal provider reads to check a key (404:
   * the key is good, 401: refused). A literal here: the testkit depends on no provider module.
   */
  private static final String HEALTH_REQUEST_ID = "00000000-0000-0000-0000-000000000000";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String STARTED = com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;

  private final WireMockServer server;

  /**
   * Stubs on this server.
   *
   * @param server the WireMock server the stubs are registered on
   */
  public FalStubs(WireMockServer server) {
    this.server = server;
  }

  /**
   * {@inheritDoc}
   *
   * <p>{@code storage-url}: uploads go to this server too.
   */
  @Override
  public Map<String, String> extraConfig() {
    return Map.of("storage-url", server.baseUrl());
  }

  @Override
  public Duration minPollInterval() {
    return POLL_FLOOR;
  }

  // ------------------------------------------------------------------ bodies

  /**
   * The queue URL of a request under an app's {@code owner/alias}, on this server.
   *
   * @param root the app's {@code owner/alias}
   * @param requestId the request id
   * @param suffix {@code ""}, {@code "/status"} or {@code "/cancel"}
   * @return the absolute URL
   */
  public String requestUrl(String root, String requestId, String suffix) {
    return server.baseUrl() + "/" + root + "/requests/" + requestId + suffix;
  }

  /**
   * The submit answer: {@code IN_QUEUE}, the request id and the three URLs.
   *
   * @param root the app's {@code owner/alias}
   * @param requestId the request id
   * @param queuePosition the queue position
   * @return the JSON body
   */
  public String submitAnswer(String root, String requestId, int queuePosition) {
    ObjectNode n = JSON.createObjectNode();
    n.put("status", "IN_QUEUE");
    n.put("request_id", requestId);
    n.put("response_url", requestUrl(root, requestId, ""));
    n.put("status_url", requestUrl(root, requestId, "/status"));
    n.put("cancel_url", requestUrl(root, requestId, "/cancel"));
    n.put("queue_position", queuePosition);
    return n.toString();
  }

  /**
   * A status answer, the URLs and request id repeated as fal does.
   *
   * @param root the app's {@code owner/alias}
   * @param requestId the request id
   * @param status {@code IN_QUEUE}, {@code IN_PROGRESS} or {@code COMPLETED}
   * @param fields further fields, turned into JSON
   * @return the JSON body
   */
  public String status(String root, String requestId, String status, Map<String, Object> fields) {
    ObjectNode n = JSON.createObjectNode();
    n.put("status", status);
    n.put("request_id", requestId);
    n.put("response_url", requestUrl(root, requestId, ""));
    n.put("status_url", requestUrl(root, requestId, "/status"));
    n.put("cancel_url", requestUrl(root, requestId, "/cancel"));
    fields.forEach((k, v) -> n.set(k, JSON.valueToTree(v)));
    return n.toString();
  }

  /**
   * An {@code IN_QUEUE} status.
   *
   * @param root the app's {@code owner/alias}
   * @param requestId the request id
   * @param position the queue position
   * @return the JSON body
   */
  public String inQueue(String root, String requestId, int position) {
    return status(root, requestId, "IN_QUEUE", Map.of("queue_position", position));
  }

  /**
   * An {@code IN_PROGRESS} status with one log line.
   *
   * @param root the app's {@code owner/alias}
   * @param requestId the request id
   * @param logMessage the log line (e.g. {@code step 2/4})
   * @return the JSON body
   */
  public String inProgress(String root, String requestId, String logMessage) {
    return status(root, requestId, "IN_PROGRESS", Map.of("logs", List.of(Map.of("message", logMessage, "level", "INFO",
        "source", "USER", "timestamp", "2026-11-20T10:15:02.311Z"))));
  }

  /**
   * A {@code COMPLETED} status with metrics.
   *
   * @param root the app's {@code owner/alias}
   * @param requestId the request id
   * @return the JSON body
   */
  public String completed(String root, String requestId) {
    ObjectNode n = (ObjectNode) read(status(root, requestId, "COMPLETED", Map.of("metrics", Map.of("inference_time", 0.41))));
    n.putNull("logs");
    return n.toString();
  }

  /**
   * A {@code COMPLETED} status of a failed run, with {@code error} and {@code error_type}.
   *
   * @param root the app's {@code owner/alias}
   * @param requestId the request id
   * @param error the error text
   * @param errorType the error type (e.g. {@code runner_disconnected})
   * @return the JSON body
   */
  public String completedWithError(String root, String requestId, String error, String errorType) {
    ObjectNode n = (ObjectNode) read(status(root, requestId, "COMPLETED", Map.of("metrics", Map.of(), "error", error,
        "error_type", errorType)));
    n.putNull("logs");
    return n.toString();
  }

  /**
   * A flux/schnell result: images at paths on this server, seed, NSFW flags.
   *
   * @param images the images
   * @param paths the path each image is served at
   * @param nsfw {@code has_nsfw_concepts}, one per image
   * @param seed the seed
   * @param prompt the prompt echoed
   * @return the JSON body
   */
  public String fluxResult(List<StubImage> images, List<String> paths, List<Boolean> nsfw, long seed, String prompt) {
    ObjectNode n = JSON.createObjectNode();
    ArrayNode arr = n.putArray("images");
    for (int i = 0; i < images.size(); i++) {
      StubImage img = images.get(i);
      ObjectNode o = arr.addObject();
      o.put("url", server.baseUrl() + paths.get(i));
      o.put("width", img.width());
      o.put("height", img.height());
      o.put("content_type", img.mediaType());
    }
    n.putObject("timings").put("inference", 0.38);
    n.put("seed", seed);
    ArrayNode flags = n.putArray("has_nsfw_concepts");
    nsfw.forEach(flags::add);
    n.put("prompt", prompt);
    return n.toString();
  }

  /**
   * A nano-banana-pro/edit result: images with {@code file_name}, a description, no seed.
   *
   * @param image the image
   * @param path the path it is served at
   * @param description the model's description
   * @return the JSON body
   */
  public String editResult(StubImage image, String path, String description) {
    ObjectNode n = JSON.createObjectNode();
    ObjectNode o = n.putArray("images").addObject();
    o.put("url", server.baseUrl() + path);
    o.put("content_type", image.mediaType());
    o.put("file_name", "output." + extension(image));
    n.put("description", description);
    return n.toString();
  }

  /**
   * A {@code v3.fal.media}-like path for an image.
   *
   * @param image the image (its media type picks the extension)
   * @param name the file's base name
   * @return the path
   */
  public static String imagePath(StubImage image, String name) {
    return "/files/tiger/" + name + "." + extension(image);
  }

  /**
   * The file extension fal uses for an image's media type.
   *
   * @param image the image
   * @return {@code jpeg}, {@code webp} or {@code png}
   */
  public static String extension(StubImage image) {
    return switch (image.mediaType()) {
      case "image/jpeg" -> "jpeg";
      case "image/webp" -> "webp";
      default -> "png";
    };
  }

  // ------------------------------------------------------------------ stub helpers

  /**
   * A submit to any app (not storage) answers {@code IN_QUEUE} with URLs under {@code root}.
   *
   * @param root the app's {@code owner/alias}
   * @param requestId the request id
   */
  public void stubSubmit(String root, String requestId) {
    server.stubFor(anySubmit().willReturn(json(200, submitAnswer(root, requestId, 0))));
  }

  /**
   * A submit to one app answers {@code IN_QUEUE} with URLs under {@code root}.
   *
   * @param appId the full app id (e.g. {@code fal-ai/flux/schnell})
   * @param root the app's {@code owner/alias}
   * @param requestId the request id
   */
  public void stubSubmit(String appId, String root, String requestId) {
    server.stubFor(post(urlPathEqualTo("/" + appId)).willReturn(json(200, submitAnswer(root, requestId, 0))));
  }

  /**
   * The status of a request answers 200 with this body.
   *
   * @param root the app's {@code owner/alias}
   * @param requestId the request id
   * @param body the status body
   */
  public void stubStatus(String root, String requestId, String body) {
    server.stubFor(get(urlPathEqualTo("/" + root + "/requests/" + requestId + "/status")).willReturn(json(200, body)));
  }

  /**
   * The result of a request answers this.
   *
   * @param root the app's {@code owner/alias}
   * @param requestId the request id
   * @param status the HTTP status
   * @param body the JSON body
   */
  public void stubResult(String root, String requestId, int status, String body) {
    server.stubFor(get(urlPathEqualTo("/" + root + "/requests/" + requestId)).willReturn(json(status, body)));
  }

  /**
   * The cancel of a request answers {@code CANCELLATION_REQUESTED}.
   *
   * @param root the app's {@code owner/alias}
   * @param requestId the request id
   */
  public void stubCancel(String root, String requestId) {
    server.stubFor(put(urlPathEqualTo("/" + root + "/requests/" + requestId + "/cancel"))
        .willReturn(json(200, "{\"status\":\"CANCELLATION_REQUESTED\"}")));
  }

  /**
   * A path on this server serves an image.
   *
   * @param path the path
   * @param image the image
   */
  public void stubImage(String path, StubImage image) {
    server.stubFor(get(urlPathEqualTo(path)).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", image.mediaType()).withBody(image.bytes())));
  }

  /**
   * Upload initiate answers with a presigned PUT target on this server and a CDN file URL; the PUT answers 200.
   *
   * @param name the upload's name in the URLs
   */
  public void stubUpload(String name) {
    String body = "{\"upload_url\":\"" + server.baseUrl() + "/upload/presigned/" + name + "?X-Goog-Signature=abc\","
        + "\"file_url\":\"https://v3b.fal.media/files/b/" + name + "/in.png\"}";
    server.stubFor(post(urlPathEqualTo("/storage/upload/initiate")).willReturn(json(200, body)));
    server.stubFor(put(urlPathMatching("/upload/presigned/.*")).willReturn(aResponse().withStatus(200)));
  }

  /**
   * The whole flux flow: submit, one COMPLETED status, the result, the images.
   *
   * @param images the images (the first one's seed is reported)
   * @param nsfw {@code has_nsfw_concepts}, one per image
   */
  public void stubFluxSuccess(List<StubImage> images, List<Boolean> nsfw) {
    stubSubmit(FLUX_ROOT, REQUEST_ID);
    stubStatus(FLUX_ROOT, REQUEST_ID, completed(FLUX_ROOT, REQUEST_ID));
    List<String> paths = new ArrayList<>();
    for (int i = 0; i < images.size(); i++) {
      String p = imagePath(images.get(i), "Qm3xV0aZ-" + i);
      paths.add(p);
      stubImage(p, images.get(i));
    }
    stubResult(FLUX_ROOT, REQUEST_ID, 200, fluxResult(images, paths, nsfw, images.get(0).seed(), "a red fox in snow"));
  }

  /**
   * Every submit: a POST to any path but storage and uploads.
   *
   * @return a mapping to complete with an answer
   */
  public static MappingBuilder anySubmit() {
    return post(urlPathMatching("/(?!storage/|upload/).+"));
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

  private static JsonNode read(String s) {
    try {
      return JSON.readTree(s);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * A black JPEG, as flux answers for a prompt its safety checker flagged.
   *
   * @param w width
   * @param h height
   * @return the encoded bytes
   */
  public static byte[] blackJpeg(int w, int h) {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      ImageIO.write(img, "jpg", out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  // ------------------------------------------------------------------ ProviderStubs

  @Override
  public void success(StubImage image) {
    stubFluxSuccess(List.of(image), List.of(false));
  }

  @Override
  public void queuedThenRunningThenDone(StubImage image) {
    stubSubmit(FLUX_ROOT, REQUEST_ID);
    String statusPath = "/" + FLUX_ROOT + "/requests/" + REQUEST_ID + "/status";
    String sc = "fal-progress";
    server.stubFor(get(urlPathEqualTo(statusPath)).inScenario(sc).whenScenarioStateIs(STARTED)
        .willReturn(json(200, inQueue(FLUX_ROOT, REQUEST_ID, 3))).willSetStateTo("queued-1"));
    server.stubFor(get(urlPathEqualTo(statusPath)).inScenario(sc).whenScenarioStateIs("queued-1")
        .willReturn(json(200, inQueue(FLUX_ROOT, REQUEST_ID, 1))).willSetStateTo("running"));
    // fal sends logs only to a read with logs=1, and the whole log each time
    for (String[] step : new String[][] {{"running", "running-2"}, {"running-2", "done"}}) {
      server.stubFor(get(urlPathEqualTo(statusPath)).withQueryParam("logs", com.github.tomakehurst.wiremock.client.WireMock
          .equalTo("1")).inScenario(sc).whenScenarioStateIs(step[0]).atPriority(1)
          .willReturn(json(200, inProgress(FLUX_ROOT, REQUEST_ID, "step 2/4"))).willSetStateTo(step[1]));
      server.stubFor(get(urlPathEqualTo(statusPath)).inScenario(sc).whenScenarioStateIs(step[0]).atPriority(2)
          .willReturn(json(200, status(FLUX_ROOT, REQUEST_ID, "IN_PROGRESS", Map.of("logs", List.of()))))
          .willSetStateTo(step[1]));
    }
    server.stubFor(get(urlPathEqualTo(statusPath)).inScenario(sc).whenScenarioStateIs("done")
        .willReturn(json(200, completed(FLUX_ROOT, REQUEST_ID))));
    String path = imagePath(image, "Qm3xV0aZ");
    stubImage(path, image);
    stubResult(FLUX_ROOT, REQUEST_ID, 200, fluxResult(List.of(image), List.of(path), List.of(false), image.seed(),
        "a red fox in snow"));
  }

  @Override
  public void authenticationRefused() {
    server.stubFor(anySubmit().willReturn(json(401, UNAUTHORIZED)));
  }

  @Override
  public void outOfCredits() {
    server.stubFor(anySubmit().willReturn(json(403, LOCKED)));
  }

  @Override
  public void rateLimited(Duration retryAfter) {
    server.stubFor(anySubmit().willReturn(json(429, RATE_LIMITED).withHeader("Retry-After",
        String.valueOf(retryAfter.toSeconds()))));
  }

  @Override
  public void serverErrorThenSuccess(StubImage image) {
    success(image);
    server.stubFor(anySubmit().inScenario("fal-5xx").whenScenarioStateIs(STARTED)
        .willReturn(json(500, INTERNAL)).willSetStateTo("recovered"));
    server.stubFor(anySubmit().inScenario("fal-5xx").whenScenarioStateIs("recovered")
        .willReturn(json(200, submitAnswer(FLUX_ROOT, REQUEST_ID, 0))));
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
    server.stubFor(anySubmit().willReturn(json(200, "{\"status\":\"IN_QUEUE\",\"request_id\":")));
  }

  @Override
  public void neverFinishes() {
    stubSubmit(FLUX_ROOT, REQUEST_ID);
    stubStatus(FLUX_ROOT, REQUEST_ID, inQueue(FLUX_ROOT, REQUEST_ID, 7));
    stubCancel(FLUX_ROOT, REQUEST_ID);
  }

  @Override
  public void contentPolicy() {
    // flux answers a black image with has_nsfw_concepts [true], not an error
    StubImage black = new StubImage(blackJpeg(64, 64), "image/jpeg", 64, 64, 42);
    stubFluxSuccess(List.of(black), List.of(true));
  }

  @Override
  public void resultUrlNotFound() {
    StubImage image = StubImages.png(64, 64, 3);
    stubFluxSuccess(List.of(image), List.of(false));
    server.stubFor(get(urlPathMatching("/files/.*")).willReturn(aResponse().withStatus(404)
        .withHeader("Content-Type", "application/xml").withBody("<Error><Code>NoSuchKey</Code></Error>")));
  }

  @Override
  public void invalidRequest(String providerMessage) {
    ObjectNode n = JSON.createObjectNode();
    ObjectNode d = n.putArray("detail").addObject();
    d.putArray("loc").add("body").add("prompt");
    d.put("msg", providerMessage);
    d.put("type", "value_error");
    server.stubFor(anySubmit().willReturn(json(422, n.toString())));
  }

  /** The status of the all-zero request id answers 404 "Request not found", as for a good key. */
  @Override
  public void healthy() {
    server.stubFor(get(urlPathMatching("/.+/requests/" + HEALTH_REQUEST_ID + "/status"))
        .willReturn(json(404, "{\"detail\":\"Request not found\"}")));
  }

  /** The status of the all-zero request id answers 401, as for a refused key. */
  @Override
  public void healthAuthRefused() {
    server.stubFor(get(urlPathMatching("/.+/requests/" + HEALTH_REQUEST_ID + "/status"))
        .willReturn(json(401, UNAUTHORIZED)));
  }

  @Override
  public RequestPatternBuilder submitRequests() {
    return postRequestedFor(urlPathMatching("/(?!storage/|upload/).+"));
  }

  @Override
  public RequestPatternBuilder cancelRequests() {
    return putRequestedFor(urlPathMatching("/.+/requests/[^/]+/cancel"));
  }

  @Override
  public RequestPatternBuilder pollRequests() {
    return getRequestedFor(urlPathMatching("/.+/requests/[^/]+/status"));
  }

  /**
   * {@inheritDoc}
   *
   * <p>fal's names: {@code Authorization: Key <key>}, a JSON body with {@code prompt},
   * {@code num_images}, {@code image_size.width/height}, {@code seed}, {@code num_inference_steps}
   * and {@code guidance_scale}.
   */
  @Override
  public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
    check("Key " + apiKey, submit.getHeader("Authorization"), "Authorization header");
    String ct = submit.getHeader("Content-Type");
    if (ct == null || !ct.startsWith("application/json")) {
      throw new AssertionError("submit Content-Type should be application/json, was " + ct);
    }
    JsonNode body = read(submit.getBodyAsString());
    check(request.prompt(), body.path("prompt").asText(null), "prompt");
    check(request.numImages(), body.path("num_images").asInt(-1), "num_images");
    if (request.width() != null && request.height() != null) {
      check(request.width(), body.path("image_size").path("width").asInt(-1), "image_size.width");
      check(request.height(), body.path("image_size").path("height").asInt(-1), "image_size.height");
    }
    if (request.seed() != null) {
      check(request.seed(), body.path("seed").asLong(-1), "seed");
    }
    if (request.steps() != null) {
      check(request.steps(), body.path("num_inference_steps").asInt(-1), "num_inference_steps");
    }
    if (request.guidanceScale() != null) {
      check(request.guidanceScale(), body.path("guidance_scale").asDouble(-1), "guidance_scale");
    }
  }

  private static void check(Object expected, @Nullable Object actual, String what) {
    if (!Objects.equals(expected, actual)) {
      throw new AssertionError("submit " + what + ": expected <" + expected + "> but was <" + actual + ">");
    }
  }
}
