package dev.imagegen.provider.sdwebui;

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
import dev.imagegen.testkit.ProviderStubs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The WebUI's {@code --api} as WireMock answers it, shaped like protocols/sdwebui.md: blocking
 * txt2img/img2img answering {@code images} (bare base64) and {@code info} (a JSON string), the
 * progress endpoint, interrupt, the model list, and the WebUI's error bodies.
 */
final class SdWebUiStubs implements ProviderStubs {
  static final String TXT2IMG = "/sdapi/v1/txt2img";
  static final String IMG2IMG = "/sdapi/v1/img2img";
  static final String PROGRESS = "/sdapi/v1/progress";
  static final String INTERRUPT = "/sdapi/v1/interrupt";
  static final String SD_MODELS = "/sdapi/v1/sd-models";
  static final String SAMPLERS = "/sdapi/v1/samplers";
  static final String SCHEDULERS = "/sdapi/v1/schedulers";
  static final String LORAS = "/sdapi/v1/loras";

  static final String IDLE = "{\"progress\":0.0,\"eta_relative\":0.0,\"state\":{\"skipped\":false,\"interrupted\":false,"
      + "\"stopping_generation\":false,\"job\":\"\",\"job_count\":0,\"job_timestamp\":\"0\",\"job_no\":0,\"sampling_step\":0,"
      + "\"sampling_steps\":0},\"current_image\":null,\"textinfo\":null}";
  static final String SD_MODELS_BODY = "[{\"title\":\"v1-5-pruned-emaonly.safetensors [6ce0161689]\",\"model_name\":\"v1-5-pruned-emaonly\","
      + "\"hash\":\"6ce0161689\",\"sha256\":\"6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa\","
      + "\"filename\":\"/models/Stable-diffusion/v1-5-pruned-emaonly.safetensors\",\"config\":null},"
      + "{\"title\":\"sd_xl_base_1.0.safetensors [31e35c80fc]\",\"model_name\":\"sd_xl_base_1.0\",\"hash\":\"31e35c80fc\","
      + "\"sha256\":null,\"filename\":\"/models/Stable-diffusion/sd_xl_base_1.0.safetensors\",\"config\":null}]";
  static final String SAMPLERS_BODY = "[{\"name\":\"DPM++ 2M\",\"aliases\":[\"k_dpmpp_2m\"],\"options\":{}},"
      + "{\"name\":\"Euler a\",\"aliases\":[\"k_euler_a\",\"k_euler_ancestral\"],\"options\":{\"uses_ensd\":\"True\"}},"
      + "{\"name\":\"Euler\",\"aliases\":[\"k_euler\"],\"options\":{}},"
      + "{\"name\":\"DDIM\",\"aliases\":[],\"options\":{\"default_eta_is_0\":\"True\"}}]";
  static final String SCHEDULERS_BODY = "[{\"name\":\"automatic\",\"label\":\"Automatic\",\"aliases\":null,\"default_rho\":-1,\"need_inner_model\":false},"
      + "{\"name\":\"karras\",\"label\":\"Karras\",\"aliases\":null,\"default_rho\":7.0,\"need_inner_model\":false},"
      + "{\"name\":\"exponential\",\"label\":\"Exponential\",\"aliases\":null,\"default_rho\":-1,\"need_inner_model\":false},"
      + "{\"name\":\"sgm_uniform\",\"label\":\"SGM Uniform\",\"aliases\":[\"SGMUniform\"],\"default_rho\":-1,\"need_inner_model\":true}]";
  static final String LORAS_BODY = "[{\"name\":\"film-grain\",\"alias\":\"filmgrain\",\"path\":\"/models/Lora/film-grain.safetensors\","
      + "\"metadata\":{}}]";
  static final String OOM_BODY = "{\"error\":\"OutOfMemoryError\",\"detail\":\"\",\"body\":\"\",\"errors\":\"CUDA out of memory. "
      + "Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity; 5.12 GiB already allocated)\"}";
  static final String UNAUTHORIZED_BODY = "{\"error\":\"HTTPException\",\"detail\":\"Incorrect username or password\",\"body\":\"\","
      + "\"errors\":\"401: Incorrect username or password\"}";
  static final String NOT_FOUND_BODY = "{\"detail\":\"Not Found\"}";

  private static final ObjectMapper JSON = new ObjectMapper();
  private final WireMockServer server;

  SdWebUiStubs(WireMockServer server) {
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
    return SdWebUiProvider.PROGRESS_POLICY.floor();
  }

  // ------------------------------------------------------------------ answers

  /** A txt2img/img2img answer as the WebUI sends it: bare base64 images, info as a JSON string. */
  static String generated(List<StubImage> images, String prompt, String modelName) {
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

  static ResponseDefinitionBuilder ok(String body) {
    return aResponse().withStatus(200).withHeader("Content-Type", "application/json").withHeader("X-Process-Time", "2.5")
        .withBody(body);
  }

  static String progress(double progress, double eta, int step, int steps) {
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
    server.stubFor(get(urlPathEqualTo(PROGRESS)).inScenario(sc).whenScenarioStateIs(com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED)
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

  @Override
  public void outOfCredits() {
    throw new UnsupportedOperationException(unsupported().get(Scenario.OUT_OF_CREDITS));
  }

  @Override
  public void rateLimited(Duration retryAfter) {
    throw new UnsupportedOperationException(unsupported().get(Scenario.RATE_LIMITED));
  }

  /** A crashed generation (CUDA out of memory, the WebUI's 500 body), then success. */
  @Override
  public void serverErrorThenSuccess(StubImage image) {
    String sc = "oom";
    server.stubFor(post(urlPathMatching("/sdapi/v1/(txt2img|img2img)")).inScenario(sc).whenScenarioStateIs(com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED)
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

  /** The POST blocks (sampling never ends); progress says busy; interrupt answers {@code {}}. */
  @Override
  public void neverFinishes() {
    generation(ok(generated(List.of(dev.imagegen.testkit.StubImages.png(64, 64, 1)), "never", "v1-5-pruned-emaonly"))
        .withFixedDelay(60_000));
    server.stubFor(get(urlPathEqualTo(PROGRESS)).willReturn(ok(progress(0.4, 30.0, 8, 20))));
    interruptAnswers();
  }

  @Override
  public void contentPolicy() {
    throw new UnsupportedOperationException(unsupported().get(Scenario.CONTENT_POLICY));
  }

  @Override
  public void resultUrlNotFound() {
    throw new UnsupportedOperationException(unsupported().get(Scenario.RESULT_URL_NOT_FOUND));
  }

  @Override
  public void oversizedImage(StubImage image) {
    success(image);
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

  @Override
  public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
    JsonNode body;
    try {
      body = JSON.readTree(submit.getBodyAsString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    StringBuilder prompt = new StringBuilder(request.prompt());
    request.loras().forEach(l -> prompt.append(" <lora:").append(l.name()).append(':')
        .append(SdWebUiMapping.weight(l.weight())).append('>'));
    check("prompt", body.path("prompt").asText(null), prompt.toString());
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

  private static void check(String field, @Nullable Object actual, @Nullable Object expected) {
    if (expected == null ? actual != null : !expected.equals(actual)) {
      throw new AssertionError(field + ": expected " + expected + ", was " + actual);
    }
  }
}
