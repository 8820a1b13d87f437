package dev.imagegen;

import static dev.imagegen.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.CapturedLogs;
import dev.imagegen.testing.MutableClock;
import dev.imagegen.testing.ScriptedProvider;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What a listener sees, in which order, and that no listener can hurt a generation. */
class GenerationListenerTest {
  private static final Duration WITHIN = Duration.ofSeconds(10);
  private ImageGenerationService service;

  @AfterEach
  void close() {
    if (service != null) {
      service.close();
    }
  }

  private static ImageGenerationRequest request() {
    return ImageGenerationRequest.builder().prompt("a red fox").seed(1L).build();
  }

  /** Records every event as one line, in the order received, and the events themselves. */
  static final class Recorder implements GenerationListener {
    final List<String> lines = new CopyOnWriteArrayList<>();
    final List<Object> events = new CopyOnWriteArrayList<>();
    final List<String> threads = new CopyOnWriteArrayList<>();

    private void add(String line, Object event) {
      lines.add(line);
      events.add(event);
      threads.add(Thread.currentThread().getName());
    }

    @Override public void generationStarted(Started e) { add("started", e); }
    @Override public void attemptStarted(AttemptStarted e) { add("attempt " + e.provider() + " #" + e.number(), e); }
    @Override public void retryScheduled(RetryScheduled e) { add("retry " + e.provider() + " call " + e.nextCall() + " " + e.errorKind(), e); }
    @Override public void attemptEnded(AttemptEnded e) {
      add("ended " + e.attempt().provider() + " " + e.attempt().outcome() + (e.attempt().errorKind() == null ? "" : " " + e.attempt().errorKind()), e);
    }
    @Override public void costSettled(CostSettled e) { add("cost " + e.provider() + " " + e.cost().source() + " " + e.cost().amount(), e); }
    @Override public void failedOver(FailedOver e) { add("failover " + e.from() + " " + e.errorKind() + " -> " + e.next(), e); }
    @Override public void circuitChanged(CircuitChanged e) { add("circuit " + e.provider() + " " + e.state() + " " + e.errorKind(), e); }
    @Override public void generationFinished(Finished e) { add("finished " + e.status() + " " + e.provider(), e); }

    <T> T last(Class<T> type) {
      for (int i = events.size() - 1; i >= 0; i--) {
        if (type.isInstance(events.get(i))) {
          return type.cast(events.get(i));
        }
      }
      throw new AssertionError("no " + type.getSimpleName() + " in " + lines);
    }
  }

  @Test
  void aFailoverIsReportedStepByStepInOrderWithTheCostOfTheProviderThatServed() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(
        ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", null)),
        ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", null)));
    ScriptedProvider b = new ScriptedProvider("b", ProviderCapabilities.builder().build(),
        CostModel.perImage(new BigDecimal("0.04")));
    Recorder r = new Recorder();
    service = ImageGenerationService.builder()
        .provider(a, ProviderConfig.builder("a").set("priority", "1").build())
        .provider(b, ProviderConfig.builder("b").set("priority", "2").build())
        .retryBackoff(Duration.ofMillis(1), Duration.ofMillis(2)).maxRetries(1)
        .listener(r)
        .build();

    ImageGenerationResponse resp = service.generateImageWithFailover(request());

    assertThat(resp.provider()).isEqualTo("b");
    eventually(WITHIN, () -> assertThat(r.lines).last().asString().startsWith("finished"));
    assertThat(r.lines).containsExactly(
        "started",
        "attempt a #1",
        "retry a call 2 UNAVAILABLE",
        "ended a FAILED UNAVAILABLE",
        "failover a UNAVAILABLE -> b",
        "attempt b #2",
        "ended b SUCCEEDED",
        "cost b ESTIMATED 0.04",
        "finished SUCCEEDED b");
    GenerationListener.Started started = r.last(GenerationListener.Started.class);
    assertThat(started.generationId()).isEqualTo(resp.id());
    assertThat(started.request().prompt()).isEqualTo("a red fox");
    assertThat(started.onlyProvider()).isNull();
    GenerationListener.Finished finished = r.last(GenerationListener.Finished.class);
    assertThat(finished.response()).isSameAs(resp);
    assertThat(finished.attempts()).isEqualTo(resp.attempts());
    assertThat(r.last(GenerationListener.AttemptEnded.class).attempt().calls()).isEqualTo(1);
    // never on the caller's thread
    assertThat(r.threads).doesNotContain(Thread.currentThread().getName());
  }

  @Test
  void theLastProvidersFailureIsNoFailover() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.fail(new AuthenticationException("HTTP 401", "a")));
    ScriptedProvider b = new ScriptedProvider("b").then(ScriptedProvider.fail(new AuthenticationException("HTTP 401", "b")));
    Recorder r = new Recorder();
    service = ImageGenerationService.builder()
        .provider(a, ProviderConfig.builder("a").set("priority", "1").build())
        .provider(b, ProviderConfig.builder("b").set("priority", "2").build()).listener(r).build();

    assertThatThrownBy(() -> service.generateImageWithFailover(request())).isInstanceOf(AllProvidersFailedException.class);

    eventually(WITHIN, () -> assertThat(r.lines).last().asString().startsWith("finished"));
    assertThat(r.lines.stream().filter(l -> l.startsWith("failover"))).containsExactly("failover a AUTHENTICATION -> b");
  }

  @Test
  void aFailureEndsWithTheErrorTheCallerGets() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.fail(new ContentPolicyException("NSFW", "a")));
    Recorder r = new Recorder();
    service = ImageGenerationService.builder().provider(a, ProviderConfig.builder("a").build()).listener(r).build();

    assertThatThrownBy(() -> service.generateImageWithFailover(request())).isInstanceOf(ContentPolicyException.class);

    eventually(WITHIN, () -> assertThat(r.lines).last().asString().startsWith("finished"));
    assertThat(r.lines).containsExactly("started", "attempt a #1", "ended a FAILED CONTENT_POLICY", "finished FAILED a");
    GenerationListener.Finished f = r.last(GenerationListener.Finished.class);
    assertThat(f.succeeded()).isFalse();
    assertThat(f.error()).isInstanceOf(ContentPolicyException.class);
  }

  /** A listener that throws from every method, an Error included. */
  static final class Throwing implements GenerationListener {
    final boolean error;

    Throwing(boolean error) {
      this.error = error;
    }

    private void boom() {
      if (error) {
        throw new StackOverflowError("listener bug");
      }
      throw new IllegalStateException("listener bug");
    }

    @Override public @Nullable Object captureContext() { boom(); return null; }
    @Override public void generationStarted(Started e) { boom(); }
    @Override public void attemptStarted(AttemptStarted e) { boom(); }
    @Override public void attemptEnded(AttemptEnded e) { boom(); }
    @Override public void costSettled(CostSettled e) { boom(); }
    @Override public void generationFinished(Finished e) { boom(); }
  }

  @Test
  void aListenerThatThrowsAnErrorOrAnExceptionNeverReachesTheGenerationNorTheOtherListeners() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a");
    Recorder r = new Recorder();
    long mark = CapturedLogs.mark();
    service = ImageGenerationService.builder().provider(a, ProviderConfig.builder("a").build())
        .listener(new Throwing(true)).listener(new Throwing(false)).listener(r).build();

    for (int i = 0; i < 3; i++) {
      assertThat(service.generateImageWithFailover(request()).images()).hasSize(1);
      assertThat(service.generateAsync(request()).get(10, TimeUnit.SECONDS).images()).hasSize(1);
    }

    eventually(WITHIN, () -> assertThat(r.lines.stream().filter(l -> l.startsWith("finished"))).hasSize(6));
    // each faulty listener is reported once at WARN, naming it; the rest go to DEBUG
    List<CapturedLogs.Event> warns = CapturedLogs.since(mark,
        e -> e.level() == org.slf4j.event.Level.WARN && e.message().contains("listener"));
    assertThat(warns).hasSize(2);
    assertThat(warns).allSatisfy(w -> assertThat(w.message()).contains(Throwing.class.getName()));
  }

  @Test
  @org.junit.jupiter.api.Timeout(60)
  void aListenerThatBlocksDelaysNoGeneration() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    Recorder after = new Recorder();
    GenerationListener stuck = new GenerationListener() {
      @Override public void generationStarted(Started e) {
        try {
          release.await();
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
        }
      }
    };
    service = ImageGenerationService.builder().provider(new ScriptedProvider("a"), ProviderConfig.builder("a").build())
        .listener(stuck).listener(after).build();
    try {
      for (int i = 0; i < 20; i++) {
        // would hang here if events were delivered on the caller's or the engine's threads
        assertThat(service.generateAsync(request()).get(10, TimeUnit.SECONDS).provider()).isEqualTo("a");
      }
      // the other listener is not held back by the stuck one
      eventually(WITHIN, () -> assertThat(after.lines.stream().filter(l -> l.startsWith("finished"))).hasSize(20));
    } finally {
      release.countDown();
    }
  }

  @Test
  void theContextIsCapturedOnTheCallersThreadForEachListener() throws Exception {
    ThreadLocal<String> trace = new ThreadLocal<>();
    Recorder r = new Recorder();
    GenerationListener tracing = new GenerationListener() {
      @Override public @Nullable Object captureContext() { return trace.get(); }
      @Override public void generationStarted(Started e) { r.generationStarted(e); }
    };
    service = ImageGenerationService.builder().provider(new ScriptedProvider("a"), ProviderConfig.builder("a").build())
        .listener(tracing).build();
    trace.set("trace-42");
    try {
      service.generateImageWithFailover(request());
    } finally {
      trace.remove();
    }
    eventually(WITHIN, () -> assertThat(r.events).hasSize(1));
    assertThat(r.last(GenerationListener.Started.class).context()).isEqualTo("trace-42");
  }

  @Test
  void refusedCredentialsOpenTheCircuitAndCoolTheProviderDownAndLaterGenerationsReportTheSkip() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.fail(new AuthenticationException("HTTP 401", "a")));
    ScriptedProvider b = new ScriptedProvider("b");
    Recorder r = new Recorder();
    service = ImageGenerationService.builder()
        .provider(a, ProviderConfig.builder("a").set("priority", "1").build())
        .provider(b, ProviderConfig.builder("b").set("priority", "2").build())
        .listener(r).build();

    service.generateImageWithFailover(request());
    service.generateImageWithFailover(request());

    eventually(WITHIN, () -> assertThat(r.lines.stream().filter(l -> l.startsWith("finished"))).hasSize(2));
    assertThat(r.lines).containsSubsequence("attempt a #1", "ended a FAILED AUTHENTICATION",
        "circuit a OPENED AUTHENTICATION", "circuit a COOLING_DOWN AUTHENTICATION", "failover a AUTHENTICATION -> b",
        "finished SUCCEEDED b",
        // the second generation: a skipped without a call, b is attempt #1
        "started", "ended a SKIPPED AUTHENTICATION", "attempt b #1", "ended b SUCCEEDED", "finished SUCCEEDED b");
    GenerationListener.CircuitChanged cooling = r.events.stream().filter(GenerationListener.CircuitChanged.class::isInstance)
        .map(GenerationListener.CircuitChanged.class::cast)
        .filter(c -> c.state() == GenerationListener.CircuitState.COOLING_DOWN).findFirst().orElseThrow();
    assertThat(cooling.duration()).isEqualTo(Duration.ofMinutes(5));
    assertThat(cooling.generationId()).isNotNull();
  }

  @Test
  void repeatedFailuresOpenTheCircuitAndASuccessfulTrialClosesIt() throws Exception {
    MutableClock clock = new MutableClock();
    ScriptedProvider a = new ScriptedProvider("a").then(
        ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", null)),
        ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", null)),
        ScriptedProvider.ok());
    Recorder r = new Recorder();
    service = ImageGenerationService.builder()
        .provider(a, ProviderConfig.builder("a").build())
        .provider(new ScriptedProvider("b"), ProviderConfig.builder("b").set("priority", "200").build())
        .maxRetries(0).circuitBreaker(2, Duration.ofSeconds(30)).clock(clock)
        .listener(r).build();

    service.generateImageWithFailover(request());
    service.generateImageWithFailover(request());
    clock.advance(Duration.ofSeconds(31));
    assertThat(service.generateImageWithFailover(request()).provider()).isEqualTo("a");

    eventually(WITHIN, () -> assertThat(r.lines.stream().filter(l -> l.startsWith("finished"))).hasSize(3));
    assertThat(r.lines.stream().filter(l -> l.startsWith("circuit")))
        .containsExactly("circuit a OPENED UNAVAILABLE", "circuit a CLOSED null");
  }

  @Test
  void aSubmitWhoseOutcomeIsUnknownSettlesAnUnknownCostThatMayBeBilled() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a", ProviderCapabilities.builder().build(),
        CostModel.perImage(new BigDecimal("0.05")))
        .then(ScriptedProvider.fail(new ProviderUnavailableException("connection reset after the submit", "a", true, true,
            null, null)));
    Recorder r = new Recorder();
    service = ImageGenerationService.builder().provider(a, ProviderConfig.builder("a").build()).listener(r).build();

    assertThatThrownBy(() -> service.generateImageWithFailover(request())).isInstanceOf(ImageGenerationException.class);

    eventually(WITHIN, () -> assertThat(r.lines).last().asString().startsWith("finished"));
    assertThat(r.lines).contains("cost a UNKNOWN null");
    GenerationListener.CostSettled c = r.last(GenerationListener.CostSettled.class);
    assertThat(c.succeeded()).isFalse();
    assertThat(r.last(GenerationListener.AttemptEnded.class).attempt().mayBeBilled()).isTrue();
  }

  @Test
  void aCachedAnswerStartsAndFinishesWithoutAttempts() throws Exception {
    Recorder r = new Recorder();
    service = ImageGenerationService.builder().provider(new ScriptedProvider("a"), ProviderConfig.builder("a").build())
        .cache(CacheConfig.inMemory(10)).listener(r).build();
    service.generateImageWithFailover(request());
    ImageGenerationResponse second = service.generateImageWithFailover(request());
    assertThat(second.status()).isEqualTo(ImageGenerationResponse.Status.CACHED);

    eventually(WITHIN, () -> assertThat(r.lines.stream().filter(l -> l.startsWith("finished"))).hasSize(2));
    assertThat(r.lines.subList(r.lines.lastIndexOf("started"), r.lines.size()))
        .containsExactly("started", "finished SUCCEEDED a");
  }

  @Test
  void aDeadlineEndsTheAttemptBeforeTheGenerationFinishes() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a");
    a.then(a.hang());
    Recorder r = new Recorder();
    service = ImageGenerationService.builder().provider(a, ProviderConfig.builder("a").build()).listener(r).build();

    assertThatThrownBy(() -> service.generateImageWithFailover(
        ImageGenerationRequest.builder().prompt("a red fox").timeout(Duration.ofMillis(200)).build()))
        .isInstanceOf(GenerationTimeoutException.class);

    eventually(WITHIN, () -> assertThat(r.lines).last().asString().startsWith("finished"));
    assertThat(r.lines.get(r.lines.size() - 2)).startsWith("ended a");
    assertThat(r.last(GenerationListener.Finished.class).error()).isInstanceOf(GenerationTimeoutException.class);
  }
}
