package dev.imagegen.redis;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.spi.ProviderConfig;
import java.time.Duration;

/**
 * One instance for {@link MultiJvmKillNineTest}: a service on the Redis journal with its own
 * instance id and lease, two providers on {@link JobServer} ({@code polled} resumes, {@code
 * cancel-only} only cancels), {@code n} generations in flight (prompts {@code <instance>-0} ...,
 * alternating the providers), then nothing but waiting to be killed.
 * Arguments: Redis URL, job server URL, instance id, lease (ms), generations.
 */
public final class JournalChild {
  private JournalChild() {}

  /** The service an instance runs, in a child or in the test's own JVM. */
  static ImageGenerationService service(RedisJobJournal journal, String base, String instanceId) {
    return ImageGenerationService.builder()
        .provider(new HttpJobProvider("polled", base, true), ProviderConfig.builder("polled").build())
        .provider(new HttpJobProvider("cancel-only", base, false), ProviderConfig.builder("cancel-only").build())
        .jobJournal(journal).instanceId(instanceId).defaultMaxConcurrent(64).build();
  }

  /**
   * Starts the generations and waits forever.
   *
   * @param args Redis URL, job server URL, instance id, lease (ms), generations
   * @throws InterruptedException never in practice: the process is killed
   */
  public static void main(String[] args) throws InterruptedException {
    RedisJobJournal journal = RedisJobJournal.builder().url(args[0]).leaseTtl(Duration.ofMillis(Long.parseLong(args[3])))
        .build();
    ImageGenerationService s = service(journal, args[1], args[2]);
    int n = Integer.parseInt(args[4]);
    for (int i = 0; i < n; i++) {
      s.generateAsync(ImageGenerationRequest.builder().prompt(args[2] + "-" + i).timeout(Duration.ofMinutes(2)).build(),
          i % 2 == 0 ? "polled" : "cancel-only");
    }
    System.out.println(args[2] + ": " + n + " generations in flight");
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }
}
