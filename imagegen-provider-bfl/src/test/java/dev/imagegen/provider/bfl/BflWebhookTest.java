package dev.imagegen.provider.bfl;

import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import dev.imagegen.testkit.stubs.BflStubs;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Webhooks on BFL against a WireMock server speaking its protocol: the task stays {@code Pending}
 * on every poll until the test delivers a webhook carrying the secret (HMAC {@code X-BFL-Signature}
 * or echoed {@code X-Webhook-Secret}), after which the next poll says {@code Ready}. The safety-net
 * poll is an hour away, so only the delivery can end the wait within the test.
 */
class BflWebhookTest {
  static final String KEY = "bfl_test-key-5b0d9c1e";
  static final String SECRET = "bfl-hook-secret-7c1d2e3f";
  static final String HOOK = "https://app.example.com/hooks/bfl?tenant=a";
  static final String ID = BflStubs.TASK_ID;
  static final String STATE = "bfl-task";
  static final ObjectMapper JSON = new ObjectMapper();

  WireMockServer server;
  BflStubs stubs;
  StubImage image;
  final List<ImageGenerationService> services = new ArrayList<>();

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    stubs = new BflStubs(server);
    image = StubImages.png(32, 32, 5);
    stubs.stubSubmit();
    server.stubFor(BflStubs.poll(ID).inScenario(STATE).whenScenarioStateIs(STARTED)
        .willReturn(BflStubs.json(200, BflStubs.pending(ID, 0.4))));
    server.stubFor(BflStubs.poll(ID).inScenario(STATE).whenScenarioStateIs("done")
        .willReturn(BflStubs.json(200, BflStubs.ready(ID, stubs.sampleUrl(ID, image), image.seed(), "a red fox in snow"))));
    stubs.stubSample(ID, image);
  }

  @AfterEach
  void stop() {
    services.forEach(ImageGenerationService::close);
    server.stop();
  }

  ProviderConfig.Builder config(String... extra) {
    ProviderConfig.Builder b = ProviderConfig.builder("bfl").apiKey(KEY).baseUrl(server.baseUrl())
        .set("polling-hosts", BflStubs.POLLING_HOST).set("webhook-url", HOOK).set("webhook-secret", SECRET)
        .set("webhook-poll-interval", "1h");
    for (int i = 0; i < extra.length; i += 2) {
      b.set(extra[i], extra[i + 1]);
    }
    return b;
  }

  ImageGenerationService service(String... extra) {
    ImageGenerationService s = ImageGenerationService.builder().provider(new BflProviderFactory(), config(extra).build())
        .maxRetries(0).defaultTimeout(Duration.ofSeconds(90)).build();
    services.add(s);
    return s;
  }

  int polls() {
    return server.findAll(getRequestedFor(urlPathEqualTo("/v1/get_result"))).size();
  }

  /** Waits until the server has seen {@code n} polls (checked every 20 ms, at most 10 s), then checks it saw no more. */
  void awaitPolls(int n) {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (polls() < n && System.nanoTime() < until) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
    assertThat(polls()).isEqualTo(n);
  }

  /** The body BFL posts when the task is ready (its integration guide's shape). */
  static String readyBody(String taskId) {
    return "{\"id\":\"" + taskId + "\",\"status\":\"Ready\",\"result\":{\"sample\":\"https://bfldeliveryprod.blob.core.windows.net/"
        + "results/x/sample.jpeg\",\"prompt\":\"a red fox in snow\",\"seed\":42},\"timestamp\":\"2026-12-04T10:30:00Z\"}";
  }

  static String hmac(String secret, String body) throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
    return "sha256=" + HexFormat.of().formatHex(mac.doFinal(body.getBytes(StandardCharsets.UTF_8)));
  }

  static Response deliver(ImageGenerationService s, Map<String, List<String>> headers, String body) {
    return s.webhooks().handle("bfl", headers, body.getBytes(StandardCharsets.UTF_8));
  }

  static Map<String, List<String>> signed(String secret, String body) throws Exception {
    return Map.of("x-bfl-signature", List.of(hmac(secret, body)), "Content-Type", List.of("application/json"));
  }

  static Map<String, List<String>> echoed(String secret) {
    return Map.of("X-WEBHOOK-SECRET", List.of(secret));
  }

  JsonNode submitBody() throws Exception {
    List<LoggedRequest> submits = server.findAll(com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor(
        urlPathEqualTo("/v1/flux-2-pro")));
    assertThat(submits).hasSize(1);
    return JSON.readTree(submits.get(0).getBodyAsString());
  }

  @Test
  void theSubmitCarriesTheWebhookAndAnHmacSignedDeliveryEndsTheWaitAtOnce() throws Exception {
    long mark = KitLogs.mark();
    ImageGenerationService s = service();
    CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("a red fox in snow"), "bfl");
    awaitPolls(1); // Pending at the normal time; the next poll is an hour away

    server.setScenarioState(STATE, "done");
    Response r = deliver(s, signed(SECRET, readyBody(ID)), readyBody(ID));

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.message()).isEqualTo("accepted");
    ImageGenerationResponse done = f.get(10, TimeUnit.SECONDS);
    assertThat(done.images().get(0).bytes()).isEqualTo(image.bytes());
    assertThat(polls()).isEqualTo(2);
    JsonNode submit = submitBody();
    assertThat(submit.path("webhook_url").asText()).isEqualTo(HOOK);
    assertThat(submit.path("webhook_secret").asText()).isEqualTo(SECRET);
    assertThat(deliver(s, signed(SECRET, readyBody(ID)), readyBody(ID)).message()).contains("duplicate");
    assertThat(deliver(s, echoed("a-wrong-guess"), readyBody(ID)).status()).isEqualTo(401);
    assertThat(KitLogs.capturing()).as("the kit captures log lines").isTrue();
    assertThat(KitLogs.since(mark)).isNotEmpty().noneMatch(l -> l.contains(SECRET) || l.contains(KEY));
  }

  @Test
  void aDeliveryEchoingTheSecretEndsTheWaitAndTaskIdNamesTheTask() throws Exception {
    ImageGenerationService s = service();
    CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("a red fox in snow"), "bfl");
    awaitPolls(1);

    server.setScenarioState(STATE, "done");
    String body = "{\"task_id\":\"" + ID + "\",\"status\":\"SUCCESS\",\"result\":{\"sample\":\"https://x.example/s.jpeg\"}}";
    Response r = deliver(s, echoed(SECRET), body);

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.message()).isEqualTo("accepted");
    assertThat(f.get(10, TimeUnit.SECONDS).images()).hasSize(1);
    assertThat(polls()).isEqualTo(2);
  }

  @Test
  void aWrongMissingOrTamperedSecretIs401AndMakesNoPoll() throws Exception {
    ImageGenerationService s = service();
    CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("a red fox in snow"), "bfl");
    awaitPolls(1);
    server.setScenarioState(STATE, "done");
    String body = readyBody(ID);

    Response forged = deliver(s, signed("another-secret", body), body);
    assertThat(forged.status()).isEqualTo(401);
    assertThat(forged.message()).contains("X-BFL-Signature does not match").doesNotContain(SECRET);
    Response tampered = deliver(s, signed(SECRET, body), readyBody("another-task"));
    assertThat(tampered.status()).isEqualTo(401);
    Response notHex = deliver(s, Map.of("X-BFL-Signature", List.of("sha256=zz")), body);
    assertThat(notHex.status()).isEqualTo(401);
    Response noPrefix = deliver(s, Map.of("X-BFL-Signature", List.of(hmac(SECRET, body).substring(7))), body);
    assertThat(noPrefix.status()).isEqualTo(401);
    Response wrongEcho = deliver(s, echoed(SECRET + "x"), body);
    assertThat(wrongEcho.status()).isEqualTo(401);
    assertThat(wrongEcho.message()).contains("X-Webhook-Secret").doesNotContain(SECRET);
    Map<String, List<String>> goodSignatureWrongEcho = new java.util.HashMap<>(signed(SECRET, body));
    goodSignatureWrongEcho.putAll(echoed("nope"));
    assertThat(deliver(s, goodSignatureWrongEcho, body).status()).as("every header present must hold").isEqualTo(401);
    Response unsigned = deliver(s, Map.of(), body);
    assertThat(unsigned.status()).isEqualTo(401);
    assertThat(unsigned.message()).contains("missing X-BFL-Signature and X-Webhook-Secret");

    assertThat(f).isNotDone();

    assertThat(deliver(s, signed(SECRET, body), body).message()).isEqualTo("accepted");
    assertThat(f.get(10, TimeUnit.SECONDS).images()).hasSize(1);
    assertThat(polls()).as("the refused deliveries made no poll, the good one one").isEqualTo(2);
  }

  @Test
  void withAllowUnsignedAMissingHeaderIsAcceptedButAWrongOneStillRefused() throws Exception {
    ImageGenerationService s = service("webhook-allow-unsigned", "true");
    CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("a red fox in snow"), "bfl");
    awaitPolls(1);
    server.setScenarioState(STATE, "done");
    assertThat(deliver(s, signed("another-secret", readyBody(ID)), readyBody(ID)).status()).isEqualTo(401);
    assertThat(deliver(s, echoed("another-secret"), readyBody(ID)).status()).isEqualTo(401);
    Response r = deliver(s, Map.of(), readyBody(ID));
    assertThat(r.status()).isEqualTo(200);
    assertThat(f.get(10, TimeUnit.SECONDS).images()).hasSize(1);
  }

  @Test
  void aVerifiedBodyThatIsNotJsonOrNamesNoTaskIs400() throws Exception {
    ImageGenerationService s = service();
    assertThat(deliver(s, signed(SECRET, "not json"), "not json").status()).isEqualTo(400);
    String noId = "{\"status\":\"Ready\",\"result\":{\"sample\":\"https://x.example/s.jpeg\"}}";
    Response r = deliver(s, signed(SECRET, noId), noId);
    assertThat(r.status()).isEqualTo(400);
    assertThat(r.message()).contains("no task");
    assertThat(deliver(s, signed(SECRET, "[1]"), "[1]").status()).isEqualTo(400);
  }

  @Test
  void aRequestsOwnWebhookOptionsDoNotReplaceTheConfiguredOne() throws Exception {
    server.setScenarioState(STATE, "done");
    ImageGenerationService s = service("webhook-poll-interval", "1s");
    ImageGenerationResponse r = s.generateImage(ImageGenerationRequest.builder().prompt("a red fox in snow")
        .providerOption("bfl", "webhook_url", "https://elsewhere.example/hook")
        .providerOption("bfl", "webhook_secret", "theirs").build(), "bfl");
    JsonNode submit = submitBody();
    assertThat(submit.path("webhook_url").asText()).isEqualTo(HOOK);
    assertThat(submit.path("webhook_secret").asText()).isEqualTo(SECRET);
    assertThat(r.warnings()).anyMatch(w -> w.contains("webhook_url") && w.contains("webhook-url is configured"));
  }

  @Test
  void withoutAWebhookUrlTheSubmitCarriesNoneAndTheReceiverAnswers404() throws Exception {
    server.setScenarioState(STATE, "done");
    ProviderConfig c = ProviderConfig.builder("bfl").apiKey(KEY).baseUrl(server.baseUrl())
        .set("polling-hosts", BflStubs.POLLING_HOST).build();
    try (ImageGenerationService s = ImageGenerationService.builder().provider(new BflProviderFactory(), c).build()) {
      s.generateImage(ImageGenerationRequest.of("a red fox in snow"), "bfl");
      JsonNode submit = submitBody();
      assertThat(submit.has("webhook_url")).isFalse();
      assertThat(submit.has("webhook_secret")).isFalse();
      assertThat(deliver(s, signed(SECRET, readyBody(ID)), readyBody(ID)).status()).isEqualTo(404);
    }
  }

  @Test
  void aWebhookUrlWithoutASecretIsAConfigurationErrorAndTheKeysAreKnown() {
    ProviderConfig.Builder b = ProviderConfig.builder("bfl").apiKey(KEY).set("webhook-url", HOOK);
    assertThatThrownBy(() -> new BflProviderFactory().create(b.build())).hasMessageContaining("'webhook-secret' is required with "
        + "'webhook-url'");
    assertThatThrownBy(() -> new BflProviderFactory().create(b.set("webhook-secret", " ").build()))
        .hasMessageContaining("'webhook-secret'");
    assertThatThrownBy(() -> new BflProviderFactory().create(ProviderConfig.builder("bfl").apiKey(KEY).set("webhook-url", "nope")
        .set("webhook-secret", SECRET).build())).hasMessageContaining("webhook-url");
    assertThat(ProviderConfig.builder("bfl").set("webhook-secret", SECRET).build().toString()).doesNotContain(SECRET);
    assertThat(new BflProviderFactory().settings()).contains("webhook-url", "webhook-secret", "webhook-poll-interval",
        "webhook-allow-unsigned");
  }
}
