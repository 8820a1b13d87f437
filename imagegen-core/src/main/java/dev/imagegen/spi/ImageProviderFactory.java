package dev.imagegen.spi;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Creates a provider; found with {@link java.util.ServiceLoader} from
 * {@code META-INF/services/dev.imagegen.spi.ImageProviderFactory}. A plugin author's jar on the
 * class path is enough for {@code ImageGenerationService.fromEnvironment()} to find it.
 * Implementations need a public no-argument constructor and must be stateless.
 */
public interface ImageProviderFactory {

  /** The provider id: lower case, digits and dashes, e.g. {@code fal}; used in config keys. */
  String id();

  /**
   * The provider's customary environment variables for each config key, in order of preference,
   * read when the {@code IMAGEGEN_} ones are absent: e.g. {@code api-key -> [FAL_KEY]}.
   */
  default Map<String, List<String>> customaryEnvironment() {
    return Map.of();
  }

  /**
   * The config keys this provider reads beyond {@link ProviderConfig#STANDARD_SETTINGS}, e.g.
   * {@code storage-url}; an entry ending in {@code .*} is a family, e.g. {@code model.*} for
   * {@code model.<alias>}. {@code fromEnvironment()} reports every {@code imagegen.<id>.*} property
   * and {@code IMAGEGEN_<ID>_*} variable that neither set names, with the nearest known name, so
   * declare every key the provider reads. Default none.
   */
  default Set<String> settings() {
    return Set.of();
  }

  /**
   * Defaults for config keys the operator left unset, e.g. {@code max-concurrent=1} and
   * {@code timeout=10m} for a self-hosted server that runs one job at a time. Applied by the
   * service before {@link #isConfigured} and {@link #create}. Default none.
   */
  default Map<String, String> defaults() {
    return Map.of();
  }

  /**
   * Whether the configuration is complete enough to create a working provider (usually: a key is
   * set). {@code fromEnvironment()} enables only configured providers.
   *
   * @param config the configuration
   */
  boolean isConfigured(ProviderConfig config);

  /**
   * Whether {@code fromEnvironment()} enables this provider when no provider at all is configured
   * (AI Horde's anonymous key). Default false.
   */
  default boolean enabledWhenNothingConfigured() {
    return false;
  }

  /**
   * Creates the provider.
   *
   * @param config its configuration
   * @return the provider
   * @throws IllegalStateException naming the key when the configuration is invalid
   */
  ImageProvider create(ProviderConfig config);
}
