package dev.imagegen.provider.replicate;

import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
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
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Reconciliation;
import dev.imagegen.spi.RemoteJob;
import dev.imagegen.spi.Secret;
import dev.imagegen.spi.SoftInput;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Replicate predictions. A generation creates a prediction (official models through
 * {@code POST /models/{owner}/{name}/predictions}, others through {@code POST /predictions} with
 * their version) holding the answer for up to {@code wait-seconds} ({@code Prefer: wait=N}); a
 * prediction still {@code starting} or {@code processing} after that is polled at its
 * {@code urls.get}, and cancelled at its {@code urls.cancel} when the attempt is cancelled. Output
 * URLs are downloaded at once (they expire after an hour). Thread-safe; holds no thread while
 * waiting.
 */
final class ReplicateProvider implements ImageProvider {
  /** The provider id. */
  static final String ID = "replicate";
  /** Replicate's public API. */
  static final String DEFAULT_BASE_URL = "https://api.replicate.com/v1";
  /** Config key: seconds the create call asks Replicate to hold its answer ({@code Prefer: wait=N}), 0..60; 0 = poll. */
  static final String WAIT_SECONDS = "wait-seconds";
  /** Config key: the model used when a request names none. */
  static final String DEFAULT_MODEL = "default-model";
  /** Config key: comma-separated models offered (aliases or native ids). */
  static final String MODELS = "models";
  /** Config key: whether the create sends {@code Cancel-After} with the time left (default true). */
  static final String CANCEL_AFTER = "cancel-after";
  /** Config key: whether a 5xx answer to a create may be retried on Replicate (default false: fail over). */
  static final String RETRY_CREATE_ON_SERVER_ERROR = "retry-create-on-server-error";
  static final int DEFAULT_WAIT_SECONDS = 10;
  static final String DEFAULT_MODELS = "flux-schnell,sdxl";
  /** Polls: first after 0.5 s, then every 1 s growing to 5 s; never faster than 100 ms (no documented floor). */
  static final PollPolicy POLL =
      new PollPolicy(Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(5), 1.5, Duration.ofMillis(100), 8);

  private static final Pattern SEED_IN_LOGS = Pattern.compile("(?i)using seed:?\\s*(\\d{1,19})");
  private static final Pattern PERCENT_IN_LOGS = Pattern.compile("(\\d{1,3})%\\|");
  private static final Pattern SAFE_ID = Pattern.compile("[A-Za-z0-9_-]+");

  private final URI base;
  private final Secret token;
  private final int waitSeconds;
  private final boolean cancelAfter;
  private final boolean retryCreateOnServerError;
  private final String defaultModel;
  private final List<String> offered;
  private final ProviderCapabilities capabilities;
  private final ReplicatePrices prices;

  ReplicateProvider(ProviderConfig config) {
    this.base = config.baseUrl(DEFAULT_BASE_URL);
    String scheme = base.getScheme() == null ? "" : base.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("https") && !scheme.equals("http") || base.getHost() == null) {
      throw new IllegalStateException(ID + ": base-url must be an http(s) URL, was: " + base);
    }
    String key = config.require(ProviderConfig.API_KEY).strip();
    if (key.isEmpty()) {
      throw new IllegalStateException(ID + ": 'api-key' is empty");
    }
    this.token = Secret.of(key);
    this.waitSeconds = config.intValue(WAIT_SECONDS, DEFAULT_WAIT_SECONDS);
    if (waitSeconds < 0 || waitSeconds > 60) {
      throw new IllegalStateException(ID + ": '" + WAIT_SECONDS + "' must be between 0 and 60 (Replicate holds a "
          + "create at most 60 s), was " + waitSeconds);
    }
    this.cancelAfter = config.bool(CANCEL_AFTER, true);
    this.retryCreateOnServerError = config.bool(RETRY_CREATE_ON_SERVER_ERROR, false);
    this.defaultModel = config.get(DEFAULT_MODEL).map(String::strip).orElse("flux-schnell");
    if (ReplicateModels.tryResolve(defaultModel) == null) {
      throw new IllegalStateException(ID + ": '" + DEFAULT_MODEL + "' is not a Replicate model: " + defaultModel);
    }
    Set<String> names = new LinkedHashSet<>();
    for (String m : config.get(MODELS).orElse(DEFAULT_MODELS).split(",")) {
      if (m.isBlank()) {
        continue;
      }
      if (ReplicateModels.tryResolve(m.strip()) == null) {
        throw new IllegalStateException(ID + ": '" + MODELS + "' names something that is not a Replicate model: " + m.strip());
      }
      names.add(m.strip());
    }
    names.add(defaultModel);
    this.offered = List.copyOf(names);
    Set<String> accepted = new LinkedHashSet<>();
    for (String m : offered) {
      ReplicateModels.Target t = ReplicateModels.tryResolve(m);
      accepted.add(m);
      if (t != null) {
        accepted.add(t.displayName());
        if (t.alias() != null) {
          accepted.add(t.alias());
        }
        if (t.model() != null && (t.official() || t.family() == ReplicateModels.Family.SDXL)) {
          accepted.add(t.model());
        }
      }
    }
    this.capabilities = ProviderCapabilities.builder()
        .models(accepted)
        .anyModel(true)
        .sizes(64, 2048, 8)
        .maxSteps(500)
        .negativePrompt(true)
        .modelInputs(r -> ReplicateModels.ignoredInputs(r.model(), defaultModel))
        .seed(true)
        .img2img(true)
        .mask(true)
        .maxReferenceImages(0)
        .maxImagesPerRequest(4)
        .loras(false)
        .queued(true)
        .cancellable(true)
        .free(false)
        .build();
    this.prices = new ReplicatePrices(config, defaultModel);
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
    return prices;
  }

  @Override
  public List<ModelInfo> models() {
    List<ModelInfo> out = new ArrayList<>();
    for (String m : offered) {
      ReplicateModels.Target t = ReplicateModels.tryResolve(m);
      if (t == null) {
        continue;
      }
      String description;
      switch (t.family()) {
        case FLUX_SCHNELL:
          description = "FLUX.1 [schnell], official model; $0.003 per image";
          break;
        case SDXL:
          description = "Stable Diffusion XL, community model by version; billed by GPU time";
          break;
        default:
          description = t.official() ? "official model" : "model by version; billed by GPU time";
          break;
      }
      out.add(new ModelInfo(ID, t.displayName(), t.alias() == null ? List.of() : List.of(t.alias()), description));
    }
    return out;
  }

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    Run run;
    try {
      run = new Run(request, ctx);
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    return run.start().handle((r, e) -> {
      if (e == null) {
        return r;
      }
      throw new CompletionException(unwrap(e));
    });
  }

  /**
   * {@code GET /account}: 200 is up (the account's name in the message), 401 a refused token.
   * Never completes exceptionally.
   */
  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext c) {
    long t0 = System.nanoTime();
    CompletableFuture<HttpResult> sent;
    try {
      HttpRequest req = c.http().request(ProviderHttp.join(base, "/account")).header("Authorization", auth()).GET().build();
      sent = c.http().send(req, 1024 * 1024);
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    return sent.handle((r, e) -> {
      Duration latency = Duration.ofNanos(System.nanoTime() - t0);
      if (e != null) {
        Throwable x = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        String msg = x instanceof ImageGenerationException ? x.getMessage() : c.redactor().redact(x.toString());
        return new ProviderHealth(ID, ProviderHealth.State.DOWN, latency, msg, null, null);
      }
      if (r.isSuccess()) {
        ReplicateWire.Account a = null;
        try {
          a = c.json().readValue(r.body(), ReplicateWire.Account.class);
        } catch (java.io.IOException | RuntimeException ignored) {
          // a 200 is enough: the token was accepted
        }
        String who = a == null || a.username() == null ? "token accepted"
            : "account " + a.username() + (a.type() == null ? "" : " (" + a.type() + ")");
        return new ProviderHealth(ID, ProviderHealth.State.UP, latency, who, null, null);
      }
      ImageGenerationException x = c.http().mapError(r);
      ProviderHealth.State state = r.status() == 401 || r.status() == 403 ? ProviderHealth.State.AUTH_FAILED
          : r.status() == 429 || r.status() == 402 ? ProviderHealth.State.DEGRADED : ProviderHealth.State.DOWN;
      return new ProviderHealth(ID, state, latency, x.getMessage(), null, null);
    });
  }

  /**
   * Replicate documents neither an idempotency key nor a way to find a prediction without its id,
   * so a create whose answer was lost cannot be looked up: the attempt is reported as possibly
   * billed and not resubmitted to Replicate.
   */
  @Override
  public CompletableFuture<Reconciliation> reconcile(ImageGenerationRequest request, GenerationContext context) {
    context.log().warn("a prediction create for {} got no answer; Replicate offers no documented way to look it up, so it "
        + "is not resubmitted (check https://replicate.com/predictions)", request.model() == null ? defaultModel : request.model());
    return CompletableFuture.completedFuture(Reconciliation.unknown());
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return ReplicateErrors.map(response, context.json(), retryCreateOnServerError);
  }

  @Override
  public String toString() {
    return "ReplicateProvider[" + base + "]";
  }

  private String auth() {
    return "Bearer " + token.reveal();
  }

  /** {@code given} when it lies under the configured base URL (same origin), else the base URL plus {@code path}. */
  private URI under(@Nullable String given, String path) {
    if (given != null && !given.isBlank()) {
      try {
        URI u = URI.create(given.strip());
        if (u.getScheme() != null && u.getScheme().equalsIgnoreCase(base.getScheme()) && u.getHost() != null
            && u.getHost().equalsIgnoreCase(base.getHost()) && port(u) == port(base) && u.getPath() != null
            && u.getPath().startsWith(base.getPath() == null ? "" : base.getPath())) {
          return u;
        }
      } catch (IllegalArgumentException e) {
        // not a URL: use the documented path
      }
    }
    return ProviderHttp.join(base, path);
  }

  private static int port(URI u) {
    return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
  }

  private static String segment(String id) {
    return SAFE_ID.matcher(id).matches() ? id : URLEncoder.encode(id, StandardCharsets.UTF_8);
  }

  /** One generation attempt: the create, then the wait, then the downloads. */
  private final class Run {
    private final ImageGenerationRequest request;
    private final GenerationContext ctx;
    private final ReplicateModels.Target target;
    private final Map<String, Object> input;
    private final List<String> warnings = new ArrayList<>();
    private volatile @Nullable String waitingOn;

    Run(ImageGenerationRequest request, GenerationContext ctx) {
      this.request = request;
      this.ctx = ctx;
      this.target = ReplicateModels.resolve(request.model(), defaultModel);
      // the soft inputs the model ignores are left out of the input (ReplicateModels) and named here
      this.warnings.addAll(capabilities.warnings(request));
      this.input = ReplicateModels.input(request, target, warnings);
    }

    CompletableFuture<ProviderResult> start() {
      HttpRequest post;
      try {
        post = create();
      } catch (ImageGenerationException e) {
        return CompletableFuture.failedFuture(e);
      }
      ctx.progress(ProgressEvent.of(ID, ProgressEvent.Stage.SUBMITTED));
      return ctx.http().json(post, ReplicateWire.Prediction.class).thenCompose(this::created);
    }

    private HttpRequest create() {
      URI uri;
      if (target.official()) {
        String model = target.model() == null ? "" : target.model();
        uri = ProviderHttp.join(base, "/models/" + model + "/predictions");
      } else {
        uri = ProviderHttp.join(base, "/predictions");
      }
      HttpRequest.BodyPublisher body;
      try {
        body = ctx.http().jsonBody(new ReplicateWire.Create(target.version(), input));
      } catch (IllegalArgumentException e) {
        throw new InvalidRequestException("the input cannot be sent as JSON (check providerOptions for replicate)", ID);
      }
      HttpRequest.Builder b = ctx.http().request(uri)
          .header("Authorization", auth())
          .header("Content-Type", "application/json");
      int wait = preferWait();
      if (wait > 0) {
        b.header("Prefer", "wait=" + wait);
      }
      // a backstop a little after imagegen's own deadline (which cancels first): should this process
      // die, Replicate still stops the prediction instead of running it to the end
      long left = ctx.remaining().toSeconds() + 2;
      if (cancelAfter && left >= 5) {
        b.header("Cancel-After", left + "s");
      }
      if (retryCreateOnServerError) {
        ProviderHttp.retrySafe(b); // the operator accepts that a repeated create may bill twice
      }
      return b.POST(body).build();
    }

    /** N for {@code Prefer: wait=N}: the configured wait, at most 60 s, ending a second before the call's timeout. */
    private int preferWait() {
      long timeoutSeconds = ctx.http().timeout().toMillis() / 1000;
      long n = Math.min(Math.min(waitSeconds, 60), timeoutSeconds - 1);
      return n < 1 ? 0 : (int) n;
    }

    private CompletableFuture<ProviderResult> created(ReplicateWire.Prediction p) {
      if (p.id() == null || p.id().isBlank()) {
        return CompletableFuture.failedFuture(new ProviderUnavailableException("the create answer carries no prediction id; "
            + "a prediction may have been created", ID, false, true, null, null));
      }
      String id = p.id();
      Job job = new Job(id, p.urls());
      if (p.isTerminal()) {
        ctx.remoteJobStarted(id, () -> CompletableFuture.completedFuture(null));
        return settle(p);
      }
      ctx.progress(progress(p));
      waitingOn = id;
      return ctx.await(job, POLL.withConfig(ctx.config()));
    }

    /** The result of a prediction that reached a terminal status. */
    private CompletableFuture<ProviderResult> settle(ReplicateWire.Prediction p) {
      if (!"succeeded".equals(p.state())) {
        return CompletableFuture.failedFuture(ReplicateErrors.ended(p, ctx.redactor()));
      }
      List<String> outputs = p.outputs();
      if (outputs.isEmpty()) {
        String why = Boolean.TRUE.equals(p.dataRemoved()) ? "its output was already removed (data_removed)" : "it has no output";
        return CompletableFuture.failedFuture(new ProviderUnavailableException("prediction " + p.id() + " succeeded but "
            + why, ID, false, false, null, null));
      }
      ctx.progress(ProgressEvent.of(ID, ProgressEvent.Stage.DOWNLOADING));
      Long seed = seed(p.logs());
      long t0 = System.nanoTime();
      List<CompletableFuture<GeneratedImage>> downloads = new ArrayList<>();
      for (String url : outputs) {
        downloads.add(ctx.downloader().image(url, seed, false));
      }
      return CompletableFuture.allOf(downloads.toArray(new CompletableFuture<?>[0])).thenApply(v -> {
        List<GeneratedImage> images = downloads.stream().map(CompletableFuture::join).toList();
        ReplicateWire.Metrics m = p.metrics();
        int count = m != null && m.imageCount() != null ? m.imageCount() : images.size();
        ProviderResult.Builder r = ProviderResult.builder(target.displayName())
            .images(images)
            .remoteJobId(p.id())
            .gpuSeconds(m == null ? null : m.predictTime())
            .reportedCost(prices.statedCost(target, count))
            .queueTime(p.queueTime())
            .runTime(p.runTime() != null ? p.runTime()
                : m != null && m.predictTime() != null ? Duration.ofMillis((long) (m.predictTime() * 1000)) : null)
            .downloadTime(Duration.ofNanos(System.nanoTime() - t0))
            .metadata("prediction_id", p.id())
            .metadata("replicate_model", p.model() != null ? p.model() : target.model())
            .metadata("replicate_version", p.version())
            .metadata("replicate_url", p.urls() == null ? null : p.urls().web())
            .metadata("predict_time", m == null ? null : m.predictTime())
            .metadata("total_time", m == null ? null : m.totalTime())
            .metadata("image_count", m == null ? null : m.imageCount());
        warnings.forEach(r::warning);
        return r.build();
      });
    }

    private @Nullable Long seed(@Nullable String logs) {
      if (logs != null) {
        Matcher m = SEED_IN_LOGS.matcher(logs);
        if (m.find()) {
          try {
            return Long.parseLong(m.group(1));
          } catch (NumberFormatException e) {
            // out of range: fall back to the request's
          }
        }
      }
      return request.seed();
    }

    /** The prediction waited on by {@link dev.imagegen.spi.JobPoller}. */
    private final class Job implements RemoteJob {
      private final String id;
      private final URI get;
      private final URI cancel;

      Job(String id, ReplicateWire.@Nullable Urls urls) {
        this.id = id;
        this.get = under(urls == null ? null : urls.get(), "/predictions/" + segment(id));
        this.cancel = under(urls == null ? null : urls.cancel(), "/predictions/" + segment(id) + "/cancel");
      }

      @Override
      public String id() {
        return id;
      }

      @Override
      public CompletableFuture<PollResult> poll() {
        HttpRequest req = ctx.http().request(get).header("Authorization", auth()).GET().build();
        return ctx.http().json(req, ReplicateWire.Prediction.class).thenCompose(p -> {
          if (!p.isTerminal()) {
            return CompletableFuture.completedFuture(PollResult.pending(progress(p)));
          }
          return settle(p).handle((r, e) -> e == null ? PollResult.done(r) : PollResult.failed(unwrap(e)));
        });
      }

      @Override
      public CompletableFuture<?> cancel() {
        HttpRequest req = ProviderHttp.retrySafe(ctx.http().request(cancel)).header("Authorization", auth())
            .POST(HttpRequest.BodyPublishers.noBody()).build();
        return ctx.http().call(req);
      }
    }
  }

  private static ProgressEvent progress(ReplicateWire.Prediction p) {
    if ("starting".equals(p.state())) {
      return ProgressEvent.queued(ID, null, null);
    }
    Double percent = null;
    if (p.logs() != null) {
      Matcher m = PERCENT_IN_LOGS.matcher(p.logs());
      while (m.find()) {
        int v = Integer.parseInt(m.group(1));
        if (v <= 100) {
          percent = (double) v;
        }
      }
    }
    return ProgressEvent.running(ID, percent, null);
  }

  private static ImageGenerationException unwrap(Throwable e) {
    Throwable c = e;
    while (c instanceof CompletionException && c.getCause() != null) {
      c = c.getCause();
    }
    if (c instanceof ImageGenerationException ige) {
      return ige;
    }
    if (c instanceof java.util.concurrent.CancellationException) {
      return new GenerationCancelledException("cancelled", ID, c);
    }
    return new ProviderUnavailableException("could not finish the prediction: " + c.getClass().getSimpleName(), ID, false,
        false, null, c);
  }
}
