package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The rules DESIGN.md sets, checked on the sources: the SPI never imports internal, core never
 * imports a provider, a provider never imports another provider or core's internal.
 */
class ArchitectureTest {
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  private static List<String> violations(Path dir, java.util.function.BiPredicate<Path, String> bad) throws IOException {
    List<String> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
        for (String line : Files.readAllLines(f)) {
          String l = line.strip();
          if (l.startsWith("import ") && bad.test(f, l)) {
            out.add(ROOT.relativize(f) + ": " + l);
          }
        }
      }
    }
    return out;
  }

  @Test
  void spiNeverImportsInternal() throws IOException {
    assertThat(violations(ROOT.resolve("imagegen-core/src/main/java/dev/imagegen/spi"),
        (f, l) -> l.contains("dev.imagegen.internal"))).isEmpty();
  }

  @Test
  void coreNeverImportsAProvider() throws IOException {
    assertThat(violations(ROOT.resolve("imagegen-core/src/main/java"), (f, l) -> l.contains("dev.imagegen.provider."))).isEmpty();
  }

  @Test
  void providersImportNeitherInternalNorEachOther() throws IOException {
    List<String> all = new ArrayList<>();
    try (Stream<Path> modules = Files.list(ROOT)) {
      for (Path m : (Iterable<Path>) modules.filter(p -> p.getFileName().toString().startsWith("imagegen-provider-"))::iterator) {
        String own = "dev.imagegen.provider." + m.getFileName().toString().substring("imagegen-provider-".length());
        all.addAll(violations(m.resolve("src/main/java"), (f, l) -> l.contains("dev.imagegen.internal")
            || (l.contains("dev.imagegen.provider.") && !l.contains(own + ".") && !l.endsWith(own + ";"))));
      }
    }
    assertThat(all).isEmpty();
  }
}
