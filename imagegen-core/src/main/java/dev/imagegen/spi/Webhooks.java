package dev.imagegen.spi;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The settings and helpers every provider that sends webhooks shares. With {@value #URL} set, a
 * provider asks for a webhook on each job it submits and waits on the job with a slow safety-net
 * poll ({@link #safetyNet}); a verified delivery makes the poll loop poll at once.
 */
public final class Webhooks {
  /** Config key: the public URL where the application mounted the service's webhook receiver for this provider. */
  public static final String URL = "webhook-url";
  /**
   * Config key: accept deliveries that carry no signature at all (default false; the service
   * warns when it is built with it). A delivery with a wrong signature is refused either way.
   */
  public static final String ALLOW_UNSIGNED = "webhook-allow-unsigned";
  /** Config key: the safety-net poll interval of a job that will send a webhook (default 30 s, at least 1 s). */
  public static final String POLL_INTERVAL = "webhook-poll-interval";
  /** The default safety-net poll interval. */
  public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofSeconds(30);

  private Webhooks() {}

  /**
   * The configured {@value #URL}, checked to be an http(s) URL with a host.
   *
   * @param config the provider's configuration
   * @return the URL, or empty when webhooks are not configured
   * @throws IllegalStateException naming the key when the value is not such a URL
   */
  public static Optional<URI> url(ProviderConfig config) {
    if (config.get(URL).map(String::isBlank).orElse(true)) {
      return Optional.empty();
    }
    return Optional.of(config.url(URL, "https://invalid.example"));
  }

  /** Whether {@value #ALLOW_UNSIGNED} is set to true. */
  public static boolean allowUnsigned(ProviderConfig config) {
    return config.bool(ALLOW_UNSIGNED, false);
  }

  /**
   * The poll policy of a job that will send a webhook: the first poll at the normal policy's time
   * (it also catches a delivery that arrived before the job was registered), then every
   * {@value #POLL_INTERVAL} (default 30 s), so that a lost webhook still ends the wait.
   *
   * @param normal the provider's policy without webhooks
   * @param config the provider's configuration
   * @return the safety-net policy
   * @throws IllegalStateException naming the key when the interval cannot be read or is below 1 s
   */
  public static PollPolicy safetyNet(PollPolicy normal, ProviderConfig config) {
    Duration every = config.duration(POLL_INTERVAL, DEFAULT_POLL_INTERVAL, Duration.ofSeconds(1), Duration.ofHours(1));
    return new PollPolicy(normal.initialDelay(), every, every, 1.0, normal.floor(), normal.maxConsecutiveErrors(),
        normal.pollsPerSecond());
  }

  /**
   * The verifier of a provider that signs its webhook deliveries not at all (RunPod, the AI Horde):
   * anyone who can reach {@value #URL} could send one, so it is built only when the operator set
   * {@value #ALLOW_UNSIGNED} to true. A delivery is a JSON object naming its job in
   * {@code jobField}; it can only make that job poll at once. A body that is not JSON or names no
   * job is refused as malformed (400).
   *
   * @param config the provider's configuration
   * @param provider the provider's name in messages, e.g. {@code RunPod}
   * @param jobField the body's text field holding the provider's job id
   * @param deliveryId the delivery's id from the body and the job id, for replay detection; null
   *     from it (or this null) means the SHA-256 of the body
   * @return the verifier
   * @throws IllegalStateException naming {@value #ALLOW_UNSIGNED} when it is not true
   */
  public static WebhookVerifier unsignedJson(ProviderConfig config, String provider, String jobField,
      java.util.function.@Nullable BiFunction<com.fasterxml.jackson.databind.JsonNode, String, @Nullable String> deliveryId) {
    if (!allowUnsigned(config)) {
      throw new IllegalStateException(config.providerId() + ": " + provider + " sends webhooks unsigned, so anyone who can "
          + "reach '" + URL + "' could send one (it only makes a job poll at once); set '" + ALLOW_UNSIGNED
          + "' to true to accept that");
    }
    return (headers, body, context) -> {
      com.fasterxml.jackson.databind.JsonNode json = readObject(body, context.json());
      String job = json == null ? null : text(json, jobField);
      if (json == null || job == null) {
        return java.util.concurrent.CompletableFuture.completedFuture(WebhookVerifier.Rejection.malformed(
            json == null ? "the body is not a JSON object" : "the body names no job (no " + jobField + ")"));
      }
      String id = deliveryId == null ? null : deliveryId.apply(json, job);
      return java.util.concurrent.CompletableFuture.completedFuture(
          new WebhookVerifier.Delivery(id != null ? id : sha256Hex(body), job, null));
    };
  }

  /**
   * A delivery's body read as a JSON object, for a verifier.
   *
   * @param body the raw body
   * @param json the provider's JSON mapper
   * @return the object, or null when the body is not JSON or not an object (a {@link
   *     WebhookVerifier.Rejection#malformed} delivery)
   */
  public static com.fasterxml.jackson.databind.node.@Nullable ObjectNode readObject(byte[] body,
      com.fasterxml.jackson.databind.ObjectMapper json) {
    try {
      return json.readTree(body) instanceof com.fasterxml.jackson.databind.node.ObjectNode o ? o : null;
    } catch (java.io.IOException e) {
      return null;
    }
  }

  /**
   * A text field of a delivery's body, stripped.
   *
   * @param json the body
   * @param field the field's name
   * @return its text, or null when it is absent, not text or blank
   */
  public static @Nullable String text(com.fasterxml.jackson.databind.JsonNode json, String field) {
    com.fasterxml.jackson.databind.JsonNode v = json.get(field);
    return v != null && v.isTextual() && !v.asText().isBlank() ? v.asText().strip() : null;
  }

  /**
   * The first value of a header, its name matched case-insensitively.
   *
   * @param headers the request's headers
   * @param name the header's name
   * @return the value, stripped, or null when absent or blank
   */
  public static @Nullable String header(Map<String, List<String>> headers, String name) {
    for (Map.Entry<String, List<String>> e : headers.entrySet()) {
      if (e.getKey() != null && e.getKey().equalsIgnoreCase(name) && e.getValue() != null) {
        for (String v : e.getValue()) {
          if (v != null && !v.isBlank()) {
            return v.strip();
          }
        }
      }
    }
    return null;
  }

  /**
   * The SHA-256 of some bytes, as lower-case hex.
   *
   * @param bytes the bytes
   * @return 64 hex digits
   */
  public static String sha256Hex(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JDK", e);
    }
  }

  /** The UTF-8 bytes of a string. */
  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
