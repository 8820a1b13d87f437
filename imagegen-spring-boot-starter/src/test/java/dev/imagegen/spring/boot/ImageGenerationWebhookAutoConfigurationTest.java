package dev.imagegen.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.web.servlet.function.RouterFunction;

/** The webhook endpoint exists only when the operator turns it on, in a servlet web application. */
class ImageGenerationWebhookAutoConfigurationTest {
  private static final AutoConfigurations CONFIG = AutoConfigurations.of(ImageGenerationAutoConfiguration.class,
      ImageGenerationWebhookAutoConfiguration.class);

  @Test
  void offByDefault() {
    new WebApplicationContextRunner().withInitializer(FakeEnvironmentVariables.none()).withConfiguration(CONFIG)
        .withPropertyValues("imagegen.horde.enabled=false", "imagegen.scripted.api-key=k")
        .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(RouterFunction.class));
  }

  @Test
  void onWhenEnabledAndTheSettingsAreNoUnknownSettingsToCore() {
    new WebApplicationContextRunner().withInitializer(FakeEnvironmentVariables.none()).withConfiguration(CONFIG)
        .withPropertyValues("imagegen.horde.enabled=false", "imagegen.scripted.api-key=k", "imagegen.strict=true",
            "imagegen.webhooks.endpoint.enabled=true", "imagegen.webhooks.endpoint.path=/in/")
        .run(context -> assertThat(context).hasNotFailed().hasBean("imagegenWebhookEndpoint"));
  }

  @Test
  void aValueTheStarterCannotUseFailsTheContextNamingEverySetting() {
    new WebApplicationContextRunner().withInitializer(FakeEnvironmentVariables.none()).withConfiguration(CONFIG)
        .withPropertyValues("imagegen.horde.enabled=false", "imagegen.scripted.api-key=k",
            "imagegen.webhooks.endpoint.enabled=ture", "imagegen.webhooks.endpoint.path=hooks")
        .run(context -> {
          assertThat(context).hasFailed();
          Throwable t = context.getStartupFailure();
          while (t.getCause() != null && !(t instanceof dev.imagegen.ConfigurationException)) {
            t = t.getCause();
          }
          assertThat(t).isInstanceOf(dev.imagegen.ConfigurationException.class)
              .hasMessageContaining("imagegen.webhooks.endpoint.enabled: 'ture' is not true or false")
              .hasMessageContaining("imagegen.webhooks.endpoint.path: 'hooks'");
        });
  }

  @Test
  void notInANonWebApplication() {
    new ApplicationContextRunner().withInitializer(FakeEnvironmentVariables.none()).withConfiguration(CONFIG)
        .withPropertyValues("imagegen.horde.enabled=false", "imagegen.scripted.api-key=k", "imagegen.webhooks.endpoint.enabled=true")
        .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(RouterFunction.class));
  }
}
