package dev.imagegen.provider.runpod;

import static dev.imagegen.spi.ProviderSupport.clip;
import static dev.imagegen.spi.ProviderSupport.unwrap;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageDownloader;
import dev.imagegen.spi.JobHandle;
import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.ProviderSupport;
import dev.imagegen.spi.RemoteJob;
import dev.imagegen.spi.Secret;
import dev.imagegen.spi.WebhookVerifier;
import dev.imagegen.spi.Webhooks;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;

/**
 * RunPod serverless endpoints: one job per generation, submitted with {@code POST /{endpoint}/run},
 * polled with {@code GET /{endpoint}/status/{id}} ({@code IN_QUEUE} reported as queued,
 * {@code IN_PROGRESS} as running), cancelled with {@code POST /{endpoint}/cancel/{id}}, and its
 * images read from the worker's {@code output} (base64, {@code data:} URIs or URLs). The endpoint
 * is chosen by the request's model alias ({@code endpoint.<alias>}) or is the default
 * {@code endpoint}. Thread-safe.
 *
 * <p>Before submitting a request whose deadline is close ({@code cold-start-allowance}), the
 * endpoint's health is read (cached for {@code health-cache}); a cold endpoint with a queue fails
 * at once, unbilled, so that failover tries a provider that can answer in time.
 */
final class RunPodProvider extends HttpImageProvider {
  /** The provider id. */
  static final String ID = "runpod";
  /** No poll closer than this (RunPod documents only its 2000 per 10 s limit on /status). */
  static final Duration POLL_FLOOR = Duration.ofMillis(200);
  /** First poll after 1 s, then every 1 s growing to 5 s. */
  static final PollPolicy POLL = PollPolicy.builder().initialDelay(Duration.ofSeconds(1)).interval(Duration.ofSeconds(1))
      .maxInterval(Duration.ofSeconds(5)).multiplier(1.5).floor(POLL_FLOOR)
      // poll budget: /status takes 2000 requests per 10 s per endpoint (200/s); 150/s leaves room
      .pollsPerSecond(150).build();
  private static final Pattern JOB_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]*");

  private final Secret apiKey;
  private final RunPodSettings settings;
  private final RunPodHealth health;
  private final @Nullable WebhookVerifier webhookVerifier;
  /** {@link #POLL}, or its slow safety net when {@code webhook-url} is set. */
  private final PollPolicy pollPolicy;

  /**
   * Reads the configuration.
   *
   * @param config the provider's configuration
   * @param mapper JSON mapper for the input templates
   * @throws IllegalStateException naming the key when something is missing or invalid
   */
  RunPodProvider(ProviderConfig config, ObjectMapper mapper) {
    super(config, RunPodSettings.DEFAULT_BASE_URL);
    this.apiKey = config.requireApiKey();
    this.settings = new RunPodSettings(config, mapper);
    ProviderCapabilities capabilities = settings.capabilities();
    declare(capabilities, settings.prices);
    this.health = new RunPodHealth(settings, this);
    // the /status object: {"id":..., "status":...}
    this.webhookVerifier = settings.webhookUrl == null ? null : Webhooks.unsignedJson(config, "RunPod", "id", null);
    this.pollPolicy = settings.webhookUrl == null ? POLL.withConfig(config) : Webhooks.safetyNet(POLL.withConfig(config), config);
  }

  /** A verifier of RunPod's unsigned deliveries when {@code webhook-url} is set (with {@code webhook-allow-unsigned}), else null. */
  @Override
  public @Nullable WebhookVerifier webhookVerifier() {
    return webhookVerifier;
  }

  /** The model aliases, each with the endpoint serving it ({@code endpoint.<alias>}). */
  @Override
  public List<ModelInfo> models() {
    return settings.byAlias.entrySet().stream().sorted(java.util.Map.Entry.comparingByKey())
        .map(e -> new ModelInfo(id(), e.getKey(), List.of(), "served by RunPod endpoint " + e.getValue().endpointId()))
        .toList();
  }

  @Override
  protected HttpRequest.Builder authorize(HttpRequest.Builder request) {
    return request.header("Authorization", "Bearer " + apiKey.reveal());
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return RunPodErrors.map(ID, response, context.json(), context.redactor());
  }

  // ------------------------------------------------------------------ generate

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    RunPodSettings.Target target;
    ObjectNode input;
    List<String> warnings = new ArrayList<>(capabilities().warnings(request));
    try {
      target = settings.target(request.model());
      input = target.input().render(request, target.alias() != null ? target.alias() : request.model(), ID,
          ctx.json(), warnings);
      try {
        ProviderSupport.mergeOptions(input, request.providerOptions(ID), ctx.json());
      } catch (IllegalArgumentException e) {
        throw new InvalidRequestException("providerOptions for " + ID + " cannot be written as JSON", ID);
      }
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    return health.coldStartCheck(target, ctx)
        .thenCompose(v -> submit(target, input, ctx))
        .thenCompose(job -> await(new Job(target, Objects.requireNonNull(job.id()), request, ctx, warnings), ctx)); // checked
  }

  private CompletableFuture<RunPodWire.Job> submit(RunPodSettings.Target target, ObjectNode input, GenerationContext ctx) {
    if (ctx.isCancelled()) {
      return CompletableFuture.failedFuture(new GenerationCancelledException("cancelled before submitting", ID));
    }
    // the policy is taken from the time left now, after the cold-start check
    URI hook = settings.webhookUrl;
    RunPodWire.Submit body = new RunPodWire.Submit(input, jobPolicy(settings.policy, ctx.remaining()),
        hook != null ? hook.toString() : settings.webhook);
    return ctx.http().json(postJson(ctx, "/" + target.endpointId() + "/run", body), RunPodWire.Job.class).thenApply(job -> {
      if (job.id() == null || job.id().isBlank()) {
        throw new CompletionException(ProviderUnavailableException.outcomeUnknown("/run answered without a job id (status "
            + ctx.redactor().redact(String.valueOf(job.status())) + "); a job may exist", ID, null));
      }
      if (!JOB_ID.matcher(job.id()).matches()) {
        throw new CompletionException(ProviderUnavailableException.outcomeUnknown("/run answered a job id that cannot be"
            + " polled or cancelled: '" + clip(ctx.redactor().redact(job.id())) + "'; the job may run and be billed", ID, null));
      }
      ctx.progress("IN_PROGRESS".equals(job.status()) ? ProgressEvent.running(ID, null, null)
          : ProgressEvent.queued(ID, null, null));
      return job;
    });
  }

  private CompletableFuture<ProviderResult> await(Job job, GenerationContext ctx) {
    return ctx.await(job, pollPolicy).handle((r, e) -> {
      if (e == null) {
        return r;
      }
      Throwable c = unwrap(e);
      if (!job.ended && !ctx.isCancelled()) {
        // polling gave up while the job may still run: cancel it so nobody pays for an image
        // nobody will receive, and never let a retry submit it a second time
        // through the service: retried if it fails, and awaited by close()
        ctx.cancelRemoteJob();
        if (c instanceof ImageGenerationException ige && ige.retryMayHelp()) {
          c = ProviderUnavailableException.failOver("lost track of job " + job.id() + " (" + ige.getMessage()
              + "); a cancel was sent and it is not resubmitted", ID, ige);
        }
      }
      throw new CompletionException(c);
    });
  }

  /** A job is polled at {@code /{endpoint}/status/{id}}, known from its endpoint id and job id. */
  @Override
  public boolean canResume() {
    return true;
  }

  /** A job is cancelled at {@code /{endpoint}/cancel/{id}}, known from its endpoint id and job id. */
  @Override
  public boolean canCancelByHandle() {
    return true;
  }

  /**
   * Waits for a job an earlier process submitted (found in the job journal): polls
   * {@code GET /{endpoint}/status/{id}} to its end and reads its output; never submits. The
   * endpoint must be one this configuration names, and the job id one RunPod could have given.
   */
  @Override
  public CompletableFuture<ProviderResult> resume(JobHandle job, GenerationContext ctx) {
    RunPodSettings.Target target;
    try {
      target = journalled(job);
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    ImageGenerationRequest none = ImageGenerationRequest.builder().prompt("(resumed job " + job.remoteJobId() + ")").build();
    return await(new Job(target, job.remoteJobId(), none, ctx, List.of()), ctx);
  }

  /** Cancels a job an earlier process submitted: {@code POST /{endpoint}/cancel/{id}} on a configured endpoint. */
  @Override
  public CompletableFuture<Void> cancel(JobHandle job, ProviderContext ctx) {
    RunPodSettings.Target target;
    try {
      target = journalled(job);
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    HttpRequest req = ProviderHttp.retrySafe(request(ctx, "/" + target.endpointId() + "/cancel/" + job.remoteJobId()))
        .POST(HttpRequest.BodyPublishers.noBody())
        .build();
    return ctx.http().call(req).thenApply(r -> null);
  }

  /** The configured target of a journalled job's endpoint; refuses an endpoint or job id nobody configured or RunPod never gave. */
  private RunPodSettings.Target journalled(JobHandle job) {
    String endpoint = job.handle(ENDPOINT_HANDLE);
    if (!JOB_ID.matcher(job.remoteJobId()).matches()) {
      throw new InvalidRequestException("the journal's job id '" + clip(job.remoteJobId()) + "' is not one of RunPod's", ID);
    }
    String model = job.handle(MODEL_HANDLE);
    return settings.targets().stream().filter(t -> t.endpointId().equals(endpoint))
        .sorted((a, b) -> Boolean.compare(!a.model().equals(model), !b.model().equals(model))).findFirst()
        .orElseThrow(() -> new InvalidRequestException("job " + job.remoteJobId() + " ran on endpoint '"
            + clip(String.valueOf(endpoint)) + "', which this configuration does not name", ID));
  }

  /** The journal handle of a job's endpoint id. */
  static final String ENDPOINT_HANDLE = "endpoint";
  /** The journal handle of a job's model (the endpoint's alias, else its id). */
  static final String MODEL_HANDLE = "model";

  /** One RunPod job being waited on. */
  private final class Job implements RemoteJob {
    private final RunPodSettings.Target target;
    private final String jobId;
    private final ImageGenerationRequest request;
    private final GenerationContext ctx;
    private final List<String> warnings;
    private volatile boolean ended;

    Job(RunPodSettings.Target target, String jobId, ImageGenerationRequest request, GenerationContext ctx,
        List<String> warnings) {
      this.target = target;
      this.jobId = jobId;
      this.request = request;
      this.ctx = ctx;
      this.warnings = warnings;
    }

    @Override
    public String id() {
      return jobId;
    }

    @Override
    public java.util.Map<String, String> handles() {
      return java.util.Map.of(ENDPOINT_HANDLE, target.endpointId(), MODEL_HANDLE, target.model());
    }

    @Override
    public CompletableFuture<PollResult> poll() {
      HttpRequest req = request(ctx, "/" + target.endpointId() + "/status/" + jobId).GET().build();
      return ctx.http().send(req, ProviderHttp.MAX_API_BODY_BYTES).thenCompose(r -> {
        if (!r.isSuccess()) {
          ImageGenerationException e = ctx.http().mapError(r);
          if (r.status() == 404) {
            ended = true; // gone: expired or past its ttl
            return CompletableFuture.completedFuture(PollResult.failed(e));
          }
          return CompletableFuture.failedFuture(e);
        }
        RunPodWire.Job job = ctx.http().parse(r, RunPodWire.Job.class);
        return onStatus(job);
      });
    }

    private CompletableFuture<PollResult> onStatus(RunPodWire.Job job) {
      String status = job.status() == null ? "" : job.status();
      ended = ended || Set.of("COMPLETED", "FAILED", "TIMED_OUT", "CANCELLED").contains(status);
      return switch (status) {
        case "IN_QUEUE" -> CompletableFuture.completedFuture(PollResult.pending(ProgressEvent.queued(ID, null, null)));
        case "IN_PROGRESS", "RUNNING" ->
            CompletableFuture.completedFuture(PollResult.pending(ProgressEvent.running(ID, null, null)));
        case "COMPLETED" -> completed(job);
        case "FAILED", "TIMED_OUT", "CANCELLED" -> CompletableFuture.completedFuture(PollResult.failed(RunPodErrors.jobEnded(ID,
            status, jobId, job.error(), job.output(), job.workerId(), ctx.json(), ctx.redactor())));
        default -> {
          ctx.log().debug("job {} reports status '{}', polling on", jobId, status);
          yield CompletableFuture.completedFuture(PollResult.pending(null));
        }
      };
    }

    private CompletableFuture<PollResult> completed(RunPodWire.Job job) {
      RunPodWire.Output out = RunPodWire.Output.of(job.output());
      if (out.images().isEmpty()) {
        String errors = out.errors().isEmpty() ? "" : ": " + clip(ctx.redactor().redact(String.join("; ", out.errors())));
        return CompletableFuture.completedFuture(PollResult.failed(ProviderUnavailableException.failOver("job " + jobId
            + " completed without images" + errors, ID, null)));
      }
      ctx.progress(ProgressEvent.of(ID, ProgressEvent.Stage.DOWNLOADING));
      Long seed = out.seed() != null ? out.seed() : request.seed();
      List<ImageDownloader.Source> sources = IntStream.range(0, out.images().size())
          .mapToObj(i -> new ImageDownloader.Source(out.images().get(i), seed, out.nsfw(i))).toList();
      return ctx.downloader().allOf(sources).handle((downloaded, e) -> {
        if (e != null) {
          Throwable c = unwrap(e);
          return PollResult.failed(c instanceof ImageGenerationException ige ? ige
              : ProviderUnavailableException.failOver("result image of job " + jobId + " could not be read: " + c, ID, null));
        }
        ProviderResult.Builder b = ProviderResult.builder(target.model())
            .remoteJobId(jobId)
            .downloadTime(downloaded.took())
            .metadata("endpoint", target.endpointId())
            .metadata("job_id", jobId)
            .metadata("worker_id", job.workerId())
            .metadata("delay_time_ms", job.delayTime())
            .metadata("execution_time_ms", job.executionTime());
        downloaded.images().forEach(b::image);
        if (job.delayTime() != null) {
          b.queueTime(Duration.ofMillis(job.delayTime()));
        }
        if (job.executionTime() != null) {
          b.runTime(Duration.ofMillis(job.executionTime()));
          b.gpuSeconds(job.executionTime() / 1000.0);
        }
        warnings.forEach(b::warning);
        out.errors().forEach(err -> b.warning("worker reported: " + clip(ctx.redactor().redact(err))));
        return PollResult.done(b.build());
      });
    }

    @Override
    public CompletableFuture<?> cancel() {
      HttpRequest req = ProviderHttp.retrySafe(request(ctx, "/" + target.endpointId() + "/cancel/" + jobId))
          .POST(HttpRequest.BodyPublishers.noBody())
          .build();
      return ctx.http().call(req);
    }
  }

  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
    return health.read(ctx);
  }

  // ------------------------------------------------------------------ wire

  /** RunPod's shortest {@code policy.executionTimeout}. */
  static final Duration MIN_EXECUTION_TIMEOUT = Duration.ofSeconds(5);
  /** RunPod's shortest {@code policy.ttl}. */
  static final Duration MIN_TTL = Duration.ofSeconds(10);
  /** RunPod's longest {@code policy.executionTimeout} and {@code policy.ttl}. */
  static final Duration MAX_POLICY = Duration.ofDays(7);

  /**
   * The {@code policy} of a job: {@code executionTimeout} and {@code ttl} are the time left before
   * the request's deadline (or the configured value when shorter), within RunPod's limits (5 s
   * and 10 s to 7 days), so that a job orphaned by a dead process stops by itself, as Replicate's
   * {@code Cancel-After} does; {@code lowPriority} as configured.
   *
   * @param configured the operator's {@code execution-timeout}, {@code ttl}, {@code low-priority}, or null
   * @param remaining the time left before the request's deadline
   */
  static RunPodWire.Policy jobPolicy(RunPodWire.@Nullable Policy configured, Duration remaining) {
    long left = Math.max(0, remaining.toMillis());
    Long execution = configured == null ? null : configured.executionTimeout();
    Long ttl = configured == null ? null : configured.ttl();
    return new RunPodWire.Policy(
        clamp(execution == null ? left : Math.min(execution, left), MIN_EXECUTION_TIMEOUT),
        clamp(ttl == null ? left : Math.min(ttl, left), MIN_TTL),
        configured == null ? null : configured.lowPriority());
  }

  private static long clamp(long millis, Duration min) {
    return Math.max(min.toMillis(), Math.min(MAX_POLICY.toMillis(), millis));
  }

}
