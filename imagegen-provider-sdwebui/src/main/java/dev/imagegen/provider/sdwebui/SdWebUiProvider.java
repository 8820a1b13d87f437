package dev.imagegen.provider.sdwebui;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.AuthenticationException;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Reconciliation;
import dev.imagegen.spi.RemoteJob;
import dev.imagegen.spi.Secret;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.jspecify.annotations.Nullable;

/**
 * One Stable Diffusion WebUI (AUTOMATIC1111 or Forge) started with {@code --api}.
 *
 * <p>A generation is one blocking {@code POST /sdapi/v1/txt2img} (or {@code img2img}): the WebUI
 * has no job ids and runs generations one at a time. While the POST is in flight,
 * {@code GET /sdapi/v1/progress} is polled on the shared scheduler and reported as RUNNING progress;
 * cancelling the attempt (caller, deadline, shutdown) sends {@code POST /sdapi/v1/interrupt}, which
 * makes the POST return early. The POST's timeout is the request's remaining time (capped by
 * {@code timeout}, default 10 min): a busy WebUI queues, and waiting is not a failure until the
 * deadline. Calls go out one at a time ({@code max-concurrent}, default 1; see {@link SdWebUiLane}).
 *
 * <p>Thread-safe.
 */
final class SdWebUiProvider implements ImageProvider {
  static final String TXT2IMG = "/sdapi/v1/txt2img";
  static final String IMG2IMG = "/sdapi/v1/img2img";
  static final String PROGRESS = "/sdapi/v1/progress";
  static final String INTERRUPT = "/sdapi/v1/interrupt";
  /** Progress is cheap and lock-free; once a second is plenty, never more often than 5 times a second. */
  static final PollPolicy PROGRESS_POLICY = PollPolicy.every(Duration.ofSeconds(1), Duration.ofMillis(200));
  private static final Duration SMALL_CALL_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration DEADLINE_MARGIN = Duration.ofSeconds(1);

  private final String id;
  private final SdWebUiSettings settings;
  private final SdWebUiCatalog catalog;
  private final SdWebUiLane lane;
  private final CostModel costModel;

  SdWebUiProvider(String id, SdWebUiSettings settings) {
    this.id = id;
    this.settings = settings;
    this.catalog = new SdWebUiCatalog(settings, this::authorize);
    this.lane = new SdWebUiLane(settings.maxConcurrent);
    this.costModel = SdWebUiPrices.of(settings.pricePerGpuSecond, settings.typicalGpuSeconds);
  }

  @Override
  public String id() {
    return id;
  }

  @Override
  public ProviderCapabilities capabilities() {
    Set<String> models = new LinkedHashSet<>();
    if (settings.defaultModel != null) {
      models.add(settings.defaultModel);
    }
    models.addAll(settings.aliases.keySet());
    models.addAll(settings.aliases.values());
    List<SdWebUiWire.SdModel> known = catalog.knownModels();
    if (known != null) {
      known.forEach(m -> {
        if (m.modelName() != null) {
          models.add(m.modelName());
        }
        if (m.title() != null) {
          models.add(m.title());
        }
      });
    }
    return ProviderCapabilities.builder()
        .models(models)
        .anyModel(true) // any installed checkpoint by title, name or hash; checked against the WebUI's list
        .sizes(64, 2048, 8)
        .maxSteps(ImageGenerationRequest.MAX_STEPS)
        .negativePrompt(true)
        .seed(true)
        .img2img(true)
        .mask(true)
        .maxReferenceImages(0)
        .maxImagesPerRequest(settings.maxBatch)
        .loras(true)
        .queued(false)
        .cancellable(true)
        .free(settings.pricePerGpuSecond == null)
        .build();
  }

  @Override
  public CostModel costModel() {
    return costModel;
  }

  /**
   * The WebUI's checkpoints as last read ({@code health()}, {@code testConnection} and generations
   * that name a model read {@code /sdapi/v1/sd-models}), else the configured {@code model} and
   * {@code models} aliases.
   */
  @Override
  public List<ModelInfo> models() {
    List<SdWebUiWire.SdModel> known = catalog.knownModels();
    List<ModelInfo> out = new ArrayList<>();
    if (known != null) {
      for (SdWebUiWire.SdModel m : known) {
        String name = m.modelName() != null ? m.modelName() : m.title();
        if (name == null) {
          continue;
        }
        List<String> aliases = new ArrayList<>();
        settings.aliases.forEach((alias, target) -> {
          if (SdWebUiMapping.names(m).stream().anyMatch(target::equalsIgnoreCase)) {
            aliases.add(alias);
          }
        });
        if (m.title() != null && !m.title().equals(name)) {
          aliases.add(m.title());
        }
        out.add(new ModelInfo(id, name, aliases, "checkpoint " + (m.filename() != null ? m.filename() : name)));
      }
      return out;
    }
    Map<String, List<String>> configured = new LinkedHashMap<>();
    if (settings.defaultModel != null) {
      configured.put(settings.checkpointFor(settings.defaultModel), new ArrayList<>());
    }
    settings.aliases.forEach((alias, target) -> {
      List<String> a = configured.computeIfAbsent(target, t -> new ArrayList<>());
      if (!alias.equals(target)) {
        a.add(alias);
      }
    });
    configured.forEach((target, aliases) -> out.add(new ModelInfo(id, target, aliases, "configured checkpoint")));
    return out;
  }

  // ------------------------------------------------------------------ generation

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    SdWebUiMapping.Options options;
    try {
      options = SdWebUiMapping.options(request, id);
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    String model = request.model() != null ? request.model() : settings.defaultModel;
    boolean wantSamplers = request.sampler() != null || options.scheduler() != null || settings.defaultSampler != null
        || settings.defaultScheduler != null;
    return catalog.load(ctx, model != null, wantSamplers, !request.loras().isEmpty())
        .thenCompose(known -> {
          String taskId = "imagegen-" + UUID.randomUUID();
          SdWebUiMapping.Plan plan = SdWebUiMapping.plan(request, settings, options, known, id, taskId);
          return inputs(request, ctx).thenCompose(inputs -> queue(request, ctx, plan, inputs, known, taskId));
        });
  }


  /** The init image and mask as bare base64 (URLs fetched here: a self-hosted WebUI may have no internet). */
  private CompletableFuture<List<@Nullable String>> inputs(ImageGenerationRequest request, GenerationContext ctx) {
    CompletableFuture<@Nullable String> init = encoded(request.initImage(), ctx);
    CompletableFuture<@Nullable String> mask = encoded(request.mask(), ctx);
    return init.thenCombine(mask, (i, m) -> {
      List<@Nullable String> l = new ArrayList<>();
      l.add(i);
      l.add(m);
      return l;
    });
  }

  private CompletableFuture<@Nullable String> encoded(@Nullable InputImage image, GenerationContext ctx) {
    if (image == null) {
      return CompletableFuture.completedFuture(null);
    }
    URI url = image.url();
    if (url != null) {
      return ctx.downloader().download(url, null, false).thenApply(g -> Base64.getEncoder().encodeToString(g.bytes()));
    }
    try {
      return CompletableFuture.completedFuture(Base64.getEncoder().encodeToString(image.bytes()));
    } catch (UncheckedIOException | IllegalStateException e) {
      return CompletableFuture.failedFuture(new InvalidRequestException("cannot read " + image + ": " + e.getMessage(), id));
    }
  }

  /** Waits for a turn in the lane (local queue), then sends. */
  private CompletableFuture<ProviderResult> queue(ImageGenerationRequest request, GenerationContext ctx, SdWebUiMapping.Plan plan,
      List<@Nullable String> inputs, SdWebUiCatalog.Snapshot known, String taskId) {
    long queued = System.nanoTime();
    CompletableFuture<Void> turn = lane.acquire();
    boolean waited = !turn.isDone();
    if (waited) {
      ctx.progress(ProgressEvent.queued(id, lane.waiting(), null));
      ctx.onCancel(() -> turn.completeExceptionally(new GenerationCancelledException(
          "cancelled while waiting for an earlier call to the WebUI (nothing was sent)", id)));
    }
    return turn.thenCompose(v -> {
      if (ctx.isCancelled()) {
        lane.release();
        return CompletableFuture.failedFuture(new GenerationCancelledException("cancelled before sending", id));
      }
      Duration queueTime = Duration.ofNanos(System.nanoTime() - queued);
      try {
        return send(request, ctx, plan, inputs, known, taskId, queueTime, waited);
      } catch (RuntimeException e) {
        lane.release();
        throw e;
      }
    });
  }

  private CompletableFuture<ProviderResult> send(ImageGenerationRequest request, GenerationContext ctx, SdWebUiMapping.Plan plan,
      List<@Nullable String> inputs, SdWebUiCatalog.Snapshot known, String taskId, Duration queueTime, boolean waited) {
    String init = inputs.get(0);
    String mask = inputs.get(1);
    SdWebUiWire.Generate g = plan.body();
    if (init != null) {
      g = new SdWebUiWire.Generate(g.prompt(), g.negativePrompt(), g.seed(), g.samplerName(), g.scheduler(), g.batchSize(),
          g.steps(), g.cfgScale(), g.width(), g.height(), g.overrideSettings(), List.of(init), mask, g.denoisingStrength(),
          g.forceTaskId());
    }
    ObjectNode body = ctx.json().valueToTree(g);
    plan.extra().forEach((k, v) -> body.set(k, ctx.json().valueToTree(v)));
    ProviderHttp http = ctx.http();
    HttpRequest post = authorize(http.request(ProviderHttp.join(settings.baseUrl, init != null ? IMG2IMG : TXT2IMG)))
        .timeout(generationTimeout(ctx))
        .header("Content-Type", "application/json")
        .POST(http.jsonBody(body))
        .build();
    long t0 = System.nanoTime();
    CompletableFuture<HttpResult> sent = http.call(post, request.numImages());
    // the POST ends when the WebUI is done with it (or the deadline cut it): the next call may go
    sent.whenComplete((r, e) -> lane.release());
    if (!waited) {
      ctx.progress(ProgressEvent.of(id, ProgressEvent.Stage.SUBMITTED)); // after QUEUED it would go back a stage
    }
    CompletableFuture<ProviderResult> outcome = sent.thenCompose(r -> result(request, ctx, plan, known, taskId, r,
        Duration.ofNanos(System.nanoTime() - t0), queueTime));
    // progress polling, and the interrupt on cancel: the WebUI has no job id, so the task id is ours
    ProgressWatch watch = new ProgressWatch(taskId, ctx, outcome);
    CompletableFuture<ProviderResult> waiting = ctx.await(watch, PROGRESS_POLICY.withConfig(ctx.config()));
    outcome.whenComplete((r, e) -> {
      if (e != null) {
        waiting.completeExceptionally(unwrap(e));
      } else {
        waiting.complete(r);
      }
    });
    return waiting;
  }

  /**
   * The request's remaining time (plus a moment, so that the deadline, which interrupts the job,
   * comes first), capped by {@code timeout}: queueing behind other jobs is no failure until the
   * deadline.
   */
  private Duration generationTimeout(GenerationContext ctx) {
    Duration left = ctx.remaining().plus(DEADLINE_MARGIN);
    Duration t = left.compareTo(settings.callTimeout) < 0 ? left : settings.callTimeout;
    return t.compareTo(Duration.ofMillis(1)) < 0 ? Duration.ofMillis(1) : t;
  }

  private CompletableFuture<ProviderResult> result(ImageGenerationRequest request, GenerationContext ctx, SdWebUiMapping.Plan plan,
      SdWebUiCatalog.Snapshot known, String taskId, HttpResult r, Duration runTime, Duration queueTime) {
    SdWebUiWire.Result res = ctx.http().parse(r, SdWebUiWire.Result.class);
    if (ctx.isCancelled()) {
      throw new CompletionException(new GenerationCancelledException("interrupted", id));
    }
    List<String> warnings = new ArrayList<>();
    SdWebUiWire.Info info = info(res.info(), ctx, warnings);
    List<String> images = res.images() == null ? List.of() : res.images().stream().filter(s -> s != null && !s.isBlank()).toList();
    int first = info != null && info.indexOfFirstImage() != null ? Math.max(0, Math.min(info.indexOfFirstImage(), images.size())) : 0;
    List<String> ours = images.subList(first, Math.min(images.size(), first + request.numImages()));
    if (ours.isEmpty()) {
      ours = images.subList(0, Math.min(images.size(), request.numImages()));
    }
    List<CompletableFuture<GeneratedImage>> decoded = new ArrayList<>();
    for (int i = 0; i < ours.size(); i++) {
      decoded.add(ctx.downloader().image(ours.get(i), seed(info, request, i), false));
    }
    double seconds = processSeconds(r, runTime);
    String asked = plan.checkpoint();
    String used = info != null ? info.sdModelName() : null;
    if (asked != null && used != null && !SdWebUiMapping.sameModel(asked, used, known.models())) {
      warnings.add(id + ": asked for checkpoint '" + asked + "' but the WebUI used '" + used
          + "' (it ignores checkpoints it cannot load)");
    }
    ImageFormat wanted = request.outputFormat() == null ? null : ImageFormat.fromName(request.outputFormat());
    return CompletableFuture.allOf(decoded.toArray(new CompletableFuture<?>[0])).thenApply(v -> {
      ProviderResult.Builder b = ProviderResult.builder(used != null ? used : asked != null ? asked : "webui-current-checkpoint")
          .remoteJobId(taskId)
          .queueTime(queueTime)
          .runTime(runTime)
          .gpuSeconds(seconds)
          .reportedCost(SdWebUiPrices.measured(settings.pricePerGpuSecond, seconds));
      for (CompletableFuture<GeneratedImage> f : decoded) {
        GeneratedImage img = f.join();
        b.image(img);
        if (wanted != null && img.format() != wanted) {
          String w = id + ": returned " + img.mediaType() + " (the WebUI's samples_format), not the " + request.outputFormat()
              + " asked for";
          if (!warnings.contains(w)) {
            warnings.add(w);
          }
        }
      }
      if (info != null) {
        b.metadata("seed", info.seed()).metadata("sd_model_name", info.sdModelName()).metadata("sd_model_hash", info.sdModelHash())
            .metadata("sampler_name", info.samplerName()).metadata("webui_version", info.version());
      }
      b.metadata("task_id", taskId).metadata("process_seconds", seconds);
      warnings.forEach(b::warning);
      return b.build();
    });
  }

  /** {@code info} is a JSON string holding another JSON document (quirk 1); some builds send the object itself. */
  private SdWebUiWire.@Nullable Info info(@Nullable JsonNode info, GenerationContext ctx, List<String> warnings) {
    if (info == null || info.isNull()) {
      return null;
    }
    try {
      if (info.isObject()) {
        return ctx.json().treeToValue(info, SdWebUiWire.Info.class);
      }
      if (info.isTextual() && !info.asText().isBlank()) {
        // Python's json.dumps may write NaN for an odd extra parameter
        return ctx.json().readerFor(SdWebUiWire.Info.class).with(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .readValue(info.asText());
      }
    } catch (IOException | IllegalArgumentException e) {
      ctx.log().debug("unreadable info from the WebUI: {}", e.getClass().getSimpleName());
    }
    warnings.add(id + ": the WebUI's info could not be read; the seeds used are unknown");
    return null;
  }

  /** The seed of image i: {@code all_seeds[i]}, else {@code seed + i}, else the request's seed + i. */
  private static @Nullable Long seed(SdWebUiWire.@Nullable Info info, ImageGenerationRequest request, int i) {
    if (info != null) {
      List<Long> all = info.allSeeds();
      if (all != null && i < all.size() && all.get(i) != null && all.get(i) >= 0) {
        return all.get(i);
      }
      if (info.seed() != null && info.seed() >= 0) {
        return info.seed() + i;
      }
    }
    return request.seed() != null ? request.seed() + i : null;
  }

  /** The WebUI's {@code X-Process-Time} (seconds the POST held it), else what was observed. */
  private static double processSeconds(HttpResult r, Duration observed) {
    String h = r.header("X-Process-Time");
    if (h != null) {
      try {
        double d = Double.parseDouble(h.strip());
        if (d >= 0 && Double.isFinite(d)) {
          return d;
        }
      } catch (NumberFormatException e) {
        // fall through
      }
    }
    return observed.toNanos() / 1e9;
  }

  /** Polls progress while the POST runs; its cancel is the WebUI's interrupt. */
  private final class ProgressWatch implements RemoteJob {
    private final String taskId;
    private final GenerationContext ctx;
    private final CompletableFuture<ProviderResult> outcome;
    private volatile double percent;

    ProgressWatch(String taskId, GenerationContext ctx, CompletableFuture<ProviderResult> outcome) {
      this.taskId = taskId;
      this.ctx = ctx;
      this.outcome = outcome;
    }

    @Override
    public String id() {
      return taskId;
    }

    @Override
    public CompletableFuture<PollResult> poll() {
      if (outcome.isDone()) {
        return outcome.handle((r, e) -> e == null ? PollResult.done(r) : PollResult.failed(asImageGenerationException(e)));
      }
      // progress problems never fail the generation: the POST decides
      return progress(ctx).handle((p, e) -> {
        if (e != null || p == null || !p.busy() || outcome.isDone()) {
          return PollResult.pending(null);
        }
        double pct = Math.max(percent, Math.min(100.0, Math.max(0.0, p.progress() == null ? 0.0 : p.progress() * 100.0)));
        percent = pct;
        Duration eta = p.etaRelative() != null && p.etaRelative() > 0 && Double.isFinite(p.etaRelative())
            ? Duration.ofMillis((long) (p.etaRelative() * 1000)) : null;
        return PollResult.pending(ProgressEvent.running(id, pct, eta));
      });
    }

    @Override
    public CompletableFuture<?> cancel() {
      if (outcome.isDone()) {
        return CompletableFuture.completedFuture(null); // ours is over: never interrupt someone else's job
      }
      return interrupt(ctx);
    }
  }

  private CompletableFuture<SdWebUiWire.@Nullable Progress> progress(ProviderContext ctx) {
    ProviderHttp http = ctx.http();
    HttpRequest get = authorize(http.request(ProviderHttp.join(settings.baseUrl, PROGRESS + "?skip_current_image=true")))
        .timeout(small(http)).GET().build();
    CompletableFuture<HttpResult> sent;
    try {
      sent = http.send(get, 1024 * 1024);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    return sent.thenApply(r -> {
      if (!r.isSuccess()) {
        return null;
      }
      try {
        return ctx.json().readValue(r.body(), SdWebUiWire.Progress.class);
      } catch (IOException e) {
        return null;
      }
    });
  }

  private CompletableFuture<HttpResult> interrupt(ProviderContext ctx) {
    ProviderHttp http = ctx.http();
    HttpRequest post = ProviderHttp.retrySafe(authorize(http.request(ProviderHttp.join(settings.baseUrl, INTERRUPT))))
        .timeout(small(http))
        .POST(HttpRequest.BodyPublishers.noBody()).build();
    ctx.log().debug("sending interrupt to the WebUI");
    return http.call(post);
  }

  private static Duration small(ProviderHttp http) {
    Duration t = http.timeout();
    return t.compareTo(SMALL_CALL_TIMEOUT) < 0 ? t : SMALL_CALL_TIMEOUT;
  }

  /**
   * A submit whose answer was lost (reset after sending, unreadable answer): the WebUI runs a job on
   * after its client is gone and holds its lock (quirk 6). If a job is still running, it is
   * interrupted ({@code CANCELLED}); otherwise it finished or never started and nothing can be said.
   * With several clients on one WebUI the running job may be another's: the WebUI cannot tell.
   */
  @Override
  public CompletableFuture<Reconciliation> reconcile(ImageGenerationRequest request, GenerationContext ctx) {
    return progress(ctx).thenCompose(p -> {
      if (p == null || !p.busy()) {
        return CompletableFuture.completedFuture(Reconciliation.unknown());
      }
      return interrupt(ctx).thenApply(r -> new Reconciliation(Reconciliation.State.CANCELLED, null, null));
    }).exceptionally(e -> Reconciliation.unknown());
  }

  // ------------------------------------------------------------------ health

  /**
   * {@code GET /sdapi/v1/sd-models}: cheap, lock-free and checked by {@code --api-auth} (quirk 7);
   * it also refreshes {@link #models()}. {@code /progress} adds whether the WebUI is busy.
   */
  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
    long t0 = System.nanoTime();
    ProviderHttp http = ctx.http();
    HttpRequest get;
    try {
      get = authorize(http.request(ProviderHttp.join(settings.baseUrl, SdWebUiCatalog.SD_MODELS))).GET().build();
    } catch (RuntimeException e) {
      return CompletableFuture.completedFuture(new ProviderHealth(id, ProviderHealth.State.DOWN, Duration.ZERO,
          id + ": " + e.getMessage(), null, null));
    }
    CompletableFuture<SdWebUiWire.@Nullable Progress> busy = progress(ctx).exceptionally(e -> null);
    return http.send(get, ProviderHttp.MAX_API_BODY_BYTES).thenCombine(busy, (r, p) -> {
      Duration latency = Duration.ofNanos(System.nanoTime() - t0);
      if (!r.isSuccess()) {
        ImageGenerationException e = http.mapError(r);
        ProviderHealth.State st = e instanceof AuthenticationException ? ProviderHealth.State.AUTH_FAILED
            : ProviderHealth.State.DOWN;
        return new ProviderHealth(id, st, latency, e.getMessage(), null, null);
      }
      List<SdWebUiWire.SdModel> models;
      try {
        SdWebUiWire.SdModel[] arr = ctx.json().readValue(r.body(), SdWebUiWire.SdModel[].class);
        models = arr == null ? List.of() : Arrays.stream(arr).filter(m -> m != null).toList();
      } catch (IOException e) {
        return new ProviderHealth(id, ProviderHealth.State.DEGRADED, latency, id + ": " + SdWebUiCatalog.SD_MODELS
            + " answered something that is not a checkpoint list", null, null);
      }
      catalog.models(models);
      String state = p == null ? "" : p.busy() ? "; busy (" + Math.round((p.progress() == null ? 0 : p.progress()) * 100) + "%)"
          : "; idle";
      if (models.isEmpty()) {
        return new ProviderHealth(id, ProviderHealth.State.DEGRADED, latency, id + ": the WebUI has no checkpoint installed"
            + state, null, null);
      }
      return new ProviderHealth(id, ProviderHealth.State.UP, latency, models.size() + " checkpoint(s)" + state, null, null);
    }).exceptionally(e -> {
      ImageGenerationException x = asImageGenerationException(e);
      return new ProviderHealth(id, ProviderHealth.State.DOWN, Duration.ofNanos(System.nanoTime() - t0), x.getMessage(), null, null);
    });
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return SdWebUiErrors.map(response, context.json(), id, settings);
  }

  // ------------------------------------------------------------------ support

  /** Adds the credentials ({@code --api-auth} basic auth, or a proxy's bearer token) to a call. */
  HttpRequest.Builder authorize(HttpRequest.Builder b) {
    Secret auth = settings.authorization;
    return auth == null ? b : b.header("Authorization", auth.reveal());
  }

  private ImageGenerationException asImageGenerationException(Throwable e) {
    Throwable c = unwrap(e);
    return c instanceof ImageGenerationException ige ? ige
        : new ProviderUnavailableException("unexpected failure: " + c.getClass().getSimpleName(), id, false, false, null, null);
  }

  private static Throwable unwrap(Throwable e) {
    Throwable c = e;
    while (c instanceof CompletionException && c.getCause() != null) {
      c = c.getCause();
    }
    return c;
  }
}
