package dev.imagegen.provider.replicate;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.JobHandle;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.RemoteJob;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * One generation attempt on Replicate: the create, then the wait (polling the prediction's
 * {@code urls.get}, cancelling at its {@code urls.cancel}), then the downloads. A prediction found
 * by {@link ReplicateReconcile} is {@linkplain #adopt adopted} and waited for the same way.
 */
final class ReplicatePrediction {
  private static final String ID = ReplicateProvider.ID;
  private static final Pattern SEED_IN_LOGS = Pattern.compile("(?i)using seed:?\\s*(\\d{1,19})");
  private static final Pattern PERCENT_IN_LOGS = Pattern.compile("(\\d{1,3})%\\|");

  private final ReplicateProvider provider;
  private final ImageGenerationRequest request;
  final GenerationContext ctx;
  final ReplicateModels.Target target;
  /** The model's input, as the create sends it. */
  final ObjectNode input;
  private final List<String> warnings = new ArrayList<>();
  /** When the create was about to be sent (this host's clock). */
  volatile Instant sentAt = Instant.now();
  /** Whether the prediction was found by {@link ReplicateReconcile} rather than created. */
  private volatile boolean reconciled;
  /** Whether the prediction was created by an earlier process and found in the job journal. */
  private volatile boolean resumed;
  /** The journal handle of a prediction's {@code urls.get}. */
  static final String GET_HANDLE = "get";
  /** The journal handle of a prediction's {@code urls.cancel}. */
  static final String CANCEL_HANDLE = "cancel";

  ReplicatePrediction(ReplicateProvider provider, ImageGenerationRequest request, GenerationContext ctx) {
    this.provider = provider;
    this.request = request;
    this.ctx = ctx;
    this.target = ReplicateModels.resolve(request.model(), provider.defaultModel);
    // the soft inputs the model ignores are left out of the input (ReplicateModels) and named here
    this.warnings.addAll(provider.capabilities().warnings(request));
    this.input = ReplicateModels.input(request, target, warnings, ctx.json());
  }

  /** Sends the create, recorded first for {@link ReplicateProvider#reconcile}, and waits for its prediction. */
  CompletableFuture<ProviderResult> start() {
    HttpRequest post = create();
    sentAt = Instant.now();
    provider.submits.values().removeIf(s -> s.ctx.deadline().isBefore(sentAt)); // records whose deadline has passed
    provider.submits.put(ctx.generationId(), this);
    ctx.progress(ProgressEvent.of(ID, ProgressEvent.Stage.SUBMITTED));
    return ctx.http().json(post, ReplicateWire.Prediction.class).thenCompose(this::created);
  }

  /** Waits for a prediction found in the list as if this run's create had answered with it. */
  CompletableFuture<ProviderResult> adopt(ReplicateWire.Prediction p) {
    reconciled = true;
    ctx.log().info("{}: the prediction create for {} got no answer; prediction {} ({}) has its input and is used instead",
        ID, target.displayName(), p.id(), p.state());
    return p.isTerminal() && !("succeeded".equals(p.state()) && p.outputs().isEmpty()) ? settled(p) : waitFor(p);
  }

  /**
   * Waits for a prediction created by an earlier process, found again by its id and its
   * {@code urls.get} / {@code urls.cancel} handles (each used only when it is under the base URL,
   * else the base URL's own path for the id): never creates one.
   */
  CompletableFuture<ProviderResult> resume(JobHandle job) {
    resumed = true;
    return ctx.await(new Job(job.remoteJobId(), job.handle(GET_HANDLE), job.handle(CANCEL_HANDLE)), provider.pollPolicy);
  }

  private HttpRequest create() {
    String path = target.official() ? "/models/" + target.model() + "/predictions" : "/predictions";
    HttpRequest.Builder b = provider.request(ctx, path).header("Content-Type", "application/json");
    int wait = preferWait();
    if (wait > 0) {
      b.header("Prefer", "wait=" + wait);
    }
    // a backstop a little after imagegen's own deadline (which cancels first): should this process
    // die, Replicate still stops the prediction instead of running it to the end
    long left = ctx.remaining().toSeconds() + 2;
    if (provider.cancelAfter && left >= 5) {
      b.header("Cancel-After", left + "s");
    }
    if (provider.retryCreateOnServerError) {
      ProviderHttp.retrySafe(b); // the operator accepts that a repeated create may bill twice
    }
    URI hook = provider.webhookUrl;
    // only the end is asked for: the delivery just makes the poll loop read the prediction now
    return b.POST(ctx.http().jsonBody(new ReplicateWire.Create(target.version(), input, hook == null ? null : hook.toString(),
        hook == null ? null : List.of("completed")))).build();
  }

  /** N for {@code Prefer: wait=N}: the configured wait, at most 60 s, ending a second before the call's timeout. */
  private int preferWait() {
    long n = Math.min(provider.waitSeconds, ctx.http().timeout().toSeconds() - 1); // wait-seconds is at most 60
    return n < 1 ? 0 : (int) n;
  }

  private CompletableFuture<ProviderResult> created(ReplicateWire.Prediction p) {
    String id = p.id();
    if (id == null || id.isBlank()) {
      return CompletableFuture.failedFuture(ProviderUnavailableException.outcomeUnknown("the create answer carries no "
          + "prediction id; a prediction may have been created", ID, null));
    }
    provider.known.add(id);
    return p.isTerminal() ? settled(p) : waitFor(p);
  }

  /** A prediction that ended before it was waited for: registered for cancellation (a no-op), then settled. */
  private CompletableFuture<ProviderResult> settled(ReplicateWire.Prediction p) {
    ctx.remoteJobStarted(Objects.requireNonNull(p.id()), () -> CompletableFuture.completedFuture(null)); // checked in created
    return settle(p);
  }

  private CompletableFuture<ProviderResult> waitFor(ReplicateWire.Prediction p) {
    ctx.progress(progress(p));
    return ctx.await(new Job(Objects.requireNonNull(p.id()), p.urls()), provider.pollPolicy);
  }

  /** The result of a prediction that reached a terminal status. */
  private CompletableFuture<ProviderResult> settle(ReplicateWire.Prediction p) {
    if (!"succeeded".equals(p.state())) {
      return CompletableFuture.failedFuture(ReplicateWire.ended(p, ctx.redactor()));
    }
    List<String> outputs = p.outputs();
    if (outputs.isEmpty()) {
      String why = Boolean.TRUE.equals(p.dataRemoved()) ? "its output was already removed (data_removed)" : "it has no output";
      return CompletableFuture.failedFuture(ProviderUnavailableException.failOver("prediction " + p.id() + " succeeded but "
          + why, ID, null));
    }
    ctx.progress(ProgressEvent.of(ID, ProgressEvent.Stage.DOWNLOADING));
    return ctx.downloader().all(outputs, seed(p.logs())).thenApply(d -> {
      ReplicateWire.Metrics m = p.metrics();
      Duration ran = ReplicateWire.between(p.startedAt(), p.completedAt());
      ProviderResult.Builder r = ProviderResult.builder(resumed && p.model() != null ? p.model() : target.displayName())
          .images(d.images())
          .remoteJobId(p.id())
          .gpuSeconds(m == null ? null : m.predictTime())
          .queueTime(ReplicateWire.between(p.createdAt(), p.startedAt()))
          .runTime(ran != null ? ran
              : m != null && m.predictTime() != null ? Duration.ofMillis((long) (m.predictTime() * 1000)) : null)
          .downloadTime(d.took())
          .metadata("prediction_id", p.id())
          .metadata("replicate_model", p.model() != null ? p.model() : target.model())
          .metadata("replicate_version", p.version())
          .metadata("replicate_url", p.urls() == null ? null : p.urls().web())
          .metadata("predict_time", m == null ? null : m.predictTime())
          .metadata("total_time", m == null ? null : m.totalTime())
          .metadata("image_count", m == null ? null : m.imageCount())
          .metadata("reconciled", reconciled ? Boolean.TRUE : null)
          .metadata("resumed", resumed ? Boolean.TRUE : null);
      warnings.forEach(r::warning);
      return r.build();
    });
  }

  private @Nullable Long seed(@Nullable String logs) {
    Matcher m = SEED_IN_LOGS.matcher(logs == null ? "" : logs);
    try {
      return m.find() ? Long.valueOf(m.group(1)) : request.seed();
    } catch (NumberFormatException e) {
      return request.seed(); // out of range: the request's
    }
  }

  /** What a prediction not yet ended says of its progress: queued while {@code starting}, else the logs' last percentage. */
  static ProgressEvent progress(ReplicateWire.Prediction p) {
    if ("starting".equals(p.state())) {
      return ProgressEvent.queued(ID, null, null);
    }
    Double percent = PERCENT_IN_LOGS.matcher(p.logs() == null ? "" : p.logs()).results()
        .map(m -> Double.valueOf(m.group(1))).filter(v -> v <= 100).reduce((first, last) -> last).orElse(null);
    return ProgressEvent.running(ID, percent, null);
  }

  /** The prediction waited on by {@link dev.imagegen.spi.JobPoller}. */
  private final class Job implements RemoteJob {
    private final String id;
    private final URI get;
    private final URI cancel;

    Job(String id, ReplicateWire.@Nullable Urls urls) {
      this(id, urls == null ? null : urls.get(), urls == null ? null : urls.cancel());
    }

    Job(String id, @Nullable String getUrl, @Nullable String cancelUrl) {
      String path = ReplicateProvider.predictionPath(id);
      this.id = id;
      this.get = provider.under(getUrl, path);
      this.cancel = provider.under(cancelUrl, path + "/cancel");
    }

    @Override
    public Map<String, String> handles() {
      return Map.of(GET_HANDLE, get.toString(), CANCEL_HANDLE, cancel.toString());
    }

    @Override
    public String id() {
      return id;
    }

    @Override
    public CompletableFuture<PollResult> poll() {
      return ctx.http().json(provider.request(ctx, get).GET().build(), ReplicateWire.Prediction.class).thenCompose(p -> {
        if (!p.isTerminal()) {
          return CompletableFuture.completedFuture(PollResult.pending(progress(p)));
        }
        return settle(p).handle((r, e) -> e == null ? PollResult.done(r) : PollResult.failed(ReplicateProvider.failure(e)));
      });
    }

    @Override
    public CompletableFuture<?> cancel() {
      HttpRequest.Builder b = provider.request(ctx, cancel);
      return ctx.http().call(ProviderHttp.retrySafe(b).POST(HttpRequest.BodyPublishers.noBody()).build());
    }
  }
}
