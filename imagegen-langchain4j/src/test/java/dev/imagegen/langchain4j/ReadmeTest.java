package dev.imagegen.langchain4j;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderCapabilities;
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

/** The README's snippet compiles against the real API and runs against a scripted service. */
class ReadmeTest {

  private static final String IMPORTS = String.join("\n", "import dev.imagegen.*;", "import dev.imagegen.langchain4j.*;",
      "import dev.langchain4j.data.image.*;", "import dev.langchain4j.model.image.*;", "import dev.langchain4j.model.output.*;",
      "import java.math.*;", "import java.util.*;");

  @TempDir
  Path out;

  private static List<String> snippets() throws IOException {
    return JavaSnippets.in(Path.of("README.md"));
  }

  @Test
  void theSnippetCompiles() throws IOException {
    List<String> snippets = snippets();
    assertThat(snippets).hasSize(1);
    for (int i = 0; i < snippets.size(); i++) {
      compile(wrap(snippets.get(i), "Snippet" + i), "Snippet" + i);
    }
  }

  @Test
  void theUsageSnippetRunsGeneratesPrintsTheProviderAndCostAndEdits() throws Exception {
    ScriptedProvider scripted = new ScriptedProvider("scripted",
        ProviderCapabilities.builder().negativePrompt(true).anyModel(true).img2img(true).build(), CostModel.free());
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
    assertThat(sent.negativePrompt()).isEqualTo("blurry, text");
    assertThat(printed.toString(StandardCharsets.UTF_8)).startsWith("scripted served it for 0 USD");
    ImageGenerationRequest edit = scripted.requests.get(1);
    assertThat(edit.initImage()).as("the edit sends the generated image as its init image").isNotNull();
    assertThat(edit.initImage().bytes()).isEqualTo(ScriptedProvider.png());
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
