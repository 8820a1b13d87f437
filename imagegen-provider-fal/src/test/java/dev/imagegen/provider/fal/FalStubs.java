package dev.imagegen.provider.fal;

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
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.imageio.ImageIO;

/**
 * fal's queue and storage APIs on a WireMock server, answering with bodies shaped exactly like
 * {@code shared/protocols/fal.md}: submit at {@code /{owner}/{alias}/{path}}, status, result and
 * cancel at {@code /{owner}/{alias}/requests/{id}[/status|/cancel]}, the submit answer carrying the
 * three URLs (on this server), output images under a {@code v3.fal.media}-like {@code /files/} path,
 * uploads at {@code /storage/upload/initiate} with a presigned PUT target on this server, errors as
 * {@code {"detail": …}} bodies.
 */
final class FalStubs implements ProviderStubs {
  /** The request id of the protocol's samples. */
  static final String REQUEST_ID = "5b9d1c2e-7f3a-4c1e-9a55-0d6f2b8e41aa";
  /** The {@code owner/alias} of {@code fal-ai/flux/schnell}, which status, result and cancel use. */
  static final String FLUX_ROOT = "fal-ai/flux";
  static final String UNAUTHORIZED = "{\"detail\":\"No user found for Key ID and Secret\"}";
  static final String LOCKED = "{\"detail\":\"User is locked. Reason: Exhausted balance. Top up your balance at "
      + "fal.ai/dashboard/billing.\"}";
  static final String INTERNAL = "{\"detail\":\"Internal server error\",\"error_type\":\"internal_error\"}";
  static final String RATE_LIMITED = "{\"detail\":\"Rate limit exceeded: too many concurrent requests\"}";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String STARTED = com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;

  private final WireMockServer server;

  FalStubs(WireMockServer server) {
    this.server = server;
  }

  @Override
  public Map<String, String> extraConfig() {
    return Map.of("storage-url", server.baseUrl());
  }

  @Override
  public Duration minPollInterval() {
    // fal documents no polling floor (its JS client polls every 0.5 s); the provider never goes below 100 ms
    return FalProvider.POLL_FLOOR;
  }

  // ------------------------------------------------------------------ bodies

  /** The queue URL of a request under an app's {@code owner/alias}, on this server. */
  String requestUrl(String root, String requestId, String suffix) {
    return server.baseUrl() + "/" + root + "/requests/" + requestId + suffix;
  }

  /** The submit answer: {@code IN_QUEUE}, the request id and the three URLs. */
  String submitAnswer(String root, String requestId, int queuePosition) {
    ObjectNode n = JSON.createObjectNode();
    n.put("status", "IN_QUEUE");
    n.put("request_id", requestId);
    n.put("response_url", requestUrl(root, requestId, ""));
    n.put("status_url", requestUrl(root, requestId, "/status"));
    n.put("cancel_url", requestUrl(root, requestId, "/cancel"));
    n.put("queue_position", queuePosition);
    return n.toString();
  }

  /** A status answer, the URLs and request id repeated as fal does. */
  String status(String root, String requestId, String status, Map<String, Object> fields) {
    ObjectNode n = JSON.createObjectNode();
    n.put("status", status);
    n.put("request_id", requestId);
    n.put("response_url", requestUrl(root, requestId, ""));
    n.put("status_url", requestUrl(root, requestId, "/status"));
    n.put("cancel_url", requestUrl(root, requestId, "/cancel"));
    fields.forEach((k, v) -> n.set(k, JSON.valueToTree(v)));
    return n.toString();
  }

  String inQueue(String root, String requestId, int position) {
    return status(root, requestId, "IN_QUEUE", Map.of("queue_position", position));
  }

  String inProgress(String root, String requestId, String logMessage) {
    return status(root, requestId, "IN_PROGRESS", Map.of("logs", List.of(Map.of("message", logMessage, "level", "INFO",
        "source", "USER", "timestamp", "2026-11-20T10:15:02.311Z"))));
  }

  String completed(String root, String requestId) {
    ObjectNode n = (ObjectNode) read(status(root, requestId, "COMPLETED", Map.of("metrics", Map.of("inference_time", 0.41))));
    n.putNull("logs");
    return n.toString();
  }

  String completedWithError(String root, String requestId, String error, String errorType) {
    ObjectNode n = (ObjectNode) read(status(root, requestId, "COMPLETED", Map.of("metrics", Map.of(), "error", error,
        "error_type", errorType)));
    n.putNull("logs");
    return n.toString();
  }

  /** A flux/schnell result: images at {@code /files/...} on this server, seed, NSFW flags. */
  String fluxResult(List<StubImage> images, List<String> paths, List<Boolean> nsfw, long seed, String prompt) {
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

  /** A nano-banana-pro/edit result: images with {@code file_name}, a description, no seed. */
  String editResult(StubImage image, String path, String description) {
    ObjectNode n = JSON.createObjectNode();
    ObjectNode o = n.putArray("images").addObject();
    o.put("url", server.baseUrl() + path);
    o.put("content_type", image.mediaType());
    o.put("file_name", "output." + extension(image));
    n.put("description", description);
    return n.toString();
  }

  static String imagePath(StubImage image, String name) {
    return "/files/tiger/" + name + "." + extension(image);
  }

  static String extension(StubImage image) {
    return switch (image.mediaType()) {
      case "image/jpeg" -> "jpeg";
      case "image/webp" -> "webp";
      default -> "png";
    };
  }

  // ------------------------------------------------------------------ stub helpers

  /** Submit to any app (not storage) answers IN_QUEUE with URLs under {@code root}. */
  void stubSubmit(String root, String requestId) {
    server.stubFor(anySubmit().willReturn(json(200, submitAnswer(root, requestId, 0))));
  }

  void stubSubmit(String appId, String root, String requestId) {
    server.stubFor(post(urlPathEqualTo("/" + appId)).willReturn(json(200, submitAnswer(root, requestId, 0))));
  }

  void stubStatus(String root, String requestId, String body) {
    server.stubFor(get(urlPathEqualTo("/" + root + "/requests/" + requestId + "/status")).willReturn(json(200, body)));
  }

  void stubResult(String root, String requestId, int status, String body) {
    server.stubFor(get(urlPathEqualTo("/" + root + "/requests/" + requestId)).willReturn(json(status, body)));
  }

  void stubCancel(String root, String requestId) {
    server.stubFor(put(urlPathEqualTo("/" + root + "/requests/" + requestId + "/cancel"))
        .willReturn(json(200, "{\"status\":\"CANCELLATION_REQUESTED\"}")));
  }

  void stubImage(String path, StubImage image) {
    server.stubFor(get(urlPathEqualTo(path)).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", image.mediaType()).withBody(image.bytes())));
  }

  /** Upload initiate answers with a presigned PUT target on this server and a CDN file URL. */
  void stubUpload(String name) {
    String body = "{\"upload_url\":\"" + server.baseUrl() + "/upload/presigned/" + name + "?X-Goog-Signature=abc\","
        + "\"file_url\":\"https://v3b.fal.media/files/b/" + name + "/in.png\"}";
    server.stubFor(post(urlPathEqualTo("/storage/upload/initiate")).willReturn(json(200, body)));
    server.stubFor(put(urlPathMatching("/upload/presigned/.*")).willReturn(aResponse().withStatus(200)));
  }

  /** The whole flux flow: submit, one COMPLETED status, the result, the images. */
  void stubFluxSuccess(List<StubImage> images, List<Boolean> nsfw) {
    stubSubmit(FLUX_ROOT, REQUEST_ID);
    stubStatus(FLUX_ROOT, REQUEST_ID, completed(FLUX_ROOT, REQUEST_ID));
    List<String> paths = new java.util.ArrayList<>();
    for (int i = 0; i < images.size(); i++) {
      String p = imagePath(images.get(i), "Qm3xV0aZ-" + i);
      paths.add(p);
      stubImage(p, images.get(i));
    }
    stubResult(FLUX_ROOT, REQUEST_ID, 200, fluxResult(images, paths, nsfw, images.get(0).seed(), "a red fox in snow"));
  }

  static MappingBuilder anySubmit() {
    return post(urlPathMatching("/(?!storage/|upload/).+"));
  }

  static ResponseDefinitionBuilder json(int status, String body) {
    return aResponse().withStatus(status).withHeader("Content-Type", "application/json").withBody(body);
  }

  private static JsonNode read(String s) {
    try {
      return JSON.readTree(s);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static byte[] blackJpeg(int w, int h) {
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
    server.stubFor(get(urlPathEqualTo(statusPath)).inScenario(sc).whenScenarioStateIs("running")
        .willReturn(json(200, inProgress(FLUX_ROOT, REQUEST_ID, "step 2/4"))).willSetStateTo("done"));
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
    StubImage image = dev.imagegen.testkit.StubImages.png(64, 64, 3);
    stubFluxSuccess(List.of(image), List.of(false));
    server.stubFor(get(urlPathMatching("/files/.*")).willReturn(aResponse().withStatus(404)
        .withHeader("Content-Type", "application/xml").withBody("<Error><Code>NoSuchKey</Code></Error>")));
  }

  @Override
  public void oversizedImage(StubImage image) {
    success(image);
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

  @Override
  public void healthy() {
    server.stubFor(get(urlPathMatching("/.+/requests/" + FalProvider.HEALTH_REQUEST_ID + "/status"))
        .willReturn(json(404, "{\"detail\":\"Request not found\"}")));
  }

  @Override
  public void healthAuthRefused() {
    server.stubFor(get(urlPathMatching("/.+/requests/" + FalProvider.HEALTH_REQUEST_ID + "/status"))
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

  private static void check(Object expected, Object actual, String what) {
    if (!Objects.equals(expected, actual)) {
      throw new AssertionError("submit " + what + ": expected <" + expected + "> but was <" + actual + ">");
    }
  }
}
