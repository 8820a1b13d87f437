package dev.imagegen.micrometer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** Every Java snippet in this module's README compiles against the real API. */
class ReadmeSnippetsTest {
  private static final String IMPORTS = String.join("\n",
      "import dev.imagegen.*;", "import dev.imagegen.micrometer.*;", "import java.time.*;", "import java.util.*;",
      "import io.micrometer.core.instrument.*;", "import io.micrometer.core.instrument.simple.*;",
      "import io.micrometer.observation.*;", "import io.micrometer.tracing.handler.*;",
      "import io.micrometer.tracing.otel.bridge.*;", "import io.opentelemetry.sdk.trace.*;",
      "import io.opentelemetry.sdk.trace.export.*;");

  @TestFactory
  Stream<DynamicTest> snippetsCompile() throws IOException {
    List<DynamicTest> tests = new ArrayList<>();
    int n = 0;
    for (String code : dev.imagegen.testing.JavaSnippets.in(Path.of("README.md"))) {
      int index = ++n;
      tests.add(DynamicTest.dynamicTest("README.md snippet " + index, () -> compile(code, index)));
    }
    assertThat(tests).hasSize(3);
    return tests.stream();
  }

  private static void compile(String code, int index) throws IOException {
    String name = "Snippet" + index;
    // the tracing snippet uses an exporter the reader supplies
    String source = IMPORTS + "\nclass " + name + " {\n  void run(SpanExporter exporter, java.time.Clock clock) throws Exception {\n"
        + code + "\n  }\n}\n";
    dev.imagegen.testing.JavaSnippets.compile(source, name, Files.createTempDirectory("snippet"));
  }
}
