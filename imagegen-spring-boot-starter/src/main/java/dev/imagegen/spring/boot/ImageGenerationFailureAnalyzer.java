package dev.imagegen.spring.boot;

import dev.imagegen.ConfigurationException;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * Reports an application that cannot start because of its imagegen configuration with core's
 * message, every problem on its own line (the setting as written, where it came from, the value
 * masked when it is a credential, what is accepted), instead of a stack trace.
 */
public final class ImageGenerationFailureAnalyzer extends AbstractFailureAnalyzer<ConfigurationException> {

  /** Created by Spring Boot (registered in {@code META-INF/spring.factories}). */
  public ImageGenerationFailureAnalyzer() {}

  @Override
  protected FailureAnalysis analyze(Throwable rootFailure, ConfigurationException cause) {
    return new FailureAnalysis(String.valueOf(cause.getMessage()),
        "Correct the imagegen settings named above: the imagegen.* keys of application.yml or application.properties, "
            + "or the IMAGEGEN_* and providers' environment variables. Known keys are listed in the imagegen README; "
            + "imagegen.strict=true makes unknown keys errors.", cause);
  }
}
