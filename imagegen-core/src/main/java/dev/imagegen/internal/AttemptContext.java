package dev.imagegen.internal;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.ProgressEvent;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageDownloader;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.Redactor;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/** The context of one call to a provider within a generation. */
final class AttemptContext implements GenerationContext {
  private final BaseContext base;
  private final Generation generation;
  private final Engine engine;
  private final ProviderHttp http;
  private final ImageDownloader downloader;
  private final ProviderSlot slot;
  private static final int CANCEL_RETRIES = 3;
  private final CancelHooks hooks = new CancelHooks();
  private final AtomicBoolean remoteCancelSent = new AtomicBoolean();
  private volatile boolean cancelled;
  private volatile @Nullable String remoteJobId;
  private volatile @Nullable Supplier<CompletableFuture<?>> canceller;
  /**
   * Completes once close no longer needs to wait for this call: the provider's call finished, or
   * its remote job's cancel was handed to the tracked cleanups.
   */
  final CompletableFuture<Void> settledForClose = new CompletableFuture<>();

  AttemptContext(BaseContext base, ProviderAttempt attempt) {
    this.base = base;
    this.generation = attempt.generation;
    this.engine = generation.engine();
    this.slot = attempt.slot;
    this.http = base.http().bind(this);
    this.downloader = base.downloader().bind(this, http);
  }

  @Override public String providerId() { return base.providerId(); }
  @Override public ProviderConfig config() { return base.config(); }
  @Override public ObjectMapper json() { return base.json(); }
  @Override public ScheduledExecutorService scheduler() { return base.scheduler(); }
  @Override public Logger log() { return base.log(); }
  @Override public Redactor redactor() { return base.redactor(); }
  @Override public ProviderHttp http() { return http; }
  @Override public ImageDownloader downloader() { return downloader; }
  @Override public String generationId() { return generation.id(); }
  @Override public Instant deadline() { return generation.deadline(); }
  @Override public boolean isCancelled() { return cancelled; }

  @Override
  public void onCancel(Runnable action) {
    if (!hooks.add(action, null)) {
      runQuietly(action);
    }
  }

  @Override
  public void onCancel(Runnable action, CompletableFuture<?> until) {
    if (!hooks.add(action, until)) {
      runQuietly(action);
    }
  }

  @Override
  public java.util.concurrent.ScheduledFuture<?> schedulePoll(dev.imagegen.spi.PollPolicy policy, java.time.Duration delay,
      Runnable poll) {
    return slot.schedulePoll(scheduler(), policy, delay, poll);
  }

  @Override
  public java.util.concurrent.ScheduledFuture<?> schedulePushPoll(dev.imagegen.spi.PollPolicy policy, java.time.Duration delay,
      Runnable poll) {
    return slot.schedulePushPoll(scheduler(), policy, delay, poll);
  }

  @Override
  public void onPush(String remoteJobId, Runnable nudge, CompletableFuture<?> until) {
    onCancel(engine.pushes.register(providerId(), remoteJobId, nudge, until), until);
  }

  /** How many cancel hooks this call holds (for tests). */
  int cancelHooks() {
    return hooks.size();
  }

  @Override
  public void progress(ProgressEvent event) {
    if (!cancelled) {
      generation.progress(event);
    }
  }

  @Override
  public void remoteJobStarted(String id, Supplier<CompletableFuture<?>> cancel) {
    remoteJobStarted(id, Map.of(), cancel);
  }

  @Override
  public void remoteJobStarted(String id, Map<String, String> handles, Supplier<CompletableFuture<?>> cancel) {
    this.remoteJobId = id;
    this.canceller = cancel;
    engine.settlement.jobStarted(generation, slot, id, safeHandles(handles));
    if (cancelled || engine.isClosed()) {
      cancel();
      sendRemoteCancel();
    }
  }

  /** The handles without any that holds a known secret or a URL's user info: a journal file is no place for a key. */
  private Map<String, String> safeHandles(Map<String, String> handles) {
    Map<String, String> out = new LinkedHashMap<>();
    handles.forEach((k, v) -> {
      if (k == null || v == null) {
        return;
      }
      String redacted = redactor().redact(v);
      if (!v.equals(redacted) || hasUserInfo(v)) {
        log().warn("handle '{}' of remote job holds a credential; it is not written to the job journal", k);
      } else {
        out.put(k, v);
      }
    });
    return out;
  }

  private static boolean hasUserInfo(String v) {
    try {
      java.net.URI u = java.net.URI.create(v);
      return u.getRawUserInfo() != null;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  @Override
  public void cancelRemoteJob() {
    sendRemoteCancel();
  }

  @Nullable String remoteJobId() {
    return remoteJobId;
  }

  boolean remoteCancelSent() {
    return remoteCancelSent.get();
  }

  /** Cancels this call: aborts reads, stops polling, and cancels the remote job (now or once it is known). */
  void cancel() {
    cancelled = true;
    List<Runnable> toRun = hooks.cancel();
    if (toRun == null) {
      return;
    }
    toRun.forEach(this::runQuietly);
    sendRemoteCancel();
  }

  private void sendRemoteCancel() {
    Supplier<CompletableFuture<?>> c = canceller;
    String id = remoteJobId;
    if (c == null || id == null || !remoteCancelSent.compareAndSet(false, true)) {
      return;
    }
    CompletableFuture<Void> done = new CompletableFuture<>();
    engine.trackCleanup(done);
    settledForClose.complete(null);
    cancelAttempt(c, id, 0, done);
  }

  /**
   * Sends the remote cancel, retrying a failed one (a reset, a 5xx, a timeout) a few times with
   * backoff: a cancel lost on the way would leave a job running, and billing, for nobody.
   */
  private void cancelAttempt(Supplier<CompletableFuture<?>> c, String id, int attempt, CompletableFuture<Void> done) {
    CompletableFuture<?> f;
    try {
      f = c.get();
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    f.whenComplete((v, e) -> {
      if (e == null) {
        log().debug("cancelled remote job {}", id);
        engine.settlement.jobEnded(generation, id, "cancelled");
        done.complete(null);
      } else if (attempt < CANCEL_RETRIES) {
        long delay = 200L << (2 * attempt);
        log().debug("cancel of remote job {} failed ({}); trying again in {} ms", id, e.getMessage(), delay);
        try {
          scheduler().schedule(() -> cancelAttempt(c, id, attempt + 1, done), delay, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException closed) {
          engine.settlement.jobEnded(generation, id, "cancel-failed");
          done.complete(null);
        }
      } else {
        log().warn("cancel of remote job {} failed {} times, last: {}; it may run on and be billed", id, attempt + 1,
            e.getMessage());
        engine.settlement.jobEnded(generation, id, "cancel-failed");
        done.complete(null);
      }
    });
  }

  private void runQuietly(Runnable r) {
    try {
      r.run();
    } catch (Throwable e) { // a provider's hook must not stop the others
      log().debug("cancel hook failed: {}", e.toString());
    }
  }
}
