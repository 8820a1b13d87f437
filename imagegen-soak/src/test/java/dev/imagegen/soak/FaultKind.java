package dev.imagegen.soak;

/**
 * A fault the soak's servers inject, and whether it leaves the outcome of a submit unknown to the
 * client (the request reached the server, its answer was lost or unreadable: a paid job may exist).
 */
enum FaultKind {
  /** The connection is reset after the whole request was read (WireMock {@code CONNECTION_RESET_BY_PEER}). */
  RESET_AFTER_REQUEST(true, "connection reset after the request"),
  /** The connection is closed without a byte of answer (WireMock {@code EMPTY_RESPONSE}). */
  CLOSED_WITHOUT_ANSWER(true, "connection closed, no answer"),
  /** 2xx with an empty body. */
  EMPTY_BODY(true, "2xx with an empty body"),
  /** 2xx with truncated JSON. */
  MALFORMED_JSON(true, "2xx with malformed JSON"),
  /** The answer comes after every deadline (the client times out first). */
  DELAY_PAST_DEADLINE(true, "answer delayed past the deadline"),
  /** HTTP 500. */
  HTTP_500(false, "HTTP 500"),
  /** HTTP 502. */
  HTTP_502(false, "HTTP 502"),
  /** HTTP 503. */
  HTTP_503(false, "HTTP 503"),
  /** HTTP 429 with a Retry-After the service waits for. */
  RATE_LIMITED_SHORT(false, "429, short Retry-After"),
  /** HTTP 429 with a Retry-After beyond the service's limit (fail over, cool down). */
  RATE_LIMITED_LONG(false, "429, long Retry-After"),
  /** A result image URL answering 404. */
  IMAGE_404(false, "result image 404"),
  /** Result image bytes that are no image. */
  IMAGE_CORRUPT(false, "result image corrupt"),
  /** A result image larger than max-image-bytes. */
  IMAGE_OVERSIZED(false, "result image oversized"),
  /** A job that fails on the provider's side. */
  JOB_FAILED_REMOTELY(false, "job failed remotely"),
  /** A job the provider cancels (or finds impossible) on its side. */
  JOB_CANCELLED_REMOTELY(false, "job cancelled remotely"),
  /** A job that stays queued until cancelled. */
  JOB_NEVER_FINISHES(false, "job never finishes"),
  /** HTTP 503 to everything while the server is about to go down. */
  DOWN_503(false, "provider going down: 503"),
  /** Connection refused while the server is down (observed by the client, not the server). */
  CONNECTION_REFUSED(false, "could not connect (down, or connect timeout)"),
  /** The submit created the job (it runs and is billed), yet the answer is a 500, 502 or 503. */
  CREATED_THEN_5XX(true, "job created, then 5xx to the submit"),
  /** A 307 (submit) or 302 (status read) to another host, which records what reaches it. */
  REDIRECT_OFF_HOST(false, "redirect to another host"),
  /** A JSON answer whose inline base64 image is far past max-image-bytes (megabytes). */
  HUGE_INLINE_IMAGE(false, "inline base64 image far past the limit"),
  /** A submit to a server just back from its outage held until after every deadline (the breaker's trial). */
  TRIAL_HANGS(true, "first submits after the outage hang to the deadline"),
  /** A job whose reported GPU time is far above the typical run time the estimate assumes. */
  GPU_TIME_OVERRUN(false, "reported GPU time far above the estimate"),
  /** A submit answered late while its service closes (in flight at close). */
  SUBMIT_HELD_AT_CLOSE(false, "submit answer held while the service closes");

  final boolean unknownOutcome;
  final String label;

  FaultKind(boolean unknownOutcome, String label) {
    this.unknownOutcome = unknownOutcome;
    this.label = label;
  }
}
