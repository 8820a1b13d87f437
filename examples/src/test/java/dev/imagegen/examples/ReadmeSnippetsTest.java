package dev.imagegen.examples;

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

/** Every Java snippet in the README files compiles against the real API. */
class ReadmeSnippetsTest {
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  private static final Pattern JAVA = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);
  private static final String IMPORTS = String.join("\n",
      "import dev.imagegen.*;", "import dev.imagegen.spi.*;", "import java.nio.file.*;", "import java.time.*;",
      "import java.math.*;", "import java.util.*;", "import java.net.*;");

  @TestFactory
  Stream<DynamicTest> snippetsCompile() throws IOException {
    List<DynamicTest> tests = new ArrayList<>();
    List<Path> readmes = new ArrayList<>(List.of(ROOT.resolve("README.md"), ROOT.resolve("imagegen-core/README.md")));
    try (Stream<Path> dirs = Files.list(ROOT)) {
      dirs.filter(d -> d.getFileName().toString().startsWith("imagegen-provider-")).map(d -> d.resolve("README.md"))
          .filter(Files::exists).forEach(readmes::add);
    }
    for (Path readme : readmes) {
      Matcher m = JAVA.matcher(Files.readString(readme));
      int n = 0;
      while (m.find()) {
        String code = m.group(1);
        int index = ++n;
        tests.add(DynamicTest.dynamicTest(ROOT.relativize(readme) + " snippet " + index, () -> compile(code, index)));
      }
    }
    assertThat(tests).isNotEmpty();
    return tests.stream();
  }

  private static void compile(String code, int index) {
    String name = "Snippet" + index;
    String source = code.contains("class ") ? IMPORTS + "\n" + code
        : IMPORTS + "\nclass " + name + " {\n  void run() throws Exception {\n" + code + "\n  }\n}\n";
    String className = code.contains("class ") ? firstClassName(code) : name;
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    SimpleJavaFileObject file = new SimpleJavaFileObject(URI.create("string:///" + className + ".java"), javax.tools.JavaFileObject.Kind.SOURCE) {
      @Override
      public CharSequence getCharContent(boolean ignoreEncodingErrors) {
        return source;
      }
    };
    Path out;
    try {
      out = Files.createTempDirectory("snippet");
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    boolean ok = javac.getTask(new java.io.PrintWriter(new java.io.OutputStreamWriter(err, StandardCharsets.UTF_8), true), null, null,
        List.of("-classpath", System.getProperty("java.class.path"), "-d", out.toString(), "-proc:none"), null, List.of(file)).call();
    assertThat(ok).as("snippet does not compile:\n" + source + "\n" + err.toString(StandardCharsets.UTF_8)).isTrue();
  }

  private static String firstClassName(String code) {
    Matcher m = Pattern.compile("class\\s+(\\w+)").matcher(code);
    return m.find() ? m.group(1) : "Snippet";
  }
}
