package dev.imagegen.testkit.example;

import com.fasterxml.jackson.databind.JsonNode;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InsufficientCreditsException;
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
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.RemoteJob;
import dev.imagegen.spi.Secret;
import java.math.BigDecimal;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.jspecify.annotations.Nullable;

/**
 * The example provider: Acme's made-up queue API ({@link AcmeWire}) on imagegen's SPI support.
 * It is only its wire protocol: request mapping ({@link AcmeWire.Submit#of}), status polling
 * ({@link #poll}) through {@code ctx.await}, error mapping ({@link #mapError}), its price list and
 * its factory. HTTP, retries, deadlines, cancellation, downloads and redaction are core's.
 *
 * <p>Not final, and its steps are package-private methods, only so that the kit's own tests can
 * break it one way at a time.
 */
class AcmeProvider implements ImageProvider {
  static final String ID = "acme";
  static final String DEFAULT_BASE_URL = "https://api.acme.example";
  static final String DEFAULT_MODEL = "acme-1";
  /** Acme's documents: never poll more often than every 100 ms. */
  static final Duration POLL_FLOOR = Duration.ofMillis(100);
  static final PollPolicy POLLING = new PollPolicy(Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(5),
      1.2, POLL_FLOOR, 8);

  final ProviderConfig config;
  final URI base;
  final Secret key;

  AcmeProvider(ProviderConfig config) {
    this.config = config;
    this.base = config.baseUrl(DEFAULT_BASE_URL);
    this.key = Secret.of(config.require(ProviderConfig.API_KEY));
  }

  @Override
  public String id() {
    return ID;
  }

  @Override
  public ProviderCapabilities capabilities() {
    return ProviderCapabilities.builder().models(DEFAULT_MODEL).anyModel(true).sizes(64, 2048, 8).maxSteps(50)
        .negativePrompt(true).seed(true).queued(true).cancellable(true).build();
  }

  @Override
  public CostModel costModel() {
    return CostModel.fromConfig(config, CostModel.perImage(new BigDecimal("0.01")));
  }

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    return submit(request, ctx).thenCompose(job -> ctx.await(remoteJob(job, ctx), policy(ctx)));
  }

  // ------------------------------------------------------------------ steps

  CompletableFuture<AcmeWire.Job> submit(ImageGenerationRequest request, GenerationContext ctx) {
    return ctx.http().json(submitRequest(request, ctx), AcmeWire.Job.class).thenApply(job -> {
      if (job.id() == null || job.id().isBlank()) {
        throw new CompletionException(new ProviderUnavailableException("answered the submit without a job id", ID,
            false, true, null, null));
      }
      return job;
    });
  }

  HttpRequest submitRequest(ImageGenerationRequest request, GenerationContext ctx) {
    return authorized(ctx.http(), "/v1/jobs")
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", ctx.generationId())
        .POST(ctx.http().jsonBody(submitBody(request)))
        .build();
  }

  Object submitBody(ImageGenerationRequest request) {
    return AcmeWire.Submit.of(request);
  }

  PollPolicy policy(GenerationContext ctx) {
    return POLLING.withConfig(ctx.config());
  }

  RemoteJob remoteJob(AcmeWire.Job job, GenerationContext ctx) {
    String id = java.util.Objects.requireNonNull(job.id());
    return new RemoteJob() {
      @Override public String id() { return id; }
      @Override public CompletableFuture<PollResult> poll() { return AcmeProvider.this.poll(id, ctx); }
      @Override public CompletableFuture<?> cancel() { return AcmeProvider.this.cancel(id, ctx); }
    };
  }

  CompletableFuture<PollResult> poll(String jobId, GenerationContext ctx) {
    HttpRequest get = authorized(ctx.http(), "/v1/jobs/" + encode(jobId)).GET().build();
    return ctx.http().json(get, AcmeWire.Job.class).thenCompose(job -> result(jobId, job, ctx));
  }

  CompletableFuture<PollResult> result(String jobId, AcmeWire.Job job, GenerationContext ctx) {
    String status = job.status() == null ? "" : job.status();
    switch (status) {
      case "QUEUED":
      case "RUNNING":
        return CompletableFuture.completedFuture(PollResult.pending(progress(job)));
      case "DONE": {
        AcmeWire.Output out = job.output();
        if (out == null || out.url() == null || out.url().isBlank()) {
          return failed(new ProviderUnavailableException("job " + jobId + " is done but has no output url", ID, false,
              false, null, null));
        }
        String model = job.model() == null ? DEFAULT_MODEL : job.model();
        return image(out, ctx).thenApply(img -> PollResult.done(ProviderResult.builder(model).image(img)
            .remoteJobId(jobId).build()));
      }
      case "FAILED":
        return failed(jobError(jobId, job.error()));
      case "CANCELLED":
        return failed(new GenerationCancelledException("job " + jobId + " was cancelled at Acme", ID));
      default:
        return failed(new ProviderUnavailableException("job " + jobId + " has an unknown status '" + status + "'", ID,
            false, false, null, null));
    }
  }

  @Nullable ProgressEvent progress(AcmeWire.Job job) {
    return "QUEUED".equals(job.status()) ? ProgressEvent.queued(ID, job.queuePosition(), null)
        : ProgressEvent.running(ID, job.percent(), null);
  }

  CompletableFuture<GeneratedImage> image(AcmeWire.Output out, GenerationContext ctx) {
    return ctx.downloader().image(java.util.Objects.requireNonNull(out.url()), out.seed(), Boolean.TRUE.equals(out.nsfw()));
  }

  CompletableFuture<?> cancel(String jobId, GenerationContext ctx) {
    HttpRequest post = authorized(ctx.http(), "/v1/jobs/" + encode(jobId) + "/cancel")
        .POST(HttpRequest.BodyPublishers.noBody()).build();
    return ctx.http().call(post);
  }

  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
    long t0 = System.nanoTime();
    HttpRequest get = authorized(ctx.http(), "/v1/account").GET().build();
    return ctx.http().json(get).handle((json, e) -> {
      Duration took = Duration.ofNanos(System.nanoTime() - t0);
      if (e == null) {
        JsonNode credits = json.get("credits");
        return new ProviderHealth(ID, ProviderHealth.State.UP, took, credits == null ? null : "credits " + credits.asText(),
            null, null);
      }
      Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      ProviderHealth.State state = c instanceof AuthenticationException ? ProviderHealth.State.AUTH_FAILED
          : ProviderHealth.State.DOWN;
      return new ProviderHealth(ID, state, took, c.getMessage(), null, null);
    });
  }

  /** Acme's codes that the status alone does not tell; everything else maps by status. */
  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext ctx) {
    JsonNode json = response.jsonOrNull(ctx.json());
    if (json == null) {
      return null;
    }
    String code = json.path("error").path("code").asText("");
    String message = json.path("error").path("message").asText("");
    switch (code) {
      case "content_policy":
        return new ContentPolicyException("prompt refused (HTTP " + response.status() + "): " + message, ID);
      case "insufficient_credits":
        return new InsufficientCreditsException("out of credit (HTTP " + response.status() + "): " + message, ID, null);
      default:
        return null;
    }
  }

  ImageGenerationException jobError(String jobId, AcmeWire.@Nullable Error error) {
    String code = error == null || error.code() == null ? "" : error.code();
    String message = "job " + jobId + " failed: " + (error == null || error.message() == null ? code : error.message());
    switch (code) {
      case "content_policy":
        return new ContentPolicyException(message, ID);
      case "invalid_request":
        return new InvalidRequestException(List.of(message), ID, null);
      default:
        // a worker failure: another provider may well succeed; resubmitting here would charge again
        return new ProviderUnavailableException(message, ID, false, false, null, null);
    }
  }

  HttpRequest.Builder authorized(ProviderHttp http, String path) {
    return http.request(ProviderHttp.join(base, path)).header("Authorization", "Bearer " + key.reveal());
  }

  static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  static CompletableFuture<PollResult> failed(ImageGenerationException e) {
    return CompletableFuture.completedFuture(PollResult.failed(e));
  }

  @Override
  public String toString() {
    return "AcmeProvider[" + base + "]";
  }
}
