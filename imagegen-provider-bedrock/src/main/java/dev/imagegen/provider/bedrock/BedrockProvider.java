package dev.imagegen.provider.bedrock;

import com.fasterxml.jackson.databind.JsonNode;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.provider.bedrock.BedrockModels.Family;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HealthCheck;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.ProviderSupport;
import dev.imagegen.spi.PriceTable;
import dev.imagegen.spi.SoftInput;
import java.net.ConnectException;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpHeaders;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.ProfileCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.ApiCallTimeoutException;
import software.amazon.awssdk.http.SdkHttpResponse;
import software.amazon.awssdk.http.async.SdkAsyncHttpClient;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.profiles.ProfileFile;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.bedrockruntime.BedrockRuntimeAsyncClient;
import software.amazon.awssdk.services.bedrockruntime.BedrockRuntimeAsyncClientBuilder;
import software.amazon.awssdk.services.bedrockruntime.auth.scheme.BedrockRuntimeAuthSchemeProvider;
import software.amazon.awssdk.services.bedrockruntime.model.InvokeModelRequest;
import software.amazon.awssdk.services.bedrockruntime.model.InvokeModelResponse;

/**
 * Amazon Bedrock's image models through {@code InvokeModel}. Each generation is one signed
 * {@code POST /model/{modelId}/invoke} sent by the AWS SDK's asynchronous client over Netty (no
 * thread waits for an answer); the SDK's own retries are off, so the engine's retry, failover and
 * unknown-outcome rules apply. The SDK's HTTP does not go through core's {@code ProviderHttp}, so
 * this class applies core's limits itself: the call's timeout is the configured {@code timeout}
 * shortened to the attempt's deadline ({@code GenerationContext.http().timeout()}), a cancelled
 * attempt cancels the SDK's future (which closes the connection), the answer's body is cut off
 * past the room for five images of {@code max-image-bytes} ({@link BoundedHttpClient}), images are
 * decoded and checked by {@code ctx.downloader()}, and answers and error bodies are read and mapped
 * by {@code ctx.http().parse} and {@code ctx.http().mapError} (which scrub known secrets and make a
 * 5xx an unknown outcome).
 *
 * <p>Thread-safe.
 */
final class BedrockProvider implements ImageProvider {
  /** The longest the health probe may take: it is refused before any model runs. */
  private static final Duration HEALTH_TIMEOUT = Duration.ofSeconds(10);
  private final ProviderConfig config;
  final BedrockSettings settings;
  private final SdkAsyncHttpClient http;
  private final BedrockRuntimeAsyncClient client;
  private final PriceTable prices;
  private final ProviderCapabilities capabilities;

  BedrockProvider(ProviderConfig config) {
    this.config = config;
    this.settings = new BedrockSettings(config);
    PriceTable.Builder pb = PriceTable.builder(config.providerId()).modelOf(r -> modelOf(r));
    BedrockModels.ALIASES.forEach((alias, model) -> pb.alias(alias, model));
    // no built-in price: AWS's price list could not be confirmed, so every model is unknown until price.<model> is set
    this.prices = pb.build(config);
    this.capabilities = ProviderCapabilities.builder()
        .models(new LinkedHashSet<>(names()))
        .modelNames(name -> BedrockModels.family(name) != null)
        .sizes(320, 4096, 16)
        .maxSteps(Integer.MAX_VALUE)
        .negativePrompt(true)
        .seed(true)
        .img2img(true)
        .mask(true)
        .maxReferenceImages(BedrockMapping.MAX_IMAGES)
        .maxImagesPerRequest(BedrockMapping.MAX_IMAGES)
        .ignores(SoftInput.STEPS, SoftInput.SAMPLER)
        .modelInputs(r -> {
          Family f = BedrockModels.family(modelOf(r));
          return f == Family.STABILITY ? EnumSet.of(SoftInput.GUIDANCE) : Set.of();
        })
        .optionKeys(BedrockMapping.OPTION_KEYS)
        .build();
    NettyNioAsyncHttpClient.Builder netty = NettyNioAsyncHttpClient.builder()
        .eventLoopGroup(EventLoops.GROUP)
        .maxConcurrency(settings.maxConcurrency)
        .connectionTimeout(settings.callTimeout.compareTo(Duration.ofSeconds(10)) < 0 ? settings.callTimeout
            : Duration.ofSeconds(10))
        .readTimeout(settings.callTimeout)
        .writeTimeout(settings.callTimeout);
    this.http = new BoundedHttpClient(netty.build(), settings.maxAnswerBytes());
    BedrockRuntimeAsyncClientBuilder b = BedrockRuntimeAsyncClient.builder()
        .region(Region.of(settings.region))
        .credentialsProvider(credentials(settings))
        .httpClient(http)
        // SigV4 always: without this, AWS_BEARER_TOKEN_BEDROCK in the environment silently switches the client to bearer auth
        .authSchemeProvider(BedrockRuntimeAuthSchemeProvider.defaultProvider(List.of("sigv4")))
        // the engine retries (with its budget, breaker and unknown-outcome rules): the SDK must not retry too
        .overrideConfiguration(o -> {
          o.retryStrategy(AwsRetryStrategy.doNotRetry()).apiCallTimeout(settings.callTimeout);
          if (settings.source == BedrockSettings.CredentialSource.STATIC) {
            // everything comes from imagegen's configuration: nothing is read from ~/.aws/config
            o.defaultProfileFile(ProfileFile.builder().content("").type(ProfileFile.Type.CONFIGURATION).build());
          }
        });
    if (settings.endpoint != null) {
      b.endpointOverride(settings.endpoint);
    }
    this.client = b.build();
  }

  private static AwsCredentialsProvider credentials(BedrockSettings s) {
    switch (s.source) {
      case STATIC: {
        String keyId = java.util.Objects.requireNonNull(s.accessKeyId);
        String secret = java.util.Objects.requireNonNull(s.secretAccessKey).reveal();
        return StaticCredentialsProvider.create(s.sessionToken != null
            ? AwsSessionCredentials.create(keyId, secret, s.sessionToken.reveal()) : AwsBasicCredentials.create(keyId, secret));
      }
      case PROFILE:
        return ProfileCredentialsProvider.create(java.util.Objects.requireNonNull(s.profile));
      default:
        return DefaultCredentialsProvider.builder().build();
    }
  }

  private List<String> names() {
    List<String> out = new ArrayList<>();
    BedrockModels.ALIASES.forEach((alias, model) -> {
      out.add(alias);
      out.add(model);
    });
    out.add(settings.defaultModel);
    return out;
  }

  /** The model id a request runs on: its model (an alias resolved), else {@code model}. */
  String modelOf(ImageGenerationRequest r) {
    String m = r.model();
    return m == null || m.isBlank() ? settings.defaultModel : BedrockModels.resolve(m);
  }

  @Override
  public String id() {
    return config.providerId();
  }

  @Override
  public ProviderCapabilities capabilities() {
    return capabilities;
  }

  /** No built-in prices: {@code price.<model>} (or {@code price-per-image}) prices a model; otherwise the cost is unknown. */
  @Override
  public CostModel costModel() {
    return prices;
  }

  // ------------------------------------------------------------------ generation

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    String modelId = modelOf(request);
    Family family = BedrockModels.family(modelId);
    if (family == null) {
      return CompletableFuture.failedFuture(BedrockMapping.refuse(id(), modelId, "not an image model this provider speaks"));
    }
    List<String> soft = capabilities.warnings(request);
    Set<SoftInput> dropped = EnumSet.noneOf(SoftInput.class);
    dropped.addAll(capabilities.softDrops(request));
    List<InputImage> refs = request.inputImages(InputImage.Role.REFERENCE);
    CompletableFuture<@Nullable String> init = encoded(request.initImage(), ctx);
    CompletableFuture<@Nullable String> mask = encoded(request.mask(), ctx);
    List<CompletableFuture<@Nullable String>> refFutures = new ArrayList<>();
    refs.forEach(r -> refFutures.add(encoded(r, ctx)));
    CompletableFuture<Void> all = CompletableFuture.allOf(init, mask,
        CompletableFuture.allOf(refFutures.toArray(new CompletableFuture<?>[0])));
    return all.thenCompose(v -> {
      List<String> references = new ArrayList<>();
      refFutures.forEach(f -> {
        String s = f.join();
        if (s != null) {
          references.add(s);
        }
      });
      BedrockMapping.Plan plan = BedrockMapping.plan(request, modelId, family,
          new BedrockMapping.Inputs(init.join(), mask.join(), references), soft, dropped, ctx.json(), id());
      if (ctx.isCancelled()) {
        return CompletableFuture.failedFuture(new GenerationCancelledException("cancelled before sending", id()));
      }
      long t0 = System.nanoTime();
      return invoke(ctx, modelId, plan.body().toString(), ctx.http().timeout()).thenCompose(answer -> {
        Duration run = Duration.ofNanos(System.nanoTime() - t0);
        JsonNode json = ctx.http().parse(answer, JsonNode.class);
        BedrockMapping.Answer read = BedrockMapping.read(json, family, plan.images(), plan.seed(), id());
        return ctx.downloader().allOf(read.images()).thenApply(d -> {
          ProviderResult.Builder b = ProviderResult.builder(modelId).images(d.images()).runTime(run)
              .downloadTime(d.took())
              .metadata("task", plan.task())
              .metadata("region", settings.region)
              .metadata("request_id", answer.header(BedrockErrors.REQUEST_ID_HEADER));
          if (read.blocked() > 0) {
            b.metadata("images_blocked", read.blocked());
          }
          plan.warnings().forEach(b::warning);
          read.warnings().forEach(b::warning);
          return b.build();
        });
      });
    });
  }

  /** An input image as bare base64 (a URL is fetched first, through core's downloader). */
  private CompletableFuture<@Nullable String> encoded(@Nullable InputImage image, GenerationContext ctx) {
    return ctx.downloader().inputBase64(image);
  }

  /**
   * Sends one InvokeModel call. A 2xx answer completes with it; an error answer fails with the
   * exception {@code ctx.http().mapError} gives (this provider's rows, then core's); a transport
   * fault fails with an unknown outcome unless nothing was sent (connection refused).
   */
  CompletableFuture<HttpResult> invoke(ProviderContext ctx, String modelId, String body, Duration timeout) {
    URI uri = URI.create(settings.endpointOrDefault().toString().replaceAll("/+$", "") + "/model/" + modelId + "/invoke");
    InvokeModelRequest req = InvokeModelRequest.builder()
        .modelId(modelId)
        .contentType("application/json")
        .accept("application/json")
        .body(SdkBytes.fromString(body, StandardCharsets.UTF_8))
        .overrideConfiguration(o -> o.apiCallTimeout(timeout))
        .build();
    CompletableFuture<InvokeModelResponse> sent;
    try {
      sent = client.invokeModel(req);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(ProviderUnavailableException.failOver("the AWS SDK refused the call: "
          + ctx.redactor().redact(String.valueOf(e.getMessage())), id(), null));
    }
    if (ctx instanceof GenerationContext g) {
      g.onCancel(() -> sent.cancel(true));
    }
    CompletableFuture<HttpResult> out = new CompletableFuture<>();
    sent.whenComplete((r, e) -> {
      try {
        if (e == null) {
          out.complete(new HttpResult("POST", uri, 200, headers(r.sdkHttpResponse()), r.body().asByteArray(), false));
        } else {
          out.completeExceptionally(failure(ctx, uri, e, timeout));
        }
      } catch (RuntimeException x) {
        out.completeExceptionally(ProviderSupport.failure(id(), x));
      }
    });
    return out;
  }

  private ImageGenerationException failure(ProviderContext ctx, URI uri, Throwable e, Duration timeout) {
    Throwable t = ProviderSupport.unwrap(e);
    if (t instanceof AwsServiceException ase && ase.awsErrorDetails() != null) {
      AwsErrorDetails d = ase.awsErrorDetails();
      SdkHttpResponse resp = d.sdkHttpResponse();
      byte[] raw = d.rawResponse() != null ? d.rawResponse().asByteArray() : new byte[0];
      int status = resp != null ? resp.statusCode() : ase.statusCode();
      HttpResult r = new HttpResult("POST", uri, status, resp != null ? headers(resp) : HttpHeaders.of(Map.of(), (a, b) -> true),
          raw, false);
      return ctx.http().mapError(r);
    }
    if (t instanceof CancellationException) {
      return new GenerationCancelledException("InvokeModel cancelled; the request may have been sent", id(), t);
    }
    if (t instanceof ImageGenerationException ige) {
      return ige;
    }
    String what = "POST " + uri.getPath();
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof BoundedHttpClient.BodyTooLargeException big) {
        return ProviderUnavailableException.failOver(what + " answered more than " + big.limit + " bytes, the room for "
            + BedrockMapping.MAX_IMAGES + " images of " + ProviderConfig.MAX_IMAGE_BYTES + "=" + settings.maxImageBytes
            + " bytes as base64; raise imagegen." + id() + "." + ProviderConfig.MAX_IMAGE_BYTES
            + " if images this large are expected", id(), null);
      }
      if (c instanceof ConnectException || c instanceof UnresolvedAddressException || c instanceof UnknownHostException) {
        // nothing was sent: safe to retry, then fail over
        return ProviderUnavailableException.transientFailure("cannot connect to " + ProviderConfig.maskUserInfo(
            settings.endpointOrDefault().toString()) + " (" + c.getClass().getSimpleName() + ")", id(), null);
      }
      if (c instanceof ApiCallTimeoutException || c instanceof ApiCallAttemptTimeoutException || c instanceof TimeoutException
          || c.getClass().getSimpleName().contains("Timeout")) {
        return ProviderUnavailableException.outcomeUnknown("no answer within " + timeout + " (" + what + "); the request was "
            + "sent, its outcome is unknown", id(), null);
      }
    }
    return ProviderUnavailableException.outcomeUnknown(what + " failed: " + t.getClass().getSimpleName() + ": "
        + ctx.redactor().redact(ProviderSupport.clip(String.valueOf(t.getMessage()))) + "; the request may have been sent,"
        + " its outcome is unknown", id(), null);
  }

  private static HttpHeaders headers(SdkHttpResponse r) {
    return HttpHeaders.of(r.headers(), (a, b) -> true);
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return BedrockErrors.map(response, context.json(), id(), settings.region);
  }

  // ------------------------------------------------------------------ health

  /**
   * A signed InvokeModel of the default model with an empty body ({@code {}}): Bedrock checks the
   * signature, the IAM policy, model access and the region before it validates the body, so a
   * {@code ValidationException} means all of those passed, and nothing is generated or billed.
   */
  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
    return HealthCheck.timed(ctx, () -> invoke(ctx, settings.defaultModel, "{}", HEALTH_TIMEOUT.compareTo(settings.callTimeout) < 0
        ? HEALTH_TIMEOUT : settings.callTimeout)
        .handle((ok, e) -> {
          Throwable t = e == null ? null : ProviderSupport.unwrap(e);
          if (t instanceof dev.imagegen.InvalidRequestException) {
            return "model " + settings.defaultModel + " reachable in " + settings.region + " (an empty probe was refused as"
                + " invalid, as intended)";
          }
          if (t != null) {
            throw new java.util.concurrent.CompletionException(t);
          }
          return "model " + settings.defaultModel + " reachable in " + settings.region;
        }), (msg, latency) -> ProviderHealth.of(id(), ProviderHealth.State.UP, latency, msg));
  }

  @Override
  public void close() {
    client.close();
    http.close();
  }

  /**
   * One Netty event loop group for every Bedrock provider in the JVM, of daemon threads, never shut
   * down. A client left to make its own shares the SDK's reference-counted group, and closing the
   * last client shut that group down with Netty's 2 s quiet period, inside {@code close()}: every
   * service's close waited 2 s. A client given a group leaves it running.
   */
  private static final class EventLoops {
    static final software.amazon.awssdk.http.nio.netty.SdkEventLoopGroup GROUP = group();

    private static software.amazon.awssdk.http.nio.netty.SdkEventLoopGroup group() {
      java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
      return software.amazon.awssdk.http.nio.netty.SdkEventLoopGroup.builder()
          .threadFactory(r -> {
            Thread t = new Thread(r, "imagegen-bedrock-netty-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
          })
          .build();
    }
  }

  /** The class, id, region and endpoint; never a credential. */
  @Override
  public String toString() {
    return "BedrockProvider[" + id() + ", " + settings.region + ", " + ProviderConfig.maskUserInfo(
        settings.endpointOrDefault().toString()) + "]";
  }
}
