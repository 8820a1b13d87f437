package dev.imagegen.provider.runpod;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderContext;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
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
final class RunPodProvider implements ImageProvider {
  /** The provider id. */
  static final String ID = "runpod";
  /** No poll closer than this (RunPod documents only its 2000 per 10 s limit on /status). */
  static final Duration POLL_FLOOR = Duration.ofMillis(200);
  /** First poll after 1 s, then every 1 s growing to 5 s. */
  static final PollPolicy POLL = new PollPolicy(Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(5), 1.5,
      POLL_FLOOR, 8);
  private static final Duration HEALTH_CHECK_LIMIT = Duration.ofSeconds(2);
  private static final Pattern JOB_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]*");

  private final RunPodSettings settings;
  private final ProviderCapabilities capabilities;
  private final CostModel prices;
  private final Map<String, EndpointHealth> healthCache = new ConcurrentHashMap<>();

  RunPodProvider(RunPodSettings settings) {
    this.settings = settings;
    this.capabilities = settings.capabilities();
    this.prices = new RunPodPrices(model -> {
      RunPodSettings.Target t = settings.targetOrNull(model);
      return t == null ? null : t.prices();
    });
  }

  @Override
  public String id() {
    return ID;
  }

  @Override
  public ProviderCapabilities capabilities() {
    return capabilities;
  }

  @Override
  public CostModel costModel() {
    return prices;
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
    List<String> warnings = new ArrayList<>(capabilities.warnings(request));
    try {
      target = settings.target(request.model());
      input = target.input().render(request, target.alias() != null ? target.alias() : request.model(), ID,
          ctx.json(), warnings);
      Map<String, Object> options = request.providerOptions(ID);
      if (!options.isEmpty()) {
        JsonNode tree;
        try {
          tree = ctx.json().valueToTree(options);
        } catch (IllegalArgumentException e) {
          throw new InvalidRequestException("providerOptions for " + ID + " cannot be written as JSON", ID);
        }
        RunPodInput.merge(input, tree);
      }
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    return coldStartCheck(target, ctx)
        .thenCompose(v -> submit(target, input, ctx))
        .thenCompose(job -> await(new Job(target, job.id(), request, ctx, warnings), ctx));
  }

  private CompletableFuture<RunPodWire.Job> submit(RunPodSettings.Target target, ObjectNode input, GenerationContext ctx) {
    if (ctx.isCancelled()) {
      return CompletableFuture.failedFuture(new GenerationCancelledException("cancelled before submitting", ID));
    }
    // the policy is taken from the time left now, after the cold-start check
    RunPodWire.Submit body = new RunPodWire.Submit(input, jobPolicy(settings.policy, ctx.remaining()), settings.webhook);
    HttpRequest req = authorized(ctx.http(), target.endpointId(), "/run")
        .header("Content-Type", "application/json")
        .POST(ctx.http().jsonBody(body))
        .build();
    return ctx.http().json(req, RunPodWire.Job.class).thenApply(job -> {
      if (job.id() == null || job.id().isBlank()) {
        throw new CompletionException(new ProviderUnavailableException("/run answered without a job id (status "
            + ctx.redactor().redact(String.valueOf(job.status())) + "); a job may exist", ID, true, true, null, null));
      }
      if (!JOB_ID.matcher(job.id()).matches()) {
        throw new CompletionException(new ProviderUnavailableException("/run answered a job id that cannot be polled or"
            + " cancelled: '" + RunPodErrors.clip(ctx.redactor().redact(job.id())) + "'; the job may run and be billed", ID, false, true, null, null));
      }
      ctx.progress("IN_PROGRESS".equals(job.status()) ? ProgressEvent.running(ID, null, null)
          : ProgressEvent.queued(ID, null, null));
      return job;
    });
  }

  private CompletableFuture<ProviderResult> await(Job job, GenerationContext ctx) {
    return ctx.await(job, POLL.withConfig(ctx.config())).handle((r, e) -> {
      if (e == null) {
        return r;
      }
      Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      if (!job.ended && !ctx.isCancelled()) {
        // polling gave up while the job may still run: cancel it so nobody pays for an image
        // nobody will receive, and never let a retry submit it a second time
        // through the service: retried if it fails, and awaited by close()
        ctx.cancelRemoteJob();
        if (c instanceof ImageGenerationException ige && ige.retryMayHelp()) {
          c = new ProviderUnavailableException("lost track of job " + job.id() + " (" + ige.getMessage()
              + "); a cancel was sent and it is not resubmitted", ID, false, false, null, ige);
        }
      }
      throw new CompletionException(c);
    });
  }

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
    public CompletableFuture<PollResult> poll() {
      HttpRequest req = authorized(ctx.http(), target.endpointId(), "/status/" + jobId).GET().build();
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
      switch (status) {
        case "IN_QUEUE":
          return CompletableFuture.completedFuture(PollResult.pending(ProgressEvent.queued(ID, null, null)));
        case "IN_PROGRESS":
        case "RUNNING":
          return CompletableFuture.completedFuture(PollResult.pending(ProgressEvent.running(ID, null, null)));
        case "COMPLETED":
          ended = true;
          return completed(job);
        case "FAILED":
        case "TIMED_OUT":
        case "CANCELLED":
          ended = true;
          return CompletableFuture.completedFuture(PollResult.failed(RunPodErrors.jobEnded(ID, status, jobId, job.error(),
              job.output(), job.workerId(), ctx.json(), ctx.redactor())));
        default:
          ctx.log().debug("job {} reports status '{}', polling on", jobId, status);
          return CompletableFuture.completedFuture(PollResult.pending(null));
      }
    }

    private CompletableFuture<PollResult> completed(RunPodWire.Job job) {
      RunPodOutput out = RunPodOutput.of(job.output());
      if (out.images().isEmpty()) {
        String errors = out.errors().isEmpty() ? "" : ": " + RunPodErrors.clip(ctx.redactor().redact(String.join("; ", out.errors())));
        return CompletableFuture.completedFuture(PollResult.failed(new ProviderUnavailableException("job " + jobId
            + " completed without images" + errors, ID, false, false, null, null)));
      }
      ctx.progress(ProgressEvent.of(ID, ProgressEvent.Stage.DOWNLOADING));
      Long seed = out.seed() != null ? out.seed() : request.seed();
      long t0 = System.nanoTime();
      List<CompletableFuture<GeneratedImage>> downloads = new ArrayList<>();
      for (int i = 0; i < out.images().size(); i++) {
        downloads.add(ctx.downloader().image(out.images().get(i), seed, out.nsfw(i)));
      }
      return CompletableFuture.allOf(downloads.toArray(CompletableFuture[]::new)).handle((v, e) -> {
        if (e != null) {
          Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
          return PollResult.failed(c instanceof ImageGenerationException ige ? ige
              : new ProviderUnavailableException("result image of job " + jobId + " could not be read: " + c, ID, false, false,
                  null, null));
        }
        ProviderResult.Builder b = ProviderResult.builder(target.model())
            .remoteJobId(jobId)
            .downloadTime(Duration.ofNanos(System.nanoTime() - t0))
            .metadata("endpoint", target.endpointId())
            .metadata("job_id", jobId)
            .metadata("worker_id", job.workerId())
            .metadata("delay_time_ms", job.delayTime())
            .metadata("execution_time_ms", job.executionTime());
        downloads.forEach(d -> b.image(d.join()));
        if (job.delayTime() != null) {
          b.queueTime(Duration.ofMillis(job.delayTime()));
        }
        if (job.executionTime() != null) {
          b.runTime(Duration.ofMillis(job.executionTime()));
          b.gpuSeconds(job.executionTime() / 1000.0);
        }
        warnings.forEach(b::warning);
        out.errors().forEach(err -> b.warning("worker reported: " + RunPodErrors.clip(ctx.redactor().redact(err))));
        return PollResult.done(b.build());
      });
    }

    @Override
    public CompletableFuture<?> cancel() {
      HttpRequest req = ProviderHttp.retrySafe(authorized(ctx.http(), target.endpointId(), "/cancel/" + jobId))
          .POST(HttpRequest.BodyPublishers.noBody())
          .build();
      return ctx.http().call(req);
    }
  }

  // ------------------------------------------------------------------ health

  /**
   * One endpoint's health.
   *
   * @param endpointId the endpoint
   * @param state what was found
   * @param message details
   * @param inQueue jobs waiting, when read
   * @param ready workers ready, when read
   * @param at when it was read
   */
  record EndpointHealth(String endpointId, ProviderHealth.State state, String message, @Nullable Integer inQueue,
      @Nullable Integer ready, Instant at) {}

  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
    long t0 = System.nanoTime();
    List<CompletableFuture<EndpointHealth>> checks = new ArrayList<>();
    for (String e : settings.endpointIds()) {
      checks.add(endpointHealth(e, ctx));
    }
    return CompletableFuture.allOf(checks.toArray(CompletableFuture[]::new)).handle((v, x) -> {
      List<EndpointHealth> all = checks.stream().map(c -> c.getNow(null)).filter(h -> h != null).toList();
      return combine(all, Duration.ofNanos(System.nanoTime() - t0));
    });
  }

  private ProviderHealth combine(List<EndpointHealth> all, Duration latency) {
    if (all.isEmpty()) {
      return new ProviderHealth(ID, ProviderHealth.State.DOWN, latency, "no endpoint answered", null, null);
    }
    ProviderHealth.State state;
    if (all.stream().anyMatch(h -> h.state() == ProviderHealth.State.AUTH_FAILED)) {
      state = ProviderHealth.State.AUTH_FAILED;
    } else if (all.stream().allMatch(h -> h.state() == ProviderHealth.State.DOWN)) {
      state = ProviderHealth.State.DOWN;
    } else if (all.stream().anyMatch(h -> h.state() != ProviderHealth.State.UP)) {
      state = ProviderHealth.State.DEGRADED;
    } else {
      state = ProviderHealth.State.UP;
    }
    Integer queue = sum(all.stream().map(EndpointHealth::inQueue).toList());
    Integer ready = sum(all.stream().map(EndpointHealth::ready).toList());
    String message = all.size() == 1 ? all.get(0).message()
        : String.join("; ", all.stream().map(h -> h.endpointId() + ": " + h.message()).toList());
    return new ProviderHealth(ID, state, latency, message, queue, ready);
  }

  private static @Nullable Integer sum(List<@Nullable Integer> values) {
    Integer total = null;
    for (Integer v : values) {
      if (v != null) {
        total = (total == null ? 0 : total) + v;
      }
    }
    return total;
  }

  /** Reads {@code GET /{endpoint}/health}; never fails. */
  private CompletableFuture<EndpointHealth> endpointHealth(String endpointId, ProviderContext ctx) {
    HttpRequest req = authorized(ctx.http(), endpointId, "/health").GET().build();
    return ctx.http().send(req, ProviderHttp.MAX_API_BODY_BYTES).handle((r, e) -> {
      EndpointHealth h;
      if (e != null) {
        Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        h = new EndpointHealth(endpointId, ProviderHealth.State.DOWN, "unreachable: " + c.getMessage(), null, null, Instant.now());
      } else if (!r.isSuccess()) {
        ImageGenerationException err = ctx.http().mapError(r);
        ProviderHealth.State s = r.status() == 401 || r.status() == 403 ? ProviderHealth.State.AUTH_FAILED
            : ProviderHealth.State.DOWN;
        h = new EndpointHealth(endpointId, s, err.getMessage(), null, null, Instant.now());
      } else {
        h = fromBody(endpointId, r, ctx);
      }
      healthCache.put(endpointId, h);
      return h;
    });
  }

  private EndpointHealth fromBody(String endpointId, HttpResult r, ProviderContext ctx) {
    RunPodWire.Health body;
    try {
      body = ctx.http().parse(r, RunPodWire.Health.class);
    } catch (CompletionException e) {
      String m = e.getCause() != null ? e.getCause().getMessage() : e.getMessage();
      return new EndpointHealth(endpointId, ProviderHealth.State.DOWN, String.valueOf(m), null, null, Instant.now());
    }
    Integer inQueue = body.jobs() == null ? null : body.jobs().inQueue();
    RunPodWire.Workers w = body.workers();
    Integer ready = w == null ? null : w.ready() != null ? w.ready() : w.idle();
    int running = w == null || w.running() == null ? 0 : w.running();
    int initializing = w == null || w.initializing() == null ? 0 : w.initializing();
    int throttled = w == null || w.throttled() == null ? 0 : w.throttled();
    boolean cold = ready != null && ready == 0;
    boolean degraded = cold && inQueue != null && inQueue >= settings.degradedQueueDepth;
    StringBuilder m = new StringBuilder();
    m.append(degraded ? "cold with a long queue: " : cold ? "cold: " : "").append(ready == null ? "?" : ready)
        .append(" workers ready, ").append(running).append(" running");
    if (initializing > 0) {
      m.append(", ").append(initializing).append(" initializing");
    }
    if (throttled > 0) {
      m.append(", ").append(throttled).append(" throttled");
    }
    m.append("; ").append(inQueue == null ? "?" : inQueue).append(" jobs queued");
    return new EndpointHealth(endpointId, degraded ? ProviderHealth.State.DEGRADED : ProviderHealth.State.UP, m.toString(),
        inQueue, ready, Instant.now());
  }

  /**
   * When the deadline is close, skips an endpoint that is cold with a queue (failing over costs
   * nothing; a job that starts too late is cancelled, possibly after a billed cold start).
   */
  private CompletableFuture<Void> coldStartCheck(RunPodSettings.Target target, GenerationContext ctx) {
    Duration allowance = settings.coldStartAllowance;
    Duration left = ctx.remaining();
    if (allowance.isZero() || allowance.isNegative() || left.compareTo(allowance) >= 0) {
      return CompletableFuture.completedFuture(null);
    }
    EndpointHealth cached = healthCache.get(target.endpointId());
    CompletableFuture<@Nullable EndpointHealth> reading;
    if (cached != null && cached.at().plus(settings.healthCache).isAfter(Instant.now())) {
      reading = CompletableFuture.completedFuture(cached);
    } else {
      Duration limit = left.dividedBy(4).compareTo(HEALTH_CHECK_LIMIT) < 0 ? left.dividedBy(4) : HEALTH_CHECK_LIMIT;
      reading = endpointHealth(target.endpointId(), ctx).<@Nullable EndpointHealth>thenApply(h -> h)
          .completeOnTimeout(null, Math.max(1, limit.toMillis()), TimeUnit.MILLISECONDS);
    }
    return reading.thenAccept(h -> {
      if (h != null && h.state() == ProviderHealth.State.DEGRADED) {
        Duration now = ctx.remaining();
        throw new CompletionException(new ProviderUnavailableException("endpoint " + target.endpointId() + " is "
            + h.message() + "; with " + now.toSeconds() + " s left (under cold-start-allowance " + allowance.toSeconds()
            + " s) the job was not submitted", ID, false, false, null, null));
      }
    });
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

  private HttpRequest.Builder authorized(ProviderHttp http, String endpointId, String path) {
    URI uri = ProviderHttp.join(settings.baseUrl, "/" + endpointId + path);
    return http.request(uri).header("Authorization", "Bearer " + settings.apiKey.reveal());
  }
}
