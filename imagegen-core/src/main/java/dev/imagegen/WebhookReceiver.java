package dev.imagegen;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Receives providers' webhook deliveries for {@link ImageGenerationService#webhooks()}. Mount it
 * on any HTTP server: for a {@code POST} to the URL configured as the provider's
 * {@code webhook-url}, pass the provider id, the headers and the raw body, and answer with the
 * returned status and message.
 *
 * <p>A delivery never carries a result into the service: a verified delivery for a job pending
 * here makes that job's poll loop poll at once, and the result comes from the provider's status
 * API as without webhooks. Answers: {@code 200} accepted (also for a job not pending here and for
 * a duplicate, so the provider stops retrying), {@code 401} missing or wrong signature or a
 * timestamp outside the tolerance (default 5 minutes), {@code 400} a signed body that cannot be
 * read, {@code 404} an unknown provider or one without webhooks configured, {@code 413} a body over
 * 4 MiB, {@code 503} the signature cannot be checked now (the provider retries). The message is
 * short plain text and never repeats the body. Thread-safe; never throws.
 */
public interface WebhookReceiver {

  /** The largest body accepted, 4 MiB. */
  int MAX_BODY_BYTES = 4 * 1024 * 1024;

  /**
   * Handles one delivery, waiting for its verification (at most 30 s; a provider whose keys are
   * fetched over HTTP may need a call).
   *
   * @param providerId the provider the delivery is for, e.g. {@code replicate}
   * @param headers the request's headers; names are matched case-insensitively
   * @param body the raw body, exactly as received
   * @return the answer to send
   */
  Response handle(String providerId, Map<String, List<String>> headers, byte[] body);

  /**
   * Like {@link #handle}, without waiting.
   *
   * @param providerId the provider the delivery is for
   * @param headers the request's headers; names are matched case-insensitively
   * @param body the raw body, exactly as received
   * @return the answer to send; never fails
   */
  CompletableFuture<Response> handleAsync(String providerId, Map<String, List<String>> headers, byte[] body);

  /**
   * The answer to a delivery.
   *
   * @param status the HTTP status
   * @param message a short plain-text reason, safe to send and log
   */
  record Response(int status, String message) {

    /** Whether the delivery was accepted (a 2xx status). */
    public boolean accepted() {
      return status >= 200 && status < 300;
    }
  }
}
