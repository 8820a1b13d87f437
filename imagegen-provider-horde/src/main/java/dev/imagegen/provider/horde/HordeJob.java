package dev.imagegen.provider.horde;

import dev.imagegen.ContentPolicyException;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.RemoteJob;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * One Horde request being waited on: polls the lightweight {@code GET /generate/check/{id}},
 * reads {@code GET /generate/status/{id}} once when it is done and downloads every image at once
 * (the R2 links expire), and cancels with {@code DELETE /generate/status/{id}}. Polled by
 * {@link dev.imagegen.spi.JobPoller}, one poll at a time.
 */
final class HordeJob implements RemoteJob {
  private final HordeProvider provider;
  private final GenerationContext ctx;
  private final String id;
  private final HordeRequests.Prepared prepared;
  private final HordeWire.Submitted submitted;
  private final long submittedAt;
  private volatile long runningSince;

  HordeJob(HordeProvider provider, GenerationContext ctx, String id, HordeRequests.Prepared prepared,
      HordeWire.Submitted submitted, long submittedAt) {
    this.provider = provider;
    this.ctx = ctx;
    this.id = id;
    this.prepared = prepared;
    this.submitted = submitted;
    this.submittedAt = submittedAt;
  }

  @Override
  public String id() {
    return id;
  }

  @Override
  public CompletableFuture<PollResult> poll() {
    return ctx.http().json(provider.request(ctx, "/generate/check/" + id).GET().build(), HordeWire.Check.class)
        .thenCompose(c -> {
          if (c.faulted()) {
            return CompletableFuture.completedFuture(PollResult.failed(faulted(c.restarted())));
          }
          if (c.done()) {
            return fetchResult();
          }
          if (c.impossible()) {
            // it would only wait: delete it so it never runs (and spends kudos) after we have gone elsewhere
            return cancel().handle((x, e) -> PollResult.failed(new ProviderUnavailableException("no worker can serve request "
                + id + " for model '" + prepared.model() + "' (is_possible false); the request was deleted", ctx.providerId(),
                false, false, null, null)));
          }
          return CompletableFuture.completedFuture(PollResult.pending(progress(c)));
        });
  }

  @Override
  public CompletableFuture<?> cancel() {
    return ctx.http().call(provider.request(ctx, "/generate/status/" + id).DELETE().build());
  }

  private ProgressEvent progress(HordeWire.Check c) {
    boolean running = c.processing() > 0 || c.finished() > 0;
    if (running && runningSince == 0) {
      runningSince = System.nanoTime();
    }
    Duration eta = c.waitTime() == null ? null : Duration.ofSeconds(Math.max(0, c.waitTime()));
    String message = "waiting " + c.waiting() + ", processing " + c.processing() + ", finished " + c.finished()
        + (c.restarted() > 0 ? ", restarted " + c.restarted() : "");
    if (running) {
      double percent = Math.min(100.0, 100.0 * c.finished() / Math.max(1, prepared.images()));
      return new ProgressEvent(ctx.providerId(), ProgressEvent.Stage.RUNNING, null, percent, eta, message, Instant.now());
    }
    return new ProgressEvent(ctx.providerId(), ProgressEvent.Stage.QUEUED, c.queuePosition(), null, eta, message, Instant.now());
  }

  private ProviderUnavailableException faulted(int restarted) {
    return new ProviderUnavailableException("request " + id + " faulted on the Horde (restarted " + restarted
        + " times)", ctx.providerId(), false, false, null, null);
  }

  private CompletableFuture<PollResult> fetchResult() {
    long doneAt = System.nanoTime();
    return ctx.http().json(provider.request(ctx, "/generate/status/" + id).GET().build(), HordeWire.Status.class)
        .thenCompose(s -> {
          if (s.faulted()) {
            return CompletableFuture.completedFuture(PollResult.failed(faulted(s.restarted())));
          }
          List<HordeWire.Generation> gens = s.generations() == null ? List.of() : s.generations();
          if (gens.isEmpty()) {
            return CompletableFuture.completedFuture(PollResult.failed(new ProviderUnavailableException("request " + id
                + " finished without images", ctx.providerId(), false, false, null, null)));
          }
          List<HordeWire.Generation> censored = gens.stream().filter(HordeWire.Generation::censored).toList();
          if (censored.size() == gens.size()) {
            return CompletableFuture.completedFuture(PollResult.failed(new ContentPolicyException("every image of request "
                + id + " was censored by the Horde (" + censorship(censored) + ")", ctx.providerId())));
          }
          for (HordeWire.Generation g : gens) {
            if (g.img() == null || g.img().isBlank()) {
              return CompletableFuture.completedFuture(PollResult.failed(new ProviderUnavailableException("generation "
                  + g.id() + " of request " + id + " has no image", ctx.providerId(), false, false, null, null)));
            }
          }
          return download(s, gens, censored, doneAt);
        });
  }

  private CompletableFuture<PollResult> download(HordeWire.Status s, List<HordeWire.Generation> gens,
      List<HordeWire.Generation> censored, long doneAt) {
    ctx.progress(ProgressEvent.of(ctx.providerId(), ProgressEvent.Stage.DOWNLOADING));
    long t0 = System.nanoTime();
    List<CompletableFuture<GeneratedImage>> images = new ArrayList<>();
    for (HordeWire.Generation g : gens) {
      images.add(ctx.downloader().image(g.img(), seed(g.seed()), g.censored()));
    }
    return CompletableFuture.allOf(images.toArray(new CompletableFuture<?>[0])).thenApply(v -> {
      String model = gens.get(0).model() != null ? gens.get(0).model() : prepared.model();
      ProviderResult.Builder b = ProviderResult.builder(model).remoteJobId(id)
          .downloadTime(Duration.ofNanos(System.nanoTime() - t0));
      images.forEach(f -> b.image(f.join()));
      long running = runningSince;
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
    if (seed == null) {
      return null;
    }
    try {
      return Long.parseLong(seed.strip());
    } catch (NumberFormatException e) {
      return null; // the Horde takes any text as a seed
    }
  }

  private static String censorship(List<HordeWire.Generation> censored) {
    Set<String> why = new TreeSet<>();
    for (HordeWire.Generation g : censored) {
      if (g.genMetadata() != null) {
        for (HordeWire.GenMetadata m : g.genMetadata()) {
          if ("censorship".equals(m.type()) && m.value() != null) {
            why.add(m.value());
          }
        }
      }
    }
    return "censorship: " + (why.isEmpty() ? "unspecified" : String.join(", ", why));
  }

  private static @Nullable String join(List<@Nullable String> values) {
    Set<String> distinct = new LinkedHashSet<>();
    for (String v : values) {
      if (v != null && !v.isBlank()) {
        distinct.add(v);
      }
    }
    return distinct.isEmpty() ? null : String.join(",", distinct);
  }
}
