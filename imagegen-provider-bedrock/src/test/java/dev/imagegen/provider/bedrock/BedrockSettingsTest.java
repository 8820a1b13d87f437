package dev.imagegen.provider.bedrock;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.testkit.DocumentedSettings;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The factory declares every key the README documents, so none is reported as unknown. */
class BedrockSettingsTest {
  @Test
  void everyKeyTheReadmeDocumentsIsDeclared() {
    assertThat(DocumentedSettings.undeclared(new BedrockProviderFactory(), Path.of("README.md"))).isEmpty();
  }
}
