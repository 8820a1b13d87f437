package dev.imagegen.micrometer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** Every Java snippet in this module's README compiles against the real API. */
class ReadmeSnippetsTest {
  private static final Pattern JAVA = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);
  private static final String IMPORTS = String.join("\n",
      "import dev.imagegen.*;", "import dev.imagegen.micrometer.*;", "import java.time.*;", "import java.util.*;",
      "import io.micrometer.core.instrument.*;", "import io.micrometer.core.instrument.simple.*;",
      "import io.micrometer.observation.*;", "import io.micrometer.tracing.handler.*;",
      "import io.micrometer.tracing.otel.bridge.*;", "import io.opentelemetry.sdk.trace.*;",
      "import io.opentelemetry.sdk.trace.export.*;");

  @TestFactory
  Stream<DynamicTest> snippetsCompile() throws IOException {
    List<DynamicTest> tests = new ArrayList<>();
    Matcher m = JAVA.matcher(Files.readString(Path.of("README.md")));
    int n = 0;
    while (m.find()) {
      String code = m.group(1);
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
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    SimpleJavaFileObject file = new SimpleJavaFileObject(URI.create("string:///" + name + ".java"),
        javax.tools.JavaFileObject.Kind.SOURCE) {
      @Override
      public CharSequence getCharContent(boolean ignoreEncodingErrors) {
        return source;
      }
    };
    Path out = Files.createTempDirectory("snippet");
    boolean ok = javac.getTask(new java.io.PrintWriter(new java.io.OutputStreamWriter(err, StandardCharsets.UTF_8), true),
        null, null, List.of("-classpath", System.getProperty("java.class.path"), "-d", out.toString(), "-proc:none"), null,
        List.of(file)).call();
    assertThat(ok).as("snippet does not compile:\n" + source + "\n" + err.toString(StandardCharsets.UTF_8)).isTrue();
  }
}
