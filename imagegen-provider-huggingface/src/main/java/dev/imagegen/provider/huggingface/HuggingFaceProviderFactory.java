package dev.imagegen.provider.huggingface;

import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Creates the Hugging Face Inference provider, id {@code huggingface}: text to image with
 * FLUX.1-schnell (the default), FLUX.1-dev and SDXL base, or any model id {@code owner/name} that
 * HF Inference serves.
 *
 * <p>Configuration ({@code imagegen.huggingface.<key>} or {@code IMAGEGEN_HUGGINGFACE_<KEY>}):
 * <ul>
 *   <li>{@code api-key}: a Hugging Face token {@code hf_...}; falls back to {@code HF_TOKEN},
 *       {@code HUGGING_FACE_HUB_TOKEN}, {@code HUGGINGFACEHUB_API_TOKEN}, {@code HF_API_TOKEN}.
 *       Fine-grained tokens need the "Make calls to Inference Providers" permission.</li>
 *   <li>{@code base-url}: default {@code https://router.huggingface.co/hf-inference}; calls go to
 *       {@code {base-url}/models/{model}}. The retired {@code https://api-inference.huggingface.co}
 *       answers 410, reported with the URL to use instead.</li>
 *   <li>{@code dedicated-endpoint}: {@code true} when {@code base-url} is a dedicated Inference
 *       Endpoint, called at its own URL with no model in the path; {@code model} then names the
 *       model it serves.</li>
 *   <li>{@code model}: the model used when a request names none, default {@code flux-schnell}.</li>
 *   <li>{@code hub-url}: where {@code /api/whoami-v2} is asked by {@code health()}; default
 *       {@code https://huggingface.co} for Hugging Face hosts, else the base URL's origin.</li>
 *   <li>{@code bill-to}: an organisation to bill, sent as {@code X-HF-Bill-To}.</li>
 *   <li>{@code parallel-calls}: calls in flight at once for a request of several images (one
 *       call per image), default 2.</li>
 *   <li>{@code max-images-per-request}: default 10.</li>
 *   <li>{@code max-loading-wait}: longest {@code estimated_time} of a loading model waited for,
 *       default 5 minutes (the request's deadline bounds it too); {@code max-loading-retries},
 *       default 3.</li>
 *   <li>{@code price-per-gpu-second} (default 0.00012) and {@code typical-gpu-seconds}
 *       (default 10), plus the standard {@code timeout}, {@code requests-per-minute},
 *       {@code max-concurrent}, {@code priority}.</li>
 * </ul>
 *
 * <p>Stateless and thread-safe.
 */
public final class HuggingFaceProviderFactory implements ImageProviderFactory {

  /** Creates the factory; called by {@link java.util.ServiceLoader}. */
  public HuggingFaceProviderFactory() {}

  /** {@return {@code huggingface}} */
  @Override
  public String id() {
    return HuggingFaceProvider.ID;
  }

  /**
   * {@return {@code api-key} from {@code HF_TOKEN}, then {@code HUGGING_FACE_HUB_TOKEN},
   * {@code HUGGINGFACEHUB_API_TOKEN}, {@code HF_API_TOKEN}}
   */
  @Override
  public Map<String, List<String>> customaryEnvironment() {
    return Map.of(ProviderConfig.API_KEY,
        List.of("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACEHUB_API_TOKEN", "HF_API_TOKEN"));
  }

  /** The keys this provider reads beyond the standard ones (see its README). */
  @Override
  public Set<String> settings() {
    return Set.of("dedicated-endpoint", "model", "hub-url", "bill-to", "parallel-calls", "max-images-per-request",
        "max-loading-wait", "max-loading-retries");
  }

  /**
   * Configured when a token is set, or when {@code base-url} points somewhere other than Hugging
   * Face (a proxy or a self-hosted server that may need no token).
   *
   * @param config the configuration
   */
  @Override
  public boolean isConfigured(ProviderConfig config) {
    if (config.apiKey().isPresent()) {
      return true;
    }
    return config.get(ProviderConfig.BASE_URL).map(u -> {
      try {
        return !HuggingFaceProvider.isHuggingFaceHost(URI.create(u.strip()), ".huggingface.co");
      } catch (IllegalArgumentException e) {
        return false;
      }
    }).orElse(false);
  }

  /**
   * Creates the provider.
   *
   * @param config the configuration
   * @throws IllegalStateException when the token is missing for a Hugging Face host, or a key is invalid
   */
  @Override
  public ImageProvider create(ProviderConfig config) {
    return new HuggingFaceProvider(config);
  }
}
