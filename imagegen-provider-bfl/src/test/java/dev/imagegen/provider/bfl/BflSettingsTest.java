package dev.imagegen.provider.bfl;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.testkit.DocumentedSettings;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The factory declares every key the README documents, so none is reported as unknown. */
class BflSettingsTest {
  @Test
  void everyKeyTheReadmeDocumentsIsDeclared() {
    assertThat(DocumentedSettings.undeclared(new BflProviderFactory(), Path.of("README.md"))).isEmpty();
  }
}
