package dev.imagegen.spring.boot;

import dev.imagegen.ImageGenerationService;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;
import org.springframework.core.env.Environment;

/**
 * Auto-configures an {@link ImageGenerationService} from the {@code imagegen.*} properties of the
 * Spring {@link Environment} ({@code application.yml}, {@code application.properties}, system
 * properties, command-line arguments) and the environment variables, with exactly the keys
 * {@link ImageGenerationService#fromEnvironment()} reads: service settings such as
 * {@code imagegen.routing} and {@code imagegen.budget.total}, and each provider's settings such
 * as {@code imagegen.fal.api-key}, for every provider module on the class path.
 *
 * <p>Then every {@link ImageGenerationServiceBuilderCustomizer} bean is applied, in order. A
 * setting that nothing reads is logged as a warning (with the nearest known name) when the service
 * is built, and fails the context in strict mode ({@code imagegen.strict=true}), as does any
 * value that cannot be read. A bean of type {@link ImageGenerationService} of the application's
 * own replaces this one. The service is closed with the context: remote jobs still running are
 * cancelled within the service's shutdown grace.
 */
@AutoConfiguration
@ConditionalOnClass(ImageGenerationService.class)
public class ImageGenerationAutoConfiguration {

  /** Created by Spring. */
  public ImageGenerationAutoConfiguration() {}

  /**
   * The service, configured from the environment, then by the customizers.
   *
   * @param environment Spring's environment, whose {@code imagegen.*} properties are read
   * @param customizers the customizers, applied in order after the properties
   * @return the service, closed when the context closes
   */
  /**
   * The starter's own settings, which core knows by name but does not read: a value the starter
   * cannot use is a configuration error, never an endpoint silently left off or mounted elsewhere.
   */
  static void checkStarterSettings(Environment environment) {
    java.util.List<String> problems = new java.util.ArrayList<>();
    String enabled = environment.getProperty("imagegen.webhooks.endpoint.enabled");
    if (enabled != null && dev.imagegen.spi.ProviderConfig.parseBoolean(enabled) == null) {
      problems.add("imagegen.webhooks.endpoint.enabled: '" + enabled + "' is not true or false");
    }
    String path = environment.getProperty("imagegen.webhooks.endpoint.path");
    if (path != null && !path.matches("(/[A-Za-z0-9._~-]+)+/?")) {
      problems.add("imagegen.webhooks.endpoint.path: '" + path + "' is not a path such as /imagegen/webhooks "
          + "(it starts with /; letters, digits, '.', '_', '~', '-' between the slashes)");
    }
    if (!problems.isEmpty()) {
      throw new dev.imagegen.ConfigurationException(problems);
    }
  }

  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  public ImageGenerationService imageGenerationService(Environment environment,
      ObjectProvider<ImageGenerationServiceBuilderCustomizer> customizers) {
    checkStarterSettings(environment);
    ImageGenerationService.Builder builder = ImageGenerationService.builder().configureFrom(
        SpringEnvironmentSettings.environmentVariables(environment), SpringEnvironmentSettings.imagegenProperties(environment));
    customizers.orderedStream().forEach(c -> c.customize(builder));
    return builder.build();
  }
}
