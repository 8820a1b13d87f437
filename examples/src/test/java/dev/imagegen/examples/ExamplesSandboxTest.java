package dev.imagegen.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every example runs in sandbox mode, says so on every line, and shows what it promises. */
class ExamplesSandboxTest {

  interface Example {
    int run(Console console) throws Exception;
  }

  private static List<String> run(Example example, int expectedExit) throws Exception {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    int code = example.run(new Console(new PrintStream(buf, true, StandardCharsets.UTF_8)));
    List<String> lines = buf.toString(StandardCharsets.UTF_8).lines().toList();
    assertThat(code).as(String.join("\n", lines)).isEqualTo(expectedExit);
    assertThat(lines).isNotEmpty().allSatisfy(l -> assertThat(l).startsWith("[sandbox] "));
    return lines;
  }

  @Test
  void quickstartFailsOverAndSavesTheImage(@TempDir Path dir) throws Exception {
    List<String> out = run(c -> Quickstart.run(new String[] {"--sandbox"}, c, dir), 0);
    String all = String.join("\n", out);
    assertThat(all).contains("SANDBOX: local stand-ins").contains("fal          FAILED").contains("key refused")
        .contains("served by replicate").contains("cost: ").contains("saved ");
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactly("imagegen-quickstart.png");
    }
  }

  @Test
  void failoverWithBudgetMovesToTheFreeProviderOnceTheBudgetIsSpent() throws Exception {
    String all = String.join("\n", run(c -> FailoverWithBudget.run(new String[] {"--sandbox"}, c), 0));
    assertThat(all).contains("request 1: served by replicate").contains("request 3: served by horde")
        .contains("BUDGET_EXCEEDED");
  }

  @Test
  void asyncJobReportsProgressAndCancels() throws Exception {
    String all = String.join("\n", run(c -> AsyncJobWithProgress.run(new String[] {"--sandbox"}, c), 0));
    assertThat(all).contains("SUCCEEDED").contains("cancel requested: true");
  }

  @Test
  void flowerShopBatchKeepsOrder() throws Exception {
    List<String> out = run(c -> FlowerShopBatch.run(new String[] {"--sandbox"}, c), 0);
    assertThat(String.join("\n", out)).contains("batch 10/10 done").contains("10 succeeded, 0 failed");
    assertThat(out.stream().filter(l -> l.startsWith("[sandbox] #")).map(l -> l.substring(11).split(" ")[0]).toList())
        .containsExactly("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");
  }

  @Test
  void tryOnSendsEveryInputImageToAnEditingModel() throws Exception {
    String all = String.join("\n", run(c -> TryOnEdit.run(new String[] {"--sandbox"}, c), 0));
    assertThat(all).contains("served by fal").contains("replicate    SKIPPED").contains("reference images");
  }

  @Test
  void img2imgIsServedByAnImg2imgModel() throws Exception {
    String all = String.join("\n", run(c -> Img2Img.run(new String[] {"--sandbox"}, c), 0));
    assertThat(all).contains("fal          SKIPPED").contains("no model 'sdxl'")
        .contains("served by replicate (model stability-ai/sdxl:");
  }

  @Test
  void configFromAPropertiesFile(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("imagegen.properties");
    Files.writeString(f, "imagegen.replicate.api-key=r8_example\nimagegen.horde.enabled=false\n");
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    int code = ConfigFromEnvironment.run(new String[] {f.toString()}, new Console(new PrintStream(buf, true, StandardCharsets.UTF_8)));
    assertThat(code).isZero();
    assertThat(buf.toString(StandardCharsets.UTF_8)).contains("from imagegen.properties: replicate").doesNotContain("r8_example");
  }
}
