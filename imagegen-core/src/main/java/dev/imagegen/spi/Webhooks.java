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
