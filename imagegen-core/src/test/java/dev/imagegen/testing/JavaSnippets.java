package dev.imagegen.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;

/** The Java snippets of a README, compiled against the module's test class path, for the README tests of every module. */
public final class JavaSnippets {
  private static final Pattern JAVA = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);

  private JavaSnippets() {}

  /** The {@code ```java} blocks of a Markdown file, in order. */
  public static List<String> in(Path markdown) throws IOException {
    Matcher m = JAVA.matcher(Files.readString(markdown));
    List<String> all = new ArrayList<>();
    while (m.find()) {
      all.add(m.group(1));
    }
    return all;
  }

  /**
   * Compiles one source file against this JVM's class path.
   *
   * @param source the whole source, imports included
   * @param className the public (or first) class it declares
   * @param out where the classes go
   * @throws AssertionError with javac's messages and the source when it does not compile
   */
  public static void compile(String source, String className, Path out) {
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    SimpleJavaFileObject file = new SimpleJavaFileObject(URI.create("string:///" + className + ".java"), JavaFileObject.Kind.SOURCE) {
      @Override
      public CharSequence getCharContent(boolean ignoreEncodingErrors) {
        return source;
      }
    };
    boolean ok = javac.getTask(new PrintWriter(new OutputStreamWriter(err, StandardCharsets.UTF_8), true), null, null,
        List.of("-classpath", System.getProperty("java.class.path"), "-d", out.toString(), "-proc:none"), null,
        List.of(file)).call();
    if (!ok) {
      throw new AssertionError("README snippet does not compile:\n" + source + "\n" + err.toString(StandardCharsets.UTF_8));
    }
  }
}
