package dev.imagegen.testkit.stubs;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.testkit.ProviderStubs;
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

/**
 * The Gemini API's {@code generateContent} for image models on a WireMock server, answering
 * exactly as the protocol document {@code ../shared/protocols/google-genai-images.md} describes
 * it: {@code POST /v1beta/models/{model}:generateContent} answers 200 with the image inline
 * ({@code inlineData}) among the parts and {@code usageMetadata}, also when the prompt or the image
 * was blocked ({@code promptFeedback.blockReason}, {@code finishReason}); errors are Google's
 * {@code {"error":{"code","message","status","details"}}} envelope, a bad key included (400
 * {@code INVALID_ARGUMENT} with {@code API_KEY_INVALID}, never 401); {@code GET /v1beta/models/{model}}
 * is the cheap key check.
 *
 * <p>The API is synchronous (no job id, no polling, no cancel) and makes one image per call. Not
 * thread-safe: set up stubs from one thread.
 */
public final class GoogleStubs implements ProviderStubs {
  /** The API version's path on the server. */
  public static final String BASE_PATH = "/v1beta";
  /** A regular expression matching every model's generateContent path (the colon is not encoded). */
  public static final String GENERATE = BASE_PATH + "/models/[^/:]+:generateContent";
  /** A regular expression matching the model lookup. */
  public static final String MODEL = BASE_PATH + "/models/[^/:]+";
  /** The model a request that names none is sent to (the provider's documented default). */
  public static final String DEFAULT_MODEL = "gemini-2.5-flash-image";
  /** Output image tokens of one image up to 1024x1024 on gemini-2.5-flash-image. */
  public static final int IMAGE_TOKENS = 1290;

  /** The 400 body of a bad key (Gemini never answers 401 for it). */
  public static final String API_KEY_INVALID = "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass a valid "
      + "API key.\",\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
      + "\"reason\":\"API_KEY_INVALID\",\"domain\":\"googleapis.com\",\"metadata\":{\"service\":"
      + "\"generativelanguage.googleapis.com\"}},{\"@type\":\"type.googleapis.com/google.rpc.LocalizedMessage\",\"locale\":"
      + "\"en-US\",\"message\":\"API key not valid. Please pass a valid API key.\"}]}}";
  /** The 400 body of a project that needs billing (the troubleshooting page's FAILED_PRECONDITION). */
  public static final String FAILED_PRECONDITION = "{\"error\":{\"code\":400,\"message\":\"Gemini API free tier is not "
      + "available in your country. Please enable billing on your project in Google AI Studio.\",\"status\":"
      + "\"FAILED_PRECONDITION\"}}";
  /** The 403 body of a key whose project has the API disabled. */
  public static final String PERMISSION_DENIED = "{\"error\":{\"code\":403,\"message\":\"Generative Language API has not been "
      + "used in project 123456789 before or it is disabled.\",\"status\":\"PERMISSION_DENIED\"}}";
  /** The 503 body of an overloaded model. */
  public static final String UNAVAILABLE = "{\"error\":{\"code\":503,\"message\":\"The model is overloaded. Please try again "
      + "later.\",\"status\":\"UNAVAILABLE\"}}";
  /** The 500 body. */
  public static final String INTERNAL = "{\"error\":{\"code\":500,\"message\":\"An internal error has occurred. Please retry "
      + "or report in https://developers.generativeai.google/guide/troubleshooting\",\"status\":\"INTERNAL\"}}";
  /** The 504 body. */
  public static final String DEADLINE_EXCEEDED = "{\"error\":{\"code\":504,\"message\":\"The request timed out. Please try "
      + "again.\",\"status\":\"DEADLINE_EXCEEDED\"}}";

  /** The aspect ratios every Gemini image model takes. */
  private static final List<String> RATIOS = List.of("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9");
  /** Those and the extreme ones gemini-3.1-flash-image adds (python-genai's AspectRatio enum). */
  private static final List<String> EXTENDED_RATIOS = List.of("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9",
      "21:9", "1:4", "4:1", "1:8", "8:1");
  private static final Set<String> TOP_LEVEL = Set.of("contents", "generationConfig", "safetySettings", "systemInstruction");
  private static final Set<String> VERTEX_ONLY = Set.of("personGeneration", "outputMimeType", "outputCompressionQuality",
      "prominentPeople", "imageOutputOptions");
  private static final String STARTED = com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final WireMockServer server;

  /**
   * Stubs on this server.
   *
   * @param server the WireMock server the stubs are registered on
   */
  public GoogleStubs(WireMockServer server) {
    this.server = server;
  }

  // ----------------------------------------------------------------- bodies

  /**
   * A success body: a text part, then the image inline, and the usage of one image.
   *
   * @param image the image
   * @return the JSON body
   */
  public static String imageBody(StubImage image) {
    return "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Here is the image you asked for.\"},"
        + "{\"inlineData\":{\"mimeType\":\"" + image.mediaType() + "\",\"data\":\"" + image.base64() + "\"}}]},"
        + "\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":"
        + (IMAGE_TOKENS + 8) + ",\"totalTokenCount\":" + (IMAGE_TOKENS + 20) + ",\"promptTokensDetails\":[{\"modality\":"
        + "\"TEXT\",\"tokenCount\":12}],\"candidatesTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":8},{\"modality\":"
        + "\"IMAGE\",\"tokenCount\":" + IMAGE_TOKENS + "}]},\"modelVersion\":\"" + DEFAULT_MODEL + "\",\"responseId\":"
        + "\"mD9ZabCdEf\"}";
  }

  /**
   * A Gemini 3 success body: a thought part (with a draft image) first, then the image.
   *
   * @param draft the thought's draft image (never the result)
   * @param image the image
   * @return the JSON body
   */
  public static String thoughtFirstBody(StubImage draft, StubImage image) {
    return "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Planning the composition.\",\"thought\":"
        + "true},{\"inlineData\":{\"mimeType\":\"" + draft.mediaType() + "\",\"data\":\"" + draft.base64() + "\"},\"thought\":"
        + "true},{\"inlineData\":{\"mimeType\":\"" + image.mediaType() + "\",\"data\":\"" + image.base64() + "\"},"
        + "\"thoughtSignature\":\"c2lnbmF0dXJl\"}]},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{"
        + "\"promptTokenCount\":20,\"candidatesTokenCount\":1120,\"thoughtsTokenCount\":200,\"totalTokenCount\":1340,"
        + "\"candidatesTokensDetails\":[{\"modality\":\"IMAGE\",\"tokenCount\":1120}]},\"modelVersion\":\"gemini-3-pro-image\","
        + "\"responseId\":\"tH0uGhTfIrSt\"}";
  }

  /**
   * The body of a blocked prompt (HTTP 200, no candidates).
   *
   * @param reason {@code PROHIBITED_CONTENT}, {@code SAFETY}, ...
   * @return the JSON body
   */
  public static String promptBlockedBody(String reason) {
    return "{\"promptFeedback\":{\"blockReason\":\"" + reason + "\",\"blockReasonMessage\":\"The prompt was blocked.\"},"
        + "\"usageMetadata\":{\"promptTokenCount\":9,\"totalTokenCount\":9},\"modelVersion\":\"" + DEFAULT_MODEL + "\","
        + "\"responseId\":\"bLoCkEd0\"}";
  }

  /**
   * The body of a blocked output (HTTP 200, a candidate without parts).
   *
   * @param finishReason {@code IMAGE_SAFETY}, {@code NO_IMAGE}, ...
   * @return the JSON body
   */
  public static String outputBlockedBody(String finishReason) {
    return "{\"candidates\":[{\"content\":{\"role\":\"model\"},\"finishReason\":\"" + finishReason + "\",\"finishMessage\":"
        + "\"Unable to show the generated image.\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":11,"
        + "\"totalTokenCount\":11},\"modelVersion\":\"" + DEFAULT_MODEL + "\",\"responseId\":\"nOiMaGe0\"}";
  }

  /** The body of an answer with text only ({@code STOP}): the model declined to draw. */
  public static String textOnlyBody() {
    return "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"I can describe the scene, but I cannot "
        + "draw it.\"}]},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":10,"
        + "\"candidatesTokenCount\":14,\"totalTokenCount\":24,\"candidatesTokensDetails\":[{\"modality\":\"TEXT\","
        + "\"tokenCount\":14}]},\"modelVersion\":\"" + DEFAULT_MODEL + "\",\"responseId\":\"tExToNlY\"}";
  }

  /**
   * The 404 body of a model that is unknown or shut down.
   *
   * @param model the model id
   * @return the JSON body
   */
  public static String notFoundBody(String model) {
    return "{\"error\":{\"code\":404,\"message\":\"models/" + model + " is not found for API version v1beta, or is not "
        + "supported for generateContent. Call ListModels to see the list of available models and their supported methods.\","
        + "\"status\":\"NOT_FOUND\"}}";
  }

  /**
   * The 429 body: quota exceeded, with {@code QuotaFailure} and {@code RetryInfo}.
   *
   * @param retryDelay the delay {@code RetryInfo} announces
   * @param daily whether the violated quota is a per-day one (which does not clear within minutes)
   * @return the JSON body
   */
  public static String resourceExhaustedBody(Duration retryDelay, boolean daily) {
    String quota = daily ? "GenerateRequestsPerDayPerProjectPerModel-FreeTier" : "GenerateRequestsPerMinutePerProjectPerModel";
    return "{\"error\":{\"code\":429,\"message\":\"You exceeded your current quota, please check your plan and billing details."
        + " For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\",\"status\":"
        + "\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.Help\",\"links\":[{\"description\":"
        + "\"Learn more about Gemini API quotas\",\"url\":\"https://ai.google.dev/gemini-api/docs/rate-limits\"}]},{\"@type\":"
        + "\"type.googleapis.com/google.rpc.QuotaFailure\",\"violations\":[{\"quotaMetric\":"
        + "\"generativelanguage.googleapis.com/generate_content_requests\",\"quotaId\":\"" + quota + "\",\"quotaDimensions\":"
        + "{\"location\":\"global\",\"model\":\"" + DEFAULT_MODEL + "\"}}]},{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\","
        + "\"retryDelay\":\"" + retryDelay.toSeconds() + "s\"}]}}";
  }

  /**
   * Google's error envelope.
   *
   * @param status the HTTP status
   * @param grpcStatus {@code INVALID_ARGUMENT}, ...
   * @param message the message
   * @return the JSON body
   */
  public static String envelope(int status, String grpcStatus, String message) {
    ObjectNode e = JSON.createObjectNode();
    e.putObject("error").put("code", status).put("message", message).put("status", grpcStatus);
    try {
      return JSON.writeValueAsString(e);
    } catch (IOException x) {
      throw new UncheckedIOException(x);
    }
  }

  /**
   * A JSON answer.
   *
   * @param status the HTTP status
   * @param json the body
   * @return the answer
   */
  public static ResponseDefinitionBuilder answer(int status, String json) {
    return aResponse().withStatus(status).withHeader("Content-Type", "application/json; charset=UTF-8").withBody(json);
  }

  // ----------------------------------------------------------------- scenarios

  @Override
  public Map<Scenario, String> unsupported() {
    Map<Scenario, String> m = new EnumMap<>(Scenario.class);
    m.put(Scenario.QUEUED_PROGRESS, "synchronous API: one generateContent answers the image; no queue position or progress");
    m.put(Scenario.REMOTE_CANCEL, "synchronous API: no operation id and no cancel endpoint");
    m.put(Scenario.RESULT_URL_NOT_FOUND, "the image comes back inline (inlineData); there is no result URL");
    return m;
  }

  @Override
  public String basePath() {
    return BASE_PATH;
  }

  @Override
  public WireMockServer wireMock() {
    return server;
  }

  @Override
  public MappingBuilder submitStub() {
    return post(urlPathMatching(GENERATE));
  }

  @Override
  public ResponseDefinitionBuilder successAnswer(StubImage image) {
    return answer(200, imageBody(image));
  }

  @Override
  public String errorBody(int status, String message) {
    String grpc = switch (status) {
      case 400 -> "INVALID_ARGUMENT";
      case 403 -> "PERMISSION_DENIED";
      case 404 -> "NOT_FOUND";
      case 429 -> "RESOURCE_EXHAUSTED";
      case 500 -> "INTERNAL";
      case 503 -> "UNAVAILABLE";
      case 504 -> "DEADLINE_EXCEEDED";
      default -> "UNKNOWN";
    };
    return envelope(status, grpc, message);
  }

  /** The bad key's 400 {@code API_KEY_INVALID}. */
  @Override
  public void authenticationRefused() {
    server.stubFor(submitStub().willReturn(answer(400, API_KEY_INVALID)));
  }

  /** The nearest the API has: 400 {@code FAILED_PRECONDITION}, billing needed. */
  @Override
  public void outOfCredits() {
    server.stubFor(submitStub().willReturn(answer(400, FAILED_PRECONDITION)));
  }

  /** "If your request fails with a 400 or 500 error, you won't be charged": a 503 in Google's shape may be sent again. */
  @Override
  public boolean failedAnswersAreNotCharged() {
    return true;
  }

  /** 429 {@code RESOURCE_EXHAUSTED} with the delay in {@code RetryInfo} (Google documents no Retry-After header). */
  @Override
  public void rateLimited(Duration retryAfter) {
    server.stubFor(submitStub().willReturn(answer(429, resourceExhaustedBody(retryAfter, false))));
  }

  @Override
  public void serverErrorThenSuccess(StubImage image) {
    server.stubFor(submitStub().inScenario("503").whenScenarioStateIs(STARTED).willReturn(answer(503, UNAVAILABLE))
        .willSetStateTo("recovered"));
    server.stubFor(submitStub().inScenario("503").whenScenarioStateIs("recovered").willReturn(successAnswer(image)));
  }

  /** The prompt is blocked: HTTP 200 with {@code promptFeedback.blockReason}. */
  @Override
  public void contentPolicy() {
    server.stubFor(submitStub().willReturn(answer(200, promptBlockedBody("PROHIBITED_CONTENT"))));
  }

  /** No result URL exists on this API (see {@link #unsupported()}): the nearest 404 is a retired model. */
  @Override
  public void resultUrlNotFound() {
    server.stubFor(submitStub().willReturn(answer(404, notFoundBody("gemini-2.5-flash-image-preview"))));
  }

  @Override
  public void invalidRequest(String providerMessage) {
    server.stubFor(submitStub().willReturn(answer(400, envelope(400, "INVALID_ARGUMENT", providerMessage))));
  }

  @Override
  public MappingBuilder healthStub() {
    return get(urlPathMatching(MODEL));
  }

  @Override
  public void healthy() {
    server.stubFor(healthStub().willReturn(answer(200, "{\"name\":\"models/" + DEFAULT_MODEL + "\",\"version\":\"2.0\","
        + "\"displayName\":\"Nano Banana\",\"description\":\"Gemini 2.5 Flash Image\",\"inputTokenLimit\":32768,"
        + "\"outputTokenLimit\":32768,\"supportedGenerationMethods\":[\"generateContent\",\"countTokens\","
        + "\"batchGenerateContent\"],\"temperature\":1,\"topP\":0.95,\"topK\":64,\"maxTemperature\":2}")));
  }

  @Override
  public void healthAuthRefused() {
    server.stubFor(healthStub().willReturn(answer(400, API_KEY_INVALID)));
  }

  // ----------------------------------------------------------------- the wire

  /**
   * {@inheritDoc}
   *
   * <p>Checked against {@code google-genai-images.md}, not the provider's mapping: the POST goes to
   * {@code /v1beta/models/{model}:generateContent} ({@value #DEFAULT_MODEL} when the request names
   * none) with the key in {@code x-goog-api-key} and never in the URL; the prompt is the first
   * text part of one user turn; {@code responseModalities} includes {@code IMAGE}; a size becomes
   * the nearest of the ratios the model takes (the extreme ones only on gemini-3.1-flash-image) in
   * {@code imageConfig.aspectRatio}, and
   * {@code imageSize}, if sent, is {@code 1K}, {@code 2K} or {@code 4K} with a capital K; no field
   * the API does not take (negative prompt, seed, sample count, Vertex-only image keys).
   */
  @Override
  public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
    String model = request.model() == null ? DEFAULT_MODEL : request.model();
    String url = submit.getUrl();
    String path = url.replaceAll("\\?.*", "");
    check(path.equals(BASE_PATH + "/models/" + model + ":generateContent"), "POST path " + path + ", expected " + BASE_PATH
        + "/models/" + model + ":generateContent");
    check(!url.contains("key="), "the key is in the URL, where logs see it; send it in x-goog-api-key");
    check(apiKey.equals(submit.getHeader("x-goog-api-key")), "x-goog-api-key is not the api-key");
    check(submit.getHeader("Authorization") == null, "an Authorization header was sent; the Gemini API key goes in x-goog-api-key");
    String ct = submit.getHeader("Content-Type");
    check(ct != null && ct.startsWith("application/json"), "Content-Type " + ct + ", expected application/json");
    JsonNode body;
    try {
      body = JSON.readTree(submit.getBody());
    } catch (IOException e) {
      throw new AssertionError("body is not JSON: " + submit.getBodyAsString(), e);
    }
    List<String> top = names(body);
    top.removeAll(TOP_LEVEL);
    check(top.isEmpty(), "fields generateContent does not take " + top + ": " + body);
    JsonNode contents = body.path("contents");
    check(contents.isArray() && contents.size() == 1, "contents must be one user turn: " + contents);
    JsonNode turn = contents.path(0);
    check("user".equals(turn.path("role").asText(null)), "the turn's role is " + turn.get("role") + ", expected user");
    JsonNode parts = turn.path("parts");
    check(parts.isArray() && parts.size() >= 1, "no parts: " + turn);
    check(request.prompt().equals(parts.path(0).path("text").asText(null)), "the first part's text is not the prompt: "
        + parts.path(0));
    for (int i = 1; i < parts.size(); i++) {
      JsonNode d = parts.get(i).path("inlineData");
      check(d.path("mimeType").asText("").startsWith("image/") && d.path("data").isTextual(), "part " + i
          + " is not an inline image {inlineData:{mimeType,data}}: " + parts.get(i));
    }
    JsonNode config = body.path("generationConfig");
    check(config.path("responseModalities").isArray(), "generationConfig.responseModalities missing: " + config);
    boolean image = false;
    for (JsonNode m : config.path("responseModalities")) {
      image |= "IMAGE".equals(m.asText());
    }
    check(image, "responseModalities must contain IMAGE: " + config.get("responseModalities"));
    for (String banned : List.of("candidateCount", "sampleCount", "seed", "negativePrompt", "numberOfImages")) {
      check(!config.has(banned) && !body.has(banned), banned + " sent; the Gemini API makes one image per call and takes no "
          + "negative prompt: " + body);
    }
    JsonNode ic = config.path("imageConfig");
    for (String v : VERTEX_ONLY) {
      check(!ic.has(v), "imageConfig." + v + " is Vertex-only; the Gemini API refuses it");
    }
    Integer w = request.width();
    Integer h = request.height();
    if (w != null && h != null) {
      String expected = nearest(w, h, model.contains("3.1-flash-image") ? EXTENDED_RATIOS : RATIOS);
      check(expected.equals(ic.path("aspectRatio").asText(null)), "imageConfig.aspectRatio " + ic.get("aspectRatio")
          + ", expected the nearest ratio " + expected + " for " + w + "x" + h);
    }
    if (ic.has("imageSize")) {
      String size = ic.get("imageSize").asText();
      check(Set.of("1K", "2K", "4K").contains(size), "imageConfig.imageSize " + size + ", expected 1K, 2K or 4K (capital K)");
    }
  }

  /** The ratio nearest to a size, by the logarithm of the ratio. */
  private static String nearest(int w, int h, List<String> ratios) {
    double target = Math.log((double) w / h);
    String best = ratios.get(0);
    double bestD = Double.MAX_VALUE;
    for (String r : ratios) {
      String[] p = r.split(":");
      double d = Math.abs(Math.log(Double.parseDouble(p[0]) / Double.parseDouble(p[1])) - target);
      if (d < bestD) {
        bestD = d;
        best = r;
      }
    }
    return best;
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
      throw new AssertionError("google submit: " + message.toLowerCase(Locale.ROOT).charAt(0) + message.substring(1));
    }
  }
}
