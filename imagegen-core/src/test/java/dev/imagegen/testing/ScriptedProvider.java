package dev.imagegen.testing;

import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;

/**
 * A provider whose answers a test scripts, one step per call; after the script runs out it repeats
 * the last step. Records calls, requests and remote cancels.
 */
public final class ScriptedProvider implements ImageProvider {
  /** One scripted answer. */
  public interface Step extends BiFunction<ImageGenerationRequest, GenerationContext, CompletableFuture<ProviderResult>> {}

  private final String id;
  private final ProviderCapabilities capabilities;
  private final CostModel costModel;
  private final Deque<Step> script = new ArrayDeque<>();
  private volatile Step last = ok();
  public final AtomicInteger calls = new AtomicInteger();
  public final List<ImageGenerationRequest> requests = new CopyOnWriteArrayList<>();
  public final List<String> cancelledJobs = new CopyOnWriteArrayList<>();
  private static final AtomicInteger JOBS = new AtomicInteger();

  public ScriptedProvider(String id) {
    this(id, ProviderCapabilities.builder().negativePrompt(true).seed(true).maxImagesPerRequest(4).cancellable(true).build(),
        CostModel.free());
  }

  public ScriptedProvider(String id, ProviderCapabilities capabilities, CostModel costModel) {
    this.id = id;
    this.capabilities = capabilities;
    this.costModel = costModel;
  }

  /** Appends steps to the script. */
  public synchronized ScriptedProvider then(Step... steps) {
    for (Step s : steps) {
      script.add(s);
    }
    return this;
  }

  @Override public String id() { return id; }
  @Override public ProviderCapabilities capabilities() { return capabilities; }
  @Override public CostModel costModel() { return costModel; }

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context) {
    calls.incrementAndGet();
    requests.add(request);
    Step step;
    synchronized (this) {
      step = script.isEmpty() ? last : script.poll();
      last = step;
    }
    return step.apply(request, context);
  }

  /** Health checks made. */
  public final AtomicInteger healthCalls = new AtomicInteger();
  /** What a health check answers (default: up at once). */
  public volatile java.util.function.Supplier<CompletableFuture<ProviderHealth>> healthAnswer =
      () -> CompletableFuture.completedFuture(ProviderHealth.up(id(), Duration.ZERO));

  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext context) {
    healthCalls.incrementAndGet();
    return healthAnswer.get();
  }

  /** A tiny PNG. */
  public static byte[] png() {
    return TestImages.png(8, 8);
  }

  /** Succeeds at once with one PNG per requested image. */
  public static Step ok() {
    return (r, ctx) -> CompletableFuture.completedFuture(result(r, null));
  }

  /** Succeeds after a delay, scheduled (no thread held). */
  public static Step okAfter(Duration d) {
    return (r, ctx) -> {
      CompletableFuture<ProviderResult> f = new CompletableFuture<>();
      ctx.scheduler().schedule(() -> f.complete(result(r, null)), d.toMillis(), TimeUnit.MILLISECONDS);
      return f;
    };
  }

  /** Succeeds and reports GPU seconds. */
  public static Step okWithGpuSeconds(double seconds) {
    return (r, ctx) -> CompletableFuture.completedFuture(result(r, seconds));
  }

  /** Fails with the exception. */
  public static Step fail(ImageGenerationException e) {
    return (r, ctx) -> CompletableFuture.failedFuture(e);
  }

  /** Throws synchronously (a provider bug). */
  public static Step crash(RuntimeException e) {
    return (r, ctx) -> {
      throw e;
    };
  }

  /** Starts a remote job that never finishes and reports queue progress; records its cancel. */
  public Step hang() {
    return (r, ctx) -> {
      String job = "job-" + JOBS.incrementAndGet();
      ctx.remoteJobStarted(job, () -> {
        cancelledJobs.add(job);
        return CompletableFuture.completedFuture(null);
      });
      ctx.progress(ProgressEvent.queued(id, 3, Duration.ofSeconds(30)));
      return new CompletableFuture<>();
    };
  }

  /** Returns images all flagged NSFW. */
  public static Step censored() {
    return (r, ctx) -> CompletableFuture.completedFuture(ProviderResult.builder("scripted-model")
        .image(GeneratedImage.of(png(), 1L, null, true)).build());
  }

  /** Returns no images. */
  public static Step empty() {
    return (r, ctx) -> CompletableFuture.completedFuture(ProviderResult.builder("scripted-model").build());
  }

  private static ProviderResult result(ImageGenerationRequest r, Double gpuSeconds) {
    ProviderResult.Builder b = ProviderResult.builder("scripted-model").gpuSeconds(gpuSeconds).remoteJobId(null);
    for (int i = 0; i < r.numImages(); i++) {
      b.image(GeneratedImage.of(png(), r.seed() == null ? 7L : r.seed() + i, null, false));
    }
    return b.build();
  }
}
