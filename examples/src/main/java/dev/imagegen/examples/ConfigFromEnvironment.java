package dev.imagegen.examples;

import dev.imagegen.ImageGenerationService;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;

/**
 * Configuration without code: the providers and settings found in environment variables
 * ({@code IMAGEGEN_<PROVIDER>_<KEY>} and each provider's customary variable) and in a properties
 * file ({@code imagegen.<provider>.<key>}, named by {@code IMAGEGEN_CONFIG} or the first argument).
 * Prints what was enabled; keys are never printed.
 */
public final class ConfigFromEnvironment {
  private ConfigFromEnvironment() {}

  /**
   * Runs the example.
   *
   * @param args an optional properties file
   */
  public static void main(String[] args) throws Exception {
    System.exit(run(args, new Console(System.out)));
  }

  static int run(String[] args, Console console) throws Exception {
    try (ImageGenerationService fromEnv = ImageGenerationService.fromEnvironment()) {
      console.line("from the environment: " + (fromEnv.providers().isEmpty() ? "nothing" : String.join(", ", fromEnv.providers())));
    }
    String[] files = Examples.withoutFlags(args);
    Path file;
    if (files.length > 0) {
      file = Path.of(files[0]);
    } else {
      file = Files.createTempFile("imagegen", ".properties");
      Files.writeString(file, String.join("\n",
          "# one provider per block; keys as in the README's configuration reference",
          "imagegen.replicate.api-key=r8_example-not-a-real-token",
          "imagegen.replicate.priority=1",
          "imagegen.replicate.requests-per-minute=60",
          "imagegen.fal.api-key=example-not-a-real-key",
          "imagegen.fal.priority=2",
          "imagegen.horde.enabled=false",
          "imagegen.routing=cheapest",
          "imagegen.budget.total=5.00",
          ""));
      console.line("no file given: wrote an example to " + file);
    }
    Properties props = new Properties();
    props.setProperty("imagegen.config", file.toString());
    try (ImageGenerationService fromFile = ImageGenerationService.fromEnvironment(Map.of(), props)) {
      console.line("from " + file.getFileName() + ": " + String.join(", ", fromFile.providers()));
      fromFile.listModels().forEach(m -> console.line("  " + m.provider() + " offers " + m.id()));
    }
    return 0;
  }
}
