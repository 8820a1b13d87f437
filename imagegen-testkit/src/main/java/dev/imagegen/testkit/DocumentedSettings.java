package dev.imagegen.testkit;

import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks that a provider declares every key its README documents, so that an operator's correct
 * setting is never reported as unknown: {@code fromEnvironment()} warns about every
 * {@code imagegen.<id>.*} key that neither {@link ImageProviderFactory#settings()} nor
 * {@link ProviderConfig#STANDARD_SETTINGS} names.
 *
 * <pre>{@code
 * assertThat(DocumentedSettings.undeclared(new AcmeProviderFactory(), Path.of("README.md"))).isEmpty();
 * }</pre>
 */
public final class DocumentedSettings {
  private static final Pattern KEY = Pattern.compile("`([a-z0-9][a-z0-9./<>_-]*)`");

  private DocumentedSettings() {}

  /**
   * The keys in the first column of the tables in a README's configuration section (the
   * {@code ##} heading that contains "Configur"), with a placeholder such as {@code <alias>}
   * read as one name.
   *
   * @param readme the README
   * @return the keys, in the order documented
   * @throws IllegalArgumentException when the README documents no key
   */
  public static List<String> inReadme(Path readme) {
    List<String> lines;
    try {
      lines = Files.readAllLines(readme);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<String> keys = new ArrayList<>();
    boolean inSection = false;
    for (String line : lines) {
      if (line.startsWith("## ")) {
        inSection = line.contains("Configur");
      } else if (inSection && line.startsWith("| `")) {
        String first = line.substring(1, line.indexOf('|', 1));
        Matcher m = KEY.matcher(first);
        while (m.find()) {
          keys.add(m.group(1).replaceAll("<[^>]*>", "x"));
        }
      }
    }
    if (keys.isEmpty()) {
      throw new IllegalArgumentException(readme + " documents no key in a configuration section");
    }
    return keys;
  }

  /**
   * The keys a README documents that the factory does not declare.
   *
   * @param factory the provider's factory
   * @param readme its README
   * @return the undeclared keys, empty when every documented key is declared
   */
  public static List<String> undeclared(ImageProviderFactory factory, Path readme) {
    List<String> missing = new ArrayList<>();
    for (String key : inReadme(readme)) {
      if (!ProviderConfig.isDeclared(factory.settings(), key) && !factory.customaryEnvironment().containsKey(key)) {
        missing.add(key);
      }
    }
    return missing;
  }
}
