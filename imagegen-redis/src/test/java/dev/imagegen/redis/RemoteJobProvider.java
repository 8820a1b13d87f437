package dev.imagegen.redis;

import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ProviderHealth;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.JobHandle;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testing.TestImages;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A provider of polled remote jobs, scripted: each submission registers a job with a status handle;
 * the job then runs until a resume finishes it ({@code finishes} false, as a crashed service leaves
 * it) or ends at once with an image. It resumes and/or cancels by handle as told.
 */
final class RemoteJobProvider implements ImageProvider {
  private static final AtomicInteger JOBS = new AtomicInteger();
  final String id;
  final boolean resumes;
  final boolean cancels;
  final boolean finishes;
  final AtomicInteger submits = new AtomicInteger();
  final List<String> resumed = new CopyOnWriteArrayList<>();
  final List<String> cancelledByHandle = new CopyOnWriteArrayList<>();
  final List<String> handlesSeen = new CopyOnWriteArrayList<>();

  RemoteJobProvider(String id, boolean resumes, boolean cancels, boolean finishes) {
    this.id = id;
    this.resumes = resumes;
    this.cancels = cancels;
    this.finishes = finishes;
  }

  @Override public String id() { return id; }
  @Override public ProviderCapabilities capabilities() {
    return ProviderCapabilities.builder().cancellable(true).build();
  }
  @Override public CostModel costModel() { return CostModel.perImage(new BigDecimal("0.04")); }

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context) {
    submits.incrementAndGet();
    String job = id + "-job-" + JOBS.incrementAndGet();
    context.remoteJobStarted(job, Map.of("status", "https://api.example/" + id + "/" + job),
        () -> CompletableFuture.completedFuture(null));
    if (finishes) {
      return CompletableFuture.completedFuture(result(job));
    }
    CompletableFuture<ProviderResult> f = new CompletableFuture<>();
    context.onCancel(() -> f.completeExceptionally(new GenerationCancelledException("cancelled", id)));
    return f;
  }

  @Override public CompletableFuture<ProviderHealth> health(ProviderContext context) {
    return CompletableFuture.completedFuture(ProviderHealth.up(id, Duration.ZERO));
  }

  @Override public boolean canResume() { return resumes; }
  @Override public boolean canCancelByHandle() { return cancels; }

  @Override
  public CompletableFuture<ProviderResult> resume(JobHandle job, GenerationContext context) {
    resumed.add(job.remoteJobId());
    handlesSeen.add(String.valueOf(job.handle("status")));
    return CompletableFuture.completedFuture(result(job.remoteJobId()));
  }

  @Override
  public CompletableFuture<Void> cancel(JobHandle job, ProviderContext context) {
    cancelledByHandle.add(job.remoteJobId());
    handlesSeen.add(String.valueOf(job.handle("status")));
    return CompletableFuture.completedFuture(null);
  }

  private ProviderResult result(String job) {
    return ProviderResult.builder("m").remoteJobId(job).image(GeneratedImage.of(TestImages.png(8, 8), 1L, null, false))
        .reportedCost(Cost.providerReported(new BigDecimal("0.03"))).build();
  }
}
