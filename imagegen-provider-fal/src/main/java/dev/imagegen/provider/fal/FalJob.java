package dev.imagegen.provider.fal;

import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.RemoteJob;
import dev.imagegen.spi.Secret;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * One request in fal's queue: polls {@code status_url?logs=1} ({@code IN_QUEUE} with its position,
 * {@code IN_PROGRESS} with logs, {@code COMPLETED}), then reads the result at {@code response_url}
 * and downloads the images; cancels with {@code PUT cancel_url}. The URLs are the ones the submit
 * returned (moved onto the configured base when they name another host), else built from the app's
 * {@code owner/alias}. A completed request whose result read fails is a failed run: fal has no
 * {@code FAILED} status. Used by one attempt; thread-safe.
 */
final class FalJob implements RemoteJob {
  private static final Pattern PERCENT = Pattern.compile("(\\d{1,3}(?:\\.\\d+)?)\\s*%");
  private static final Pattern STEPS = Pattern.compile("(\\d+)\\s*/\\s*(\\d+)");

  private final String providerId;
  private final GenerationContext ctx;
  private final Secret key;
  private final String appId;
  private final String requestId;
  private final URI statusUrl;
  private final URI responseUrl;
  private final URI cancelUrl;
  private final @Nullable Long requestedSeed;
  private final List<String> warnings;
  private final Map<String, String> metadata;
  private final long submittedNanos = System.nanoTime();
  private volatile long runningNanos;

  FalJob(String providerId, GenerationContext ctx, Secret key, String appId, String requestId, URI statusUrl, URI responseUrl,
      URI cancelUrl, @Nullable Long requestedSeed, List<String> warnings, Map<String, String> metadata) {
    this.providerId = providerId;
    this.ctx = ctx;
    this.key = key;
    this.appId = appId;
    this.requestId = requestId;
    this.statusUrl = statusUrl;
    this.responseUrl = responseUrl;
    this.cancelUrl = cancelUrl;
    this.requestedSeed = requestedSeed;
    this.warnings = List.copyOf(warnings);
    this.metadata = Map.copyOf(metadata);
  }

  @Override
  public String id() {
    return requestId;
  }

  URI statusUrl() {
    return statusUrl;
  }

  URI responseUrl() {
    return responseUrl;
  }

  URI cancelUrl() {
    return cancelUrl;
  }

  @Override
  public CompletableFuture<PollResult> poll() {
    ProviderHttp http = ctx.http();
    HttpRequest req = http.request(withLogs(statusUrl)).header("Authorization", "Key " + key.reveal()).GET().build();
    return http.json(req, FalWire.Status.class).thenCompose(st -> {
      String s = st.status() == null ? "" : st.status().strip().toUpperCase(Locale.ROOT);
      switch (s) {
        case "IN_QUEUE":
          return CompletableFuture.completedFuture(PollResult.pending(ProgressEvent.queued(providerId, st.queuePosition(), null)));
        case "IN_PROGRESS":
          if (runningNanos == 0) {
            runningNanos = System.nanoTime();
          }
          String log = st.lastLog();
          return CompletableFuture.completedFuture(PollResult.pending(new ProgressEvent(providerId, ProgressEvent.Stage.RUNNING,
              null, percent(log), null, log == null ? null : clip(log), Instant.now())));
        case "COMPLETED":
          return result(st);
        default:
          return CompletableFuture.completedFuture(PollResult.failed(new ProviderUnavailableException("request " + requestId
              + " has an unknown status '" + clip(String.valueOf(st.status())) + "'", providerId, false, false, null, null)));
      }
    });
  }

  @Override
  public CompletableFuture<?> cancel() {
    ProviderHttp http = ctx.http();
    HttpRequest req = http.request(cancelUrl).header("Authorization", "Key " + key.reveal())
        .PUT(HttpRequest.BodyPublishers.noBody()).build();
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
    HttpRequest req = http.request(responseUrl).header("Authorization", "Key " + key.reveal()).GET().build();
    return http.send(req, ProviderHttp.MAX_API_BODY_BYTES).thenCompose(r -> {
      if (!r.isSuccess()) {
        ImageGenerationException e = http.mapError(r);
        boolean runFailed = st.error() != null || FalErrors.hasFalErrorType(r, ctx.json())
            || (r.status() >= 400 && r.status() < 500 && r.status() != 408 && r.status() != 429);
        if (!runFailed && e.retryMayHelp()) {
          throw new CompletionException(e); // a hiccup reading the result: the poller reads again
        }
        return CompletableFuture.completedFuture(PollResult.failed(e));
      }
      FalWire.Result res = http.parse(r, FalWire.Result.class);
      List<FalWire.Image> images = res.images() == null ? List.of() : res.images();
      if (images.isEmpty()) {
        String error = st.error();
        ImageGenerationException e = error != null ? FalErrors.runFailed(providerId, requestId, error, st.errorType())
            : new ProviderUnavailableException("request " + requestId + " completed without images"
                + (res.description() == null ? "" : "; the model said: " + clip(res.description())), providerId, false, false,
                null, null);
        return CompletableFuture.completedFuture(PollResult.failed(e));
      }
      return download(res, images, st, completedNanos).thenApply(PollResult::done);
    });
  }

  private CompletableFuture<ProviderResult> download(FalWire.Result res, List<FalWire.Image> images, FalWire.Status st,
      long completedNanos) {
    ctx.progress(ProgressEvent.of(providerId, ProgressEvent.Stage.DOWNLOADING));
    long t0 = System.nanoTime();
    Long seed = res.seed();
    List<CompletableFuture<GeneratedImage>> all = new ArrayList<>();
    for (int i = 0; i < images.size(); i++) {
      FalWire.Image img = images.get(i);
      if (img == null || img.url() == null || img.url().isBlank()) {
        all.add(CompletableFuture.failedFuture(new ProviderUnavailableException("result image " + (i + 1) + " of request "
            + requestId + " has no url", providerId, false, false, null, null)));
      } else {
        all.add(ctx.downloader().image(img.url().strip(), seed, res.nsfw(i)));
      }
    }
    return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0])).thenApply(v -> {
      long done = System.nanoTime();
      ProviderResult.Builder b = ProviderResult.builder(appId).remoteJobId(requestId);
      int flagged = 0;
      for (CompletableFuture<GeneratedImage> f : all) {
        GeneratedImage g = f.join();
        flagged += g.nsfw() ? 1 : 0;
        b.image(g);
      }
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
      b.downloadTime(Duration.ofNanos(done - t0));
      b.metadata("request_id", requestId);
      b.metadata("seed", seed != null ? seed : requestedSeed);
      b.metadata("description", res.description());
      metadata.forEach(b::metadata);
      warnings.forEach(b::warning);
      if (flagged > 0) {
        b.warning(flagged + " of " + images.size() + " images flagged by fal's safety checker (has_nsfw_concepts)");
      }
      return b.build();
    });
  }

  private static URI withLogs(URI status) {
    String s = status.toString();
    if (s.contains("logs=")) {
      return status;
    }
    return URI.create(s + (status.getRawQuery() == null ? "?" : "&") + "logs=1");
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

  private static String clip(String s) {
    String t = s.replaceAll("\\s+", " ").strip();
    return t.length() > 200 ? t.substring(0, 200) + "..." : t;
  }

  @Override
  public String toString() {
    return "FalJob[" + appId + " " + requestId + "]";
  }
}
