package dev.imagegen.provider.runpod;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.testkit.DocumentedSettings;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The factory declares every key the README documents, so none is reported as unknown. */
class RunPodSettingsTest {
  @Test
  void everyKeyTheReadmeDocumentsIsDeclared() {
    assertThat(DocumentedSettings.undeclared(new RunPodProviderFactory(), Path.of("README.md"))).isEmpty();
  }
}
