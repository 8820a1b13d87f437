package dev.imagegen.provider.fal;

import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.WebhookReceiver.Response;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testkit.KitLogs;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.FalStubs;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Webhooks on fal against a WireMock server speaking its queue protocol: the request stays
 * {@code IN_PROGRESS} on every status read until the test delivers a webhook signed with Ed25519
 * by a key of the key set the server serves, after which the next read says {@code COMPLETED}.
 */
class FalWebhookTest {
  static final String KEY = "0f2c7a1e-1111-4222-8333-444455556666:3c9f0a1b2c3d4e5f60718293a4b5c6d7";
  static final String HOOK = "https://app.example.com/hooks/fal?tenant=a&b=1";
  static final String ROOT = FalStubs.FLUX_ROOT;
  static final String ID = FalStubs.REQUEST_ID;
  static final String STATE = "fal-request";
  static final String JWKS = "/.well-known/jwks.json";

  WireMockServer server;
  FalStubs stubs;
  final List<ImageGenerationService> services = new ArrayList<>();
  KeyPair falKey;
  StubImage image;

  @BeforeEach
  void start() throws Exception {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    stubs = new FalStubs(server);
    falKey = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    KeyPair other = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    server.stubFor(get(urlPathEqualTo(JWKS)).willReturn(FalStubs.json(200, jwks(other, falKey))));
    image = StubImages.png(32, 32, 7);
    stubs.stubSubmit(ROOT, ID);
    String status = "/" + ROOT + "/requests/" + ID + "/status";
    server.stubFor(get(urlPathEqualTo(status)).inScenario(STATE).whenScenarioStateIs(STARTED)
        .willReturn(FalStubs.json(200, stubs.inProgress(ROOT, ID, "step 1/4"))));
    server.stubFor(get(urlPathEqualTo(status)).inScenario(STATE).whenScenarioStateIs("done")
        .willReturn(FalStubs.json(200, stubs.completed(ROOT, ID))));
    String path = FalStubs.imagePath(image, "Qm3xV0aZ");
    stubs.stubImage(path, image);
    stubs.stubResult(ROOT, ID, 200, stubs.fluxResult(List.of(image), List.of(path), List.of(false), image.seed(), "a fox"));
    stubs.stubCancel(ROOT, ID);
  }

  @AfterEach
  void stop() {
    services.forEach(ImageGenerationService::close);
    server.stop();
  }

  /** A JSON Web Key Set of Ed25519 public keys, as fal publishes it. */
  static String jwks(KeyPair... pairs) {
    StringBuilder b = new StringBuilder("{\"keys\":[");
    for (int i = 0; i < pairs.length; i++) {
      byte[] spki = pairs[i].getPublic().getEncoded();
      byte[] raw = Arrays.copyOfRange(spki, spki.length - 32, spki.length);
      b.append(i == 0 ? "" : ",").append("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k").append(i).append("\",\"x\":\"")
          .append(Base64.getUrlEncoder().withoutPadding().encodeToString(raw)).append("\"}");
    }
    return b.append("]}").toString();
  }

  ImageGenerationService service(String... extra) {
    ProviderConfig.Builder b = ProviderConfig.builder("fal").apiKey(KEY).baseUrl(server.baseUrl()).set("storage-url", server.baseUrl())
        .set("webhook-url", HOOK).set("webhook-jwks-url", server.baseUrl() + JWKS).set("webhook-poll-interval", "60s");
    for (int i = 0; i < extra.length; i += 2) {
      b.set(extra[i], extra[i + 1]);
    }
    ImageGenerationService s = ImageGenerationService.builder().provider(new FalProviderFactory(), b.build())
        .maxRetries(0).defaultTimeout(Duration.ofSeconds(90)).build();
    services.add(s);
    return s;
  }

  int statusReads() {
    return server.findAll(getRequestedFor(urlPathEqualTo("/" + ROOT + "/requests/" + ID + "/status"))).size();
  }

  /** Waits until the server has seen {@code n} status reads (checked every 20 ms, at most 10 s), then checks it saw no more. */
  void awaitStatusReads(int n) {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (statusReads() < n && System.nanoTime() < until) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
    assertThat(statusReads()).isEqualTo(n);
  }

  @Test
  void deliveriesArrivingTogetherAtAFreshServiceShareOneKeySetRead() throws Exception {
    server.stubFor(get(urlPathEqualTo(JWKS)).willReturn(FalStubs.json(200, jwks(falKey)).withFixedDelay(300)));
    ImageGenerationService s = service();
    long ts = java.time.Instant.now().getEpochSecond();
    List<java.util.concurrent.CompletableFuture<dev.imagegen.WebhookReceiver.Response>> answers = new java.util.ArrayList<>();
    for (int i = 0; i < 12; i++) {
      String id = "req-" + i;
      String b = body(id);
      answers.add(s.webhooks().handleAsync("fal", signed(falKey, id, ts, b), b.getBytes(StandardCharsets.UTF_8)));
    }
    for (java.util.concurrent.CompletableFuture<dev.imagegen.WebhookReceiver.Response> a : answers) {
      assertThat(a.get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
    }
    assertThat(server.findAll(getRequestedFor(urlPathEqualTo(JWKS)))).as("one read for the twelve").hasSize(1);
  }

  static String body(String requestId) {
    return "{\"request_id\":\"" + requestId + "\",\"gateway_request_id\":\"" + requestId + "\",\"status\":\"OK\","
        + "\"payload\":{\"images\":[{\"url\":\"https://v3.fal.media/files/x.png\"}],\"seed\":1}}";
  }

  static Map<String, List<String>> signed(KeyPair key, String requestId, long ts, String signedBody) throws Exception {
    String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(signedBody.getBytes(StandardCharsets.UTF_8)));
    Signature s = Signature.getInstance("Ed25519");
    s.initSign(key.getPrivate());
    s.update((requestId + "\n" + "user-42" + "\n" + ts + "\n" + sha).getBytes(StandardCharsets.UTF_8));
    return Map.of("x-fal-webhook-request-id", List.of(requestId), "X-Fal-Webhook-User-Id", List.of("user-42"),
        "X-FAL-WEBHOOK-TIMESTAMP", List.of(String.valueOf(ts)), "X-Fal-Webhook-Signature",
        List.of(HexFormat.of().formatHex(s.sign())));
  }

  Response deliver(ImageGenerationService s, KeyPair key, long ts, String body) throws Exception {
    return s.webhooks().handle("fal", signed(key, ID, ts, body), body.getBytes(StandardCharsets.UTF_8));
  }

  Response deliver(ImageGenerationService s, long ts) throws Exception {
    return deliver(s, falKey, ts, body(ID));
  }

  static long now() {
    return Instant.now().getEpochSecond();
  }

  @Test
  void theSubmitNamesTheWebhookAndASignedDeliveryEndsTheWaitAtOnce() throws Exception {
    long mark = KitLogs.mark();
    ImageGenerationService s = service();
    CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("a red fox in snow"), "fal");
    awaitStatusReads(1); // the first read at the normal time: in progress; the next is 60 s away

    server.setScenarioState(STATE, "done");
    Response r = deliver(s, now());

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.message()).isEqualTo("accepted");
    ImageGenerationResponse done = f.get(10, TimeUnit.SECONDS);
    assertThat(done.images().get(0).bytes()).isEqualTo(image.bytes());
    assertThat(statusReads()).isEqualTo(2);
    LoggedRequest submit = server.findAll(postRequestedFor(urlPathEqualTo("/fal-ai/flux/schnell"))).get(0);
    String query = submit.getUrl().substring(submit.getUrl().indexOf('?') + 1);
    assertThat(query).startsWith("fal_webhook=").doesNotContain("&b=1");
    assertThat(URLDecoder.decode(query.substring("fal_webhook=".length()), StandardCharsets.UTF_8)).isEqualTo(HOOK);
    List<LoggedRequest> keyReads = server.findAll(getRequestedFor(urlPathEqualTo(JWKS)));
    assertThat(keyReads).hasSize(1);
    assertThat(keyReads.get(0).containsHeader("Authorization")).as("the key set is public: no key goes there").isFalse();
    assertThat(KitLogs.capturing()).as("the kit captures log lines").isTrue();
    assertThat(KitLogs.since(mark)).isNotEmpty().noneMatch(l -> l.contains(KEY) || l.contains(KEY.substring(KEY.indexOf(':') + 1)));
  }

  @Test
  void forgedTamperedStaleAndReplayedDeliveriesAreNotActedOn() throws Exception {
    ImageGenerationService s = service();
    CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("a red fox in snow"), "fal");
    awaitStatusReads(1);

    KeyPair stranger = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    Response forged = deliver(s, stranger, now(), body(ID));
    assertThat(forged.status()).isEqualTo(401);
    assertThat(forged.message()).contains("no key of fal's key set verifies");
    long ts = now();
    Response tampered = s.webhooks().handle("fal", signed(falKey, ID, ts, body(ID)), body("another-request").getBytes(
        StandardCharsets.UTF_8));
    assertThat(tampered.status()).isEqualTo(401);
    assertThat(tampered.message()).doesNotContain("another-request");
    assertThat(deliver(s, now() - 600).status()).as("ten minutes old").isEqualTo(401);
    Response unsigned = s.webhooks().handle("fal", Map.of(), body(ID).getBytes(StandardCharsets.UTF_8));
    assertThat(unsigned.status()).isEqualTo(401);
    assertThat(unsigned.message()).contains("missing X-Fal-Webhook-Request-Id");
    Response other = s.webhooks().handle("fal", signed(falKey, "another-request", now(), body("another-request")),
        body("another-request").getBytes(StandardCharsets.UTF_8));
    assertThat(other.message()).contains("no such job is pending here");
    assertThat(f).isNotDone();

    long first = now();
    assertThat(deliver(s, first).message()).isEqualTo("accepted"); // still in progress: one read, then 60 s again
    awaitStatusReads(2);
    assertThat(deliver(s, first).message()).contains("duplicate");

    server.setScenarioState(STATE, "done");
    assertThat(deliver(s, first + 1).message()).isEqualTo("accepted");
    assertThat(f.get(10, TimeUnit.SECONDS).images()).hasSize(1);
    assertThat(statusReads()).as("the refused and replayed deliveries made no read").isEqualTo(3);
    assertThat(server.findAll(getRequestedFor(urlPathEqualTo(JWKS)))).as("the key set is kept").hasSize(1);
  }

  @Test
  void aKeySetThatCannotBeReadAnswers503SoFalRetries() throws Exception {
    server.stubFor(get(urlPathEqualTo(JWKS)).willReturn(FalStubs.json(500, "{\"detail\":\"Internal server error\"}")));
    ImageGenerationService s = service();
    Response r = deliver(s, now());
    assertThat(r.status()).isEqualTo(503);
    server.stubFor(get(urlPathEqualTo(JWKS)).willReturn(FalStubs.json(200, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"x\"}]}")));
    assertThat(deliver(s, now() + 1).status()).as("a key set without an Ed25519 key").isEqualTo(503);
  }

  @Test
  void withoutAWebhookTheSafetyNetPollStillEndsTheWait() throws Exception {
    ImageGenerationService s = service("webhook-poll-interval", "1s");
    CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("a red fox in snow"), "fal");
    awaitStatusReads(1);
    server.setScenarioState(STATE, "done");
    assertThat(f.get(10, TimeUnit.SECONDS).images()).hasSize(1);
    assertThat(statusReads()).isEqualTo(2);
  }

  @Test
  void withoutAWebhookUrlTheSubmitNamesNoneAndTheReceiverAnswers404() throws Exception {
    server.setScenarioState(STATE, "done");
    ProviderConfig c = ProviderConfig.builder("fal").apiKey(KEY).baseUrl(server.baseUrl()).set("storage-url", server.baseUrl())
        .set("poll-interval", "100ms").build();
    try (ImageGenerationService s = ImageGenerationService.builder().provider(new FalProviderFactory(), c).build()) {
      s.generateImage(ImageGenerationRequest.of("a red fox in snow"), "fal");
      assertThat(server.findAll(postRequestedFor(urlPathEqualTo("/fal-ai/flux/schnell"))).get(0).getUrl()).doesNotContain("?");
      Response r = deliver(s, now());
      assertThat(r.status()).isEqualTo(404);
      assertThat(r.message()).contains("webhooks are not configured for provider fal");
    }
  }

  @Test
  void badWebhookSettingsAreConfigurationErrorsAndTheKeysAreKnown() {
    assertThatThrownBy(() -> new FalProviderFactory().create(ProviderConfig.builder("fal").apiKey(KEY).set("webhook-url", "nope")
        .build())).hasMessageContaining("webhook-url");
    assertThatThrownBy(() -> new FalProviderFactory().create(ProviderConfig.builder("fal").apiKey(KEY).set("webhook-url", HOOK)
        .set("webhook-jwks-url", "file:///etc/keys").build())).hasMessageContaining("webhook-jwks-url");
    assertThatThrownBy(() -> new FalProviderFactory().create(ProviderConfig.builder("fal").apiKey(KEY).set("webhook-url", HOOK)
        .set("webhook-poll-interval", "10ms").build())).hasMessageContaining("webhook-poll-interval");
    assertThat(new FalProviderFactory().settings()).contains("webhook-url", "webhook-jwks-url", "webhook-poll-interval",
        "webhook-allow-unsigned");
  }
}
