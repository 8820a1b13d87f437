package dev.imagegen.provider.fal;

import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HealthCheck;
import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.JobHandle;
import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.PriceTable;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Secret;
import dev.imagegen.spi.SoftInput;
import dev.imagegen.spi.WebhookVerifier;
import dev.imagegen.spi.Webhooks;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;

/**
 * fal's queue API: uploads local input images to fal storage, submits to
 * {@code queue.fal.run/{app id}}, polls the status, reads the result, downloads the images, and
 * cancels the request when the attempt is cancelled. See {@link FalProviderFactory} for the
 * configuration. Thread-safe; one instance serves every generation of a service.
 */
final class FalProvider extends HttpImageProvider {
  /** fal's queue host. */
  static final String DEFAULT_BASE_URL = "https://queue.fal.run";
  /** fal's storage REST host. */
  static final String DEFAULT_STORAGE_URL = "https://rest.fal.ai";
  /** fal documents no poll limit; this is ours, so that a small poll-interval cannot hammer the queue. */
  static final Duration POLL_FLOOR = Duration.ofMillis(100);
  /** A request id no request has: the health check reads its status to check the key. */
  static final String HEALTH_REQUEST_ID = "00000000-0000-0000-0000-000000000000";

  private final Secret key;
  private final String defaultModel;
  private final String defaultEditModel;
  private final boolean safetyChecker;
  private final PollPolicy pollPolicy;
  private final FalStorage storage;
  /** Where fal sends each request's webhook, or null (polling only). */
  private final @Nullable URI webhookUrl;
  private final @Nullable FalWebhooks webhookVerifier;
  /** Config key: how many requests at once follow fal's status stream; 0 = none. */
  static final String STATUS_STREAMS = "status-streams";
  /** The default {@value #STATUS_STREAMS} without webhooks (with them, 0). */
  static final int DEFAULT_STATUS_STREAMS = 16;
  /** Room for status streams; each open one holds a permit. */
  private final java.util.concurrent.Semaphore statusStreams;

  FalProvider(ProviderConfig config, Secret key) {
    super(config, DEFAULT_BASE_URL);
    this.key = key;
    this.defaultModel = model(config, "model", FalModels.FLUX_SCHNELL);
    this.defaultEditModel = model(config, "edit-model", FalModels.NANO_BANANA_PRO_EDIT);
    this.safetyChecker = config.bool("enable-safety-checker", true);
    PollPolicy normal = PollPolicy.builder().initialDelay(Duration.ofMillis(300)).interval(Duration.ofMillis(500))
        .maxInterval(Duration.ofSeconds(5)).multiplier(1.5).floor(POLL_FLOOR)
        // poll budget: fal publishes no status-read limit; 40 concurrent requests at most per account, twice a second each
        .pollsPerSecond(80).build().withConfig(config);
    this.webhookUrl = Webhooks.url(config).orElse(null);
    this.webhookVerifier = webhookUrl == null ? null
        : new FalWebhooks(config.url(FalWebhooks.JWKS_URL, FalWebhooks.DEFAULT_JWKS_URL), Webhooks.allowUnsigned(config));
    // with webhooks, a slow safety-net poll: a delivery makes the loop poll at once
    this.pollPolicy = webhookUrl == null ? normal : Webhooks.safetyNet(normal, config);
    // a stream holds a connection per request: a few for a prompt answer, never one per pending job
    this.statusStreams = new java.util.concurrent.Semaphore(
        config.intValue(STATUS_STREAMS, webhookUrl == null ? DEFAULT_STATUS_STREAMS : 0, 0, 1024));
    this.storage = new FalStorage(this, storageUrl(config, baseUrl), config.longValue("data-uri-max-bytes", 0, 0, Long.MAX_VALUE),
        config.duration("upload-cache-ttl", Duration.ofHours(1)));
    PriceTable prices = FalPrices.of(config, this::modelOrNull);
    ProviderCapabilities capabilities = ProviderCapabilities.builder()
        .models(FalModels.LISTED)
        // any other fal app id (owner/alias[/path]) is passed through; a name that is not one is
        // skipped by routing, never sent
        .modelNames(name -> FalModels.resolve(name) != null)
        // fal's model pages document no prompt limit (FLUX reads 256-512 T5 tokens and truncates,
        // Nano Banana reads far more): 10,000 characters keeps every prompt a model can use and
        // refuses a runaway one before it is uploaded
        .maxPromptLength(10_000)
        // the request's fal options are copied into the body as they are: any field of the model
        .anyOption(true)
        .sizes(64, 4096, 8)
        .maxSteps(50)
        // no fal model here takes a negative prompt or a sampler: soft inputs, sent without
        .ignores(SoftInput.SAMPLER)
        // the Nano Banana edit models take no step count and no guidance scale
        .modelInputs(r -> FalModels.isNanoBanana(modelOrNull(r)) ? EnumSet.of(SoftInput.STEPS, SoftInput.GUIDANCE) : Set.of())
        .seed(true)
        .img2img(true)
        .maxReferenceImages(config.intValue("max-reference-images", 4))
        .maxImagesPerRequest(4)
        .queued(true)
        .cancellable(true)
        .build();
    declare(capabilities, prices);
  }

  /**
   * fal's built-in models, each once with its aliases and what it does at which built-in price,
   * then the configured {@code model} and {@code edit-model} when they are other fal ids (any fal
   * app id is served; these are the ones imagegen knows).
   */
  @Override
  public List<ModelInfo> models() {
    Map<String, String> described = new LinkedHashMap<>();
    described.put(FalModels.FLUX_SCHNELL, "FLUX.1 [schnell], text to image");
    described.put(FalModels.NANO_BANANA_PRO_EDIT, "Nano Banana Pro edit: prompt plus input images");
    described.put(FalModels.NANO_BANANA_EDIT, "Nano Banana edit: prompt plus input images");
    described.put(FalModels.NANO_BANANA_2_EDIT, "Nano Banana 2 edit: prompt plus input images");
    if (!described.containsKey(defaultModel)) {
      described.put(defaultModel, "the configured model");
    }
    if (!described.containsKey(defaultEditModel)) {
      described.put(defaultEditModel, "the configured edit-model");
    }
    List<ModelInfo> out = new ArrayList<>();
    described.forEach((model, what) -> {
      List<String> aliases = FalModels.ALIASES.entrySet().stream().filter(e -> e.getValue().equals(model))
          .map(Map.Entry::getKey).toList();
      String price = FalPrices.builtIn(model);
      out.add(new ModelInfo(id(), model, aliases, what + "; " + (price != null ? price : "price unknown unless configured")));
    });
    return out;
  }

  private static String model(ProviderConfig config, String key, String fallback) {
    String v = config.get(key).orElse(fallback);
    return Optional.ofNullable(FalModels.resolve(v)).orElseThrow(() -> new IllegalStateException(config.providerId() + ": '"
        + key + "' is not a fal app id (owner/alias[/path]) nor an alias: " + v));
  }

  /**
   * The storage host: {@code storage-url}; when unset, fal's storage host, unless {@code base-url}
   * points elsewhere (a proxy, a sandbox), in which case uploads go there too.
   */
  static URI storageUrl(ProviderConfig config, URI baseUrl) {
    return config.url("storage-url", baseUrl.equals(URI.create(DEFAULT_BASE_URL)) ? DEFAULT_STORAGE_URL : baseUrl.toString());
  }

  /** Ed25519 over fal's key set ({@link FalWebhooks}) when {@code webhook-url} is set, else null. */
  @Override
  public @Nullable WebhookVerifier webhookVerifier() {
    return webhookVerifier;
  }

  /** Takes room for one status stream, when there is some. */
  boolean takeStatusStream() {
    return statusStreams.tryAcquire();
  }

  /** Gives back the room of a status stream that ended. */
  void releaseStatusStream() {
    statusStreams.release();
  }

  /** Free room for status streams (for tests). */
  int freeStatusStreams() {
    return statusStreams.availablePermits();
  }

  /** Sends the key as {@code Authorization: Key <key>}. */
  @Override
  protected HttpRequest.Builder authorize(HttpRequest.Builder request) {
    return request.header("Authorization", "Key " + key.reveal());
  }

  /**
   * The fal app id a request runs on: its model (alias or id), else {@code edit-model} when it has
   * input images, else {@code model}.
   *
   * @throws ImageGenerationException when the model is not a fal id (another provider may know it)
   */
  String modelFor(ImageGenerationRequest r) {
    String m = r.model();
    if (m == null || m.isBlank()) {
      return r.inputImages().isEmpty() ? defaultModel : defaultEditModel;
    }
    return Optional.ofNullable(FalModels.resolve(m)).orElseThrow(() -> FalModels.notCapable(id(), "model '" + m
        + "' is neither a fal app id (owner/alias[/path]) nor one of " + String.join(", ", FalModels.ALIASES.keySet())));
  }

  private @Nullable String modelOrNull(ImageGenerationRequest r) {
    try {
      return modelFor(r);
    } catch (ImageGenerationException e) {
      return null;
    }
  }

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    String appId;
    List<InputImage> inputs;
    try {
      appId = modelFor(request);
      FalModels.checkInputs(id(), request, appId);
      inputs = FalModels.orderedInputs(request);
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    long t0 = System.nanoTime();
    List<CompletableFuture<FalStorage.Sent>> sent = IntStream.range(0, inputs.size())
        .mapToObj(i -> storage.send(inputs.get(i), i, ctx)).toList();
    return CompletableFuture.allOf(sent.toArray(new CompletableFuture<?>[0])).thenCompose(v -> {
      List<FalStorage.Sent> done = sent.stream().map(CompletableFuture::join).toList();
      Map<String, String> meta = new LinkedHashMap<>();
      if (!inputs.isEmpty()) {
        meta.put("input_images", String.valueOf(inputs.size()));
        meta.put("uploads", String.valueOf(done.stream().filter(FalStorage.Sent::uploaded).count()));
        meta.put("uploads_reused", String.valueOf(done.stream().filter(FalStorage.Sent::reused).count()));
        meta.put("upload_time_ms", String.valueOf((System.nanoTime() - t0) / 1_000_000));
      }
      return submit(request, ctx, appId, done.stream().map(FalStorage.Sent::url).toList(), meta);
    });
  }

  private CompletableFuture<ProviderResult> submit(ImageGenerationRequest request, GenerationContext ctx, String appId,
      List<String> imageUrls, Map<String, String> meta) {
    FalModels.Mapped mapped = FalModels.body(id(), request, appId, imageUrls, safetyChecker, capabilities());
    ProviderHttp http = ctx.http();
    HttpRequest.BodyPublisher body;
    try {
      body = http.jsonBody(mapped.body());
    } catch (IllegalArgumentException e) {
      return CompletableFuture.failedFuture(new InvalidRequestException("the fal options cannot be written as JSON", id()));
    }
    URI submitUrl = FalJob.submitUrl(baseUrl, appId);
    if (webhookUrl != null) {
      submitUrl = URI.create(submitUrl + (submitUrl.getRawQuery() == null ? "?" : "&") + "fal_webhook="
          + URLEncoder.encode(webhookUrl.toString(), StandardCharsets.UTF_8));
    }
    HttpRequest.Builder req = request(ctx, submitUrl)
        .header("Content-Type", "application/json")
        .POST(body);
    long waitSeconds = ctx.remaining().toSeconds();
    if (waitSeconds >= 2) {
      // fal gives up on the request if it has not started by then: nobody would receive it
      req.header("X-Fal-Request-Timeout", String.valueOf(waitSeconds));
    }
    ctx.progress(ProgressEvent.of(id(), ProgressEvent.Stage.SUBMITTED));
    return http.json(req.build(), FalWire.Submit.class).thenCompose(s -> {
      String requestId = s.requestId() == null ? "" : s.requestId().strip();
      if (!FalJob.isSafeRequestId(requestId)) {
        // a 200 without a usable id: a request may exist that we cannot follow
        throw new CompletionException(ProviderUnavailableException.outcomeUnknown("submit answered without a usable "
            + "request_id", id(), null));
      }
      FalJob job = new FalJob(this, ctx, baseUrl, appId, requestId, s, request.seed(), mapped.warnings(), meta);
      // the submit's queue_position is not reported: status reads carry the current one, and an
      // early 0 followed by a larger position would look like the queue growing
      ctx.progress(ProgressEvent.queued(id(), null, null));
      return ctx.await(job, pollPolicy);
    });
  }

  /** A queued request is followed by its status and response URLs, so one submitted before a crash can be waited for again. */
  @Override
  public boolean canResume() {
    return true;
  }

  /** A queued request is cancelled at its {@code cancel_url}, known from its handles. */
  @Override
  public boolean canCancelByHandle() {
    return true;
  }

  /**
   * Waits for a request an earlier process submitted (found in the job journal): polls its
   * {@code status_url} handle, reads its {@code response_url} and downloads the images; never
   * submits. A handle URL on another host than the configured base has its path moved onto the
   * base ({@link FalJob#onBase}), so an edited journal cannot send the key elsewhere; a missing
   * one is built from the app id and request id.
   */
  @Override
  public CompletableFuture<ProviderResult> resume(JobHandle job, GenerationContext ctx) {
    FalJob f;
    try {
      f = resumed(job, ctx);
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    return ctx.await(f, pollPolicy);
  }

  /** Cancels a request an earlier process submitted: {@code PUT} its {@code cancel_url} handle (on the configured base). */
  @Override
  public CompletableFuture<Void> cancel(JobHandle job, ProviderContext context) {
    String requestId = job.remoteJobId();
    if (!FalJob.isSafeRequestId(requestId)) {
      return CompletableFuture.failedFuture(new InvalidRequestException("the journal's request id is not one of fal's", id()));
    }
    String appId = appOf(job);
    URI url = Optional.ofNullable(FalJob.onBase(baseUrl, job.handle(FalJob.CANCEL_HANDLE)))
        .orElseGet(() -> FalJob.requestUrl(baseUrl, appId, requestId, "/cancel"));
    return FalJob.cancel(this, context, url).thenApply(status -> null);
  }

  private FalJob resumed(JobHandle job, GenerationContext ctx) {
    String requestId = job.remoteJobId();
    if (!FalJob.isSafeRequestId(requestId)) {
      throw new InvalidRequestException("the journal's request id is not one of fal's", id());
    }
    FalWire.Submit s = new FalWire.Submit(requestId, job.handle(FalJob.RESPONSE_HANDLE), job.handle(FalJob.STATUS_HANDLE),
        job.handle(FalJob.CANCEL_HANDLE));
    return new FalJob(this, ctx, baseUrl, appOf(job), requestId, s, null, List.of(), Map.of("resumed", "true"));
  }

  private String appOf(JobHandle job) {
    String app = job.handle(FalJob.APP_HANDLE);
    return app == null || app.isBlank() ? defaultModel : app;
  }

  /** Reads the status of a request id no request has: fal checks the key first, so a 404 means the key passed. */
  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext context) {
    HttpRequest req = request(context, FalJob.requestUrl(baseUrl, defaultModel, HEALTH_REQUEST_ID, "/status")).GET().build();
    return HealthCheck.timed(context, () -> context.http().send(req, 64 * 1024), (r, took) -> {
      int s = r.status();
      if (r.isSuccess() || (s >= 400 && s < 500 && s != 401 && s != 403 && s != 408 && s != 429)) {
        return ProviderHealth.of(id(), ProviderHealth.State.UP, took, "key accepted");
      }
      ImageGenerationException e = context.http().mapError(r);
      // 401/403 an exhausted balance too (fal locks the key); 429 DEGRADED, else DOWN
      return s == 401 || s == 403 ? ProviderHealth.of(id(), ProviderHealth.State.AUTH_FAILED, took, e.getMessage())
          : HealthCheck.failed(context, took, e);
    });
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return FalWire.mapError(id(), response, context.json());
  }
}
