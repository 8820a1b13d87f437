package dev.imagegen.spring.boot;

import java.util.Map;
import org.springframework.context.ApplicationContextInitializer;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;

/**
 * Replaces the environment variables Spring sees, so that a test does not depend on the
 * machine's ({@code FAL_KEY} or {@code OPENAI_API_KEY} set there would enable a provider).
 */
final class FakeEnvironmentVariables implements ApplicationContextInitializer<ConfigurableApplicationContext> {
  private final Map<String, Object> variables;

  private FakeEnvironmentVariables(Map<String, Object> variables) {
    this.variables = variables;
  }

  static FakeEnvironmentVariables of(Map<String, Object> variables) {
    return new FakeEnvironmentVariables(variables);
  }

  static FakeEnvironmentVariables none() {
    return of(Map.of());
  }

  @Override
  public void initialize(ConfigurableApplicationContext context) {
    context.getEnvironment().getPropertySources().replace(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
        new SystemEnvironmentPropertySource(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME, variables));
  }
}
