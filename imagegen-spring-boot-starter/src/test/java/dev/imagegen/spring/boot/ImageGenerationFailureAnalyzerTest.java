package dev.imagegen.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.testing.CapturedLogs;
import org.junit.jupiter.api.Test;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.context.annotation.Configuration;

/** An application that cannot start for its imagegen settings says which, without a stack trace. */
class ImageGenerationFailureAnalyzerTest {

  @Configuration(proxyBeanMethods = false)
  @EnableAutoConfiguration
  static class App {}

  @Test
  void aBadSettingStopsTheApplicationWithCoresMessageNotAStackTrace() {
    SpringApplication app = new SpringApplication(App.class);
    app.setWebApplicationType(WebApplicationType.NONE);
    long mark = CapturedLogs.mark();
    Throwable failure = null;
    try {
      app.run("--imagegen.scripted.api-key=k-9", "--imagegen.max-retries=many", "--spring.main.banner-mode=off");
    } catch (RuntimeException e) {
      failure = e;
    }
    assertThat(failure).isNotNull();
    String report = String.join("\n", CapturedLogs.since(mark, e -> e.message().contains("APPLICATION FAILED TO START"))
        .stream().map(CapturedLogs.Event::message).toList());
    assertThat(report).contains("APPLICATION FAILED TO START", "imagegen.max-retries", "'many'", "whole number",
        "Correct the imagegen settings named above").doesNotContain("\tat ", "k-9");
  }
}
