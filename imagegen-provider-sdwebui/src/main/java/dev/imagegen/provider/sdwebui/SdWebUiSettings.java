package dev.imagegen.provider.sdwebui;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.Secret;
import java.math.BigDecimal;
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
  static final int DEFAULT_STEPS = 20;
  static final int DEFAULT_MAX_BATCH = 8;
  static final Duration DEFAULT_CATALOG_TTL = Duration.ofMinutes(5);

  static final String USERNAME = "username";
  static final String PASSWORD = "password";
  static final String API_AUTH = "api-auth";
  static final String MODEL = "model";
  static final String MODELS = "models";
  static final String DEFAULT_STEPS_KEY = "default-steps";
  static final String DEFAULT_SAMPLER = "default-sampler";
  static final String DEFAULT_SCHEDULER = "default-scheduler";
  static final String MAX_BATCH_SIZE = "max-batch-size";
  static final String CATALOG_TTL = "catalog-ttl";
  static final String TYPICAL_GPU_SECONDS = "typical-gpu-seconds";

  final URI baseUrl;
  final @Nullable Secret authorization;
  /** Who the credentials are, for messages: never the password. */
  final @Nullable String authDescription;
  final Duration callTimeout;
  final int maxConcurrent;
  final int maxBatch;
  final @Nullable String defaultModel;
  /** Alias to checkpoint, in configuration order (looked up ignoring case). */
  final Map<String, String> aliases;
  final @Nullable Integer defaultSteps;
  final @Nullable String defaultSampler;
  final @Nullable String defaultScheduler;
  final Duration catalogTtl;
  final @Nullable BigDecimal pricePerGpuSecond;
  final double typicalGpuSeconds;

  private SdWebUiSettings(ProviderConfig c) {
    this.baseUrl = c.baseUrl(DEFAULT_BASE_URL);
    String scheme = baseUrl.getScheme();
    if (scheme == null || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https")) || baseUrl.getHost() == null) {
      throw new IllegalStateException(c.providerId() + ": base-url must be an http(s) URL such as " + DEFAULT_BASE_URL
          + ", was " + baseUrl);
    }
    String[] auth = credentials(c);
    if (auth != null) {
      String basic = Base64.getEncoder().encodeToString((auth[0] + ":" + auth[1]).getBytes(StandardCharsets.UTF_8));
      this.authorization = Secret.of("Basic " + basic);
      this.authDescription = "username '" + auth[0] + "'";
    } else if (c.get(ProviderConfig.API_KEY).isPresent()) {
      // a key without a colon is not --api-auth: sent as a bearer token for an authenticating proxy
      this.authorization = Secret.of("Bearer " + c.require(ProviderConfig.API_KEY));
      this.authDescription = "the api-key (sent as a bearer token)";
    } else {
      this.authorization = null;
      this.authDescription = null;
    }
    this.callTimeout = c.duration(ProviderConfig.TIMEOUT, DEFAULT_TIMEOUT);
    if (callTimeout.isNegative() || callTimeout.isZero()) {
      throw new IllegalStateException(c.providerId() + ": timeout must be positive, was " + callTimeout);
    }
    this.maxConcurrent = Math.max(1, c.intValue(ProviderConfig.MAX_CONCURRENT, 1));
    this.maxBatch = c.intValue(MAX_BATCH_SIZE, DEFAULT_MAX_BATCH);
    if (maxBatch < 1 || maxBatch > ImageGenerationRequest.MAX_IMAGES) {
      throw new IllegalStateException(c.providerId() + ": " + MAX_BATCH_SIZE + " must be between 1 and "
          + ImageGenerationRequest.MAX_IMAGES + ", was " + maxBatch);
    }
    this.defaultModel = blankToNull(c.get(MODEL).orElse(null));
    this.aliases = parseAliases(c);
    int steps = c.intValue(DEFAULT_STEPS_KEY, DEFAULT_STEPS);
    if (steps < 0 || steps > ImageGenerationRequest.MAX_STEPS) {
      throw new IllegalStateException(c.providerId() + ": " + DEFAULT_STEPS_KEY + " must be between 0 (the WebUI's own default) and "
          + ImageGenerationRequest.MAX_STEPS + ", was " + steps);
    }
    this.defaultSteps = steps == 0 ? null : steps;
    this.defaultSampler = blankToNull(c.get(DEFAULT_SAMPLER).orElse(null));
    this.defaultScheduler = blankToNull(c.get(DEFAULT_SCHEDULER).orElse(null));
    this.catalogTtl = c.duration(CATALOG_TTL, DEFAULT_CATALOG_TTL);
    this.pricePerGpuSecond = c.decimal(ProviderConfig.PRICE_PER_GPU_SECOND).filter(p -> p.signum() > 0).orElse(null);
    this.typicalGpuSeconds = c.decimal(TYPICAL_GPU_SECONDS).map(BigDecimal::doubleValue).orElse(5.0);
  }

  static SdWebUiSettings from(ProviderConfig config) {
    return new SdWebUiSettings(config);
  }

  /** The checkpoint an alias stands for, or the name itself. */
  String checkpointFor(String model) {
    for (Map.Entry<String, String> e : aliases.entrySet()) {
      if (e.getKey().equalsIgnoreCase(model)) {
        return e.getValue();
      }
    }
    return model;
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
    String v = c.get(MODELS).orElse("");
    for (String entry : v.split(",")) {
      String e = entry.strip();
      if (e.isEmpty()) {
        continue;
      }
      int eq = e.indexOf('=');
      String alias = eq < 0 ? e : e.substring(0, eq).strip();
      String target = eq < 0 ? e : e.substring(eq + 1).strip();
      if (alias.isEmpty() || target.isEmpty()) {
        throw new IllegalStateException(c.providerId() + ": '" + MODELS + "' entries are alias=checkpoint or checkpoint, was '"
            + e + "'");
      }
      out.put(alias, target);
    }
    return Collections.unmodifiableMap(out);
  }

  private static @Nullable String blankToNull(@Nullable String s) {
    return s == null || s.isBlank() ? null : s.strip();
  }
}
