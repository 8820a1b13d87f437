package dev.imagegen.provider.fal;

import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Secret;
import dev.imagegen.spi.SoftInput;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.jspecify.annotations.Nullable;

/**
 * fal's queue API: uploads local input images to fal storage, submits to
 * {@code queue.fal.run/{app id}}, polls the status, reads the result, downloads the images, and
 * cancels the request when the attempt is cancelled. See {@link FalProviderFactory} for the
 * configuration. Thread-safe; one instance serves every generation of a service.
 */
final class FalProvider implements ImageProvider {
  /** fal's queue host. */
  static final String DEFAULT_BASE_URL = "https://queue.fal.run";
  /** fal's storage REST host. */
  static final String DEFAULT_STORAGE_URL = "https://rest.fal.ai";
  /** fal documents no poll limit; this is ours, so that a small poll-interval cannot hammer the queue. */
  static final Duration POLL_FLOOR = Duration.ofMillis(100);
  /** A request id no request has: the health check reads its status to check the key. */
  static final String HEALTH_REQUEST_ID = "00000000-0000-0000-0000-000000000000";

  private final String id;
  private final ProviderConfig config;
  private final Secret key;
  private final URI baseUrl;
  private final String defaultModel;
  private final String defaultEditModel;
  private final boolean safetyChecker;
  private final PollPolicy pollPolicy;
  private final FalStorage storage;
  private final FalPrices prices;
  private final ProviderCapabilities capabilities;

  FalProvider(String id, ProviderConfig config, Secret key) {
    this.id = id;
    this.config = config;
    this.key = key;
    this.baseUrl = config.baseUrl(DEFAULT_BASE_URL);
    this.defaultModel = model(config, "model", FalModels.FLUX_SCHNELL);
    this.defaultEditModel = model(config, "edit-model", FalModels.NANO_BANANA_PRO_EDIT);
    this.safetyChecker = config.bool("enable-safety-checker", true);
    this.pollPolicy = new PollPolicy(Duration.ofMillis(300), Duration.ofMillis(500), Duration.ofSeconds(5), 1.5, POLL_FLOOR, 8)
        .withConfig(config);
    long dataUriMax = config.get("data-uri-max-bytes").map(v -> parseLong(config, "data-uri-max-bytes", v)).orElse(0L);
    Duration ttl = config.duration("upload-cache-ttl", Duration.ofHours(1));
    this.storage = new FalStorage(id, storageUrl(config, baseUrl), key, dataUriMax, ttl);
    this.prices = new FalPrices(config, this::modelOrNull);
    this.capabilities = ProviderCapabilities.builder()
        .models(FalModels.LISTED)
        .anyModel(true)
        .sizes(64, 4096, 8)
        .maxSteps(50)
        // no fal model here takes a negative prompt or a sampler: soft inputs, sent without
        .negativePrompt(false)
        .ignores(SoftInput.SAMPLER)
        .modelInputs(this::ignoredByModel)
        .seed(true)
        .img2img(true)
        .mask(false)
        .maxReferenceImages(config.intValue("max-reference-images", 4))
        .maxImagesPerRequest(4)
        .loras(false)
        .queued(true)
        .cancellable(true)
        .free(false)
        .build();
  }

  private static String model(ProviderConfig config, String key, String fallback) {
    String v = config.get(key).orElse(fallback);
    String resolved = FalModels.resolve(v);
    if (resolved == null) {
      throw new IllegalStateException(config.providerId() + ": '" + key + "' is not a fal app id (owner/alias[/path]) nor "
          + "an alias: " + v);
    }
    return resolved;
  }

  private static long parseLong(ProviderConfig config, String key, String v) {
    try {
      long n = Long.parseLong(v.strip());
      if (n < 0) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalStateException(config.providerId() + ": '" + key + "' must be a number of bytes, was " + v);
    }
  }

  /**
   * The storage host: {@code storage-url}; when unset, fal's storage host, unless {@code base-url}
   * points elsewhere (a proxy, a sandbox), in which case uploads go there too.
   */
  static URI storageUrl(ProviderConfig config, URI baseUrl) {
    String s = config.get("storage-url").orElse(null);
    if (s == null) {
      s = baseUrl.equals(URI.create(DEFAULT_BASE_URL)) ? DEFAULT_STORAGE_URL : baseUrl.toString();
    }
    while (s.endsWith("/")) {
      s = s.substring(0, s.length() - 1);
    }
    try {
      URI u = URI.create(s);
      if (u.getScheme() == null || u.getHost() == null) {
        throw new IllegalArgumentException("no scheme or host");
      }
      return u;
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException(config.providerId() + ": storage-url is not a URL: " + s, e);
    }
  }

  @Override
  public String id() {
    return id;
  }

  @Override
  public ProviderCapabilities capabilities() {
    return capabilities;
  }

  @Override
  public CostModel costModel() {
    return prices;
  }

  /** The storage client (tests read its upload count). */
  FalStorage storage() {
    return storage;
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
    String resolved = FalModels.resolve(m);
    if (resolved == null) {
      throw FalRequests.notCapable(id, "model '" + m + "' is neither a fal app id (owner/alias[/path]) nor one of "
          + String.join(", ", FalModels.ALIASES.keySet()));
    }
    return resolved;
  }

  /** The Nano Banana edit models take no step count and no guidance scale. */
  private Set<SoftInput> ignoredByModel(ImageGenerationRequest r) {
    String appId = modelOrNull(r);
    return appId != null && FalModels.isNanoBanana(appId) ? EnumSet.of(SoftInput.STEPS, SoftInput.GUIDANCE) : Set.of();
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
      FalRequests.checkInputs(id, request, appId);
      inputs = FalRequests.orderedInputs(request);
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    long t0 = System.nanoTime();
    List<CompletableFuture<FalStorage.Sent>> sent = new ArrayList<>();
    for (int i = 0; i < inputs.size(); i++) {
      sent.add(storage.send(inputs.get(i), i, ctx));
    }
    return CompletableFuture.allOf(sent.toArray(new CompletableFuture<?>[0])).thenCompose(v -> {
      List<String> urls = new ArrayList<>();
      Map<String, String> meta = new LinkedHashMap<>();
      int uploaded = 0;
      int reused = 0;
      for (CompletableFuture<FalStorage.Sent> f : sent) {
        FalStorage.Sent s = f.join();
        urls.add(s.url());
        uploaded += s.uploaded() ? 1 : 0;
        reused += s.reused() ? 1 : 0;
      }
      if (!inputs.isEmpty()) {
        meta.put("input_images", String.valueOf(inputs.size()));
        meta.put("uploads", String.valueOf(uploaded));
        meta.put("uploads_reused", String.valueOf(reused));
        meta.put("upload_time_ms", String.valueOf((System.nanoTime() - t0) / 1_000_000));
      }
      return submit(request, ctx, appId, urls, meta);
    });
  }

  private CompletableFuture<ProviderResult> submit(ImageGenerationRequest request, GenerationContext ctx, String appId,
      List<String> imageUrls, Map<String, String> meta) {
    FalRequests.Mapped mapped = FalRequests.body(id, request, appId, imageUrls, safetyChecker, capabilities);
    ProviderHttp http = ctx.http();
    HttpRequest.BodyPublisher body;
    try {
      body = http.jsonBody(mapped.body());
    } catch (IllegalArgumentException e) {
      return CompletableFuture.failedFuture(new InvalidRequestException("the fal options cannot be written as JSON", id));
    }
    HttpRequest.Builder req = http.request(FalModels.submitUrl(baseUrl, appId))
        .header("Authorization", "Key " + key.reveal())
        .header("Content-Type", "application/json")
        .POST(body);
    long waitSeconds = ctx.remaining().toSeconds();
    if (waitSeconds >= 2) {
      // fal gives up on the request if it has not started by then: nobody would receive it
      req.header("X-Fal-Request-Timeout", String.valueOf(waitSeconds));
    }
    ctx.progress(ProgressEvent.of(id, ProgressEvent.Stage.SUBMITTED));
    return http.json(req.build(), FalWire.Submit.class).thenCompose(s -> {
      String requestId = s.requestId() == null ? "" : s.requestId().strip();
      if (!FalModels.isSafeRequestId(requestId)) {
        // a 200 without a usable id: a request may exist that we cannot follow
        throw new CompletionException(new ProviderUnavailableException("submit answered without a usable request_id",
            id, true, true, null, null));
      }
      URI status = or(FalModels.onBase(baseUrl, s.statusUrl()), FalModels.requestUrl(baseUrl, appId, requestId, "/status"));
      URI response = or(FalModels.onBase(baseUrl, s.responseUrl()), FalModels.requestUrl(baseUrl, appId, requestId, ""));
      URI cancel = or(FalModels.onBase(baseUrl, s.cancelUrl()), FalModels.requestUrl(baseUrl, appId, requestId, "/cancel"));
      FalJob job = new FalJob(id, ctx, key, appId, requestId, status, response, cancel, request.seed(), mapped.warnings(), meta);
      // the submit's queue_position is not reported: status reads carry the current one, and an
      // early 0 followed by a larger position would look like the queue growing
      ctx.progress(ProgressEvent.queued(id, null, null));
      return ctx.await(job, pollPolicy);
    });
  }

  private static URI or(@Nullable URI a, URI b) {
    return a != null ? a : b;
  }

  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext context) {
    long t0 = System.nanoTime();
    ProviderHttp http = context.http();
    HttpRequest req = http.request(FalModels.requestUrl(baseUrl, defaultModel, HEALTH_REQUEST_ID, "/status"))
        .header("Authorization", "Key " + key.reveal()).GET().build();
    return http.send(req, 64 * 1024).handle((r, e) -> {
      Duration took = Duration.ofNanos(System.nanoTime() - t0);
      if (e != null) {
        Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        return new ProviderHealth(id, ProviderHealth.State.DOWN, took, context.redactor().redact(String.valueOf(c.getMessage())),
            null, null);
      }
      int s = r.status();
      if (r.isSuccess() || (s >= 400 && s < 500 && s != 401 && s != 403 && s != 408 && s != 429)) {
        // the request id is unknown (404) but the key passed
        return new ProviderHealth(id, ProviderHealth.State.UP, took, "key accepted", null, null);
      }
      String message = http.mapError(r).getMessage();
      if (s == 401 || s == 403) {
        return new ProviderHealth(id, ProviderHealth.State.AUTH_FAILED, took, message, null, null);
      }
      if (s == 429) {
        return new ProviderHealth(id, ProviderHealth.State.DEGRADED, took, message, null, null);
      }
      return new ProviderHealth(id, ProviderHealth.State.DOWN, took, message, null, null);
    });
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return FalErrors.map(id, response, context.json());
  }

  @Override
  public String toString() {
    return "FalProvider[" + baseUrl + "]";
  }
}
