package dev.imagegen.provider.bfl;

import dev.imagegen.Cost;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.RemoteJob;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * One BFL task: polls its {@code polling_url} (when the key may go there, see {@link BflHosts};
 * else {@code /v1/get_result?id=} under the base URL) until a status other than {@code Pending},
 * then downloads {@code result.sample} at once (a signed URL valid about 10 minutes). BFL has no
 * cancel endpoint: {@link #cancel()} sends nothing and the task runs to its end, billed. Used by
 * one attempt; thread-safe.
 */
final class BflJob implements RemoteJob {
  private final BflProvider provider;
  private final GenerationContext ctx;
  private final String model;
  private final String taskId;
  private final URI pollUrl;
  private final @Nullable String refusedHost;
  private final @Nullable Cost reportedCost;
  private final BflWire.Submit submitted;
  private final @Nullable Long requestedSeed;
  private final List<String> warnings;
  private final Map<String, String> metadata;
  private final long submittedNanos = System.nanoTime();
  /** Whether a poll reported progress: the task is running. */
  private volatile boolean running;

  BflJob(BflProvider provider, GenerationContext ctx, String model, String taskId, BflWire.Submit submitted,
      @Nullable Long requestedSeed, List<String> warnings, Map<String, String> metadata) {
    this.provider = provider;
    this.ctx = ctx;
    this.model = model;
    this.taskId = taskId;
    this.submitted = submitted;
    URI trusted = provider.hosts().trusted(submitted.pollingUrl());
    URI fallback = provider.url("/v1/get_result?id=" + URLEncoder.encode(taskId, StandardCharsets.UTF_8));
    this.pollUrl = trusted != null ? trusted : fallback;
    URI returned = dev.imagegen.spi.ProviderSupport.httpUrl(submitted.pollingUrl());
    this.refusedHost = trusted == null && returned != null ? returned.getHost() : null;
    if (refusedHost != null) {
      ctx.log().warn("{}: task {} names polling host {}, which is not the base URL's nor in {}; the key is not sent there, "
          + "the task is polled at {} instead", provider.id(), taskId, refusedHost, BflProvider.POLLING_HOSTS, fallback);
    }
    this.reportedCost = BflPrices.reported(submitted.cost());
    this.requestedSeed = requestedSeed;
    this.warnings = List.copyOf(warnings);
    this.metadata = Map.copyOf(metadata);
  }

  /** Where this task is polled. */
  URI pollUrl() {
    return pollUrl;
  }

  @Override
  public String id() {
    return taskId;
  }

  @Override
  public CompletableFuture<PollResult> poll() {
    return ctx.http().json(provider.request(ctx, pollUrl).GET().build(), BflWire.Poll.class).thenCompose(p -> {
      String s = p.state();
      if (s.equals(BflWire.PENDING)) {
        Double pct = p.percent();
        if (pct != null) {
          running = true;
        }
        // a task that reported progress stays RUNNING (a later poll without progress is not a step back)
        return CompletableFuture.completedFuture(PollResult.pending(running ? ProgressEvent.running(provider.id(), pct, null)
            : ProgressEvent.queued(provider.id(), null, null)));
      }
      if (s.equals(BflWire.READY)) {
        return ready(p);
      }
      String because = java.util.Objects.requireNonNullElse(ctx.redactor().redact(BflWire.because(p)), "");
      return CompletableFuture.completedFuture(PollResult.failed(BflWire.ended(provider.id(), taskId, p, because)));
    });
  }

  private CompletableFuture<PollResult> ready(BflWire.Poll p) {
    long readyNanos = System.nanoTime();
    BflWire.Result r = p.result();
    String sample = r == null ? null : r.sample();
    if (r == null || sample == null || sample.isBlank()) {
      return CompletableFuture.completedFuture(PollResult.failed(ProviderUnavailableException.failOver("task " + taskId
          + " is Ready without result.sample", provider.id(), null)));
    }
    Long reportedSeed = r.seed();
    Long seed = reportedSeed != null ? reportedSeed : requestedSeed;
    ctx.progress(ProgressEvent.of(provider.id(), ProgressEvent.Stage.DOWNLOADING));
    // the signed URL expires in about 10 minutes: downloaded now, without the key
    return ctx.downloader().all(List.of(sample), seed).thenApply(d -> {
      ProviderResult.Builder b = ProviderResult.builder(model).remoteJobId(taskId).images(d.images())
          .reportedCost(reportedCost)
          .runTime(Duration.ofNanos(readyNanos - submittedNanos))
          .downloadTime(d.took())
          .metadata("task_id", taskId)
          .metadata("seed", seed)
          .metadata("credits", submitted.cost())
          .metadata("input_mp", submitted.inputMp())
          .metadata("output_mp", submitted.outputMp())
          .metadata("polling_host", pollUrl.getHost())
          .metadata("polling_host_refused", refusedHost);
      metadata.forEach(b::metadata);
      warnings.forEach(b::warning);
      return PollResult.done(b.build());
    });
  }

  /** BFL has no cancel endpoint: nothing is sent, the task runs to its end. */
  @Override
  public CompletableFuture<?> cancel() {
    return CompletableFuture.completedFuture("BFL has no cancel endpoint");
  }

  @Override
  public String toString() {
    return "BflJob[" + model + " " + taskId + "]";
  }
}
