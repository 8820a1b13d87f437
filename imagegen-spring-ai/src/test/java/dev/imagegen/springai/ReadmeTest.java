package dev.imagegen.springai;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.JavaSnippets;
import dev.imagegen.testing.ScriptedProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's snippets compile against the real API, and the first one runs against a scripted service. */
class ReadmeTest {

  private static final String IMPORTS = String.join("\n", "import dev.imagegen.*;", "import dev.imagegen.springai.*;",
      "import org.springframework.ai.image.*;", "import org.springframework.context.annotation.*;",
      "import java.math.*;", "import java.util.*;");

  @TempDir
  Path out;

  private static List<String> snippets() throws IOException {
    return JavaSnippets.in(Path.of("README.md"));
  }

  @Test
  void everySnippetCompiles() throws IOException {
    List<String> snippets = snippets();
    assertThat(snippets).hasSize(2);
    for (int i = 0; i < snippets.size(); i++) {
      compile(wrap(snippets.get(i), "Snippet" + i), "Snippet" + i);
    }
  }

  @Test
  void theUsageSnippetRunsAndPrintsTheProviderCostAndAttempts() throws Exception {
    ScriptedProvider scripted = new ScriptedProvider("scripted");
    PrintStream stdout = System.out;
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    try (ImageGenerationService service = ImageGenerationService.builder()
        .provider(scripted, ProviderConfig.builder("scripted").build()).build()) {
      compile(wrap(snippets().get(0), "Usage"), "Usage");
      try (URLClassLoader loader = new URLClassLoader(new URL[] {out.toUri().toURL()}, getClass().getClassLoader())) {
        Object usage = loader.loadClass("Usage").getDeclaredConstructor().newInstance();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        usage.getClass().getMethod("run", ImageGenerationService.class).invoke(usage, service);
      } finally {
        System.setOut(stdout);
      }
    }
    ImageGenerationRequest sent = scripted.requests.get(0);
    assertThat(sent.model()).isEqualTo("flux-schnell");
    assertThat(sent.width()).isEqualTo(1024);
    assertThat(printed.toString(StandardCharsets.UTF_8)).startsWith("scripted served it for 0 USD in 1 attempts");
  }

  @Test
  void theBeanSnippetStartsAndClosesASpringContext() throws Exception {
    compile(wrap(snippets().get(1), "Beans"), "Beans");
    try (URLClassLoader loader = new URLClassLoader(new URL[] {out.toUri().toURL()}, getClass().getClassLoader())) {
      Class<?> config = loader.loadClass("ImageConfig");
      ImageGenerationService service;
      try (org.springframework.context.annotation.AnnotationConfigApplicationContext context =
          new org.springframework.context.annotation.AnnotationConfigApplicationContext()) {
        context.setClassLoader(loader);
        context.register(config);
        context.refresh();
        assertThat(context.getBean(org.springframework.ai.image.ImageModel.class)).isInstanceOf(ImagegenImageModel.class);
        service = context.getBean(ImageGenerationService.class);
      }
      ImageGenerationService closed = service;
      assertThatThrownBy(() -> closed.generateImageWithFailover(ImageGenerationRequest.of("x")))
          .as("closing the context closed the service").isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("the service is closed");
    }
  }

  private static String wrap(String code, String name) {
    if (code.contains("class ")) {
      return IMPORTS + "\n" + code;
    }
    return IMPORTS + "\npublic class " + name + " {\n  public void run(ImageGenerationService service) throws Exception {\n"
        + code + "\n  }\n}\n";
  }

  private void compile(String source, String name) {
    JavaSnippets.compile(source, name, out);
  }
}
