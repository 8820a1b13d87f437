package dev.imagegen.provider.bedrock;

import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Creates the {@code bedrock} provider: Amazon Bedrock's image models (Nova Canvas, Titan Image
 * Generator v2, Stability's models on Bedrock) through {@code bedrock-runtime} InvokeModel, signed
 * with SigV4 by the AWS SDK for Java v2. Found by {@link java.util.ServiceLoader}; stateless.
 *
 * <p>Configuration keys ({@code imagegen.bedrock.<key>} or {@code IMAGEGEN_BEDROCK_<KEY>}; the
 * module's README has the full table):
 * <ul>
 *   <li>{@code region} (or {@code AWS_REGION}, {@code AWS_DEFAULT_REGION}): required.</li>
 *   <li>Credentials, one of: {@code access-key-id} with {@code secret-access-key} (or
 *       {@code api-key}) and optionally {@code session-token} (or {@code AWS_ACCESS_KEY_ID},
 *       {@code AWS_SECRET_ACCESS_KEY}, {@code AWS_SESSION_TOKEN}); {@code profile} (or
 *       {@code AWS_PROFILE}); {@code default-credentials=true} for the SDK's default chain.</li>
 *   <li>{@code model}: the model when a request names none (default {@code amazon.nova-canvas-v1:0}).</li>
 *   <li>{@code base-url}: the SDK's endpoint override (a VPC endpoint, a proxy, tests).</li>
 *   <li>{@code price.<model>}: USD per image; no model has a built-in price.</li>
 * </ul>
 */
public final class BedrockProviderFactory implements ImageProviderFactory {
  /** The provider id, {@value}. */
  public static final String ID = "bedrock";

  /** Creates the factory (used by {@link java.util.ServiceLoader}). */
  public BedrockProviderFactory() {}

  @Override
  public String id() {
    return ID;
  }

  /** The AWS SDK's customary variables for the region and the credentials. */
  @Override
  public Map<String, List<String>> customaryEnvironment() {
    return Map.of(BedrockSettings.REGION, List.of("AWS_REGION", "AWS_DEFAULT_REGION"),
        BedrockSettings.ACCESS_KEY_ID, List.of("AWS_ACCESS_KEY_ID"),
        BedrockSettings.SECRET_ACCESS_KEY, List.of("AWS_SECRET_ACCESS_KEY"),
        BedrockSettings.SESSION_TOKEN, List.of("AWS_SESSION_TOKEN"),
        BedrockSettings.PROFILE, List.of("AWS_PROFILE"));
  }

  /** The keys this provider reads beyond the standard ones (see its README). */
  @Override
  public Set<String> settings() {
    return Set.of(BedrockSettings.REGION, BedrockSettings.ACCESS_KEY_ID, BedrockSettings.SECRET_ACCESS_KEY,
        BedrockSettings.SESSION_TOKEN, BedrockSettings.PROFILE, BedrockSettings.DEFAULT_CREDENTIALS, BedrockSettings.MODEL);
  }

  /**
   * Configured when a region is set and credentials are: an access key pair, a profile, or
   * {@code default-credentials=true}.
   */
  @Override
  public boolean isConfigured(ProviderConfig config) {
    if (config.get(BedrockSettings.REGION).filter(s -> !s.isBlank()).isEmpty()) {
      return false;
    }
    boolean keys = config.get(BedrockSettings.ACCESS_KEY_ID).filter(s -> !s.isBlank()).isPresent()
        && (config.get(BedrockSettings.SECRET_ACCESS_KEY).filter(s -> !s.isBlank()).isPresent() || config.apiKey().isPresent());
    boolean profile = config.get(BedrockSettings.PROFILE).filter(s -> !s.isBlank()).isPresent();
    return keys || profile || config.bool(BedrockSettings.DEFAULT_CREDENTIALS, false);
  }

  /**
   * Creates the provider.
   *
   * @throws IllegalStateException naming the key when a value is missing or invalid
   */
  @Override
  public ImageProvider create(ProviderConfig config) {
    return new BedrockProvider(config);
  }
}
