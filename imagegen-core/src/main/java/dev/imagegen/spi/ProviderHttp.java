package dev.imagegen.spi;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.imagegen.ErrorKind;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
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
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The HTTP exchange every remote provider shares: asynchronous sends over the service's
 * {@link HttpClient} (no thread held while waiting), a {@code User-Agent} naming imagegen and its
 * version, per-call timeouts bounded by the attempt's deadline, cancellation when the attempt is
 * cancelled, a size limit on bodies, and mapping of transport faults and error answers to
 * imagegen's exceptions (the provider's {@link ImageProvider#mapError} first, then
 * {@link HttpErrors}). Secrets are scrubbed from error bodies, after their JSON is decoded, before
 * they reach a message; the values of credential headers a provider sends ({@code Authorization},
 * {@code apikey}, {@code x-key}, ...) are registered with the {@link Redactor} as they go out.
 *
 * <p>Created by the service for each provider and each attempt; thread-safe.
 *
 * <p>Timeouts: a call's timeout (the request's, else {@link #timeout()}) bounds the whole
 * exchange, the answer's headers and its body, redirects included. An exchange given up on (a
 * timeout, a cancelled read, a body over its limit) is aborted and its connection closed.
 *
 * <p>On cancellation, reads in flight (GET, HEAD) are aborted and new ones refused; a request
 * that may create or cancel a job (POST, PUT, DELETE) runs to its answer with a short timeout,
 * so that a job it created is known and can be cancelled instead of left running.
 *
 * <p>Outcomes of non-idempotent requests: a POST not marked with {@link #retrySafe} may create a
 * paid job. Only answers that prove nothing was created leave it retryable: a refused connection
 * or a connect timeout (nothing was sent), and 4xx answers other than 408 (refused credentials,
 * rate limits, validation errors; the provider's {@link ImageProvider#mapError} decides their
 * kind). A 408 or 5xx answer, a reset or timeout after sending, and an empty or malformed 2xx
 * answer are reported with {@link ProviderUnavailableException#outcomeUnknown()}: the provider may
 * have created a job, so it is never resubmitted blindly.
 *
 * <p>Redirects: the service's client does not follow redirects itself. An API call follows a
 * redirect only to the same origin (scheme, host and port), at most {@value #MAX_REDIRECTS}
 * times; a redirect to another origin is refused, so that neither credentials nor a paid request
 * body ever reach another host. Result downloads ({@link ImageDownloader}) follow redirects to any
 * origin, without credentials, checking every hop's address. An {@link HttpClient} given to the
 * service that follows redirects itself cannot be stopped from sending headers to the target:
 * such a client is warned about once, and an answer it fetched from another origin is refused.
 */
public final class ProviderHttp {
  /**
   * Largest body read from an API answer that carries no images (a model list, a health check),
   * in bytes. Answers that may carry images are bounded by {@link #bodyLimit(int)} instead.
   */
  public static final long MAX_API_BODY_BYTES = 64L * 1024 * 1024;
  /** Smallest limit {@link #bodyLimit(int)} returns, in bytes: a JSON answer without images fits well under it. */
  public static final long MIN_API_BODY_BYTES = 16L * 1024 * 1024;
  /** Most redirects followed for one call. */
  public static final int MAX_REDIRECTS = 5;
  private static final long BODY_MARGIN = 1024L * 1024;
  private static final String RETRY_SAFE_HEADER = "X-Imagegen-Retry-Safe";
  private static final Duration CLEANUP_TIMEOUT = Duration.ofSeconds(10);
  private static final Set<String> IDEMPOTENT = Set.of("GET", "HEAD", "PUT", "DELETE", "OPTIONS");
  private static final Set<String> READS = Set.of("GET", "HEAD", "OPTIONS");
  /** Request headers that carry credentials: their values are registered for redaction. */
  private static final Set<String> CREDENTIAL_HEADERS = Set.of("authorization", "proxy-authorization", "apikey", "api-key",
      "x-api-key", "x-key", "x-goog-api-key", "cookie");
  private static final Map<HttpClient, Boolean> WARNED_CLIENTS = Collections.synchronizedMap(new WeakHashMap<>());

  private final ProviderContext context;
  private final HttpClient client;
  private final String userAgent;
  private final @Nullable GenerationContext generation;
  private final Function<HttpResult, @Nullable ImageGenerationException> providerMapper;
  private final Duration timeout;
  private final Executor continuations;
  private final long maxImageBytes;
  private final ObjectMapper reader;
  /** The provider's HTTP exchanges in flight ({@code max-connections}), shared by every bound copy. */
  private final InFlight inFlight;

  /**
   * Created by the service; providers get theirs from {@link ProviderContext#http()}.
   *
   * @param context the provider's context (id, config, JSON, redactor)
   * @param client the shared client; it should not follow redirects itself
   *     ({@link HttpClient.Redirect#NEVER}): a client that does is warned about once
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
    this.maxImageBytes = maxImageBytes(context.config());
    this.reader = readerFor(context.json(), maxImageBytes);
    this.inFlight = new InFlight(context.config().intValue(ProviderConfig.MAX_CONNECTIONS, ProviderConfig.DEFAULT_MAX_CONNECTIONS,
        1, 100_000), continuations);
    if (client.followRedirects() != HttpClient.Redirect.NEVER && WARNED_CLIENTS.put(client, Boolean.TRUE) == null) {
      context.log().warn("the HttpClient given to imagegen follows redirects itself ({}): it may send a provider's "
          + "credentials and request bodies to another host before imagegen sees the redirect; build it with "
          + "HttpClient.Redirect.NEVER (imagegen follows same-origin redirects itself)", client.followRedirects());
    }
  }

  private ProviderHttp(ProviderHttp from, ProviderContext context, GenerationContext generation) {
    this.context = context;
    this.client = from.client;
    this.userAgent = from.userAgent;
    this.generation = generation;
    this.providerMapper = from.providerMapper;
    this.timeout = from.timeout;
    this.continuations = from.continuations;
    this.maxImageBytes = from.maxImageBytes;
    this.reader = from.reader;
    this.inFlight = from.inFlight;
  }

  /**
   * An asynchronous bound on the exchanges in flight: one that finds no room waits in a queue,
   * holding no thread, and goes when one ends (on the client's executor, never on the thread that
   * ended it).
   */
  private static final class InFlight {
    private final int max;
    private final Executor executor;
    private int used; // guarded by this
    private final java.util.ArrayDeque<Runnable> waiting = new java.util.ArrayDeque<>(); // guarded by this

    InFlight(int max, Executor executor) {
      this.max = max;
      this.executor = executor;
    }

    /** Runs {@code go} once there is room for one more exchange, which it must {@link #release}. */
    void acquire(Runnable go) {
      synchronized (this) {
        if (used >= max) {
          waiting.add(go);
          return;
        }
        used++;
      }
      go.run();
    }

    /** Ends an exchange: its room goes to the first one waiting. */
    void release() {
      Runnable next;
      synchronized (this) {
        next = waiting.poll();
        if (next == null) {
          used--;
          return;
        }
      }
      try {
        executor.execute(next);
      } catch (RuntimeException e) {
        next.run(); // an executor that refuses: run it here rather than lose the room
      }
    }
  }

  private static long maxImageBytes(ProviderConfig config) {
    String v = config.get(ProviderConfig.MAX_IMAGE_BYTES).orElse(null);
    if (v == null) {
      return ImageDownloader.DEFAULT_MAX_BYTES;
    }
    try {
      return Long.parseLong(v.strip());
    } catch (NumberFormatException e) {
      throw new IllegalStateException(config.providerId() + ": '" + ProviderConfig.MAX_IMAGE_BYTES
          + "' is not a number of bytes: " + v);
    }
  }

  /** A mapper like the shared one whose longest string fits one base64 image of the largest size accepted. */
  private static ObjectMapper readerFor(ObjectMapper shared, long maxImageBytes) {
    ObjectMapper m = shared.copy();
    long needed = base64Length(maxImageBytes) + BODY_MARGIN;
    int max = (int) Math.min(Integer.MAX_VALUE - 64, Math.max(needed, StreamReadConstraints.DEFAULT_MAX_STRING_LEN));
    m.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxStringLength(max).build());
    return m;
  }

  private static long base64Length(long bytes) {
    return (bytes + 2) / 3 * 4;
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

  /**
   * Marks a request as safe to repeat although its method is POST: it creates nothing that is
   * billed or that a second call would duplicate (a status query sent as POST, an upload target,
   * a cancel or interrupt). Failures of a marked request are retryable like those of a GET; an
   * unmarked POST whose answer is lost or a 5xx is an unknown outcome. The mark travels as an
   * internal header that is removed before the request is sent.
   *
   * @param builder the request being built
   * @return the same builder
   */
  public static HttpRequest.Builder retrySafe(HttpRequest.Builder builder) {
    return builder.setHeader(RETRY_SAFE_HEADER, "true");
  }

  /**
   * Whether a request may be repeated without creating a second job: its method is idempotent
   * (GET, HEAD, PUT, DELETE, OPTIONS) or it is marked with {@link #retrySafe}.
   *
   * @param request the request
   */
  public static boolean isRetrySafe(HttpRequest request) {
    return IDEMPOTENT.contains(request.method()) || request.headers().firstValue(RETRY_SAFE_HEADER).isPresent();
  }

  /** The {@code User-Agent} sent, e.g. {@code imagegen-java/0.1.0}. */
  public String userAgent() {
    return userAgent;
  }

  /**
   * The timeout for the next call: the configured {@code timeout}, or, when the attempt's deadline
   * comes first, the time left plus {@link #DEADLINE_GRACE}. The deadline is the engine's to
   * enforce: it cancels the call (and the remote job) and reports a
   * {@code GenerationTimeoutException}; the call's own timer is only a backstop, and must not win
   * the race and report an ordinary failure instead.
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
    if (left.compareTo(timeout) >= 0) {
      return timeout;
    }
    // the backstop may pass the configured timeout by up to the grace, only when the deadline binds
    return (left.isNegative() ? Duration.ZERO : left).plus(DEADLINE_GRACE);
  }

  /**
   * How long after the attempt's deadline a call's own timer fires: the engine's deadline comes
   * first and cancels the call.
   */
  public static final Duration DEADLINE_GRACE = Duration.ofSeconds(1);

  /**
   * The largest JSON answer accepted from a call that may bring back images inline: each image
   * at most {@code max-image-bytes}, base64-encoded, plus a margin, and never less than
   * {@value #MIN_API_BODY_BYTES} bytes.
   *
   * @param images how many images the answer may carry (at least 1 is assumed)
   * @return the limit in bytes
   */
  public long bodyLimit(int images) {
    long n = Math.max(1, images);
    long perImage = base64Length(maxImageBytes) + 1024;
    long limit = perImage > (Long.MAX_VALUE - BODY_MARGIN) / n ? Long.MAX_VALUE : n * perImage + BODY_MARGIN;
    return Math.max(MIN_API_BODY_BYTES, limit);
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
   * Same-origin redirects are followed; a redirect to another origin fails the call.
   *
   * @param request the request
   * @param maxBodyBytes largest body accepted
   */
  public CompletableFuture<HttpResult> send(HttpRequest request, long maxBodyBytes) {
    return exchange(request, maxBodyBytes, null);
  }

  /** The largest event a server-sent-event stream may send ({@link #events}): 1 MiB. */
  public static final int MAX_EVENT_CHARS = 1 << 20;

  /**
   * Opens a server-sent-event stream ({@code text/event-stream}) and hands the data of each event
   * (its {@code data:} lines joined by newlines) to {@code onData}, on the HTTP client's threads,
   * until the stream ends, fails or is cancelled. Other fields ({@code event:}, {@code id:},
   * comments) are skipped; the stream is not reopened. A non-2xx answer hands nothing on and ends
   * the stream. No redirect is followed, and over an {@code HttpClient} that follows redirects
   * itself no stream is opened (the stage fails at once). An event over {@link #MAX_EVENT_CHARS} or an
   * {@code onData} that throws ends the stream.
   *
   * @param request the GET to send; its timeout bounds the wait for the answer's headers, not the stream
   * @param onData what to do with each event's data; quick, non-blocking
   * @return completes with the answer's HTTP status when the stream ends, exceptionally when the
   *     connection fails; cancelling it closes the stream
   */
  public CompletableFuture<Integer> events(HttpRequest request, java.util.function.Consumer<String> onData) {
    if (client.followRedirects() != HttpClient.Redirect.NEVER) {
      // a client that follows redirects itself would re-send the credentials to wherever one points
      return CompletableFuture.failedFuture(new IllegalStateException(context.providerId() + ": no event stream over an "
          + "HttpClient that follows redirects itself (" + client.followRedirects() + ")"));
    }
    CompletableFuture<Integer> done = new CompletableFuture<>();
    java.util.concurrent.atomic.AtomicReference<Flow.@Nullable Subscription> subscription =
        new java.util.concurrent.atomic.AtomicReference<>();
    Flow.Subscriber<String> lines = new Flow.Subscriber<>() {
      private final StringBuilder data = new StringBuilder();
      private boolean any;

      @Override
      public void onSubscribe(Flow.Subscription s) {
        subscription.set(s);
        if (done.isDone()) {
          s.cancel();
        } else {
          s.request(Long.MAX_VALUE);
        }
      }

      @Override
      public void onNext(String line) {
        if (done.isDone()) {
          return;
        }
        if (line.isEmpty()) {
          dispatch();
        } else if (line.startsWith("data:")) {
          if (any) {
            data.append('\n');
          }
          any = true;
          data.append(line, line.startsWith("data: ") ? 6 : 5, line.length());
          if (data.length() > MAX_EVENT_CHARS) {
            stop(new IOException(context.providerId() + ": an event of the stream is over " + MAX_EVENT_CHARS + " characters"));
          }
        }
      }

      private void dispatch() {
        if (!any) {
          return;
        }
        String d = data.toString();
        data.setLength(0);
        any = false;
        try {
          onData.accept(d);
        } catch (RuntimeException e) {
          stop(e);
        }
      }

      private void stop(Throwable e) {
        Flow.Subscription s = subscription.get();
        if (s != null) {
          s.cancel();
        }
        done.completeExceptionally(e);
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onComplete() {
        dispatch(); // a last event without its blank line
      }
    };
    CompletableFuture<HttpResponse<Void>> sent;
    try {
      sent = client.sendAsync(request, info -> info.statusCode() / 100 == 2
          ? HttpResponse.BodySubscribers.fromLineSubscriber(lines) : HttpResponse.BodySubscribers.discarding());
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    sent.whenComplete((r, e) -> {
      if (e != null) {
        done.completeExceptionally(e);
      } else {
        done.complete(r.statusCode());
      }
    });
    done.whenComplete((v, e) -> {
      if (done.isCancelled()) {
        Flow.Subscription s = subscription.get();
        if (s != null) {
          s.cancel();
        }
        sent.cancel(true);
      }
    });
    return done;
  }

  /**
   * Sends a result download: redirects are followed to any origin with only the
   * {@code User-Agent} and {@code Accept} headers, and every hop's target is checked first.
   *
   * @param request a GET without credentials
   * @param maxBodyBytes largest body accepted
   * @param hopCheck checks each target before it is contacted; fails with the reason to refuse it
   */
  CompletableFuture<HttpResult> download(HttpRequest request, long maxBodyBytes,
      Function<URI, CompletableFuture<Void>> hopCheck) {
    return exchange(request, maxBodyBytes, hopCheck);
  }

  private CompletableFuture<HttpResult> exchange(HttpRequest request, long maxBodyBytes,
      @Nullable Function<URI, CompletableFuture<Void>> hopCheck) {
    boolean safe = isRetrySafe(request);
    HttpRequest first = request.headers().firstValue(RETRY_SAFE_HEADER).isPresent()
        ? HttpRequest.newBuilder(request, (n, v) -> !n.equalsIgnoreCase(RETRY_SAFE_HEADER)).build() : request;
    boolean read = READS.contains(first.method());
    if (generation != null && generation.isCancelled() && read) {
      return CompletableFuture.failedFuture(new GenerationCancelledException("cancelled before sending", context.providerId()));
    }
    registerCredentials(first);
    Exchange ex = new Exchange(first, safe, maxBodyBytes, hopCheck);
    ex.start(read);
    return ex.out;
  }

  private void registerCredentials(HttpRequest request) {
    request.headers().map().forEach((name, values) -> {
      if (CREDENTIAL_HEADERS.contains(name.toLowerCase(Locale.ROOT))) {
        values.forEach(v -> context.redactor().registerHeaderValue(v));
      }
    });
  }

  /** One call: its hops, its overall deadline, and what it must abort when given up on. */
  private final class Exchange {
    final CompletableFuture<HttpResult> out = new CompletableFuture<>();
    private final HttpRequest first;
    private final boolean safe;
    private final long maxBodyBytes;
    private final @Nullable Function<URI, CompletableFuture<Void>> hopCheck;
    private final Duration budget;
    private final long deadlineNanos;
    private volatile HttpRequest current;
    private volatile @Nullable CompletableFuture<HttpResponse<byte[]>> sent;
    private volatile @Nullable LimitedBody body;
    private int hops;
    /** Whether the exchange was made after its attempt was cancelled (a clean-up call, such as the remote cancel). */
    private final boolean afterCancel;

    Exchange(HttpRequest first, boolean safe, long maxBodyBytes, @Nullable Function<URI, CompletableFuture<Void>> hopCheck) {
      this.first = first;
      this.current = first;
      this.safe = safe;
      this.maxBodyBytes = maxBodyBytes;
      this.hopCheck = hopCheck;
      Duration t = first.timeout().orElseGet(ProviderHttp.this::timeout);
      this.budget = t.compareTo(Duration.ofMillis(1)) < 0 ? Duration.ofMillis(1) : t;
      this.deadlineNanos = System.nanoTime() + budget.toNanos();
      this.afterCancel = generation != null && generation.isCancelled();
    }

    void start(boolean read) {
      ScheduledFuture<?> timer;
      try {
        timer = context.scheduler().schedule(this::expire, budget.toMillis(), TimeUnit.MILLISECONDS);
      } catch (RuntimeException e) {
        timer = null; // a scheduler shut down: the client's own header timeout still applies
      }
      ScheduledFuture<?> t = timer;
      out.whenComplete((r, e) -> {
        if (t != null) {
          t.cancel(false);
        }
      });
      if (generation != null && read) {
        // reads are aborted on cancel; a submit is left to finish so that the job it creates is
        // known, and then cancelled, rather than orphaned and billed
        generation.onCancel(() -> {
          if (out.completeExceptionally(new GenerationCancelledException("HTTP call cancelled", context.providerId(), null))) {
            abort();
          }
        }, out); // forgotten once the call ends: a long job's polls must not keep every response alive
      }
      hop(first);
    }

    private void hop(HttpRequest req) {
      if (out.isDone()) {
        return;
      }
      current = req;
      if (hopCheck == null) {
        sendOnce(req);
        return;
      }
      CompletableFuture<Void> checked;
      try {
        checked = hopCheck.apply(req.uri());
      } catch (RuntimeException e) {
        checked = CompletableFuture.failedFuture(e);
      }
      checked.whenComplete((v, e) -> {
        if (e != null) {
          fail(e);
        } else {
          sendOnce(req);
        }
      });
    }

    private void sendOnce(HttpRequest req) {
      if (out.isDone()) {
        return;
      }
      // within the provider's max-connections: a call waiting for room is still bound by its timer
      inFlight.acquire(() -> {
        if (out.isDone()) {
          inFlight.release();
        } else if (hops == 0 && !afterCancel && generation != null && generation.isCancelled()) {
          // cancelled while it waited for room, before anything was sent: a submit sent now would
          // create a job, billed, that nobody waits for
          inFlight.release();
          out.completeExceptionally(new GenerationCancelledException(what(req) + " not sent: the attempt was cancelled while "
              + "it waited for one of the provider's max-connections", context.providerId(), null));
        } else {
          sendNow(req);
        }
      });
    }

    /** Sends one hop; it holds one of {@code max-connections} until its answer is read or it fails. */
    private void sendNow(HttpRequest req) {
      CompletableFuture<HttpResponse<byte[]>> s;
      try {
        s = client.sendAsync(req, info -> {
          LimitedBody b = new LimitedBody(info, maxBodyBytes);
          body = b;
          if (out.isDone()) {
            b.abort();
          }
          return b;
        });
      } catch (RuntimeException e) {
        inFlight.release();
        fail(e);
        return;
      }
      s.whenComplete((r, e) -> inFlight.release()); // answered, failed or aborted
      sent = s;
      if (out.isDone()) {
        abort();
        return;
      }
      // leave the thread the JDK completes sendAsync on at once: on hosts whose common pool has a
      // single worker it is a new thread per answer, which would otherwise run all that follows
      s.whenCompleteAsync((r, e) -> {
        if (e != null) {
          fail(e);
        } else {
          answered(req, r);
        }
      }, continuations);
    }

    private void answered(HttpRequest req, HttpResponse<byte[]> r) {
      if (out.isDone()) {
        return;
      }
      int status = r.statusCode();
      if (r.previousResponse().isPresent() && !sameOrigin(r.uri(), req.uri())) {
        // the client followed a redirect itself: too late to keep headers from the target
        if (hopCheck == null) {
          fail(crossOrigin(req, r.previousResponse().get().statusCode(), r.uri(),
              "; the HttpClient given to imagegen followed it itself: build it with HttpClient.Redirect.NEVER"));
          return;
        }
        HttpRequest finalReq = HttpRequest.newBuilder(r.uri()).GET().build();
        hopCheck.apply(r.uri()).whenComplete((v, e) -> {
          if (e != null) {
            fail(e);
          } else {
            complete(finalReq, r);
          }
        });
        return;
      }
      String location = r.headers().firstValue("Location").orElse(null);
      if (isRedirect(status) && location != null && !location.isBlank()) {
        URI target;
        try {
          target = req.uri().resolve(location.strip());
        } catch (IllegalArgumentException e) {
          fail(new ProviderUnavailableException(what(req) + " answered HTTP " + status + " with a malformed Location",
              context.providerId(), false, !safe && hopCheck == null, null, null));
          return;
        }
        String scheme = target.getScheme() == null ? "" : target.getScheme().toLowerCase(Locale.ROOT);
        if (!(scheme.equals("http") || scheme.equals("https")) || target.getHost() == null) {
          fail(new ProviderUnavailableException(what(req) + " answered HTTP " + status + " redirecting to a non-HTTP target",
              context.providerId(), false, false, null, null));
          return;
        }
        if (++hops > MAX_REDIRECTS) {
          fail(new ProviderUnavailableException(what(first) + ": more than " + MAX_REDIRECTS + " redirects",
              context.providerId(), false, false, null, null));
          return;
        }
        HttpRequest next;
        if (hopCheck == null) {
          if (!sameOrigin(target, req.uri())) {
            fail(crossOrigin(req, status, target, "; point base-url at the host that serves the API"));
            return;
          }
          next = redirected(req, status, target);
        } else {
          next = downloadHop(req, target);
        }
        if (next == null) {
          return; // the deadline passed
        }
        hop(next);
        return;
      }
      complete(req, r);
    }

    private void complete(HttpRequest req, HttpResponse<byte[]> r) {
      out.complete(new HttpResult(req.method(), req.uri(), r.statusCode(), r.headers(), r.body(), safe));
    }

    /** The next hop of an API call: same method and headers (303, and 301/302 after a POST, become a GET). */
    private @Nullable HttpRequest redirected(HttpRequest req, int status, URI target) {
      Duration left = left();
      if (left == null) {
        return null;
      }
      boolean toGet = status == 303 || ((status == 301 || status == 302) && req.method().equals("POST"));
      HttpRequest.Builder b = HttpRequest.newBuilder(req, (n, v) -> !(toGet && n.equalsIgnoreCase("Content-Type")))
          .uri(target).timeout(left);
      if (toGet) {
        b.GET();
      }
      return b.build();
    }

    /** The next hop of a download: a GET carrying only {@code User-Agent} and {@code Accept}, never credentials. */
    private @Nullable HttpRequest downloadHop(HttpRequest req, URI target) {
      Duration left = left();
      if (left == null) {
        return null;
      }
      HttpRequest.Builder b = HttpRequest.newBuilder(target).timeout(left).GET();
      req.headers().firstValue("User-Agent").ifPresent(v -> b.header("User-Agent", v));
      req.headers().firstValue("Accept").ifPresent(v -> b.header("Accept", v));
      return b.build();
    }

    private @Nullable Duration left() {
      long ns = deadlineNanos - System.nanoTime();
      if (ns <= 0) {
        expire();
        return null;
      }
      return Duration.ofNanos(Math.max(ns, 1_000_000));
    }

    private void expire() {
      if (out.isDone()) {
        return;
      }
      HttpRequest req = current;
      boolean unknown = !safe;
      String msg = "no answer within " + budget + " (" + what(req) + (body != null ? ", body incomplete" : "") + ")"
          + (unknown ? "; the request was sent, its outcome is unknown" : "");
      // complete first: aborting makes the client fail the exchange, which must not win the race
      if (out.completeExceptionally(new ProviderUnavailableException(msg, context.providerId(), true, unknown, null, null))) {
        abort();
      }
    }

    private void fail(Throwable e) {
      if (out.isDone()) {
        return;
      }
      if (out.completeExceptionally(transportFault(current, safe, e))) {
        abort();
      }
    }

    /** Stops reading and closes the connection of the hop in flight. */
    private void abort() {
      LimitedBody b = body;
      if (b != null) {
        b.abort();
      }
      CompletableFuture<HttpResponse<byte[]>> s = sent;
      if (s != null && !s.isDone()) {
        s.cancel(true);
      }
    }
  }

  private ProviderUnavailableException crossOrigin(HttpRequest req, int status, URI target, String hint) {
    return new ProviderUnavailableException("refused to follow a redirect (HTTP " + status + ") of " + what(req)
        + " to another origin, " + origin(target) + ": credentials and request bodies are never sent to another host" + hint,
        context.providerId(), false, false, null, null);
  }

  private static boolean isRedirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  }

  private static boolean sameOrigin(URI a, URI b) {
    String sa = a.getScheme() == null ? "" : a.getScheme().toLowerCase(Locale.ROOT);
    String sb = b.getScheme() == null ? "" : b.getScheme().toLowerCase(Locale.ROOT);
    return sa.equals(sb) && a.getHost() != null && a.getHost().equalsIgnoreCase(b.getHost()) && port(a) == port(b);
  }

  private static int port(URI u) {
    if (u.getPort() >= 0) {
      return u.getPort();
    }
    return "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
  }

  /** {@code scheme://host:port} of a URI, without path or query. */
  static String origin(URI u) {
    return (u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT)) + "://" + u.getHost() + ":" + port(u);
  }

  private static String what(HttpRequest req) {
    return req.method() + " " + req.uri().getPath();
  }

  /**
   * Sends a request; a non-2xx answer fails with the mapped exception. The body may be as large
   * as one image ({@link #bodyLimit(int) bodyLimit(1)}).
   *
   * @param request the request
   */
  public CompletableFuture<HttpResult> call(HttpRequest request) {
    return call(request, 1);
  }

  /**
   * Sends a request whose answer may carry several images inline; a non-2xx answer fails with
   * the mapped exception.
   *
   * @param request the request
   * @param images how many images the answer may carry: the body is bounded by {@link #bodyLimit(int)}
   */
  public CompletableFuture<HttpResult> call(HttpRequest request, int images) {
    long limit = bodyLimit(images);
    return send(request, limit).thenApply(r -> {
      if (!r.isSuccess()) {
        throw new CompletionException(mapError(r));
      }
      return r;
    }).exceptionallyCompose(e -> {
      Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      if (c instanceof ProviderUnavailableException pu && pu.getCause() instanceof BodyTooLarge) {
        return CompletableFuture.failedFuture(new ProviderUnavailableException(pu.getMessage() + ", which allows "
            + Math.max(1, images) + " image(s) of " + ProviderConfig.MAX_IMAGE_BYTES + "=" + maxImageBytes
            + " bytes as base64; raise " + configKey(ProviderConfig.MAX_IMAGE_BYTES) + " if images this large are expected",
            context.providerId(), false, false, null, null));
      }
      return CompletableFuture.failedFuture(c);
    });
  }

  private String configKey(String key) {
    return "imagegen." + context.providerId() + "." + key;
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
   * Sends a request whose answer may carry several images inline and reads the 2xx answer as a
   * type.
   *
   * @param request the request
   * @param type the type
   * @param images how many images the answer may carry: the body is bounded by {@link #bodyLimit(int)}
   * @param <T> the type
   */
  public <T> CompletableFuture<T> json(HttpRequest request, Class<T> type, int images) {
    return call(request, images).thenApply(r -> parse(r, type));
  }

  /**
   * Reads a 2xx body as a type, failing with a provider-named error when it is empty or malformed
   * (outcome unknown when the request was not {@linkplain #isRetrySafe safe to repeat}), or
   * permanently when a string in it is longer than one base64 image of {@code max-image-bytes}.
   *
   * @param r the answer
   * @param type the type
   * @param <T> the type
   */
  public <T> T parse(HttpResult r, Class<T> type) {
    boolean unknown = !r.retrySafe();
    if (isBlank(r.body())) {
      throw new CompletionException(new ProviderUnavailableException("empty answer from " + r.uri().getPath() + " (HTTP "
          + r.status() + ")", context.providerId(), true, unknown, null, null));
    }
    try {
      T value = reader.readValue(r.body(), type);
      if (value == null) {
        throw new IOException("null body");
      }
      return value;
    } catch (StreamConstraintsException e) {
      throw new CompletionException(new ProviderUnavailableException("answer from " + r.uri().getPath() + " (HTTP "
          + r.status() + ", " + r.body().length + " bytes) holds a value longer than one base64 image of "
          + ProviderConfig.MAX_IMAGE_BYTES + "=" + maxImageBytes + " bytes; raise " + configKey(ProviderConfig.MAX_IMAGE_BYTES)
          + " if images this large are expected", context.providerId(), false, false, null, null));
    } catch (IOException e) {
      throw new CompletionException(new ProviderUnavailableException("malformed JSON from " + r.uri().getPath() + " (HTTP "
          + r.status() + "): " + e.getClass().getSimpleName()
          + (unknown ? "; the request was sent, its outcome is unknown" : ""), context.providerId(), true, unknown, null, null));
    }
  }

  private static boolean isBlank(byte[] body) {
    for (byte b : body) {
      if (b != ' ' && b != '\t' && b != '\n' && b != '\r' && b != '\f') {
        return false;
      }
    }
    return true;
  }

  /**
   * Maps an error answer: the provider's mapping first, then {@link HttpErrors}. Known secrets
   * are scrubbed from the body first, from its decoded JSON strings as well as its raw text.
   * For a request that was not {@linkplain #isRetrySafe safe to repeat}, a 408 or 5xx answer then
   * becomes a {@link ProviderUnavailableException} with an unknown outcome (the provider may have
   * created a job), keeping the message and {@code Retry-After}; 4xx answers keep the mapping. A
   * provider whose API documents that a request answered with an error creates and charges
   * nothing (a synchronous API with no job) says so in its own mapping with
   * {@code ProviderUnavailableException.builder(...).retryable(true).notBilled()}: that answer is
   * then retried and failed over like a read.
   *
   * @param r the answer
   */
  public ImageGenerationException mapError(HttpResult r) {
    HttpResult clean = scrub(r);
    ImageGenerationException e = providerMapper.apply(clean);
    ImageGenerationException mapped = e != null ? e : HttpErrors.map(context.providerId(), clean, context.json());
    return r.retrySafe() ? mapped : unknownOutcome(clean, mapped);
  }

  private ImageGenerationException unknownOutcome(HttpResult r, ImageGenerationException e) {
    int s = r.status();
    if (!(s == 408 || s >= 500)) {
      return e; // a 4xx answer proves the request was refused; a 3xx was not followed
    }
    if (e instanceof ProviderUnavailableException pu && (pu.outcomeUnknown() || pu.notBilled())) {
      // notBilled: the provider's own mapping knows from the answer that nothing was created (its API documents that
      // a request that fails is not charged), so the submit may be retried and failed over like a read
      return e;
    }
    if (e.kind() != ErrorKind.UNAVAILABLE && !e.retryMayHelp()) {
      return e; // the provider recognised a definite refusal in the body (credentials, credit, content)
    }
    Duration retryAfter = e instanceof ProviderUnavailableException pu ? pu.retryAfter()
        : e instanceof RateLimitedException rl ? rl.retryAfter() : null;
    if (retryAfter == null) {
      retryAfter = r.retryAfter();
    }
    return new ProviderUnavailableException(e.getMessage() + " after " + r.method() + " " + r.uri().getPath()
        + "; the request was sent, its outcome is unknown", context.providerId(), false, true, retryAfter, e);
  }

  private HttpResult scrub(HttpResult r) {
    Redactor redactor = context.redactor();
    byte[] body = r.body();
    JsonNode json = body.length == 0 ? null : r.jsonOrNull(context.json());
    if (json != null && (json.isObject() || json.isArray())) {
      // secrets are matched in the decoded strings: escapes such as "\/" in the raw text hide them
      if (scrubNode(json, redactor)) {
        try {
          body = context.json().writeValueAsBytes(json);
        } catch (JsonProcessingException e) {
          body = new byte[0];
        }
      }
    }
    String text = new String(body, StandardCharsets.UTF_8);
    String redacted = redactor.redact(text);
    if (redacted == null || redacted.equals(text)) {
      return body == r.body() ? r : new HttpResult(r.method(), r.uri(), r.status(), r.headers(), body, r.retrySafe());
    }
    return new HttpResult(r.method(), r.uri(), r.status(), r.headers(), redacted.getBytes(StandardCharsets.UTF_8),
        r.retrySafe());
  }

  /** Redacts every string (and field name) in a JSON tree in place; whether anything changed. */
  private static boolean scrubNode(JsonNode node, Redactor redactor) {
    boolean changed = false;
    if (node instanceof ObjectNode o) {
      List<String> names = new ArrayList<>();
      o.fieldNames().forEachRemaining(names::add);
      for (String name : names) {
        JsonNode child = o.get(name);
        String cleanName = redactor.redact(name);
        if (child.isTextual()) {
          String v = child.asText();
          String c = redactor.redact(v);
          if (!v.equals(c)) {
            o.set(name, TextNode.valueOf(c));
            changed = true;
          }
        } else {
          changed |= scrubNode(child, redactor);
        }
        if (cleanName != null && !cleanName.equals(name)) {
          JsonNode now = o.remove(name);
          o.set(cleanName, now);
          changed = true;
        }
      }
    } else if (node instanceof ArrayNode a) {
      for (int i = 0; i < a.size(); i++) {
        JsonNode child = a.get(i);
        if (child.isTextual()) {
          String v = child.asText();
          String c = redactor.redact(v);
          if (!v.equals(c)) {
            a.set(i, TextNode.valueOf(c));
            changed = true;
          }
        } else {
          changed |= scrubNode(child, redactor);
        }
      }
    }
    return changed;
  }

  private Throwable transportFault(HttpRequest request, boolean safe, Throwable e) {
    Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    if (cause instanceof ImageGenerationException) {
      return cause;
    }
    if (cause instanceof CancellationException) {
      return new GenerationCancelledException("HTTP call cancelled", context.providerId(), null);
    }
    String what = what(request);
    boolean unknown = !safe;
    if (cause instanceof HttpConnectTimeoutException || cause instanceof ConnectException) {
      URI u = request.uri();
      return new ProviderUnavailableException("could not connect to " + u.getHost() + ":" + port(u) + " (" + what + "): "
          + describe(cause), context.providerId(),
          true, false, null, null);
    }
    if (cause instanceof HttpTimeoutException) {
      return new ProviderUnavailableException("no answer within " + request.timeout().map(Duration::toString).orElse("the timeout")
          + " (" + what + ")" + (unknown ? "; the request was sent, its outcome is unknown" : ""), context.providerId(), true,
          unknown, null, null);
    }
    if (cause instanceof BodyTooLarge) {
      return new ProviderUnavailableException(what + ": " + cause.getMessage(), context.providerId(), false, false, null, cause);
    }
    return new ProviderUnavailableException("connection failed (" + what + "): " + describe(cause)
        + (unknown ? "; the request was sent, its outcome is unknown" : ""), context.providerId(), true, unknown, null, null);
  }

  private String describe(Throwable t) {
    String m = t.getMessage();
    return String.valueOf(context.redactor().redact(t.getClass().getSimpleName() + (m == null ? "" : ": " + m)));
  }

  /** Raised when a body exceeds its limit. */
  static final class BodyTooLarge extends IOException {
    private static final long serialVersionUID = 1L;

    BodyTooLarge(String message) {
      super(message);
    }
  }

  /**
   * Collects a body, failing as soon as it exceeds the limit (by Content-Length or by counting);
   * {@link #abort()} stops it and cancels the subscription, which closes the connection.
   */
  private static final class LimitedBody implements HttpResponse.BodySubscriber<byte[]> {
    private final CompletableFuture<byte[]> result = new CompletableFuture<>();
    private final List<ByteBuffer> buffers = new ArrayList<>();
    private final long limit;
    private long received;
    private volatile Flow.@Nullable Subscription subscription;

    LimitedBody(HttpResponse.ResponseInfo info, long limit) {
      this.limit = limit;
      HttpHeaders h = info.headers();
      long declared = h.firstValueAsLong("Content-Length").orElse(-1);
      if (declared > limit) {
        result.completeExceptionally(new BodyTooLarge("body of " + declared + " bytes exceeds the limit of " + limit + " bytes"));
      }
    }

    void abort() {
      result.completeExceptionally(new CancellationException("exchange abandoned"));
      Flow.Subscription s = subscription;
      if (s != null) {
        s.cancel();
      }
      synchronized (buffers) {
        buffers.clear();
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
        Flow.Subscription s = subscription;
        if (s != null) {
          s.cancel();
        }
        return;
      }
      synchronized (buffers) {
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
      byte[] out;
      synchronized (buffers) {
        out = new byte[(int) received];
        int pos = 0;
        for (Iterator<ByteBuffer> it = buffers.iterator(); it.hasNext();) {
          ByteBuffer b = it.next();
          int n = b.remaining();
          b.get(out, pos, n);
          pos += n;
        }
        buffers.clear();
      }
      result.complete(out);
    }
  }
}
