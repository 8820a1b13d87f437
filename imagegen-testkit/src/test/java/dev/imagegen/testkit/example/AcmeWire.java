package dev.imagegen.testkit.example;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.imagegen.ImageGenerationRequest;
import org.jspecify.annotations.Nullable;

/**
 * The JSON Acme's made-up queue API sends and receives.
 *
 * <pre>
 * POST /v1/jobs            {"prompt":"a red fox","negative_prompt":"blurry","width":512,"height":512,
 *                           "seed":42,"steps":4,"guidance":3.5}
 *                       -> {"id":"job-1","status":"QUEUED","queue_position":3}
 * GET  /v1/jobs/{id}    -> {"id":"job-1","status":"RUNNING","percent":40.0}
 *                       -> {"id":"job-1","status":"DONE","model":"acme-1",
 *                           "output":{"url":"https://files.acme.example/job-1.png","seed":42,"nsfw":false}}
 *                       -> {"id":"job-1","status":"FAILED","error":{"code":"server_error","message":"worker lost"}}
 * POST /v1/jobs/{id}/cancel -> {"id":"job-1","status":"CANCELLED"}
 * GET  /v1/account      -> {"credits":12.5}
 * errors                -> {"error":{"code":"unauthorized","message":"invalid API key"}}
 *   400 invalid_request | content_policy, 401 unauthorized, 402 insufficient_credits,
 *   422 invalid_request, 429 rate_limited (Retry-After: seconds), 5xx server_error
 * auth: Authorization: Bearer KEY; polls no closer than 100 ms apart.
 * </pre>
 */
final class AcmeWire {
  private AcmeWire() {}

  /** The submit body. */
  record Submit(
      String prompt,
      @JsonProperty("negative_prompt") @Nullable String negativePrompt,
      @Nullable Integer width,
      @Nullable Integer height,
      @Nullable Long seed,
      @Nullable Integer steps,
      @Nullable Double guidance,
      @Nullable String model) {

    static Submit of(ImageGenerationRequest r) {
      return new Submit(r.prompt(), r.effectiveNegativePrompt(), r.width(), r.height(), r.seed(), r.steps(),
          r.guidanceScale(), r.model());
    }
  }

  /** A job, as the submit and the status poll answer it. */
  record Job(
      @Nullable String id,
      @Nullable String status,
      @JsonProperty("queue_position") @Nullable Integer queuePosition,
      @Nullable Double percent,
      @Nullable String model,
      @Nullable Output output,
      @Nullable Error error) {}

  /** A finished job's image. */
  record Output(@Nullable String url, @Nullable Long seed, @Nullable Boolean nsfw) {}

  /** An error, in a job or an error answer. */
  record Error(@Nullable String code, @Nullable String message) {}

  /** An error answer's body. */
  record ErrorBody(@Nullable Error error) {}
}
