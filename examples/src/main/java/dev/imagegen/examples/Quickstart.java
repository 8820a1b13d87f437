package dev.imagegen.examples;

import dev.imagegen.GenerationJob;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The quickstart: one image through every provider the environment configures (AI Horde with the
 * anonymous key when nothing is), with failover, progress on long waits, the attempts, who served,
 * the timings and the cost, and the image saved to a file it names. With {@code --sandbox}, or when
 * no provider is reachable, it runs against the sandbox and says so on every line.
 */
public final class Quickstart {
  private Quickstart() {}

  /**
   * Runs the quickstart.
   *
   * @param args {@code --sandbox} and/or a prompt
   */
  public static void main(String[] args) {
    int code = run(args, new Console(System.out), Path.of("."));
    if (code != 0) {
      System.exit(code);
    }
  }

  static int run(String[] args, Console console, Path outDir) {
    String[] words = Examples.withoutFlags(args);
    String prompt = words.length > 0 ? String.join(" ", words) : "a red fox in fresh snow, morning light";
    return Examples.run(args, console, b -> b, (service, out) -> {
      out.line("imagegen quickstart: \"" + prompt + "\"");
      ImageGenerationRequest request = ImageGenerationRequest.builder().prompt(prompt).size(512, 512).seed(42L)
          .timeout(Duration.ofMinutes(3)).build();
      GenerationJob job = service.submit(request).onProgress(out::progress);
      ImageGenerationResponse r = job.result().join();
      out.response(r);
      Path file = r.image().saveTo(outDir.resolve("imagegen-quickstart." + r.image().format().extension()));
      out.line("saved " + file.toAbsolutePath().normalize());
    });
  }
}
