package dev.imagegen.provider.fal;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.imagegen.ProgressEvent;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageDownloader;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.Redactor;
import java.net.http.HttpClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.helpers.NOPLogger;

/**
 * A generation context for driving a provider without the service, so a test can call the remote
 * cancel itself and look at what the provider registered. Mirrors the service's contract: an HTTP
 * exchange bound to this attempt, the provider's error mapping, cancel hooks.
 */
final class FalTestContext implements GenerationContext, AutoCloseable {
  final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  final ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(2);
  final ObjectMapper json = JsonMapper.builder().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .serializationInclusion(JsonInclude.Include.NON_NULL).build();
  final Redactor redactor = new Redactor();
  final ProviderConfig config;
  final ProviderHttp http;
  final ImageDownloader downloader;
  final List<ProgressEvent> events = new CopyOnWriteArrayList<>();
  final CompletableFuture<Supplier<CompletableFuture<?>>> remoteCancel = new CompletableFuture<>();
  volatile String remoteJobId;
  private final List<Runnable> hooks = new ArrayList<>();
  private volatile boolean cancelled;
  private final Instant deadline = Instant.now().plus(Duration.ofSeconds(30));

  FalTestContext(ProviderConfig config, ImageProvider provider) {
    this.config = config;
    config.secrets().forEach(redactor::register);
    this.http = new ProviderHttp(this, client, "imagegen-test", this, r -> provider.mapError(r, this));
    this.downloader = new ImageDownloader(this, http);
  }

  @Override public String providerId() { return "fal"; }
  @Override public ProviderConfig config() { return config; }
  @Override public ObjectMapper json() { return json; }
  @Override public ScheduledExecutorService scheduler() { return scheduler; }
  @Override public Logger log() { return NOPLogger.NOP_LOGGER; }
  @Override public Redactor redactor() { return redactor; }
  @Override public ProviderHttp http() { return http; }
  @Override public ImageDownloader downloader() { return downloader; }
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
  }

  @Override
  public void remoteJobStarted(String id, Supplier<CompletableFuture<?>> cancel) {
    remoteJobId = id;
    remoteCancel.complete(cancel);
  }

  /** Marks the attempt cancelled and runs the hooks (stops polling, aborts reads). */
  void cancel() {
    List<Runnable> run;
    synchronized (hooks) {
      cancelled = true;
      run = new ArrayList<>(hooks);
      hooks.clear();
    }
    run.forEach(Runnable::run);
  }

  @Override
  public void close() {
    cancel();
    scheduler.shutdownNow();
  }
}
