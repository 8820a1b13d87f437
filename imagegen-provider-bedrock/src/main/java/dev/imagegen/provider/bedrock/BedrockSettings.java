package dev.imagegen.provider.bedrock;

import dev.imagegen.spi.ImageDownloader;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.Secret;
import java.net.URI;
import java.time.Duration;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The provider's configuration, read and checked once when it is created. Immutable. Holds the
 * secret access key and session token only as {@link Secret}s and shows neither.
 */
final class BedrockSettings {
  static final String REGION = "region";
  static final String ACCESS_KEY_ID = "access-key-id";
  static final String SECRET_ACCESS_KEY = "secret-access-key";
  static final String SESSION_TOKEN = "session-token";
  static final String PROFILE = "profile";
  static final String DEFAULT_CREDENTIALS = "default-credentials";
  static final String MODEL = "model";
  /** The per-call limit when {@code timeout} is unset: a premium 2048x2048 Nova job takes tens of seconds. */
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(120);

  /** Where credentials come from. */
  enum CredentialSource {
    /** {@code access-key-id} and {@code secret-access-key} (and {@code session-token}) from the configuration. */
    STATIC,
    /** A named profile of {@code ~/.aws/config} and {@code ~/.aws/credentials}. */
    PROFILE,
    /** The AWS SDK's default chain (system properties, environment, web identity, profile, container, instance metadata). */
    DEFAULT_CHAIN
  }

  final String region;
  final CredentialSource source;
  final @Nullable String accessKeyId;
  final @Nullable Secret secretAccessKey;
  final @Nullable Secret sessionToken;
  final @Nullable String profile;
  /** The {@code base-url}, sent as the SDK's endpoint override; null for the region's public endpoint. */
  final @Nullable URI endpoint;
  final String defaultModel;
  final Duration callTimeout;
  final long maxImageBytes;
  final int maxConcurrency;

  BedrockSettings(ProviderConfig c) {
    String id = c.providerId();
    this.region = c.get(REGION).map(String::strip).filter(s -> !s.isEmpty())
        .orElseThrow(() -> new IllegalStateException(id + ": '" + REGION + "' is not set (" + c.whereToSet(REGION)
            + ", or AWS_REGION): Bedrock has no global endpoint"));
    if (!region.matches("[a-z]{2,}(-[a-z0-9]+)+")) {
      throw new IllegalStateException(id + ": '" + REGION + "' is not an AWS region such as us-east-1: " + region);
    }
    Optional<String> keyId = c.get(ACCESS_KEY_ID).map(String::strip).filter(s -> !s.isEmpty());
    Optional<Secret> secret = c.secret(SECRET_ACCESS_KEY).or(c::apiKey);
    Optional<String> profileName = c.get(PROFILE).map(String::strip).filter(s -> !s.isEmpty());
    boolean chain = c.bool(DEFAULT_CREDENTIALS, false);
    if (keyId.isPresent() != secret.isPresent()) {
      // never echo either value
      throw new IllegalStateException(id + ": '" + ACCESS_KEY_ID + "' and '" + SECRET_ACCESS_KEY + "' (or '"
          + ProviderConfig.API_KEY + "') go together; only " + (keyId.isPresent() ? ACCESS_KEY_ID : "the secret") + " is set");
    }
    this.sessionToken = c.secret(SESSION_TOKEN).orElse(null);
    if (keyId.isPresent()) {
      this.source = CredentialSource.STATIC;
      if (profileName.isPresent() || chain) {
        throw new IllegalStateException(id + ": credentials are configured twice: '" + ACCESS_KEY_ID + "' and "
            + (profileName.isPresent() ? "'" + PROFILE + "'" : "'" + DEFAULT_CREDENTIALS + "=true'") + "; keep one");
      }
    } else if (sessionToken != null) {
      throw new IllegalStateException(id + ": '" + SESSION_TOKEN + "' is set without '" + ACCESS_KEY_ID + "' and '"
          + SECRET_ACCESS_KEY + "'");
    } else if (profileName.isPresent()) {
      if (chain) {
        throw new IllegalStateException(id + ": '" + PROFILE + "' and '" + DEFAULT_CREDENTIALS + "=true' are both set; keep one");
      }
      this.source = CredentialSource.PROFILE;
    } else if (chain) {
      this.source = CredentialSource.DEFAULT_CHAIN;
    } else {
      throw new IllegalStateException(id + ": no credentials: set '" + ACCESS_KEY_ID + "' and '" + SECRET_ACCESS_KEY
          + "' (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), '" + PROFILE + "', or '" + DEFAULT_CREDENTIALS
          + "=true' for the AWS SDK's default chain");
    }
    this.accessKeyId = keyId.orElse(null);
    this.secretAccessKey = secret.orElse(null);
    this.profile = profileName.orElse(null);
    this.endpoint = c.get(ProviderConfig.BASE_URL).filter(s -> !s.isBlank()).isPresent()
        ? c.url(ProviderConfig.BASE_URL, "https://bedrock-runtime." + region + ".amazonaws.com") : null;
    String model = c.string(MODEL, BedrockModels.NOVA_CANVAS);
    this.defaultModel = BedrockModels.resolve(model.isEmpty() ? BedrockModels.NOVA_CANVAS : model);
    if (BedrockModels.family(defaultModel) == null) {
      throw new IllegalStateException(id + ": '" + MODEL + "' is not an image model this provider speaks: " + model
          + " (known: " + String.join(", ", BedrockModels.ALIASES.keySet()) + ", or their Bedrock ids)");
    }
    this.callTimeout = c.duration(ProviderConfig.TIMEOUT, DEFAULT_TIMEOUT, Duration.ofMillis(1), Duration.ofHours(1));
    this.maxImageBytes = c.longValue(ProviderConfig.MAX_IMAGE_BYTES, ImageDownloader.DEFAULT_MAX_BYTES, 1, Long.MAX_VALUE / 8);
    this.maxConcurrency = c.intValue(ProviderConfig.MAX_CONCURRENT, 50, 1, 10_000);
  }

  /** The endpoint calls go to, for messages and metadata. */
  URI endpointOrDefault() {
    return endpoint != null ? endpoint : URI.create("https://bedrock-runtime." + region + ".amazonaws.com");
  }

  /**
   * The largest answer read from InvokeModel: five images (the most one call returns) of
   * {@code max-image-bytes} each as base64, plus a margin, and at least 16 MiB; the same rule as
   * core's {@code ProviderHttp.bodyLimit}.
   */
  long maxAnswerBytes() {
    long perImage = (maxImageBytes + 2) / 3 * 4 + 1024;
    long limit = perImage > (Long.MAX_VALUE - (1 << 20)) / 5 ? Long.MAX_VALUE : 5 * perImage + (1 << 20);
    return Math.max(16L << 20, limit);
  }
}
