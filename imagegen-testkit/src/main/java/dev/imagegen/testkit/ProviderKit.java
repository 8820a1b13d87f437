package dev.imagegen.testkit;

import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.core.Options;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import com.github.tomakehurst.wiremock.http.RequestMethod;
import com.github.tomakehurst.wiremock.http.ResponseDefinition;
import com.github.tomakehurst.wiremock.matching.RequestPattern;
import com.github.tomakehurst.wiremock.matching.RequestPatternBuilder;
import com.github.tomakehurst.wiremock.stubbing.ServeEvent;
import com.github.tomakehurst.wiremock.stubbing.StubMapping;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.Attempt;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationJob;
import dev.imagegen.GenerationTimeoutException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.ClassOrderer;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestClassOrder;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The provider contract suite: a JUnit 5 class a provider's test extends, supplying only its
 * factory and its {@link ProviderStubs}. For every scenario of issue 4 the kit resets a WireMock
 * server (one per test class, on a dynamic port), lets the stubs make the provider's real API
 * answer that way, calls the provider through an {@link ImageGenerationService} exactly as a user
 * would, and asserts the outcome a user relies on and what went on the wire.
 *
 * <pre>{@code
 * class AcmeProviderKitTest extends ProviderKit {
 *   @Override protected ImageProviderFactory factory() { return new AcmeProviderFactory(); }
 *   @Override protected AcmeStubs stubs(WireMockServer server) { return new AcmeStubs(server); }
 * }
 * }</pre>
 *
 * <p>Configuration the kit gives the provider: {@code base-url} = the server's URL plus
 * {@link ProviderStubs#basePath()}, {@code api-key} = a recognisable random secret
 * ({@code kit-SECRET-<hex>}) that must never leak, {@code poll-interval} = the larger of
 * {@link ProviderStubs#minPollInterval()} and {@value #MIN_POLL_MILLIS} ms, then
 * {@link ProviderStubs#extraConfig()}. The service retries with a 10..100 ms backoff so the suite
 * is fast.
 *
 * <p>Scenarios the provider's {@link ProviderCapabilities} or {@link ProviderStubs#unsupported()}
 * rule out are skipped with the reason; a capability the provider claims but does not deliver
 * fails. Every timeout the kit uses is stretched by {@link KitTime} ({@value KitTime#ENV}).
 *
 * <p>Each test carries an {@link IfFails} hint: when one of its assertions fails, the failure's
 * message ends with "If this fails, check ...", naming what in the provider to look at.
 *
 * <p>Override {@link #request()}, {@link #image()}, {@link #wireMockOptions()} or
 * {@link #configureService} where the defaults do not fit; add provider-specific tests to the
 * subclass freely (the accessors {@link #server()}, {@link #currentStubs()}, {@link #service()}
 * and {@link #provider()} are there for them).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(KitHints.class)
@TestMethodOrder(MethodOrderer.MethodName.class)
@TestClassOrder(ClassOrderer.OrderAnnotation.class)
public abstract class ProviderKit {
  /** The id of the always-succeeding second provider the kit registers in failover scenarios. */
  public static final String FALLBACK_ID = "kit-fallback";
  /** The smallest poll interval the kit configures, in milliseconds. */
  public static final long MIN_POLL_MILLIS = 50;
  /** The prompt of the default request. */
  public static final String PROMPT = "a red fox in snow";
  /** The text scenario 12 asks the stubs to refuse the request with. */
  public static final String INVALID_REQUEST_MESSAGE = "kit says: width is not allowed";

  private static final String KEY_PREFIX = "kit-SECRET-";
  private static final double POLL_TOLERANCE = 0.9;

  static {
    KitLogs.install(); // the kit's log capture, unless the class path has its own SLF4J binding
  }

  private final String keyHex = HexFormat.of().formatHex(new SecureRandom().generateSeed(8));
  private final String apiKey = KEY_PREFIX + keyHex;
  private @Nullable WireMockServer server;
  private @Nullable ExecutorService callers;
  private @Nullable ProviderStubs stubs;
  private @Nullable Running running;
  private long logMark;

  /** What {@link #restart} built: the provider under test, its config, the service, the fallback. */
  private record Running(ImageProvider provider, ProviderConfig config, ImageGenerationService service,
      @Nullable KitFallbackProvider fallback) {}

  /**
   * What a call the kit made came to.
   *
   * @param value the result, or null when the call failed
   * @param error the failure, or null when the call succeeded
   * @param elapsed how long the call took
   * @param <T> the result type
   */
  protected record Outcome<T>(@Nullable T value, @Nullable Throwable error, Duration elapsed) {}

  // ================================================================== what the subclass supplies

  /** The factory of the provider under test. */
  protected abstract ImageProviderFactory factory();

  /**
   * The stubs that make the provider's API answer each scenario on this server. Called before
   * each scenario, after the server was reset.
   *
   * @param server the kit's WireMock server
   */
  protected abstract ProviderStubs stubs(WireMockServer server);

  /**
   * The request every scenario starts from: {@value #PROMPT}, 512x512 (a size every provider
   * accepts), seed 42, 4 steps, guidance 3.5. Override for a provider that needs another size or
   * a model. Scenarios add a timeout (and scenario 1 a negative prompt where the provider claims
   * to honour one).
   */
  protected ImageGenerationRequest.Builder request() {
    return ImageGenerationRequest.builder().prompt(PROMPT).size(512, 512).seed(42L).steps(4).guidanceScale(3.5);
  }

  /** The image successful scenarios ask the stubs to answer with: a PNG of the request's size. */
  protected StubImage image() {
    ImageGenerationRequest r = request().build();
    return StubImages.png(r.width() == null ? 512 : r.width(), r.height() == null ? 512 : r.height(),
        r.seed() == null ? 42 : r.seed());
  }

  /**
   * The WireMock server's options: a dynamic port, no gzip, no chunked encoding (a body goes out
   * in one write with a Content-Length, so nothing waits on Nagle's algorithm or delayed ACKs;
   * Jetty sets TCP_NODELAY on accepted sockets by default).
   */
  protected WireMockConfiguration wireMockOptions() {
    return options().dynamicPort().bindAddress("127.0.0.1").gzipDisabled(true)
        .useChunkedTransferEncoding(Options.ChunkedEncodingPolicy.NEVER).containerThreads(32);
  }

  /**
   * A hook to adjust the service each scenario builds (the kit has set the providers, a
   * 10..100 ms retry backoff, a default timeout and a shutdown grace).
   *
   * @param builder the builder
   * @return the builder to build
   */
  protected ImageGenerationService.Builder configureService(ImageGenerationService.Builder builder) {
    return builder;
  }

  // ================================================================== accessors for subclasses

  /** The kit's WireMock server. */
  protected final WireMockServer server() {
    return Objects.requireNonNull(server, "the kit's server is not started");
  }

  /** The stubs of the running scenario. */
  protected final ProviderStubs currentStubs() {
    return Objects.requireNonNull(stubs, "no scenario is running");
  }

  /** The provider under test in the running scenario. */
  protected final ImageProvider provider() {
    return running().provider();
  }

  /** The provider's configuration in the running scenario. */
  protected final ProviderConfig providerConfig() {
    return running().config();
  }

  /** The service of the running scenario. */
  protected final ImageGenerationService service() {
    return running().service();
  }

  /** The provider's id. */
  protected final String providerId() {
    return provider().id();
  }

  /** The recognisable secret the kit configured as {@code api-key}. */
  protected final String apiKey() {
    return apiKey;
  }

  /**
   * Builds a fresh provider and service (closing the previous ones).
   *
   * @param extraConfig config keys to add or override (applied last)
   * @param withFallback whether to register the kit's always-succeeding second provider
   */
  protected final void restart(Map<String, String> extraConfig, boolean withFallback) {
    closeRunning();
    ProviderConfig config = kitConfig(extraConfig);
    ImageProvider p = Objects.requireNonNull(factory().create(config), "factory().create(config) returned null");
    KitFallbackProvider fallback = withFallback ? new KitFallbackProvider() : null;
    ImageGenerationService.Builder b = ImageGenerationService.builder()
        .provider(p, config)
        .retryBackoff(Duration.ofMillis(10), Duration.ofMillis(100))
        .defaultTimeout(KitTime.scaled(Duration.ofSeconds(30)))
        .shutdownGrace(KitTime.scaled(Duration.ofSeconds(2)));
    if (fallback != null) {
      b.provider(fallback, ProviderConfig.builder(FALLBACK_ID).set(ProviderConfig.PRIORITY, "1000000").build());
    }
    running = new Running(p, config, configureService(b).build(), fallback);
  }

  /**
   * The configuration the kit gives the provider.
   *
   * @param extra keys to add or override, applied last
   */
  protected final ProviderConfig kitConfig(Map<String, String> extra) {
    ProviderStubs s = currentStubs();
    long poll = Math.max(s.minPollInterval().toMillis(), MIN_POLL_MILLIS);
    ProviderConfig.Builder b = ProviderConfig.builder(factory().id())
        .baseUrl(server().baseUrl() + s.basePath())
        .apiKey(apiKey)
        .set("poll-interval", poll + "ms");
    Map<String, String> values = new LinkedHashMap<>();
    s.extraConfig().forEach(values::put);
    extra.forEach(values::put);
    values.forEach(b::set);
    // the factory's defaults for keys nobody set, as the service applies them
    return b.build().withDefaults(factory().defaults());
  }

  // ================================================================== lifecycle

  @BeforeAll
  final void startKitServer() {
    WireMockServer s = new WireMockServer(wireMockOptions());
    s.start();
    server = s;
    AtomicInteger n = new AtomicInteger();
    callers = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "imagegen-kit-caller-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  @AfterAll
  final void stopKitServer() {
    closeRunning();
    ExecutorService c = callers;
    if (c != null) {
      c.shutdownNow();
    }
    WireMockServer s = server;
    if (s != null) {
      s.stop();
    }
  }

  @BeforeEach
  final void beginScenario() {
    server().resetAll();
    stubs = Objects.requireNonNull(stubs(server()), "stubs(server) returned null");
    logMark = KitLogs.mark();
    restart(Map.of(), false);
  }

  @AfterEach
  final void endScenario() {
    closeRunning();
    if (KitLogs.capturing()) {
      assertNoSecretInLogs(KitLogs.since(logMark),
          "a log line written during this scenario contains the API key (scenario 14 applies to every scenario)");
    }
  }

  /** Resets the server and creates fresh stubs for it, within a scenario. */
  protected final void resetServer() {
    server().resetAll();
    stubs = Objects.requireNonNull(stubs(server()), "stubs(server) returned null");
  }

  private Running running() {
    return Objects.requireNonNull(running, "no scenario is running");
  }

  private void closeRunning() {
    Running r = running;
    running = null;
    if (r != null) {
      try {
        r.service().close();
      } catch (RuntimeException e) {
        System.err.println("[imagegen-testkit] closing the service failed: " + e);
      }
    }
  }

  // ================================================================== 1-2 success and progress

  /** Scenarios 1 and 2: a generation succeeds, and a queued one reports its progress. */
  @Nested
  @Order(1)
  @DisplayName("s01-s02 success and progress")
  class SuccessAndProgress {

    /**
     * Scenario 1: a text-to-image request succeeds. The image's bytes are exactly what the API
     * served, its media type and size are right, the seed (where the provider claims seeds) and
     * the model are reported, a price the provider does not know is UNKNOWN rather than zero
     * (FAULTS.md 16), exactly one submit went out, and it carried the request's fields under the
     * provider's own names with the key in the provider's header ({@link ProviderStubs#assertSubmitted}).
     */
    @IfFails("check the request mapping (field names and values), that the result is downloaded with ctx.downloader() and not "
        + "re-encoded, that the reported seed and model are mapped, that the factory's id equals the provider's, and "
        + "costModel().")
    @Test
    @DisplayName("s01 text to image succeeds, with the right fields on the wire")
    void s01_textToImageSucceeds() {
      ProviderCapabilities caps = provider().capabilities();
      check(provider().id().equals(factory().id()), "s01: the provider's id() '" + provider().id()
          + "' differs from its factory's id() '" + factory().id() + "'");
      ImageGenerationRequest base = request().build();
      ImageGenerationRequest.Builder rb = base.toBuilder();
      if (caps.negativePrompt() && base.negativePrompt() == null) {
        rb.negativePrompt("blurry, watermark");
      }
      ImageGenerationRequest req = rb.timeout(KitTime.scaled(Duration.ofSeconds(20))).build();
      StubImage img = image();
      currentStubs().success(img);

      ImageGenerationResponse r = success(generate(req), "s01");

      check(providerId().equals(r.provider()), "s01: the response names provider '" + r.provider() + "'");
      check(!r.images().isEmpty(), "s01: the response has no image");
      GeneratedImage got = r.image();
      check(Arrays.equals(got.bytes(), img.bytes()), "s01: the image's bytes (" + got.bytes().length
          + ") are not the bytes the API served (" + img.bytes().length + "): download them unchanged");
      check(img.mediaType().equals(got.mediaType()), "s01: media type " + got.mediaType() + ", the API served "
          + img.mediaType());
      check(got.width() == img.width() && got.height() == img.height(), "s01: size " + got.width() + "x"
          + got.height() + ", the API served " + img.width() + "x" + img.height());
      if (caps.seed()) {
        check(Long.valueOf(img.seed()).equals(got.seed()), "s01: the provider claims seeds but reported seed "
            + got.seed() + " where the API said " + img.seed());
      }
      check(r.model() != null && !r.model().isBlank(), "s01: no model reported");
      if (!caps.free()) {
        check(!(r.cost().isKnown() && r.cost().amountOrZero().signum() == 0), "s01: a provider that is not free reported"
            + " a cost of zero (" + r.cost() + "); an unknown price must be Cost.unknown() (FAULTS.md 16)");
      }
      List<LoggedRequest> submits = submits();
      check(submits.size() == 1, "s01: expected exactly one submit on the wire, saw " + submits.size());
      currentStubs().assertSubmitted(req, submits.get(0), apiKey);
    }

    /**
     * Scenario 2: a job that is queued, then running, then done reports progress in order: a
     * QUEUED event with a queue position before any RUNNING or DONE event, stages never going
     * back, queue positions never growing, percent never shrinking, DONE last; and no two polls
     * closer than the provider's documented floor ({@link ProviderStubs#minPollInterval()}, less
     * 10%).
     */
    @IfFails("check that polls report PollResult.pending(ProgressEvent.queued(...)) with the queue position and "
        + "ProgressEvent.running(...) with the percent, and that the PollPolicy floor is the documented one and is read with "
        + "withConfig.")
    @Test
    @DisplayName("s02 queued, then running, then done: progress in order, polls not too fast")
    void s02_queuedThenRunningThenDone() {
      assumeQueued();
      StubImage img = image();
      currentStubs().queuedThenRunningThenDone(img);
      ImageGenerationRequest req = request().timeout(KitTime.scaled(Duration.ofSeconds(20))).build();
      List<ProgressEvent> events = new CopyOnWriteArrayList<>();
      GenerationJob job = submitJob(req, events);

      ImageGenerationResponse r = success(await(job, req), "s02");
      check(Arrays.equals(r.image().bytes(), img.bytes()), "s02: the image's bytes are not those the API served");
      waitFor(KitTime.scaledMillis(1000), () -> events.stream().anyMatch(e -> e.stage() == ProgressEvent.Stage.DONE));
      assertProgressInOrder(events);
      assertPollIntervals("s02");
    }

    /**
     * Scenario 2 (FAULTS.md 10): while a job is pending, its poll endpoint answers 503 and then
     * 429 once each. The provider keeps the job, slows down, never resubmits, and the job ends
     * with the image. Uses {@link ProviderStubs#queuedThenRunningThenDone} where the API reports
     * progress, else {@link ProviderStubs#success}; skipped for APIs that are never polled.
     */
    @IfFails("check that a failed poll completes exceptionally with a retryable exception (the default HttpErrors mapping "
        + "does that for 429 and 5xx) instead of failing the job, and that nothing resubmits on a poll error.")
    @Test
    @DisplayName("s02 a poll answering 503 or 429 keeps the job; nothing is resubmitted")
    void s02_pollErrorsKeepTheJob() {
      RequestPatternBuilder polls = currentStubs().pollRequests();
      assumeTrue(polls != null, "the stubs name no poll requests (pollRequests() is null): a synchronous API");
      Objects.requireNonNull(polls);
      StubImage img = image();
      boolean progress = provider().capabilities().queued()
          && !currentStubs().unsupported().containsKey(ProviderStubs.Scenario.QUEUED_PROGRESS);
      if (progress) {
        currentStubs().queuedThenRunningThenDone(img);
      } else {
        currentStubs().success(img);
      }
      String scenario = "imagegen-kit-poll-faults";
      server().addStubMapping(pollFault(polls.build(), 503, "kit: poll temporarily unavailable", scenario,
          com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED, "after-503"));
      server().addStubMapping(pollFault(polls.build(), 429, "kit: too many polls", scenario,
          "after-503", "after-429"));
      ImageGenerationRequest req = request().timeout(KitTime.scaled(Duration.ofSeconds(20))).build();

      Outcome<ImageGenerationResponse> o = generate(req);
      assumeTrue(pollCount() > 0, "the API answered without a single poll (stubs.success() finishes at the submit),"
          + " so poll errors cannot be injected");
      ImageGenerationResponse r = success(o, "s02 (poll errors)");
      check(Arrays.equals(r.image().bytes(), img.bytes()), "s02 (poll errors): the image's bytes are not those served");
      check(submits().size() == 1, "s02 (poll errors): a poll error made the provider submit again ("
          + submits().size() + " submits); poll errors must keep the job (FAULTS.md 10)");
      assertPollIntervals("s02 (poll errors)");
    }
  }

  // ================================================================== 3-5, 12 refusals

  /** Scenarios 3, 4, 5 and 12: the API refuses the call. */
  @Nested
  @Order(2)
  @DisplayName("s03-s05, s12 refusals")
  class Refusals {

    /**
     * Scenario 3: the API refuses the key. An {@link AuthenticationException} naming the
     * provider, exactly one submit (no retry), and the key in no message.
     */
    @IfFails("check the error mapping of 401/403 (return null from mapError to use the default), and that no message is built "
        + "from the key or the request headers.")
    @Test
    @DisplayName("s03 authentication refused: AuthenticationException, no retry, key not shown")
    void s03_authenticationRefusedIsNotRetried() {
      currentStubs().authenticationRefused();
      ImageGenerationException e = failure(generate(defaultRequest()), "s03", AuthenticationException.class);
      assertClearError(e, "s03");
      assertSubmits("s03", 1, "a refused key must not be retried on the same provider");
    }

    /**
     * Scenario 4: the account is out of credit or quota. An {@link InsufficientCreditsException}
     * that allows failover, one submit (no retry). Skipped for free providers.
     */
    @IfFails("check the mapping of the API's out-of-credit answer (HTTP 402 maps by default; a 403 or 429 with a quota code "
        + "needs mapError).")
    @Test
    @DisplayName("s04 out of credits: InsufficientCreditsException, failover allowed, no retry")
    void s04_outOfCreditsFailsOverWithoutRetry() {
      assumeFalse(provider().capabilities().free(), "the provider is free (capabilities().free()): it has no credits");
      assumeSupported(ProviderStubs.Scenario.OUT_OF_CREDITS);
      currentStubs().outOfCredits();
      ImageGenerationException e = failure(generate(defaultRequest()), "s04", InsufficientCreditsException.class);
      assertClearError(e, "s04");
      check(e.failoverMayHelp(), "s04: failoverMayHelp() is false; another provider may well have credit");
      assertSubmits("s04", 1, "an empty account must not be retried on the same provider");
    }

    /**
     * Scenario 5: the API throttles with {@code Retry-After: 120}. A {@link RateLimitedException}
     * carrying about 120 s, returned at once (the kit's request has a 30 s deadline; nobody waits
     * two minutes), after one submit.
     */
    @IfFails("check that 429 answers keep the Retry-After header (the default mapping reads it; a custom mapError must pass "
        + "response.retryAfter()).")
    @Test
    @DisplayName("s05 rate limited: RateLimitedException carrying Retry-After, not waited for")
    void s05_rateLimitedCarriesRetryAfter() {
      assumeSupported(ProviderStubs.Scenario.RATE_LIMITED);
      currentStubs().rateLimited(Duration.ofSeconds(120));
      ImageGenerationRequest req = request().timeout(KitTime.scaled(Duration.ofSeconds(30))).build();
      Outcome<ImageGenerationResponse> o = generate(req);
      RateLimitedException e = failure(o, "s05", RateLimitedException.class);
      assertClearError(e, "s05");
      Duration ra = e.retryAfter();
      check(ra != null, "s05: retryAfter() is null; the API said Retry-After: 120");
      check(Math.abs(Objects.requireNonNull(ra).toSeconds() - 120) <= 5, "s05: retryAfter() is " + ra + "; the API said 120 s");
      check(o.elapsed().compareTo(KitTime.scaled(Duration.ofSeconds(5))) < 0, "s05: the call took " + o.elapsed()
          + "; a 120 s Retry-After must not be waited for (FAULTS.md 3)");
      assertSubmits("s05", 1, "a long Retry-After must not be retried on the same provider");
    }

    /**
     * Scenario 5 (FAULTS.md 3): with a second provider configured, a 429 with
     * {@code Retry-After: 120} fails over at once: the second provider serves, the first was
     * called once.
     */
    @IfFails("check that the RateLimitedException carries the delay (without it, imagegen retries the same provider instead "
        + "of cooling it down).")
    @Test
    @DisplayName("s05 a long Retry-After fails over at once")
    void s05_longRetryAfterFailsOverAtOnce() {
      assumeSupported(ProviderStubs.Scenario.RATE_LIMITED);
      restart(Map.of(), true);
      currentStubs().rateLimited(Duration.ofSeconds(120));
      ImageGenerationRequest req = request().timeout(KitTime.scaled(Duration.ofSeconds(30))).build();
      Outcome<ImageGenerationResponse> o = call("generateImageWithFailover", limit(req),
          () -> service().generateImageWithFailover(req));
      ImageGenerationResponse r = success(o, "s05 (failover)");
      check(FALLBACK_ID.equals(r.provider()), "s05 (failover): served by " + r.provider() + ", expected the fallback");
      check(o.elapsed().compareTo(KitTime.scaled(Duration.ofSeconds(5))) < 0, "s05 (failover): took " + o.elapsed()
          + "; failover after a long Retry-After must be immediate");
      assertSubmits("s05 (failover)", 1, "a long Retry-After must fail over, not retry");
    }

    /**
     * Scenario 12: the API refuses the request as invalid (400/422). An
     * {@link InvalidRequestException} carrying the provider's own message, one submit.
     */
    @IfFails("check the mapping of 400/422 and that the API's error text reaches the message (HttpErrors.message reads the "
        + "usual shapes; others need mapError).")
    @Test
    @DisplayName("s12 invalid request: InvalidRequestException with the provider's message")
    void s12_invalidRequestCarriesProviderMessage() {
      currentStubs().invalidRequest(INVALID_REQUEST_MESSAGE);
      ImageGenerationException e = failure(generate(defaultRequest()), "s12", InvalidRequestException.class);
      assertClearError(e, "s12");
      check(String.valueOf(e.getMessage()).contains(INVALID_REQUEST_MESSAGE), "s12: the message '" + e.getMessage()
          + "' does not carry the provider's text '" + INVALID_REQUEST_MESSAGE + "'");
      assertSubmits("s12", 1, "an invalid request must not be retried");
    }
  }

  // ================================================================== 6-7 transient faults

  /** Scenarios 6 and 7: transient server and transport faults. */
  @Nested
  @Order(3)
  @DisplayName("s06-s07 transient faults")
  class TransientFaults {

    /**
     * Scenario 6 (FAULTS.md 20): the first submit answers a 5xx (a second one would succeed).
     * The provider may have created the job before failing to answer, so the outcome is unknown:
     * the submit is never repeated blindly (a provider that implements {@code reconcile} may
     * resubmit only after looking the job up), and a failure is a clear error naming the provider.
     * Where the API documents that a failed request is not charged
     * ({@link ProviderStubs#failedAnswersAreNotCharged}), the provider maps that answer as not
     * billed and the submit is retried on the same provider instead.
     */
    @IfFails("check that the submit goes through ctx.http() (which makes a 5xx to a POST an unknown outcome) and is not "
        + "marked ProviderHttp.retrySafe, and that the provider does not resubmit on its own.")
    @Test
    @DisplayName("s06 a 5xx to the submit: unknown outcome, never resubmitted blindly")
    void s06_serverErrorToTheSubmitIsNotResubmittedBlindly() {
      StubImage img = image();
      currentStubs().serverErrorThenSuccess(img);
      Outcome<ImageGenerationResponse> o = generate(defaultRequest());
      if (currentStubs().failedAnswersAreNotCharged()) {
        // the API documents that a request answered with an error is not charged: sending it again is safe
        ImageGenerationResponse r = success(o, "s06 (failed answers not charged)");
        check(providerId().equals(r.provider()), "s06 (failed answers not charged): served by " + r.provider()
            + "; the 5xx answer proves nothing was created, so the same provider should be retried: " + r.attempts());
        check(Arrays.equals(r.image().bytes(), img.bytes()), "s06: the image's bytes are not those the API served");
        Attempt only = r.attempts().get(0);
        check(only.calls() >= 2, "s06 (failed answers not charged): the submit was not retried (" + only.calls() + " call)");
        check(!only.mayBeBilled(), "s06 (failed answers not charged): reported as possibly billed although the API "
            + "answered that the request failed");
        return;
      }
      if (o.error() == null) {
        ImageGenerationResponse r = success(o, "s06");
        check(Arrays.equals(r.image().bytes(), img.bytes()), "s06: the image's bytes are not those the API served");
      } else {
        assertClearError(failure(o, "s06", ImageGenerationException.class), "s06");
      }
      assertNotResubmittedBlindly("s06");
    }

    /**
     * Scenario 6 (FAULTS.md 2): the provider's server refuses connections. The call is retried
     * on the same provider (nothing was sent, so that is safe), then fails over to the second
     * provider, and the attempt is not reported as possibly billed.
     */
    @IfFails("check that every call goes through ctx.http() and that transport faults are not converted into non-retryable "
        + "exceptions.")
    @Test
    @DisplayName("s06 connection refused: retried, then failed over")
    void s06_connectionRefusedFailsOver() {
      restart(pointedAtClosedPort(), true);
      currentStubs().success(image());
      ImageGenerationRequest req = defaultRequest();
      Outcome<ImageGenerationResponse> o = call("generateImageWithFailover", limit(req),
          () -> service().generateImageWithFailover(req));
      ImageGenerationResponse r = success(o, "s06 (connection refused)");
      check(FALLBACK_ID.equals(r.provider()), "s06 (connection refused): served by " + r.provider());
      Attempt first = r.attempts().get(0);
      check(providerId().equals(first.provider()) && first.outcome() == Attempt.Outcome.FAILED,
          "s06 (connection refused): the first attempt should be a failure of " + providerId() + ": " + r.attempts());
      check(first.calls() >= 2, "s06 (connection refused): a refused connection was not retried on the same provider ("
          + first.calls() + " call); nothing was sent, so a retry is safe (FAULTS.md 2)");
      check(!first.mayBeBilled(), "s06 (connection refused): reported as possibly billed although nothing was sent");
    }

    /**
     * Scenario 7 (FAULTS.md 1): the submit's connection is reset after the request was sent.
     * A clear {@link ImageGenerationException} naming the provider, and, after a POST, exactly
     * one submit: the outcome is unknown, so it is never resubmitted blindly (a provider that
     * implements {@code reconcile} may resubmit only after looking the job up).
     */
    @IfFails("check that the provider does not catch transport errors and resubmit, and that it uses ctx.http() (which marks "
        + "the outcome unknown after a POST).")
    @Test
    @DisplayName("s07 connection reset after the submit: clear error, never resubmitted blindly")
    void s07_connectionResetIsNotResubmitted() {
      currentStubs().connectionReset();
      ImageGenerationException e = failure(generate(defaultRequest()), "s07 (reset)", ImageGenerationException.class);
      assertClearError(e, "s07 (reset)");
      assertNotResubmittedBlindly("s07 (reset)");
    }

    /**
     * Scenario 7: the submit answers 200 with an empty body. A clear
     * {@link ImageGenerationException} naming the provider, never a {@link NullPointerException}
     * or a Jackson exception, and no blind resubmit.
     */
    @IfFails("check that answers are parsed with ctx.http().json(...) or ctx.http().parse(...) and that missing fields are "
        + "checked before use.")
    @Test
    @DisplayName("s07 empty answer: clear error naming the provider")
    void s07_emptyResponseIsAClearError() {
      currentStubs().emptyResponse();
      ImageGenerationException e = failure(generate(defaultRequest()), "s07 (empty)", ImageGenerationException.class);
      assertClearError(e, "s07 (empty)");
      assertNotResubmittedBlindly("s07 (empty)");
    }

    /**
     * Scenario 7: the submit answers 200 with malformed JSON. A clear
     * {@link ImageGenerationException} naming the provider, never a Jackson exception, and no
     * blind resubmit.
     */
    @IfFails("check that JSON is read with ctx.http().json(...) / parse(...), not with the mapper directly.")
    @Test
    @DisplayName("s07 malformed JSON: clear error naming the provider")
    void s07_malformedJsonIsAClearError() {
      currentStubs().malformedJson();
      ImageGenerationException e = failure(generate(defaultRequest()), "s07 (malformed)", ImageGenerationException.class);
      assertClearError(e, "s07 (malformed)");
      assertNotResubmittedBlindly("s07 (malformed)");
    }
  }

  // ================================================================== 8-9 deadlines and cancellation

  /** Scenarios 8 and 9: the deadline passes, or the caller cancels. */
  @Nested
  @Order(4)
  @DisplayName("s08-s09 deadlines and cancellation")
  class DeadlinesAndCancellation {

    /**
     * Scenario 8 (FAULTS.md 8): the job never finishes and the request's deadline (1.5 s)
     * passes. A {@link GenerationTimeoutException} within the deadline plus a few seconds, and,
     * where the API has a cancel endpoint, a cancel call on the wire within 3 s.
     */
    @IfFails("check that the provider never blocks a thread (return futures), waits with ctx.await(...) (or calls "
        + "ctx.remoteJobStarted(id, cancel) itself) and that its RemoteJob.cancel() really sends the API's cancel call.")
    @Test
    @DisplayName("s08 slower than the deadline: GenerationTimeoutException, remote job cancelled")
    void s08_deadlineCancelsRemoteJob() {
      currentStubs().neverFinishes();
      Duration timeout = KitTime.scaledMillis(1500);
      ImageGenerationRequest req = request().timeout(timeout).build();
      Outcome<ImageGenerationResponse> o = generate(req);
      GenerationTimeoutException e = failure(o, "s08", GenerationTimeoutException.class);
      check(providerId().equals(e.providerId()), "s08: the timeout names provider " + e.providerId());
      assertNoSecret(e, "s08");
      Duration allowed = timeout.plus(KitTime.scaled(Duration.ofSeconds(3)));
      check(o.elapsed().compareTo(allowed) <= 0, "s08: the call returned after " + o.elapsed() + ", deadline " + timeout);
      if (remoteCancelExpected()) {
        RequestPatternBuilder cancels = Objects.requireNonNull(currentStubs().cancelRequests());
        boolean seen = waitFor(KitTime.scaled(Duration.ofSeconds(3)), () -> count(cancels) > 0);
        check(seen, "s08: no cancel call reached the API within 3 s of the deadline; the job keeps running and"
            + " may be billed");
      }
    }

    /**
     * Scenario 8 (FAULTS.md 14): the API accepts the submit's connection but its answer stalls
     * far beyond the deadline. The call still fails within the deadline plus a few seconds, with
     * an {@link ImageGenerationException} naming the provider, after one submit.
     */
    @IfFails("check that every call goes through ctx.http() (whose timeouts follow the deadline) and that nothing blocks a "
        + "thread waiting for an answer.")
    @Test
    @DisplayName("s08 a stalled answer still meets the deadline")
    void s08_stalledAnswerStillMeetsDeadline() {
      currentStubs().success(image());
      Duration timeout = KitTime.scaledMillis(1500);
      StubMapping stall = new StubMapping(currentStubs().submitRequests().build(), ResponseDefinitionBuilder
          .responseDefinition().withStatus(200).withHeader("Content-Type", "application/json").withBody("{}")
          .withFixedDelay((int) (timeout.toMillis() + KitTime.scaled(Duration.ofSeconds(5)).toMillis())).build());
      stall.setPriority(1);
      server().addStubMapping(stall);
      ImageGenerationRequest req = request().timeout(timeout).build();
      Outcome<ImageGenerationResponse> o = generate(req);
      ImageGenerationException e = failure(o, "s08 (stall)", ImageGenerationException.class);
      check(providerId().equals(e.providerId()), "s08 (stall): the failure names provider " + e.providerId());
      Duration allowed = timeout.plus(KitTime.scaled(Duration.ofSeconds(3)));
      check(o.elapsed().compareTo(allowed) <= 0, "s08 (stall): the call returned after " + o.elapsed() + ", deadline "
          + timeout + "; a stalled answer must not hold the caller past the deadline");
      check(submits().size() == 1, "s08 (stall): " + submits().size() + " submits; a submit whose answer never came"
          + " must not be repeated blindly");
    }

    /**
     * Scenario 9 (FAULTS.md 9): the caller cancels the job's future while the job is queued.
     * The future is cancelled, a cancel call reaches the API within 3 s, and polling stops.
     * Skipped where the API has no cancel endpoint.
     */
    @IfFails("check that generate returns without blocking, that the job is registered with ctx.remoteJobStarted (or "
        + "ctx.await) as soon as its id is known, that cancel() sends the API's cancel call, and that no poll loop of the "
        + "provider's own outlives the cancellation.")
    @Test
    @DisplayName("s09 the caller cancels: the remote job is cancelled, polling stops")
    void s09_callerCancelCancelsRemoteJob() {
      assumeTrue(provider().capabilities().cancellable(), "the provider cannot cancel jobs (capabilities().cancellable())");
      assumeSupported(ProviderStubs.Scenario.REMOTE_CANCEL);
      check(currentStubs().cancelRequests() != null, "s09: the provider claims cancellable() but its stubs name no cancel"
          + " requests (cancelRequests() is null)");
      currentStubs().neverFinishes();
      ImageGenerationRequest req = request().timeout(KitTime.scaled(Duration.ofSeconds(20))).build();
      List<ProgressEvent> events = new CopyOnWriteArrayList<>();
      GenerationJob job = submitJob(req, events);
      boolean started = waitFor(KitTime.scaled(Duration.ofSeconds(5)), () -> count(currentStubs().submitRequests()) > 0
          || !events.isEmpty());
      check(started, "s09: the submit never reached the API within 5 s");
      // let the submit's answer arrive, so the cancel also exercises the 'job id known' path
      waitFor(KitTime.scaledMillis(300), () -> !events.isEmpty() || pollCount() > 0);
      job.cancel();
      check(job.result().isCancelled(), "s09: the job's future is not cancelled after cancel()");
      boolean cancelled = waitFor(KitTime.scaled(Duration.ofSeconds(3)),
          () -> count(Objects.requireNonNull(currentStubs().cancelRequests())) > 0);
      check(cancelled, "s09: no cancel call reached the API within 3 s of the caller's cancel; the job keeps running"
          + " and may be billed");
      if (currentStubs().pollRequests() != null) {
        int before = pollCount();
        long pause = Math.max(3 * providerPollMillis(), 300);
        sleep(KitTime.scaledMillis(pause));
        int after = pollCount();
        check(after <= before + 1, "s09: the job was polled " + (after - before) + " more times in " + pause
            + " ms after it was cancelled; polling must stop");
      }
    }
  }

  // ================================================================== 10-11 results

  /** Scenarios 10 and 11: what the provider returns is refused or unusable. */
  @Nested
  @Order(5)
  @DisplayName("s10-s11 refused and unusable results")
  class Results {

    /**
     * Scenario 10 (FAULTS.md 12): the provider refuses the prompt or censors the output. With a
     * second provider configured, failover throws {@link ContentPolicyException} naming the
     * provider, and the second provider is never called.
     */
    @IfFails("check that the API's content-policy answer maps to ContentPolicyException (usually in mapError) and that "
        + "blanked images carry the nsfw flag (ctx.downloader().image(url, seed, true)).")
    @Test
    @DisplayName("s10 content policy: ContentPolicyException, not failed over")
    void s10_contentPolicyIsNotFailedOver() {
      assumeSupported(ProviderStubs.Scenario.CONTENT_POLICY);
      restart(Map.of(), true);
      currentStubs().contentPolicy();
      ImageGenerationRequest req = defaultRequest();
      Outcome<ImageGenerationResponse> o = call("generateImageWithFailover", limit(req),
          () -> service().generateImageWithFailover(req));
      ContentPolicyException e = failure(o, "s10", ContentPolicyException.class);
      assertClearError(e, "s10");
      int fallbackCalls = Objects.requireNonNull(running().fallback()).calls();
      check(fallbackCalls == 0, "s10: the second provider was called " + fallbackCalls + " time(s); a content-policy"
          + " refusal must not fail over by default");
    }

    /**
     * Scenario 11 (FAULTS.md 7): the job succeeds but its result URL answers 404. A clear
     * {@link ImageGenerationException} naming the provider that says 404 or gone; never a
     * success with some other image.
     */
    @IfFails("check that result URLs are fetched with ctx.downloader() and that its failure is passed on, not replaced.")
    @Test
    @DisplayName("s11 result URL answers 404: a clear error")
    void s11_resultUrlNotFoundIsAClearError() {
      assumeSupported(ProviderStubs.Scenario.RESULT_URL_NOT_FOUND);
      currentStubs().resultUrlNotFound();
      ImageGenerationException e = failure(generate(defaultRequest()), "s11 (404)", ImageGenerationException.class);
      assertClearError(e, "s11 (404)");
      String m = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT);
      check(m.contains("404") || m.contains("gone") || m.contains("not found"), "s11 (404): the message '"
          + e.getMessage() + "' does not say the result is gone (404)");
    }

    /**
     * Scenario 11 (FAULTS.md 6): the result is larger than {@code max-image-bytes} (4096 here).
     * A clear {@link ImageGenerationException} naming the provider and the limit.
     */
    @IfFails("check that images come from ctx.downloader(), which enforces max-image-bytes for URLs and inline data alike.")
    @Test
    @DisplayName("s11 image larger than max-image-bytes: a clear error")
    void s11_oversizedImageIsRefused() {
      restart(Map.of(ProviderConfig.MAX_IMAGE_BYTES, "4096"), false);
      currentStubs().oversizedImage(StubImages.webp(64, 64, 1, 20_000));
      ImageGenerationException e = failure(generate(defaultRequest()), "s11 (oversized)", ImageGenerationException.class);
      assertClearError(e, "s11 (oversized)");
      String m = String.valueOf(e.getMessage());
      check(m.contains("4096") || m.toLowerCase(Locale.ROOT).contains("limit"), "s11 (oversized): the message '"
          + m + "' does not mention the limit of 4096 bytes");
    }

    /**
     * Scenario 11 (FAULTS.md 6): the API answers "done" with bytes that are not an image. A
     * clear {@link ImageGenerationException} naming the provider; never a success.
     */
    @IfFails("check that images are built by ctx.downloader() (which checks the magic bytes), not with new "
        + "GeneratedImage(...).")
    @Test
    @DisplayName("s11 undecodable image: a failure, not a success")
    void s11_undecodableImageIsAFailure() {
      StubImage real = image();
      byte[] junk = "this is not an image, whatever the header says".getBytes(StandardCharsets.UTF_8);
      currentStubs().success(new StubImage(junk, real.mediaType(), real.width(), real.height(), real.seed()));
      ImageGenerationException e = failure(generate(defaultRequest()), "s11 (undecodable)",
          ImageGenerationException.class);
      assertClearError(e, "s11 (undecodable)");
    }
  }

  // ================================================================== 13-14 health and secrets

  /** Scenarios 13 and 14: health checks, and secrets. */
  @Nested
  @Order(6)
  @DisplayName("s13-s14 health and secrets")
  class HealthAndSecrets {

    /**
     * Scenario 13: {@code testConnection} makes a real call, and reports a good key as UP, a
     * refused key as AUTH_FAILED and a server that is down (nothing listening) as DOWN.
     */
    @IfFails("check health(ctx): it must call the API's cheap endpoint through ctx.http(), map 401/403 to AUTH_FAILED and "
        + "transport failures to DOWN, and never complete exceptionally.")
    @Test
    @DisplayName("s13 testConnection tells a good key, a bad key and a down server apart")
    void s13_healthTellsBadKeyFromDownServer() {
      currentStubs().healthy();
      ProviderHealth up = health("s13 (healthy)");
      check(up.state() == ProviderHealth.State.UP, "s13: a healthy API with a good key reported " + up);
      check(!server().getAllServeEvents().isEmpty(), "s13: testConnection reported UP without calling the API");

      resetServer();
      currentStubs().healthAuthRefused();
      ProviderHealth auth = health("s13 (key refused)");
      check(auth.state() == ProviderHealth.State.AUTH_FAILED, "s13: a refused key reported " + auth
          + ", expected AUTH_FAILED");
      assertNoSecret(String.valueOf(auth), "s13: the health result");

      restart(pointedAtClosedPort(), false);
      ProviderHealth down = health("s13 (down)");
      check(down.state() == ProviderHealth.State.DOWN, "s13: a server that is down reported " + down
          + ", expected DOWN");
      check(up.state() != auth.state() && auth.state() != down.state() && up.state() != down.state(),
          "s13: the three checks must differ: " + up.state() + ", " + auth.state() + ", " + down.state());
    }

    /**
     * Scenario 14: with the recognisable key configured, several scenarios run (success, key
     * refused, rate limited, invalid request, connection reset, health with a refused key) and
     * the key appears in no captured log line, no exception message or {@code toString()} along
     * the cause chain, and no {@code toString()} of the responses, attempts, health results,
     * config or provider. Every other scenario checks its exceptions and log lines too.
     */
    @IfFails("check log statements and messages built from the config, the request headers or the raw key (use ctx.log(), "
        + "which redacts, and Secret), and the provider's toString().")
    @Test
    @DisplayName("s14 the key never appears in logs, messages or toString()")
    void s14_secretsNeverLeak() {
      long mark = KitLogs.mark();
      List<Object> seen = new ArrayList<>();
      ImageGenerationRequest req = defaultRequest();

      currentStubs().success(image());
      seen.add(generate(req).value());
      seen.add(provider());
      seen.add(providerConfig());

      restart(Map.of(), false);
      resetServer();
      currentStubs().authenticationRefused();
      seen.add(generate(req).error());

      if (!currentStubs().unsupported().containsKey(ProviderStubs.Scenario.RATE_LIMITED)) {
        restart(Map.of(), false);
        resetServer();
        currentStubs().rateLimited(Duration.ofSeconds(120));
        seen.add(generate(req).error());
      }

      restart(Map.of(), false);
      resetServer();
      currentStubs().invalidRequest(INVALID_REQUEST_MESSAGE);
      seen.add(generate(req).error());

      restart(Map.of(), false);
      resetServer();
      currentStubs().connectionReset();
      seen.add(generate(req).error());

      restart(Map.of(), false);
      resetServer();
      currentStubs().healthAuthRefused();
      seen.add(health("s14 (health)"));
      seen.add(service().getMetrics());

      check(seen.stream().filter(Objects::nonNull).count() >= 5, "s14: fewer outcomes than expected: " + seen);
      for (Object o : seen) {
        if (o == null) {
          continue;
        }
        if (o instanceof Throwable t) {
          assertNoSecret(t, "s14");
        } else if (o instanceof ImageGenerationResponse r) {
          assertNoSecret(r.toString(), "s14: a response's toString()");
          for (Attempt a : r.attempts()) {
            assertNoSecret(a.toString(), "s14: an attempt's toString()");
            if (a.cause() != null) {
              assertNoSecret(a.cause(), "s14: an attempt's cause");
            }
          }
          r.metadata().forEach((k, v) -> assertNoSecret(k + "=" + v, "s14: the response's metadata"));
        } else {
          assertNoSecret(String.valueOf(o), "s14: the toString() of a " + o.getClass().getSimpleName());
        }
      }
      assumeTrue(KitLogs.capturing(), "log lines cannot be checked: SLF4J uses " + KitLogs.activeFactory()
          + " instead of the testkit's provider: the class path has its own SLF4J binding (to check logs anyway, run"
          + " the tests with -D" + KitLogs.PROVIDER_PROPERTY + "=" + CapturingLoggerProvider.class.getName() + ")");
      List<String> lines = KitLogs.since(mark);
      assertNoSecretInLogs(lines, "s14: a captured log line contains the API key");
    }
  }

  // ================================================================== helpers

  private ImageGenerationRequest defaultRequest() {
    return request().timeout(KitTime.scaled(Duration.ofSeconds(20))).build();
  }

  private Duration limit(ImageGenerationRequest req) {
    Duration t = req.timeout() == null ? KitTime.scaled(Duration.ofSeconds(30)) : req.timeout();
    return t.plus(KitTime.scaled(Duration.ofSeconds(10)));
  }

  /**
   * Runs {@code generateImage(request, providerId)} on a kit thread, failing if it does not return
   * within the request's timeout plus 10 s.
   *
   * @param request the request
   * @return what the call came to
   */
  protected final Outcome<ImageGenerationResponse> generate(ImageGenerationRequest request) {
    String id = providerId();
    return call("generateImage", limit(request), () -> service().generateImage(request, id));
  }

  /**
   * Runs an action on a kit thread with a time limit: a provider that blocks or never completes
   * fails the scenario instead of hanging the build.
   *
   * @param what what is called, for the message
   * @param limit how long to wait
   * @param action the action
   * @param <T> its result
   * @return its result or failure, and how long it took
   */
  protected final <T> Outcome<T> call(String what, Duration limit, Callable<T> action) {
    long t0 = System.nanoTime();
    Future<T> f = Objects.requireNonNull(callers).submit(action);
    try {
      T v = f.get(limit.toMillis(), TimeUnit.MILLISECONDS);
      return new Outcome<>(v, null, Duration.ofNanos(System.nanoTime() - t0));
    } catch (ExecutionException e) {
      Throwable c = e.getCause() == null ? e : e.getCause();
      return new Outcome<>(null, c, Duration.ofNanos(System.nanoTime() - t0));
    } catch (TimeoutException e) {
      f.cancel(true);
      throw new AssertionError(what + " did not return within " + limit + "; does the provider block a thread or"
          + " ignore the deadline?");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted while waiting for " + what, e);
    }
  }

  private GenerationJob submitJob(ImageGenerationRequest req, List<ProgressEvent> events) {
    Outcome<GenerationJob> o = call("submit", KitTime.scaled(Duration.ofSeconds(5)), () -> service().submit(req));
    if (o.error() != null) {
      throw new AssertionError("submit(request) failed: " + o.error(), o.error());
    }
    GenerationJob job = Objects.requireNonNull(o.value(), "submit returned null");
    job.onProgress(events::add);
    return job;
  }

  private Outcome<ImageGenerationResponse> await(GenerationJob job, ImageGenerationRequest req) {
    return call("the job's result", limit(req), () -> {
      try {
        return job.result().get();
      } catch (ExecutionException e) {
        throw e.getCause() instanceof Exception x ? x : e;
      }
    });
  }

  private ProviderHealth health(String scenario) {
    String id = providerId();
    Outcome<ProviderHealth> o = call("testConnection", KitTime.scaled(Duration.ofSeconds(40)),
        () -> service().testConnection(id));
    if (o.error() != null) {
      throw new AssertionError(scenario + ": testConnection threw " + o.error() + "; health() must never complete"
          + " exceptionally", o.error());
    }
    return Objects.requireNonNull(o.value(), scenario + ": testConnection returned null");
  }

  private <T> T success(Outcome<T> o, String scenario) {
    if (o.error() != null) {
      throw new AssertionError(scenario + ": expected success, but the call failed with " + describe(o.error()),
          o.error());
    }
    return Objects.requireNonNull(o.value(), scenario + ": the call returned null");
  }

  private <E extends ImageGenerationException> E failure(Outcome<?> o, String scenario, Class<E> expected) {
    Throwable e = o.error();
    if (e == null) {
      throw new AssertionError(scenario + ": expected " + expected.getSimpleName() + ", but the call succeeded: "
          + o.value());
    }
    if (!expected.isInstance(e)) {
      throw new AssertionError(scenario + ": expected " + expected.getSimpleName() + ", but got " + describe(e), e);
    }
    return expected.cast(e);
  }

  private static String describe(Throwable e) {
    return e.getClass().getName() + ": " + e.getMessage();
  }

  /** The failure names the provider and is imagegen's own, not a leaked NPE or Jackson exception. */
  private void assertClearError(ImageGenerationException e, String scenario) {
    String id = providerId();
    String m = String.valueOf(e.getMessage());
    check(id.equals(e.providerId()), scenario + ": the exception names provider '" + e.providerId() + "', expected '"
        + id + "': " + describe(e));
    check(m.contains(id), scenario + ": the message does not name the provider: " + m);
    check(!m.contains("provider fault:"), scenario + ": an exception that is not an ImageGenerationException escaped"
        + " the provider (imagegen reported it as a provider fault): " + m);
    for (Throwable t : chain(e)) {
      check(!(t instanceof NullPointerException), scenario + ": a NullPointerException in the cause chain: " + describe(e));
    }
    check(!e.getClass().getName().startsWith("com.fasterxml"), scenario + ": a Jackson exception leaked: " + describe(e));
    check(!m.contains("NullPointerException"), scenario + ": the message reports a NullPointerException: " + m);
    assertNoSecret(e, scenario);
  }

  private void assertNoSecret(Throwable e, String scenario) {
    for (Throwable t : chain(e)) {
      assertNoSecret(t.getMessage(), scenario + ": the message of " + t.getClass().getName());
      assertNoSecret(t.toString(), scenario + ": the toString() of " + t.getClass().getName());
    }
  }

  private void assertNoSecret(@Nullable String text, String where) {
    if (text != null && (text.contains(apiKey) || text.contains(keyHex))) {
      throw new AssertionError(where + " contains the API key: " + text.replace(apiKey, "<THE KEY>")
          .replace(keyHex, "<THE KEY>"));
    }
  }

  private void assertNoSecretInLogs(List<String> lines, String what) {
    for (String line : lines) {
      if (line.contains(apiKey) || line.contains(keyHex)) {
        throw new AssertionError(what + ": " + line.replace(apiKey, "<THE KEY>").replace(keyHex, "<THE KEY>"));
      }
    }
  }

  private static List<Throwable> chain(Throwable e) {
    List<Throwable> out = new ArrayList<>();
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    List<Throwable> todo = new ArrayList<>(List.of(e));
    while (!todo.isEmpty()) {
      Throwable t = todo.remove(0);
      if (t == null || !seen.add(t)) {
        continue;
      }
      out.add(t);
      if (t.getCause() != null) {
        todo.add(t.getCause());
      }
      todo.addAll(Arrays.asList(t.getSuppressed()));
    }
    return out;
  }

  private void assertProgressInOrder(List<ProgressEvent> events) {
    List<ProgressEvent> evs = List.copyOf(events);
    String shown = evs.stream().map(e -> e.stage() + (e.queuePosition() != null ? "#" + e.queuePosition() : "")
        + (e.percent() != null ? "@" + e.percent() + "%" : "")).toList().toString();
    int firstQueued = -1;
    int firstLater = -1;
    for (int i = 0; i < evs.size(); i++) {
      ProgressEvent e = evs.get(i);
      if (e.stage() == ProgressEvent.Stage.QUEUED && e.queuePosition() != null && firstQueued < 0) {
        firstQueued = i;
      }
      if ((e.stage() == ProgressEvent.Stage.RUNNING || e.stage() == ProgressEvent.Stage.DONE) && firstLater < 0) {
        firstLater = i;
      }
      for (ProgressEvent p : evs.subList(0, i)) {
        check(p.stage().ordinal() <= e.stage().ordinal(), "s02: progress went back from " + p.stage() + " to "
            + e.stage() + ": " + shown);
      }
    }
    check(firstQueued >= 0, "s02: no QUEUED event with a queue position: " + shown);
    check(firstLater > firstQueued, "s02: no RUNNING or DONE event after the QUEUED one: " + shown);
    check(evs.get(evs.size() - 1).stage() == ProgressEvent.Stage.DONE, "s02: the last event is not DONE: " + shown);
    Integer lastPos = null;
    Double lastPct = null;
    for (ProgressEvent e : evs) {
      if (e.stage() == ProgressEvent.Stage.QUEUED && e.queuePosition() != null) {
        check(lastPos == null || e.queuePosition() <= lastPos, "s02: the queue position grew: " + shown);
        lastPos = e.queuePosition();
      }
      if (e.stage() == ProgressEvent.Stage.RUNNING && e.percent() != null) {
        check(lastPct == null || e.percent() >= lastPct, "s02: the percent shrank: " + shown);
        check(e.percent() >= 0 && e.percent() <= 100, "s02: a percent outside 0..100: " + shown);
        lastPct = e.percent();
      }
    }
  }

  private void assertPollIntervals(String scenario) {
    RequestPatternBuilder polls = currentStubs().pollRequests();
    if (polls == null) {
      return;
    }
    List<LoggedRequest> ps = new ArrayList<>(server().findAll(polls));
    ps.sort(Comparator.comparing(LoggedRequest::getLoggedDate));
    check(ps.size() >= 2, scenario + ": only " + ps.size() + " poll(s) on the wire; the stubs promise several");
    long floor = currentStubs().minPollInterval().toMillis();
    long min = (long) Math.floor(floor * POLL_TOLERANCE);
    for (int i = 1; i < ps.size(); i++) {
      long gap = ps.get(i).getLoggedDate().getTime() - ps.get(i - 1).getLoggedDate().getTime();
      check(gap >= min, scenario + ": two polls " + gap + " ms apart; the provider's documented floor is " + floor
          + " ms (minPollInterval()); check the PollPolicy floor");
    }
  }

  private StubMapping pollFault(RequestPattern pattern, int status, String message, String scenario, String from,
      String to) {
    ResponseDefinition answer = ResponseDefinitionBuilder.responseDefinition().withStatus(status)
        .withHeader("Content-Type", "application/json")
        .withBody("{\"error\":\"" + message + "\",\"message\":\"" + message + "\"}").build();
    StubMapping m = new StubMapping(pattern, answer);
    m.setPriority(1);
    m.setScenarioName(scenario);
    m.setRequiredScenarioState(from);
    m.setNewScenarioState(to);
    return m;
  }

  private void assertSubmits(String scenario, int expected, String why) {
    int n = submits().size();
    check(n == expected, scenario + ": " + n + " submit(s) on the wire, expected " + expected + ": " + why);
  }

  /** After a lost answer to a POST, the submit may be repeated only after a reconciling lookup. */
  private void assertNotResubmittedBlindly(String scenario) {
    List<LoggedRequest> subs = submits();
    check(!subs.isEmpty(), scenario + ": no submit reached the API");
    if (subs.size() == 1 || !RequestMethod.POST.equals(subs.get(0).getMethod())) {
      return;
    }
    check(overridesReconcile(), scenario + ": the submit was sent " + subs.size() + " times; its outcome was unknown"
        + " (the POST was sent, the answer lost), so it must never be resubmitted blindly (FAULTS.md 1)");
    RequestPattern submit = currentStubs().submitRequests().build();
    List<ServeEvent> all = new ArrayList<>(server().getAllServeEvents());
    all.sort(Comparator.comparing(e -> e.getRequest().getLoggedDate()));
    boolean lookedUp = true;
    boolean first = true;
    for (ServeEvent e : all) {
      boolean isSubmit = submit.match(e.getRequest()).isExactMatch();
      if (isSubmit) {
        if (!first && !lookedUp) {
          throw new AssertionError(scenario + ": the submit was repeated without a reconciling lookup in between;"
              + " its outcome was unknown (FAULTS.md 1)");
        }
        first = false;
        lookedUp = false;
      } else {
        lookedUp = true;
      }
    }
  }

  private boolean overridesReconcile() {
    try {
      return provider().getClass().getMethod("reconcile", ImageGenerationRequest.class, GenerationContext.class)
          .getDeclaringClass() != ImageProvider.class;
    } catch (NoSuchMethodException e) {
      return false;
    }
  }

  private boolean remoteCancelExpected() {
    return provider().capabilities().cancellable() && currentStubs().cancelRequests() != null
        && !currentStubs().unsupported().containsKey(ProviderStubs.Scenario.REMOTE_CANCEL);
  }

  private void assumeQueued() {
    assumeTrue(provider().capabilities().queued(), "the provider is not queued (capabilities().queued() is false):"
        + " no queue position to report");
    assumeSupported(ProviderStubs.Scenario.QUEUED_PROGRESS);
  }

  private void assumeSupported(ProviderStubs.Scenario s) {
    String why = currentStubs().unsupported().get(s);
    assumeTrue(why == null, () -> "the provider's API cannot exhibit " + s + ": " + why);
  }

  private List<LoggedRequest> submits() {
    return server().findAll(currentStubs().submitRequests());
  }

  private int count(RequestPatternBuilder p) {
    return server().findAll(p).size();
  }

  private int pollCount() {
    RequestPatternBuilder p = currentStubs().pollRequests();
    return p == null ? 0 : count(p);
  }

  private long providerPollMillis() {
    return Math.max(currentStubs().minPollInterval().toMillis(), MIN_POLL_MILLIS);
  }

  /** {@code base-url}, and every extra config value pointing at the kit's server, pointed at a closed port instead. */
  private Map<String, String> pointedAtClosedPort() {
    String closed = closedPortUrl();
    String live = server().baseUrl();
    Map<String, String> m = new LinkedHashMap<>();
    currentStubs().extraConfig().forEach((k, v) -> {
      if (v.startsWith(live)) {
        m.put(k, closed + v.substring(live.length()));
      }
    });
    m.put(ProviderConfig.BASE_URL, closed + currentStubs().basePath());
    return m;
  }

  private static String closedPortUrl() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return "http://127.0.0.1:" + s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException("cannot find a free local port", e);
    }
  }

  private static boolean waitFor(Duration limit, BooleanSupplier condition) {
    long end = System.nanoTime() + limit.toNanos();
    while (true) {
      if (condition.getAsBoolean()) {
        return true;
      }
      if (System.nanoTime() >= end) {
        return false;
      }
      sleep(Duration.ofMillis(20));
    }
  }

  /** The test thread's pause between two looks at the journal (test code; no generation waits here). */
  private static void sleep(Duration d) {
    LockSupport.parkNanos(d.toNanos());
    if (Thread.interrupted()) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted");
    }
  }

  private static void check(boolean ok, String message) {
    if (!ok) {
      throw new AssertionError(message);
    }
  }

  /** The kit's configuration in words, for messages (the key masked). */
  @Override
  public String toString() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("factory", factory().id());
    m.put("timeScale", KitTime.scale());
    return getClass().getSimpleName() + m;
  }
}
