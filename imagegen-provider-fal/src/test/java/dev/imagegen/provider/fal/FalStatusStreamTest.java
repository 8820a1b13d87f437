package dev.imagegen.provider.fal;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
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
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.FalStubs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * fal's status stream ({@code GET .../requests/{id}/status/stream}, server-sent events of the
 * status objects) against WireMock: a {@code COMPLETED} event makes the wait read the status and
 * the result at once; a stream that fails leaves the request to its polls; only
 * {@code status-streams} streams are open at once.
 */
class FalStatusStreamTest {
  static final String KEY = "0f2c7a1e-1111-4222-8333-444455556666:3c9f0a1b2c3d4e5f60718293a4b5c6d7";
  static final String ROOT = FalStubs.FLUX_ROOT;
  static final String ID = FalStubs.REQUEST_ID;
  static final String STATUS = "/" + ROOT + "/requests/" + ID + "/status";
  static final String STREAM = STATUS + "/stream";
  static final String STATE = "fal-request";

  WireMockServer server;
  FalStubs stubs;
  final List<ImageGenerationService> services = new ArrayList<>();

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    stubs = new FalStubs(server);
    StubImage image = StubImages.png(32, 32, 7);
    stubs.stubSubmit(ROOT, ID);
    server.stubFor(get(urlPathEqualTo(STATUS)).inScenario(STATE).whenScenarioStateIs(STARTED)
        .willReturn(FalStubs.json(200, stubs.inQueue(ROOT, ID, 2))));
    server.stubFor(get(urlPathEqualTo(STATUS)).inScenario(STATE).whenScenarioStateIs("done")
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

  ImageGenerationService service(String... extra) {
    ProviderConfig.Builder b = ProviderConfig.builder("fal").apiKey(KEY).baseUrl(server.baseUrl()).set("storage-url", server.baseUrl());
    for (int i = 0; i < extra.length; i += 2) {
      b.set(extra[i], extra[i + 1]);
    }
    ImageGenerationService s = ImageGenerationService.builder().provider(new FalProviderFactory(), b.build())
        .maxRetries(0).defaultTimeout(Duration.ofSeconds(90)).build();
    services.add(s);
    return s;
  }

  /** Two events as fal streams them: queued, then completed. */
  String events() {
    return "data: " + stubs.inQueue(ROOT, ID, 1) + "\n\n" + "data: " + stubs.completed(ROOT, ID) + "\n\n";
  }

  int requests(String path) {
    return server.findAll(getRequestedFor(urlPathEqualTo(path))).size();
  }

  @Test
  void aCompletedEventEndsAWaitWhosePollsAreAnHourApart() throws Exception {
    // the stream's request moves the status to done; its answer (after 500 ms) says COMPLETED
    server.stubFor(get(urlPathEqualTo(STREAM)).inScenario(STATE).willSetStateTo("done")
        .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(events())
            .withFixedDelay(500)));
    ImageGenerationService s = service("poll-interval", "1h", "poll-max-interval", "1h");
    long t0 = System.nanoTime();
    ImageGenerationResponse r = s.generateAsync(ImageGenerationRequest.of("a fox")).get(20, TimeUnit.SECONDS);
    assertThat(r.images()).hasSize(1);
    // without the stream the first poll would be an hour away
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(10_000);
    assertThat(requests(STATUS)).as("status reads").isEqualTo(1);
    LoggedRequest stream = server.findAll(getRequestedFor(urlPathEqualTo(STREAM))).get(0);
    assertThat(stream.getHeader("Authorization")).isEqualTo("Key " + KEY);
    assertThat(stream.getHeader("Accept")).isEqualTo("text/event-stream");
    assertThat(stream.queryParameter("logs").firstValue()).isEqualTo("0");
  }

  @Test
  void aStreamOutlivesTheCallTimeout() throws Exception {
    // the two events dribbled over 3 s (the first, with the headers, after 1.5 s): longer than the
    // 2 s call timeout, which bounds the wait for the answer's headers, not the stream
    server.stubFor(get(urlPathEqualTo(STREAM)).inScenario(STATE).willSetStateTo("done")
        .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(events())
            .withChunkedDribbleDelay(2, 3_000)));
    ImageGenerationService s = service("poll-interval", "1h", "poll-max-interval", "1h", "timeout", "2s");
    assertThat(s.generateAsync(ImageGenerationRequest.of("a fox")).get(20, TimeUnit.SECONDS).images()).hasSize(1);
    assertThat(requests(STATUS)).as("status reads").isEqualTo(1);
  }

  @Test
  void aStreamThatFailsLeavesTheRequestToItsPolls() throws Exception {
    server.stubFor(get(urlPathEqualTo(STREAM)).willReturn(FalStubs.json(500, "{\"detail\":\"Internal Server Error\"}")));
    server.stubFor(get(urlPathEqualTo(STATUS)).inScenario(STATE).whenScenarioStateIs(STARTED).willSetStateTo("done")
        .willReturn(FalStubs.json(200, stubs.inQueue(ROOT, ID, 2))));
    ImageGenerationService s = service("poll-interval", "200ms");
    assertThat(s.generateAsync(ImageGenerationRequest.of("a fox")).get(20, TimeUnit.SECONDS).images()).hasSize(1);
    assertThat(requests(STREAM)).isEqualTo(1);
    assertThat(requests(STATUS)).isEqualTo(2);
  }

  @Test
  void aStreamThatSaysNothingUsefulCostsNothingButItsConnection() throws Exception {
    // events that are not status objects, a comment, and an event without its blank line
    server.stubFor(get(urlPathEqualTo(STREAM)).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(": keep-alive\n\nevent: ping\ndata: not json\n\ndata: {\"status\":")));
    server.stubFor(get(urlPathEqualTo(STATUS)).inScenario(STATE).whenScenarioStateIs(STARTED).willSetStateTo("done")
        .willReturn(FalStubs.json(200, stubs.inQueue(ROOT, ID, 2))));
    ImageGenerationService s = service("poll-interval", "200ms");
    assertThat(s.generateAsync(ImageGenerationRequest.of("a fox")).get(20, TimeUnit.SECONDS).images()).hasSize(1);
    assertThat(requests(STATUS)).isEqualTo(2);
  }

  @Test
  void onlyStatusStreamsStreamsAreOpenAtOnceAndTheRoomComesBack() throws Exception {
    // a stream that stays open (no event) for 3 s; the status stays queued
    server.stubFor(get(urlPathEqualTo(STREAM)).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody("data: " + stubs.inQueue(ROOT, ID, 1) + "\n\n").withFixedDelay(3_000)));
    ImageGenerationService s = service("poll-interval", "200ms", "status-streams", "1", "max-concurrent", "4");
    List<CompletableFuture<ImageGenerationResponse>> all = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      all.add(s.generateAsync(ImageGenerationRequest.of("a fox " + i)));
    }
    awaitAtLeast(STATUS, 6); // all three are being polled
    assertThat(requests(STREAM)).as("streams opened while one is open").isEqualTo(1);
    all.forEach(f -> f.cancel(true));
    // the open stream is closed with its wait: a new request gets the room
    server.resetRequests();
    CompletableFuture<ImageGenerationResponse> next = s.generateAsync(ImageGenerationRequest.of("a fox again"));
    awaitAtLeast(STREAM, 1);
    next.cancel(true);
  }

  @Test
  void zeroStreamsOrWebhooksOpenNoneAndABadCountIsNamed() throws Exception {
    server.stubFor(get(urlPathEqualTo(STATUS)).inScenario(STATE).whenScenarioStateIs(STARTED).willSetStateTo("done")
        .willReturn(FalStubs.json(200, stubs.inQueue(ROOT, ID, 2))));
    ImageGenerationService s = service("poll-interval", "200ms", "status-streams", "0");
    assertThat(s.generateAsync(ImageGenerationRequest.of("a fox")).get(20, TimeUnit.SECONDS).images()).hasSize(1);
    assertThat(requests(STREAM)).isZero();
    assertThatThrownBy(() -> service("status-streams", "-1")).hasMessageContaining("status-streams");
    assertThatThrownBy(() -> service("status-streams", "many")).hasMessageContaining("status-streams");
  }

  void awaitAtLeast(String path, int n) {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (requests(path) < n && System.nanoTime() < until) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
    assertThat(requests(path)).isGreaterThanOrEqualTo(n);
  }
}
