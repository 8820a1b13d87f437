package dev.imagegen.provider.huggingface;

import static java.util.stream.Collectors.joining;

import dev.imagegen.GenerationCancelledException;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageFormat;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.provider.huggingface.HuggingFaceWire.ErrorBody;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageBytes;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.ProviderSupport;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * The calls of one generation: one synchronous {@code POST} per image, at most
 * {@code parallel-calls} at once, each answered with the raw image bytes; a model that answers 503
 * "loading" is waited for ({@link GenerationContext#delay}: no thread held, ended by a cancel) when the estimate fits
 * {@code max-loading-wait}, {@code max-loading-retries} and the deadline, else the call fails over
 * at once carrying the estimate as {@code retryAfter}. Immutable and thread-safe.
 */
final class HuggingFaceCalls {
  /** Config key: the organisation billed, sent as {@code X-HF-Bill-To}. */
  static final String BILL_TO = "bill-to";
  /** Config key: calls in flight at once for one request of several images. */
  static final String PARALLEL_CALLS = "parallel-calls";
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

  /**
   * What one request sends: the model, the URL, one body per image.
   *
   * @param model the repo id
   * @param uri where each call goes
   * @param accept the {@code Accept} header
   * @param shots one per image
   * @param warnings what the result reports
   */
  record Plan(String model, URI uri, String accept, List<Shot> shots, List<String> warnings) {}

  /**
   * One call: one image.
   *
   * @param seed the image's seed, or null
   * @param body the request body
   */
  record Shot(@Nullable Long seed, HuggingFaceWire.TextToImage body) {}

  /** One call's image and what HF reported about it. */
  private record ShotResult(GeneratedImage image, @Nullable Double computeSeconds, @Nullable String computeType,
      Duration loadingWait, int loadingWaits, @Nullable Duration lastEstimate) {}

  private final String id;
  private final HttpImageProvider provider;
  private final @Nullable URI dedicatedEndpoint;
  private final @Nullable String billTo;
  private final int parallel;
  private final Duration maxLoadingWait;
  private final int maxLoadingRetries;

  /**
   * Reads the call settings.
   *
   * @param config the provider's configuration
   * @param provider builds the calls' requests, with the token when there is one
   * @param dedicatedEndpoint the endpoint, when {@code base-url} is a dedicated one (reported in the metadata)
   */
  HuggingFaceCalls(ProviderConfig config, HttpImageProvider provider, @Nullable URI dedicatedEndpoint) {
    this.id = config.providerId();
    this.provider = provider;
    this.dedicatedEndpoint = dedicatedEndpoint;
    this.billTo = config.get(BILL_TO).orElse(null);
    this.parallel = config.intValue(PARALLEL_CALLS, 2, 1, 8);
    this.maxLoadingWait = config.duration(MAX_LOADING_WAIT, Duration.ofMinutes(5), Duration.ZERO, Duration.ofDays(1));
    this.maxLoadingRetries = config.intValue(MAX_LOADING_RETRIES, 3, 0, Integer.MAX_VALUE);
  }

  /** Runs a plan's calls, at most {@code parallel} at once; stops starting calls after a failure. */
  CompletableFuture<ProviderResult> run(Plan plan, GenerationContext ctx) {
    int n = plan.shots().size();
    ShotResult[] results = new ShotResult[n];
    Throwable[] errors = new Throwable[n];
    AtomicInteger next = new AtomicInteger();
    AtomicBoolean failed = new AtomicBoolean();
    List<CompletableFuture<Void>> workers = new ArrayList<>();
    for (int k = 0; k < Math.min(parallel, n); k++) {
      workers.add(work(plan, ctx, next, failed, results, errors));
    }
    // no cancel hook completes this future: the service owns the outcome of a cancelled or timed-out
    // attempt, and an HTTP call in flight or a loading wait ends on its own (within the deadline)
    return CompletableFuture.allOf(workers.toArray(CompletableFuture[]::new)).thenCompose(v -> finish(plan, results, errors));
  }

  /** One worker: takes the next image until none is left, one failed or the attempt is cancelled. */
  private CompletableFuture<Void> work(Plan plan, GenerationContext ctx, AtomicInteger next, AtomicBoolean failed,
      @Nullable ShotResult[] results, @Nullable Throwable[] errors) {
    int i = next.getAndIncrement();
    if (i >= results.length || failed.get() || ctx.isCancelled()) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<ShotResult> f;
    try {
      f = shoot(ctx, plan, plan.shots().get(i), 0, Duration.ZERO, null);
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    return f.handle((r, e) -> {
      if (e != null) {
        errors[i] = ProviderSupport.unwrap(e);
        failed.set(true);
      } else {
        results[i] = r;
      }
      return null;
    }).thenCompose(v -> work(plan, ctx, next, failed, results, errors));
  }

  private CompletableFuture<ProviderResult> finish(Plan plan, @Nullable ShotResult[] results, @Nullable Throwable[] errors) {
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
      return CompletableFuture.failedFuture(firstError != null ? firstError
          : new GenerationCancelledException("no image requested before the attempt ended", id));
    }
    ProviderResult.Builder b = ProviderResult.builder(plan.model()).metadata("hf_model", plan.model())
        .metadata("hf_endpoint", dedicatedEndpoint);
    plan.warnings().forEach(b::warning);
    ok.forEach(r -> b.image(r.image()));
    if (ok.stream().allMatch(r -> r.computeSeconds() != null)) {
      double compute = ok.stream().mapToDouble(ShotResult::computeSeconds).sum();
      b.gpuSeconds(compute);
      b.runTime(Duration.ofMillis((long) (compute * 1000)));
      b.metadata("compute_time_seconds", String.format(Locale.ROOT, "%.3f", compute));
    }
    String types = ok.stream().map(ShotResult::computeType).filter(Objects::nonNull).distinct().collect(joining(","));
    b.metadata("compute_type", types.isEmpty() ? null : types);
    String seeds = ok.stream().map(r -> r.image().seed()).filter(Objects::nonNull).map(String::valueOf).collect(joining(","));
    b.metadata("seeds", seeds.isEmpty() ? null : seeds);
    int waits = ok.stream().mapToInt(ShotResult::loadingWaits).sum();
    if (waits > 0) {
      Duration waited = ok.stream().map(ShotResult::loadingWait).reduce(Duration.ZERO, Duration::plus);
      Duration estimate = ok.stream().map(ShotResult::lastEstimate).filter(Objects::nonNull).reduce((x, y) -> y).orElse(null);
      String est = estimate == null ? "no estimate given" : "estimated_time " + HuggingFaceErrors.seconds(estimate) + " s";
      b.metadata("loading_waits", waits);
      b.metadata("loading_wait_seconds", HuggingFaceErrors.seconds(waited));
      b.metadata("loading_estimated_time_seconds", estimate == null ? null : HuggingFaceErrors.seconds(estimate));
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
    return CompletableFuture.completedFuture(b.build());
  }

  /** One call for one image; waits out a loading model when that fits. */
  private CompletableFuture<ShotResult> shoot(GenerationContext ctx, Plan plan, Shot shot, int loadingWaits, Duration waited,
      @Nullable Duration lastEstimate) {
    if (ctx.isCancelled()) {
      return CompletableFuture.failedFuture(new GenerationCancelledException("cancelled before calling Hugging Face", id));
    }
    HttpRequest.Builder req = provider.request(ctx, plan.uri())
        .setHeader("Accept", plan.accept())
        .header("Content-Type", "application/json")
        .POST(ctx.http().jsonBody(shot.body()));
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
      return CompletableFuture.failedFuture(ProviderUnavailableException.builder(what + refusal + "; not waiting, failing over",
          id).retryAfter(est).build());
    }
    ctx.log().info("model {} is loading ({}); waiting {} s and calling again", plan.model(), estText,
        HuggingFaceErrors.seconds(wait));
    ctx.progress(new ProgressEvent(id, ProgressEvent.Stage.QUEUED, null, null, wait,
        "model " + plan.model() + " loading, waiting " + HuggingFaceErrors.seconds(wait) + " s", Instant.now()));
    // the wait ends at once when the attempt is cancelled; the call after it is then not made
    return ctx.delay(wait).thenCompose(v -> shoot(ctx, plan, shot, loadingWaits + 1, waited.plus(wait), est));
  }

  /** A 2xx answer: raw image bytes, checked by Content-Type and magic bytes. */
  private CompletableFuture<ShotResult> read(GenerationContext ctx, Shot shot, HttpResult r, int loadingWaits, Duration waited,
      @Nullable Duration lastEstimate) {
    byte[] bytes = r.body();
    String type = Optional.ofNullable(r.header("Content-Type")).orElse("none");
    if (bytes.length == 0) {
      throw new CompletionException(ProviderUnavailableException.outcomeUnknown("answered HTTP " + r.status()
          + " with an empty body instead of an image (Content-Type " + type + "); the image may have been billed", id, null));
    }
    ImageFormat format = ImageFormat.sniff(bytes);
    if (format == null) {
      String start = new String(bytes, 0, Math.min(bytes.length, 16), StandardCharsets.UTF_8).strip();
      boolean json = type.toLowerCase(Locale.ROOT).contains("json") || start.startsWith("{") || start.startsWith("[");
      String text = json ? ErrorBody.of(r, ctx.json()).message() : "";
      String msg = json ? "answered HTTP " + r.status() + " with JSON instead of an image" + (text.isEmpty() ? "" : ": " + text)
          : "answered HTTP " + r.status() + " with " + bytes.length + " bytes that are not a PNG, JPEG or WebP image "
              + "(Content-Type " + type + ")";
      String clean = ctx.redactor().redact(msg);
      throw new CompletionException(ProviderUnavailableException.outcomeUnknown(clean == null ? msg : clean, id, null));
    }
    Double compute = parseSeconds(r.header("x-compute-time"));
    String computeType = r.header("x-compute-type");
    // the downloader's inline path applies max-image-bytes and the magic-byte check, as for every provider
    return ctx.downloader().image(ImageBytes.dataUri(bytes, format.mediaType()), shot.seed(), false)
        .thenApply(image -> new ShotResult(image, compute, computeType, waited, loadingWaits, lastEstimate));
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
}
