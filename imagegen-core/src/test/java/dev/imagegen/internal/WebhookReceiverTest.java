package dev.imagegen.internal;

import static dev.imagegen.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ProviderHealth;
import dev.imagegen.WebhookReceiver.Response;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.RemoteJob;
import dev.imagegen.spi.Secret;
import dev.imagegen.spi.StandardWebhooks;
import dev.imagegen.spi.WebhookVerifier;
import dev.imagegen.testing.CapturedLogs;
import dev.imagegen.testing.MutableClock;
import dev.imagegen.testing.TestImages;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The webhook receiver: signatures, staleness, replays, and the nudge of a pending job's poll loop. */
class WebhookReceiverTest {
  private static final byte[] KEY = "a signing key of thirty-two bytes".getBytes(StandardCharsets.UTF_8);
  private static final String SECRET = "whsec_" + Base64.getEncoder().encodeToString(KEY);
  private final MutableClock clock = new MutableClock();
  private final AtomicInteger nudges = new AtomicInteger();
  private @Nullable Engine engine;

  @AfterEach
  void close() {
    if (engine != null) {
      engine.close();
    }
  }

  /** A provider whose job stays pending until {@code ready}, polled every 60 s, verified with Standard Webhooks. */
  private static class PushedProvider implements ImageProvider {
    final AtomicBoolean ready = new AtomicBoolean();
    final AtomicInteger polls = new AtomicInteger();
    /** Polls that have chosen their answer (a test sets {@link #held} only after the poll it must not catch). */
    final AtomicInteger answered = new AtomicInteger();
    final AtomicInteger inFlight = new AtomicInteger();
    final AtomicInteger mostInFlight = new AtomicInteger();
    volatile @Nullable CompletableFuture<PollResult> held;
    final @Nullable WebhookVerifier verifier;
    final Duration interval;

    PushedProvider(@Nullable WebhookVerifier verifier, Duration interval) {
      this.verifier = verifier;
      this.interval = interval;
    }

    @Override public String id() { return "p"; }
    @Override public ProviderCapabilities capabilities() { return ProviderCapabilities.builder().cancellable(true).build(); }
    @Override public CostModel costModel() { return CostModel.free(); }
    @Override public @Nullable WebhookVerifier webhookVerifier() { return verifier; }

    @Override
    public CompletableFuture<ProviderHealth> health(ProviderContext context) {
      return CompletableFuture.completedFuture(ProviderHealth.up("p", Duration.ZERO));
    }

    @Override
    public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
      return ctx.await(new RemoteJob() {
        @Override public String id() { return "job-1"; }

        @Override
        public CompletableFuture<PollResult> poll() {
          polls.incrementAndGet();
          mostInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
          CompletableFuture<PollResult> answer = new CompletableFuture<>();
          answer.whenComplete((r, e) -> inFlight.decrementAndGet());
          CompletableFuture<PollResult> h = held;
          boolean isReady = ready.get();
          answered.incrementAndGet();
          if (h != null) {
            held = null;
            h.thenAccept(answer::complete);
            return answer;
          }
          answer.complete(isReady ? PollResult.done(ProviderResult.builder("m")
              .image(GeneratedImage.of(TestImages.png(8, 8), 1L, null, false)).build()) : PollResult.pending(null));
          return answer;
        }

        @Override public CompletableFuture<?> cancel() { return CompletableFuture.completedFuture(null); }
      }, PollPolicy.builder().initialDelay(Duration.ofMillis(10)).interval(interval).floor(Duration.ofMillis(10)).build());
    }
  }

  private Engine engine(ImageProvider provider, String... kv) {
    EngineSettings s = new EngineSettings();
    ProviderConfig.Builder c = ProviderConfig.builder("p");
    for (int i = 0; i < kv.length; i += 2) {
      c.set(kv[i], kv[i + 1]);
    }
    s.providers.add(new EngineSettings.Entry(provider, c.build()));
    s.clock = clock;
    s.maxRetries = 0;
    engine = new Engine(s);
    return engine;
  }

  private static StandardWebhooks verifier() {
    return StandardWebhooks.verifier(Secret.of(SECRET), json -> json.path("id").asText(null), false);
  }

  private static String sign(String id, long ts, String body) throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(KEY, "HmacSHA256"));
    return "v1," + Base64.getEncoder().encodeToString(mac.doFinal((id + "." + ts + "." + body).getBytes(StandardCharsets.UTF_8)));
  }

  private Map<String, List<String>> headers(String id, long ts, String signature) {
    return Map.of("Webhook-Id", List.of(id), "WEBHOOK-TIMESTAMP", List.of(String.valueOf(ts)), "webhook-signature",
        List.of(signature));
  }

  private Response deliver(Engine e, String id, String body) throws Exception {
    long ts = clock.instant().getEpochSecond();
    return e.webhooks().handle("p", headers(id, ts, sign(id, ts, body)), body.getBytes(StandardCharsets.UTF_8));
  }

  /** An engine whose registry holds a counter for job-1 of provider p (no generation needed). */
  private Engine withCounter(@Nullable WebhookVerifier v) {
    Engine e = engine(new PushedProvider(v, Duration.ofSeconds(60)));
    e.pushes.register("p", "job-1", nudges::incrementAndGet, new CompletableFuture<>());
    return e;
  }

  @Test
  void aSignedDeliveryNudgesItsJobOnce() throws Exception {
    Engine e = withCounter(verifier());
    Response r = deliver(e, "msg-1", "{\"id\":\"job-1\",\"status\":\"succeeded\"}");
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.message()).isEqualTo("accepted");
    assertThat(nudges).hasValue(1);
  }

  @Test
  void aWrongSignatureIsRefusedAndNudgesNothing() throws Exception {
    Engine e = withCounter(verifier());
    String body = "{\"id\":\"job-1\"}";
    long ts = clock.instant().getEpochSecond();
    Response r = e.webhooks().handle("p", headers("msg-1", ts, sign("msg-1", ts, "{\"id\":\"job-2\"}")), body.getBytes(
        StandardCharsets.UTF_8));
    assertThat(r.status()).isEqualTo(401);
    assertThat(r.message()).doesNotContain("job-1").doesNotContain(body);
    Response unsigned = e.webhooks().handle("p", Map.of(), body.getBytes(StandardCharsets.UTF_8));
    assertThat(unsigned.status()).isEqualTo(401);
    assertThat(unsigned.message()).contains("missing webhook-id webhook-timestamp webhook-signature");
    assertThat(nudges).hasValue(0);
  }

  @Test
  void oneMatchingSignatureAmongSeveralIsEnough() throws Exception {
    Engine e = withCounter(verifier());
    String body = "{\"id\":\"job-1\"}";
    long ts = clock.instant().getEpochSecond();
    String sig = "v1,AAAA v1a,whatever " + sign("msg-1", ts, body);
    assertThat(e.webhooks().handle("p", headers("msg-1", ts, sig), body.getBytes(StandardCharsets.UTF_8)).status()).isEqualTo(200);
    assertThat(nudges).hasValue(1);
  }

  @Test
  void aReplayedDeliveryIsAcceptedButNotActedOnTwice() throws Exception {
    Engine e = withCounter(verifier());
    String body = "{\"id\":\"job-1\"}";
    assertThat(deliver(e, "msg-1", body).status()).isEqualTo(200);
    Response again = deliver(e, "msg-1", body);
    assertThat(again.status()).isEqualTo(200);
    assertThat(again.message()).contains("duplicate");
    assertThat(nudges).hasValue(1);
    assertThat(deliver(e, "msg-2", body).status()).isEqualTo(200);
    assertThat(nudges).hasValue(2);
  }

  @Test
  void aStaleOrFutureTimestampIsRefused() throws Exception {
    Engine e = withCounter(verifier());
    String body = "{\"id\":\"job-1\"}";
    long old = clock.instant().minus(Duration.ofMinutes(6)).getEpochSecond();
    Response stale = e.webhooks().handle("p", headers("msg-1", old, sign("msg-1", old, body)), body.getBytes(StandardCharsets.UTF_8));
    assertThat(stale.status()).isEqualTo(401);
    assertThat(stale.message()).contains("behind");
    long ahead = clock.instant().plus(Duration.ofMinutes(6)).getEpochSecond();
    assertThat(e.webhooks().handle("p", headers("msg-2", ahead, sign("msg-2", ahead, body)), body.getBytes(StandardCharsets.UTF_8))
        .status()).isEqualTo(401);
    long recent = clock.instant().minus(Duration.ofMinutes(4)).getEpochSecond();
    assertThat(e.webhooks().handle("p", headers("msg-3", recent, sign("msg-3", recent, body)), body.getBytes(
        StandardCharsets.UTF_8)).status()).isEqualTo(200);
    assertThat(nudges).hasValue(1);
  }

  @Test
  void aDeliveryForAJobNotPendingHereIsAcceptedAndDoesNothing() throws Exception {
    Engine e = withCounter(verifier());
    Response r = deliver(e, "msg-1", "{\"id\":\"job-unknown\"}");
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.message()).contains("no such job is pending here");
    assertThat(nudges).hasValue(0);
  }

  @Test
  void unknownProvidersProvidersWithoutWebhooksAndUnreadableBodiesGetTheirOwnStatus() throws Exception {
    Engine none = withCounter(null);
    assertThat(none.webhooks().handle("p", Map.of(), new byte[0]).status()).isEqualTo(404);
    assertThat(none.webhooks().handle("p", Map.of(), new byte[0]).message()).contains("webhooks are not configured for provider p");
    assertThat(none.webhooks().handle("nope", Map.of(), new byte[0]).status()).isEqualTo(404);
    none.close();
    Engine e = withCounter(verifier());
    Response notJson = deliver(e, "msg-1", "<xml>job-1</xml>");
    assertThat(notJson.status()).isEqualTo(400);
    assertThat(notJson.message()).doesNotContain("xml");
    assertThat(e.webhooks().handle("p", Map.of(), new byte[dev.imagegen.WebhookReceiver.MAX_BODY_BYTES + 1]).status())
        .isEqualTo(413);
    assertThat(nudges).hasValue(0);
  }

  @Test
  void unsignedDeliveriesAreAcceptedOnlyWhenAllowedAndWrongSignaturesNever() throws Exception {
    long mark = CapturedLogs.mark();
    Engine e = engine(new PushedProvider(StandardWebhooks.verifier(Secret.of(SECRET), json -> json.path("id").asText(null), true),
        Duration.ofSeconds(60)), "webhook-allow-unsigned", "true");
    assertThat(CapturedLogs.active()).isTrue();
    assertThat(CapturedLogs.since(mark, ev -> ev.message().contains("webhook-allow-unsigned is true"))).singleElement()
        .satisfies(ev -> assertThat(ev.level()).isEqualTo(org.slf4j.event.Level.WARN));
    e.pushes.register("p", "job-1", nudges::incrementAndGet, new CompletableFuture<>());
    byte[] body = "{\"id\":\"job-1\"}".getBytes(StandardCharsets.UTF_8);
    assertThat(e.webhooks().handle("p", Map.of(), body).status()).isEqualTo(200);
    assertThat(nudges).hasValue(1);
    long ts = clock.instant().getEpochSecond();
    assertThat(e.webhooks().handle("p", headers("msg-9", ts, "v1,AAAA"), body).status()).isEqualTo(401);
    assertThat(nudges).hasValue(1);
  }

  @Test
  void aDeliveryCompletesAJobPolledEverySixtySecondsAtOnceAndLeavesNoRegistration() throws Exception {
    PushedProvider p = new PushedProvider(verifier(), Duration.ofSeconds(60));
    Engine e = engine(p);
    CompletableFuture<ImageGenerationResponse> f = e.submit(ImageGenerationRequest.of("a fox"), "p").result();
    eventually(Duration.ofSeconds(5), () -> assertThat(p.answered).hasValue(1)); // the first poll, at the normal time, answered pending
    assertThat(e.pushable()).isEqualTo(1);
    p.ready.set(true);
    assertThat(deliver(e, "msg-1", "{\"id\":\"job-1\"}").message()).isEqualTo("accepted");
    ImageGenerationResponse r = f.get(10, TimeUnit.SECONDS);
    assertThat(r.images()).hasSize(1);
    assertThat(p.polls).hasValue(2);
    // the registration ends with the wait: a dependent of the job's future, so just after the caller's result
    eventually(Duration.ofSeconds(5), () -> assertThat(e.pushable()).isZero());
    assertThat(deliver(e, "msg-2", "{\"id\":\"job-1\"}").message()).contains("no such job is pending here");
  }

  /** Jobs {@code job-1}, {@code job-2}... pending until {@code ready}, polled every hour; each poll's time is kept. */
  private static final class ManyJobsProvider extends PushedProvider {
    final AtomicInteger ids = new AtomicInteger();
    final java.util.concurrent.ConcurrentLinkedQueue<Long> pollTimes = new java.util.concurrent.ConcurrentLinkedQueue<>();
    final java.util.Set<String> readyIds = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Jobs whose next poll fails once with a transient error (a 503). */
    final java.util.Set<String> failOnce = java.util.concurrent.ConcurrentHashMap.newKeySet();

    ManyJobsProvider() {
      this(Duration.ofHours(1));
    }

    ManyJobsProvider(Duration interval) {
      super(verifier(), interval);
    }

    @Override
    public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
      String id = "job-" + ids.incrementAndGet();
      return ctx.await(new RemoteJob() {
        @Override public String id() { return id; }

        @Override
        public CompletableFuture<PollResult> poll() {
          pollTimes.add(System.nanoTime());
          polls.incrementAndGet();
          if (failOnce.remove(id)) {
            return CompletableFuture.failedFuture(dev.imagegen.ProviderUnavailableException.transientFailure("HTTP 503", "p", null));
          }
          boolean done = ready.get() || readyIds.contains(id);
          return CompletableFuture.completedFuture(done ? PollResult.done(ProviderResult.builder("m")
              .image(GeneratedImage.of(TestImages.png(8, 8), 1L, null, false)).build()) : PollResult.pending(null));
        }

        @Override public CompletableFuture<?> cancel() { return CompletableFuture.completedFuture(null); }
      }, PollPolicy.builder().initialDelay(interval).interval(interval).floor(Duration.ofMillis(10)).build());
    }
  }

  @Test
  void pushesForManyJobsAtOncePollWithinTheProvidersBudget() throws Exception {
    ManyJobsProvider p = new ManyJobsProvider();
    Engine e = engine(p, "polls-per-second", "20", "max-concurrent", "100");
    List<CompletableFuture<ImageGenerationResponse>> all = new java.util.ArrayList<>();
    for (int i = 0; i < 40; i++) {
      all.add(e.submit(ImageGenerationRequest.of("a fox " + i), "p").result());
    }
    eventually(Duration.ofSeconds(5), () -> assertThat(e.pushable()).isEqualTo(40));
    p.ready.set(true);
    for (int i = 1; i <= 40; i++) {
      assertThat(deliver(e, "msg-" + i, "{\"id\":\"job-" + i + "\"}").message()).isEqualTo("accepted");
    }
    CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0])).get(20, TimeUnit.SECONDS);
    List<Long> at = new java.util.ArrayList<>(p.pollTimes);
    java.util.Collections.sort(at);
    assertThat(at).hasSize(40);
    // 40 polls pushed at once, 20 a second: spread over 2 s, not sent in one burst
    int most = dev.imagegen.testing.Windows.mostInAnyWindow(at, 1_000_000_000L);
    assertThat(most).as("polls in any second").isLessThanOrEqualTo(22);
    assertThat(at.get(at.size() - 1) - at.get(0)).isGreaterThan(1_500_000_000L);
  }

  @Test
  void aDeliveryIsPolledAtOnceWhileThousandsOfSafetyNetPollsWaitForTheBudget() throws Exception {
    // 200 jobs that want a poll every 10 ms against a budget of 20/s: their polls queue for many
    // seconds; the one a delivery asks for must not queue behind them
    ManyJobsProvider p = new ManyJobsProvider(Duration.ofMillis(10));
    Engine e = engine(p, "polls-per-second", "20", "max-concurrent", "300");
    List<CompletableFuture<ImageGenerationResponse>> all = new java.util.ArrayList<>();
    for (int i = 0; i < 200; i++) {
      all.add(e.submit(ImageGenerationRequest.of("a fox " + i), "p").result());
    }
    eventually(Duration.ofSeconds(5), () -> assertThat(e.pushable()).isEqualTo(200));
    eventually(Duration.ofSeconds(5), () -> assertThat(p.polls.get()).isGreaterThan(3)); // the queue is moving
    p.readyIds.add("job-190");
    p.failOnce.add("job-190"); // the delivery's poll meets a 503: its retry must not queue behind the others either
    long sent = System.nanoTime();
    assertThat(deliver(e, "msg-190", "{\"id\":\"job-190\"}").message()).isEqualTo("accepted");
    all.get(189).get(5, TimeUnit.SECONDS); // in one budget, its poll would come after some 190 others: 10 s
    // the failed poll's retry waits its backoff (at most 1 s), then its turn in the pushes' share
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sent)).as("delivery to result, ms").isLessThan(3_000);
    // the budget still holds for all polls together
    List<Long> at = new java.util.ArrayList<>(p.pollTimes);
    java.util.Collections.sort(at);
    int most = dev.imagegen.testing.Windows.mostInAnyWindow(at, 1_000_000_000L);
    assertThat(most).as("polls in any second").isLessThanOrEqualTo(22);
    assertThat(all.stream().filter(CompletableFuture::isDone).count()).isEqualTo(1);
  }

  @Test
  void deliveriesDuringAPollAreCoalescedIntoOneMorePoll() throws Exception {
    PushedProvider p = new PushedProvider(verifier(), Duration.ofSeconds(60));
    Engine e = engine(p);
    CompletableFuture<PollResult> release = new CompletableFuture<>();
    CompletableFuture<ImageGenerationResponse> f = e.submit(ImageGenerationRequest.of("a fox"), "p").result();
    eventually(Duration.ofSeconds(5), () -> assertThat(p.answered).hasValue(1));
    p.held = release; // the next poll hangs until released
    deliver(e, "msg-1", "{\"id\":\"job-1\"}");
    eventually(Duration.ofSeconds(5), () -> assertThat(p.polls).hasValue(2));
    for (int i = 0; i < 5; i++) {
      deliver(e, "msg-more-" + i, "{\"id\":\"job-1\"}");
    }
    p.ready.set(true);
    release.complete(PollResult.pending(null)); // still pending: the deliveries during the poll ask for one more
    f.get(10, TimeUnit.SECONDS);
    assertThat(p.polls).hasValue(3);
    assertThat(p.mostInFlight).hasValue(1);
  }

  @Test
  void aCancelledGenerationLeavesNoRegistration() throws Exception {
    PushedProvider p = new PushedProvider(verifier(), Duration.ofSeconds(60));
    Engine e = engine(p);
    dev.imagegen.GenerationJob job = e.submit(ImageGenerationRequest.of("a fox"), "p");
    eventually(Duration.ofSeconds(5), () -> assertThat(e.pushable()).isEqualTo(1));
    job.cancel();
    eventually(Duration.ofSeconds(5), () -> assertThat(e.pushable()).isZero());
  }

  @Test
  void withoutADeliveryTheSafetyNetPollStillEndsTheWait() throws Exception {
    PushedProvider p = new PushedProvider(verifier(), Duration.ofMillis(50));
    Engine e = engine(p);
    CompletableFuture<ImageGenerationResponse> f = e.submit(ImageGenerationRequest.of("a fox"), "p").result();
    eventually(Duration.ofSeconds(5), () -> assertThat(p.polls).hasValueGreaterThanOrEqualTo(1));
    p.ready.set(true);
    assertThat(f.get(10, TimeUnit.SECONDS).images()).hasSize(1);
  }
}
