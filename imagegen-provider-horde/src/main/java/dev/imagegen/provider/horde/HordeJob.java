package dev.imagegen.provider.horde;

import dev.imagegen.ContentPolicyException;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageDownloader.Source;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.RemoteJob;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * One Horde request being waited on: polls the lightweight {@code GET /generate/check/{id}},
 * reads {@code GET /generate/status/{id}} once when it is done and downloads every image at once
 * (the R2 links expire), and cancels with {@code DELETE /generate/status/{id}}. Polled by
 * {@link dev.imagegen.spi.JobPoller}, one poll at a time. {@code runningSince} is when a worker
 * was first seen on it (0 before).
 */
record HordeJob(HordeProvider provider, GenerationContext ctx, String id, HordeRequests.Prepared prepared,
    HordeWire.Submitted submitted, long submittedAt, AtomicLong runningSince) implements RemoteJob {

  @Override
  public CompletableFuture<PollResult> poll() {
    return provider.get(ctx, "/generate/check/" + id, HordeWire.Status.class).thenCompose(c -> {
      if (c.faulted()) {
        return CompletableFuture.completedFuture(PollResult.failed(faulted(c.restarted())));
      }
      if (c.done()) {
        return fetchResult();
      }
      if (c.impossible()) {
        // it would only wait: delete it so it never runs (and spends kudos) after we have gone elsewhere
        return cancel().handle((x, e) -> PollResult.failed(ProviderUnavailableException.failOver("no worker can serve "
            + "request " + id + " for model '" + prepared.model() + "' (is_possible false); the request was deleted",
            ctx.providerId(), null)));
      }
      return CompletableFuture.completedFuture(PollResult.pending(progress(c)));
    });
  }

  /** The journal handle of the request's model. */
  static final String MODEL_HANDLE = "model";
  /** The journal handle of the number of images asked for. */
  static final String IMAGES_HANDLE = "images";

  /** The model and the number of images, for the job journal: the request id alone finds the request. */
  @Override
  public java.util.Map<String, String> handles() {
    return java.util.Map.of(MODEL_HANDLE, prepared.model(), IMAGES_HANDLE, String.valueOf(prepared.images()));
  }

  @Override
  public CompletableFuture<?> cancel() {
    return ctx.http().call(provider.request(ctx, "/generate/status/" + id).DELETE().build());
  }

  private ProgressEvent progress(HordeWire.Status c) {
    boolean running = c.processing() > 0 || c.finished() > 0;
    if (running) {
      runningSince.compareAndSet(0, System.nanoTime());
    }
    Duration eta = c.waitTime() == null ? null : Duration.ofSeconds(Math.max(0, c.waitTime()));
    String message = "waiting " + c.waiting() + ", processing " + c.processing() + ", finished " + c.finished()
        + (c.restarted() > 0 ? ", restarted " + c.restarted() : "");
    Double percent = running ? Math.min(100.0, 100.0 * c.finished() / Math.max(1, prepared.images())) : null;
    return new ProgressEvent(ctx.providerId(), running ? ProgressEvent.Stage.RUNNING : ProgressEvent.Stage.QUEUED,
        running ? null : c.queuePosition(), percent, eta, message, Instant.now());
  }

  private ProviderUnavailableException faulted(int restarted) {
    return ProviderUnavailableException.failOver("request " + id + " faulted on the Horde (restarted " + restarted + " times)",
        ctx.providerId(), null);
  }

  private CompletableFuture<PollResult> fetchResult() {
    long doneAt = System.nanoTime();
    return provider.get(ctx, "/generate/status/" + id, HordeWire.Status.class).thenCompose(s -> {
      if (s.faulted()) {
        return CompletableFuture.completedFuture(PollResult.failed(faulted(s.restarted())));
      }
      List<HordeWire.Generation> gens = s.generations() == null ? List.of() : s.generations();
      if (gens.isEmpty()) {
        return CompletableFuture.completedFuture(PollResult.failed(ProviderUnavailableException.failOver("request " + id
            + " finished without images", ctx.providerId(), null)));
      }
      List<HordeWire.Generation> censored = gens.stream().filter(HordeWire.Generation::censored).toList();
      if (censored.size() == gens.size()) {
        return CompletableFuture.completedFuture(PollResult.failed(new ContentPolicyException("every image of request "
            + id + " was censored by the Horde (" + censorship(censored) + ")", ctx.providerId())));
      }
      return download(s, gens, censored, doneAt);
    });
  }

  private CompletableFuture<PollResult> download(HordeWire.Status s, List<HordeWire.Generation> gens,
      List<HordeWire.Generation> censored, long doneAt) {
    ctx.progress(ProgressEvent.of(ctx.providerId(), ProgressEvent.Stage.DOWNLOADING));
    List<Source> sources = gens.stream().map(g -> new Source(g.img(), seed(g.seed()), g.censored())).toList();
    return ctx.downloader().allOf(sources).thenApply(images -> {
      String model = gens.get(0).model() != null ? gens.get(0).model() : prepared.model();
      ProviderResult.Builder b = ProviderResult.builder(model).remoteJobId(id).downloadTime(images.took());
      images.images().forEach(b::image);
      long running = runningSince.get();
      if (running != 0) {
        b.queueTime(Duration.ofNanos(running - submittedAt)).runTime(Duration.ofNanos(doneAt - running));
      }
      b.metadata("horde-request-id", id)
          .metadata("kudos", s.kudos())
          .metadata("kudos-estimated", submitted.kudos())
          .metadata("workers", join(gens.stream().map(HordeWire.Generation::workerName).toList()))
          .metadata("worker-ids", join(gens.stream().map(HordeWire.Generation::workerId).toList()))
          .metadata("generation-ids", join(gens.stream().map(HordeWire.Generation::id).toList()));
      if (s.restarted() > 0) {
        b.metadata("restarted", s.restarted());
      }
      if (!censored.isEmpty()) {
        b.metadata("censored", censored.size());
        b.warning(censored.size() + " of " + gens.size() + " images were censored by the Horde (" + censorship(censored)
            + "); they are flagged nsfw");
      }
      for (String w : HordeProvider.warnings(submitted)) {
        b.warning(w);
      }
      return PollResult.done(b.build());
    });
  }

  private static @Nullable Long seed(@Nullable String seed) {
    try {
      return seed == null ? null : Long.valueOf(seed.strip());
    } catch (NumberFormatException e) {
      return null; // the Horde takes any text as a seed
    }
  }

  private static String censorship(List<HordeWire.Generation> censored) {
    Set<String> why = censored.stream().filter(g -> g.genMetadata() != null).flatMap(g -> g.genMetadata().stream())
        .filter(m -> "censorship".equals(m.type()) && m.value() != null).map(HordeWire.GenMetadata::value)
        .collect(Collectors.toCollection(TreeSet::new));
    return "censorship: " + (why.isEmpty() ? "unspecified" : String.join(", ", why));
  }

  private static @Nullable String join(List<@Nullable String> values) {
    List<String> distinct = values.stream().filter(v -> v != null && !v.isBlank()).distinct().toList();
    return distinct.isEmpty() ? null : String.join(",", distinct);
  }
}
