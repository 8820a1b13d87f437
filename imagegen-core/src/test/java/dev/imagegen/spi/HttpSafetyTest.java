package dev.imagegen.spi;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.AuthenticationException;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.testing.TestImages;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.LegacyAbstractLogger;

/**
 * What ProviderHttp and ImageDownloader must never do: resubmit a POST whose outcome is unknown,
 * send credentials or a paid body to another origin, fetch from internal addresses, keep reading
 * a body past the call's timeout, read unbounded inline images, or show a secret in any form.
 */
class HttpSafetyTest {
  private static final String KEY = "sk-live-SECRET-0123456789";
  /** A key with characters that JSON writers and URL encoders change. */
  private static final String SLASHED_KEY = "hf_ab/cd+ef/GH+ij==";
  private static WireMockServer a;
  private static WireMockServer b;
  private TestContext ctx;

  @BeforeAll
  static void start() {
    a = new WireMockServer(options().dynamicPort());
    b = new WireMockServer(options().dynamicPort());
    a.start();
    b.start();
  }

  @AfterAll
  static void stop() {
    a.stop();
    b.stop();
  }

  @BeforeEach
  void reset() {
    a.resetAll();
    b.resetAll();
    ctx = context(ProviderConfig.builder("acme").apiKey(KEY).baseUrl(a.baseUrl()).set("timeout", "2s")
        .set("max-image-bytes", "5000").set("download-timeout", "1500ms"));
  }

  private static TestContext context(ProviderConfig.Builder b) {
    return new TestContext(b.build());
  }

  private static URI uri(WireMockServer s, String path) {
    return URI.create(s.baseUrl() + path);
  }

  private static Throwable failure(CompletableFuture<?> f) {
    Throwable t = catchThrowable(() -> f.get(20, TimeUnit.SECONDS));
    assertThat(t).isNotInstanceOf(TimeoutException.class);
    assertThat(t).isInstanceOf(java.util.concurrent.ExecutionException.class);
    Throwable c = t.getCause();
    return c instanceof CompletionException && c.getCause() != null ? c.getCause() : c;
  }

  private HttpRequest submit(URI target) {
    return ctx.http.request(target).header("Authorization", "Bearer " + KEY).header("Content-Type", "application/json")
        .POST(ctx.http.jsonBody(Map.of("prompt", "a paid job"))).build();
  }

  // ------------------------------------------------------------------ unknown outcome of submits

  @Test
  void fiveHundredsToASubmitPostAreAnUnknownOutcomeKeepingMessageAndRetryAfter() {
    for (int status : new int[] {500, 502, 503, 504, 408}) {
      a.stubFor(post("/jobs").willReturn(aResponse().withStatus(status).withHeader("Retry-After", "30")
          .withBody("{\"message\":\"worker pool exhausted\"}")));
      Throwable t = failure(ctx.http.json(submit(uri(a, "/jobs"))));
      assertThat(t).as("HTTP %s to a POST", status).isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
        assertThat(e.outcomeUnknown()).as("HTTP %s outcomeUnknown", status).isTrue();
        assertThat(e.retryMayHelp()).as("HTTP %s retryMayHelp", status).isFalse();
        assertThat(e.failoverMayHelp()).isTrue();
        assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(30));
        assertThat(e.getMessage()).startsWith("acme: ").contains("worker pool exhausted").contains("outcome is unknown");
      });
    }
  }

  @Test
  void aFiveHundredToAGetStaysRetryable() {
    a.stubFor(get("/jobs/1").willReturn(aResponse().withStatus(503).withBody("down")));
    Throwable t = failure(ctx.http.json(ctx.http.request(uri(a, "/jobs/1")).GET().build()));
    assertThat(t).isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
      assertThat(e.outcomeUnknown()).isFalse();
      assertThat(e.retryMayHelp()).isTrue();
    });
  }

  @Test
  void refusalsOfAPostProveNothingWasCreatedAndAreNotUnknown() {
    a.stubFor(post("/jobs").willReturn(aResponse().withStatus(429).withHeader("Retry-After", "5")));
    assertThat(failure(ctx.http.json(submit(uri(a, "/jobs"))))).isInstanceOfSatisfying(RateLimitedException.class,
        e -> assertThat(e.retryMayHelp()).isTrue());
    a.stubFor(post("/jobs").willReturn(aResponse().withStatus(401).withBody("{\"detail\":\"bad token\"}")));
    assertThat(failure(ctx.http.json(submit(uri(a, "/jobs"))))).isInstanceOf(AuthenticationException.class);
    a.stubFor(post("/jobs").willReturn(aResponse().withStatus(422).withBody("{\"detail\":\"width too large\"}")));
    assertThat(failure(ctx.http.json(submit(uri(a, "/jobs"))))).isInstanceOf(InvalidRequestException.class);
  }

  @Test
  void aMalformedAnswerToASubmitIsAnUnknownOutcome() {
    a.stubFor(post("/jobs").willReturn(aResponse().withStatus(200).withBody("{\"id\": ")));
    assertThat(failure(ctx.http.json(submit(uri(a, "/jobs"))))).isInstanceOfSatisfying(ProviderUnavailableException.class,
        e -> assertThat(e.outcomeUnknown()).isTrue());
  }

  @Test
  void aPostMarkedRetrySafeStaysRetryableAndTheMarkIsNotSent() {
    a.stubFor(post("/jobs/1/cancel").willReturn(aResponse().withStatus(503).withBody("busy")));
    HttpRequest cancel = ProviderHttp.retrySafe(ctx.http.request(uri(a, "/jobs/1/cancel")))
        .POST(HttpRequest.BodyPublishers.noBody()).build();
    assertThat(ProviderHttp.isRetrySafe(cancel)).isTrue();
    assertThat(failure(ctx.http.call(cancel))).isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
      assertThat(e.outcomeUnknown()).isFalse();
      assertThat(e.retryMayHelp()).isTrue();
    });
    assertThat(a.findAll(postRequestedFor(urlEqualTo("/jobs/1/cancel")))).singleElement()
        .satisfies(r -> assertThat(r.getHeaders().keys()).noneMatch(h -> h.toLowerCase(java.util.Locale.ROOT).contains("imagegen")));
  }

  // ------------------------------------------------------------------ redirects

  @Test
  void aCrossOriginRedirectOfASubmitSendsNeitherCredentialsNorTheBodyThere() {
    b.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(201).withBody("{\"id\":\"stolen\"}")));
    for (int status : new int[] {307, 308, 302}) {
      a.stubFor(post("/jobs").willReturn(aResponse().withStatus(status)
          .withHeader("Location", b.baseUrl() + "/collect?token=abc123")));
      Throwable t = failure(ctx.http.json(submit(uri(a, "/jobs"))));
      assertThat(t).as("HTTP %s", status).isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
        assertThat(e.retryMayHelp()).isFalse();
        assertThat(e.getMessage()).startsWith("acme: ").contains("another origin").contains(b.baseUrl().replace("localhost",
            "localhost")).doesNotContain("abc123").doesNotContain(KEY);
      });
    }
    assertThat(b.findAll(anyRequestedFor(anyUrl()))).as("requests that reached the other origin").isEmpty();
  }

  @Test
  void aCrossOriginRedirectOfAReadCarriesNoAuthorizationThere() {
    b.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(200).withBody("{}")));
    a.stubFor(get("/jobs/1").willReturn(aResponse().withStatus(302).withHeader("Location", b.baseUrl() + "/jobs/1")));
    HttpRequest read = ctx.http.request(uri(a, "/jobs/1")).header("Authorization", "Bearer " + KEY)
        .header("apikey", KEY).GET().build();
    Throwable t = failure(ctx.http.json(read));
    assertThat(t).isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("another origin");
    List<LoggedRequest> seen = b.findAll(anyRequestedFor(anyUrl()));
    assertThat(seen).allSatisfy(r -> {
      assertThat(r.containsHeader("Authorization")).isFalse();
      assertThat(r.containsHeader("apikey")).isFalse();
    });
  }

  @Test
  void aSameOriginRedirectOfAnApiCallIsFollowedWithItsHeaders() {
    a.stubFor(post("/v1/jobs").willReturn(aResponse().withStatus(307).withHeader("Location", "/v2/jobs")));
    a.stubFor(post("/v2/jobs").willReturn(aResponse().withStatus(201).withBody("{\"id\":\"j2\"}")));
    assertThat(ctx.http.json(submit(uri(a, "/v1/jobs"))).join().path("id").asText()).isEqualTo("j2");
    a.verify(postRequestedFor(urlEqualTo("/v2/jobs")).withHeader("Authorization",
        com.github.tomakehurst.wiremock.client.WireMock.equalTo("Bearer " + KEY))
        .withRequestBody(com.github.tomakehurst.wiremock.client.WireMock.equalToJson("{\"prompt\":\"a paid job\"}")));
    a.stubFor(get("/old").willReturn(aResponse().withStatus(302).withHeader("Location", a.baseUrl() + "/new")));
    a.stubFor(get("/new").willReturn(aResponse().withStatus(200).withBody("{\"ok\":true}")));
    assertThat(ctx.http.json(ctx.http.request(uri(a, "/old")).GET().build()).join().path("ok").asBoolean()).isTrue();
  }

  @Test
  void aDownloadRedirectToAnotherOriginIsFollowedWithoutCredentials() {
    byte[] png = TestImages.png(8, 8);
    b.stubFor(get("/cdn/out.png").willReturn(aResponse().withBody(png)));
    a.stubFor(get("/out.png").willReturn(aResponse().withStatus(302).withHeader("Location", b.baseUrl() + "/cdn/out.png")));
    GeneratedImage img = ctx.downloader.download(uri(a, "/out.png"), null, false).join();
    assertThat(img.bytes()).isEqualTo(png);
    assertThat(b.findAll(getRequestedFor(urlEqualTo("/cdn/out.png")))).hasSize(1)
        .allSatisfy(r -> assertThat(r.containsHeader("Authorization")).isFalse());
  }

  @Test
  void anAnswerAFollowingClientFetchedFromAnotherOriginIsRefused() {
    b.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(201).withBody("{\"id\":\"elsewhere\"}")));
    a.stubFor(get("/jobs/1").willReturn(aResponse().withStatus(302).withHeader("Location", b.baseUrl() + "/jobs/1")));
    java.net.http.HttpClient following = java.net.http.HttpClient.newBuilder()
        .followRedirects(java.net.http.HttpClient.Redirect.NORMAL).build();
    ProviderHttp http = new ProviderHttp(ctx, following, "t", null, r -> null);
    assertThat(failure(http.json(http.request(uri(a, "/jobs/1")).GET().build())))
        .isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("another origin")
        .hasMessageContaining("Redirect.NEVER");
  }

  // ------------------------------------------------------------------ result URL addresses

  @Test
  void resultUrlsOnMetadataAndLinkLocalAddressesAreAlwaysRefused() {
    for (String url : new String[] {"http://169.254.169.254/latest/meta-data/", "http://169.254.10.1/x.png",
        "http://[fe80::1]/x.png", "http://[fd00:ec2::254]/x.png", "http://100.100.100.200/x.png"}) {
      long t0 = System.nanoTime();
      Throwable t = failure(ctx.downloader.download(URI.create(url), null, false));
      assertThat(t).as(url).isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
        assertThat(e.retryMayHelp()).isFalse();
        assertThat(e.getMessage()).startsWith("acme: ").contains("refused").contains("always refused");
      });
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("refused before connecting").isLessThan(Duration.ofSeconds(1));
    }
  }

  @Test
  void loopbackResultUrlsAreRefusedWhenTheBaseUrlIsPublic() {
    a.stubFor(get("/out.png").willReturn(aResponse().withBody(TestImages.png(4, 4))));
    TestContext pub = context(ProviderConfig.builder("acme").apiKey(KEY).baseUrl("https://93.184.215.14/v1"));
    Throwable t = failure(pub.downloader.download(URI.create("http://127.0.0.1:" + a.port() + "/out.png?sig=abc"), null,
        false));
    assertThat(t).isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
      assertThat(e.retryMayHelp()).isFalse();
      assertThat(e.getMessage()).contains("127.0.0.1").contains("loopback").contains("allow-private-downloads")
          .doesNotContain("sig=abc");
    });
    for (String url : new String[] {"http://10.1.2.3/x.png", "http://192.168.1.1/x.png", "http://172.16.0.9/x.png",
        "http://0.0.0.0/x.png", "http://[::1]/x.png", "http://[fd12:3456::1]/x.png"}) {
      assertThat(failure(pub.downloader.download(URI.create(url), null, false))).as(url)
          .hasMessageContaining("allow-private-downloads");
    }
    a.verify(0, getRequestedFor(urlEqualTo("/out.png?sig=abc")));
    TestContext allowed = context(ProviderConfig.builder("acme").baseUrl("https://93.184.215.14/v1")
        .set(ProviderConfig.ALLOW_PRIVATE_DOWNLOADS, "true"));
    assertThat(allowed.downloader.download(URI.create("http://127.0.0.1:" + a.port() + "/out.png"), null, false).join()
        .width()).isEqualTo(4);
    assertThat(failure(allowed.downloader.download(URI.create("http://169.254.169.254/x.png"), null, false)))
        .hasMessageContaining("always refused");
  }

  @Test
  void aRedirectHopToAMetadataAddressIsRefused() {
    a.stubFor(get("/out.png").willReturn(aResponse().withStatus(302)
        .withHeader("Location", "http://169.254.169.254/latest/meta-data/iam")));
    assertThat(failure(ctx.downloader.download(uri(a, "/out.png"), null, false)))
        .isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("169.254.169.254")
        .hasMessageContaining("always refused");
  }

  // ------------------------------------------------------------------ slow bodies

  /** A server that answers with headers at once, then one byte of body every 50 ms; it records when a write fails. */
  private static final class Dribbler implements AutoCloseable {
    final ServerSocket socket = new ServerSocket(0);
    final CountDownLatch closedByClient = new CountDownLatch(1);
    final AtomicLong bytesWritten = new AtomicLong();
    private final Thread thread;

    Dribbler() throws IOException {
      thread = new Thread(this::serve, "dribbler");
      thread.setDaemon(true);
      thread.start();
    }

    private void serve() {
      try (Socket s = socket.accept()) {
        InputStream in = s.getInputStream();
        int state = 0;
        while (state < 4) {
          int c = in.read();
          if (c < 0) {
            return;
          }
          state = (c == '\r' && (state == 0 || state == 2)) || (c == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
        }
        OutputStream out = s.getOutputStream();
        out.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"a\":\""
            .getBytes(StandardCharsets.US_ASCII));
        out.flush();
        for (int i = 0; i < 100_000; i++) {
          out.write('x');
          out.flush();
          bytesWritten.incrementAndGet();
          Thread.sleep(50);
        }
      } catch (IOException e) {
        closedByClient.countDown();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    URI uri(String path) {
      return URI.create("http://127.0.0.1:" + socket.getLocalPort() + path);
    }

    @Override
    public void close() throws IOException {
      thread.interrupt();
      socket.close();
    }
  }

  @Test
  void aDribblingApiBodyFailsWithinTheTimeoutAndItsConnectionIsClosed() throws Exception {
    try (Dribbler d = new Dribbler()) {
      HttpRequest poll = ctx.http.request(d.uri("/status")).timeout(Duration.ofSeconds(1)).GET().build();
      long t0 = System.nanoTime();
      Throwable t = failure(ctx.http.json(poll));
      Duration took = Duration.ofNanos(System.nanoTime() - t0);
      assertThat(t).isInstanceOf(ProviderUnavailableException.class);
      assertThat(took).as("the 1 s timeout bounds the body too").isLessThan(Duration.ofSeconds(6));
      assertThat(d.closedByClient.await(15, TimeUnit.SECONDS)).as("the abandoned connection was closed").isTrue();
    }
  }

  @Test
  void anAbandonedDownloadClosesItsConnection() throws Exception {
    try (Dribbler d = new Dribbler()) {
      TestContext local = context(ProviderConfig.builder("acme").baseUrl("http://127.0.0.1:1").set("download-timeout", "1s"));
      long t0 = System.nanoTime();
      assertThat(failure(local.downloader.download(d.uri("/out.png"), null, false)))
          .isInstanceOf(ImageGenerationException.class);
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
      assertThat(d.closedByClient.await(15, TimeUnit.SECONDS)).as("the abandoned download's connection was closed").isTrue();
    }
  }

  // ------------------------------------------------------------------ inline images bounded

  @Test
  void aJsonAnswerFarPastTheImageLimitIsRefusedAsPermanent() {
    StringBuilder big = new StringBuilder(17 * 1024 * 1024 + 32).append("{\"images\":[\"");
    big.append("A".repeat(17 * 1024 * 1024)).append("\"]}");
    a.stubFor(get("/jobs/1").willReturn(aResponse().withStatus(200).withBody(big.toString())));
    Throwable t = failure(ctx.http.json(ctx.http.request(uri(a, "/jobs/1")).GET().build()));
    assertThat(t).isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
      assertThat(e.retryMayHelp()).as("never re-polled").isFalse();
      assertThat(e.getMessage()).contains("limit").contains("max-image-bytes");
    });
  }

  @Test
  void aLegitimatelyLargeBase64ImageIsNotCalledMalformed() {
    TestContext large = context(ProviderConfig.builder("acme").baseUrl(a.baseUrl()).set("max-image-bytes",
        String.valueOf(24 * 1024 * 1024)));
    String b64 = "A".repeat(22 * 1024 * 1024); // past Jackson's default string limit of 20,000,000
    a.stubFor(get("/jobs/1").willReturn(aResponse().withStatus(200).withBody("{\"image\":\"" + b64 + "\"}")));
    String got = large.http.json(large.http.request(uri(a, "/jobs/1")).GET().build()).join().path("image").asText();
    assertThat(got).hasSize(b64.length());
  }

  @Test
  void inlineBase64PastTheLimitIsRefusedBeforeDecodingNamingTheKey() {
    String b64 = Base64.getEncoder().encodeToString(new byte[20_000]);
    for (String v : new String[] {b64, "data:image/png;base64," + b64}) {
      assertThat(failure(ctx.downloader.image(v, null, false))).isInstanceOfSatisfying(ProviderUnavailableException.class,
          e -> {
            assertThat(e.retryMayHelp()).isFalse();
            assertThat(e.getMessage()).contains("5000").contains("max-image-bytes");
          });
    }
  }

  // ------------------------------------------------------------------ secrets in every form

  @Test
  void aKeyWithSlashAndPlusEchoedJsonEscapedNeverAppears() {
    TestContext c = context(ProviderConfig.builder("acme").apiKey(SLASHED_KEY).baseUrl(a.baseUrl()));
    String escaped = SLASHED_KEY.replace("/", "\\/");
    String unicode = SLASHED_KEY.replace("+", "\\u002b").replace("/", "\\u002F");
    String urlEncoded = java.net.URLEncoder.encode(SLASHED_KEY, StandardCharsets.UTF_8);
    for (String body : new String[] {"{\"error\":\"invalid key " + escaped + "\"}", "{\"message\":\"key " + unicode + "\"}",
        "{\"detail\":\"GET /x?key=" + urlEncoded + " refused\"}", "bad key " + escaped}) {
      a.stubFor(post("/jobs").willReturn(aResponse().withStatus(401).withBody(body)));
      HttpRequest r = c.http.request(uri(a, "/jobs")).POST(HttpRequest.BodyPublishers.noBody()).build();
      Throwable t = failure(c.http.json(r));
      assertThat(t.getMessage()).as(body).doesNotContain(SLASHED_KEY).doesNotContain(escaped).doesNotContain(unicode)
          .doesNotContain(urlEncoded).contains(Redactor.MASK);
    }
    List<String> lines = new ArrayList<>();
    RedactingLogger log = new RedactingLogger(sink(lines), c.redactor);
    log.warn("answer {}", "{\"k\":\"" + escaped + "\"}");
    log.debug("query key={}", urlEncoded);
    assertThat(lines).hasSize(2).allSatisfy(l -> assertThat(l).doesNotContain(escaped).doesNotContain(urlEncoded)
        .doesNotContain(SLASHED_KEY));
  }

  @Test
  void aBasicAuthorizationValueSentIsNeverInAnErrorMessage() {
    String basic = Base64.getEncoder().encodeToString("webui:hunter2-pass".getBytes(StandardCharsets.UTF_8));
    a.stubFor(get("/sdapi/v1/options").willReturn(aResponse().withStatus(500)
        .withBody("{\"detail\":\"upstream said Authorization: Basic " + basic + " and password hunter2-pass\"}")));
    HttpRequest r = ctx.http.request(uri(a, "/sdapi/v1/options")).header("Authorization", "Basic " + basic).GET().build();
    Throwable t = failure(ctx.http.json(r));
    assertThat(t.getMessage()).doesNotContain(basic).doesNotContain("hunter2-pass").contains(Redactor.MASK);
  }

  private static org.slf4j.Logger sink(List<String> lines) {
    return new LegacyAbstractLogger() {
      private static final long serialVersionUID = 1L;
      @Override protected String getFullyQualifiedCallerName() { return null; }
      @Override protected void handleNormalizedLoggingCall(Level level, Marker marker, String msg, Object[] args, Throwable t) {
        lines.add(org.slf4j.helpers.MessageFormatter.basicArrayFormat(msg, args));
      }
      @Override public boolean isTraceEnabled() { return true; }
      @Override public boolean isDebugEnabled() { return true; }
      @Override public boolean isInfoEnabled() { return true; }
      @Override public boolean isWarnEnabled() { return true; }
      @Override public boolean isErrorEnabled() { return true; }
    };
  }
}
