package dev.imagegen.internal;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.GenerationTimeoutException;
import dev.imagegen.JobJournal;
import dev.imagegen.ProgressEvent;
import dev.imagegen.RecoveredJob;
import dev.imagegen.RecoveryReport;
import dev.imagegen.RecoveryReport.Action;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageDownloader;
import dev.imagegen.spi.JobHandle;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Redactor;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * Recovery of the jobs a crashed process left in the journal. For each open entry owned by this
 * instance, or by an instance whose lease expired (and not in flight in this service): a provider
 * configured here that can resume it, before its deadline, polls it to its end (never submits),
 * the result goes to the recovery listener and the cache, and the budget records its cost;
 * otherwise a provider that can cancel by handles cancels it; otherwise it is left.
 */
final class Recovery {
  private final Engine engine;
  private final Map<String, ProviderSlot> slots;
  private final @Nullable ResponseCache cache;
  private final Set<ResumeContext> running = ConcurrentHashMap.newKeySet();
  /** Entries a recovery in progress is settling, by generation id and job id: a second recover() leaves them. */
  private final Set<String> settling = ConcurrentHashMap.newKeySet();

  Recovery(Engine engine, Map<String, ProviderSlot> slots, @Nullable ResponseCache cache) {
    this.engine = engine;
    this.slots = slots;
    this.cache = cache;
  }

  CompletableFuture<RecoveryReport> recover() {
    JobJournal journal = engine.settlement.journal();
    String me = engine.settings.instanceId;
    List<JobJournal.Entry> open;
    try {
      open = journal.open();
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    List<CompletableFuture<RecoveryReport.Item>> items = new ArrayList<>();
    Map<String, Boolean> live = new LinkedHashMap<>();
    for (JobJournal.Entry e : open) {
      String key = e.generationId() + '\u0000' + e.remoteJobId();
      if (!settling.add(key)) {
        items.add(done(engine.log, e, Action.LEFT, "being recovered already"));
        continue;
      }
      CompletableFuture<RecoveryReport.Item> item;
      try {
        item = one(journal, me, e, live);
      } catch (RuntimeException x) {
        item = CompletableFuture.failedFuture(x);
      }
      items.add(item.exceptionally(x -> new RecoveryReport.Item(e, Action.LEFT, "recovery failed: " + x))
          .whenComplete((i, x) -> settling.remove(key)));
    }
    return CompletableFuture.allOf(items.toArray(new CompletableFuture<?>[0]))
        .thenApply(v -> new RecoveryReport(items.stream().map(CompletableFuture::join).toList()));
  }

  private CompletableFuture<RecoveryReport.Item> one(JobJournal journal, String me, JobJournal.Entry e, Map<String, Boolean> live) {
    ProviderSlot slot = slots.get(e.provider());
    Logger log = slot != null ? slot.context.log() : engine.log;
    if (engine.settlement.isOpenHere(e.generationId(), e.remoteJobId())) {
      return done(log, e, Action.LEFT, "in flight in this service");
    }
    if (!e.owner().equals(me) && live.computeIfAbsent(e.owner(), journal::leaseLive)) {
      return done(log, e, Action.LEFT, "owned by instance " + e.owner() + ", whose lease is live");
    }
    if (slot == null) {
      return done(log, e, Action.LEFT, "provider " + e.provider() + " is not configured here");
    }
    JobJournal.Entry mine = e.ownedBy(me);
    if (!e.owner().equals(me) && !journal.adopt(e, me)) { // adopted: the entry is ours now, kept alive by our lease
      return done(log, e, Action.LEFT, "adopted by another instance first");
    }
    JobHandle handle = new JobHandle(e.provider(), e.remoteJobId(), e.handles());
    boolean beforeDeadline = Instant.now().isBefore(e.deadline());
    if (slot.provider.canResume() && beforeDeadline) {
      return resume(journal, slot, mine, handle, log);
    }
    if (slot.provider.canCancelByHandle()) {
      String why = beforeDeadline ? slot.id() + " cannot resume a job" : "its deadline " + e.deadline() + " has passed";
      return cancel(journal, slot, mine, handle, log, why);
    }
    return done(log, e, Action.LEFT, (beforeDeadline ? slot.id() + " can neither resume nor cancel a job by its handles"
        : "its deadline passed and " + slot.id() + " cannot cancel a job by its handles") + "; it may run on and be billed");
  }

  private CompletableFuture<RecoveryReport.Item> resume(JobJournal journal, ProviderSlot slot, JobJournal.Entry e,
      JobHandle handle, Logger log) {
    ResumeContext ctx = new ResumeContext(slot, e);
    running.add(ctx);
    CompletableFuture<ProviderResult> f;
    try {
      f = slot.provider.resume(handle, ctx);
    } catch (RuntimeException x) {
      f = CompletableFuture.failedFuture(x);
    }
    return f.handle((r, x) -> new Object[] {r, x}).thenCompose(rx -> {
      ctx.finish();
      running.remove(ctx);
      ProviderResult r = (ProviderResult) rx[0];
      Throwable x = (Throwable) rx[1];
      if (x instanceof java.util.concurrent.CompletionException && x.getCause() != null) {
        x = x.getCause();
      }
      if (r != null) {
        Cost cost = r.reportedCost() != null ? r.reportedCost()
            : e.estimatedCost() != null ? Cost.estimated(new BigDecimal(e.estimatedCost())) : Cost.unknown();
        guard(log, "budget store", () -> engine.budgets.record(slot.id(), cost));
        String key = e.cacheKey();
        if (key != null && cache != null && r.images().stream().noneMatch(GeneratedImage::nsfw)) {
          Map<String, String> meta = new LinkedHashMap<>(r.metadata());
          meta.put("request_hash", e.requestHash());
          meta.put("recovered", "true");
          guard(log, "response cache", () -> cache.put(key, new ResponseCache.Entry(slot.id(), r.model(), r.images(), meta)));
        }
        guard(log, "job journal", () -> journal.ended(e.generationId(), e.remoteJobId(), "succeeded"));
        deliver(log, new RecoveredJob(e, r, null));
        return done(log, e, Action.RESUMED, "resumed to its end with " + r.images().size() + " image(s)");
      }
      Throwable error = x;
      if (engine.isClosed()) { // stopped by close: the entry stays for the next recovery
        return done(log, e, Action.LEFT, "the service was closed while the job was polled");
      }
      deliver(log, new RecoveredJob(e, null, error));
      if (slot.provider.canCancelByHandle()) {
        return cancel(journal, slot, e, handle, log, "resuming failed (" + error.getMessage() + ")").thenApply(c ->
            new RecoveryReport.Item(e, Action.RESUME_FAILED, "resuming failed (" + error.getMessage() + "); "
                + (c.action() == Action.CANCELLED ? "cancelled" : "cancel failed: " + c.reason())));
      }
      guard(log, "job journal", () -> journal.ended(e.generationId(), e.remoteJobId(), "failed"));
      return done(log, e, Action.RESUME_FAILED, "resuming failed: " + error.getMessage());
    });
  }

  private CompletableFuture<RecoveryReport.Item> cancel(JobJournal journal, ProviderSlot slot, JobJournal.Entry e,
      JobHandle handle, Logger log, String why) {
    CompletableFuture<Void> f;
    try {
      f = slot.provider.cancel(handle, slot.context);
    } catch (RuntimeException x) {
      f = CompletableFuture.failedFuture(x);
    }
    return f.handle((v, x) -> {
      if (x == null) {
        guard(log, "job journal", () -> journal.ended(e.generationId(), e.remoteJobId(), "cancelled"));
        return log(log, new RecoveryReport.Item(e, Action.CANCELLED, why + "; cancelled by its handles"));
      }
      Throwable c = x instanceof java.util.concurrent.CompletionException && x.getCause() != null ? x.getCause() : x;
      return log(log, new RecoveryReport.Item(e, Action.CANCEL_FAILED, why + "; the cancel failed: " + c.getMessage()));
    });
  }

  private void deliver(Logger log, RecoveredJob job) {
    Consumer<RecoveredJob> l = engine.settings.onRecovered;
    if (l != null) {
      guard(log, "recovery listener", () -> l.accept(job));
    }
  }

  private static CompletableFuture<RecoveryReport.Item> done(Logger log, JobJournal.Entry e, Action a, String reason) {
    return CompletableFuture.completedFuture(log(log, new RecoveryReport.Item(e, a, reason)));
  }

  private static RecoveryReport.Item log(Logger log, RecoveryReport.Item i) {
    JobJournal.Entry e = i.entry();
    if (i.action() == Action.CANCEL_FAILED || i.action() == Action.LEFT && i.reason().contains("billed")) {
      log.warn("recovery: job {} of generation {}: {}: {}", e.remoteJobId(), e.generationId(), i.action(), i.reason());
    } else {
      log.info("recovery: job {} of generation {}: {}: {}", e.remoteJobId(), e.generationId(), i.action(), i.reason());
    }
    return i;
  }

  private static void guard(Logger log, String what, Runnable step) {
    try {
      step.run();
    } catch (RuntimeException ex) {
      log.warn("{} failed: {}; recovery goes on", what, ex.toString());
    }
  }

  /** Close: stops every poll of a resumed job (its entry stays, for the next recovery). */
  void close() {
    List.copyOf(running).forEach(c -> c.cancel(new GenerationCancelledException("the service was closed", c.providerId())));
  }

  /** The context of one resumed job: the original generation's id and deadline, no journal of its own. */
  private final class ResumeContext implements GenerationContext {
    private final BaseContext base;
    private final JobJournal.Entry entry;
    private final ProviderHttp http;
    private final ImageDownloader downloader;
    private final CancelHooks hooks = new CancelHooks();
    private volatile boolean cancelled;
    private final @Nullable ScheduledFuture<?> timer;

    private final ProviderSlot slot;

    ResumeContext(ProviderSlot slot, JobJournal.Entry entry) {
      this.slot = slot;
      this.base = slot.context;
      this.entry = entry;
      this.http = base.http().bind(this);
      this.downloader = base.downloader().bind(this, http);
      ScheduledFuture<?> t = null;
      try {
        long ms = Math.max(0, entry.deadline().toEpochMilli() - System.currentTimeMillis());
        t = base.scheduler().schedule(() -> cancel(new GenerationTimeoutException("the deadline " + entry.deadline()
            + " passed while the recovered job was polled", base.providerId(), false, null)), ms, TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) { // the service is closing: hooks added later run at once
        cancelled = true;
        hooks.cancel();
      }
      this.timer = t;
    }

    void cancel(Exception why) {
      cancelled = true;
      List<Runnable> toRun = hooks.cancel();
      if (toRun == null) {
        return;
      }
      base.log().debug("recovered job {}: {}", entry.remoteJobId(), why.getMessage());
      for (Runnable r : toRun) {
        try {
          r.run();
        } catch (RuntimeException e) {
          base.log().debug("cancel hook failed: {}", e.toString());
        }
      }
    }

    void finish() {
      if (timer != null) {
        timer.cancel(false);
      }
    }

    @Override public String providerId() { return base.providerId(); }
    @Override public ProviderConfig config() { return base.config(); }
    @Override public ObjectMapper json() { return base.json(); }
    @Override public ScheduledExecutorService scheduler() { return base.scheduler(); }
    @Override public Logger log() { return base.log(); }
    @Override public Redactor redactor() { return base.redactor(); }
    @Override public ProviderHttp http() { return http; }
    @Override public ImageDownloader downloader() { return downloader; }
    @Override public String generationId() { return entry.generationId(); }
    @Override public Instant deadline() { return entry.deadline(); }
    @Override public boolean isCancelled() { return cancelled; }

    @Override
    public void onCancel(Runnable action) {
      if (!hooks.add(action, null)) {
        action.run();
      }
    }

    @Override
    public void onCancel(Runnable action, CompletableFuture<?> until) {
      if (!hooks.add(action, until)) {
        action.run();
      }
    }

    @Override
    public void onPush(String remoteJobId, Runnable nudge, CompletableFuture<?> until) {
      onCancel(engine.pushes.register(providerId(), remoteJobId, nudge, until), until);
    }

    @Override public void progress(ProgressEvent event) {}

    @Override
    public java.util.concurrent.ScheduledFuture<?> schedulePoll(dev.imagegen.spi.PollPolicy policy, java.time.Duration delay,
        Runnable poll) {
      return slot.schedulePoll(scheduler(), policy, delay, poll); // a resumed job shares its provider's budget
    }

    @Override
    public java.util.concurrent.ScheduledFuture<?> schedulePushPoll(dev.imagegen.spi.PollPolicy policy, java.time.Duration delay,
        Runnable poll) {
      return slot.schedulePushPoll(scheduler(), policy, delay, poll);
    }

    @Override
    public void remoteJobStarted(String remoteJobId, Supplier<CompletableFuture<?>> cancel) {
      // a resume never submits; the job is the journal's entry already
    }
  }
}
