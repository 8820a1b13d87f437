package dev.imagegen.testkit;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.matching.RequestPatternBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * What a provider's test supplies to {@link ProviderKit}: how to make the provider's real API
 * (on the kit's WireMock server) answer each scenario, shaped exactly like the provider's
 * documented wire protocol, and what the provider must put on the wire.
 *
 * <p>Each scenario method is called on a freshly reset server, then the kit calls the provider
 * and asserts the outcome. A scenario the provider's API cannot exhibit is listed in
 * {@link #unsupported()} with the reason, and the kit skips it.
 *
 * <h2>A simple JSON-over-HTTP API: five primitives</h2>
 *
 * <p>Most scenarios look alike for an API that answers one submit with JSON and the usual
 * statuses, so they have defaults built from a few primitives the stubs give:
 *
 * <ul>
 *   <li>{@link #wireMock()}: the server the stubs register on;
 *   <li>{@link #submitStub()}: a fresh WireMock mapping for the submit, e.g. {@code post("/v1/render")};
 *   <li>{@link #successAnswer(StubImage)}: how the submit answers success with an image;
 *   <li>{@link #errorBody(int, String)}: the API's error shape (default {@code {"error": "..."}});
 *   <li>{@link #healthStub()}: the cheap endpoint {@code health} calls, e.g. {@code get("/v1/me")}.
 * </ul>
 *
 * <p>From them: {@link #success} stubs the submit with the success answer, and so does
 * {@link #oversizedImage}; {@link #authenticationRefused} answers 401, {@link #outOfCredits} 402,
 * {@link #rateLimited} 429 with {@code Retry-After}, {@link #invalidRequest} 400, each with
 * {@link #errorBody}; {@link #serverErrorThenSuccess} answers 503 once (a WireMock scenario), then
 * succeeds; {@link #connectionReset} resets the connection; {@link #emptyResponse} and
 * {@link #malformedJson} answer 200 with an empty body and with cut-off JSON;
 * {@link #neverFinishes} holds the submit's answer for {@value #NEVER_MILLIS} ms (a synchronous
 * API's job that never ends); {@link #healthy} and {@link #healthAuthRefused} answer the health
 * stub with 200 {@code {}} and with 401; {@link #submitRequests} matches what {@link #submitStub}
 * matches; {@link #cancelRequests} is null (no cancel endpoint). So the stubs of a simple API give
 * the primitives, {@link #assertSubmitted}, {@link #unsupported()}, and override only the scenarios
 * whose answers are their own. What has no sensible default ({@link #queuedThenRunningThenDone},
 * {@link #contentPolicy}, {@link #resultUrlNotFound}) throws {@link UnsupportedOperationException}
 * naming what to override: list the scenario in {@link #unsupported()} or implement it. A
 * primitive a default needs but the stubs did not give throws the same way.
 *
 * <pre>{@code
 * record PixelForgeStubs(WireMockServer wireMock) implements ProviderStubs { // the accessor is wireMock()
 *   public MappingBuilder submitStub() { return post("/v1/render"); }
 *   public ResponseDefinitionBuilder successAnswer(StubImage image) {
 *     return okJson("{\"image_base64\":\"" + image.base64() + "\",\"seed\":" + image.seed() + "}");
 *   }
 *   public MappingBuilder healthStub() { return get("/v1/me"); }
 *   public Map<Scenario, String> unsupported() { ... }
 *   public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
 *     SubmittedJson.of(submit).header("Authorization", "Bearer " + apiKey).field("prompt", request.prompt());
 *   }
 * }
 * }</pre>
 *
 * <p>Stubs of a job API (submit, poll, cancel) override the scenario methods instead, as the
 * classes in {@code dev.imagegen.testkit.stubs} do.
 */
public interface ProviderStubs {
  /** How long {@link #neverFinishes}'s default holds the submit's answer, in milliseconds. */
  int NEVER_MILLIS = 30_000;

  /** Scenarios a provider may be unable to exhibit. */
  enum Scenario {
    /** 2: queued, then running, then done, with progress. */
    QUEUED_PROGRESS,
    /** 4: out of credits or quota. */
    OUT_OF_CREDITS,
    /** 8 and 9: remote cancel on deadline and on caller cancel. */
    REMOTE_CANCEL,
    /** 10: content-policy refusal or censored output. */
    CONTENT_POLICY,
    /** 11: result URL answering 404. */
    RESULT_URL_NOT_FOUND,
    /** 5: rate limited with Retry-After. */
    RATE_LIMITED
  }

  /**
   * Scenarios this provider's API cannot exhibit, each with the reason shown when it is skipped
   * (e.g. {@code QUEUED_PROGRESS -> "synchronous API: no queue position"}).
   */
  default Map<Scenario, String> unsupported() {
    return Map.of();
  }

  /**
   * Configuration the provider needs beyond {@code base-url} and {@code api-key} (which the kit
   * sets), e.g. a RunPod endpoint id. Default none.
   */
  default Map<String, String> extraConfig() {
    return Map.of();
  }

  /**
   * The path under the server's root where the API's base URL lives, e.g. {@code /api/v2} for AI
   * Horde, so that stubs answer at the real paths. The kit sets {@code base-url} to the server's
   * URL plus this. Default empty.
   */
  default String basePath() {
    return "";
  }

  /**
   * Whether the API documents that a request it answers with an error creates and charges
   * nothing (a synchronous API with no job, such as Stability's "you will not be charged for
   * failed results"), so that the 5xx of {@link #serverErrorThenSuccess} in the API's own error
   * shape may be sent again. The kit then expects the submit to be retried on the same provider
   * and served, and the attempt not reported as possibly billed; otherwise (the default) it
   * expects the submit never to be repeated blindly.
   */
  default boolean failedAnswersAreNotCharged() {
    return false;
  }

  /** The smallest interval between two polls the provider's documents allow (the kit checks it). */
  default Duration minPollInterval() {
    return Duration.ZERO;
  }

  // --------------------------------------------------------------- primitives for the defaults

  /**
   * The server the stubs register on (the one the kit passed to {@code stubs(server)}); needed
   * by every default scenario.
   *
   * @return the server
   */
  default WireMockServer wireMock() {
    throw missing("wireMock()", "the scenario methods");
  }

  /**
   * A fresh mapping that matches the submit, without an answer, e.g.
   * {@code post(urlPathEqualTo("/v1/render"))}; the defaults add the answer. Called once per stub.
   *
   * @return a new mapping builder
   */
  default MappingBuilder submitStub() {
    throw missing("submitStub()", "the scenario methods and submitRequests()");
  }

  /**
   * How the submit answers a success with this image, e.g. {@code okJson(...)} with the image
   * inline ({@link StubImage#base64()}).
   *
   * @param image the image
   * @return the answer
   */
  default ResponseDefinitionBuilder successAnswer(StubImage image) {
    throw missing("successAnswer(image)", "success(image), serverErrorThenSuccess(image) and oversizedImage(image)");
  }

  /**
   * The API's error body for a status, with this text. The default is
   * {@code {"error": "<message>"}}, which imagegen's default error mapping reads.
   *
   * @param status the HTTP status
   * @param message the text
   * @return the body (JSON)
   */
  default String errorBody(int status, String message) {
    return "{\"error\":\"" + escape(message) + "\"}";
  }

  /**
   * A fresh mapping that matches the cheap request {@code health} sends, e.g. {@code get("/v1/me")}.
   *
   * @return a new mapping builder
   */
  default MappingBuilder healthStub() {
    throw missing("healthStub()", "healthy() and healthAuthRefused()");
  }

  /**
   * An error answer: this status, {@code Content-Type: application/json} and {@link #errorBody}.
   *
   * @param status the status
   * @param message the text
   * @return the answer
   */
  default ResponseDefinitionBuilder errorAnswer(int status, String message) {
    return aResponse().withStatus(status).withHeader("Content-Type", "application/json").withBody(errorBody(status, message));
  }

  private UnsupportedOperationException missing(String primitive, String usedBy) {
    return new UnsupportedOperationException(getClass().getSimpleName() + " uses the default of " + usedBy
        + " but does not implement " + primitive + "; implement it, or override the scenario (see ProviderStubs)");
  }

  private UnsupportedOperationException noDefault(String scenario, Scenario listed) {
    String why = unsupported().get(listed);
    return new UnsupportedOperationException(why != null ? getClass().getSimpleName() + " cannot exhibit " + scenario + ": " + why
        : scenario + " has no default: implement it in " + getClass().getSimpleName() + ", or list " + listed
            + " in unsupported() with the reason");
  }

  private static String escape(String text) {
    StringBuilder b = new StringBuilder();
    for (char c : text.toCharArray()) {
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  private void stub(MappingBuilder mapping, ResponseDefinitionBuilder answer) {
    wireMock().stubFor(mapping.willReturn(answer));
  }

  // --------------------------------------------------------------- answers

  /**
   * A generation that succeeds at once (or after one poll) with this image. Default: the submit
   * answers {@link #successAnswer}.
   *
   * @param image the image the API returns (inline or at a result URL the stub serves)
   */
  default void success(StubImage image) {
    stub(submitStub(), successAnswer(image));
  }

  /**
   * A generation that is queued (with a queue position), then running (with percent or counts
   * where the API reports them), then done with this image, over at least three polls. No default.
   *
   * @param image the image
   */
  default void queuedThenRunningThenDone(StubImage image) {
    throw noDefault("queuedThenRunningThenDone(image)", Scenario.QUEUED_PROGRESS);
  }

  /** The key is refused (the API's own 401/403 body). Default: the submit answers 401. */
  default void authenticationRefused() {
    stub(submitStub(), errorAnswer(401, "invalid API key"));
  }

  /** The account is out of credit or quota (the API's own body). Default: the submit answers 402. */
  default void outOfCredits() {
    stub(submitStub(), errorAnswer(402, "insufficient credits"));
  }

  /**
   * Throttled: the API's 429 with {@code Retry-After} in seconds. Default: so on the submit.
   *
   * @param retryAfter the delay to announce
   */
  default void rateLimited(Duration retryAfter) {
    stub(submitStub(), errorAnswer(429, "rate limit exceeded").withHeader("Retry-After", String.valueOf(retryAfter.toSeconds())));
  }

  /**
   * The first submit answers a 5xx (the API's own body), the second succeeds with this image.
   * Default: 503 with {@link #errorBody}, then {@link #successAnswer}.
   *
   * @param image the image
   */
  default void serverErrorThenSuccess(StubImage image) {
    String flaky = "imagegen-kit-server-error";
    stub(submitStub().inScenario(flaky).whenScenarioStateIs(com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED)
        .willSetStateTo("recovered"), errorAnswer(503, "service unavailable"));
    stub(submitStub().inScenario(flaky).whenScenarioStateIs("recovered"), successAnswer(image));
  }

  /** The submit's connection is reset after the request was sent. */
  default void connectionReset() {
    stub(submitStub(), aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER));
  }

  /** The submit answers 200 with an empty body. */
  default void emptyResponse() {
    stub(submitStub(), aResponse().withStatus(200).withHeader("Content-Type", "application/json").withBody(""));
  }

  /** The submit answers 200 with malformed JSON. */
  default void malformedJson() {
    stub(submitStub(), aResponse().withStatus(200).withHeader("Content-Type", "application/json").withBody("{\"image\": "));
  }

  /**
   * The job is accepted but never finishes (stays queued or running); the cancel endpoint answers
   * as documented. Default, for a synchronous API: the submit's answer is held for
   * {@value #NEVER_MILLIS} ms.
   */
  default void neverFinishes() {
    stub(submitStub(), aResponse().withStatus(200).withHeader("Content-Type", "application/json").withBody("{}")
        .withFixedDelay(NEVER_MILLIS));
  }

  /** The provider refuses the prompt or returns censored output, as its API does. No default. */
  default void contentPolicy() {
    throw noDefault("contentPolicy()", Scenario.CONTENT_POLICY);
  }

  /** The job succeeds, but its result URL answers 404. No default. */
  default void resultUrlNotFound() {
    throw noDefault("resultUrlNotFound()", Scenario.RESULT_URL_NOT_FOUND);
  }

  /**
   * The job succeeds with an image of this many bytes (the kit sets {@code max-image-bytes} lower).
   * Default: {@link #success}.
   *
   * @param image the large image
   */
  default void oversizedImage(StubImage image) {
    success(image);
  }

  /**
   * The API refuses the request as invalid (400/422) with this text in its own error shape.
   * Default: the submit answers 400 with {@link #errorBody}.
   *
   * @param providerMessage the text
   */
  default void invalidRequest(String providerMessage) {
    stub(submitStub(), errorAnswer(400, providerMessage));
  }

  /** The cheap endpoint {@code health}/{@code testConnection} use answers as for a good key. */
  default void healthy() {
    stub(healthStub(), aResponse().withStatus(200).withHeader("Content-Type", "application/json").withBody("{}"));
  }

  /** The cheap endpoint answers as for a refused key. */
  default void healthAuthRefused() {
    stub(healthStub(), errorAnswer(401, "invalid API key"));
  }

  // --------------------------------------------------------------- the wire

  /**
   * Matches the calls that create a (possibly paid) generation: counted to prove no blind
   * resubmit. Default: what {@link #submitStub()} matches.
   */
  default RequestPatternBuilder submitRequests() {
    return RequestPatternBuilder.like(submitStub().build().getRequest());
  }

  /** Matches the calls that cancel a remote job; null (the default) when the API has none. */
  default @Nullable RequestPatternBuilder cancelRequests() {
    return null;
  }

  /** Matches the calls that poll a job; null for synchronous APIs. */
  default @Nullable RequestPatternBuilder pollRequests() {
    return null;
  }

  /**
   * Asserts that a submit carried the request's fields under the provider's own names (prompt,
   * negative prompt, size, seed, steps, guidance) and its credential in the provider's header.
   * Throw an {@link AssertionError} when it did not.
   *
   * @param request what the kit asked for (prompt already final)
   * @param submit the submit as WireMock logged it
   * @param apiKey the key the kit configured
   */
  void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey);

  /**
   * The images a provider under test may answer with: real encoded bytes.
   *
   * @param bytes the encoded image
   * @param mediaType its media type
   * @param width width in pixels
   * @param height height in pixels
   * @param seed the seed the API reports
   */
  record StubImage(byte[] bytes, String mediaType, int width, int height, long seed) {
    /** The bytes in standard Base64, as APIs that answer inline send them. */
    public String base64() {
      return Base64.getEncoder().encodeToString(bytes);
    }
  }

}
