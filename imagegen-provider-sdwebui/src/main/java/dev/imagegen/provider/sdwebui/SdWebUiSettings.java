package dev.imagegen.provider.sdwebui;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.Secret;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The provider's configuration, read and checked once by the factory. Immutable. Never shows a
 * credential: {@link #toString()} is not overridden on purpose and no field holds one in clear
 * text except the {@link Secret} header value.
 */
final class SdWebUiSettings {
  /** The WebUI's conventional address ({@code --api} shares the UI server on port 7860). */
  static final String DEFAULT_BASE_URL = "http://127.0.0.1:7860";
  /** Per-call limit for txt2img/img2img: a busy WebUI queues, so it is generous; the deadline still applies. */
  static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(10);
  static final String USERNAME = "username";
  static final String PASSWORD = "password";
  static final String API_AUTH = "api-auth";

  final URI baseUrl;
  final @Nullable Secret authorization;
  /** Who the credentials are, for messages: never the password. */
  final @Nullable String authDescription;
  final Duration callTimeout;
  final int maxBatch;
  final @Nullable String defaultModel;
  /** Alias to checkpoint, in configuration order (looked up ignoring case). */
  final Map<String, String> aliases;
  final @Nullable Integer defaultSteps;
  final @Nullable String defaultSampler;
  final @Nullable String defaultScheduler;
  final Duration catalogTtl;

  SdWebUiSettings(ProviderConfig c) {
    this.baseUrl = c.url(ProviderConfig.BASE_URL, DEFAULT_BASE_URL);
    String[] auth = credentials(c);
    if (auth != null) {
      String basic = Base64.getEncoder().encodeToString((auth[0] + ":" + auth[1]).getBytes(StandardCharsets.UTF_8));
      this.authorization = Secret.of("Basic " + basic);
      this.authDescription = "username '" + auth[0] + "'";
    } else if (c.apiKey().isPresent()) {
      // a key without a colon is not --api-auth: sent as a bearer token for an authenticating proxy
      this.authorization = Secret.of("Bearer " + c.apiKey().get().reveal());
      this.authDescription = "the api-key (sent as a bearer token)";
    } else {
      this.authorization = null;
      this.authDescription = null;
    }
    // any positive time: the request's deadline bounds the call anyway
    this.callTimeout = c.duration(ProviderConfig.TIMEOUT, DEFAULT_TIMEOUT, Duration.ofNanos(1),
        Duration.ofSeconds(Long.MAX_VALUE));
    this.maxBatch = c.intValue("max-batch-size", 8, 1, ImageGenerationRequest.MAX_IMAGES);
    this.defaultModel = optional(c, "model");
    this.aliases = parseAliases(c);
    // 0 leaves the steps to the WebUI's own default
    int steps = c.intValue("default-steps", 20, 0, ImageGenerationRequest.MAX_STEPS);
    this.defaultSteps = steps == 0 ? null : steps;
    this.defaultSampler = optional(c, "default-sampler");
    this.defaultScheduler = optional(c, "default-scheduler");
    this.catalogTtl = c.duration("catalog-ttl", Duration.ofMinutes(5));
  }

  /** The checkpoint an alias stands for, or the name itself. */
  String checkpointFor(String model) {
    return aliases.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(model)).map(Map.Entry::getValue).findFirst()
        .orElse(model);
  }

  /**
   * {@code username}/{@code password}, else {@code api-auth} ({@code user:pass}, the WebUI's
   * {@code --api-auth} value; the first pair when several are listed), else an {@code api-key}
   * holding {@code user:pass}.
   */
  private static String @Nullable [] credentials(ProviderConfig c) {
    var user = c.get(USERNAME);
    if (user.isPresent()) {
      return new String[] {user.get(), c.require(PASSWORD)};
    }
    if (c.get(PASSWORD).isPresent()) {
      throw new IllegalStateException(c.providerId() + ": '" + PASSWORD + "' is set but '" + USERNAME + "' is not");
    }
    String pair = c.get(API_AUTH).orElse(null);
    String from = API_AUTH;
    if (pair == null) {
      String key = c.get(ProviderConfig.API_KEY).orElse(null);
      if (key == null || key.indexOf(':') < 0) {
        return null;
      }
      pair = key;
      from = ProviderConfig.API_KEY;
    }
    int comma = pair.indexOf(',');
    if (comma >= 0) {
      pair = pair.substring(0, comma);
    }
    int colon = pair.indexOf(':');
    if (colon <= 0) {
      // never echo the value: it is a credential
      throw new IllegalStateException(c.providerId() + ": '" + from + "' must be user:password (the WebUI's --api-auth value)");
    }
    return new String[] {pair.substring(0, colon), pair.substring(colon + 1)};
  }

  private static Map<String, String> parseAliases(ProviderConfig c) {
    Map<String, String> out = new LinkedHashMap<>();
    String v = c.string("models", "");
    for (String entry : v.split(",")) {
      String e = entry.strip();
      if (e.isEmpty()) {
        continue;
      }
      int eq = e.indexOf('=');
      String alias = eq < 0 ? e : e.substring(0, eq).strip();
      String target = eq < 0 ? e : e.substring(eq + 1).strip();
      if (alias.isEmpty() || target.isEmpty()) {
        throw new IllegalStateException(c.providerId() + ": 'models' entries are alias=checkpoint or checkpoint, was '"
            + e + "'");
      }
      out.put(alias, target);
    }
    return Collections.unmodifiableMap(out);
  }

  /** A text value, stripped; null when unset or blank. */
  private static @Nullable String optional(ProviderConfig c, String key) {
    String v = c.string(key, "");
    return v.isEmpty() ? null : v;
  }
}
