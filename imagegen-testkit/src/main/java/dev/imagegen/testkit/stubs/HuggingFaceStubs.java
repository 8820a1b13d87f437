package dev.imagegen.testkit.stubs;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.StubImages;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Hugging Face Inference (the {@code hf-inference} route of the router) on a WireMock server,
 * answering exactly as the protocol document {@code ../shared/protocols/huggingface.md} describes
 * it: {@code POST /hf-inference/models/{model}} answers raw image bytes with
 * {@code x-compute-time}, {@code x-compute-type} and {@code x-compute-images}, or a JSON
 * {@code {"error":...}} body (with {@code estimated_time} while loading, {@code x-request-id} on
 * errors); {@code GET /api/whoami-v2} checks the token.
 *
 * <p>The API is synchronous (no job id, no polling, no cancel). Not thread-safe: set up stubs from
 * one thread.
 */
public final class HuggingFaceStubs implements ProviderStubs {
  /** The path of the hf-inference route on the server. */
  public static final String BASE_PATH = "/hf-inference";
  /** A regular expression matching every model's path. */
  public static final String MODELS = BASE_PATH + "/models/.+";
  /** The token check's path. */
  public static final String WHOAMI = "/api/whoami-v2";

  /** The 401 body. */
  public static final String INVALID_CREDENTIALS = "{\"error\":\"Invalid credentials in Authorization header\"}";
  /** The 402 body of 2025. */
  public static final String CREDITS_2025 = "{\"error\":\"You have exceeded your monthly included credits for Inference Providers. "
      + "Subscribe to PRO to get 20x more monthly included credits.\"}";
  /** The 402 body of 2026. */
  public static final String CREDITS_2026 = "{\"error\":\"You have depleted your monthly included credits. Purchase pre-paid credits "
      + "to continue using Inference Providers with your account. Alternatively, subscribe to PRO to get 20x more included "
      + "usage.\"}";
  /** The 429 body (classic era). */
  public static final String RATE_LIMIT = "{\"error\":\"Rate limit reached. You reached free usage limit (reset hourly). Please "
      + "subscribe to a plan at https://huggingface.co/pricing to use the API at this rate\"}";
  /** The 403 body of a token without the Inference Providers permission. */
  public static final String NO_PERMISSION = "{\"error\":\"This authentication method does not have sufficient permissions to call "
      + "Inference Providers on behalf of user alice\"}";
  /** The 410 body of the retired classic host. */
  public static final String RETIRED = "{\"error\":\"https://api-inference.huggingface.co is no longer supported. Please use "
      + "https://router.huggingface.co instead.\"}";
  /** The 500 body. */
  public static final String UNKNOWN_ERROR = "{\"error\":\"unknown error\"}";
  /** The 503 body of a busy model. */
  public static final String TOO_BUSY = "{\"error\":\"Model too busy, unable to get response in less than 60 second(s)\"}";

  /** The protocol document's FLUX.1-schnell repo id. */
  private static final String FLUX_SCHNELL = "black-forest-labs/FLUX.1-schnell";
  /*
   * imagegen's model aliases for the three models the protocol document's table lists (the provider's
   * README); anything else must be a repo id, owner/name. No model means flux-schnell, the default.
   */
  private static final Map<String, String> ALIASES = Map.of(
      "flux-schnell", FLUX_SCHNELL,
      "flux-dev", "black-forest-labs/FLUX.1-dev",
      "sdxl", "stabilityai/stable-diffusion-xl-base-1.0");
  private static final Pattern REPO_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");
  /** FLUX.1-schnell's step range ends at 4 (the protocol document's table). */
  private static final int FLUX_SCHNELL_MAX_STEPS = 4;

  private static final String STARTED = com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The parameters the document's request table lists (an unknown one makes the pipeline raise: 400). */
  private static final Set<String> PARAMETERS =
      Set.of("negative_prompt", "width", "height", "num_inference_steps", "guidance_scale", "scheduler", "seed");

  private final WireMockServer server;

  /**
   * Stubs on this server.
   *
   * @param server the WireMock server the stubs are registered on
   */
  public HuggingFaceStubs(WireMockServer server) {
    this.server = server;
  }

  /**
   * The 503 body of a loading model.
   *
   * @param model the repo id
   * @param estimatedTime {@code estimated_time} in seconds
   * @return the JSON body
   */
  public static String loading(String model, double estimatedTime) {
    return "{\"error\":\"Model " + model + " is currently loading\",\"estimated_time\":" + estimatedTime + "}";
  }

  /**
   * The 404 body of an unknown model.
   *
   * @param model the repo id
   * @return the JSON body
   */
  public static String doesNotExist(String model) {
    return "{\"error\":\"Model " + model + " does not exist\"}";
  }

  @Override
  public Map<Scenario, String> unsupported() {
    Map<Scenario, String> m = new EnumMap<>(Scenario.class);
    m.put(Scenario.QUEUED_PROGRESS, "synchronous API: one POST answers the image; no queue position or progress");
    m.put(Scenario.REMOTE_CANCEL, "synchronous API: no job id and no cancel endpoint; closing the connection is the only abort");
    m.put(Scenario.CONTENT_POLICY, "the protocol documents no content-policy refusal or NSFW flag for text-to-image");
    m.put(Scenario.RESULT_URL_NOT_FOUND, "the image comes back as raw bytes in the answer; there is no result URL");
    return m;
  }

  @Override
  public String basePath() {
    return BASE_PATH;
  }

  // ----------------------------------------------------------------- answers

  /**
   * An image answer, as HF sends it: raw bytes and the compute headers.
   *
   * @param image the image
   * @return the answer
   */
  public static ResponseDefinitionBuilder image(StubImage image) {
    return aResponse().withStatus(200)
        .withHeader("Content-Type", image.mediaType())
        .withHeader("x-compute-time", "1.5")
        .withHeader("x-compute-type", "cpu")
        .withHeader("x-compute-images", "1")
        .withBody(image.bytes());
  }

  /**
   * An error answer, as HF sends it: JSON and an {@code x-request-id}.
   *
   * @param status the HTTP status
   * @param json the JSON body
   * @return the answer
   */
  public static ResponseDefinitionBuilder error(int status, String json) {
    return aResponse().withStatus(status)
        .withHeader("Content-Type", "application/json")
        .withHeader("x-request-id", "Root=1-6744a1b2-0123456789abcdef")
        .withBody(json);
  }

  @Override
  public WireMockServer wireMock() {
    return server;
  }

  /** The inference POST; the defaults of success, connection reset, oversized image and submit requests use it. */
  @Override
  public MappingBuilder submitStub() {
    return post(urlPathMatching(MODELS));
  }

  @Override
  public ResponseDefinitionBuilder successAnswer(StubImage image) {
    return image(image);
  }

  @Override
  public void queuedThenRunningThenDone(StubImage image) {
    // the closest this API comes: the model is loading, then it answers
    server.stubFor(submitStub().inScenario("loading").whenScenarioStateIs(STARTED)
        .willReturn(error(503, loading(FLUX_SCHNELL, 0.2))).willSetStateTo("loaded"));
    server.stubFor(submitStub().inScenario("loading").whenScenarioStateIs("loaded").willReturn(image(image)));
  }

  @Override
  public void authenticationRefused() {
    server.stubFor(submitStub().willReturn(error(401, INVALID_CREDENTIALS)));
  }

  @Override
  public void outOfCredits() {
    server.stubFor(submitStub().willReturn(error(402, CREDITS_2025)));
  }

  @Override
  public void rateLimited(Duration retryAfter) {
    server.stubFor(submitStub().willReturn(error(429, RATE_LIMIT).withHeader("Retry-After", String.valueOf(retryAfter.toSeconds()))));
  }

  @Override
  public void serverErrorThenSuccess(StubImage image) {
    server.stubFor(submitStub().inScenario("500").whenScenarioStateIs(STARTED)
        .willReturn(error(500, UNKNOWN_ERROR)).willSetStateTo("recovered"));
    server.stubFor(submitStub().inScenario("500").whenScenarioStateIs("recovered").willReturn(image(image)));
  }

  @Override
  public void emptyResponse() {
    server.stubFor(submitStub().willReturn(aResponse().withStatus(200).withHeader("Content-Type", "image/jpeg")
        .withHeader("x-compute-time", "1.5").withHeader("x-compute-type", "cpu")));
  }

  @Override
  public void malformedJson() {
    server.stubFor(submitStub().willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
        .withBody("{\"error\":\"Model is curr")));
  }

  /** Synchronous: the POST simply does not answer within any test deadline (20 s). */
  @Override
  public void neverFinishes() {
    server.stubFor(submitStub().willReturn(image(StubImages.png(64, 64, 1)).withFixedDelay(20_000)));
  }

  /** Not part of the documented protocol (see {@link #unsupported()}): a plain 400 in HF's error shape. */
  @Override
  public void contentPolicy() {
    server.stubFor(submitStub().willReturn(error(400, "{\"error\":\"Input was rejected\"}")));
  }

  /** No result URL exists on this API (see {@link #unsupported()}): the nearest 404 is an unknown model. */
  @Override
  public void resultUrlNotFound() {
    server.stubFor(submitStub().willReturn(error(404, doesNotExist("acme/no-such-model"))));
  }

  @Override
  public void invalidRequest(String providerMessage) {
    String body;
    try {
      body = JSON.writeValueAsString(Map.of("error", providerMessage));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    server.stubFor(submitStub().willReturn(error(400, body)));
  }

  @Override
  public void healthy() {
    server.stubFor(get(urlPathEqualTo(WHOAMI)).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json")
        .withBody("{\"type\":\"user\",\"id\":\"6123456789abcdef01234567\",\"name\":\"alice\",\"fullname\":\"Alice\","
            + "\"auth\":{\"type\":\"access_token\",\"accessToken\":{\"displayName\":\"imagegen\",\"role\":\"fineGrained\"}}}")));
  }

  @Override
  public void healthAuthRefused() {
    server.stubFor(get(urlPathEqualTo(WHOAMI)).willReturn(error(401, INVALID_CREDENTIALS)));
  }

  // ----------------------------------------------------------------- the wire

  /**
   * {@inheritDoc}
   *
   * <p>Checked against {@code huggingface.md}, not the provider's mapping: the POST goes to
   * {@code /hf-inference/models/{repo id}} with {@code Authorization: Bearer}, a JSON body and an
   * image {@code Accept}; the prompt is {@code inputs}, everything else under {@code parameters},
   * only parameters the document lists, {@code seed} an int (one image per call: a batch sends
   * seed, seed + 1, ...). What the document's model table says about each model: FLUX.1-schnell
   * takes 1 to 4 steps and no guidance ("not used"); FLUX models get no negative prompt (FLUX
   * ignores it and an unknown parameter makes the pipeline raise); other models take all of them.
   */
  @Override
  public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
    String requested = request.model();
    String model = requested == null ? FLUX_SCHNELL : repoId(requested);
    check(model != null, "model " + requested + " is not an alias or a repo id");
    String path = submit.getUrl().replaceAll("\\?.*", "");
    check(path.equals(BASE_PATH + "/models/" + model), "POST path " + path + ", expected " + BASE_PATH + "/models/" + model);
    check(("Bearer " + apiKey).equals(submit.getHeader("Authorization")), "Authorization is not 'Bearer <api-key>'");
    String ct = submit.getHeader("Content-Type");
    check(ct != null && ct.startsWith("application/json"), "Content-Type " + ct + ", expected application/json");
    String accept = submit.getHeader("Accept");
    check(accept != null && accept.startsWith("image/"), "Accept " + accept + ", expected image/...");
    JsonNode body;
    try {
      body = JSON.readTree(submit.getBody());
    } catch (IOException e) {
      throw new AssertionError("body is not JSON: " + submit.getBodyAsString(), e);
    }
    check(request.prompt().equals(body.path("inputs").asText(null)), "inputs is not the prompt: " + body);
    check(!body.has("prompt"), "the prompt goes in 'inputs', not 'prompt': " + body);
    List<String> top = names(body);
    top.removeAll(List.of("inputs", "parameters"));
    check(top.isEmpty(), "unexpected top-level fields " + top + ": " + body);
    JsonNode p = body.path("parameters");
    List<String> unknown = names(p);
    unknown.removeAll(PARAMETERS);
    check(unknown.isEmpty(), "parameters the pipeline does not take " + unknown + ": " + body);
    String id = model == null ? "" : model.toLowerCase(Locale.ROOT);
    boolean schnell = id.contains("flux.1-schnell");
    boolean flux = id.contains("flux");
    boolean takesGuidance = !schnell;
    boolean takesNegative = !flux;
    expectInt(p, "width", request.width());
    expectInt(p, "height", request.height());
    Integer steps = request.steps();
    if (steps != null && schnell) {
      steps = Math.min(steps, FLUX_SCHNELL_MAX_STEPS);
    }
    expectInt(p, "num_inference_steps", steps);
    if (takesGuidance && request.guidanceScale() != null) {
      check(p.path("guidance_scale").isNumber() && p.get("guidance_scale").asDouble() == request.guidanceScale(),
          "guidance_scale " + p.get("guidance_scale") + ", expected " + request.guidanceScale());
    } else {
      check(!p.has("guidance_scale"), "guidance_scale sent for " + model + " although " + (takesGuidance ? "unset" : "unused"));
    }
    String negative = takesNegative ? request.effectiveNegativePrompt() : null;
    if (negative != null) {
      check(negative.equals(p.path("negative_prompt").asText(null)), "negative_prompt " + p.get("negative_prompt")
          + ", expected " + negative);
    } else {
      check(!p.has("negative_prompt"), "negative_prompt sent for " + model + ": " + body);
    }
    if (request.seed() != null) {
      JsonNode seed = p.get("seed");
      check(seed != null && seed.isIntegralNumber(), "seed must be an integer: " + p.get("seed"));
      long s = seed == null ? 0 : seed.asLong();
      check(s >= request.seed() && s < request.seed() + request.numImages(), "seed " + s + ", expected " + request.seed()
          + (request.numImages() > 1 ? " + i" : ""));
    } else if (request.numImages() == 1) {
      check(!p.has("seed"), "seed sent although none was asked for");
    }
  }

  /** The repo id of an alias or a repo id, or null when the name is neither. */
  private static @Nullable String repoId(String model) {
    String alias = ALIASES.get(model.toLowerCase(Locale.ROOT));
    if (alias != null) {
      return alias;
    }
    return REPO_ID.matcher(model).matches() ? model : null;
  }

  private static void expectInt(JsonNode p, String name, @Nullable Integer expected) {
    if (expected == null) {
      check(!p.has(name), name + " sent although unset: " + p);
    } else {
      check(p.path(name).isIntegralNumber() && p.get(name).asInt() == expected, name + " " + p.get(name) + ", expected "
          + expected);
    }
  }

  private static List<String> names(JsonNode n) {
    List<String> out = new ArrayList<>();
    for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
      out.add(it.next());
    }
    return out;
  }

  private static void check(boolean ok, String message) {
    if (!ok) {
      throw new AssertionError("huggingface submit: " + message);
    }
  }
}
