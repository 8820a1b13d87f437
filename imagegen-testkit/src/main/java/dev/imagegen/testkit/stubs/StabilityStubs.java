package dev.imagegen.testkit.stubs;

import static com.github.tomakehurst.wiremock.client.WireMock.aMultipart;
import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.matching;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.http.Request;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.StubImages;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Base64;
import java.util.Collection;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Stability AI's REST API v2beta on a WireMock server, answering exactly as the protocol document
 * {@code ../shared/protocols/stability.md} describes it: {@code POST
 * /v2beta/stable-image/generate/{ultra,core,sd3}} and {@code /v2beta/stable-image/edit/inpaint}
 * take {@code multipart/form-data} (a {@code prompt} part, {@code authorization: Bearer},
 * {@code accept: image/*} or {@code application/json}) and answer the image's raw bytes with
 * {@code finish-reason} and {@code seed} headers, or {@code {"image","finish_reason","seed"}}; errors
 * are {@code {"id","name","errors":[...]}}; {@code GET /v1/user/balance} answers
 * {@code {"credits":...}}.
 *
 * <p>The generate endpoints are synchronous (no job id, no polling, no cancel); the asynchronous
 * endpoints' submit-and-poll shape is there too ({@link #asyncThenDone}). The error
 * {@code name}s of 400 ({@code bad_request}), 401 ({@code unauthorized}), 402
 * ({@code payment_required}) and 403 ({@code content_moderation}) are the document's; those of
 * 404, 413, 422, 429 and 500 are not documented and are plausible stand-ins (the provider maps by
 * status). Not thread-safe: set up stubs from one thread.
 */
public final class StabilityStubs implements ProviderStubs {
  /** A regular expression matching every endpoint that makes a (paid) image. */
  public static final String GENERATE = "/v2beta/stable-image/(generate/(ultra|core|sd3)|edit/inpaint)";
  /** The asynchronous creative upscaler, which answers a generation id. */
  public static final String CREATIVE_UPSCALE = "/v2beta/stable-image/upscale/creative";
  /** Where asynchronous generations are polled: {@code RESULTS + id}. */
  public static final String RESULTS = "/v2beta/results/";
  /** The balance endpoint health checks ask. */
  public static final String BALANCE = "/v1/user/balance";
  /** The error {@code id} every stubbed error carries. */
  public static final String ERROR_ID = "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4";
  /** The documented 403 text. */
  public static final String MODERATION_TEXT = "Your request was flagged by our content moderation system, as a result your "
      + "request was denied and you were not charged.";
  /** The 429 text. */
  public static final String RATE_LIMIT_TEXT = "You have exceeded the rate limit of 150 requests within a 10 second period, and "
      + "have been timed out for 60 seconds.";

  private static final String STARTED = com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> RATIOS = List.of("21:9", "16:9", "3:2", "5:4", "1:1", "4:5", "2:3", "9:16", "9:21");
  private static final Set<String> SD3_MODELS = Set.of("sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3-large",
      "sd3-large-turbo", "sd3-medium");
  /** The fields each endpoint's reference lists. */
  private static final Map<String, Set<String>> FIELDS = Map.of(
      "ultra", Set.of("prompt", "negative_prompt", "aspect_ratio", "seed", "output_format", "image", "strength"),
      "core", Set.of("prompt", "negative_prompt", "aspect_ratio", "seed", "output_format", "style_preset"),
      "sd3", Set.of("prompt", "mode", "image", "strength", "aspect_ratio", "model", "seed", "output_format",
          "negative_prompt", "cfg_scale"),
      "inpaint", Set.of("image", "prompt", "mask", "negative_prompt", "grow_mask", "seed", "output_format"));

  private final WireMockServer server;

  /**
   * Stubs on this server.
   *
   * @param server the WireMock server the stubs are registered on
   */
  public StabilityStubs(WireMockServer server) {
    this.server = server;
  }

  @Override
  public Map<Scenario, String> unsupported() {
    Map<Scenario, String> m = new EnumMap<>(Scenario.class);
    m.put(Scenario.QUEUED_PROGRESS, "the generate endpoints are synchronous: one POST answers the image; no queue position");
    m.put(Scenario.REMOTE_CANCEL, "the generate endpoints are synchronous: no job id and no cancel endpoint");
    m.put(Scenario.RESULT_URL_NOT_FOUND, "the image comes back as raw bytes in the answer; there is no result URL");
    return m;
  }

  // ----------------------------------------------------------------- answers

  /**
   * An image answer as {@code accept: image/*} gets it: raw bytes, {@code finish-reason},
   * {@code seed}, {@code x-request-id}.
   *
   * @param image the image
   * @param finishReason {@code SUCCESS} or {@code CONTENT_FILTERED}
   * @return the answer
   */
  public static ResponseDefinitionBuilder image(StubImage image, String finishReason) {
    return aResponse().withStatus(200)
        .withHeader("Content-Type", image.mediaType())
        .withHeader("finish-reason", finishReason)
        .withHeader("seed", String.valueOf(image.seed()))
        .withHeader("x-request-id", "5a6b7c8d9e0f")
        .withBody(image.bytes());
  }

  /**
   * An image answer as {@code accept: application/json} gets it: {@code content-type:
   * application/json; type=image/png}, {@code {"image":"<base64>","finish_reason":...,"seed":...}},
   * no {@code finish-reason} or {@code seed} headers.
   *
   * @param image the image
   * @param finishReason {@code SUCCESS} or {@code CONTENT_FILTERED}
   * @return the answer
   */
  public static ResponseDefinitionBuilder json(StubImage image, String finishReason) {
    return aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json; type=" + image.mediaType())
        .withBody("{\"image\":\"" + Base64.getEncoder().encodeToString(image.bytes()) + "\",\"finish_reason\":\""
            + finishReason + "\",\"seed\":" + image.seed() + "}");
  }

  /**
   * An error answer in Stability's shape.
   *
   * @param status the HTTP status
   * @param name the error's {@code name}
   * @param errors the {@code errors} array
   * @return the answer
   */
  public static ResponseDefinitionBuilder error(int status, String name, String... errors) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("id", ERROR_ID);
    body.put("name", name);
    body.put("errors", List.of(errors));
    try {
      return aResponse().withStatus(status).withHeader("Content-Type", "application/json")
          .withBody(JSON.writeValueAsString(body));
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public WireMockServer wireMock() {
    return server;
  }

  /**
   * The generating POST, as the API accepts it: multipart with a {@code prompt} part, a bearer
   * {@code authorization} and an image or JSON {@code accept}.
   */
  @Override
  public MappingBuilder submitStub() {
    return post(urlPathMatching(GENERATE))
        .withHeader("Content-Type", matching("multipart/form-data; ?boundary=.+"))
        .withHeader("authorization", matching("Bearer .+"))
        .withHeader("accept", matching("image/\\*|application/json"))
        .withMultipartRequestBody(aMultipart().withName("prompt"));
  }

  @Override
  public ResponseDefinitionBuilder successAnswer(StubImage image) {
    return image(image, "SUCCESS");
  }

  @Override
  public String errorBody(int status, String message) {
    try {
      return JSON.writeValueAsString(Map.of("id", ERROR_ID, "name", "bad_request", "errors", List.of(message)));
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The same image in the JSON form ({@code accept: application/json}). */
  public void successJson(StubImage image) {
    server.stubFor(submitStub().willReturn(json(image, "SUCCESS")));
  }

  @Override
  public void authenticationRefused() {
    server.stubFor(submitStub().willReturn(error(401, "unauthorized", "authorization: invalid or missing API key")));
  }

  @Override
  public void outOfCredits() {
    server.stubFor(submitStub().willReturn(error(402, "payment_required",
        "You lack sufficient credits to make this request. Please purchase more credits and try again.")));
  }

  /**
   * A 429. Stability documents no {@code Retry-After}; the kit's scenario announces one, so it is
   * sent here ({@link #rateLimitedAsDocumented()} answers without it).
   */
  @Override
  public void rateLimited(Duration retryAfter) {
    server.stubFor(submitStub().willReturn(error(429, "rate_limit_exceeded", RATE_LIMIT_TEXT)
        .withHeader("Retry-After", String.valueOf(retryAfter.toSeconds()))));
  }

  /** A 429 as documented: no {@code Retry-After}. */
  public void rateLimitedAsDocumented() {
    server.stubFor(submitStub().willReturn(error(429, "rate_limit_exceeded", RATE_LIMIT_TEXT)));
  }

  /** "You will not be charged for failed results": a 500 in Stability's shape may be sent again. */
  @Override
  public boolean failedAnswersAreNotCharged() {
    return true;
  }

  /** A 500 in Stability's shape, then the image. */
  @Override
  public void serverErrorThenSuccess(StubImage image) {
    server.stubFor(submitStub().inScenario("500").whenScenarioStateIs(STARTED)
        .willReturn(error(500, "internal_error", "An unexpected server error has occurred, please try again later."))
        .willSetStateTo("recovered"));
    server.stubFor(submitStub().inScenario("500").whenScenarioStateIs("recovered").willReturn(successAnswer(image)));
  }

  @Override
  public void emptyResponse() {
    server.stubFor(submitStub().willReturn(aResponse().withStatus(200).withHeader("Content-Type", "image/png")
        .withHeader("finish-reason", "SUCCESS").withHeader("seed", "42")));
  }

  @Override
  public void malformedJson() {
    server.stubFor(submitStub().willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json; type=image/png").withBody("{\"image\":\"iVBORw0KGgo")));
  }

  /** Synchronous: the POST does not answer within any test deadline (20 s). */
  @Override
  public void neverFinishes() {
    server.stubFor(submitStub().willReturn(successAnswer(StubImages.png(64, 64, 1)).withFixedDelay(20_000)));
  }

  /** 200 with {@code finish-reason: CONTENT_FILTERED} and a (blurred) image. */
  @Override
  public void contentPolicy() {
    server.stubFor(submitStub().willReturn(image(StubImages.png(64, 64, 42), "CONTENT_FILTERED")));
  }

  /** The 403 {@code content_moderation} refusal, before anything is generated (not charged). */
  public void moderation() {
    server.stubFor(submitStub().willReturn(error(403, "content_moderation", MODERATION_TEXT)));
  }

  @Override
  public void invalidRequest(String providerMessage) {
    server.stubFor(submitStub().willReturn(error(400, "bad_request", providerMessage)));
  }

  /** 413: the request was larger than 10 MiB. */
  public void payloadTooLarge() {
    server.stubFor(submitStub().willReturn(error(413, "payload_too_large", "body: must be at most 10MiB")));
  }

  /**
   * 422: well-formed but rejected.
   *
   * @param message the {@code errors} entry
   */
  public void unprocessable(String message) {
    server.stubFor(submitStub().willReturn(error(422, "invalid_request", message)));
  }

  /** A 502 from a gateway in front of the API: HTML, not Stability's error shape (the outcome is unknown). */
  public void gatewayError() {
    server.stubFor(submitStub().willReturn(aResponse().withStatus(502).withHeader("Content-Type", "text/html")
        .withBody("<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>")));
  }

  /**
   * An asynchronous endpoint ({@code POST /v2beta/stable-image/upscale/creative}) answering
   * {@code {"id":...}}, whose {@code GET /v2beta/results/{id}} answers 202
   * {@code {"id","status":"in-progress"}} twice, then 200 with the image (bytes,
   * {@code finish-reason}, {@code seed}); any other id answers 404.
   *
   * @param id the generation id
   * @param image the image
   */
  public void asyncThenDone(String id, StubImage image) {
    server.stubFor(post(urlPathEqualTo(CREATIVE_UPSCALE)).withHeader("authorization", matching("Bearer .+"))
        .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
            .withBody("{\"id\":\"" + id + "\"}")));
    String scenario = "result-" + id;
    String pending = "{\"id\":\"" + id + "\",\"status\":\"in-progress\"}";
    server.stubFor(get(urlPathEqualTo(RESULTS + id)).inScenario(scenario).whenScenarioStateIs(STARTED)
        .willReturn(aResponse().withStatus(202).withHeader("Content-Type", "application/json").withBody(pending))
        .willSetStateTo("polled once"));
    server.stubFor(get(urlPathEqualTo(RESULTS + id)).inScenario(scenario).whenScenarioStateIs("polled once")
        .willReturn(aResponse().withStatus(202).withHeader("Content-Type", "application/json").withBody(pending))
        .willSetStateTo("done"));
    server.stubFor(get(urlPathEqualTo(RESULTS + id)).inScenario(scenario).whenScenarioStateIs("done")
        .willReturn(image(image, "SUCCESS")));
    server.stubFor(get(urlPathMatching(RESULTS + ".+")).atPriority(10).willReturn(error(404, "not_found",
        "id: the generation either does not exist or has expired.")));
  }

  @Override
  public MappingBuilder healthStub() {
    return get(urlPathEqualTo(BALANCE));
  }

  @Override
  public void healthy() {
    server.stubFor(healthStub().willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
        .withBody("{\"credits\":12.5}")));
  }

  @Override
  public void healthAuthRefused() {
    server.stubFor(healthStub().willReturn(error(401, "unauthorized", "authorization: invalid or missing API key")));
  }

  // ----------------------------------------------------------------- the wire

  /**
   * {@inheritDoc}
   *
   * <p>Checked against {@code stability.md}, not the provider's mapping, for the provider's
   * default configuration (text to image on {@code core}; image to image on
   * {@code sd3.5-large}; a mask on inpaint): the endpoint of the model; {@code authorization:
   * Bearer <key>}; multipart; only the fields that endpoint's reference lists; {@code prompt};
   * {@code negative_prompt} (never for {@code sd3-large-turbo}); the nearest documented
   * {@code aspect_ratio} for a size, never with an init image; {@code seed}; {@code cfg_scale} for
   * the SD3 family only; {@code output_format} {@code png}, {@code jpeg} or {@code webp} (not
   * {@code webp} on SD3); {@code strength} with an init image (SD3 with
   * {@code mode=image-to-image}); {@code model} for SD3 only.
   */
  @Override
  public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
    String model = expectedModel(request);
    String endpoint = model.startsWith("sd3") ? "sd3" : model;
    String path = submit.getUrl().replaceAll("\\?.*", "");
    String expectedPath = "/v2beta/stable-image/" + ("inpaint".equals(model) ? "edit/inpaint" : "generate/" + endpoint);
    check(path.equals(expectedPath), "POST path " + path + ", expected " + expectedPath);
    check(("Bearer " + apiKey).equals(submit.getHeader("authorization")), "authorization is not 'Bearer <api-key>'");
    String ct = submit.getHeader("Content-Type");
    check(ct != null && ct.startsWith("multipart/form-data"), "Content-Type " + ct + ", expected multipart/form-data");
    String accept = submit.getHeader("accept");
    check("image/*".equals(accept) || "application/json".equals(accept), "accept " + accept
        + ", expected image/* or application/json");
    Map<String, String> f = parts(submit);
    Set<String> allowed = FIELDS.getOrDefault(endpoint, Set.of());
    for (String name : f.keySet()) {
      check(allowed.contains(name), "field '" + name + "' is not one " + expectedPath + " takes (takes " + allowed + ")");
    }
    check(request.prompt().equals(f.get("prompt")), "prompt " + f.get("prompt") + ", expected the request's prompt");
    String negative = "sd3-large-turbo".equals(model) ? null : request.effectiveNegativePrompt();
    check(java.util.Objects.equals(negative, f.get("negative_prompt")), "negative_prompt " + f.get("negative_prompt")
        + ", expected " + negative);
    boolean init = request.initImage() != null;
    Integer w = request.width();
    Integer h = request.height();
    if (w != null && h != null && !init && !"inpaint".equals(model)) {
      String ratio = nearest(w, h);
      check(ratio.equals(f.get("aspect_ratio")), "aspect_ratio " + f.get("aspect_ratio") + " for " + w + "x" + h
          + ", expected " + ratio);
    } else {
      check(!f.containsKey("aspect_ratio"), "aspect_ratio sent " + (init ? "with an init image" : "without a size"));
    }
    check(java.util.Objects.equals(request.seed() == null ? null : String.valueOf(request.seed()), f.get("seed")),
        "seed " + f.get("seed") + ", expected " + request.seed());
    if ("sd3".equals(endpoint)) {
      check(model.equals(f.get("model")), "model " + f.get("model") + ", expected " + model);
      check((init ? "image-to-image" : "text-to-image").equals(f.getOrDefault("mode", "text-to-image")), "mode "
          + f.get("mode") + (init ? " with an init image" : ""));
      if (request.guidanceScale() != null) {
        check(f.containsKey("cfg_scale") && Double.parseDouble(f.get("cfg_scale")) == request.guidanceScale(),
            "cfg_scale " + f.get("cfg_scale") + ", expected " + request.guidanceScale());
      }
    }
    String format = f.get("output_format");
    if (format != null) {
      check(Set.of("png", "jpeg", "webp").contains(format), "output_format " + format);
      check(!("sd3".equals(endpoint) && "webp".equals(format)), "output_format webp is not taken by sd3");
    }
    if (init && !"inpaint".equals(model)) {
      check(f.containsKey("image"), "no image part with an init image");
      String s = f.get("strength");
      check(s != null && Double.parseDouble(s) > 0 && Double.parseDouble(s) <= 1, "strength " + s
          + " is required in (0, 1] with an init image");
      if (request.strength() != null) {
        check(Double.parseDouble(s) == request.strength(), "strength " + s + ", expected " + request.strength());
      }
    } else {
      check(!f.containsKey("strength"), "strength sent without an init image on " + model);
    }
    check(request.mask() == null || f.containsKey("mask"), "no mask part although the request has a mask");
  }

  private static String expectedModel(ImageGenerationRequest request) {
    String m = request.model();
    if (m != null) {
      String n = m.strip().toLowerCase(Locale.ROOT);
      return "stable-image-ultra".equals(n) ? "ultra" : "stable-image-core".equals(n) ? "core" : n;
    }
    if (request.mask() != null) {
      return "inpaint";
    }
    return request.initImage() != null ? "sd3.5-large" : "core";
  }

  /** The documented ratio nearest to a size (by the log of the ratio). */
  private static String nearest(int w, int h) {
    double want = Math.log((double) w / h);
    String best = "1:1";
    double bestDiff = Double.MAX_VALUE;
    for (String r : RATIOS) {
      String[] p = r.split(":");
      double d = Math.abs(Math.log(Double.parseDouble(p[0]) / Double.parseDouble(p[1])) - want);
      if (d < bestDiff - 1e-12) {
        bestDiff = d;
        best = r;
      }
    }
    return best;
  }

  /** The parts of a multipart submit by name; a file part's value is its size. */
  private static Map<String, String> parts(LoggedRequest submit) {
    Collection<Request.Part> ps;
    try {
      ps = submit.getParts();
    } catch (RuntimeException e) {
      throw new AssertionError("stability submit: the body is not multipart/form-data", e);
    }
    check(ps != null && !ps.isEmpty(), "the body has no multipart parts");
    Map<String, String> out = new LinkedHashMap<>();
    for (Request.Part p : ps) {
      check(!out.containsKey(p.getName()), "field '" + p.getName() + "' sent twice");
      String disposition = String.valueOf(p.getHeader("Content-Disposition").firstValue());
      boolean file = disposition.contains("filename=");
      out.put(p.getName(), file ? "<file " + p.getBody().asBytes().length + " bytes>" : p.getBody().asString());
    }
    return out;
  }

  private static void check(boolean ok, String message) {
    if (!ok) {
      throw new AssertionError("stability submit: " + message);
    }
  }
}
