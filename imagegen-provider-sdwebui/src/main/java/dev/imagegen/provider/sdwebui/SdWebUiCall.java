package dev.imagegen.provider.sdwebui;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ProgressEvent;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageDownloader.Source;
import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.ProviderSupport;
import dev.imagegen.spi.RemoteJob;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;

/**
 * One generation call: the blocking {@code POST /sdapi/v1/txt2img} (or {@code img2img}) and, while
 * it is in flight, {@code GET /sdapi/v1/progress} polled on the shared scheduler and reported as
 * RUNNING progress. Cancelling the attempt (caller, deadline, shutdown) sends
 * {@code POST /sdapi/v1/interrupt}, which makes the POST return early; the WebUI has no job id, so
 * the id is our {@code force_task_id}. The POST's timeout is the request's remaining time (capped
 * by {@code timeout}, default 10 min): a busy WebUI queues, and waiting is not a failure until the
 * deadline. Polled by {@link dev.imagegen.spi.JobPoller}, one poll at a time.
 */
final class SdWebUiCall implements RemoteJob {
  /** Progress is cheap and lock-free; once a second is plenty, never more often than 5 times a second. */
  static final PollPolicy PROGRESS_POLICY = PollPolicy.every(Duration.ofSeconds(1), Duration.ofMillis(200));
  private static final Duration DEADLINE_MARGIN = Duration.ofSeconds(1);

  private final SdWebUiProvider provider;
  private final ImageGenerationRequest request;
  private final GenerationContext ctx;
  private final SdWebUiMapping.Plan plan;
  private final SdWebUiCatalog.Snapshot known;
  /** The POST's outcome; set by {@link #send} before the first poll. */
  private volatile CompletableFuture<ProviderResult> outcome = new CompletableFuture<>();
  private volatile double percent;

  SdWebUiCall(SdWebUiProvider provider, ImageGenerationRequest request, GenerationContext ctx, SdWebUiMapping.Plan plan,
      SdWebUiCatalog.Snapshot known) {
    this.provider = provider;
    this.request = request;
    this.ctx = ctx;
    this.plan = plan;
    this.known = known;
  }

  /**
   * Sends the POST and waits for it, polling progress meanwhile.
   *
   * @param init the init image as bare base64 (img2img), or null (txt2img)
   * @param mask the mask as bare base64, or null
   */
  CompletableFuture<ProviderResult> send(@Nullable String init, @Nullable String mask) {
    ObjectNode body = ctx.json().valueToTree(plan.body());
    if (init != null) {
      body.set("init_images", body.arrayNode().add(init));
      if (mask != null) {
        body.put("mask", mask);
      }
    }
    ProviderSupport.mergeOptions(body, plan.extra(), ctx.json());
    HttpRequest post = provider.request(ctx, init != null ? SdWebUiProvider.IMG2IMG : SdWebUiProvider.TXT2IMG)
        .timeout(generationTimeout())
        .header("Content-Type", "application/json")
        .POST(ctx.http().jsonBody(body))
        .build();
    long t0 = System.nanoTime();
    CompletableFuture<HttpResult> sent = ctx.http().call(post, request.numImages());
    ctx.progress(ProgressEvent.of(provider.id(), ProgressEvent.Stage.SUBMITTED));
    outcome = sent.thenCompose(r -> result(r, Duration.ofNanos(System.nanoTime() - t0)));
    CompletableFuture<ProviderResult> waiting = ctx.await(this, PROGRESS_POLICY.withConfig(ctx.config()));
    outcome.whenComplete((r, e) -> {
      if (e != null) {
        waiting.completeExceptionally(ProviderSupport.unwrap(e));
      } else {
        waiting.complete(r);
      }
    });
    return waiting;
  }

  /** Our {@code force_task_id}. */
  @Override
  public String id() {
    return Objects.requireNonNull(plan.body().forceTaskId()); // every call sets one
  }

  @Override
  public CompletableFuture<PollResult> poll() {
    if (outcome.isDone()) {
      return outcome.handle((r, e) -> e == null ? PollResult.done(r)
          : PollResult.failed(ProviderSupport.failure(provider.id(), e)));
    }
    // progress problems never fail the generation: the POST decides
    return provider.progress(ctx).handle((p, e) -> {
      if (e != null || p == null || !p.busy() || outcome.isDone()) {
        return PollResult.pending(null);
      }
      double pct = Math.max(percent, Math.min(100.0, Math.max(0.0, p.progress() == null ? 0.0 : p.progress() * 100.0)));
      percent = pct;
      Duration eta = p.etaRelative() != null && p.etaRelative() > 0 && Double.isFinite(p.etaRelative())
          ? Duration.ofMillis((long) (p.etaRelative() * 1000)) : null;
      return PollResult.pending(ProgressEvent.running(provider.id(), pct, eta));
    });
  }

  @Override
  public CompletableFuture<?> cancel() {
    if (outcome.isDone()) {
      return CompletableFuture.completedFuture(null); // ours is over: never interrupt someone else's job
    }
    return provider.interrupt(ctx);
  }

  /**
   * The request's remaining time (plus a moment, so that the deadline, which interrupts the job,
   * comes first), capped by {@code timeout}: queueing behind other jobs is no failure until the
   * deadline.
   */
  private Duration generationTimeout() {
    Duration left = ctx.remaining().plus(DEADLINE_MARGIN);
    Duration t = left.compareTo(provider.settings.callTimeout) < 0 ? left : provider.settings.callTimeout;
    return t.compareTo(Duration.ofMillis(1)) < 0 ? Duration.ofMillis(1) : t;
  }

  private CompletableFuture<ProviderResult> result(HttpResult r, Duration runTime) {
    SdWebUiWire.Result res = ctx.http().parse(r, SdWebUiWire.Result.class);
    if (ctx.isCancelled()) {
      throw new CompletionException(new GenerationCancelledException("interrupted", provider.id()));
    }
    List<String> warnings = new ArrayList<>();
    SdWebUiWire.Info info = info(res.info(), warnings);
    List<String> images = res.images() == null ? List.of()
        : res.images().stream().filter(s -> s != null && !s.isBlank()).toList();
    int first = info != null && info.indexOfFirstImage() != null
        ? Math.max(0, Math.min(info.indexOfFirstImage(), images.size())) : 0;
    List<String> after = images.subList(first, Math.min(images.size(), first + request.numImages()));
    List<String> ours = after.isEmpty() ? images.subList(0, Math.min(images.size(), request.numImages())) : after;
    List<Source> sources = IntStream.range(0, ours.size()).mapToObj(i -> new Source(ours.get(i), seed(info, i), false)).toList();
    double seconds = processSeconds(r, runTime);
    String asked = plan.checkpoint();
    String used = info != null ? info.sdModelName() : null;
    if (asked != null && used != null && !SdWebUiMapping.sameModel(asked, used, known.models())) {
      warnings.add(provider.id() + ": asked for checkpoint '" + asked + "' but the WebUI used '" + used
          + "' (it ignores checkpoints it cannot load)");
    }
    ImageFormat wanted = request.outputFormat() == null ? null : ImageFormat.fromName(request.outputFormat());
    return ctx.downloader().allOf(sources).thenApply(decoded -> {
      ProviderResult.Builder b = ProviderResult.builder(used != null ? used : asked != null ? asked : "webui-current-checkpoint")
          .remoteJobId(id())
          .runTime(runTime)
          .gpuSeconds(seconds);
      for (GeneratedImage img : decoded.images()) {
        b.image(img);
        if (wanted != null && img.format() != wanted) {
          String w = provider.id() + ": returned " + img.mediaType() + " (the WebUI's samples_format), not the "
              + request.outputFormat() + " asked for";
          if (!warnings.contains(w)) {
            warnings.add(w);
          }
        }
      }
      if (info != null) {
        b.metadata("seed", info.seed()).metadata("sd_model_name", info.sdModelName())
            .metadata("sd_model_hash", info.sdModelHash()).metadata("sampler_name", info.samplerName())
            .metadata("webui_version", info.version());
      }
      b.metadata("task_id", id()).metadata("process_seconds", seconds);
      warnings.forEach(b::warning);
      return b.build();
    });
  }

  /** {@code info} is a JSON string holding another JSON document (quirk 1); some builds send the object itself. */
  private SdWebUiWire.@Nullable Info info(@Nullable JsonNode info, List<String> warnings) {
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
    warnings.add(provider.id() + ": the WebUI's info could not be read; the seeds used are unknown");
    return null;
  }

  /** The seed of image i: {@code all_seeds[i]}, else {@code seed + i}, else the request's seed + i. */
  private @Nullable Long seed(SdWebUiWire.@Nullable Info info, int i) {
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
    try {
      double d = h == null ? -1 : Double.parseDouble(h.strip());
      return d >= 0 && Double.isFinite(d) ? d : observed.toNanos() / 1e9;
    } catch (NumberFormatException e) {
      return observed.toNanos() / 1e9;
    }
  }
}
