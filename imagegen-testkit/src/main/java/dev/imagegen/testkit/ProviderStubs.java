package dev.imagegen.testkit;

import com.github.tomakehurst.wiremock.matching.RequestPatternBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import java.time.Duration;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * What a provider's test supplies to {@link ProviderKit}: how to make the provider's real API
 * (on the kit's WireMock server) answer each scenario, shaped exactly like the provider's
 * documented wire protocol, and what the provider must put on the wire.
 *
 * <p>Each {@code stub...} method is called on a freshly reset server, then the kit calls the
 * provider and asserts the outcome. A scenario the provider's API cannot exhibit is listed in
 * {@link #unsupported()} with the reason, and the kit skips it.
 */
public interface ProviderStubs {

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

  /** The smallest interval between two polls the provider's documents allow (the kit checks it). */
  default Duration minPollInterval() {
    return Duration.ZERO;
  }

  // --------------------------------------------------------------- answers

  /**
   * A generation that succeeds at once (or after one poll) with this image.
   *
   * @param image the image the API returns (inline or at a result URL the stub serves)
   */
  void success(StubImage image);

  /**
   * A generation that is queued (with a queue position), then running (with percent or counts
   * where the API reports them), then done with this image, over at least three polls.
   *
   * @param image the image
   */
  void queuedThenRunningThenDone(StubImage image);

  /** The key is refused (the API's own 401/403 body). */
  void authenticationRefused();

  /** The account is out of credit or quota (the API's own body). */
  void outOfCredits();

  /**
   * Throttled: the API's 429 with {@code Retry-After} in seconds.
   *
   * @param retryAfter the delay to announce
   */
  void rateLimited(Duration retryAfter);

  /**
   * The first submit answers a 5xx (the API's own body), the second succeeds with this image.
   *
   * @param image the image
   */
  void serverErrorThenSuccess(StubImage image);

  /** The submit's connection is reset after the request was sent. */
  void connectionReset();

  /** The submit answers 200 with an empty body. */
  void emptyResponse();

  /** The submit answers 200 with malformed JSON. */
  void malformedJson();

  /** The job is accepted but never finishes (stays queued or running); the cancel endpoint answers as documented. */
  void neverFinishes();

  /** The provider refuses the prompt or returns censored output, as its API does. */
  void contentPolicy();

  /** The job succeeds, but its result URL answers 404. */
  void resultUrlNotFound();

  /**
   * The job succeeds with an image of this many bytes (the kit sets {@code max-image-bytes} lower).
   *
   * @param image the large image
   */
  void oversizedImage(StubImage image);

  /**
   * The API refuses the request as invalid (400/422) with this text in its own error shape.
   *
   * @param providerMessage the text
   */
  void invalidRequest(String providerMessage);

  /** The cheap endpoint {@code health}/{@code testConnection} use answers as for a good key. */
  void healthy();

  /** The cheap endpoint answers as for a refused key. */
  void healthAuthRefused();

  // --------------------------------------------------------------- the wire

  /** Matches the calls that create a (possibly paid) generation: counted to prove no blind resubmit. */
  RequestPatternBuilder submitRequests();

  /** Matches the calls that cancel a remote job; null when the API has none. */
  @Nullable RequestPatternBuilder cancelRequests();

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
  record StubImage(byte[] bytes, String mediaType, int width, int height, long seed) {}

}
