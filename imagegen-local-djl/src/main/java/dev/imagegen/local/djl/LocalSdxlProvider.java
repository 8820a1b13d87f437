package dev.imagegen.local.djl;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.GenerationTimeoutException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * The {@code local-sdxl} provider: validates like the Python service it replaces, queues
 * generations for the device (bounded, positions reported), loads pipelines lazily into an LRU,
 * runs the denoising loop on a dedicated worker with progress per step and cancellation between
 * steps, and encodes PNG (or JPEG). Thread-safe.
 */
final class LocalSdxlProvider implements LocalSdxlEngine {
  private final String id = LocalSdxlProviderFactory.ID;
  private final LocalSdxlSettings settings;
  private final GraphsLoader loader;
  private final PipelineCache cache;
  private final GenerationQueue queue;
  private final ObjectMapper json = new ObjectMapper();
  private final LocalSdxlPlanner planner;
  private final CostModel costModel;
  private volatile boolean closing;

  LocalSdxlProvider(ProviderConfig config, LocalSdxlSettings settings, Function<LocalSdxlSettings, GraphsLoader> loader) {
    this.settings = settings;
    this.loader = loader.apply(settings);
    this.cache = new PipelineCache(settings.maxLoaded());
    this.queue = new GenerationQueue("imagegen-local-sdxl", settings.concurrency(), settings.queueSize());
    this.costModel = CostModel.fromConfig(config, CostModel.free());
    this.planner = new LocalSdxlPlanner(id, settings, json);
  }

  static Function<LocalSdxlSettings, GraphsLoader> onnxLoader() {
    return OnnxLoader::new;
  }

  @Override
  public String id() {
    return id;
  }

  @Override
  public ProviderCapabilities capabilities() {
    return ProviderCapabilities.builder()
        .models(settings.models().keySet())
        .sizes(64, 2048, 8)
        .maxSteps(settings.maxSteps())
        .negativePrompt(true)
        .seed(true)
        .img2img(true)
        .maxImagesPerRequest(settings.maxImages())
        .queued(true)
        .cancellable(true)
        .free(costModel.estimate(ImageGenerationRequest.of("x")).source() == Cost.Source.FREE)
        .build();
  }

  @Override
  public CostModel costModel() {
    return costModel;
  }

  @Override
  public int purge() {
    return cache.purge();
  }

  @Override
  public List<String> loadedModels() {
    return cache.loaded();
  }

  // ---- generation ----

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    LocalSdxlPlanner.Plan plan;
    try {
      plan = planner.plan(request);
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    } catch (ModelDirectoryException e) {
      return CompletableFuture.failedFuture(ProviderUnavailableException.failOver(String.valueOf(e.getMessage()), id, e));
    }
    CompletableFuture<ProviderResult> result = new CompletableFuture<>();
    AtomicBoolean cancelled = new AtomicBoolean();
    Instant queuedAt = Instant.now();
    Instant hardDeadline = queuedAt.plus(settings.timeout());
    GenerationQueue.Task task = new GenerationQueue.Task(
        () -> run(plan, ctx, result, cancelled, queuedAt, hardDeadline),
        position -> ctx.progress(ProgressEvent.queued(id, position, null)),
        () -> result.completeExceptionally(new GenerationCancelledException("the local engine shut down", id)));
    ctx.onCancel(() -> {
      cancelled.set(true);
      if (queue.remove(task)) {
        result.completeExceptionally(stopped(ctx, hardDeadline, "while queued"));
      }
    });
    if (!queue.offer(task)) {
      return CompletableFuture.failedFuture(new ProviderUnavailableException("busy: " + queue.running()
          + " generation(s) running and " + queue.waiting() + " queued (queue-size " + settings.queueSize() + ")",
          id, true, false, null, null));
    }
    // the hard timeout also applies to a generation still waiting in the queue
    ScheduledFuture<?> timer = ctx.scheduler().schedule(() -> {
      if (queue.remove(task)) {
        result.completeExceptionally(new GenerationTimeoutException("timed out after " + settings.timeout()
            + " waiting for the device", id, false, null));
      }
    }, settings.timeout().toMillis(), TimeUnit.MILLISECONDS);
    result.whenComplete((r, e) -> timer.cancel(false));
    return result;
  }

  private ImageGenerationException stopped(GenerationContext ctx, Instant hardDeadline, String when) {
    Instant now = Instant.now();
    if (!now.isBefore(ctx.deadline()) || !now.isBefore(hardDeadline)) {
      return new GenerationTimeoutException("deadline passed " + when, id, false, null);
    }
    return new GenerationCancelledException("cancelled " + when, id);
  }

  /** Runs on a worker thread of the queue. */
  private void run(LocalSdxlPlanner.Plan plan, GenerationContext ctx, CompletableFuture<ProviderResult> result, AtomicBoolean cancelled,
      Instant queuedAt, Instant hardDeadline) {
    if (result.isDone()) {
      return;
    }
    Instant start = Instant.now();
    Pipeline.Listener listener = new Pipeline.Listener() {
      long stepStart = System.nanoTime();
      double avgNanos = -1;

      @Override
      public boolean cancelled() {
        Instant now = Instant.now();
        return cancelled.get() || closing || ctx.isCancelled() || !now.isBefore(hardDeadline) || !now.isBefore(ctx.deadline());
      }

      @Override
      public void step(int done, int total) {
        long now = System.nanoTime();
        long took = now - stepStart;
        stepStart = now;
        avgNanos = avgNanos < 0 ? took : 0.7 * avgNanos + 0.3 * took;
        Duration eta = Duration.ofNanos((long) (avgNanos * (total - done)));
        ctx.progress(ProgressEvent.running(id, 100.0 * done / total, eta));
      }
    };
    try {
      if (listener.cancelled()) {
        throw new CancellationException("before start");
      }
      if (!cache.isLoaded(plan.alias())) {
        ctx.progress(new ProgressEvent(id, ProgressEvent.Stage.RUNNING, null, 0.0, null,
            "loading " + plan.alias(), Instant.now()));
      }
      ProviderResult out;
      try (PipelineCache.Lease lease = cache.acquire(plan.alias(), this::load)) {
        Pipeline p = lease.pipeline();
        ctx.progress(ProgressEvent.running(id, 0.0, null));
        Pipeline.Result r = p.run(plan.job(), listener);
        ProviderResult.Builder b = ProviderResult.builder(plan.alias());
        for (int i = 0; i < r.rgb().size(); i++) {
          byte[] bytes = Images.encode(r.rgb().get(i), plan.job().width(), plan.job().height(), plan.format());
          b.image(GeneratedImage.of(bytes, plan.job().seeds()[i], null, false));
        }
        b.queueTime(Duration.between(queuedAt, start)).runTime(Duration.between(start, Instant.now()))
            .metadata("device", loader.device())
            .metadata("steps", r.stepsRun())
            .metadata("sampler", plan.job().sampler().id)
            .metadata("guidance", plan.job().guidance())
            .metadata("size", plan.job().width() + "x" + plan.job().height());
        plan.warnings().forEach(b::warning);
        r.warnings().forEach(b::warning);
        out = b.build();
      }
      // completed after the lease is given back, so a purge right after sees the pipeline idle
      result.complete(out);
    } catch (CancellationException e) {
      result.completeExceptionally(stopped(ctx, hardDeadline, "(" + e.getMessage() + ")"));
    } catch (ImageGenerationException e) {
      result.completeExceptionally(e);
    } catch (ModelDirectoryException e) {
      result.completeExceptionally(ProviderUnavailableException.failOver(String.valueOf(e.getMessage()), id, e));
    } catch (IllegalArgumentException e) {
      result.completeExceptionally(new InvalidRequestException(List.of(e.getMessage()), id, e));
    } catch (IOException e) {
      result.completeExceptionally(new ProviderUnavailableException("cannot load model '" + plan.alias() + "': "
          + e.getMessage(), id, false, false, null, e));
    } catch (OutOfMemoryError e) {
      cache.purge();
      result.completeExceptionally(new ProviderUnavailableException("out of memory running '" + plan.alias()
          + "' (loaded pipelines purged): " + e.getMessage(), id, true, false, null, e));
    } catch (Exception e) {
      result.completeExceptionally(new ProviderUnavailableException("generation failed: "
          + OnnxGraphs.rootMessage(e), id, false, false, null, e));
    }
  }

  private Pipeline load(String alias) throws IOException {
    ModelDirectory.Spec spec = planner.inspect(alias);
    ClipTokenizer t1 = ClipTokenizer.load(spec.dir().resolve("tokenizer"), 49407, json);
    ClipTokenizer t2 = ClipTokenizer.load(spec.dir().resolve("tokenizer_2"), 0, json);
    Graphs graphs = loader.load(spec);
    return new Pipeline(alias, t1, t2, graphs, spec.scheduler(), spec.forceZerosForEmptyPrompt(), spec.vaeScaling());
  }

  // ---- health, close ----

  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext context) {
    long t0 = System.nanoTime();
    List<String> problems = new ArrayList<>();
    int valid = 0;
    for (String alias : settings.models().keySet()) {
      try {
        planner.inspect(alias);
        valid++;
      } catch (ModelDirectoryException ex) {
        planner.forget(alias);
        problems.add(alias + ": " + ex.getMessage());
      } catch (RuntimeException ex) {
        problems.add(alias + ": " + ex);
      }
    }
    ProviderHealth.State state = problems.isEmpty() && valid > 0 ? ProviderHealth.State.UP
        : valid > 0 ? ProviderHealth.State.DEGRADED : ProviderHealth.State.DOWN;
    String msg = valid + " of " + settings.models().size() + " model directories valid; loaded: " + cache.loaded()
        + "; device: " + loader.device() + (problems.isEmpty() ? "" : "; " + String.join("; ", problems));
    return CompletableFuture.completedFuture(new ProviderHealth(id, state, Duration.ofNanos(System.nanoTime() - t0), msg,
        queue.waiting(), null));
  }

  @Override
  public void close() {
    closing = true;
    queue.shutdown();
    cache.purge();
  }

  @Override
  public String toString() {
    return "LocalSdxlProvider[" + settings.models().keySet() + ", device " + loader.device() + "]";
  }
}
