package dev.imagegen.provider.replicate;

import com.fasterxml.jackson.databind.JsonNode;
import dev.imagegen.Cost;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HealthCheck;
import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.JobHandle;
import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.PriceTable.Price;
import dev.imagegen.spi.PriceTable.Unit;
import dev.imagegen.spi.PriceTable;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.ProviderSupport;
import dev.imagegen.spi.Reconciliation;
import dev.imagegen.spi.Secret;
import dev.imagegen.spi.StandardWebhooks;
import dev.imagegen.spi.WebhookVerifier;
import dev.imagegen.spi.Webhooks;
import java.math.BigDecimal;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Replicate predictions. A generation creates a prediction (official models through
 * {@code POST /models/{owner}/{name}/predictions}, others through {@code POST /predictions} with
 * their version) holding the answer for up to {@code wait-seconds} ({@code Prefer: wait=N}); a
 * prediction still {@code starting} or {@code processing} after that is polled at its
 * {@code urls.get}, and cancelled at its {@code urls.cancel} when the attempt is cancelled
 * ({@link ReplicatePrediction}). Output URLs are downloaded at once (they expire after an hour). A
 * create whose answer was lost is looked up in List predictions ({@link #reconcile},
 * {@link ReplicateReconcile}). Thread-safe; holds no thread while waiting.
 */
final class ReplicateProvider extends HttpImageProvider {
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
  /**
   * Config key: how long {@link #reconcile} waits before listing predictions, so that a prediction
   * the lost create made has time to show up in the list (default 2 s, 0 to 1 h; at most half the time left).
   */
  static final String RECONCILE_DELAY = "reconcile-delay";
  /** Config key: the GPU the time-priced models run on, e.g. {@code a40-large}; picks its price per second. */
  static final String GPU = "gpu";
  /** Price per second of each GPU (replicate.com/pricing, undated, about 2025). */
  static final Map<String, BigDecimal> GPU_PRICES = Collections.unmodifiableMap(new TreeMap<>(Map.of(
      "t4", new BigDecimal("0.000225"), "a40", new BigDecimal("0.000575"), "a40-large", new BigDecimal("0.000725"),
      "l40s", new BigDecimal("0.000975"), "a100-80gb", new BigDecimal("0.0014"), "h100", new BigDecimal("0.001525"))));
  /** The price table's entry for the hardware price, used by time-priced models without a price of their own. */
  private static final String GPU_TIME = "replicate-gpu-time";
  /** Polls: first after 0.5 s, then every 1 s growing to 5 s; never faster than 100 ms (no documented floor). */
  static final PollPolicy POLL = PollPolicy.builder().initialDelay(Duration.ofMillis(500)).interval(Duration.ofSeconds(1))
      .maxInterval(Duration.ofSeconds(5)).multiplier(1.5).floor(Duration.ofMillis(100))
      // poll budget: 3000 requests/min for every endpoint but create (50/s); 40/s leaves room for cancels and lookups
      .pollsPerSecond(40).build();

  /** Config key: the webhook signing secret, {@code whsec_...} (GET /v1/webhooks/default/secret); required with {@code webhook-url}. */
  static final String WEBHOOK_SECRET = "webhook-secret";

  private final Secret token;
  /** Where Replicate sends each prediction's {@code completed} webhook, or null (polling only). */
  final @Nullable URI webhookUrl;
  private final @Nullable WebhookVerifier webhookVerifier;
  /** How a prediction is polled: {@link #POLL}, or its slow safety net when webhooks are configured. */
  final PollPolicy pollPolicy;
  final int waitSeconds;
  final boolean cancelAfter;
  final boolean retryCreateOnServerError;
  final Duration reconcileDelay;
  final String defaultModel;
  private final List<String> offered;
  /** The create last sent for each generation whose outcome may still be reconciled (until its deadline), by generation id. */
  final Map<String, ReplicatePrediction> submits = new ConcurrentHashMap<>();
  /**
   * Ids of predictions whose create was answered (or that a reconcile adopted), the most recent
   * 4096: none of them can be the prediction of a create whose answer was lost.
   */
  final Set<String> known = Collections.synchronizedSet(Collections.newSetFromMap(new LinkedHashMap<String, Boolean>() {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
      return size() > 4096;
    }
  }));

  ReplicateProvider(ProviderConfig config) {
    super(config, DEFAULT_BASE_URL);
    config.url(ProviderConfig.BASE_URL, DEFAULT_BASE_URL); // an http(s) URL with a host, or the error names the key
    this.token = config.requireApiKey();
    this.waitSeconds = config.intValue(WAIT_SECONDS, 10, 0, 60); // Replicate holds a create at most 60 s
    this.cancelAfter = config.bool(CANCEL_AFTER, true);
    this.retryCreateOnServerError = config.bool(RETRY_CREATE_ON_SERVER_ERROR, false);
    this.reconcileDelay = config.duration(RECONCILE_DELAY, Duration.ofSeconds(2), Duration.ZERO, Duration.ofHours(1));
    this.defaultModel = model(DEFAULT_MODEL, config.get(DEFAULT_MODEL).orElse("flux-schnell"));
    this.webhookUrl = Webhooks.url(config).orElse(null);
    this.webhookVerifier = webhookUrl == null ? null : verifier(config);
    this.pollPolicy = webhookUrl == null ? POLL.withConfig(config) : Webhooks.safetyNet(POLL.withConfig(config), config);
    Set<String> names = new LinkedHashSet<>();
    for (String m : config.get(MODELS).orElse("flux-schnell,sdxl").split(",")) {
      if (!m.isBlank()) {
        names.add(model(MODELS, m));
      }
    }
    names.add(defaultModel);
    this.offered = List.copyOf(names);
    Set<String> accepted = new LinkedHashSet<>();
    for (String m : offered) {
      ReplicateModels.Target t = ReplicateModels.resolve(m, defaultModel); // validated when configured
      accepted.add(m);
      accepted.add(t.displayName());
      if (t.alias() != null) {
        accepted.add(t.alias());
      }
      if (t.model() != null && (t.official() || t.family() == ReplicateModels.Family.SDXL)) {
        accepted.add(t.model());
      }
    }
    ProviderCapabilities capabilities = ProviderCapabilities.builder()
        .models(accepted)
        // any other Replicate model (owner/name, owner/name:version, a version id) passes through;
        // another name is skipped by routing, never sent
        .modelNames(name -> ReplicateModels.tryResolve(name) != null)
        // Replicate documents no prompt limit (each model's schema may set one): 10,000 characters
        // keeps every prompt a model can use and refuses a runaway one
        .maxPromptLength(10_000)
        // the request's replicate options are merged into the model's input: any field of the model
        .anyOption(true)
        .negativePrompt(true)
        .modelInputs(r -> ReplicateModels.ignoredInputs(r.model(), defaultModel))
        .seed(true)
        .img2img(true)
        .mask(true)
        .maxImagesPerRequest(4)
        .queued(true)
        .cancellable(true)
        .build();
    PriceTable prices = prices(config, defaultModel);
    declare(capabilities, prices);
  }

  /**
   * Standard Webhooks with the {@code webhook-secret}; the job is the body's prediction {@code id}.
   *
   * @throws IllegalStateException naming the key when the secret is missing or not {@code whsec_<base64>}
   */
  private static WebhookVerifier verifier(ProviderConfig config) {
    Secret secret = config.secret(WEBHOOK_SECRET).filter(v -> !v.reveal().isBlank()).orElseThrow(() -> new IllegalStateException(
        ID + ": '" + WEBHOOK_SECRET + "' is required with '" + Webhooks.URL + "': the whsec_... signing key that GET "
            + "/v1/webhooks/default/secret returns"));
    try {
      return StandardWebhooks.verifier(secret, json -> {
        JsonNode id = json.get("id");
        return id != null && id.isTextual() ? id.asText() : null;
      }, Webhooks.allowUnsigned(config));
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException(ID + ": '" + WEBHOOK_SECRET + "': " + e.getMessage());
    }
  }

  /** Standard Webhooks over {@code webhook-secret} when {@code webhook-url} is set, else null. */
  @Override
  public @Nullable WebhookVerifier webhookVerifier() {
    return webhookVerifier;
  }

  @Override
  protected HttpRequest.Builder authorize(HttpRequest.Builder request) {
    return request.header("Authorization", "Bearer " + token.reveal());
  }

  /** {@value #ID}, whatever the configuration is named. */
  @Override
  public String id() {
    return ID;
  }

  /** The offered models, each once (offered by alias and by id, it is still one model). */
  @Override
  public List<ModelInfo> models() {
    Map<String, ModelInfo> byName = new LinkedHashMap<>();
    for (String m : offered) {
      ReplicateModels.Target t = ReplicateModels.resolve(m, defaultModel); // validated when configured
      String description = switch (t.family()) {
        case FLUX_SCHNELL -> "FLUX.1 [schnell], official model; $0.003 per image";
        case SDXL -> "Stable Diffusion XL, community model by version; billed by GPU time";
        default -> t.official() ? "official model" : "model by version; billed by GPU time";
      };
      byName.putIfAbsent(t.displayName(), new ModelInfo(ID, t.displayName(), t.alias() == null ? List.of() : List.of(t.alias()),
          description));
    }
    return List.copyOf(byName.values());
  }

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    ReplicatePrediction run;
    CompletableFuture<ProviderResult> started;
    try {
      run = new ReplicatePrediction(this, request, ctx);
      started = run.start();
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    return started.handle((r, e) -> {
      ImageGenerationException x = e == null ? null : failure(e);
      if (!(x instanceof ProviderUnavailableException pu && pu.outcomeUnknown())) {
        submits.remove(ctx.generationId(), run); // the create's outcome is known: nothing to reconcile
      }
      if (x == null) {
        return r;
      }
      throw new CompletionException(x);
    });
  }

  /** Predictions are polled at their {@code urls.get}, so one created before a crash can be waited for again. */
  @Override
  public boolean canResume() {
    return true;
  }

  /** A prediction is cancelled at its {@code urls.cancel}, known from its id alone. */
  @Override
  public boolean canCancelByHandle() {
    return true;
  }

  /**
   * Waits for a prediction an earlier process created (found in the job journal): polls its
   * {@code urls.get} handle (only when it is under the base URL, else
   * {@code /predictions/{id}} on the base URL, so an edited journal cannot send the token to
   * another host), downloads its outputs, and cancels at its {@code urls.cancel} when the deadline
   * passes. Never creates a prediction.
   */
  @Override
  public CompletableFuture<ProviderResult> resume(JobHandle job, GenerationContext ctx) {
    ReplicatePrediction run;
    try {
      run = new ReplicatePrediction(this, ImageGenerationRequest.builder().prompt("(resumed prediction " + job.remoteJobId() + ")")
          .build(), ctx);
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    return run.resume(job).handle((r, e) -> {
      if (e == null) {
        return r;
      }
      throw new CompletionException(failure(e));
    });
  }

  /**
   * Cancels a prediction an earlier process created: {@code POST} to its {@code urls.cancel}
   * handle when it is under the base URL, else to {@code /predictions/{id}/cancel} on the base URL.
   */
  @Override
  public CompletableFuture<Void> cancel(JobHandle job, ProviderContext c) {
    URI url = under(job.handle(ReplicatePrediction.CANCEL_HANDLE), predictionPath(job.remoteJobId()) + "/cancel");
    HttpRequest.Builder b = request(c, url);
    return c.http().call(ProviderHttp.retrySafe(b).POST(HttpRequest.BodyPublishers.noBody()).build())
        .handle((r, e) -> {
          if (e != null) {
            throw new CompletionException(failure(e));
          }
          return null;
        });
  }

  /** {@code /predictions/{id}}; Replicate's [a-z0-9] ids go unchanged. */
  static String predictionPath(String id) {
    return "/predictions/" + java.net.URLEncoder.encode(id, java.nio.charset.StandardCharsets.UTF_8);
  }

  /** {@code GET /account}: 200 is up (the account's name in the message), 401 a refused token. Never completes exceptionally. */
  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext c) {
    return HealthCheck.get(c, request(c, "/account").GET().build(), (r, latency) -> {
      JsonNode a = r.jsonOrNull(c.json()); // a 200 is enough: the token was accepted
      String user = a == null ? "" : a.path("username").asText("");
      String type = a == null ? "" : a.path("type").asText("");
      String who = user.isEmpty() ? "token accepted" : "account " + user + (type.isEmpty() ? "" : " (" + type + ")");
      return ProviderHealth.of(ID, ProviderHealth.State.UP, latency, who);
    });
  }

  /**
   * Looks up the prediction a create whose answer was lost may have made, in List predictions
   * ({@link ReplicateReconcile}): {@code FOUND} with its images when exactly one prediction is the
   * create's, {@code NOT_SUBMITTED} when none is, else {@code UNKNOWN} (possibly billed).
   */
  @Override
  public CompletableFuture<Reconciliation> reconcile(ImageGenerationRequest request, GenerationContext context) {
    ReplicatePrediction sent = submits.remove(context.generationId());
    if (sent == null) {
      context.log().warn("{}: a prediction create got no answer and was not recorded, so it cannot be looked up; it is not "
          + "resubmitted and may be billed (check https://replicate.com/predictions)", ID);
      return CompletableFuture.completedFuture(Reconciliation.unknown());
    }
    return new ReplicateReconcile(this, sent, context).run(request);
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return ReplicateWire.map(response, context.json());
  }

  /** {@code returned} when it is a URL under the base URL, else the base URL plus {@code path}. */
  URI under(@Nullable String returned, String path) {
    URI u = within(returned);
    return u != null ? u : url(path);
  }

  /** {@code returned} when it is a URL under the base URL, else null. */
  @Nullable URI within(@Nullable String returned) {
    return ProviderSupport.underBase(returned, baseUrl);
  }

  /**
   * Replicate's price list: flux-schnell at $0.003 per output image (an estimate from the list
   * price); time-priced models (sdxl and every model run by version) at {@code predict_time} times
   * the hardware's price per second, reported as provider-reported usage; other official models
   * unknown. The hardware price comes from {@code price-per-gpu-second} or from {@code gpu} (one of
   * the GPUs on replicate.com/pricing) and prices the time-priced models only; without either they
   * cost {@link Cost#unknown()}, never zero. {@code price.<model>} (a bare number is per second,
   * except for flux-schnell), {@code price-per-image} and {@code price-per-megapixel} work as for
   * every provider. Fails with an {@link IllegalStateException} naming the key when {@code gpu} or a price cannot be read.
   */
  private static PriceTable prices(ProviderConfig config, String defaultModel) {
    BigDecimal perSecond = config.decimal(ProviderConfig.PRICE_PER_GPU_SECOND).orElse(null);
    String gpu = config.get(GPU).orElse(null);
    if (perSecond == null && gpu != null) {
      perSecond = GPU_PRICES.get(gpu.strip().toLowerCase(Locale.ROOT).replace(' ', '-').replace('_', '-'));
      if (perSecond == null) {
        throw new IllegalStateException(ID + ": '" + GPU + "' must be one of " + GPU_PRICES.keySet() + ", was: " + gpu);
      }
    }
    if (perSecond != null && perSecond.signum() < 0) {
      throw new IllegalStateException(ID + ": '" + ProviderConfig.PRICE_PER_GPU_SECOND + "' cannot be negative, was "
          + perSecond.toPlainString());
    }
    boolean hardware = perSecond != null;
    Map<String, String> own = config.withPrefix("price");
    // flux-schnell per output image: replicate.com/pricing, read 2026-10, to the micro-dollar
    PriceTable.Builder table = PriceTable.builder(ID).bareUnit(Unit.SECOND)
        .price(ReplicateModels.FLUX_SCHNELL, Price.perImage("0.003000")).alias("flux-schnell", ReplicateModels.FLUX_SCHNELL)
        .alias("sdxl", ReplicateModels.SDXL + ":" + ReplicateModels.SDXL_VERSION)
        .modelOf(r -> {
          ReplicateModels.Target t = ReplicateModels.tryResolve(r.model() == null || r.model().isBlank() ? defaultModel
              : r.model());
          if (t == null) {
            return null;
          }
          boolean priced = own.containsKey(ProviderConfig.normalizeKeyPart(t.displayName()))
              || t.alias() != null && own.containsKey(ProviderConfig.normalizeKeyPart(t.alias()));
          return hardware && !t.official() && !priced ? GPU_TIME : t.displayName(); // a model run by version
        });
    if (perSecond != null) {
      table.price(GPU_TIME, new Price(perSecond, Unit.SECOND));
    }
    // price-per-gpu-second is the hardware price above, not a price of every model (flux-schnell stays per image)
    ProviderConfig.Builder rest = ProviderConfig.builder(config.providerId());
    config.values().entrySet().stream().filter(e -> !e.getKey().equals(ProviderConfig.PRICE_PER_GPU_SECOND))
        .forEach(e -> rest.set(e.getKey(), e.getValue()));
    return table.build(rest.build());
  }

  /** A configured model name, stripped, once it is known to be a Replicate model. */
  private static String model(String key, String name) {
    if (ReplicateModels.tryResolve(name.strip()) == null) {
      throw new IllegalStateException(ID + ": '" + key + "' names something that is not a Replicate model: " + name.strip());
    }
    return name.strip();
  }

  /** A future's failure as imagegen's exception; a cancelled future's as a cancellation. */
  static ImageGenerationException failure(Throwable e) {
    Throwable c = ProviderSupport.unwrap(e);
    return c instanceof CancellationException ? new GenerationCancelledException("cancelled", ID, c)
        : ProviderSupport.failure(ID, c);
  }
}
