package dev.imagegen.provider.huggingface;

import dev.imagegen.AuthenticationException;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageBytes;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Secret;
import dev.imagegen.provider.huggingface.HuggingFaceModels.Profile;
import dev.imagegen.provider.huggingface.HuggingFaceWire.ErrorBody;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * Hugging Face Inference, text to image: one synchronous {@code POST {base-url}/models/{model}}
 * per image, answered with the raw image bytes. No job id, no polling, no remote cancel.
 *
 * <p>A model that answers 503 "loading" with {@code estimated_time} is waited for (on the shared
 * scheduler, no thread held) when the estimate fits the attempt's deadline and
 * {@code max-loading-wait}; otherwise the attempt fails at once with a
 * {@link ProviderUnavailableException} whose {@code retryAfter} is the estimate, so the service
 * fails over and cools this provider down. A request for several images makes one call per image,
 * at most {@code parallel-calls} at once, with {@code seed + i} when a seed is set.
 *
 * <p>Immutable and thread-safe.
 */
final class HuggingFaceProvider implements ImageProvider {
  static final String ID = "huggingface";
  /** Today's router, HF Inference's own fleet. */
  static final String DEFAULT_BASE_URL = HuggingFaceErrors.ROUTER;
  /** The Hub, where {@code whoami-v2} lives. */
  static final String HUB = "https://huggingface.co";

  /** Config key: base-url is a dedicated Inference Endpoint that takes no model in its path. */
  static final String DEDICATED_ENDPOINT = "dedicated-endpoint";
  /** Config key: the model used when a request names none (the endpoint's model when dedicated). */
  static final String MODEL = "model";
  /** Config key: where {@code /api/whoami-v2} is asked (health). */
  static final String HUB_URL = "hub-url";
  /** Config key: the organisation billed, sent as {@code X-HF-Bill-To}. */
  static final String BILL_TO = "bill-to";
  /** Config key: calls in flight at once for one request of several images. */
  static final String PARALLEL_CALLS = "parallel-calls";
  /** Config key: most images one request may ask for (one call each). */
  static final String MAX_IMAGES = "max-images-per-request";
  /** Config key: longest {@code estimated_time} waited for. */
  static final String MAX_LOADING_WAIT = "max-loading-wait";
  /** Config key: most loading answers waited out per image. */
  static final String MAX_LOADING_RETRIES = "max-loading-retries";

  /** Time left for the generation itself after a loading wait. */
  private static final Duration LOADING_MARGIN = Duration.ofSeconds(1);
  /** Wait when a loading answer gives no estimate. */
  private static final Duration LOADING_GUESS = Duration.ofSeconds(10);
  private static final Duration MIN_LOADING_WAIT = Duration.ofMillis(100);
  private static final long MIN_ERROR_BODY = 64 * 1024;
  private static final long HEALTH_BODY_LIMIT = 1024 * 1024;

  private final @Nullable Secret token;
  private final URI baseUrl;
  private final URI hubUrl;
  private final boolean dedicated;
  private final String defaultModel;
  private final @Nullable String billTo;
  private final int parallel;
  private final Duration maxLoadingWait;
  private final int maxLoadingRetries;
  private final ProviderCapabilities capabilities;
  private final CostModel costModel;

  HuggingFaceProvider(ProviderConfig config) {
    this.token = config.apiKey().orElse(null);
    this.baseUrl = normalise(config.baseUrl(DEFAULT_BASE_URL));
    if (token == null && isHuggingFaceHost(baseUrl, ".huggingface.co")) {
      throw new IllegalStateException(ID + ": no token configured for " + baseUrl.getHost() + " (set HF_TOKEN, "
          + "imagegen.huggingface.api-key or IMAGEGEN_HUGGINGFACE_API_KEY)");
    }
    this.dedicated = config.bool(DEDICATED_ENDPOINT, false);
    String m = config.get(MODEL).orElse(HuggingFaceModels.DEFAULT_ALIAS);
    String repo = HuggingFaceModels.repoId(m);
    if (repo == null) {
      throw new IllegalStateException(ID + ": '" + MODEL + "' must be " + String.join(", ", HuggingFaceModels.ALIASES.keySet())
          + " or a repo id owner/name, was '" + m + "'");
    }
    this.defaultModel = repo;
    this.hubUrl = hubUrl(config, baseUrl);
    this.billTo = config.get(BILL_TO).orElse(null);
    this.parallel = clamp(config.intValue(PARALLEL_CALLS, 2), 1, 8);
    int maxImages = clamp(config.intValue(MAX_IMAGES, ImageGenerationRequest.MAX_IMAGES), 1, ImageGenerationRequest.MAX_IMAGES);
    this.maxLoadingWait = config.duration(MAX_LOADING_WAIT, Duration.ofMinutes(5));
    this.maxLoadingRetries = Math.max(0, config.intValue(MAX_LOADING_RETRIES, 3));
    Set<String> names = new LinkedHashSet<>();
    if (dedicated) {
      names.addAll(HuggingFaceModels.aliasesOf(defaultModel));
      names.add(defaultModel);
    } else {
      names.addAll(HuggingFaceModels.ALIASES.keySet());
      names.addAll(HuggingFaceModels.ALIASES.values());
    }
    this.capabilities = ProviderCapabilities.builder()
        .models(names)
        .anyModel(!dedicated) // any repo id owner/name on the router
        .sizes(64, 2048, 8)
        .maxSteps(100)
        .negativePrompt(true)
        .modelInputs(r -> {
          String served = modelOf(r);
          return served == null ? Set.of() : HuggingFaceModels.profile(served).ignoredInputs();
        })
        .seed(true)
        .maxImagesPerRequest(maxImages)
        .queued(false)
        .cancellable(false)
        .free(false)
        .build();
    this.costModel = new HuggingFacePrices(config);
  }

  @Override
  public String id() {
    return ID;
  }

  @Override
  public ProviderCapabilities capabilities() {
    return capabilities;
  }

  @Override
  public CostModel costModel() {
    return costModel;
  }

  @Override
  public List<ModelInfo> models() {
    List<ModelInfo> out = new ArrayList<>();
    if (dedicated) {
      out.add(new ModelInfo(ID, defaultModel, HuggingFaceModels.aliasesOf(defaultModel), "dedicated Inference Endpoint " + baseUrl));
      return out;
    }
    HuggingFaceModels.ALIASES.forEach((alias, repo) -> out.add(new ModelInfo(ID, repo, List.of(alias),
        HuggingFaceModels.profile(repo) == Profile.STABLE_DIFFUSION ? "Stable Diffusion XL base 1.0" : "FLUX.1 " + alias.substring(5))));
    return out;
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return HuggingFaceErrors.map(ID, response, context.json());
  }

  // ------------------------------------------------------------------ generation

  /** What one request sends: the model, the URL, one body per image. */
  private record Plan(String model, URI uri, String accept, List<Shot> shots, List<String> warnings) {}

  /** One call: one image. */
  private record Shot(int index, @Nullable Long seed, HuggingFaceWire.TextToImage body) {}

  /** One call's image and what HF reported about it. */
  private record ShotResult(GeneratedImage image, @Nullable Double computeSeconds, @Nullable String computeType,
      Duration loadingWait, int loadingWaits, @Nullable Duration lastEstimate) {}

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    Plan plan;
    try {
      plan = plan(request);
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    return run(plan, ctx);
  }

  /** The repo id a request runs on, or null when its model is neither an alias nor a repo id. */
  private @Nullable String modelOf(ImageGenerationRequest request) {
    return dedicated || request.model() == null ? defaultModel : HuggingFaceModels.repoId(request.model());
  }

  private Plan plan(ImageGenerationRequest request) {
    String model = modelOf(request);
    if (model == null) {
      throw new ProviderUnavailableException("model '" + request.model() + "' is neither an alias this provider knows ("
          + String.join(", ", HuggingFaceModels.ALIASES.keySet()) + ") nor a Hugging Face repo id (owner/name)", ID, false,
          false, null, null);
    }
    Profile p = HuggingFaceModels.profile(model);
    // soft inputs the model ignores are left out below and named by core's rule
    List<String> warnings = new ArrayList<>(capabilities.warnings(request));

    String negative = p.negativePrompt ? request.effectiveNegativePrompt() : null;
    Integer steps = request.steps();
    if (steps != null && p.maxSteps > 0 && steps > p.maxSteps) {
      warnings.add("steps lowered from " + steps + " to " + p.maxSteps + ": " + model + " takes 1-" + p.maxSteps + " steps");
      steps = p.maxSteps;
    }
    Double guidance = p.guidance ? request.guidanceScale() : null;
    String scheduler = null;
    if (request.sampler() != null && !request.sampler().isBlank()) {
      if (p.schedulers()) {
        scheduler = HuggingFaceModels.scheduler(request.sampler());
        if (scheduler == null) {
          warnings.add("sampler '" + request.sampler() + "' not sent: no matching diffusers scheduler (known: euler, euler_a, "
              + "dpm++ 2m, dpm++ sde, ddim, pndm, lms, heun, unipc, ddpm, or a diffusers class name)");
        }
      }
    }
    Integer w = request.width();
    Integer h = request.height();
    if ((w != null && w % p.sizeMultiple != 0) || (h != null && h % p.sizeMultiple != 0)) {
      warnings.add(model + " may resize " + w + "x" + h + " to multiples of " + p.sizeMultiple);
    }

    int n = request.numImages();
    Long base = request.seed();
    List<Shot> shots = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Long seed = base != null ? Long.valueOf(base + i)
          : n > 1 ? Long.valueOf(ThreadLocalRandom.current().nextLong(0, Integer.MAX_VALUE)) : null;
      HuggingFaceWire.Parameters params = new HuggingFaceWire.Parameters(negative, w, h, steps, guidance, scheduler, seed);
      shots.add(new Shot(i, seed, new HuggingFaceWire.TextToImage(request.prompt(), params.isEmpty() ? null : params)));
    }
    ImageFormat format = ImageFormat.fromName(request.outputFormat());
    String accept = format == null ? ImageFormat.PNG.mediaType() : format.mediaType();
    URI uri = dedicated ? baseUrl : ProviderHttp.join(baseUrl, "/models/" + model);
    return new Plan(model, uri, accept, shots, warnings);
  }

  /** Runs a plan's calls, at most {@code parallel} at once; stops starting calls after a failure. */
  private CompletableFuture<ProviderResult> run(Plan plan, GenerationContext ctx) {
    int n = plan.shots().size();
    ShotResult[] results = new ShotResult[n];
    Throwable[] errors = new Throwable[n];
    AtomicInteger next = new AtomicInteger();
    AtomicBoolean failed = new AtomicBoolean();
    int workers = Math.min(parallel, n);
    AtomicInteger running = new AtomicInteger(workers);
    CompletableFuture<ProviderResult> result = new CompletableFuture<>();
    // no cancel hook completes this future: the service owns the outcome of a cancelled or timed-out
    // attempt, and an HTTP call in flight or a loading wait ends on its own (within the deadline)
    Runnable[] pump = new Runnable[1];
    pump[0] = () -> {
      int i = next.getAndIncrement();
      if (i >= n || failed.get() || ctx.isCancelled() || result.isDone()) {
        if (running.decrementAndGet() == 0) {
          finish(plan, results, errors, result);
        }
        return;
      }
      CompletableFuture<ShotResult> f;
      try {
        f = shoot(ctx, plan, plan.shots().get(i), 0, Duration.ZERO, null);
      } catch (RuntimeException e) {
        f = CompletableFuture.failedFuture(e);
      }
      f.whenComplete((r, e) -> {
        if (e != null) {
          errors[i] = unwrap(e);
          failed.set(true);
        } else {
          results[i] = r;
        }
        pump[0].run();
      });
    };
    for (int k = 0; k < workers; k++) {
      pump[0].run();
    }
    return result;
  }

  private void finish(Plan plan, @Nullable ShotResult[] results, @Nullable Throwable[] errors,
      CompletableFuture<ProviderResult> result) {
    int n = results.length;
    List<ShotResult> ok = new ArrayList<>();
    Throwable firstError = null;
    int firstErrorIndex = -1;
    for (int i = 0; i < n; i++) {
      if (results[i] != null) {
        ok.add(results[i]);
      } else if (errors[i] != null && firstError == null) {
        firstError = errors[i];
        firstErrorIndex = i;
      }
    }
    if (ok.isEmpty()) {
      result.completeExceptionally(firstError != null ? firstError
          : new GenerationCancelledException("no image requested before the attempt ended", ID));
      return;
    }
    ProviderResult.Builder b = ProviderResult.builder(plan.model());
    b.metadata("hf_model", plan.model());
    if (dedicated) {
      b.metadata("hf_endpoint", baseUrl);
    }
    plan.warnings().forEach(b::warning);
    double compute = 0;
    boolean allReported = true;
    Set<String> types = new LinkedHashSet<>();
    Duration waited = Duration.ZERO;
    int waits = 0;
    Duration estimate = null;
    List<Long> seeds = new ArrayList<>();
    for (ShotResult r : ok) {
      b.image(r.image());
      if (r.computeSeconds() != null) {
        compute += r.computeSeconds();
      } else {
        allReported = false;
      }
      if (r.computeType() != null) {
        types.add(r.computeType());
      }
      waited = waited.plus(r.loadingWait());
      waits += r.loadingWaits();
      if (r.lastEstimate() != null) {
        estimate = r.lastEstimate();
      }
      if (r.image().seed() != null) {
        seeds.add(r.image().seed());
      }
    }
    if (allReported) {
      b.gpuSeconds(compute);
      b.runTime(Duration.ofMillis((long) (compute * 1000)));
      b.metadata("compute_time_seconds", String.format(Locale.ROOT, "%.3f", compute));
    }
    if (!types.isEmpty()) {
      b.metadata("compute_type", String.join(",", types));
    }
    if (!seeds.isEmpty()) {
      b.metadata("seeds", seeds.stream().map(String::valueOf).reduce((x, y) -> x + "," + y).orElse(""));
    }
    if (waits > 0) {
      String est = estimate == null ? "no estimate given" : "estimated_time " + HuggingFaceErrors.seconds(estimate) + " s";
      b.metadata("loading_waits", waits);
      b.metadata("loading_wait_seconds", HuggingFaceErrors.seconds(waited));
      if (estimate != null) {
        b.metadata("loading_estimated_time_seconds", HuggingFaceErrors.seconds(estimate));
      }
      b.warning("model " + plan.model() + " was loading (" + est + "); waited " + HuggingFaceErrors.seconds(waited)
          + " s in all (" + waits + " wait" + (waits == 1 ? "" : "s") + ") instead of failing over");
    }
    if (ok.size() < n) {
      b.metadata("images_requested", n);
      b.metadata("images_returned", ok.size());
      String why = firstError == null ? "the attempt ended"
          : "image " + (firstErrorIndex + 1) + " failed: " + firstError.getMessage();
      b.warning("only " + ok.size() + " of " + n + " images: " + why + "; the remaining calls were not made");
    }
    result.complete(b.build());
  }

  /** One call for one image; waits out a loading model when that fits. */
  private CompletableFuture<ShotResult> shoot(GenerationContext ctx, Plan plan, Shot shot, int loadingWaits, Duration waited,
      @Nullable Duration lastEstimate) {
    if (ctx.isCancelled()) {
      return CompletableFuture.failedFuture(new GenerationCancelledException("cancelled before calling Hugging Face", ID));
    }
    HttpRequest.Builder req = ctx.http().request(plan.uri())
        .setHeader("Accept", plan.accept())
        .header("Content-Type", "application/json")
        .POST(ctx.http().jsonBody(shot.body()));
    if (token != null) {
      req.header("Authorization", "Bearer " + token.reveal());
    }
    if (billTo != null) {
      req.header("X-HF-Bill-To", billTo);
    }
    // an image is read into memory: bound it by max-image-bytes (error bodies are small)
    long limit = Math.max(ctx.downloader().maxBytes(), MIN_ERROR_BODY);
    return ctx.http().send(req.build(), limit).thenCompose(r -> {
      if (r.isSuccess()) {
        return read(ctx, shot, r, loadingWaits, waited, lastEstimate);
      }
      ErrorBody body = ErrorBody.of(r, ctx.json());
      if (!HuggingFaceErrors.isLoading(r, body)) {
        return CompletableFuture.failedFuture(ctx.http().mapError(r));
      }
      return loading(ctx, plan, shot, r, body, loadingWaits, waited);
    });
  }

  /** A 503 "loading": wait for the estimate when it fits, or fail over at once carrying it. */
  private CompletableFuture<ShotResult> loading(GenerationContext ctx, Plan plan, Shot shot, HttpResult r, ErrorBody body,
      int loadingWaits, Duration waited) {
    Duration est = HuggingFaceErrors.estimate(r, body);
    Duration wait = est == null ? LOADING_GUESS : est.compareTo(MIN_LOADING_WAIT) < 0 ? MIN_LOADING_WAIT : est;
    Duration remaining = ctx.remaining();
    String estText = est == null ? "no estimated_time given" : "estimated_time " + HuggingFaceErrors.seconds(est) + " s";
    String what = "model " + plan.model() + " is loading (HTTP 503, " + estText + ")";
    String refusal = null;
    if (loadingWaits >= maxLoadingRetries) {
      refusal = "; still loading after " + loadingWaits + " wait" + (loadingWaits == 1 ? "" : "s") + " ("
          + HuggingFaceErrors.seconds(waited) + " s), max-loading-retries is " + maxLoadingRetries;
    } else if (wait.compareTo(maxLoadingWait) > 0) {
      refusal = "; the estimate exceeds max-loading-wait of " + HuggingFaceErrors.seconds(maxLoadingWait) + " s";
    } else if (wait.plus(LOADING_MARGIN).compareTo(remaining) > 0) {
      refusal = "; the estimate does not fit the " + HuggingFaceErrors.seconds(remaining) + " s left before the deadline";
    }
    if (refusal != null) {
      return CompletableFuture.failedFuture(new ProviderUnavailableException(what + refusal + "; not waiting, failing over",
          ID, false, false, est, null));
    }
    ctx.log().info("model {} is loading ({}); waiting {} s and calling again", plan.model(), estText,
        HuggingFaceErrors.seconds(wait));
    ctx.progress(new ProgressEvent(ID, ProgressEvent.Stage.QUEUED, null, null, wait,
        "model " + plan.model() + " loading, waiting " + HuggingFaceErrors.seconds(wait) + " s", Instant.now()));
    return delay(ctx, wait).thenCompose(v -> shoot(ctx, plan, shot, loadingWaits + 1, waited.plus(wait), est));
  }

  /** A 2xx answer: raw image bytes, checked by Content-Type and magic bytes. */
  private CompletableFuture<ShotResult> read(GenerationContext ctx, Shot shot, HttpResult r, int loadingWaits, Duration waited,
      @Nullable Duration lastEstimate) {
    byte[] bytes = r.body();
    String type = Optional.ofNullable(r.header("Content-Type")).orElse("none");
    if (bytes.length == 0) {
      throw new CompletionException(new ProviderUnavailableException("answered HTTP " + r.status()
          + " with an empty body instead of an image (Content-Type " + type + "); the image may have been billed", ID, true,
          true, null, null));
    }
    if (ImageFormat.sniff(bytes) == null) {
      String start = new String(bytes, 0, Math.min(bytes.length, 16), java.nio.charset.StandardCharsets.UTF_8).strip();
      boolean json = type.toLowerCase(Locale.ROOT).contains("json") || start.startsWith("{") || start.startsWith("[");
      String msg;
      if (json) {
        String text = ErrorBody.of(r, ctx.json()).message();
        msg = "answered HTTP " + r.status() + " with JSON instead of an image" + (text.isEmpty() ? "" : ": " + text);
      } else {
        msg = "answered HTTP " + r.status() + " with " + bytes.length + " bytes that are not a PNG, JPEG or WebP image "
            + "(Content-Type " + type + ")";
      }
      String clean = ctx.redactor().redact(msg);
      throw new CompletionException(new ProviderUnavailableException(clean == null ? msg : clean, ID, true, true, null, null));
    }
    ImageFormat format = java.util.Objects.requireNonNull(ImageFormat.sniff(bytes));
    Double compute = parseSeconds(r.header("x-compute-time"));
    String computeType = r.header("x-compute-type");
    // the downloader's inline path applies max-image-bytes and the magic-byte check, as for every provider
    return ctx.downloader().image(ImageBytes.dataUri(bytes, format.mediaType()), shot.seed(), false)
        .thenApply(image -> new ShotResult(image, compute, computeType, waited, loadingWaits, lastEstimate));
  }

  /**
   * Completes after a delay, on the shared scheduler (no thread held). A wait is only started when
   * it ends before the deadline, so a cancelled attempt's wait ends soon anyway; the call after it
   * then sees the cancellation and is not made.
   */
  private static CompletableFuture<Void> delay(GenerationContext ctx, Duration d) {
    CompletableFuture<Void> f = new CompletableFuture<>();
    ctx.scheduler().schedule(() -> f.complete(null), d.toMillis(), TimeUnit.MILLISECONDS);
    return f;
  }

  // ------------------------------------------------------------------ health

  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
    long t0 = System.nanoTime();
    Secret t = token;
    if (t == null) {
      return CompletableFuture.completedFuture(new ProviderHealth(ID, ProviderHealth.State.DEGRADED, Duration.ZERO,
          "no token configured: the token check (whoami) was skipped", null, null));
    }
    URI uri = ProviderHttp.join(hubUrl, "/api/whoami-v2");
    CompletableFuture<HttpResult> sent;
    try {
      HttpRequest req = ctx.http().request(uri).header("Authorization", "Bearer " + t.reveal()).GET().build();
      sent = ctx.http().send(req, HEALTH_BODY_LIMIT);
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    return sent.handle((r, e) -> {
      Duration latency = Duration.ofNanos(System.nanoTime() - t0);
      if (e != null) {
        Throwable c = unwrap(e);
        String msg = c instanceof ImageGenerationException ? c.getMessage() : ctx.redactor().redact(c.toString());
        return new ProviderHealth(ID, ProviderHealth.State.DOWN, latency, "token check at " + hubUrl + " failed: " + msg,
            null, null);
      }
      if (r.isSuccess()) {
        String who = "";
        try {
          HuggingFaceWire.WhoAmI w = ctx.json().readValue(r.body(), HuggingFaceWire.WhoAmI.class);
          if (w != null && w.name() != null) {
            who = " (" + (w.type() == null ? "" : w.type() + " ") + w.name() + ")";
          }
        } catch (IOException | RuntimeException ignored) {
          // the token was accepted; the body does not matter
        }
        return new ProviderHealth(ID, ProviderHealth.State.UP, latency, "token accepted" + who, null, null);
      }
      ImageGenerationException x = ctx.http().mapError(r);
      ProviderHealth.State state = x instanceof AuthenticationException ? ProviderHealth.State.AUTH_FAILED
          : x instanceof RateLimitedException || x instanceof InsufficientCreditsException ? ProviderHealth.State.DEGRADED
          : ProviderHealth.State.DOWN;
      return new ProviderHealth(ID, state, latency, x.getMessage(), null, null);
    });
  }

  // ------------------------------------------------------------------ helpers

  @Override
  public String toString() {
    return "HuggingFaceProvider[" + baseUrl + (dedicated ? " (dedicated endpoint)" : "") + ", model " + defaultModel + "]";
  }

  /** The router without a provider segment means HF Inference's own fleet. */
  static URI normalise(URI base) {
    String path = base.getPath() == null ? "" : base.getPath();
    if ("router.huggingface.co".equalsIgnoreCase(base.getHost()) && (path.isEmpty() || "/".equals(path))) {
      return URI.create(DEFAULT_BASE_URL);
    }
    return base;
  }

  /** Whether a URL's host is {@code suffix} (without its dot) or ends with it. */
  static boolean isHuggingFaceHost(URI uri, String suffix) {
    String host = uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT);
    return host.endsWith(suffix) || host.equals(suffix.substring(1));
  }

  /**
   * Where {@code whoami-v2} is asked: {@code hub-url}; the Hub for HF's own hosts; else the
   * base URL's origin (a proxy, a test server).
   */
  static URI hubUrl(ProviderConfig config, URI base) {
    Optional<String> configured = config.get(HUB_URL);
    if (configured.isPresent()) {
      String s = configured.get();
      while (s.endsWith("/")) {
        s = s.substring(0, s.length() - 1);
      }
      try {
        return URI.create(s);
      } catch (IllegalArgumentException e) {
        throw new IllegalStateException(ID + ": " + HUB_URL + " is not a URL: " + s, e);
      }
    }
    if (isHuggingFaceHost(base, ".huggingface.co") || isHuggingFaceHost(base, ".huggingface.cloud")) {
      return URI.create(HUB);
    }
    return URI.create(base.getScheme() + "://" + base.getRawAuthority());
  }

  private static @Nullable Double parseSeconds(@Nullable String v) {
    if (v == null) {
      return null;
    }
    try {
      double d = Double.parseDouble(v.strip());
      return d >= 0 && !Double.isInfinite(d) && !Double.isNaN(d) ? d : null;
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static int clamp(int v, int min, int max) {
    return Math.max(min, Math.min(max, v));
  }

  private static Throwable unwrap(Throwable e) {
    Throwable c = e;
    while (c instanceof CompletionException && c.getCause() != null) {
      c = c.getCause();
    }
    return c;
  }
}
