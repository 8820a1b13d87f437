package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.CapturedLogs;
import dev.imagegen.testing.Eventually;
import dev.imagegen.testing.MutableClock;
import dev.imagegen.testing.ScriptedProvider;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

/**
 * A provider's requests-per-minute limit with a {@link RateLimitStore}: services sharing one store
 * share one limit; a store that fails or hangs leaves each service its own limit, with one WARN
 * per outage and one INFO when the store answers again.
 */
class SharedRateLimitTest {
  private static final AtomicInteger NAMES = new AtomicInteger();
  private long mark;

  @BeforeEach
  void mark() {
    assertThat(CapturedLogs.active()).as("the build selects the capturing SLF4J provider").isTrue();
    mark = CapturedLogs.mark();
  }

  /**
   * Permits spaced evenly ({@code window / limit} apart) on a clock the test moves, counting what it
   * grants; it fails, hangs or answers as the test says.
   */
  static class CountingStore implements RateLimitStore {
    enum Mode { ANSWER, THROW, FAIL, HANG }

    final String name = "counting-store-" + NAMES.incrementAndGet();
    final Clock clock;
    final Duration timeout;
    final ConcurrentHashMap<String, Long> nextFree = new ConcurrentHashMap<>();
    final List<Long> granted = new ArrayList<>();
    final AtomicInteger asked = new AtomicInteger();
    volatile Mode mode = Mode.ANSWER;

    CountingStore(Clock clock, Duration timeout) {
      this.clock = clock;
      this.timeout = timeout;
    }

    @Override
    public synchronized CompletionStage<Decision> acquire(String key, int limit, Duration window, Duration maxWait) {
      asked.incrementAndGet();
      switch (mode) {
        case THROW:
          throw new IllegalStateException("store down");
        case FAIL:
          return CompletableFuture.failedFuture(new IllegalStateException("store down"));
        case HANG:
          return new CompletableFuture<>();
        default:
          break;
      }
      long now = clock.millis();
      long at = Math.max(now, nextFree.getOrDefault(key, now));
      long wait = at - now;
      if (wait > maxWait.toMillis()) {
        return CompletableFuture.completedFuture(Decision.refused(Duration.ofMillis(wait)));
      }
      nextFree.put(key, at + window.toMillis() / limit);
      granted.add(at);
      return CompletableFuture.completedFuture(Decision.granted(Duration.ofMillis(wait)));
    }

    @Override
    public Duration timeout() {
      return timeout;
    }

    @Override
    public String toString() {
      return name;
    }
  }

  private static ImageGenerationService service(ScriptedProvider p, MutableClock clock, RateLimitStore store) {
    return ImageGenerationService.builder()
        .provider(p, ProviderConfig.builder("p").set(ProviderConfig.REQUESTS_PER_MINUTE, "2").build())
        .clock(clock)
        .defaultTimeout(Duration.ofSeconds(5))
        .rateLimitStore(store)
        .build();
  }

  /** Runs a generation; a refusal (the limit) is not an error here. */
  private static void tryGenerate(ImageGenerationService s) {
    try {
      s.generateImageWithFailover(ImageGenerationRequest.of("a lighthouse"));
    } catch (ImageGenerationException e) {
      // refused by the limit, or skipped while the provider cools down after a refusal with a long wait
      assertThat(e.kind()).as(e.toString()).isIn(ErrorKind.RATE_LIMITED, ErrorKind.ALL_FAILED, ErrorKind.NO_CAPABLE_PROVIDER);
      assertThat(e.getMessage()).containsIgnoringCase("rate limit");
    }
  }

  private List<CapturedLogs.Event> logs(Level level, CountingStore store) {
    return CapturedLogs.since(mark, e -> e.level() == level && e.message().contains(store.name));
  }

  @Test
  void twoServicesOnOneStoreShareOneLimit() {
    MutableClock clock = new MutableClock();
    CountingStore store = new CountingStore(clock, Duration.ofSeconds(2));
    ScriptedProvider a = new ScriptedProvider("p");
    ScriptedProvider b = new ScriptedProvider("p");
    try (ImageGenerationService sa = service(a, clock, store); ImageGenerationService sb = service(b, clock, store)) {
      // 2 per minute, spaced 30 s apart: in the first 30 s one call in all, however many generations
      for (int i = 0; i < 3; i++) {
        tryGenerate(sa);
        tryGenerate(sb);
      }
      assertThat(a.calls.get() + b.calls.get()).as("calls by both services in the first 30 s").isEqualTo(1);
      assertThatThrownBy(() -> sb.generateImageWithFailover(ImageGenerationRequest.of("x")))
          .isInstanceOfSatisfying(ImageGenerationException.class, e -> assertThat(e.getMessage())
              .contains("rate limit"));

      clock.advance(Duration.ofSeconds(30)); // the next permit, and the end of the cool-down a long wait caused
      for (int i = 0; i < 3; i++) {
        tryGenerate(sa);
        tryGenerate(sb);
      }
      assertThat(a.calls.get() + b.calls.get()).as("calls by both services within one minute").isEqualTo(2);
      assertThat(store.granted).hasSize(2);
      assertThat(logs(Level.WARN, store)).isEmpty();
    }
  }

  @Test
  void aPermitWithinTheDeadlineIsWaitedForOnTheScheduler() {
    MutableClock clock = new MutableClock();
    CountingStore store = new CountingStore(clock, Duration.ofSeconds(2)) {
      @Override
      public synchronized CompletionStage<Decision> acquire(String key, int limit, Duration window, Duration maxWait) {
        asked.incrementAndGet();
        return CompletableFuture.completedFuture(Decision.granted(Duration.ofMillis(300)));
      }
    };
    ScriptedProvider p = new ScriptedProvider("p");
    try (ImageGenerationService s = service(p, clock, store)) {
      long t0 = System.nanoTime();
      s.generateImageWithFailover(ImageGenerationRequest.of("a lighthouse"));
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
      assertThat(p.calls.get()).isEqualTo(1);
    }
  }

  @Test
  void theProviderIsNotCalledOnTheStoresOwnThread() throws Exception {
    MutableClock clock = new MutableClock();
    java.util.concurrent.ExecutorService io = java.util.concurrent.Executors.newSingleThreadExecutor(r -> new Thread(r, "store-io"));
    CountingStore store = new CountingStore(clock, Duration.ofSeconds(2)) {
      @Override
      public synchronized CompletionStage<Decision> acquire(String key, int limit, Duration window, Duration maxWait) {
        return CompletableFuture.supplyAsync(() -> Decision.granted(Duration.ZERO), io); // answers on its I/O thread
      }
    };
    List<String> threads = new java.util.concurrent.CopyOnWriteArrayList<>();
    ScriptedProvider.Step ok = ScriptedProvider.ok();
    ScriptedProvider p = new ScriptedProvider("p").then((r, c) -> {
      threads.add(Thread.currentThread().getName());
      return ok.apply(r, c);
    });
    try (ImageGenerationService s = service(p, clock, store)) {
      s.generateImageWithFailover(ImageGenerationRequest.of("a lighthouse"));
      assertThat(threads).hasSize(1).noneMatch(t -> t.equals("store-io"));
    } finally {
      io.shutdownNow();
    }
  }

  @Test
  void aStoreThatThrowsFallsBackToTheLocalLimitWithOneWarn() {
    for (CountingStore.Mode mode : List.of(CountingStore.Mode.THROW, CountingStore.Mode.FAIL)) {
      MutableClock clock = new MutableClock();
      CountingStore store = new CountingStore(clock, Duration.ofSeconds(2));
      store.mode = mode;
      ScriptedProvider p = new ScriptedProvider("p");
      try (ImageGenerationService s = service(p, clock, store)) {
        s.generateImageWithFailover(ImageGenerationRequest.of("a lighthouse")); // goes through: availability
        for (int i = 0; i < 4; i++) {
          clock.advance(Duration.ofSeconds(31)); // past any cool-down: each generation reaches the limiter
          tryGenerate(s);
        }
        // the local limiter (real time, 2 per minute spaced 30 s apart) let the first call through and no other
        assertThat(p.calls.get()).as(mode.toString()).isEqualTo(1);
        assertThat(logs(Level.WARN, store)).as(mode.toString()).hasSize(1);
        assertThat(logs(Level.WARN, store).get(0).message()).contains("store down").contains("on its own");
      }
    }
  }

  @Test
  void aStoreThatNeverAnswersFallsBackAfterItsTimeoutThenRecovers() throws InterruptedException {
    MutableClock clock = new MutableClock();
    CountingStore store = new CountingStore(clock, Duration.ofMillis(100));
    store.mode = CountingStore.Mode.HANG;
    ScriptedProvider p = new ScriptedProvider("p");
    try (ImageGenerationService s = service(p, clock, store)) {
      s.generateImageWithFailover(ImageGenerationRequest.of("a lighthouse"));
      assertThat(p.calls.get()).isEqualTo(1);
      assertThat(logs(Level.WARN, store)).hasSize(1);
      assertThat(logs(Level.WARN, store).get(0).message()).contains("no answer within 100 ms");

      store.mode = CountingStore.Mode.ANSWER;
      Eventually.eventually(Duration.ofSeconds(10), () -> {
        clock.advance(Duration.ofSeconds(31));
        tryGenerate(s);
        assertThat(logs(Level.INFO, store)).hasSize(1);
      });
      assertThat(logs(Level.INFO, store).get(0).message()).contains("answers again");
      // shared again: the store's permits are what lets calls through
      int before = p.calls.get();
      clock.advance(Duration.ofSeconds(31));
      s.generateImageWithFailover(ImageGenerationRequest.of("a lighthouse"));
      assertThat(p.calls.get()).isEqualTo(before + 1);
      assertThat(store.granted).isNotEmpty();
      assertThat(logs(Level.WARN, store)).hasSize(1);
    }
  }

  @Test
  void withoutAStoreTheLocalLimitIsUnchanged() {
    ScriptedProvider p = new ScriptedProvider("p");
    try (ImageGenerationService s = ImageGenerationService.builder()
        .provider(p, ProviderConfig.builder("p").set(ProviderConfig.REQUESTS_PER_MINUTE, "2").build())
        .defaultTimeout(Duration.ofSeconds(5)).build()) {
      s.generateImageWithFailover(ImageGenerationRequest.of("a lighthouse"));
      assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.of("x")))
          .isInstanceOfSatisfying(ImageGenerationException.class, e -> {
            assertThat(e.getMessage()).contains("p failed (RATE_LIMITED)").contains("client-side rate limit of 2/min")
                .doesNotContain("shared");
          });
      assertThat(p.calls.get()).isEqualTo(1);
    }
  }
}
