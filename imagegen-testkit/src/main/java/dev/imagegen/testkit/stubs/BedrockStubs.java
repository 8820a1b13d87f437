package dev.imagegen.testkit.stubs;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalToJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.SubmittedJson;
import java.util.EnumMap;
import java.util.Map;
import java.util.UUID;

/**
 * Amazon Bedrock's {@code bedrock-runtime} InvokeModel as the real service answers it:
 * {@code POST /model/{modelId}/invoke} (the colon of an id such as {@code amazon.nova-canvas-v1:0}
 * matched as {@code :} or {@code %3A}), 200 with the model's JSON (Nova Canvas {@code images} and
 * {@code error}; Stability {@code seeds}, {@code finish_reasons}, {@code images}), and errors in
 * the rest-json shape: the type in {@code x-amzn-ErrorType} with its
 * {@code :http://internal.amazon.com/coral/...} suffix, the text in {@code {"message": ...}}, a
 * {@code x-amzn-RequestId}. Signatures are not checked; the provider's test checks the
 * {@code Authorization} header's shape.
 *
 * <p>The configuration the kit adds: region {@value #REGION}, access key id {@value #ACCESS_KEY_ID};
 * the kit's {@code api-key} is the secret access key, which never travels (SigV4 sends an HMAC).
 */
public final class BedrockStubs implements ProviderStubs {
  /** The region the kit configures. */
  public static final String REGION = "us-east-1";
  /** The access key id the kit configures. */
  public static final String ACCESS_KEY_ID = "AKIAIMAGEGENKITTEST1";
  /** The path of any model's InvokeModel. */
  public static final String INVOKE_PATH = "/model/[^/]+/invoke";
  /** Nova Canvas's input refusal, as Bedrock words it. */
  public static final String INPUT_BLOCKED = "This request has been blocked by our content filters. Please adjust your text "
      + "prompt to submit a new request.";
  /** Nova Canvas's 200 answer when every image was filtered. */
  public static final String ALL_BLOCKED = "All of the generated images have been blocked by our content filters.";
  /** Nova Canvas's 200 answer when some images were filtered. */
  public static final String SOME_BLOCKED = "Some of the generated images have been blocked by our content filters.";

  private final WireMockServer server;

  /**
   * Stubs on a server.
   *
   * @param server the WireMock server
   */
  public BedrockStubs(WireMockServer server) {
    this.server = server;
  }

  @Override
  public WireMockServer wireMock() {
    return server;
  }

  @Override
  public Map<String, String> extraConfig() {
    return Map.of("region", REGION, "access-key-id", ACCESS_KEY_ID);
  }

  @Override
  public Map<Scenario, String> unsupported() {
    Map<Scenario, String> m = new EnumMap<>(Scenario.class);
    m.put(Scenario.QUEUED_PROGRESS, "InvokeModel is synchronous: no queue position or progress");
    m.put(Scenario.REMOTE_CANCEL, "InvokeModel has no job id and no cancel call");
    m.put(Scenario.RESULT_URL_NOT_FOUND, "images come back inline as base64, never as URLs");
    m.put(Scenario.RATE_LIMITED, "Bedrock's 429 ThrottlingException carries no Retry-After (the provider's own test covers it)");
    return m;
  }

  @Override
  public MappingBuilder submitStub() {
    return post(urlPathMatching(INVOKE_PATH));
  }

  /**
   * A mapping for one model's InvokeModel, its colon matched written either way.
   *
   * @param modelId e.g. {@code amazon.nova-canvas-v1:0}
   * @return a new mapping builder
   */
  public MappingBuilder invoke(String modelId) {
    String id = java.util.regex.Pattern.quote(modelId).replace(":", "\\E(:|%3A|%3a)\\Q");
    return post(urlPathMatching("/model/" + id + "/invoke"));
  }

  @Override
  public ResponseDefinitionBuilder successAnswer(StubImage image) {
    return ok("{\"images\":[\"" + image.base64() + "\"]}");
  }

  /**
   * A 200 answer with this JSON and a request id.
   *
   * @param json the model's answer
   * @return the answer
   */
  public static ResponseDefinitionBuilder ok(String json) {
    return aResponse().withStatus(200).withHeader("Content-Type", "application/json")
        .withHeader("x-amzn-RequestId", UUID.randomUUID().toString()).withBody(json);
  }

  /**
   * Bedrock's error answer: status, {@code x-amzn-ErrorType} with the service's suffix,
   * {@code {"message": ...}}.
   *
   * @param status the HTTP status
   * @param type e.g. {@code ThrottlingException}
   * @param message the text
   * @return the answer
   */
  public ResponseDefinitionBuilder error(int status, String type, String message) {
    return aResponse().withStatus(status).withHeader("Content-Type", "application/json")
        .withHeader("x-amzn-ErrorType", type + ":http://internal.amazon.com/coral/com.amazon.bedrock/")
        .withHeader("x-amzn-RequestId", UUID.randomUUID().toString()).withBody(errorBody(status, message));
  }

  @Override
  public String errorBody(int status, String message) {
    return "{\"message\":\"" + message.replace("\\", "\\\\").replace("\"", "\\\"") + "\"}";
  }

  @Override
  public ResponseDefinitionBuilder errorAnswer(int status, String message) {
    String type = switch (status) {
      case 400 -> "ValidationException";
      case 401, 403 -> "AccessDeniedException";
      case 404 -> "ResourceNotFoundException";
      case 408 -> "ModelTimeoutException";
      case 424 -> "ModelErrorException";
      case 429 -> "ThrottlingException";
      case 503 -> "ServiceUnavailableException";
      default -> "InternalServerException";
    };
    return error(status, type, message);
  }

  /**
   * A typed AWS error answer (500 {@code InternalServerException}, 503
   * {@code ServiceUnavailableException}) says InvokeModel failed and returned no image: it may be
   * sent again, as AWS's own SDKs do.
   */
  @Override
  public boolean failedAnswersAreNotCharged() {
    return true;
  }

  /** A refused key: 403 {@code UnrecognizedClientException}, as the common AWS layer answers it. */
  @Override
  public void authenticationRefused() {
    server.stubFor(submitStub().willReturn(error(403, "UnrecognizedClientException",
        "The security token included in the request is invalid.")));
  }

  /** The account's quota: 400 {@code ServiceQuotaExceededException}. */
  @Override
  public void outOfCredits() {
    server.stubFor(submitStub().willReturn(error(400, "ServiceQuotaExceededException",
        "Your request exceeds the service quota for your account. You can view your quotas at the Service Quotas console.")));
  }

  /** Nova Canvas's input refusal: 400 {@code ValidationException} with the content-filter text. */
  @Override
  public void contentPolicy() {
    server.stubFor(submitStub().willReturn(error(400, "ValidationException", INPUT_BLOCKED)));
  }

  /** The health probe ({@code {}}) is refused as invalid: what Bedrock answers once the signature and access pass. */
  @Override
  public void healthy() {
    server.stubFor(healthStub().willReturn(error(400, "ValidationException",
        "Malformed input request: #: required key [taskType] not found, please reformat your input and try again.")));
  }

  @Override
  public void healthAuthRefused() {
    server.stubFor(healthStub().willReturn(error(403, "UnrecognizedClientException",
        "The security token included in the request is invalid.")));
  }

  /** The health probe: an InvokeModel with the body {@code {}}. */
  @Override
  public MappingBuilder healthStub() {
    return post(urlPathMatching(INVOKE_PATH)).withRequestBody(equalToJson("{}"));
  }

  /**
   * A Nova Canvas answer where the output filter removed some images: the rest, plus its
   * {@code error} text.
   *
   * @param image the image that survived
   */
  public void someBlocked(StubImage image) {
    server.stubFor(submitStub().willReturn(ok("{\"images\":[\"" + image.base64() + "\"],\"error\":\"" + SOME_BLOCKED + "\"}")));
  }

  /** A Nova Canvas answer where the output filter removed every image. */
  public void allBlocked() {
    server.stubFor(submitStub().willReturn(ok("{\"images\":[],\"error\":\"" + ALL_BLOCKED + "\"}")));
  }

  /**
   * A Stability model's success.
   *
   * @param image the image
   */
  public void stabilitySuccess(StubImage image) {
    server.stubFor(submitStub().willReturn(ok("{\"seeds\":[" + image.seed() + "],\"finish_reasons\":[null],\"images\":[\""
        + image.base64() + "\"]}")));
  }

  /**
   * A Stability model's filtered answer: {@code finish_reasons} with the reason and no images.
   *
   * @param reason e.g. {@code Filter reason: prompt}
   */
  public void stabilityFiltered(String reason) {
    server.stubFor(submitStub().willReturn(ok("{\"finish_reasons\":[\"" + reason + "\"]}")));
  }

  /**
   * Checks a Nova Canvas text-to-image submit: a SigV4 {@code Authorization} for the kit's key id,
   * region and the {@code bedrock} signing name, {@code X-Amz-Date}, JSON content, the prompt,
   * negative prompt, size, seed and guidance under Nova's names, and the secret nowhere.
   */
  @Override
  public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
    String auth = submit.getHeader("Authorization");
    if (auth == null || !auth.startsWith("AWS4-HMAC-SHA256 Credential=" + ACCESS_KEY_ID + "/")
        || !auth.contains("/" + REGION + "/bedrock/aws4_request")) {
      throw new AssertionError("the submit is not signed with SigV4 for " + ACCESS_KEY_ID + " in " + REGION
          + " (signing name bedrock): Authorization is " + (auth == null ? "missing" : auth.replaceAll("Signature=\\w+",
              "Signature=...")));
    }
    if (submit.getHeader("X-Amz-Date") == null) {
      throw new AssertionError("the submit has no X-Amz-Date header");
    }
    submit.getHeaders().all().forEach(h -> {
      if (h.values().stream().anyMatch(v -> v.contains(apiKey))) {
        throw new AssertionError("the secret access key travelled in header " + h.key());
      }
    });
    String type = submit.getHeader("Content-Type");
    if (type == null || !type.startsWith("application/json")) {
      throw new AssertionError("the submit's Content-Type is " + type + ", expected application/json");
    }
    SubmittedJson s = SubmittedJson.of(submit).field("taskType", "TEXT_IMAGE")
        .field("textToImageParams/text", request.prompt())
        .field("imageGenerationConfig/numberOfImages", request.numImages());
    String negative = request.negativePrompt();
    s.field("textToImageParams/negativeText", negative == null || negative.isBlank() ? null : negative);
    if (request.width() != null) {
      s.field("imageGenerationConfig/width", request.width()).field("imageGenerationConfig/height", request.height());
    }
    if (request.seed() != null) {
      s.field("imageGenerationConfig/seed", request.seed());
    }
    if (request.guidanceScale() != null) {
      s.field("imageGenerationConfig/cfgScale", request.guidanceScale());
    }
    JsonNode body = s.body();
    if (body.has("steps") || body.path("imageGenerationConfig").has("steps")) {
      throw new AssertionError("the submit carries steps, which Nova Canvas does not take");
    }
  }
}
