package dev.imagegen.redis;

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
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A provider of remote jobs on {@link JobServer}, across JVMs: a submit creates a job that runs
 * until this process dies or a later one resumes it (polling its {@code status} handle until
 * {@code done}) or cancels it by its {@code cancel} handle. {@code resumes} false: it only cancels.
 */
final class HttpJobProvider implements ImageProvider {
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final String id;
  private final String base;
  private final boolean resumes;

  HttpJobProvider(String id, String base, boolean resumes) {
    this.id = id;
    this.base = base;
    this.resumes = resumes;
  }

  @Override public String id() { return id; }
  @Override public ProviderCapabilities capabilities() { return ProviderCapabilities.builder().cancellable(true).build(); }
  @Override public CostModel costModel() { return CostModel.perImage(new BigDecimal("0.01")); }
  @Override public boolean canResume() { return resumes; }
  @Override public boolean canCancelByHandle() { return true; }

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context) {
    CompletableFuture<ProviderResult> f = new CompletableFuture<>();
    context.onCancel(() -> f.completeExceptionally(new GenerationCancelledException("cancelled", id)));
    call("POST", base + "/submit/" + URLEncoder.encode(request.prompt(), StandardCharsets.UTF_8)).whenComplete((job, e) -> {
      if (e != null) {
        f.completeExceptionally(e);
        return;
      }
      context.remoteJobStarted(job, Map.of("status", base + "/status/" + job, "cancel", base + "/cancel/" + job),
          () -> call("POST", base + "/cancel/" + job));
      // the job runs until this process dies: nothing completes f
    });
    return f;
  }

  @Override
  public CompletableFuture<ProviderResult> resume(JobHandle job, GenerationContext context) {
    CompletableFuture<ProviderResult> f = new CompletableFuture<>();
    poll(Objects.requireNonNull(job.handle("status"), "status handle"), job.remoteJobId(), context, f);
    return f;
  }

  private void poll(String url, String jobId, GenerationContext context, CompletableFuture<ProviderResult> f) {
    call("GET", url).whenComplete((status, e) -> {
      if (e != null) {
        f.completeExceptionally(e);
      } else if (status.equals("done")) {
        f.complete(ProviderResult.builder("job-model").remoteJobId(jobId)
            .image(GeneratedImage.of(TestImages.png(8, 8), 1L, null, false)).build());
      } else {
        context.scheduler().schedule(() -> poll(url, jobId, context, f), 50, TimeUnit.MILLISECONDS);
      }
    });
  }

  @Override
  public CompletableFuture<Void> cancel(JobHandle job, ProviderContext context) {
    return call("POST", Objects.requireNonNull(job.handle("cancel"), "cancel handle")).thenApply(b -> null);
  }

  @Override public CompletableFuture<ProviderHealth> health(ProviderContext context) {
    return CompletableFuture.completedFuture(ProviderHealth.up(id, Duration.ZERO));
  }

  private static CompletableFuture<String> call(String method, String url) {
    HttpRequest r = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5))
        .method(method, HttpRequest.BodyPublishers.noBody()).build();
    return HTTP.sendAsync(r, HttpResponse.BodyHandlers.ofString()).thenApply(HttpResponse::body);
  }
}
