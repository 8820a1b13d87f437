package dev.imagegen.spi;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ProviderUnavailableException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The HTTP exchange every remote provider shares: asynchronous sends over the service's
 * {@link HttpClient} (no thread held while waiting), a {@code User-Agent} naming imagegen and its
 * version, per-call timeouts bounded by the attempt's deadline, cancellation when the attempt is
 * cancelled, a size limit on bodies, and mapping of transport faults and error answers to
 * imagegen's exceptions (the provider's {@link ImageProvider#mapError} first, then
 * {@link HttpErrors}). Secrets are scrubbed from error bodies before they reach a message.
 *
 * <p>Created by the service for each provider and each attempt; thread-safe.
 *
 * <p>On cancellation, reads in flight (GET, HEAD) are aborted and new ones refused; a request
 * that may create or cancel a job (POST, PUT, DELETE) runs to its answer with a short timeout,
 * so that a job it created is known and can be cancelled instead of left running.
 *
 * <p>Transport faults: a refused connection or a connect timeout is safe to retry. A reset, a
 * timeout or a malformed answer after a non-idempotent request (POST) was sent is reported with
 * {@link ProviderUnavailableException#outcomeUnknown()}: the provider may have created a job.
 */
public final class ProviderHttp {
  /** Largest body read from an API answer (not an image download), in bytes. */
  public static final long MAX_API_BODY_BYTES = 64L * 1024 * 1024;
  private static final Duration CLEANUP_TIMEOUT = Duration.ofSeconds(10);
  private static final Set<String> IDEMPOTENT = Set.of("GET", "HEAD", "PUT", "DELETE", "OPTIONS");
  private static final Set<String> READS = Set.of("GET", "HEAD", "OPTIONS");

  private final ProviderContext context;
  private final HttpClient client;
  private final String userAgent;
  private final @Nullable GenerationContext generation;
  private final Function<HttpResult, @Nullable ImageGenerationException> providerMapper;
  private final Duration timeout;
  private final java.util.concurrent.Executor continuations;

  /**
   * Created by the service; providers get theirs from {@link ProviderContext#http()}.
   *
   * @param context the provider's context (id, config, JSON, redactor)
   * @param client the shared client
   * @param userAgent the {@code User-Agent} value
   * @param generation the attempt this exchange is bound to, or null outside a generation
   * @param providerMapper the provider's error mapping, returning null for the default
   */
  public ProviderHttp(ProviderContext context, HttpClient client, String userAgent, @Nullable GenerationContext generation,
      Function<HttpResult, @Nullable ImageGenerationException> providerMapper) {
    this.context = context;
    this.client = client;
    this.userAgent = userAgent;
    this.generation = generation;
    this.providerMapper = providerMapper;
    this.timeout = context.config().duration(ProviderConfig.TIMEOUT, Duration.ofSeconds(60));
    this.continuations = client.executor().orElse(Runnable::run);
  }

  private ProviderHttp(ProviderHttp from, ProviderContext context, GenerationContext generation) {
    this.context = context;
    this.client = from.client;
    this.userAgent = from.userAgent;
    this.generation = generation;
    this.providerMapper = from.providerMapper;
    this.timeout = from.timeout;
    this.continuations = from.continuations;
  }

  /**
   * This exchange bound to one attempt (its deadline and cancellation), sharing everything else.
   * Called by the service for each attempt.
   *
   * @param generation the attempt
   * @return the bound exchange
   */
  public ProviderHttp bind(GenerationContext generation) {
    return new ProviderHttp(this, generation, generation);
  }

  /**
   * Joins a base URL and a path.
   *
   * @param base e.g. {@code https://api.example.com/v1}
   * @param path e.g. {@code /predictions} (a leading slash is optional)
   */
  public static URI join(URI base, String path) {
    String b = base.toString();
    if (b.endsWith("/")) {
      b = b.substring(0, b.length() - 1);
    }
    return URI.create(b + (path.startsWith("/") ? path : "/" + path));
  }

  /** The {@code User-Agent} sent, e.g. {@code imagegen-java/0.1.0}. */
  public String userAgent() {
    return userAgent;
  }

  /**
   * The timeout for the next call: the configured {@code timeout}, shortened to the attempt's
   * remaining time.
   */
  public Duration timeout() {
    if (generation == null) {
      return timeout;
    }
    if (generation.isCancelled()) {
      // clean-up after a cancel or a passed deadline (the remote cancel itself) still gets time
      return timeout.compareTo(CLEANUP_TIMEOUT) < 0 ? timeout : CLEANUP_TIMEOUT;
    }
    Duration left = generation.remaining();
    Duration t = left.compareTo(timeout) < 0 ? left : timeout;
    return t.compareTo(Duration.ofMillis(1)) < 0 ? Duration.ofMillis(1) : t;
  }

  /**
   * A request builder with imagegen's {@code User-Agent}, {@code Accept: application/json} and
   * the timeout set.
   *
   * @param uri the target
   */
  public HttpRequest.Builder request(URI uri) {
    return HttpRequest.newBuilder(uri).timeout(timeout()).header("User-Agent", userAgent).header("Accept", "application/json");
  }

  /**
   * A JSON body for a request.
   *
   * @param body a record, map or JsonNode
   * @throws IllegalArgumentException when it cannot be written as JSON
   */
  public HttpRequest.BodyPublisher jsonBody(Object body) {
    try {
      return HttpRequest.BodyPublishers.ofByteArray(context.json().writeValueAsBytes(body));
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(context.providerId() + ": cannot write request body as JSON", e);
    }
  }

  /**
   * Sends a request and returns the answer whatever its status; only transport faults fail.
   *
   * @param request the request
   * @param maxBodyBytes largest body accepted
   */
  public CompletableFuture<HttpResult> send(HttpRequest request, long maxBodyBytes) {
    boolean read = READS.contains(request.method());
    if (generation != null && generation.isCancelled() && read) {
      return CompletableFuture.failedFuture(new GenerationCancelledException("cancelled before sending", context.providerId()));
    }
    CompletableFuture<HttpResponse<byte[]>> sent;
    try {
      sent = client.sendAsync(request, info -> new LimitedBody(info, maxBodyBytes));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(transportFault(request, e));
    }
    if (generation != null && read) {
      // reads are aborted on cancel; a submit is left to finish so that the job it creates is
      // known, and then cancelled, rather than orphaned and billed
      generation.onCancel(() -> sent.cancel(true));
    }
    CompletableFuture<HttpResult> out = new CompletableFuture<>();
    // leave the thread the JDK completes sendAsync on at once: on hosts whose common pool has a
    // single worker it is a new thread per answer, which would otherwise run all that follows
    sent.whenCompleteAsync((r, e) -> {
      if (e != null) {
        out.completeExceptionally(transportFault(request, e));
      } else {
        out.complete(new HttpResult(request.method(), request.uri(), r.statusCode(), r.headers(), r.body()));
      }
    }, continuations);
    return out;
  }

  /**
   * Sends a request; a non-2xx answer fails with the mapped exception.
   *
   * @param request the request
   */
  public CompletableFuture<HttpResult> call(HttpRequest request) {
    return send(request, MAX_API_BODY_BYTES).thenApply(r -> {
      if (!r.isSuccess()) {
        throw new CompletionException(mapError(r));
      }
      return r;
    });
  }

  /**
   * Sends a request and parses the 2xx answer as JSON. An empty or malformed body fails with a
   * {@link ProviderUnavailableException} naming the provider (outcome unknown after a POST).
   *
   * @param request the request
   */
  public CompletableFuture<JsonNode> json(HttpRequest request) {
    return call(request).thenApply(r -> parse(r, JsonNode.class));
  }

  /**
   * Sends a request and reads the 2xx answer as a type (records work).
   *
   * @param request the request
   * @param type the type
   * @param <T> the type
   */
  public <T> CompletableFuture<T> json(HttpRequest request, Class<T> type) {
    return call(request).thenApply(r -> parse(r, type));
  }

  /**
   * Reads a 2xx body as a type, failing with a provider-named error when it is empty or malformed.
   *
   * @param r the answer
   * @param type the type
   * @param <T> the type
   */
  public <T> T parse(HttpResult r, Class<T> type) {
    boolean unknown = !IDEMPOTENT.contains(r.method());
    if (r.body().length == 0 || new String(r.body(), StandardCharsets.UTF_8).isBlank()) {
      throw new CompletionException(new ProviderUnavailableException("empty answer from " + r.uri().getPath() + " (HTTP "
          + r.status() + ")", context.providerId(), true, unknown, null, null));
    }
    try {
      T value = context.json().readValue(r.body(), type);
      if (value == null) {
        throw new IOException("null body");
      }
      return value;
    } catch (IOException e) {
      throw new CompletionException(new ProviderUnavailableException("malformed JSON from " + r.uri().getPath() + " (HTTP "
          + r.status() + "): " + e.getClass().getSimpleName(), context.providerId(), true, unknown, null, null));
    }
  }

  /**
   * Maps an error answer: the provider's mapping first, then {@link HttpErrors}.
   *
   * @param r the answer
   */
  public ImageGenerationException mapError(HttpResult r) {
    HttpResult clean = scrub(r);
    ImageGenerationException e = providerMapper.apply(clean);
    return e != null ? e : HttpErrors.map(context.providerId(), clean, context.json());
  }

  private HttpResult scrub(HttpResult r) {
    String text = r.text();
    String redacted = context.redactor().redact(text);
    if (redacted == null || redacted.equals(text)) {
      return r;
    }
    return new HttpResult(r.method(), r.uri(), r.status(), r.headers(), redacted.getBytes(StandardCharsets.UTF_8));
  }

  private Throwable transportFault(HttpRequest request, Throwable e) {
    Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    if (cause instanceof ImageGenerationException) {
      return cause;
    }
    if (cause instanceof CancellationException) {
      return new GenerationCancelledException("HTTP call cancelled", context.providerId(), null);
    }
    String what = request.method() + " " + request.uri().getPath();
    boolean unknown = !IDEMPOTENT.contains(request.method());
    if (cause instanceof HttpConnectTimeoutException || cause instanceof ConnectException) {
      return new ProviderUnavailableException("could not connect (" + what + "): " + describe(cause), context.providerId(),
          true, false, null, null);
    }
    if (cause instanceof HttpTimeoutException) {
      return new ProviderUnavailableException("no answer within " + request.timeout().map(Duration::toString).orElse("the timeout")
          + " (" + what + ")" + (unknown ? "; the request was sent, its outcome is unknown" : ""), context.providerId(), true,
          unknown, null, null);
    }
    if (cause instanceof BodyTooLarge) {
      return new ProviderUnavailableException(what + ": " + cause.getMessage(), context.providerId(), false, false, null, null);
    }
    return new ProviderUnavailableException("connection failed (" + what + "): " + describe(cause)
        + (unknown ? "; the request was sent, its outcome is unknown" : ""), context.providerId(), true, unknown, null, null);
  }

  private String describe(Throwable t) {
    String m = t.getMessage();
    return context.redactor().redact(t.getClass().getSimpleName() + (m == null ? "" : ": " + m));
  }

  /** Raised when a body exceeds its limit. */
  static final class BodyTooLarge extends IOException {
    private static final long serialVersionUID = 1L;

    BodyTooLarge(String message) {
      super(message);
    }
  }

  /** Collects a body, failing as soon as it exceeds the limit (by Content-Length or by counting). */
  private static final class LimitedBody implements HttpResponse.BodySubscriber<byte[]> {
    private final CompletableFuture<byte[]> result = new CompletableFuture<>();
    private final List<ByteBuffer> buffers = new ArrayList<>();
    private final long limit;
    private long received;
    private Flow.@Nullable Subscription subscription;

    LimitedBody(HttpResponse.ResponseInfo info, long limit) {
      this.limit = limit;
      HttpHeaders h = info.headers();
      long declared = h.firstValueAsLong("Content-Length").orElse(-1);
      if (declared > limit) {
        result.completeExceptionally(new BodyTooLarge("body of " + declared + " bytes exceeds the limit of " + limit + " bytes"));
      }
    }

    @Override
    public CompletionStage<byte[]> getBody() {
      return result;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      subscription = s;
      if (result.isDone()) {
        s.cancel();
      } else {
        s.request(Long.MAX_VALUE);
      }
    }

    @Override
    public void onNext(List<ByteBuffer> items) {
      if (result.isDone()) {
        return;
      }
      for (ByteBuffer b : items) {
        received += b.remaining();
        buffers.add(b);
      }
      if (received > limit) {
        buffers.clear();
        result.completeExceptionally(new BodyTooLarge("body exceeds the limit of " + limit + " bytes"));
        Flow.Subscription s = subscription;
        if (s != null) {
          s.cancel();
        }
      }
    }

    @Override
    public void onError(Throwable t) {
      result.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
      if (result.isDone()) {
        return;
      }
      byte[] out = new byte[(int) received];
      int pos = 0;
      for (ByteBuffer b : buffers) {
        int n = b.remaining();
        b.get(out, pos, n);
        pos += n;
      }
      buffers.clear();
      result.complete(out);
    }
  }
}
