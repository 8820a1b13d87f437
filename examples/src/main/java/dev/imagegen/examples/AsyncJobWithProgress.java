package dev.imagegen.examples;

import dev.imagegen.GenerationJob;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import java.util.concurrent.CancellationException;

/**
 * An async job with progress and cancel: {@code submit} returns at once; progress events (queue
 * position, percent) print as they arrive; a second job is cancelled, which cancels its remote job
 * too so nobody pays for an image nobody will receive.
 */
public final class AsyncJobWithProgress {
  private AsyncJobWithProgress() {}

  /**
   * Runs the example.
   *
   * @param args {@code --sandbox} to run against the sandbox
   */
  public static void main(String[] args) {
    System.exit(run(args, new Console(System.out)));
  }

  static int run(String[] args, Console console) {
    return Examples.run(args, console, b -> b, (service, out) -> {
      GenerationJob job = service.submit(ImageGenerationRequest.builder().prompt("a koi pond from above").size(512, 512).build());
      out.line("job " + job.id() + " submitted, status " + job.status());
      job.onProgress(out::progress);
      ImageGenerationResponse r = job.result().join();
      out.line("job " + job.id() + " " + job.status() + ": " + r.provider() + ", " + r.images().size() + " image(s), cost " + r.cost());

      GenerationJob second = service.submit(ImageGenerationRequest.builder().prompt("a second koi pond").size(512, 512).build());
      boolean cancelled = second.cancel();
      out.line("job " + second.id() + " cancel requested: " + cancelled + ", status " + second.status());
      try {
        second.result().join();
      } catch (CancellationException e) {
        out.line("job " + second.id() + " result: cancelled (its remote job, if one was created, is cancelled too)");
      }
    });
  }
}
