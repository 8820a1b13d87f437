package dev.imagegen.provider.bfl;

import com.fasterxml.jackson.databind.JsonNode;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.Secret;
import dev.imagegen.spi.WebhookVerifier;
import dev.imagegen.spi.Webhooks;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * BFL's webhook deliveries, made with the {@code webhook_secret} each submit carries. BFL's own
 * sources disagree on how the secret comes back: its Python client says it is echoed verbatim in
 * {@code X-Webhook-Secret}, its integration guide describes {@code X-BFL-Signature: sha256=<hex>},
 * the HMAC-SHA256 of the raw body keyed with the secret. Either is accepted; a header that is
 * present must hold (a wrong one is refused even with {@code webhook-allow-unsigned}). Both are
 * compared in constant time. Neither scheme has a timestamp header and the body's
 * {@code timestamp} (in the guide's example only) is not read, so a delivery has none: its age is
 * not checked, a replay within the receiver's window is caught by its id. The job is the body's {@code id}, else
 * {@code task_id}; the delivery id is the SHA-256 of the body. Thread-safe.
 */
final class BflWebhooks implements WebhookVerifier {
  /** The HMAC header of BFL's integration guide. */
  static final String SIGNATURE = "X-BFL-Signature";
  /** The echoed-secret header of BFL's Python client. */
  static final String ECHOED_SECRET = "X-Webhook-Secret";
  private static final String PREFIX = "sha256=";

  private final Secret secret;
  private final boolean allowUnsigned;

  BflWebhooks(Secret secret, boolean allowUnsigned) {
    this.secret = secret;
    this.allowUnsigned = allowUnsigned;
  }

  @Override
  public CompletableFuture<Verification> verify(Map<String, List<String>> headers, byte[] body, ProviderContext context) {
    return CompletableFuture.completedFuture(check(headers, body, context));
  }

  private Verification check(Map<String, List<String>> headers, byte[] body, ProviderContext context) {
    String signature = Webhooks.header(headers, SIGNATURE);
    String echoed = Webhooks.header(headers, ECHOED_SECRET);
    if (signature == null && echoed == null && !allowUnsigned) {
      return Rejection.unauthorized("missing " + SIGNATURE + " and " + ECHOED_SECRET);
    }
    byte[] key = secret.reveal().getBytes(StandardCharsets.UTF_8);
    if (signature != null) {
      if (!signature.toLowerCase(Locale.ROOT).startsWith(PREFIX)) {
        return Rejection.unauthorized(SIGNATURE + " is not sha256=<hex>");
      }
      byte[] given;
      try {
        given = HexFormat.of().parseHex(signature.substring(PREFIX.length()));
      } catch (IllegalArgumentException e) {
        return Rejection.unauthorized(SIGNATURE + " is not sha256=<hex>");
      }
      if (!MessageDigest.isEqual(hmac(key, body), given)) {
        return Rejection.unauthorized(SIGNATURE + " does not match the body");
      }
    }
    if (echoed != null && !MessageDigest.isEqual(key, echoed.getBytes(StandardCharsets.UTF_8))) {
      return Rejection.unauthorized(ECHOED_SECRET + " is not the configured webhook-secret");
    }
    JsonNode json = Webhooks.readObject(body, context.json());
    if (json == null) {
      return Rejection.malformed("the body is not a JSON object");
    }
    String task = Webhooks.text(json, "id");
    if (task == null) {
      task = Webhooks.text(json, "task_id");
    }
    if (task == null) {
      return Rejection.malformed("the body names no task (no id or task_id)");
    }
    return new Delivery(Webhooks.sha256Hex(body), task, null);
  }

  /** HMAC-SHA256 of the body keyed with the secret's UTF-8 bytes. */
  static byte[] hmac(byte[] key, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(body);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is missing from this JDK", e);
    }
  }
}
