package dev.imagegen.provider.horde;

import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
import static dev.imagegen.testkit.stubs.HordeStubs.BASE;
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
import dev.imagegen.testkit.stubs.HordeStubs;
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
 * Webhooks on the AI Horde against a WireMock server speaking its protocol: a request for two
 * images stays processing on every {@code /generate/check} until the test delivers the webhooks
 * the Horde posts, one per finished image (unsigned), after which the checks move on. The
 * safety-net poll is an hour away, so only the deliveries can end the wait.
 */
class HordeWebhookTest {
  static final String KEY = "hordeTestKey0123456789";
  static final String HOOK = "https://app.example.com/hooks/horde?tenant=a";
  static final String ID = HordeStubs.ID;
  static final String GEN_1 = HordeStubs.GEN_ID;
  static final String GEN_2 = "9d2c4e6f-7a8b-4c1d-9e0f-1a2b3c4d5e6f";
  static final String STATE = "horde-request";
  static final ObjectMapper JSON = new ObjectMapper();

  WireMockServer server;
  HordeStubs stubs;
  StubImage one;
  StubImage two;
  final List<ImageGenerationService> services = new ArrayList<>();

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    stubs = new HordeStubs(server);
    one = StubImages.png(32, 32, 1);
    two = StubImages.png(32, 32, 2);
    stubs.accepted();
    String check = BASE + "/generate/check/" + ID;
    server.stubFor(get(urlPathEqualTo(check)).inScenario(STATE).whenScenarioStateIs(STARTED)
        .willReturn(HordeStubs.json(200, HordeStubs.check(0, 2, 0, 0, false, false, 20, 0, 0.0, true))));
    server.stubFor(get(urlPathEqualTo(check)).inScenario(STATE).whenScenarioStateIs("one")
        .willReturn(HordeStubs.json(200, HordeStubs.check(1, 1, 0, 0, false, false, 10, 0, 8.5, true))));
    server.stubFor(get(urlPathEqualTo(check)).inScenario(STATE).whenScenarioStateIs("done")
        .willReturn(HordeStubs.json(200, HordeStubs.done(2, 17.0))));
    stubs.statusAnswers(HordeStubs.json(200, HordeStubs.status(17.0,
        HordeStubs.generation(stubs.r2Url(GEN_1), Long.toString(one.seed()), GEN_1, false),
        HordeStubs.generation(stubs.r2Url(GEN_2), Long.toString(two.seed()), GEN_2, false))));
    stubs.image(GEN_1, one);
    stubs.image(GEN_2, two);
    stubs.cancellable();
  }

  @AfterEach
  void stop() {
    services.forEach(ImageGenerationService::close);
    server.stop();
  }

  ProviderConfig.Builder config() {
    return ProviderConfig.builder("horde").baseUrl(server.baseUrl() + BASE).apiKey(KEY).set("webhook-url", HOOK)
        .set("webhook-allow-unsigned", "true").set("webhook-poll-interval", "1h");
  }

  ImageGenerationService service(ProviderConfig config) {
    ImageGenerationService s = ImageGenerationService.builder().provider(new HordeProviderFactory(), config).maxRetries(0)
        .defaultTimeout(Duration.ofSeconds(90)).build();
    services.add(s);
    return s;
  }

  int checks() {
    return server.findAll(getRequestedFor(urlPathEqualTo(BASE + "/generate/check/" + ID))).size();
  }

  /** Waits until the server has seen {@code n} checks (checked every 20 ms, at most 10 s), then checks it saw no more. */
  void awaitChecks(int n) {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (checks() < n && System.nanoTime() < until) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
    assertThat(checks()).isEqualTo(n);
  }

  /** The body the Horde posts for one finished image: the generation, its id, the request's id, the kudos. */
  String delivery(String genId, StubImage image) {
    return "{\"img\":\"" + stubs.r2Url(genId) + "\",\"seed\":\"" + image.seed() + "\",\"worker_id\":\"" + HordeStubs.WORKER_ID
        + "\",\"worker_name\":\"gpu-farm-3\",\"model\":\"" + HordeStubs.MODEL + "\",\"id\":\"" + genId + "\",\"censored\":false,"
        + "\"gen_metadata\":[],\"request\":\"" + ID + "\",\"kudos\":8.5}";
  }

  static Response deliver(ImageGenerationService s, String body) {
    return s.webhooks().handle("horde", Map.of("Content-Type", List.of("application/json")), body.getBytes(StandardCharsets.UTF_8));
  }

  JsonNode submitBody() throws Exception {
    List<LoggedRequest> submits = server.findAll(postRequestedFor(urlPathEqualTo(BASE + "/generate/async")));
    assertThat(submits).hasSize(1);
    return JSON.readTree(submits.get(0).getBodyAsString());
  }

  static ImageGenerationRequest twoFoxes() {
    return ImageGenerationRequest.builder().prompt("a red fox in snow").numImages(2).build();
  }

  @Test
  void theRequestCarriesTheWebhookAndEachImagesDeliveryPollsAtOnce() throws Exception {
    ImageGenerationService s = service(config().build());
    CompletableFuture<ImageGenerationResponse> f = s.generateAsync(twoFoxes(), "horde");
    awaitChecks(1); // processing at the usual 2 s; the next check is an hour away

    server.setScenarioState(STATE, "one");
    Response first = deliver(s, delivery(GEN_1, one));
    assertThat(first.status()).isEqualTo(200);
    assertThat(first.message()).isEqualTo("accepted");
    awaitChecks(2); // one of two finished: still waiting
    assertThat(f).isNotDone();
    assertThat(deliver(s, delivery(GEN_1, one)).message()).as("the Horde's resend of the same image").contains("duplicate");

    server.setScenarioState(STATE, "done");
    Response second = deliver(s, delivery(GEN_2, two));
    assertThat(second.message()).isEqualTo("accepted");
    ImageGenerationResponse done = f.get(10, TimeUnit.SECONDS);
    assertThat(done.images()).hasSize(2);
    assertThat(done.images().get(0).bytes()).isEqualTo(one.bytes());
    assertThat(checks()).isEqualTo(3);
    assertThat(submitBody().path("webhook").asText()).isEqualTo(HOOK);
  }

  @Test
  void aBodyThatIsNotJsonOrNamesNoRequestIs400AndMakesNoPoll() throws Exception {
    ImageGenerationService s = service(config().build());
    CompletableFuture<ImageGenerationResponse> f = s.generateAsync(twoFoxes(), "horde");
    awaitChecks(1);
    server.setScenarioState(STATE, "done");

    assertThat(deliver(s, "not json").status()).isEqualTo(400);
    String noRequest = delivery(GEN_1, one).replace("\"request\":\"" + ID + "\",", "");
    Response r = deliver(s, noRequest);
    assertThat(r.status()).isEqualTo(400);
    assertThat(r.message()).contains("no request");
    assertThat(deliver(s, delivery(GEN_1, one).replace("\"request\":\"" + ID + "\"", "\"request\":7")).status()).isEqualTo(400);
    assertThat(f).isNotDone();

    assertThat(deliver(s, delivery(GEN_2, two)).message()).isEqualTo("accepted");
    assertThat(f.get(10, TimeUnit.SECONDS).images()).hasSize(2);
    assertThat(checks()).as("the refused deliveries made no check, the good one one").isEqualTo(2);
  }

  @Test
  void aWebhookUrlWithoutTheUnsignedOptInOrNotHttpsIsAConfigurationError() {
    ProviderConfig.Builder b = ProviderConfig.builder("horde").apiKey(KEY).set("webhook-url", HOOK);
    assertThatThrownBy(() -> new HordeProviderFactory().create(b.build()))
        .hasMessageContaining("AI Horde sends webhooks unsigned").hasMessageContaining("'webhook-allow-unsigned'");
    assertThatThrownBy(() -> new HordeProviderFactory().create(config().set("webhook-url", "http://app.example.com/hooks/horde")
        .build())).hasMessageContaining("'webhook-url' must be an https URL");
    assertThatThrownBy(() -> new HordeProviderFactory().create(config().set("webhook-url", "nope").build()))
        .hasMessageContaining("webhook-url");
    assertThat(new HordeProviderFactory().settings()).contains("webhook-url", "webhook-allow-unsigned", "webhook-poll-interval");
  }

  @Test
  void withoutAWebhookUrlTheRequestCarriesNoneAndTheReceiverAnswers404() throws Exception {
    server.setScenarioState(STATE, "done");
    ImageGenerationService s = service(ProviderConfig.builder("horde").baseUrl(server.baseUrl() + BASE).apiKey(KEY)
        .set("poll-interval", "1s").build());
    assertThat(s.generateImage(twoFoxes(), "horde").images()).hasSize(2);
    assertThat(submitBody().has("webhook")).isFalse();
    assertThat(deliver(s, delivery(GEN_1, one)).status()).isEqualTo(404);
  }
}
