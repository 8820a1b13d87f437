package dev.imagegen.local.djl;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.GenerationTimeoutException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
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
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
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
  private static final SecureRandom SEEDS = new SecureRandom();

  private final String id = LocalSdxlProviderFactory.ID;
  private final LocalSdxlSettings settings;
  private final GraphsLoader loader;
  private final PipelineCache cache;
  private final GenerationQueue queue;
  private final ObjectMapper json = new ObjectMapper();
  private final Map<String, ModelDirectory.Spec> specs = new ConcurrentHashMap<>();
  private final CostModel costModel;
  private volatile boolean closing;

  LocalSdxlProvider(ProviderConfig config, LocalSdxlSettings settings, Function<LocalSdxlSettings, GraphsLoader> loader) {
    this.settings = settings;
    this.loader = loader.apply(settings);
    this.cache = new PipelineCache(settings.maxLoaded());
    this.queue = new GenerationQueue("imagegen-local-sdxl", settings.concurrency(), settings.queueSize());
    this.costModel = CostModel.fromConfig(config, CostModel.free());
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

  // ---- planning and validation ----

  /** A validated request, ready to run. */
  record Plan(String alias, Pipeline.Job job, String format, List<String> warnings) {}

  private Path modelPath(String alias) {
    Path dir = settings.models().get(alias);
    if (dir == null) {
      throw new IllegalArgumentException("model '" + alias + "' is not configured here");
    }
    return dir;
  }

  ModelDirectory.Spec spec(String alias) {
    Path dir = modelPath(alias);
    return specs.computeIfAbsent(alias, a -> ModelDirectory.inspect(dir, json));
  }

  static boolean isTurbo(String alias, ModelDirectory.Spec spec) {
    return alias.contains("turbo") || (spec.latentSize() == 64
        && spec.scheduler().spacing() == SchedulerConfig.Spacing.TRAILING);
  }

  /**
   * Validates a request and fills its defaults.
   *
   * @throws InvalidRequestException listing every violation
   * @throws ModelDirectoryException when the model's directory is broken
   */
  Plan plan(ImageGenerationRequest r) {
    List<String> v = new ArrayList<>();
    List<String> warnings = new ArrayList<>();
    String alias = r.model() == null ? settings.defaultModel() : r.model().toLowerCase(Locale.ROOT);
    ModelDirectory.Spec spec = null;
    if (alias == null || !settings.models().containsKey(alias)) {
      v.add("model '" + r.model() + "' is not configured here (configured: " + String.join(", ",
          settings.models().keySet().stream().sorted().toList()) + ")");
    } else {
      spec = spec(alias);
    }
    boolean turbo = spec != null && alias != null && isTurbo(alias, spec);
    int nativeSize = spec == null ? 1024 : spec.nativeSize();

    if (r.prompt() == null || r.prompt().isBlank()) {
      v.add("prompt is empty");
    }
    InputImage init = r.initImage();
    BufferedImage initImage = null;
    if (init != null) {
      if (!init.isLocal()) {
        v.add("the init image is a URL; the local engine takes it as bytes or a file");
      } else {
        try {
          initImage = Images.decode(init.bytes());
        } catch (RuntimeException e) {
          v.add("the init image cannot be read: " + e.getMessage());
        }
        if (initImage == null && v.stream().noneMatch(s -> s.startsWith("the init image"))) {
          v.add("the init image cannot be decoded (PNG or JPEG; WebP is not supported here)");
        }
      }
      if (spec != null && spec.vaeEncoder() == null) {
        v.add("model '" + alias + "' has no vae_encoder/model.onnx, so img2img is not available");
      }
    }
    if (r.mask() != null) {
      v.add("inpainting masks are not supported by the local engine");
    }
    if (!r.inputImages(InputImage.Role.REFERENCE).isEmpty()) {
      v.add("reference images are not supported by the local engine");
    }
    if (!r.loras().isEmpty()) {
      v.add("LoRAs are not supported by the local engine");
    }
    int width = r.width() != null ? r.width() : initImage != null ? fit64(initImage.getWidth()) : nativeSize;
    int height = r.height() != null ? r.height() : initImage != null ? fit64(initImage.getHeight()) : nativeSize;
    for (int[] side : new int[][] {{width, 'w'}, {height, 'h'}}) {
      String name = side[1] == 'w' ? "width" : "height";
      if (side[0] < 64 || side[0] > 2048) {
        v.add(name + " " + side[0] + " is outside 64..2048");
      } else if (side[0] % 8 != 0) {
        v.add(name + " " + side[0] + " is not a multiple of 8");
      }
    }
    int steps = r.steps() != null ? r.steps() : turbo ? 1 : 30;
    if (steps < 1 || steps > settings.maxSteps()) {
      v.add("steps " + steps + " is outside 1.." + settings.maxSteps());
    }
    double guidance = r.guidanceScale() != null ? r.guidanceScale() : turbo ? 0.0 : 5.0;
    if (Double.isNaN(guidance) || guidance < 0 || guidance > settings.maxGuidance()) {
      v.add("guidance scale " + guidance + " is outside 0.." + settings.maxGuidance());
    }
    if (r.numImages() < 1 || r.numImages() > settings.maxImages()) {
      v.add("numImages " + r.numImages() + " is outside 1.." + settings.maxImages());
    }
    Sampler sampler = spec == null ? Sampler.EULER : spec.scheduler().defaultSampler();
    if (r.sampler() != null) {
      Sampler s = Sampler.parse(r.sampler());
      if (s == null) {
        v.add("sampler '" + r.sampler() + "' is not one of " + String.join(", ",
            Arrays.stream(Sampler.values()).map(x -> x.id).toList()));
      } else {
        sampler = s;
      }
    }
    double strength = 1.0;
    if (init != null) {
      strength = r.strength() != null ? r.strength() : 0.5;
      if (!(strength > 0 && strength <= 1)) {
        v.add("strength " + strength + " is outside (0, 1]");
      } else if (Math.floor(steps * strength) < 1) {
        v.add("steps x strength must be at least 1 (" + steps + " x " + strength + " runs no step; e.g. 2 steps at 0.5)");
      }
    } else if (r.strength() != null) {
      warnings.add("strength is ignored without an init image");
    }
    String format = r.outputFormat() == null ? "png" : r.outputFormat().toLowerCase(Locale.ROOT);
    if (format.equals("jpg")) {
      format = "jpeg";
    }
    if (!format.equals("png") && !format.equals("jpeg")) {
      warnings.add("output format " + r.outputFormat() + " is not available locally; PNG returned");
      format = "png";
    }
    if (turbo && guidance > 1) {
      warnings.add("SDXL-Turbo was distilled for guidance 0; guidance " + guidance + " doubles the work and may hurt");
    }
    if (!v.isEmpty()) {
      throw new InvalidRequestException(v, id, null);
    }
    long base = r.seed() != null ? r.seed() : SEEDS.nextInt() & 0xffffffffL;
    long[] seeds = new long[r.numImages()];
    for (int i = 0; i < seeds.length; i++) {
      seeds[i] = base + i;
    }
    float[] pixels = initImage == null ? null : Images.toPixels(initImage, width, height);
    Pipeline.Job job = new Pipeline.Job(r.prompt(), r.effectiveNegativePrompt(), width, height, steps, guidance,
        sampler, seeds, pixels, strength);
    return new Plan(Objects.requireNonNull(alias), job, format, warnings); // a missing model was reported above
  }

  private static int fit64(int side) {
    return Math.max(64, Math.min(2048, side / 64 * 64));
  }

  // ---- generation ----

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    Plan plan;
    try {
      plan = plan(request);
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
  private void run(Plan plan, GenerationContext ctx, CompletableFuture<ProviderResult> result, AtomicBoolean cancelled,
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
    ModelDirectory.Spec spec = ModelDirectory.inspect(modelPath(alias), json);
    specs.put(alias, spec);
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
    for (Map.Entry<String, Path> e : settings.models().entrySet()) {
      try {
        specs.put(e.getKey(), ModelDirectory.inspect(e.getValue(), json));
        valid++;
      } catch (ModelDirectoryException ex) {
        specs.remove(e.getKey());
        problems.add(e.getKey() + ": " + ex.getMessage());
      } catch (RuntimeException ex) {
        problems.add(e.getKey() + ": " + ex);
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
