package dev.imagegen.provider.replicate;

import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.ConfigurationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.WebhookReceiver.Response;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testkit.KitLogs;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.ReplicateStubs;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Webhooks on Replicate against a WireMock server speaking its protocol: the prediction stays
 * {@code processing} on every poll until the test delivers a webhook signed the Standard Webhooks
 * way, after which the next poll says {@code succeeded}.
 */
class ReplicateWebhookTest {
  static final String KEY = "r8_TestSecretToken0123456789abcdef";
  static final byte[] SIGNING_KEY = "replicate test signing key 32 b!".getBytes(StandardCharsets.UTF_8);
  static final String SIGNING_BASE64 = Base64.getEncoder().encodeToString(SIGNING_KEY);
  static final String SECRET = "whsec_" + SIGNING_BASE64;
  static final String HOOK = "https://app.example.com/hooks/replicate?tenant=a&b=1";
  static final String STATE = "prediction";
  static final ObjectMapper JSON = new ObjectMapper();
  static WireMockServer server;

  ReplicateStubs stubs;
  final List<ImageGenerationService> services = new ArrayList<>();
  String id;
  StubImage image;

  @BeforeAll
  static void startServer() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
  }

  @AfterAll
  static void stopServer() {
    server.stop();
  }

  @BeforeEach
  void reset() {
    server.resetAll();
    stubs = new ReplicateStubs(server);
    id = ReplicateStubs.newId();
    image = StubImages.png(32, 32, 9);
    String path = stubs.serveImage(id, 0, image);
    stubs.created(stubs.prediction(id, "starting").json());
    // processing on every poll until the test moves the scenario to "done"
    server.stubFor(ReplicateStubs.anyPoll().inScenario(STATE).whenScenarioStateIs(STARTED)
        .willReturn(ReplicateStubs.json(200, stubs.prediction(id, "processing").json())));
    server.stubFor(ReplicateStubs.anyPoll().inScenario(STATE).whenScenarioStateIs("done")
        .willReturn(ReplicateStubs.json(200, stubs.prediction(id, "succeeded").output(path).metrics(1, 0.5).json())));
    stubs.cancelAnswers(id);
  }

  @AfterEach
  void close() {
    services.forEach(ImageGenerationService::close);
  }

  ImageGenerationService service(String... extra) {
    ProviderConfig.Builder b = ProviderConfig.builder("replicate").apiKey(KEY).baseUrl(server.baseUrl() + "/v1")
        .set("wait-seconds", "0").set("webhook-url", HOOK).set("webhook-secret", SECRET).set("webhook-poll-interval", "60s");
    for (int i = 0; i < extra.length; i += 2) {
      b.set(extra[i], extra[i + 1]);
    }
    ImageGenerationService s = ImageGenerationService.builder().provider(new ReplicateProviderFactory(), b.build())
        .defaultTimeout(Duration.ofSeconds(90)).build();
    services.add(s);
    return s;
  }

  int polls() {
    return server.findAll(stubs.pollRequests()).size();
  }

  /** Waits until the server has seen {@code n} polls (checked every 20 ms, at most 10 s), then checks it saw no more. */
  void awaitPolls(int n) {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (polls() < n && System.nanoTime() < until) {
      java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
    assertThat(polls()).isEqualTo(n);
  }

  String webhookBody(String status) {
    return stubs.prediction(id, status).json();
  }

  static String sign(byte[] key, String msgId, long ts, String body) throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(key, "HmacSHA256"));
    return "v1," + Base64.getEncoder().encodeToString(mac.doFinal((msgId + "." + ts + "." + body).getBytes(StandardCharsets.UTF_8)));
  }

  Response deliver(ImageGenerationService s, String msgId, long ts, String body, byte[] key) throws Exception {
    Map<String, List<String>> headers = Map.of("Webhook-Id", List.of(msgId), "Webhook-Timestamp", List.of(String.valueOf(ts)),
        "Webhook-Signature", List.of(sign(key, msgId, ts, body)), "Content-Type", List.of("application/json"));
    return s.webhooks().handle("replicate", headers, body.getBytes(StandardCharsets.UTF_8));
  }

  Response deliver(ImageGenerationService s, String msgId, String body) throws Exception {
    return deliver(s, msgId, Instant.now().getEpochSecond(), body, SIGNING_KEY);
  }

  @Test
  void theCreateAsksForTheCompletedWebhookAndASignedDeliveryEndsTheWaitAtOnce() throws Exception {
    long mark = KitLogs.mark();
    ImageGenerationService s = service();
    CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("a red fox in snow"), "replicate");
    awaitPolls(1); // the first poll at the normal time: still processing; the next is 60 s away

    server.setScenarioState(STATE, "done");
    Response r = deliver(s, "msg_1", webhookBody("succeeded"));

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.message()).isEqualTo("accepted");
    ImageGenerationResponse done = f.get(10, TimeUnit.SECONDS);
    assertThat(done.images()).hasSize(1);
    assertThat(done.images().get(0).bytes()).isEqualTo(image.bytes());
    assertThat(polls()).isEqualTo(2);
    JsonNode create = JSON.readTree(server.findAll(stubs.submitRequests()).get(0).getBodyAsString());
    assertThat(create.get("webhook").asText()).isEqualTo(HOOK);
    assertThat(create.get("webhook_events_filter")).hasSize(1);
    assertThat(create.get("webhook_events_filter").get(0).asText()).isEqualTo("completed");
    assertThat(KitLogs.capturing()).as("the kit captures log lines").isTrue();
    assertThat(KitLogs.since(mark)).isNotEmpty().noneMatch(l -> l.contains(SIGNING_BASE64) || l.contains(KEY));
  }

  @Test
  void aWrongSignatureAStaleTimestampAndAReplayAreNotActedOn() throws Exception {
    ImageGenerationService s = service();
    CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("a red fox in snow"), "replicate");
    awaitPolls(1);
    String body = webhookBody("succeeded");

    Response forged = deliver(s, "msg_f", Instant.now().getEpochSecond(), body, "another key, not replicate's key".getBytes(
        StandardCharsets.UTF_8));
    assertThat(forged.status()).isEqualTo(401);
    assertThat(forged.message()).doesNotContain(id).doesNotContain("processing");
    long old = Instant.now().minus(Duration.ofMinutes(10)).getEpochSecond();
    Response stale = deliver(s, "msg_s", old, body, SIGNING_KEY);
    assertThat(stale.status()).isEqualTo(401);
    assertThat(deliver(s, "msg_other", "{\"id\":\"someoneelsesprediction\",\"status\":\"succeeded\"}").message())
        .contains("no such job is pending here");
    assertThat(f).isNotDone();

    assertThat(deliver(s, "msg_1", body).message()).isEqualTo("accepted"); // still processing: one poll, then 60 s again
    awaitPolls(2);
    Response replay = deliver(s, "msg_1", body);
    assertThat(replay.status()).isEqualTo(200);
    assertThat(replay.message()).contains("duplicate");

    server.setScenarioState(STATE, "done");
    assertThat(deliver(s, "msg_2", body).message()).isEqualTo("accepted");
    assertThat(f.get(10, TimeUnit.SECONDS).images()).hasSize(1);
    assertThat(polls()).as("the forged, stale and replayed deliveries made no poll").isEqualTo(3);
  }

  @Test
  void aPredictionResumedAfterACrashIsNudgedByItsWebhookToo(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    dev.imagegen.JobJournal.directory(dir).started(new dev.imagegen.JobJournal.Entry("gen-1", "replicate", id,
        Map.of("get", server.baseUrl() + "/v1/predictions/" + id, "cancel", server.baseUrl() + "/v1/predictions/" + id + "/cancel"),
        "hash", Instant.now().plus(Duration.ofMinutes(5)), Instant.now(), "worker-1", dev.imagegen.JobJournal.RUNNING, null, null));
    ProviderConfig c = ProviderConfig.builder("replicate").apiKey(KEY).baseUrl(server.baseUrl() + "/v1").set("wait-seconds", "0")
        .set("webhook-url", HOOK).set("webhook-secret", SECRET).set("webhook-poll-interval", "60s").build();
    ImageGenerationService s = ImageGenerationService.builder().provider(new ReplicateProviderFactory(), c).journal(dir)
        .instanceId("worker-1").build();
    services.add(s);
    CompletableFuture<dev.imagegen.RecoveryReport> report = s.recoverAsync();
    awaitPolls(1);
    server.setScenarioState(STATE, "done");
    assertThat(deliver(s, "msg_1", webhookBody("succeeded")).message()).isEqualTo("accepted");
    assertThat(report.get(10, TimeUnit.SECONDS).with(dev.imagegen.RecoveryReport.Action.RESUMED)).hasSize(1);
    assertThat(polls()).isEqualTo(2);
    server.verify(0, stubs.submitRequests());
  }

  @Test
  void withoutAWebhookTheSafetyNetPollStillEndsTheWait() throws Exception {
    ImageGenerationService s = service("webhook-poll-interval", "1s");
    CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("a red fox in snow"), "replicate");
    awaitPolls(1);
    server.setScenarioState(STATE, "done");
    assertThat(f.get(10, TimeUnit.SECONDS).images()).hasSize(1);
    assertThat(polls()).isEqualTo(2);
  }

  @Test
  void withoutAWebhookUrlTheCreateAsksForNoneAndTheReceiverAnswers404() throws Exception {
    ProviderConfig c = ProviderConfig.builder("replicate").apiKey(KEY).baseUrl(server.baseUrl() + "/v1").set("wait-seconds", "0")
        .set("poll-interval", "100ms").build();
    server.setScenarioState(STATE, "done");
    try (ImageGenerationService s = ImageGenerationService.builder().provider(new ReplicateProviderFactory(), c).build()) {
      s.generateImage(ImageGenerationRequest.of("a red fox in snow"), "replicate");
      JsonNode create = JSON.readTree(server.findAll(stubs.submitRequests()).get(0).getBodyAsString());
      assertThat(create.has("webhook")).isFalse();
      assertThat(create.has("webhook_events_filter")).isFalse();
      Response r = deliver(s, "msg_1", webhookBody("succeeded"));
      assertThat(r.status()).isEqualTo(404);
      assertThat(r.message()).contains("webhooks are not configured for provider replicate");
    }
  }

  @Test
  void aWebhookUrlWithoutASecretOrWithABadOneIsAConfigurationErrorThatNeverShowsTheSecret() {
    ProviderConfig.Builder b = ProviderConfig.builder("replicate").apiKey(KEY).set("webhook-url", HOOK);
    assertThatThrownBy(() -> new ReplicateProviderFactory().create(b.build()))
        .hasMessageContaining("'webhook-secret' is required with 'webhook-url'");
    String bad = "whsec_not*base64*at*all";
    assertThatThrownBy(() -> new ReplicateProviderFactory().create(b.set("webhook-secret", bad).build()))
        .hasMessageContaining("'webhook-secret'").hasMessageNotContaining("not*base64");
    assertThatThrownBy(() -> new ReplicateProviderFactory().create(ProviderConfig.builder("replicate").apiKey(KEY)
        .set("webhook-url", "ftp://nope").set("webhook-secret", SECRET).build())).hasMessageContaining("webhook-url");
    assertThat(ProviderConfig.builder("replicate").set("webhook-secret", SECRET).build().toString()).doesNotContain(SIGNING_BASE64);
    assertThat(new ReplicateProviderFactory().settings()).contains("webhook-url", "webhook-secret", "webhook-poll-interval",
        "webhook-allow-unsigned");
  }

  @Test
  void theSettingsComeFromTheEnvironmentToo() throws Exception {
    java.util.Properties p = new java.util.Properties();
    p.setProperty("imagegen.replicate.api-key", KEY);
    p.setProperty("imagegen.replicate.base-url", server.baseUrl() + "/v1");
    p.setProperty("imagegen.replicate.wait-seconds", "0");
    p.setProperty("imagegen.replicate.webhook-url", HOOK);
    p.setProperty("imagegen.replicate.webhook-secret", SECRET);
    ImageGenerationService s = ImageGenerationService.builder().strictConfiguration(true).configureFrom(Map.of(), p).build();
    services.add(s);
    assertThat(deliver(s, "msg_1", webhookBody("succeeded")).status()).isEqualTo(200);
    assertThatThrownBy(() -> {
      java.util.Properties q = new java.util.Properties();
      q.putAll(p);
      q.remove("imagegen.replicate.webhook-secret");
      ImageGenerationService.builder().configureFrom(Map.of(), q).build().close();
    }).isInstanceOf(ConfigurationException.class).hasMessageContaining("webhook-secret");
  }
}
