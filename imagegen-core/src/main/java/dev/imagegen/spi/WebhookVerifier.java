package dev.imagegen.spi;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * Checks that a webhook delivery comes from the provider and names the job it is about. Returned
 * by {@link ImageProvider#webhookVerifier()} when the provider is configured to send webhooks;
 * called by the service's {@code WebhookReceiver}, which also rejects stale timestamps and
 * remembers delivery ids. A verified delivery only nudges the job's poll loop to poll at once
 * ({@link GenerationContext#onPush}): the result still comes from the provider's own status API,
 * so a delivery never carries a result into the service.
 *
 * <p>{@link StandardWebhooks} implements the Standard Webhooks scheme; a provider with its own
 * scheme implements this interface. Implementations are thread-safe and never throw: every
 * problem is a {@link Rejection} with a reason that holds neither the body nor a secret.
 */
@FunctionalInterface
public interface WebhookVerifier {

  /**
   * Verifies one delivery.
   *
   * @param headers the request's headers; names are matched case-insensitively
   * @param body the raw body, exactly as received
   * @param context the provider's shared support (HTTP for a key set, JSON, logger)
   * @return a {@link Delivery} when the signature holds, else a {@link Rejection}
   */
  CompletableFuture<Verification> verify(Map<String, List<String>> headers, byte[] body, ProviderContext context);

  /** The outcome of {@link #verify}: a {@link Delivery} or a {@link Rejection}. */
  sealed interface Verification permits Delivery, Rejection {}

  /**
   * A delivery whose signature holds.
   *
   * @param deliveryId the delivery's id, the same when the provider resends it (for replay detection)
   * @param remoteJobId the provider's id of the job it is about, or null when it names none
   * @param timestamp when the provider says it sent the delivery (signed); null when the provider's
   *     scheme carries no timestamp, or for a delivery accepted unsigned (its age is then unknown and
   *     not checked)
   */
  record Delivery(String deliveryId, @Nullable String remoteJobId, @Nullable Instant timestamp) implements Verification {}

  /**
   * A delivery that is refused.
   *
   * @param reason what is wrong, short, without the body or a secret
   * @param kind why it is refused
   */
  record Rejection(Kind kind, String reason) implements Verification {

    /**
     * A missing or wrong signature.
     *
     * @param reason what is wrong
     * @return the rejection
     */
    public static Rejection unauthorized(String reason) {
      return new Rejection(Kind.UNAUTHORIZED, reason);
    }

    /**
     * A signed delivery that cannot be read.
     *
     * @param reason what is wrong
     * @return the rejection
     */
    public static Rejection malformed(String reason) {
      return new Rejection(Kind.MALFORMED, reason);
    }

    /**
     * A delivery that cannot be checked now (the provider's keys could not be read): the provider
     * should send it again.
     *
     * @param reason what is wrong
     * @return the rejection
     */
    public static Rejection unavailable(String reason) {
      return new Rejection(Kind.UNAVAILABLE, reason);
    }
  }

  /** Why a delivery is refused; the receiver answers 401, 400 and 503. */
  enum Kind {
    /** A missing, malformed or wrong signature (401). */
    UNAUTHORIZED,
    /** A signed delivery that cannot be read (400). */
    MALFORMED,
    /** The signature cannot be checked now (503: the provider retries). */
    UNAVAILABLE
  }
}
