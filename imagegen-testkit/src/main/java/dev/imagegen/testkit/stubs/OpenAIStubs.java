package dev.imagegen.testkit.stubs;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
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
import com.github.tomakehurst.wiremock.matching.RequestPatternBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.testkit.ProviderStubs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The OpenAI Images API on a WireMock server, shaped as the protocol file shows:
 * {@code POST /v1/images/generations} (JSON) and {@code /v1/images/edits} (multipart) answering
 * every image at once, base64 with {@code usage} for the GPT image models, URLs with
 * {@code revised_prompt} for DALL·E, Together's {@code type} items for a compatible server; errors
 * as {@code {"error":{"message","type","param","code"}}} with the statuses and headers OpenAI sends
 * ({@code x-request-id}, {@code x-ratelimit-*}, {@code retry-after}, {@code x-should-retry}); and
 * the Azure deployment path with its {@code api-version} query.
 *
 * <p>Point the provider's {@code base-url} at {@code server.baseUrl() + "/v1"} ({@link #basePath()}).
 * Thread-safe as WireMock is.
 */
public final class OpenAIStubs implements ProviderStubs {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The API's path prefix. */
  public static final String BASE_PATH = "/v1";
  /** Text to image. */
  public static final String GENERATIONS = BASE_PATH + "/images/generations";
  /** Edits. */
  public static final String EDITS = BASE_PATH + "/images/edits";
  /** The model endpoints health reads. */
  public static final String MODELS = BASE_PATH + "/models(/.*)?";
  /** Where a URL answer's image lives on the stub server. */
  public static final String RESULT_PATH = "/oaiusercontent/img-abc123.png";
  /** The request id every answer carries. */
  public static final String REQUEST_ID = "req_7f3c2a9e1b4d4c8e9a0b1c2d3e4f5a6b";

  /** The protocol file's usage object: 10 text + 40 image input tokens, 1056 output image tokens. */
  public static final String USAGE = "{\"input_tokens\":50,\"output_tokens\":1056,\"total_tokens\":1106,"
      + "\"input_tokens_details\":{\"text_tokens\":10,\"image_tokens\":40},"
      + "\"output_tokens_details\":{\"image_tokens\":1056,\"text_tokens\":0}}";
  /** 401 with {@code invalid_api_key}. */
  public static final String INVALID_KEY = error("Incorrect API key provided: sk-proj-****cdef. You can find your API key at "
      + "https://platform.openai.com/account/api-keys.", "invalid_request_error", null, "invalid_api_key");
  /** 403, a region OpenAI does not serve. */
  public static final String REGION = error("Country, region, or territory not supported", "request_forbidden", null,
      "unsupported_country_region_territory");
  /** 429 {@code insufficient_quota}: waiting does not help. */
  public static final String QUOTA = error("You exceeded your current quota, please check your plan and billing details. For more "
      + "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
      "insufficient_quota", null, "insufficient_quota");
  /** 429 {@code rate_limit_exceeded}. */
  public static final String RATE_LIMIT = error("Rate limit reached for gpt-image-2 in organization org-abc123 on images per "
      + "minute (IPM): Limit 5, Used 5, Requested 1. Please try again in 12s.", "requests", null, "rate_limit_exceeded");
  /** 400 {@code moderation_blocked}, the GPT image refusal. */
  public static final String MODERATION_BLOCKED = error("Your request was rejected by the safety system. If you believe this is "
      + "an error, contact us at help.openai.com and include the request ID req_1234. safety_violations=[sexual].",
      "image_generation_user_error", null, "moderation_blocked");
  /** 400 {@code content_policy_violation}, the DALL·E refusal. */
  public static final String CONTENT_POLICY_VIOLATION = error("Your request was rejected as a result of our safety system. Your "
      + "prompt may contain text that is not allowed by our safety system.", "invalid_request_error", null,
      "content_policy_violation");
  /** 500 {@code server_error}. */
  public static final String SERVER_ERROR = error("The server had an error while processing your request. Sorry about that!",
      "server_error", null, null);

  private static final String STARTED = com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
  private final WireMockServer server;

  /**
   * Stubs on this server.
   *
   * @param server the WireMock server the stubs are registered on
   */
  public OpenAIStubs(WireMockServer server) {
    this.server = server;
  }

  @Override
  public WireMockServer wireMock() {
    return server;
  }

  @Override
  public String basePath() {
    return BASE_PATH;
  }

  /** {@code flavour=openai}: the stub server's localhost base URL would otherwise be read as a compatible server. */
  @Override
  public Map<String, String> extraConfig() {
    return Map.of("flavour", "openai");
  }

  @Override
  public Map<Scenario, String> unsupported() {
    return Map.of(
        Scenario.QUEUED_PROGRESS, "the Images API answers synchronously: no job, no queue position",
        Scenario.REMOTE_CANCEL, "the Images API has no job to cancel: a generation is one synchronous POST");
  }

  // ------------------------------------------------------------------ bodies

  /**
   * An error body: {@code {"error":{"message","type","param","code"}}}.
   *
   * @param message the text
   * @param type the type
   * @param param the field at fault, or null
   * @param code the code, or null
   * @return the JSON
   */
  public static String error(String message, String type, @Nullable String param, @Nullable String code) {
    ObjectNode root = JSON.createObjectNode();
    ObjectNode e = root.putObject("error");
    e.put("message", message).put("type", type);
    if (param == null) {
      e.putNull("param");
    } else {
      e.put("param", param);
    }
    if (code == null) {
      e.putNull("code");
    } else {
      e.put("code", code);
    }
    return root.toString();
  }

  /**
   * A GPT image answer: base64 images, the concrete size and quality, and a usage object.
   *
   * @param images the images
   * @param quality the quality reported
   * @param usage the usage JSON, or null for none
   * @return the JSON
   */
  public static String gptImage(List<StubImage> images, String quality, @Nullable String usage) {
    ObjectNode body = JSON.createObjectNode();
    body.put("created", 1713833628L);
    ArrayNode data = body.putArray("data");
    images.forEach(i -> data.addObject().put("b64_json", i.base64()));
    StubImage first = images.get(0);
    body.put("background", "opaque").put("output_format", first.mediaType().substring("image/".length()))
        .put("size", first.width() + "x" + first.height()).put("quality", quality);
    if (usage != null) {
      try {
        body.set("usage", JSON.readTree(usage));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return body.toString();
  }

  /**
   * A DALL·E answer: URLs with {@code revised_prompt}, no usage.
   *
   * @param urls the image URLs
   * @param revisedPrompt the revised prompt
   * @return the JSON
   */
  public static String dallE(List<String> urls, String revisedPrompt) {
    ObjectNode body = JSON.createObjectNode();
    body.put("created", 1713833628L);
    ArrayNode data = body.putArray("data");
    urls.forEach(u -> data.addObject().put("url", u).put("revised_prompt", revisedPrompt));
    return body.toString();
  }

  /**
   * Together's answer: {@code {"id","model","object":"list","data":[{"index","type","b64_json"|"url"}]}}, no usage.
   *
   * @param model the model echoed
   * @param image the image, inline ({@code type: b64_json})
   * @return the JSON
   */
  public static String together(String model, StubImage image) {
    ObjectNode body = JSON.createObjectNode();
    body.put("id", "91c1d1e8ba5c4b7e-SJC").put("model", model).put("object", "list");
    body.putArray("data").addObject().put("index", 0).put("type", "b64_json").put("b64_json", image.base64());
    return body.toString();
  }

  /**
   * A streamed generation ({@code stream: true}): two {@code image_generation.partial_image}
   * events, then {@code image_generation.completed} with the usage.
   *
   * @param partial the partial frames' image
   * @param image the final image
   * @return the {@code text/event-stream} body
   */
  public static String stream(StubImage partial, StubImage image) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < 2; i++) {
      b.append("event: image_generation.partial_image\ndata: {\"type\":\"image_generation.partial_image\",\"b64_json\":\"")
          .append(partial.base64()).append("\",\"partial_image_index\":").append(i).append(",\"size\":\"1024x1024\",")
          .append("\"quality\":\"medium\",\"background\":\"opaque\",\"output_format\":\"png\",\"created_at\":1713833628}\n\n");
    }
    b.append("event: image_generation.completed\ndata: {\"type\":\"image_generation.completed\",\"b64_json\":\"")
        .append(image.base64()).append("\",\"size\":\"1024x1024\",\"quality\":\"medium\",\"background\":\"opaque\",")
        .append("\"output_format\":\"png\",\"created_at\":1713833630,\"usage\":").append(USAGE).append("}\n\n");
    return b.toString();
  }

  /**
   * A 200 JSON answer with OpenAI's headers.
   *
   * @param body the JSON
   * @return the answer
   */
  public static ResponseDefinitionBuilder ok(String body) {
    return aResponse().withStatus(200).withHeader("Content-Type", "application/json").withHeader("x-request-id", REQUEST_ID)
        .withHeader("openai-processing-ms", "14210").withBody(body);
  }

  /**
   * An error answer with OpenAI's headers.
   *
   * @param status the status
   * @param body the error JSON
   * @return the answer
   */
  public static ResponseDefinitionBuilder failed(int status, String body) {
    return aResponse().withStatus(status).withHeader("Content-Type", "application/json").withHeader("x-request-id", REQUEST_ID)
        .withBody(body);
  }

  // ------------------------------------------------------------------ primitives

  @Override
  public MappingBuilder submitStub() {
    return post(urlPathEqualTo(GENERATIONS));
  }

  @Override
  public ResponseDefinitionBuilder successAnswer(StubImage image) {
    return ok(gptImage(List.of(image), "medium", USAGE));
  }

  /** OpenAI's error shape; the type and code follow the status as OpenAI's do. */
  @Override
  public String errorBody(int status, String message) {
    switch (status) {
      case 400: return error(message, "invalid_request_error", "size", "invalid_value");
      case 401: return error(message, "invalid_request_error", null, "invalid_api_key");
      case 404: return error(message, "invalid_request_error", null, "model_not_found");
      case 429: return error(message, "requests", null, "rate_limit_exceeded");
      default: return error(message, "server_error", null, null);
    }
  }

  @Override
  public MappingBuilder healthStub() {
    return get(urlPathMatching(MODELS));
  }

  // ------------------------------------------------------------------ scenarios

  @Override
  public void authenticationRefused() {
    server.stubFor(post(urlPathMatching(BASE_PATH + "/images/.*")).willReturn(failed(401, INVALID_KEY)));
    server.stubFor(get(urlPathMatching(MODELS)).willReturn(failed(401, INVALID_KEY)));
  }

  /** 429 {@code insufficient_quota}: a 429 that waiting does not cure. */
  @Override
  public void outOfCredits() {
    server.stubFor(submitStub().willReturn(failed(429, QUOTA)));
  }

  /** 429 {@code rate_limit_exceeded} with {@code retry-after} and the {@code x-ratelimit-*} headers. */
  @Override
  public void rateLimited(Duration retryAfter) {
    server.stubFor(submitStub().willReturn(rateLimitAnswer(retryAfter)));
  }

  /**
   * The 429 {@code rate_limit_exceeded} answer.
   *
   * @param retryAfter the {@code retry-after} to send
   * @return the answer
   */
  public static ResponseDefinitionBuilder rateLimitAnswer(Duration retryAfter) {
    return failed(429, RATE_LIMIT).withHeader("retry-after", String.valueOf(retryAfter.toSeconds()))
        .withHeader("x-ratelimit-limit-requests", "5").withHeader("x-ratelimit-remaining-requests", "0")
        .withHeader("x-ratelimit-reset-requests", retryAfter.toSeconds() + "s")
        .withHeader("x-ratelimit-limit-tokens", "100000").withHeader("x-ratelimit-remaining-tokens", "98944")
        .withHeader("x-ratelimit-reset-tokens", "633ms");
  }

  /** OpenAI answers a failed synchronous call in its error shape; no image is made, so it may be sent again. */
  @Override
  public boolean failedAnswersAreNotCharged() {
    return true;
  }

  /** 500 {@code server_error} once, then success. */
  @Override
  public void serverErrorThenSuccess(StubImage image) {
    String sc = "openai-500";
    server.stubFor(submitStub().inScenario(sc).whenScenarioStateIs(STARTED).willReturn(failed(500, SERVER_ERROR))
        .willSetStateTo("recovered"));
    server.stubFor(submitStub().inScenario(sc).whenScenarioStateIs("recovered").willReturn(successAnswer(image)));
  }

  /**
   * 500 {@code server_error} with or without {@code x-should-retry}.
   *
   * @param shouldRetry the header's value, or null to send none
   */
  public void serverError(@Nullable Boolean shouldRetry) {
    ResponseDefinitionBuilder a = failed(500, SERVER_ERROR);
    if (shouldRetry != null) {
      a = a.withHeader("x-should-retry", shouldRetry.toString());
    }
    server.stubFor(submitStub().willReturn(a));
  }

  /** 400 {@code moderation_blocked}. */
  @Override
  public void contentPolicy() {
    server.stubFor(post(urlPathMatching(BASE_PATH + "/images/.*")).willReturn(failed(400, MODERATION_BLOCKED)));
  }

  /**
   * 404 {@code model_not_found} for a removed model, with the text OpenAI sends.
   *
   * @param model the model named
   */
  public void modelNotFound(String model) {
    server.stubFor(post(urlPathMatching(BASE_PATH + "/images/.*")).willReturn(failed(404, error("The model `" + model
        + "` has been deprecated, learn more here: https://platform.openai.com/docs/deprecations", "invalid_request_error", null,
        "model_not_found"))));
  }

  /** A DALL·E-style URL answer whose URL answers 404. */
  @Override
  public void resultUrlNotFound() {
    server.stubFor(submitStub().willReturn(ok(dallE(List.of(server.baseUrl() + RESULT_PATH), "a lighthouse at dusk"))));
    server.stubFor(get(urlPathEqualTo(RESULT_PATH)).willReturn(aResponse().withStatus(404)
        .withHeader("Content-Type", "application/xml").withBody("<Error><Code>BlobNotFound</Code></Error>")));
  }

  /**
   * A DALL·E-style URL answer, the image served at {@link #RESULT_PATH}.
   *
   * @param image the image
   */
  public void urlAnswer(StubImage image) {
    server.stubFor(submitStub().willReturn(ok(dallE(List.of(server.baseUrl() + RESULT_PATH), "a lighthouse at dusk, oil"))));
    server.stubFor(get(urlPathEqualTo(RESULT_PATH)).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", image.mediaType()).withBody(image.bytes())));
  }

  /**
   * An edit that succeeds with this image.
   *
   * @param image the image
   */
  public void editSuccess(StubImage image) {
    server.stubFor(post(urlPathEqualTo(EDITS)).willReturn(successAnswer(image)));
  }

  /**
   * Azure's deployment path answering success:
   * {@code /openai/deployments/{deployment}/images/generations?api-version=...}, with {@code api-key}.
   *
   * @param deployment the deployment
   * @param apiVersion the api-version
   * @param image the image
   */
  public void azureSuccess(String deployment, String apiVersion, StubImage image) {
    server.stubFor(post(urlPathEqualTo("/openai/deployments/" + deployment + "/images/generations"))
        .withQueryParam("api-version", com.github.tomakehurst.wiremock.client.WireMock.equalTo(apiVersion))
        .willReturn(successAnswer(image)));
    server.stubFor(post(urlPathEqualTo("/openai/deployments/" + deployment + "/images/edits"))
        .withQueryParam("api-version", com.github.tomakehurst.wiremock.client.WireMock.equalTo(apiVersion))
        .willReturn(successAnswer(image)));
  }

  @Override
  public void healthy() {
    server.stubFor(get(urlPathMatching(MODELS)).willReturn(ok("{\"id\":\"gpt-image-2\",\"object\":\"model\",\"created\":1776729600,"
        + "\"owned_by\":\"system\"}")));
  }

  @Override
  public void healthAuthRefused() {
    server.stubFor(get(urlPathMatching(MODELS)).willReturn(failed(401, INVALID_KEY)));
  }

  @Override
  public void invalidRequest(String providerMessage) {
    server.stubFor(post(urlPathMatching(BASE_PATH + "/images/.*")).willReturn(failed(400, error(providerMessage,
        "invalid_request_error", "size", "invalid_value"))));
  }

  // ------------------------------------------------------------------ the wire

  @Override
  public RequestPatternBuilder submitRequests() {
    return postRequestedFor(urlPathMatching(BASE_PATH + "/images/(generations|edits)"));
  }

  /**
   * {@inheritDoc}
   *
   * <p>OpenAI's names: {@code model} always sent, {@code prompt}, {@code n}, {@code size}
   * {@code WxH} when the request sets one; no {@code response_format} for a GPT image model; none
   * of {@code seed}, {@code steps}, {@code negative_prompt}, {@code guidance_scale} (the API has
   * none); {@code Authorization: Bearer}.
   */
  @Override
  public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
    JsonNode body;
    try {
      body = JSON.readTree(submit.getBodyAsString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    String model = body.path("model").asText("");
    if (model.isBlank()) {
      throw new AssertionError("model must always be sent (both of the API's defaults are shut down)");
    }
    check("prompt", body.path("prompt").asText(null), request.prompt());
    check("n", body.path("n").asInt(-1), request.numImages());
    if (request.width() != null && request.height() != null) {
      check("size", body.path("size").asText(null), request.width() + "x" + request.height());
    }
    if (model.startsWith("gpt-image") && body.has("response_format")) {
      throw new AssertionError("response_format sent to " + model + ", which takes none");
    }
    for (String never : List.of("seed", "steps", "negative_prompt", "guidance_scale")) {
      if (body.has(never)) {
        throw new AssertionError(never + " sent: the Images API has no such field");
      }
    }
    String auth = submit.getHeader("Authorization");
    if (!("Bearer " + apiKey).equals(auth)) {
      throw new AssertionError("Authorization header: expected the configured key as Bearer, was "
          + (auth == null ? "absent" : "something else"));
    }
  }

  private static void check(String field, @Nullable Object actual, @Nullable Object expected) {
    if (expected == null ? actual != null : !expected.equals(actual)) {
      throw new AssertionError(field + ": expected " + expected + ", was " + actual);
    }
  }
}
