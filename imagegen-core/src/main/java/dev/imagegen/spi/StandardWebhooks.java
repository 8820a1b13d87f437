package dev.imagegen.spi;

import com.fasterxml.jackson.databind.JsonNode;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.jspecify.annotations.Nullable;

/**
 * The Standard Webhooks signature scheme (standardwebhooks.com), used by Replicate among others:
 * headers {@code webhook-id}, {@code webhook-timestamp} (seconds since the epoch) and
 * {@code webhook-signature} (one or more space-separated {@code v1,<base64>}); the signature is
 * HMAC-SHA256 over {@code id.timestamp.body} with the base64-decoded part of the
 * {@code whsec_...} signing secret. Any one {@code v1} signature that matches (compared in
 * constant time) verifies the delivery; the id is the delivery id. Staleness and replays are
 * checked by the receiver.
 */
public final class StandardWebhooks implements WebhookVerifier {
  private static final String PREFIX = "whsec_";
  private final byte[] key;
  private final Function<JsonNode, @Nullable String> jobId;
  private final boolean allowUnsigned;

  private StandardWebhooks(byte[] key, Function<JsonNode, @Nullable String> jobId, boolean allowUnsigned) {
    this.key = key;
    this.jobId = jobId;
    this.allowUnsigned = allowUnsigned;
  }

  /**
   * A verifier for one signing secret.
   *
   * @param signingSecret the secret, {@code whsec_<base64>} (the prefix may be left out)
   * @param jobId reads the provider's job id from the verified JSON body (null when it names none)
   * @param allowUnsigned whether a delivery with none of the three headers is accepted unchecked
   *     (its timestamp unknown); a wrong or partial signature is refused either way
   * @return the verifier
   * @throws IllegalArgumentException when the secret is not base64 (the message never shows it)
   */
  public static StandardWebhooks verifier(Secret signingSecret, Function<JsonNode, @Nullable String> jobId,
      boolean allowUnsigned) {
    String s = signingSecret.reveal().strip();
    if (s.startsWith(PREFIX)) {
      s = s.substring(PREFIX.length());
    }
    byte[] key;
    try {
      key = Base64.getDecoder().decode(s);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("the webhook signing secret is not whsec_ followed by base64");
    }
    if (key.length == 0) {
      throw new IllegalArgumentException("the webhook signing secret is empty");
    }
    return new StandardWebhooks(key, jobId, allowUnsigned);
  }

  @Override
  public CompletableFuture<Verification> verify(Map<String, List<String>> headers, byte[] body, ProviderContext context) {
    return CompletableFuture.completedFuture(check(headers, body, context));
  }

  private Verification check(Map<String, List<String>> headers, byte[] body, ProviderContext context) {
    String id = Webhooks.header(headers, "webhook-id");
    String ts = Webhooks.header(headers, "webhook-timestamp");
    String sig = Webhooks.header(headers, "webhook-signature");
    Instant at = null;
    if (id == null && ts == null && sig == null && allowUnsigned) {
      id = "unsigned-" + Webhooks.sha256Hex(body);
    } else {
      if (id == null || ts == null || sig == null) {
        return Rejection.unauthorized("missing " + (id == null ? "webhook-id " : "") + (ts == null ? "webhook-timestamp " : "")
            + (sig == null ? "webhook-signature" : "").strip());
      }
      long seconds;
      try {
        seconds = Long.parseLong(ts);
        at = Instant.ofEpochSecond(seconds);
      } catch (RuntimeException e) {
        return Rejection.unauthorized("webhook-timestamp is not a number of seconds");
      }
      if (!matches(id, ts, body, sig)) {
        return Rejection.unauthorized("no webhook-signature matches");
      }
    }
    JsonNode json = Webhooks.readObject(body, context.json());
    if (json == null) {
      return Rejection.malformed("the body is not a JSON object");
    }
    String job = jobId.apply(json);
    return new Delivery(id, job, at);
  }

  private boolean matches(String id, String ts, byte[] body, String header) {
    byte[] expected;
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      mac.update(Webhooks.utf8(id + "." + ts + "."));
      expected = mac.doFinal(body);
    } catch (GeneralSecurityException e) {
      return false;
    }
    for (String part : header.split(" ")) {
      int comma = part.indexOf(',');
      if (comma < 0 || !part.substring(0, comma).equals("v1")) {
        continue; // another scheme's signature (v1a) or garbage: not ours to check
      }
      byte[] given;
      try {
        given = Base64.getDecoder().decode(part.substring(comma + 1));
      } catch (IllegalArgumentException e) {
        continue;
      }
      if (MessageDigest.isEqual(expected, given)) {
        return true;
      }
    }
    return false;
  }
}
