package dev.imagegen.provider.sdwebui;

import dev.imagegen.Cost;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderHealth.State;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HealthCheck;
import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.PriceTable;
import dev.imagegen.spi.PriceTable.Price;
import dev.imagegen.spi.PriceTable.Unit;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Reconciliation;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * One Stable Diffusion WebUI (AUTOMATIC1111 or Forge) started with {@code --api}.
 *
 * <p>A generation is one blocking {@code POST /sdapi/v1/txt2img} (or {@code img2img}), sent by
 * {@link SdWebUiCall}: the WebUI has no job ids and runs generations one at a time. Calls go out
 * one at a time ({@code max-concurrent}, default 1 from the factory, held by the engine's
 * bulkhead), so that {@code /progress} and {@code /interrupt} concern our own job and a cancel of
 * a call still waiting sends nothing. This class holds the configuration, the capabilities and
 * model list, health, reconciliation and the WebUI's small endpoints.
 *
 * <p>Thread-safe.
 */
final class SdWebUiProvider extends HttpImageProvider {
  static final String TXT2IMG = "/sdapi/v1/txt2img";
  static final String IMG2IMG = "/sdapi/v1/img2img";
  static final String PROGRESS = "/sdapi/v1/progress";
  static final String INTERRUPT = "/sdapi/v1/interrupt";
  private static final Duration SMALL_CALL_TIMEOUT = Duration.ofSeconds(10);

  final SdWebUiSettings settings;
  private final SdWebUiCatalog catalog;
  private final PriceTable prices;

  SdWebUiProvider(ProviderConfig config) {
    super(config, SdWebUiSettings.DEFAULT_BASE_URL);
    this.settings = new SdWebUiSettings(config);
    this.catalog = new SdWebUiCatalog(settings.catalogTtl, this);
    // self-hosted: free unless the operator prices the GPU time (price-per-gpu-second); the seconds are measured
    this.prices = PriceTable.builder(id()).price(id(), Price.perSecond("0")).modelOf(r -> id()).bareUnit(Unit.SECOND)
        .reportedSecondsEstimated().build(config);
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
      known.forEach(m -> Arrays.asList(m.modelName(), m.title()).stream().filter(Objects::nonNull).forEach(models::add));
    }
    return ProviderCapabilities.builder()
        .models(models)
        .anyModel(true) // any installed checkpoint by title, name or hash; checked against the WebUI's list
        .negativePrompt(true)
        .seed(true)
        .img2img(true)
        .mask(true)
        .maxImagesPerRequest(settings.maxBatch)
        .loras(true)
        .cancellable(true)
        .free(prices.estimate(ImageGenerationRequest.of("price probe")).source() == Cost.Source.FREE)
        .build();
  }

  /**
   * The price list: free unless {@code price-per-gpu-second} is set; then the seconds the WebUI
   * reports ({@code X-Process-Time}) times that price, as an estimate, and {@code typical-gpu-seconds}
   * (default 5) per image before the call.
   */
  @Override
  public CostModel costModel() {
    return prices;
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
        List<String> names = SdWebUiMapping.names(m);
        List<String> aliases = new ArrayList<>(settings.aliases.entrySet().stream()
            .filter(e -> names.stream().anyMatch(e.getValue()::equalsIgnoreCase)).map(Map.Entry::getKey).toList());
        if (m.title() != null && !m.title().equals(name)) {
          aliases.add(m.title());
        }
        out.add(new ModelInfo(id(), name, aliases, "checkpoint " + (m.filename() != null ? m.filename() : name)));
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
    configured.forEach((target, aliases) -> out.add(new ModelInfo(id(), target, aliases, "configured checkpoint")));
    return out;
  }

  // ------------------------------------------------------------------ generation

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    SdWebUiMapping.Options options;
    try {
      options = SdWebUiMapping.options(request, id());
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    String model = request.model() != null ? request.model() : settings.defaultModel;
    boolean wantSamplers = request.sampler() != null || options.scheduler() != null || settings.defaultSampler != null
        || settings.defaultScheduler != null;
    return catalog.load(ctx, model != null, wantSamplers, !request.loras().isEmpty()).thenCompose(known -> {
      String taskId = "imagegen-" + UUID.randomUUID();
      SdWebUiMapping.Plan plan = SdWebUiMapping.plan(request, settings, options, known, id(), taskId);
      CompletableFuture<@Nullable String> init = encoded(request.initImage(), ctx);
      CompletableFuture<@Nullable String> mask = encoded(request.mask(), ctx);
      SdWebUiCall call = new SdWebUiCall(this, request, ctx, plan, known);
      return init.thenCombine(mask, (i, m) -> ctx.isCancelled()
          ? CompletableFuture.<ProviderResult>failedFuture(new GenerationCancelledException("cancelled before sending", id()))
          : call.send(i, m)).thenCompose(f -> f);
    });
  }

  /** An input image as bare base64 (a URL is fetched here: a self-hosted WebUI may have no internet). */
  private CompletableFuture<@Nullable String> encoded(@Nullable InputImage image, GenerationContext ctx) {
    return ctx.downloader().inputBase64(image);
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

  /** The checkpoint list's answer and, beside it, whether the WebUI is busy. */
  private record Probe(HttpResult models, SdWebUiWire.@Nullable Progress progress) {}

  /**
   * {@code GET /sdapi/v1/sd-models}: cheap, lock-free and checked by {@code --api-auth} (quirk 7);
   * it also refreshes {@link #models()}. {@code /progress} adds whether the WebUI is busy.
   */
  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
    CompletableFuture<SdWebUiWire.@Nullable Progress> busy = progress(ctx).handle((p, e) -> e == null ? p : null);
    return HealthCheck.timed(ctx, () -> ctx.http().send(request(ctx, SdWebUiCatalog.SD_MODELS).GET().build(),
        ProviderHttp.MAX_API_BODY_BYTES).thenCombine(busy, Probe::new), (probe, latency) -> health(ctx, probe, latency));
  }

  private ProviderHealth health(ProviderContext ctx, Probe probe, Duration latency) {
    HttpResult r = probe.models();
    if (!r.isSuccess()) {
      return HealthCheck.failed(ctx, latency, ctx.http().mapError(r));
    }
    List<SdWebUiWire.SdModel> models;
    try {
      SdWebUiWire.SdModel[] arr = ctx.json().readValue(r.body(), SdWebUiWire.SdModel[].class);
      models = arr == null ? List.of() : Arrays.stream(arr).filter(Objects::nonNull).toList();
    } catch (IOException e) {
      return ProviderHealth.of(id(), State.DEGRADED, latency, id() + ": " + SdWebUiCatalog.SD_MODELS
          + " answered something that is not a checkpoint list");
    }
    catalog.models(models);
    SdWebUiWire.Progress p = probe.progress();
    String state = p == null ? "" : p.busy() ? "; busy (" + Math.round((p.progress() == null ? 0 : p.progress()) * 100) + "%)"
        : "; idle";
    if (models.isEmpty()) {
      return ProviderHealth.of(id(), State.DEGRADED, latency, id() + ": the WebUI has no checkpoint installed" + state);
    }
    return ProviderHealth.of(id(), State.UP, latency, models.size() + " checkpoint(s)" + state);
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return SdWebUiErrors.map(response, context.json(), id(), settings);
  }

  // ------------------------------------------------------------------ the WebUI's small endpoints

  /** Adds the credentials ({@code --api-auth} basic auth, or a proxy's bearer token) to a call. */
  @Override
  protected HttpRequest.Builder authorize(HttpRequest.Builder b) {
    return settings.authorization == null ? b : b.header("Authorization", settings.authorization.reveal());
  }

  /**
   * {@code GET /sdapi/v1/progress}: the job that holds the GPU; fails when the answer is unusable
   * (every caller takes that as "not known").
   */
  CompletableFuture<SdWebUiWire.Progress> progress(ProviderContext ctx) {
    try {
      HttpRequest get = request(ctx, PROGRESS + "?skip_current_image=true").timeout(capped(ctx, SMALL_CALL_TIMEOUT))
          .GET().build();
      return ctx.http().json(get, SdWebUiWire.Progress.class);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /** {@code POST /sdapi/v1/interrupt}: stops whichever job holds the GPU. */
  CompletableFuture<HttpResult> interrupt(ProviderContext ctx) {
    HttpRequest post = ProviderHttp.retrySafe(request(ctx, INTERRUPT)).timeout(capped(ctx, SMALL_CALL_TIMEOUT))
        .POST(HttpRequest.BodyPublishers.noBody()).build();
    ctx.log().debug("sending interrupt to the WebUI");
    return ctx.http().call(post);
  }

  /** The provider's {@code timeout}, or a shorter limit for one of the WebUI's small calls. */
  static Duration capped(ProviderContext ctx, Duration limit) {
    Duration t = ctx.http().timeout();
    return t.compareTo(limit) < 0 ? t : limit;
  }
}
