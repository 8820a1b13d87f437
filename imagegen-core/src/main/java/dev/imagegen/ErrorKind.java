package dev.imagegen;

/**
 * The kind of failure behind an {@link ImageGenerationException} or a failed {@link Attempt}.
 * Metrics count failures by kind, and failover decides by it.
 */
public enum ErrorKind {
  /** The request was refused as invalid, by imagegen's validation or by the provider (HTTP 400/422). */
  INVALID_REQUEST,
  /** The credentials were refused (HTTP 401/403). */
  AUTHENTICATION,
  /** The account is out of credit or quota (HTTP 402, Horde's upfront kudos). */
  INSUFFICIENT_CREDITS,
  /** The provider throttled the call (HTTP 429). */
  RATE_LIMITED,
  /** The provider refused the prompt or censored the output. */
  CONTENT_POLICY,
  /** The provider could not be reached, answered 5xx, returned a malformed body, or the job failed remotely. */
  UNAVAILABLE,
  /** The deadline passed. */
  TIMEOUT,
  /** The caller or a shutdown cancelled the generation. */
  CANCELLED,
  /** A budget would be exceeded. */
  BUDGET_EXCEEDED,
  /** No configured provider can serve the request. */
  NO_CAPABLE_PROVIDER,
  /** Every provider tried failed. */
  ALL_FAILED,
  /** The service's limit on pending generations was reached; nothing was sent. */
  REJECTED
}
