package dev.imagegen.soak;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.JobJournal;
import dev.imagegen.provider.fal.FalProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The process {@link KillNineTest} kills: a service with a directory journal and an instance id,
 * fal against the test's stub, {@code n} generations in flight (prompts {@code crash-0} ...), and
 * then nothing but waiting to be killed. Arguments: base URL, journal directory, instance id,
 * lease in milliseconds, number of generations, generation timeout in seconds.
 */
public final class CrashyChild {
  private CrashyChild() {}

  /** The config both this process and the test's recovering service give fal. */
  static ProviderConfig falConfig(String baseUrl) {
    FalProviderFactory f = new FalProviderFactory();
    return ProviderConfig.builder("fal").baseUrl(baseUrl).apiKey("crash-key-id:crash-key-secret")
        .set("poll-interval", "100ms").set("price-per-image", "0.003").set("max-concurrent", "64")
        .build().withDefaults(f.defaults());
  }

  /** A service on the journal directory, with fal as its only provider. */
  static ImageGenerationService service(String baseUrl, Path dir, String instanceId, Duration lease) {
    ProviderConfig c = falConfig(baseUrl);
    return ImageGenerationService.builder().provider(new FalProviderFactory().create(c), c)
        .jobJournal(JobJournal.directory(dir, lease)).instanceId(instanceId).defaultMaxConcurrent(64).build();
  }

  /**
   * Starts the generations and waits forever.
   *
   * @param args base URL, journal directory, instance id, lease (ms), generations, timeout (s)
   * @throws InterruptedException never in practice: the process is killed
   */
  public static void main(String[] args) throws InterruptedException {
    ImageGenerationService s = service(args[0], Path.of(args[1]), args[2], Duration.ofMillis(Long.parseLong(args[3])));
    int n = Integer.parseInt(args[4]);
    Duration timeout = Duration.ofSeconds(Long.parseLong(args[5]));
    for (int i = 0; i < n; i++) {
      s.generateAsync(ImageGenerationRequest.builder().prompt("crash-" + i).timeout(timeout).build());
    }
    System.out.println("crashy: " + n + " generations in flight");
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }
}
