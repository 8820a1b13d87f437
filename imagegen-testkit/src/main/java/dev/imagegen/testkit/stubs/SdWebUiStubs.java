package dev.imagegen.testkit.stubs;

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
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.matching.RequestPatternBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.Lora;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.StubImages;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The Stable Diffusion WebUI's (AUTOMATIC1111 / Forge) {@code --api} on a WireMock server, shaped
 * like the protocol document {@code ../shared/protocols/sdwebui.md}: blocking
 * {@code /sdapi/v1/txt2img} and {@code /sdapi/v1/img2img} answering {@code images} (bare base64) and
 * {@code info} (a JSON string), {@code /sdapi/v1/progress}, {@code /sdapi/v1/interrupt}, the model
 * list, and the WebUI's error bodies ({@code {"error","detail","body","errors"}}).
 *
 * <p>Self-hosted: no credits, no rate limit, no content filter, no result URLs (see
 * {@link #unsupported()}). Not thread-safe: set up stubs from one thread.
 */
public final class SdWebUiStubs implements ProviderStubs {
  /** Text to image. */
  public static final String TXT2IMG = "/sdapi/v1/txt2img";
  /** Image to image. */
  public static final String IMG2IMG = "/sdapi/v1/img2img";
  /** The running job's progress. */
  public static final String PROGRESS = "/sdapi/v1/progress";
  /** Stops the running job. */
  public static final String INTERRUPT = "/sdapi/v1/interrupt";
  /** The checkpoint list. */
  public static final String SD_MODELS = "/sdapi/v1/sd-models";
  /** The sampler list. */
  public static final String SAMPLERS = "/sdapi/v1/samplers";
  /** The scheduler list (1.9+). */
  public static final String SCHEDULERS = "/sdapi/v1/schedulers";
  /** The LoRA list. */
  public static final String LORAS = "/sdapi/v1/loras";

  /** The progress body of an idle WebUI. */
  public static final String IDLE = "{\"progress\":0.0,\"eta_relative\":0.0,\"state\":{\"skipped\":false,\"interrupted\":false,"
      + "\"stopping_generation\":false,\"job\":\"\",\"job_count\":0,\"job_timestamp\":\"0\",\"job_no\":0,\"sampling_step\":0,"
      + "\"sampling_steps\":0},\"current_image\":null,\"textinfo\":null}";
  /** A checkpoint list: SD 1.5 and SDXL base (the latter not yet hashed). */
  public static final String SD_MODELS_BODY = "[{\"title\":\"v1-5-pruned-emaonly.safetensors [6ce0161689]\",\"model_name\":\"v1-5-pruned-emaonly\","
      + "\"hash\":\"6ce0161689\",\"sha256\":\"6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa\","
      + "\"filename\":\"/models/Stable-diffusion/v1-5-pruned-emaonly.safetensors\",\"config\":null},"
      + "{\"title\":\"sd_xl_base_1.0.safetensors [31e35c80fc]\",\"model_name\":\"sd_xl_base_1.0\",\"hash\":\"31e35c80fc\","
      + "\"sha256\":null,\"filename\":\"/models/Stable-diffusion/sd_xl_base_1.0.safetensors\",\"config\":null}]";
  /** A sampler list. */
  public static final String SAMPLERS_BODY = "[{\"name\":\"DPM++ 2M\",\"aliases\":[\"k_dpmpp_2m\"],\"options\":{}},"
      + "{\"name\":\"Euler a\",\"aliases\":[\"k_euler_a\",\"k_euler_ancestral\"],\"options\":{\"uses_ensd\":\"True\"}},"
      + "{\"name\":\"Euler\",\"aliases\":[\"k_euler\"],\"options\":{}},"
      + "{\"name\":\"DDIM\",\"aliases\":[],\"options\":{\"default_eta_is_0\":\"True\"}}]";
  /** A scheduler list. */
  public static final String SCHEDULERS_BODY = "[{\"name\":\"automatic\",\"label\":\"Automatic\",\"aliases\":null,\"default_rho\":-1,\"need_inner_model\":false},"
      + "{\"name\":\"karras\",\"label\":\"Karras\",\"aliases\":null,\"default_rho\":7.0,\"need_inner_model\":false},"
      + "{\"name\":\"exponential\",\"label\":\"Exponential\",\"aliases\":null,\"default_rho\":-1,\"need_inner_model\":false},"
      + "{\"name\":\"sgm_uniform\",\"label\":\"SGM Uniform\",\"aliases\":[\"SGMUniform\"],\"default_rho\":-1,\"need_inner_model\":true}]";
  /** A LoRA list with one LoRA. */
  public static final String LORAS_BODY = "[{\"name\":\"film-grain\",\"alias\":\"filmgrain\",\"path\":\"/models/Lora/film-grain.safetensors\","
      + "\"metadata\":{}}]";
  /** The 500 body of CUDA running out of memory. */
  public static final String OOM_BODY = "{\"error\":\"OutOfMemoryError\",\"detail\":\"\",\"body\":\"\",\"errors\":\"CUDA out of memory. "
      + "Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity; 5.12 GiB already allocated)\"}";
  /** The 401 body ({@code --api-auth}). */
  public static final String UNAUTHORIZED_BODY = "{\"error\":\"HTTPException\",\"detail\":\"Incorrect username or password\",\"body\":\"\","
      + "\"errors\":\"401: Incorrect username or password\"}";
  /** The 404 body of a WebUI without {@code --api}, or a wrong path. */
  public static final String NOT_FOUND_BODY = "{\"detail\":\"Not Found\"}";

  /*
   * The floor of the imagegen WebUI provider's /progress polling (200 ms; the protocol document
   * gives none: /progress takes no lock). A literal here: the testkit depends on no provider module.
   */
  private static final Duration PROGRESS_FLOOR = Duration.ofMillis(200);
  /** One LoRA in the prompt: the WebUI's extra-network syntax {@code <lora:name:weight>}. */
  private static final Pattern LORA_TAG = Pattern.compile(" <lora:([^:<>]+):([^:<>]+)>");

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String STARTED = com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
  private final WireMockServer server;

  /**
   * Stubs on this server.
   *
   * @param server the WireMock server the stubs are registered on
   */
  public SdWebUiStubs(WireMockServer server) {
    this.server = server;
  }

  @Override
  public Map<Scenario, String> unsupported() {
    return Map.of(
        Scenario.QUEUED_PROGRESS, "the WebUI has no queue position: a call blocks on its FIFO lock and /progress reports "
            + "only the job holding the GPU",
        Scenario.OUT_OF_CREDITS, "self-hosted: no credits, quotas or billing",
        Scenario.RESULT_URL_NOT_FOUND, "images come back inline as base64 in the txt2img answer: there are no result URLs",
        Scenario.RATE_LIMITED, "the WebUI never answers 429: it has no rate limit, calls only queue on its lock",
        Scenario.CONTENT_POLICY, "the WebUI has no content filter and no NSFW flag in its API");
  }

  @Override
  public Duration minPollInterval() {
    return PROGRESS_FLOOR;
  }

  // ------------------------------------------------------------------ answers

  /**
   * A txt2img/img2img answer as the WebUI sends it: bare base64 images, info as a JSON string.
   *
   * @param images the images (the first one's seed and size go into {@code info})
   * @param prompt the prompt echoed
   * @param modelName {@code info.sd_model_name}
   * @return the JSON body
   */
  public static String generated(List<StubImage> images, String prompt, String modelName) {
    ObjectNode body = JSON.createObjectNode();
    ArrayNode arr = body.putArray("images");
    images.forEach(i -> arr.add(Base64.getEncoder().encodeToString(i.bytes())));
    StubImage first = images.get(0);
    ObjectNode params = body.putObject("parameters");
    params.put("prompt", prompt).put("seed", -1).put("steps", 20).put("sampler_name", "Euler a")
        .put("width", first.width()).put("height", first.height());
    ObjectNode info = JSON.createObjectNode();
    info.put("prompt", prompt);
    info.put("seed", first.seed());
    ArrayNode seeds = info.putArray("all_seeds");
    images.forEach(i -> seeds.add(i.seed()));
    info.put("subseed", 1093481203L).put("sampler_name", "Euler a").put("cfg_scale", 7.0).put("steps", 20)
        .put("width", first.width()).put("height", first.height()).put("sd_model_name", modelName)
        .put("sd_model_hash", "6ce0161689").put("index_of_first_image", 0);
    info.putArray("infotexts").add(prompt + "\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: " + first.seed() + ", Size: "
        + first.width() + "x" + first.height());
    info.put("job_timestamp", "20261120101502").put("version", "v1.10.1");
    body.put("info", info.toString()); // a JSON string inside the JSON
    return body.toString();
  }

  /**
   * A 200 JSON answer with the WebUI's {@code X-Process-Time} header.
   *
   * @param body the JSON body
   * @return the answer
   */
  public static ResponseDefinitionBuilder ok(String body) {
    return aResponse().withStatus(200).withHeader("Content-Type", "application/json").withHeader("X-Process-Time", "2.5")
        .withBody(body);
  }

  /**
   * A progress body of a busy WebUI.
   *
   * @param progress 0..1
   * @param eta {@code eta_relative} in seconds
   * @param step the sampling step
   * @param steps the sampling steps
   * @return the JSON body
   */
  public static String progress(double progress, double eta, int step, int steps) {
    return "{\"progress\":" + progress + ",\"eta_relative\":" + eta + ",\"state\":{\"skipped\":false,\"interrupted\":false,"
        + "\"stopping_generation\":false,\"job\":\"scripts_txt2img\",\"job_count\":1,\"job_timestamp\":\"20261120101502\","
        + "\"job_no\":0,\"sampling_step\":" + step + ",\"sampling_steps\":" + steps + "},\"current_image\":null,\"textinfo\":null}";
  }

  private void generation(ResponseDefinitionBuilder answer) {
    server.stubFor(post(urlPathMatching("/sdapi/v1/(txt2img|img2img)")).willReturn(answer));
  }

  private void idleProgress() {
    server.stubFor(get(urlPathEqualTo(PROGRESS)).willReturn(ok(IDLE)));
  }

  private void interruptAnswers() {
    server.stubFor(post(urlPathEqualTo(INTERRUPT)).willReturn(ok("{}")));
  }

  @Override
  public void success(StubImage image) {
    generation(ok(generated(List.of(image), "a lighthouse at dusk", "v1-5-pruned-emaonly")));
    idleProgress();
    interruptAnswers();
  }

  /** Blocks for a while (queued behind another job, then sampling) and reports progress meanwhile. */
  @Override
  public void queuedThenRunningThenDone(StubImage image) {
    generation(ok(generated(List.of(image), "a lighthouse at dusk", "v1-5-pruned-emaonly")).withFixedDelay(1500));
    String sc = "progress";
    server.stubFor(get(urlPathEqualTo(PROGRESS)).inScenario(sc).whenScenarioStateIs(STARTED)
        .willReturn(ok(IDLE)).willSetStateTo("running"));
    server.stubFor(get(urlPathEqualTo(PROGRESS)).inScenario(sc).whenScenarioStateIs("running")
        .willReturn(ok(progress(0.3, 4.2, 6, 20))).willSetStateTo("later"));
    server.stubFor(get(urlPathEqualTo(PROGRESS)).inScenario(sc).whenScenarioStateIs("later")
        .willReturn(ok(progress(0.75, 1.1, 15, 20))));
    interruptAnswers();
  }

  @Override
  public void authenticationRefused() {
    generation(aResponse().withStatus(401).withHeader("Content-Type", "application/json").withBody(UNAUTHORIZED_BODY));
    server.stubFor(get(urlPathEqualTo(PROGRESS)).willReturn(aResponse().withStatus(401)
        .withHeader("Content-Type", "application/json").withBody(UNAUTHORIZED_BODY)));
  }

  /**
   * Unsupported: self-hosted, no credits.
   *
   * @throws UnsupportedOperationException always
   */
  @Override
  public void outOfCredits() {
    throw new UnsupportedOperationException(unsupported().get(Scenario.OUT_OF_CREDITS));
  }

  /**
   * Unsupported: the WebUI never answers 429.
   *
   * @throws UnsupportedOperationException always
   */
  @Override
  public void rateLimited(Duration retryAfter) {
    throw new UnsupportedOperationException(unsupported().get(Scenario.RATE_LIMITED));
  }

  /** A crashed generation (CUDA out of memory, the WebUI's 500 body), then success. */
  @Override
  public void serverErrorThenSuccess(StubImage image) {
    String sc = "oom";
    server.stubFor(post(urlPathMatching("/sdapi/v1/(txt2img|img2img)")).inScenario(sc).whenScenarioStateIs(STARTED)
        .willReturn(aResponse().withStatus(500).withHeader("Content-Type", "application/json").withBody(OOM_BODY))
        .willSetStateTo("recovered"));
    server.stubFor(post(urlPathMatching("/sdapi/v1/(txt2img|img2img)")).inScenario(sc).whenScenarioStateIs("recovered")
        .willReturn(ok(generated(List.of(image), "a lighthouse at dusk", "v1-5-pruned-emaonly"))));
    idleProgress();
    interruptAnswers();
  }

  /** The connection drops after the POST was sent; the WebUI runs the job on (quirk 6). */
  @Override
  public void connectionReset() {
    generation(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER));
    server.stubFor(get(urlPathEqualTo(PROGRESS)).willReturn(ok(progress(0.2, 6.0, 4, 20))));
    interruptAnswers();
  }

  @Override
  public void emptyResponse() {
    generation(aResponse().withStatus(200).withHeader("Content-Type", "application/json").withBody(""));
    idleProgress();
    interruptAnswers();
  }

  @Override
  public void malformedJson() {
    generation(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
        .withBody("{\"images\":[\"iVBORw0KGgoAAAANSUhEUgAA"));
    idleProgress();
    interruptAnswers();
  }

  /** The POST blocks (sampling never ends, 60 s); progress says busy; interrupt answers {@code {}}. */
  @Override
  public void neverFinishes() {
    generation(ok(generated(List.of(StubImages.png(64, 64, 1)), "never", "v1-5-pruned-emaonly"))
        .withFixedDelay(60_000));
    server.stubFor(get(urlPathEqualTo(PROGRESS)).willReturn(ok(progress(0.4, 30.0, 8, 20))));
    interruptAnswers();
  }

  /** FastAPI's validation answer (A1111 1.10, pydantic 1) carrying the text. */
  @Override
  public void invalidRequest(String providerMessage) {
    ObjectNode body = JSON.createObjectNode();
    ObjectNode d = body.putArray("detail").addObject();
    d.putArray("loc").add("body").add("steps");
    d.put("msg", providerMessage).put("type", "value_error");
    generation(aResponse().withStatus(422).withHeader("Content-Type", "application/json").withBody(body.toString()));
    idleProgress();
  }

  @Override
  public void healthy() {
    server.stubFor(get(urlPathEqualTo(SD_MODELS)).willReturn(ok(SD_MODELS_BODY)));
    idleProgress();
  }

  @Override
  public void healthAuthRefused() {
    ResponseDefinitionBuilder refused = aResponse().withStatus(401).withHeader("Content-Type", "application/json")
        .withBody(UNAUTHORIZED_BODY);
    server.stubFor(get(urlPathEqualTo(SD_MODELS)).willReturn(refused));
    server.stubFor(get(urlPathEqualTo(PROGRESS)).willReturn(refused));
  }

  // ------------------------------------------------------------------ the wire

  @Override
  public RequestPatternBuilder submitRequests() {
    return postRequestedFor(urlPathMatching("/sdapi/v1/(txt2img|img2img)"));
  }

  @Override
  public @Nullable RequestPatternBuilder cancelRequests() {
    return postRequestedFor(urlPathEqualTo(INTERRUPT));
  }

  @Override
  public @Nullable RequestPatternBuilder pollRequests() {
    return getRequestedFor(urlPathEqualTo(PROGRESS));
  }

  /**
   * {@inheritDoc}
   *
   * <p>The WebUI's names, from {@code sdwebui.md}: {@code prompt} (each LoRA appended as
   * {@code <lora:name:weight>}, the WebUI's extra-network syntax), {@code negative_prompt},
   * {@code seed} (-1 for random), {@code batch_size}, {@code width}, {@code height}, {@code steps},
   * {@code cfg_scale}, {@code sampler_name}; img2img with {@code init_images} for an init image,
   * else txt2img; {@code Authorization: Basic} for a {@code user:pass} key ({@code --api-auth}),
   * else {@code Bearer}.
   */
  @Override
  public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
    JsonNode body;
    try {
      body = JSON.readTree(submit.getBodyAsString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    checkPrompt(body.path("prompt").asText(null), request);
    check("negative_prompt", body.path("negative_prompt").isMissingNode() ? null : body.path("negative_prompt").asText(),
        request.effectiveNegativePrompt());
    check("seed", body.path("seed").asLong(Long.MIN_VALUE), request.seed() != null ? request.seed() : -1L);
    check("batch_size", body.path("batch_size").asInt(-1), request.numImages());
    if (request.width() != null) {
      check("width", body.path("width").asInt(-1), request.width());
      check("height", body.path("height").asInt(-1), request.height());
    }
    if (request.steps() != null) {
      check("steps", body.path("steps").asInt(-1), request.steps());
    }
    if (request.guidanceScale() != null) {
      check("cfg_scale", body.path("cfg_scale").asDouble(Double.NaN), request.guidanceScale());
    }
    if (request.sampler() != null && !body.has("sampler_name")) {
      throw new AssertionError("sampler_name missing from " + submit.getUrl());
    }
    if (request.initImage() != null) {
      if (!submit.getUrl().startsWith(IMG2IMG) || !body.path("init_images").isArray() || body.path("init_images").isEmpty()) {
        throw new AssertionError("an init image must go to " + IMG2IMG + " as init_images, was " + submit.getUrl());
      }
    } else if (!submit.getUrl().startsWith(TXT2IMG)) {
      throw new AssertionError("text to image must go to " + TXT2IMG + ", was " + submit.getUrl());
    }
    String expected = apiKey.indexOf(':') >= 0
        ? "Basic " + Base64.getEncoder().encodeToString(apiKey.getBytes(StandardCharsets.UTF_8))
        : "Bearer " + apiKey;
    String auth = submit.getHeader("Authorization");
    if (!expected.equals(auth)) {
      throw new AssertionError("Authorization header: expected the configured credential, was "
          + (auth == null ? "absent" : "something else"));
    }
  }

  /**
   * The prompt is the request's, then one {@code " <lora:name:weight>"} per LoRA in order, the
   * weight any decimal spelling of the request's weight.
   */
  private static void checkPrompt(@Nullable String sent, ImageGenerationRequest request) {
    String base = request.prompt();
    if (sent == null || !sent.startsWith(base)) {
      throw new AssertionError("prompt: expected " + base + (request.loras().isEmpty() ? "" : " + LoRA tags") + ", was " + sent);
    }
    Matcher m = LORA_TAG.matcher(sent);
    int at = base.length();
    for (Lora l : request.loras()) {
      if (!m.find(at) || m.start() != at) {
        throw new AssertionError("prompt: expected <lora:" + l.name() + ":" + l.weight() + "> at " + at + ", was " + sent);
      }
      double weight;
      try {
        weight = Double.parseDouble(m.group(2));
      } catch (NumberFormatException e) {
        throw new AssertionError("prompt: LoRA weight is not a number in " + m.group(), e);
      }
      if (!m.group(1).equals(l.name()) || Math.abs(weight - l.weight()) > 1e-9) {
        throw new AssertionError("prompt: expected <lora:" + l.name() + ":" + l.weight() + ">, was " + m.group());
      }
      at = m.end();
    }
    if (at != sent.length()) {
      throw new AssertionError("prompt: unexpected text after the prompt and LoRA tags: " + sent.substring(at));
    }
  }

  private static void check(String field, @Nullable Object actual, @Nullable Object expected) {
    if (expected == null ? actual != null : !expected.equals(actual)) {
      throw new AssertionError(field + ": expected " + expected + ", was " + actual);
    }
  }
}
