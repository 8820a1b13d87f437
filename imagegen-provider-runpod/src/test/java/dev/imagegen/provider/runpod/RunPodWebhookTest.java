package dev.imagegen.provider.runpod;

import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
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
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.RunPodStubs;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Webhooks on RunPod against a WireMock server speaking its protocol: the job stays
 * {@code IN_PROGRESS} on every {@code /status} read until the test delivers the webhook RunPod
 * posts (the final {@code /status} object, unsigned), after which the next read says
 * {@code COMPLETED}. The safety-net poll is an hour away, so only the delivery can end the wait.
 */
class RunPodWebhookTest {
  static final String KEY = "rpa_TESTKEY0123456789ABCDEF";
  static final String HOOK = "https://app.example.com/hooks/runpod?tenant=a";
  static final String JOB = RunPodStubs.JOB_ID;
  static final String STATE = "runpod-job";
  static final ObjectMapper JSON = new ObjectMapper();

  WireMockServer server;
  RunPodStubs stubs;
  StubImage image;
  String completed;
  final List<ImageGenerationService> services = new ArrayList<>();

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    stubs = new RunPodStubs(server);
    image = StubImages.png(32, 32, 3);
    completed = RunPodStubs.completed(List.of(RunPodStubs.dataUri(image)), image.seed());
    stubs.acceptsSubmit();
    stubs.acceptsCancel();
    stubs.healthAnswers(RunPodStubs.HEALTHY);
    String status = stubs.path("/status/" + JOB);
    server.stubFor(get(urlPathEqualTo(status)).inScenario(STATE).whenScenarioStateIs(STARTED)
        .willReturn(okJson(RunPodStubs.status("IN_PROGRESS"))));
    server.stubFor(get(urlPathEqualTo(status)).inScenario(STATE).whenScenarioStateIs("done").willReturn(okJson(completed)));
  }

  @AfterEach
  void stop() {
    services.forEach(ImageGenerationService::close);
    server.stop();
  }

  ProviderConfig.Builder config(String... extra) {
    ProviderConfig.Builder b = ProviderConfig.builder("runpod").apiKey(KEY).baseUrl(server.baseUrl() + "/v2")
        .set("endpoint", RunPodStubs.ENDPOINT).set("webhook-url", HOOK).set("webhook-allow-unsigned", "true")
        .set("webhook-poll-interval", "1h");
    for (int i = 0; i < extra.length; i += 2) {
      b.set(extra[i], extra[i + 1]);
    }
    return b;
  }

  ImageGenerationService service(ProviderConfig config) {
    ImageGenerationService s = ImageGenerationService.builder().provider(new RunPodProviderFactory(), config).maxRetries(0)
        .defaultTimeout(Duration.ofSeconds(90)).build();
    services.add(s);
    return s;
  }

  int polls() {
    return server.findAll(getRequestedFor(urlPathEqualTo(stubs.path("/status/" + JOB)))).size();
  }

  /** Waits until the server has seen {@code n} status reads (checked every 20 ms, at most 10 s), then checks it saw no more. */
  void awaitPolls(int n) {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (polls() < n && System.nanoTime() < until) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
    assertThat(polls()).isEqualTo(n);
  }

  static Response deliver(ImageGenerationService s, String body) {
    return s.webhooks().handle("runpod", Map.of("Content-Type", List.of("application/json")),
        body.getBytes(StandardCharsets.UTF_8));
  }

  JsonNode runBody() throws Exception {
    List<LoggedRequest> runs = server.findAll(postRequestedFor(urlPathEqualTo(stubs.path("/run"))));
    assertThat(runs).hasSize(1);
    return JSON.readTree(runs.get(0).getBodyAsString());
  }

  @Test
  void theRunCarriesTheWebhookAndADeliveryEndsTheWaitAtOnce() throws Exception {
    ImageGenerationService s = service(config().build());
    CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("a red fox in snow"), "runpod");
    awaitPolls(1); // IN_PROGRESS at the usual 1 s; the next read is an hour away

    server.setScenarioState(STATE, "done");
    Response r = deliver(s, completed);

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.message()).isEqualTo("accepted");
    ImageGenerationResponse done = f.get(10, TimeUnit.SECONDS);
    assertThat(done.images().get(0).bytes()).isEqualTo(image.bytes());
    assertThat(polls()).isEqualTo(2);
    assertThat(runBody().path("webhook").asText()).isEqualTo(HOOK);
    assertThat(deliver(s, completed).message()).as("RunPod's resend of the same body").contains("duplicate");
  }

  @Test
  void aBodyThatIsNotJsonOrNamesNoJobIs400AndMakesNoPoll() throws Exception {
    ImageGenerationService s = service(config().build());
    CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("a red fox in snow"), "runpod");
    awaitPolls(1);
    server.setScenarioState(STATE, "done");

    assertThat(deliver(s, "not json").status()).isEqualTo(400);
    Response noId = deliver(s, "{\"status\":\"COMPLETED\",\"output\":{}}");
    assertThat(noId.status()).isEqualTo(400);
    assertThat(noId.message()).contains("no job");
    assertThat(deliver(s, "{\"id\":42,\"status\":\"COMPLETED\"}").status()).isEqualTo(400);
    assertThat(deliver(s, "[\"" + JOB + "\"]").status()).isEqualTo(400);
    assertThat(f).isNotDone();

    assertThat(deliver(s, completed).message()).isEqualTo("accepted");
    assertThat(f.get(10, TimeUnit.SECONDS).images()).hasSize(1);
    assertThat(polls()).as("the refused deliveries made no read, the good one one").isEqualTo(2);
  }

  @Test
  void aWebhookUrlWithoutTheUnsignedOptInIsAConfigurationErrorSayingWhy() {
    ProviderConfig.Builder b = ProviderConfig.builder("runpod").apiKey(KEY).set("endpoint", RunPodStubs.ENDPOINT)
        .set("webhook-url", HOOK);
    assertThatThrownBy(() -> new RunPodProviderFactory().create(b.build()))
        .hasMessageContaining("RunPod sends webhooks unsigned").hasMessageContaining("'webhook-allow-unsigned'");
    assertThatThrownBy(() -> new RunPodProviderFactory().create(b.set("webhook-allow-unsigned", "false").build()))
        .hasMessageContaining("'webhook-allow-unsigned'");
  }

  @Test
  void theOldWebhookKeyAndWebhookUrlTogetherAreAConfigurationErrorNamingBoth() {
    ProviderConfig c = config("webhook", "https://elsewhere.example/runpod").build();
    assertThatThrownBy(() -> new RunPodProviderFactory().create(c)).hasMessageContaining("'webhook'")
        .hasMessageContaining("'webhook-url'").hasMessageContaining("not both");
    assertThatThrownBy(() -> new RunPodProviderFactory().create(config("webhook-url", "nope").build()))
        .hasMessageContaining("webhook-url");
    assertThatThrownBy(() -> new RunPodProviderFactory().create(config("webhook-poll-interval", "10ms").build()))
        .hasMessageContaining("webhook-poll-interval");
    assertThat(new RunPodProviderFactory().settings()).contains("webhook", "webhook-url", "webhook-allow-unsigned",
        "webhook-poll-interval");
  }

  @Test
  void theOldWebhookKeyStillHandsTheUrlToRunPodWithNoReceiver() throws Exception {
    server.setScenarioState(STATE, "done");
    ProviderConfig c = ProviderConfig.builder("runpod").apiKey(KEY).baseUrl(server.baseUrl() + "/v2")
        .set("endpoint", RunPodStubs.ENDPOINT).set("webhook", "https://elsewhere.example/runpod").set("poll-interval", "200ms")
        .build();
    ImageGenerationService s = service(c);
    assertThat(s.generateImage(ImageGenerationRequest.of("a red fox in snow"), "runpod").images()).hasSize(1);
    assertThat(runBody().path("webhook").asText()).isEqualTo("https://elsewhere.example/runpod");
    Response r = deliver(s, completed);
    assertThat(r.status()).isEqualTo(404);
  }

  @Test
  void withoutAnyWebhookTheRunCarriesNone() throws Exception {
    server.setScenarioState(STATE, "done");
    ProviderConfig c = ProviderConfig.builder("runpod").apiKey(KEY).baseUrl(server.baseUrl() + "/v2")
        .set("endpoint", RunPodStubs.ENDPOINT).set("poll-interval", "200ms").build();
    ImageGenerationService s = service(c);
    s.generateImage(ImageGenerationRequest.of("a red fox in snow"), "runpod");
    assertThat(runBody().has("webhook")).isFalse();
  }
}
