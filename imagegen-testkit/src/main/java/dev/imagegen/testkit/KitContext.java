package dev.imagegen.testkit;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ProgressEvent;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageDownloader;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.RedactingLogger;
import dev.imagegen.spi.Redactor;
import java.net.http.HttpClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link GenerationContext} for driving a provider directly in a unit test, without an
 * {@code ImageGenerationService}: what the service gives a provider's attempt, built only from
 * imagegen's public SPI, plus what a test wants to look at.
 *
 * <ul>
 *   <li>a real {@link ProviderHttp} (HTTP/1.1, no redirects, 2 s connect timeout) bound to this
 *       attempt's deadline and cancellation, mapping errors through the provider's
 *       {@link ImageProvider#mapError} when it was given, and a real {@link ImageDownloader};
 *   <li>the provider's secrets registered with the {@link Redactor}, and a redacting logger
 *       ({@code dev.imagegen.provider.<id>});
 *   <li>a deadline ({@link #deadline(Duration)}, default 30 s from now), cancellation
 *       ({@link #cancel()} runs the {@code onCancel} hooks, later hooks run at once);
 *   <li>the progress events the provider reported ({@link #events()}, {@link #onProgress}), and
 *       the remote job it registered ({@link #remoteJobId()}, {@link #remoteCancel()};
 *       {@link #cancelRemoteJob()} calls its cancel).
 * </ul>
 *
 * <pre>{@code
 * ProviderConfig config = ProviderConfig.builder("acme").baseUrl(server.baseUrl()).apiKey("k").build();
 * ImageProvider provider = new AcmeProviderFactory().create(config);
 * try (KitContext ctx = KitContext.of(provider, config)) {
 *   ProviderResult r = provider.generate(request, ctx).get(10, SECONDS);
 *   assertThat(ctx.events()).extracting(ProgressEvent::stage).contains(Stage.RUNNING);
 * }
 * }</pre>
 *
 * <p>Thread-safe. {@link #close()} cancels the attempt and stops the scheduler.
 */
public final class KitContext implements GenerationContext, AutoCloseable {
  static {
    KitLogs.install(); // the kit's log capture, unless the class path has its own SLF4J binding
  }

  private final ProviderConfig config;
  private final Redactor redactor = new Redactor();
  private final ObjectMapper json = JsonMapper.builder().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .serializationInclusion(JsonInclude.Include.NON_NULL).build();
  private final ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(2, r -> {
    Thread t = new Thread(r, "imagegen-kit-context");
    t.setDaemon(true);
    return t;
  });
  private final Logger log;
  private final ProviderHttp http;
  private final ImageDownloader downloader;
  private final List<ProgressEvent> events = new CopyOnWriteArrayList<>();
  private final List<Runnable> hooks = new ArrayList<>();
  private final CompletableFuture<Supplier<CompletableFuture<?>>> remoteCancel = new CompletableFuture<>();
  private volatile @Nullable String remoteJobId;
  private volatile boolean cancelled;
  private volatile Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
  private volatile Consumer<ProgressEvent> onProgress = e -> {};

  private KitContext(ProviderConfig config, Function<HttpResult, @Nullable ImageGenerationException> errors) {
    this.config = Objects.requireNonNull(config, "config");
    config.secrets().forEach(redactor::register);
    this.log = new RedactingLogger(LoggerFactory.getLogger("dev.imagegen.provider." + config.providerId()), redactor);
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(2)).build();
    this.http = new ProviderHttp(this, client, "imagegen-testkit", this, errors);
    this.downloader = new ImageDownloader(this, http);
  }

  /**
   * A context for a provider: its errors are mapped by its own {@code mapError} first, then by
   * imagegen's defaults, as in the service.
   *
   * @param provider the provider under test
   * @param config its configuration (its id names the provider; its secrets are redacted)
   * @return a new context; close it
   */
  public static KitContext of(ImageProvider provider, ProviderConfig config) {
    KitContext[] self = new KitContext[1];
    self[0] = new KitContext(config, r -> provider.mapError(r, self[0]));
    return self[0];
  }

  /**
   * A context without a provider: errors get imagegen's default mapping only.
   *
   * @param config the configuration
   * @return a new context; close it
   */
  public static KitContext of(ProviderConfig config) {
    return new KitContext(config, r -> null);
  }

  /**
   * Moves the deadline to this long from now.
   *
   * @param fromNow the time left
   * @return this context
   */
  public KitContext deadline(Duration fromNow) {
    this.deadline = Instant.now().plus(fromNow);
    return this;
  }

  /**
   * Also hands each progress event to this listener (after recording it).
   *
   * @param listener the listener
   * @return this context
   */
  public KitContext onProgress(Consumer<ProgressEvent> listener) {
    this.onProgress = Objects.requireNonNull(listener, "listener");
    return this;
  }

  /** The progress events the provider reported, oldest first (a live, thread-safe list). */
  public List<ProgressEvent> events() {
    return events;
  }

  /** The id of the remote job the provider registered, or null before it did. */
  public @Nullable String remoteJobId() {
    return remoteJobId;
  }

  /** Completes with the remote job's cancel action once the provider registers the job. */
  public CompletableFuture<Supplier<CompletableFuture<?>>> remoteCancel() {
    return remoteCancel;
  }

  /** Marks the attempt cancelled and runs the cancel hooks (stops polls, aborts reads). Idempotent. */
  public void cancel() {
    List<Runnable> run;
    synchronized (hooks) {
      cancelled = true;
      run = new ArrayList<>(hooks);
      hooks.clear();
    }
    run.forEach(Runnable::run);
  }

  @Override public String providerId() { return config.providerId(); }
  @Override public ProviderConfig config() { return config; }
  @Override public ObjectMapper json() { return json; }
  @Override public ScheduledExecutorService scheduler() { return scheduler; }
  @Override public Logger log() { return log; }
  @Override public Redactor redactor() { return redactor; }
  @Override public ProviderHttp http() { return http; }
  @Override public ImageDownloader downloader() { return downloader; }
  @Override public String generationId() { return "kit-generation"; }
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
    remoteJobId = id;
    remoteCancel.complete(cancel);
  }

  /** Calls the registered remote job's cancel, if one was registered (as the service does on a deadline). */
  @Override
  public void cancelRemoteJob() {
    Supplier<CompletableFuture<?>> c = remoteCancel.getNow(null);
    if (c != null) {
      CompletableFuture<?> sent = c.get(); // the cancel's own outcome is the provider's to report
      sent.exceptionally(e -> null);
    }
  }

  /** Cancels the attempt and stops the scheduler. */
  @Override
  public void close() {
    cancel();
    scheduler.shutdownNow();
  }

  @Override
  public String toString() {
    return "KitContext[" + config.providerId() + ", deadline " + deadline + (cancelled ? ", cancelled" : "") + "]";
  }
}
