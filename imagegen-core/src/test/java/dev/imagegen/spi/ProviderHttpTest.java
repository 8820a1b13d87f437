package dev.imagegen.spi;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import dev.imagegen.AuthenticationException;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.testing.TestImages;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The HTTP support every provider shares, against a real HTTP server. */
class ProviderHttpTest {
  private static final String KEY = "sk-live-SECRET-0123456789";
  private static WireMockServer server;
  private TestContext ctx;

  @BeforeAll
  static void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  @BeforeEach
  void reset() {
    server.resetAll();
    ctx = new TestContext(ProviderConfig.builder("acme").apiKey(KEY).baseUrl(server.baseUrl()).set("timeout", "2s").set("max-image-bytes", "5000")
        .set("download-timeout", "1500ms").build());
  }

  private URI uri(String path) {
    return URI.create(server.baseUrl() + path);
  }

  private static Throwable failure(CompletableFuture<?> f) {
    Throwable t = catchThrowable(f::join);
    assertThat(t).isInstanceOf(CompletionException.class);
    return t.getCause();
  }

  private HttpRequest postJob() {
    return ctx.http.request(uri("/jobs")).header("Content-Type", "application/json")
        .POST(ctx.http.jsonBody(java.util.Map.of("prompt", "fox"))).build();
  }

  @Test
  void atMostMaxConnectionsExchangesAreInFlightAndAQueuedOneKeepsItsTimeout() throws Exception {
    server.stubFor(get("/slow").willReturn(aResponse().withStatus(200).withBody("{}").withFixedDelay(400)));
    TestContext two = new TestContext(ProviderConfig.builder("acme").apiKey(KEY).baseUrl(server.baseUrl())
        .set("max-connections", "2").set("timeout", "3s").build());
    long t0 = System.nanoTime();
    java.util.List<CompletableFuture<HttpResult>> calls = new java.util.ArrayList<>();
    for (int i = 0; i < 6; i++) {
      calls.add(two.http.send(two.http.request(uri("/slow")).GET().build(), ProviderHttp.MAX_API_BODY_BYTES));
    }
    for (CompletableFuture<HttpResult> c : calls) {
      assertThat(c.get(10, java.util.concurrent.TimeUnit.SECONDS).status()).isEqualTo(200);
    }
    // 6 answers of 400 ms, 2 at a time: three rounds (unbounded, one round)
    assertThat(java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isGreaterThanOrEqualTo(1_150);

    // a call that waits for room past its timeout fails as a timeout and never reaches the server
    server.resetRequests();
    TestContext one = new TestContext(ProviderConfig.builder("acme").apiKey(KEY).baseUrl(server.baseUrl())
        .set("max-connections", "1").set("timeout", "250ms").build());
    server.stubFor(get("/hang").willReturn(aResponse().withStatus(200).withBody("{}").withFixedDelay(2_000)));
    // the holder's own timeout (1.5 s) outlasts the queued call's (250 ms): the room comes back only after that one gave up
    CompletableFuture<HttpResult> holder = one.http.send(one.http.request(uri("/hang")).timeout(java.time.Duration.ofMillis(1_500))
        .GET().build(), ProviderHttp.MAX_API_BODY_BYTES);
    CompletableFuture<HttpResult> queued = one.http.send(one.http.request(uri("/slow")).GET().build(), ProviderHttp.MAX_API_BODY_BYTES);
    assertThat(failure(queued)).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("no answer within");
    assertThat(failure(holder)).isInstanceOf(ProviderUnavailableException.class);
    // both gave their room back: the next call goes at once
    server.stubFor(get("/quick").willReturn(aResponse().withStatus(200).withBody("{}")));
    assertThat(one.http.send(one.http.request(uri("/quick")).GET().build(), ProviderHttp.MAX_API_BODY_BYTES)
        .get(5, java.util.concurrent.TimeUnit.SECONDS).status()).isEqualTo(200);
    assertThat(server.findAll(getRequestedFor(urlEqualTo("/slow")))).isEmpty();
  }

  @Test
  void anEventStreamHandsOnEachEventsDataJoinedAndSkipsTheRest() throws Exception {
    // CRLF and LF lines, a comment, an event name, an id, a two-line data, and a last event without its blank line
    String body = ": hello\r\nevent: status\r\nid: 1\r\ndata: {\"status\":\"IN_QUEUE\"}\r\n\r\n"
        + "data:first\ndata: second\n\n\n" + "data: {\"status\":\"COMPLETED\"}";
    server.stubFor(get("/stream").willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream")
        .withBody(body)));
    java.util.List<String> got = new java.util.concurrent.CopyOnWriteArrayList<>();
    int status = ctx.http.events(ctx.http.request(uri("/stream")).GET().build(), got::add).get(5, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(status).isEqualTo(200);
    assertThat(got).containsExactly("{\"status\":\"IN_QUEUE\"}", "first\nsecond", "{\"status\":\"COMPLETED\"}");
  }

  @Test
  void anEventStreamAnsweredWithAnErrorHandsNothingOnAndOneThatIsCancelledCloses() throws Exception {
    server.stubFor(get("/stream").willReturn(aResponse().withStatus(404).withBody("data: {\"status\":\"COMPLETED\"}\n\n")));
    java.util.List<String> got = new java.util.concurrent.CopyOnWriteArrayList<>();
    assertThat(ctx.http.events(ctx.http.request(uri("/stream")).GET().build(), got::add).get(5, java.util.concurrent.TimeUnit.SECONDS))
        .isEqualTo(404);
    assertThat(got).isEmpty();

    server.stubFor(get("/slow").willReturn(aResponse().withStatus(200).withBody("data: late\n\n").withFixedDelay(5_000)));
    CompletableFuture<Integer> slow = ctx.http.events(ctx.http.request(uri("/slow")).GET().build(), got::add);
    assertThat(slow.cancel(true)).isTrue();
    assertThat(slow).isCancelled();
    assertThat(got).isEmpty();
  }

  @Test
  void noEventStreamIsOpenedOverAClientThatFollowsRedirectsItself() {
    // the redirect points elsewhere: a following client would send the key there
    server.stubFor(get("/stream").willReturn(aResponse().withStatus(302).withHeader("Location", "http://127.0.0.1:1/steal")));
    java.net.http.HttpClient following = java.net.http.HttpClient.newBuilder().followRedirects(java.net.http.HttpClient.Redirect.ALWAYS)
        .build();
    ProviderHttp http = new ProviderHttp(ctx, following, "t", null, r -> null);
    Throwable t = failure(http.events(http.request(uri("/stream")).header("Authorization", "Bearer " + KEY).GET().build(), d -> { }));
    assertThat(t).hasMessageContaining("follows redirects").hasMessageNotContaining(KEY);
    server.verify(0, getRequestedFor(urlEqualTo("/stream")));
  }

  @Test
  void anEventOverTheLimitOrAConsumerThatThrowsEndsTheStream() {
    String big = "data: " + "x".repeat(ProviderHttp.MAX_EVENT_CHARS + 10) + "\n\ndata: after\n\n";
    server.stubFor(get("/big").willReturn(aResponse().withStatus(200).withBody(big)));
    java.util.List<String> got = new java.util.concurrent.CopyOnWriteArrayList<>();
    Throwable t = failure(ctx.http.events(ctx.http.request(uri("/big")).GET().build(), got::add));
    assertThat(t).hasMessageContaining("over " + ProviderHttp.MAX_EVENT_CHARS);
    assertThat(got).isEmpty();

    server.stubFor(get("/two").willReturn(aResponse().withStatus(200).withBody("data: one\n\ndata: two\n\n")));
    Throwable thrown = failure(ctx.http.events(ctx.http.request(uri("/two")).GET().build(), d -> {
      got.add(d);
      throw new IllegalStateException("consumer failed");
    }));
    assertThat(thrown).hasMessage("consumer failed");
    assertThat(got).containsExactly("one");
  }

  @Test
  void sendsUserAgentAndParsesJson() {
    server.stubFor(post("/jobs").willReturn(aResponse().withStatus(201).withBody("{\"id\":\"j1\",\"extra\":1}")));
    JsonNode n = ctx.http.json(postJob()).join();
    assertThat(n.path("id").asText()).isEqualTo("j1");
    server.verify(com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor(urlEqualTo("/jobs"))
        .withHeader("User-Agent", com.github.tomakehurst.wiremock.client.WireMock.matching("imagegen-java/.+"))
        .withRequestBody(com.github.tomakehurst.wiremock.client.WireMock.equalToJson("{\"prompt\":\"fox\"}")));
  }

  @Test
  void retryAfterInSecondsAndAsHttpDate() {
    server.stubFor(post("/jobs").willReturn(aResponse().withStatus(429).withHeader("Retry-After", "120")
        .withBody("{\"detail\":\"slow down\"}")));
    Throwable t = failure(ctx.http.json(postJob()));
    assertThat(t).isInstanceOfSatisfying(RateLimitedException.class, e -> {
      assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(120));
      assertThat(e.providerId()).isEqualTo("acme");
      assertThat(e.getMessage()).contains("slow down");
    });
    String date = ZonedDateTime.now(java.time.ZoneOffset.UTC).plusSeconds(90).format(DateTimeFormatter.RFC_1123_DATE_TIME);
    server.stubFor(post("/jobs").willReturn(aResponse().withStatus(429).withHeader("Retry-After", date)));
    Throwable t2 = failure(ctx.http.json(postJob()));
    assertThat(((RateLimitedException) t2).retryAfter()).isBetween(Duration.ofSeconds(85), Duration.ofSeconds(91));
  }

  @Test
  void statusCodesMapToTheTaxonomyWithTheProvidersMessage() {
    server.stubFor(post("/jobs").willReturn(aResponse().withStatus(401).withBody("{\"message\":\"bad key " + KEY + "\"}")));
    Throwable auth = failure(ctx.http.json(postJob()));
    assertThat(auth).isInstanceOf(AuthenticationException.class);
    assertThat(auth.getMessage()).contains("bad key ****").doesNotContain(KEY);

    server.stubFor(post("/jobs").willReturn(aResponse().withStatus(402).withBody("{\"title\":\"Insufficient credit\"}")));
    assertThat(failure(ctx.http.json(postJob()))).isInstanceOf(InsufficientCreditsException.class)
        .hasMessageContaining("Insufficient credit");

    server.stubFor(post("/jobs").willReturn(aResponse().withStatus(422)
        .withBody("{\"detail\":[{\"loc\":[\"body\",\"width\"],\"msg\":\"must be <= 2048\"}]}")));
    assertThat(failure(ctx.http.json(postJob()))).isInstanceOfSatisfying(InvalidRequestException.class,
        e -> assertThat(e.getMessage()).contains("width: must be <= 2048"));

    // a 5xx to a submit: the job may exist, so it is not retried blindly
    server.stubFor(post("/jobs").willReturn(aResponse().withStatus(503).withHeader("Retry-After", "30").withBody("down")));
    assertThat(failure(ctx.http.json(postJob()))).isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
      assertThat(e.retryMayHelp()).isFalse();
      assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(30));
      assertThat(e.outcomeUnknown()).isTrue();
    });
    server.stubFor(get("/jobs/1").willReturn(aResponse().withStatus(503).withHeader("Retry-After", "30").withBody("down")));
    assertThat(failure(ctx.http.json(ctx.http.request(uri("/jobs/1")).GET().build())))
        .isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
          assertThat(e.retryMayHelp()).isTrue();
          assertThat(e.outcomeUnknown()).isFalse();
        });
  }

  @Test
  void aProviderWhoseFailedRequestsAreNotChargedMakesA5xxAnswerRetryableButATransportFaultStaysUnknown() {
    // a synchronous API that documents "failed requests are not charged": its own mapping says so for its error body
    ProviderHttp http = new ProviderHttp(ctx, java.net.http.HttpClient.newBuilder().build(), "imagegen-java/test", null,
        r -> r.status() >= 500 && r.text().contains("server_error")
            ? ProviderUnavailableException.builder("acme: HTTP " + r.status() + " server_error; nothing was created", "acme")
                .retryable(true).notBilled().retryAfter(r.retryAfter()).build()
            : null);
    server.stubFor(post("/jobs").willReturn(aResponse().withStatus(503).withHeader("Retry-After", "2")
        .withBody("{\"error\":{\"type\":\"server_error\",\"message\":\"overloaded\"}}")));
    assertThat(failure(http.json(postJob()))).isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
      assertThat(e.outcomeUnknown()).isFalse();
      assertThat(e.notBilled()).isTrue();
      assertThat(e.retryMayHelp()).isTrue();
      assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(2));
    });
    // a 5xx the mapping does not recognise (a proxy's page) is still an unknown outcome
    server.stubFor(post("/jobs").willReturn(aResponse().withStatus(502).withBody("<html>bad gateway</html>")));
    assertThat(failure(http.json(postJob()))).isInstanceOfSatisfying(ProviderUnavailableException.class,
        e -> assertThat(e.outcomeUnknown()).isTrue());
    // and a reset after sending is always unknown: no answer proves anything
    server.stubFor(post("/jobs").willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
    assertThat(failure(http.json(postJob()))).isInstanceOfSatisfying(ProviderUnavailableException.class,
        e -> assertThat(e.outcomeUnknown()).isTrue());
  }

  @Test
  void aTimeoutAfterAPostLeavesTheOutcomeUnknownButAGetIsSafeToRetry() {
    server.stubFor(post("/jobs").willReturn(aResponse().withFixedDelay(5000).withBody("{}")));
    server.stubFor(get("/jobs/1").willReturn(aResponse().withFixedDelay(5000).withBody("{}")));
    Throwable post = failure(ctx.http.json(postJob()));
    assertThat(post).isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
      assertThat(e.outcomeUnknown()).isTrue();
      assertThat(e.retryMayHelp()).isFalse();
      assertThat(e.getMessage()).contains("outcome is unknown");
    });
    Throwable get = failure(ctx.http.json(ctx.http.request(uri("/jobs/1")).GET().build()));
    assertThat(get).isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
      assertThat(e.outcomeUnknown()).isFalse();
      assertThat(e.retryMayHelp()).isTrue();
    });
  }

  @Test
  void connectionResetAfterSendingAPostIsAnUnknownOutcome() {
    server.stubFor(post("/jobs").willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
    Throwable t = failure(ctx.http.json(postJob()));
    assertThat(t).isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
      assertThat(e.outcomeUnknown()).isTrue();
      assertThat(e.getMessage()).startsWith("acme: connection failed (POST /jobs)");
    });
  }

  @Test
  void aSubmitStillWaitingForRoomWhenItsGenerationIsCancelledIsNeverSent() throws Exception {
    TestContext one = new TestContext(ProviderConfig.builder("acme").apiKey(KEY).baseUrl(server.baseUrl())
        .set("max-connections", "1").set("timeout", "3s").build());
    server.stubFor(get("/hang").willReturn(aResponse().withStatus(200).withBody("{}").withFixedDelay(800)));
    server.stubFor(post("/jobs").willReturn(aResponse().withStatus(201).withBody("{\"id\":\"j1\"}")));
    server.stubFor(com.github.tomakehurst.wiremock.client.WireMock.put("/jobs/j0/cancel").willReturn(aResponse().withBody("{}")));
    CompletableFuture<HttpResult> holder = one.http.send(one.http.request(uri("/hang")).GET().build(), ProviderHttp.MAX_API_BODY_BYTES);
    SwitchableGeneration g = new SwitchableGeneration(one);
    ProviderHttp bound = one.http.bind(g);
    CompletableFuture<HttpResult> submit = bound.send(postJob(), ProviderHttp.MAX_API_BODY_BYTES); // waits for the room
    g.cancel();
    assertThat(holder.get(5, java.util.concurrent.TimeUnit.SECONDS).status()).isEqualTo(200);
    // sent after the cancel, it would create a job, billed, that nobody waits for
    assertThat(failure(submit)).isInstanceOf(dev.imagegen.GenerationCancelledException.class).hasMessageContaining("not sent");
    server.verify(0, com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor(urlEqualTo("/jobs")));
    // a call made after the cancel (the remote cancel of another job) still goes out
    assertThat(bound.send(bound.request(uri("/jobs/j0/cancel")).PUT(HttpRequest.BodyPublishers.noBody()).build(),
        ProviderHttp.MAX_API_BODY_BYTES).get(5, java.util.concurrent.TimeUnit.SECONDS).status()).isEqualTo(200);
  }

  @Test
  void afterACancelReadsAreRefusedButACancelCallStillGoesOut() {
    server.stubFor(com.github.tomakehurst.wiremock.client.WireMock.put("/jobs/1/cancel").willReturn(aResponse().withBody("{}")));
    server.stubFor(post("/jobs/1/cancel").willReturn(aResponse().withBody("{}")));
    server.stubFor(get("/jobs/1").willReturn(aResponse().withBody("{}")));
    CancelledGeneration cancelled = new CancelledGeneration(ctx);
    ProviderHttp bound = new ProviderHttp(cancelled, HttpClientHolder.CLIENT, "t", cancelled, r -> null);
    assertThat(bound.json(bound.request(uri("/jobs/1/cancel")).PUT(HttpRequest.BodyPublishers.noBody()).build()).join()).isNotNull();
    assertThat(bound.json(bound.request(uri("/jobs/1/cancel")).POST(HttpRequest.BodyPublishers.noBody()).build()).join()).isNotNull();
    assertThat(failure(bound.json(bound.request(uri("/jobs/1")).GET().build())))
        .isInstanceOf(dev.imagegen.GenerationCancelledException.class);
    server.verify(0, getRequestedFor(urlEqualTo("/jobs/1")));
  }

  private static final class HttpClientHolder {
    static final java.net.http.HttpClient CLIENT = java.net.http.HttpClient.newBuilder()
        .version(java.net.http.HttpClient.Version.HTTP_1_1).build();
  }

  /** A generation context a test cancels, over a plain provider context, with a minute to go. */
  private static final class SwitchableGeneration implements GenerationContext {
    private final TestContext base;
    private final java.time.Instant deadline = java.time.Instant.now().plusSeconds(60);
    private final java.util.List<Runnable> onCancel = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile boolean cancelled;

    SwitchableGeneration(TestContext base) {
      this.base = base;
    }

    void cancel() {
      cancelled = true;
      onCancel.forEach(Runnable::run);
    }

    @Override public String providerId() { return base.providerId(); }
    @Override public ProviderConfig config() { return base.config(); }
    @Override public com.fasterxml.jackson.databind.ObjectMapper json() { return base.json(); }
    @Override public java.util.concurrent.ScheduledExecutorService scheduler() { return base.scheduler(); }
    @Override public org.slf4j.Logger log() { return base.log(); }
    @Override public Redactor redactor() { return base.redactor(); }
    @Override public ProviderHttp http() { return base.http(); }
    @Override public ImageDownloader downloader() { return base.downloader(); }
    @Override public String generationId() { return "g"; }
    @Override public java.time.Instant deadline() { return deadline; }
    @Override public boolean isCancelled() { return cancelled; }
    @Override public void onCancel(Runnable action) { onCancel.add(action); }
    @Override public void progress(dev.imagegen.ProgressEvent event) {}
    @Override public void remoteJobStarted(String id, java.util.function.Supplier<CompletableFuture<?>> cancel) {}
  }

  /** A generation context that is already cancelled, over a plain provider context. */
  private static final class CancelledGeneration implements GenerationContext {
    private final TestContext base;

    CancelledGeneration(TestContext base) {
      this.base = base;
    }

    @Override public String providerId() { return base.providerId(); }
    @Override public ProviderConfig config() { return base.config(); }
    @Override public com.fasterxml.jackson.databind.ObjectMapper json() { return base.json(); }
    @Override public java.util.concurrent.ScheduledExecutorService scheduler() { return base.scheduler(); }
    @Override public org.slf4j.Logger log() { return base.log(); }
    @Override public Redactor redactor() { return base.redactor(); }
    @Override public ProviderHttp http() { return base.http(); }
    @Override public ImageDownloader downloader() { return base.downloader(); }
    @Override public String generationId() { return "g"; }
    @Override public java.time.Instant deadline() { return java.time.Instant.now(); }
    @Override public boolean isCancelled() { return true; }
    @Override public void onCancel(Runnable action) { action.run(); }
    @Override public void progress(dev.imagegen.ProgressEvent event) {}
    @Override public void remoteJobStarted(String id, java.util.function.Supplier<CompletableFuture<?>> cancel) {}
  }

  @Test
  void connectionRefusedIsSafeToRetry() throws Exception {
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort();
    }
    HttpRequest req = ctx.http.request(URI.create("http://127.0.0.1:" + port + "/jobs")).POST(HttpRequest.BodyPublishers.noBody()).build();
    assertThat(failure(ctx.http.json(req))).isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
      assertThat(e.outcomeUnknown()).isFalse();
      assertThat(e.retryMayHelp()).isTrue();
      assertThat(e.getMessage()).contains("could not connect");
    });
  }

  @Test
  void aRefusedConnectionNamesTheHostAndPort() throws Exception {
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort();
    }
    HttpRequest req = ctx.http.request(URI.create("http://127.0.0.1:" + port + "/fal-ai/flux/schnell"))
        .POST(HttpRequest.BodyPublishers.noBody()).build();
    assertThat(failure(ctx.http.json(req))).isInstanceOf(ProviderUnavailableException.class)
        .hasMessageContaining("could not connect to 127.0.0.1:" + port + " (POST /fal-ai/flux/schnell)");
  }

  @Test
  void anUnknownHostNamesTheHostAndTheSchemesDefaultPort() {
    HttpRequest req = ctx.http.request(URI.create("https://no-such-host.invalid/fal-ai/flux/schnell"))
        .POST(HttpRequest.BodyPublishers.noBody()).build();
    assertThat(failure(ctx.http.json(req))).isInstanceOf(ProviderUnavailableException.class)
        .hasMessageContaining("could not connect to no-such-host.invalid:443 (POST /fal-ai/flux/schnell)");
  }

  @Test
  void emptyAndMalformedBodiesAreClearErrorsNotJacksonExceptions() {
    server.stubFor(post("/jobs").willReturn(aResponse().withStatus(200)));
    assertThat(failure(ctx.http.json(postJob()))).isInstanceOf(ProviderUnavailableException.class)
        .hasMessageStartingWith("acme: empty answer from /jobs (HTTP 200)");
    server.stubFor(post("/jobs").willReturn(aResponse().withStatus(200).withBody("{\"id\": ")));
    Throwable t = failure(ctx.http.json(postJob()));
    assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageStartingWith("acme: malformed JSON from /jobs");
    assertThat(t.getCause()).isNull();
  }

  @Test
  void downloadsFollowRedirectsAndKeepBytes() {
    byte[] png = TestImages.png(16, 16);
    server.stubFor(get("/out.png").willReturn(aResponse().withStatus(302).withHeader("Location", server.baseUrl() + "/cdn/out.png")));
    server.stubFor(get("/cdn/out.png").willReturn(aResponse().withBody(png).withHeader("Content-Type", "image/png")));
    GeneratedImage img = ctx.downloader.download(uri("/out.png"), 9L, false).join();
    assertThat(img.bytes()).isEqualTo(png);
    assertThat(img.width()).isEqualTo(16);
    assertThat(img.seed()).isEqualTo(9L);
  }

  @Test
  void oversizedDownloadsAreRefused() {
    server.stubFor(get("/big.png").willReturn(aResponse().withBody(new byte[20_000])));
    assertThat(failure(ctx.downloader.download(uri("/big.png"), null, false)))
        .isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("exceeds the limit of 5000 bytes");
  }

  @Test
  void expiredResultUrlsAreClearErrorsAndNotImagesAreRefused() {
    server.stubFor(get("/gone.webp").willReturn(aResponse().withStatus(404)));
    assertThat(failure(ctx.downloader.download(uri("/gone.webp"), null, false)))
        .isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("answered HTTP 404 (gone or expired)");
    server.verify(1, getRequestedFor(urlEqualTo("/gone.webp")));
    server.stubFor(get("/html").willReturn(aResponse().withBody("<html>error</html>")));
    assertThat(failure(ctx.downloader.download(uri("/html"), null, false)))
        .hasMessageContaining("is not a PNG, JPEG or WebP image");
  }

  @Test
  void transientDownloadFailuresAreRetried() {
    byte[] png = TestImages.png(4, 4);
    server.stubFor(get("/flaky.png").inScenario("f").whenScenarioStateIs(Scenario.STARTED)
        .willReturn(aResponse().withStatus(503)).willSetStateTo("ok"));
    server.stubFor(get("/flaky.png").inScenario("f").whenScenarioStateIs("ok").willReturn(aResponse().withBody(png)));
    assertThat(ctx.downloader.download(uri("/flaky.png"), null, false).join().bytes()).isEqualTo(png);
    server.verify(2, getRequestedFor(urlEqualTo("/flaky.png")));
  }

  @Test
  void aStalledDownloadTimesOut() {
    server.stubFor(get("/stall.png").willReturn(aResponse().withBody(TestImages.png(4, 4)).withChunkedDribbleDelay(5, 4000)));
    long t0 = System.nanoTime();
    assertThat(failure(ctx.downloader.download(uri("/stall.png"), null, false))).isInstanceOf(ImageGenerationException.class);
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(8));
  }

  @Test
  void inlineBase64AndDataUrisDecode() {
    byte[] png = TestImages.png(5, 3);
    String b64 = Base64.getEncoder().encodeToString(png);
    assertThat(ctx.downloader.image(b64, null, false).join().bytes()).isEqualTo(png);
    assertThat(ctx.downloader.image(ImageBytes.dataUri(png, "image/png"), null, false).join().height()).isEqualTo(3);
    assertThat(failure(ctx.downloader.image("not base64!!", null, false))).hasMessageContaining("not valid base64");
  }
}
