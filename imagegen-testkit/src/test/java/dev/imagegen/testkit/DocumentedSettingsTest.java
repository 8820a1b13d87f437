package dev.imagegen.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DocumentedSettingsTest {
  private static final String README = String.join("\n", "# acme", "", "## Configuration", "",
      "| key | default | meaning |", "|---|---|---|", "| `api-key` | `ACME_KEY` | the key |",
      "| `region`, `model.<alias>` | `eu` | where, and model aliases |", "| `timeout` | `60s` | per call |", "",
      "## Models", "", "| `not-a-setting` | model |", "");

  /** Declares only some of what the README documents. */
  static final class Acme implements ImageProviderFactory {
    private final Set<String> settings;

    Acme(Set<String> settings) {
      this.settings = settings;
    }

    @Override public String id() { return "acme"; }
    @Override public Set<String> settings() { return settings; }
    @Override public boolean isConfigured(ProviderConfig config) { return false; }
    @Override public ImageProvider create(ProviderConfig config) { throw new UnsupportedOperationException(); }
  }

  @Test
  void readsTheKeysOfTheConfigurationSectionOnly(@TempDir Path dir) throws Exception {
    Path readme = Files.writeString(dir.resolve("README.md"), README);
    assertThat(DocumentedSettings.inReadme(readme)).containsExactly("api-key", "region", "model.x", "timeout");
  }

  @Test
  void namesTheDocumentedKeysAFactoryDoesNotDeclare(@TempDir Path dir) throws Exception {
    Path readme = Files.writeString(dir.resolve("README.md"), README);
    assertThat(DocumentedSettings.undeclared(new Acme(Set.of("region")), readme)).containsExactly("model.x");
    assertThat(DocumentedSettings.undeclared(new Acme(Set.of("region", "model.*")), readme)).isEmpty();
  }
}
