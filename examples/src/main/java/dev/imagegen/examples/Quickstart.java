package dev.imagegen.examples;

import dev.imagegen.Attempt;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.AllProvidersFailedException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The quickstart: one image through every provider the environment configures, with failover,
 * printing which providers were tried, which served, the timings and the cost, and saving the
 * image to a file it names.
 */
public final class Quickstart {
  private Quickstart() {}

  /**
   * Runs the quickstart.
   *
   * @param args optional: a prompt
   */
  public static void main(String[] args) {
    String prompt = args.length > 0 ? String.join(" ", args) : "a red fox in fresh snow, morning light";
    try (ImageGenerationService service = ImageGenerationService.fromEnvironment()) {
      System.out.println("imagegen quickstart");
      System.out.println("providers configured: " + (service.providers().isEmpty() ? "none" : String.join(", ", service.providers())));
      ImageGenerationRequest request = ImageGenerationRequest.builder().prompt(prompt).size(512, 512).seed(42L)
          .timeout(Duration.ofMinutes(3)).build();
      try {
        ImageGenerationResponse r = service.generateImageWithFailover(request);
        print(r);
        Path out = r.image().saveTo(Path.of("quickstart." + r.image().format().extension()));
        System.out.println("saved " + out.toAbsolutePath());
      } catch (AllProvidersFailedException e) {
        System.out.println("no provider produced an image:");
        e.attempts().forEach(a -> System.out.println("  " + a.summary()));
        System.exit(1);
      } catch (ImageGenerationException e) {
        System.out.println("failed: " + e.getMessage());
        System.exit(1);
      }
    }
  }

  static void print(ImageGenerationResponse r) {
    System.out.println("attempts:");
    for (Attempt a : r.attempts()) {
      System.out.printf("  %-12s %-9s %6d ms  %s%n", a.provider(), a.outcome(), a.duration().toMillis(),
          a.message() == null ? "" : a.message());
    }
    System.out.printf("served by %s (model %s) in %d ms: queue %d ms, run %d ms, download %d ms%n", r.provider(), r.model(),
        r.generationTime().toMillis(), r.timings().queue().toMillis(), r.timings().run().toMillis(),
        r.timings().download().toMillis());
    System.out.println("cost: " + r.cost());
    System.out.printf("image: %s %dx%d, seed %s%n", r.image().mediaType(), r.image().width(), r.image().height(), r.image().seed());
  }
}
