package dev.imagegen.provider.fal;

import static java.util.Objects.requireNonNullElse;

import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ImageDownloader;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.ProviderSupport;
import dev.imagegen.spi.RemoteJob;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;

/**
 * One request in fal's queue: polls {@code status_url?logs=0} while it is queued ({@code IN_QUEUE}
 * with its position; a queued job has no logs, and {@code logs=1} would make fal send the whole log
 * on every read), {@code status_url?logs=1} once it runs ({@code IN_PROGRESS} with logs, for the
 * progress percent), until {@code COMPLETED}; then reads the result at {@code response_url}
 * and downloads the images; cancels with {@code PUT cancel_url}. The URLs are the ones the submit
 * returned (moved onto the configured base when they name another host), else built from the app's
 * {@code owner/alias}. A completed request whose result read fails is a failed run: fal has no
 * {@code FAILED} status. Used by one attempt; thread-safe.
 */
final class FalJob implements RemoteJob {
  private static final Pattern PERCENT = Pattern.compile("(\\d{1,3}(?:\\.\\d+)?)\\s*%");
  private static final Pattern STEPS = Pattern.compile("(\\d+)\\s*/\\s*(\\d+)");
  private static final Pattern REQUEST_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,127}");

  private final FalProvider provider;
  private final GenerationContext ctx;
  private final String appId;
  private final String requestId;
  // the URLs as text: a parsed URI keeps its scheme, host, path and authority as strings of their
  // own (about 400 bytes each); a pending job only needs them when it calls, and the job journal
  // shares these very strings as its handles
  private final String statusUrl;
  private final String responseUrl;
  private final String cancelUrl;
  private final @Nullable Long requestedSeed;
  private final List<String> warnings;
  private final Map<String, String> metadata;
  private final long submittedNanos = System.nanoTime();
  private volatile long runningNanos;

  FalJob(FalProvider provider, GenerationContext ctx, URI base, String appId, String requestId, FalWire.Submit submitted,
      @Nullable Long requestedSeed, List<String> warnings, Map<String, String> metadata) {
    this.provider = provider;
    this.ctx = ctx;
    this.appId = appId;
    this.requestId = requestId;
    this.statusUrl = requireNonNullElse(onBase(base, submitted.statusUrl()), requestUrl(base, appId, requestId, "/status"))
        .toString();
    this.responseUrl = requireNonNullElse(onBase(base, submitted.responseUrl()), requestUrl(base, appId, requestId, ""))
        .toString();
    this.cancelUrl = requireNonNullElse(onBase(base, submitted.cancelUrl()), requestUrl(base, appId, requestId, "/cancel"))
        .toString();
    this.requestedSeed = requestedSeed;
    this.warnings = List.copyOf(warnings);
    this.metadata = Map.copyOf(metadata);
  }

  @Override
  public String id() {
    return requestId;
  }

  @Override
  public CompletableFuture<PollResult> poll() {
    HttpRequest req = provider.request(ctx, withLogs(statusUrl, runningNanos != 0)).GET().build();
    return ctx.http().json(req, FalWire.Status.class).thenCompose(st -> {
      String s = st.status() == null ? "" : st.status().strip().toUpperCase(Locale.ROOT);
      if (s.equals("COMPLETED")) {
        return result(st);
      }
      if (s.equals("IN_PROGRESS") && runningNanos == 0) {
        runningNanos = System.nanoTime();
      }
      String id = provider.id();
      String log = st.lastLog();
      return CompletableFuture.completedFuture(switch (s) {
        case "IN_QUEUE" -> PollResult.pending(ProgressEvent.queued(id, st.queuePosition(), null));
        case "IN_PROGRESS" -> PollResult.pending(new ProgressEvent(id, ProgressEvent.Stage.RUNNING, null, percent(log), null,
            log == null ? null : ProviderSupport.clip(log, 200), Instant.now()));
        default -> PollResult.failed(ProviderUnavailableException.failOver("request " + requestId + " has an unknown status '"
            + ProviderSupport.clip(String.valueOf(st.status()), 200) + "'", id, null));
      });
    });
  }

  /**
   * Follows {@code GET {status_url}/stream} (server-sent events of the same status objects, fal's
   * {@code streamStatus}) while there is room ({@code status-streams}): an event whose status is
   * {@code COMPLETED} makes the wait poll at once, so a request that is done is seen within a
   * round trip instead of at the next poll. Nothing in the stream is taken as the result. A stream
   * that cannot open, fails or ends leaves the request to its polls.
   */
  @Override
  public @Nullable AutoCloseable watch(Runnable changed) {
    if (!provider.takeStatusStream()) {
      return null;
    }
    CompletableFuture<Integer> stream;
    try {
      HttpRequest req = provider.request(ctx, withLogs(streamUrl(statusUrl), false))
          .setHeader("Accept", "text/event-stream").GET().build();
      stream = ctx.http().events(req, data -> {
        if (completed(data)) {
          changed.run();
        }
      });
    } catch (RuntimeException e) {
      provider.releaseStatusStream();
      return null;
    }
    stream.whenComplete((status, e) -> provider.releaseStatusStream());
    return () -> stream.cancel(true);
  }

  /** {@code status_url} with {@code /stream} after its path. */
  static String streamUrl(String status) {
    int q = status.indexOf('?');
    return q < 0 ? status + "/stream" : status.substring(0, q) + "/stream" + status.substring(q);
  }

  /** Whether an event's data is a status object saying {@code COMPLETED}. */
  private boolean completed(String data) {
    try {
      String s = ctx.json().readTree(data).path("status").asText("");
      return s.strip().equalsIgnoreCase("COMPLETED");
    } catch (java.io.IOException | RuntimeException e) {
      return false; // not a status object: the polls decide
    }
  }

  /** The journal handle of the app id. */
  static final String APP_HANDLE = "app";
  /** The journal handle of {@code status_url}. */
  static final String STATUS_HANDLE = "status";
  /** The journal handle of {@code response_url}. */
  static final String RESPONSE_HANDLE = "response";
  /** The journal handle of {@code cancel_url}. */
  static final String CANCEL_HANDLE = "cancel";

  /** The app id and the three queue URLs (already on the configured base), for the job journal. */
  @Override
  public Map<String, String> handles() {
    return Map.of(APP_HANDLE, appId, STATUS_HANDLE, statusUrl, RESPONSE_HANDLE, responseUrl, CANCEL_HANDLE, cancelUrl);
  }

  @Override
  public CompletableFuture<?> cancel() {
    return cancel(provider, ctx, URI.create(cancelUrl));
  }

  /**
   * {@code PUT cancel_url}: 2xx ({@code OK}, {@code CANCELLATION_REQUESTED}), 400
   * {@code ALREADY_COMPLETED} and 404 {@code NOT_FOUND} leave nothing to cancel; anything else fails.
   */
  static CompletableFuture<String> cancel(FalProvider provider, ProviderContext ctx, URI cancelUrl) {
    ProviderHttp http = ctx.http();
    HttpRequest req = provider.request(ctx, cancelUrl).PUT(HttpRequest.BodyPublishers.noBody()).build();
    return http.send(req, ProviderHttp.MAX_API_BODY_BYTES).thenApply(r -> {
      // 2xx: OK / CANCELLATION_REQUESTED; 400 ALREADY_COMPLETED and 404 NOT_FOUND leave nothing to cancel
      if (r.isSuccess() || r.status() == 400 || r.status() == 404) {
        var json = r.jsonOrNull(ctx.json());
        return json == null ? "HTTP " + r.status() : json.path("status").asText("HTTP " + r.status());
      }
      throw new CompletionException(http.mapError(r));
    });
  }

  private CompletableFuture<PollResult> result(FalWire.Status st) {
    long completedNanos = System.nanoTime();
    ProviderHttp http = ctx.http();
    HttpRequest req = provider.request(ctx, URI.create(responseUrl)).GET().build();
    return http.send(req, ProviderHttp.MAX_API_BODY_BYTES).thenCompose(r -> {
      if (!r.isSuccess()) {
        ImageGenerationException e = http.mapError(r);
        // a 4xx other than 408/429 is never retryable: only a hiccup without fal's error is read again
        boolean runFailed = st.error() != null || FalWire.errorType(r, r.jsonOrNull(ctx.json())) != null;
        if (!runFailed && e.retryMayHelp()) {
          throw new CompletionException(e); // a hiccup reading the result: the poller reads again
        }
        return CompletableFuture.completedFuture(PollResult.failed(e));
      }
      FalWire.Result res = http.parse(r, FalWire.Result.class);
      List<FalWire.Image> images = res.images() == null ? List.of() : res.images();
      if (images.isEmpty()) {
        String error = st.error();
        ImageGenerationException e = error != null ? FalWire.runFailed(provider.id(), requestId, error, st.errorType())
            : ProviderUnavailableException.failOver("request " + requestId + " completed without images"
                + (res.description() == null ? "" : "; the model said: " + ProviderSupport.clip(res.description(), 200)),
                provider.id(), null);
        return CompletableFuture.completedFuture(PollResult.failed(e));
      }
      return download(res, images, st, completedNanos).thenApply(PollResult::done);
    });
  }

  private CompletableFuture<ProviderResult> download(FalWire.Result res, List<FalWire.Image> images, FalWire.Status st,
      long completedNanos) {
    ctx.progress(ProgressEvent.of(provider.id(), ProgressEvent.Stage.DOWNLOADING));
    Long seed = res.seed();
    List<ImageDownloader.Source> sources = IntStream.range(0, images.size()).mapToObj(i -> new ImageDownloader.Source(
        images.get(i) == null ? null : images.get(i).url(), seed, res.nsfw(i))).toList();
    return ctx.downloader().allOf(sources).thenApply(downloaded -> {
      ProviderResult.Builder b = ProviderResult.builder(appId).remoteJobId(requestId);
      downloaded.images().forEach(b::image);
      long running = runningNanos;
      b.queueTime(Duration.ofNanos((running != 0 ? running : completedNanos) - submittedNanos));
      Double inference = st.metrics() != null && st.metrics().inferenceTime() != null ? st.metrics().inferenceTime()
          : res.timings() != null ? res.timings().inference() : null;
      if (inference != null && inference >= 0) {
        b.runTime(Duration.ofMillis(Math.round(inference * 1000)));
        b.metadata("inference_time", inference);
      } else if (running != 0) {
        b.runTime(Duration.ofNanos(completedNanos - running));
      }
      b.downloadTime(downloaded.took());
      b.metadata("request_id", requestId);
      b.metadata("seed", seed != null ? seed : requestedSeed);
      b.metadata("description", res.description());
      metadata.forEach(b::metadata);
      warnings.forEach(b::warning);
      long flagged = downloaded.images().stream().filter(GeneratedImage::nsfw).count();
      if (flagged > 0) {
        b.warning(flagged + " of " + images.size() + " images flagged by fal's safety checker (has_nsfw_concepts)");
      }
      return b.build();
    });
  }

  /**
   * Whether a request id from fal is safe to put in a URL path.
   *
   * @param id the id
   */
  static boolean isSafeRequestId(String id) {
    return REQUEST_ID.matcher(id).matches();
  }

  /**
   * The submit URL: the queue base plus the full app id.
   *
   * @param base the queue base URL
   * @param appId the app id
   */
  static URI submitUrl(URI base, String appId) {
    return ProviderHttp.join(base, appId);
  }

  /**
   * A request's URL built from the app id: {@code base/[namespace/]owner/alias/requests/{id}} plus
   * a suffix ({@code ""}, {@code "/status"}, {@code "/cancel"}).
   *
   * @param base the queue base URL
   * @param appId the app id (any sub-path is dropped)
   * @param requestId the request id
   * @param suffix what follows the id
   */
  static URI requestUrl(URI base, String appId, String requestId, String suffix) {
    return ProviderHttp.join(base, FalModels.rootId(appId) + "/requests/" + requestId + suffix);
  }

  /**
   * A URL fal returned ({@code status_url}, {@code response_url}, {@code cancel_url}), made safe to
   * call with the key: kept as it is when it lies on the configured queue host; otherwise its path
   * is moved onto the configured base (a proxy or a sandbox stands in for fal's host), so the key
   * never goes to a host nobody configured. Null when the value is missing or not an http(s) URL.
   *
   * @param base the queue base URL
   * @param returned what fal returned, or null
   */
  static @Nullable URI onBase(URI base, @Nullable String returned) {
    URI u = ProviderSupport.httpUrl(returned);
    if (u == null || u.getRawPath() == null) {
      return null;
    }
    if (ProviderSupport.sameOrigin(u, base)) {
      return u;
    }
    String path = u.getRawPath();
    String basePath = base.getRawPath() == null ? "" : base.getRawPath().replaceAll("/+$", "");
    if (!basePath.isEmpty() && path.startsWith(basePath + "/")) {
      path = path.substring(basePath.length()); // already carries the base's path
    }
    return ProviderHttp.join(base, path + (u.getRawQuery() == null ? "" : "?" + u.getRawQuery()));
  }

  private static URI withLogs(String status, boolean running) {
    return URI.create(status.contains("logs=") ? status
        : status + (status.indexOf('?') < 0 ? "?" : "&") + (running ? "logs=1" : "logs=0"));
  }

  private static @Nullable Double percent(@Nullable String log) {
    if (log == null) {
      return null;
    }
    Matcher m = PERCENT.matcher(log);
    if (m.find()) {
      double p = Double.parseDouble(m.group(1));
      return p <= 100 ? p : null;
    }
    m = STEPS.matcher(log);
    if (m.find()) {
      try {
        long n = Long.parseLong(m.group(1));
        long total = Long.parseLong(m.group(2));
        return total > 0 && n <= total ? 100.0 * n / total : null;
      } catch (NumberFormatException e) {
        return null;
      }
    }
    return null;
  }

  @Override
  public String toString() {
    return "FalJob[" + appId + " " + requestId + "]";
  }
}
