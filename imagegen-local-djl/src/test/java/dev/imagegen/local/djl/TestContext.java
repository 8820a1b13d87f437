package dev.imagegen.local.djl;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.ProgressEvent;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageDownloader;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.Redactor;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.helpers.NOPLogger;

/** A generation context for driving the provider without the service: cancel hooks, recorded progress. */
final class TestContext implements GenerationContext, AutoCloseable {
  final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  final ProviderConfig config;
  final List<ProgressEvent> events = new CopyOnWriteArrayList<>();
  private final List<Runnable> hooks = new ArrayList<>();
  private volatile boolean cancelled;
  volatile Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
  volatile Consumer<ProgressEvent> onProgress = e -> {};

  TestContext(ProviderConfig config) {
    this.config = config;
  }

  @Override public String providerId() { return LocalSdxlProviderFactory.ID; }
  @Override public ProviderConfig config() { return config; }
  @Override public ObjectMapper json() { return new ObjectMapper(); }
  @Override public ScheduledExecutorService scheduler() { return scheduler; }
  @Override public Logger log() { return NOPLogger.NOP_LOGGER; }
  @Override public Redactor redactor() { return new Redactor(); }
  @Override public ProviderHttp http() { throw new UnsupportedOperationException("the local engine makes no HTTP calls"); }
  @Override public ImageDownloader downloader() { throw new UnsupportedOperationException("no downloads"); }
  @Override public String generationId() { return "test-generation"; }
  @Override public Instant deadline() { return deadline; }
  @Override public boolean isCancelled() { return cancelled; }

  @Override
  public void onCancel(Runnable action) {
    synchronized (hooks) {
      if (!cancelled) {
        hooks.add(action);
        return;
      }
    }
    action.run();
  }

  @Override
  public void progress(ProgressEvent event) {
    events.add(event);
    onProgress.accept(event);
  }

  @Override
  public void remoteJobStarted(String id, Supplier<CompletableFuture<?>> cancel) {
    throw new AssertionError("the local engine has no remote jobs");
  }

  void cancel() {
    List<Runnable> run;
    synchronized (hooks) {
      cancelled = true;
      run = new ArrayList<>(hooks);
      hooks.clear();
    }
    run.forEach(Runnable::run);
  }

  List<Integer> queuePositions() {
    return events.stream().filter(e -> e.stage() == ProgressEvent.Stage.QUEUED).map(ProgressEvent::queuePosition).toList();
  }

  List<Double> percents() {
    return events.stream().filter(e -> e.stage() == ProgressEvent.Stage.RUNNING && e.percent() != null
        && e.percent() > 0).map(ProgressEvent::percent).toList();
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}
