package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.RemoteJob;
import dev.imagegen.testing.CapturedLogs;
import dev.imagegen.testing.ScriptedProvider;
import dev.imagegen.testing.Windows;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

/**
 * A provider's poll budget with a {@link RateLimitStore}: the instances sharing the store share one
 * budget, where each alone keeps its own; when the store fails, each keeps its own budget and polls
 * on, with one WARN.
 */
class SharedPollBudgetTest {
  private static final long MS = 1_000_000L;
  private static final int PER_SECOND = 50;
  private static final int JOBS_PER_INSTANCE = 10;
  private static final int POLLS_PER_JOB = 3;
  private long mark;

  @BeforeEach
  void mark() {
    assertThat(CapturedLogs.active()).as("the build selects the capturing SLF4J provider").isTrue();
    mark = CapturedLogs.mark();
  }

  /** A job that stays queued for {@code polls - 1} polls, then succeeds; each poll's time is recorded. */
  private static RemoteJob job(String id, ConcurrentLinkedQueue<Long> times) {
    AtomicInteger n = new AtomicInteger();
    return new RemoteJob() {
      @Override public String id() { return id; }
      @Override public CompletableFuture<PollResult> poll() {
        times.add(System.nanoTime());
        if (n.incrementAndGet() < POLLS_PER_JOB) {
          return CompletableFuture.completedFuture(PollResult.pending(null));
        }
        return CompletableFuture.completedFuture(PollResult.done(ProviderResult.builder("m")
            .image(GeneratedImage.of(ScriptedProvider.png(), 1L, null, false)).build()));
      }
      @Override public CompletableFuture<?> cancel() { return CompletableFuture.completedFuture(null); }
    };
  }

  /**
   * Three instances, each with {@value #JOBS_PER_INSTANCE} jobs that want a poll every 10 ms, each
   * with a budget of {@value #PER_SECOND} polls per second.
   *
   * @return every poll's time, sorted
   */
  private static List<Long> pollThreeInstances(@Nullable RateLimitStore store) throws Exception {
    ConcurrentLinkedQueue<Long> times = new ConcurrentLinkedQueue<>();
    AtomicInteger ids = new AtomicInteger();
    PollPolicy fast = PollPolicy.builder().initialDelay(Duration.ofMillis(10)).interval(Duration.ofMillis(10))
        .floor(Duration.ofMillis(10)).build();
    List<ImageGenerationService> services = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        ScriptedProvider p = new ScriptedProvider("p").then((r, ctx) -> ctx.await(job("j" + ids.incrementAndGet(), times), fast));
        ImageGenerationService.Builder b = ImageGenerationService.builder()
            .provider(p, ProviderConfig.builder("p").set("polls-per-second", String.valueOf(PER_SECOND))
                .set("max-concurrent", "100").build());
        if (store != null) {
          b.rateLimitStore(store);
        }
        services.add(b.build());
      }
      List<CompletableFuture<?>> all = new ArrayList<>();
      for (ImageGenerationService s : services) {
        for (int j = 0; j < JOBS_PER_INSTANCE; j++) {
          all.add(s.generateAsync(ImageGenerationRequest.of("fox " + j)));
        }
      }
      CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0])).get(30, TimeUnit.SECONDS);
    } finally {
      services.forEach(ImageGenerationService::close);
    }
    List<Long> at = new ArrayList<>(times);
    Collections.sort(at);
    assertThat(at).hasSize(3 * JOBS_PER_INSTANCE * POLLS_PER_JOB);
    return at;
  }

  @Test
  void threeInstancesOnOneStoreShareOneBudgetWhereAloneEachHasItsOwn() throws Exception {
    // alone, each instance keeps its own 50/s: together they poll up to 150 times a second
    List<Long> alone = pollThreeInstances(null);
    assertThat(Windows.mostInAnyWindow(alone, 1000 * MS)).as("three unshared budgets").isGreaterThan(PER_SECOND * 3 / 2);

    SharedRateLimitTest.CountingStore store = new SharedRateLimitTest.CountingStore(Clock.systemUTC(), Duration.ofSeconds(2));
    List<Long> shared = pollThreeInstances(store);
    // 90 polls at 50 a second in all: at most 50 in any second (a little more where a poll ran late
    // and the next on time), so they take more than 1.6 s where the unshared ones took 0.6 s
    assertThat(Windows.mostInAnyWindow(shared, 1000 * MS)).as("one shared budget").isLessThanOrEqualTo(PER_SECOND + 5);
    assertThat(shared.get(shared.size() - 1) - shared.get(0)).isGreaterThan(1_600 * MS);
    assertThat(store.granted).as("every poll took a shared permit").hasSizeGreaterThanOrEqualTo(shared.size());
    assertThat(CapturedLogs.since(mark, e -> e.level() == Level.WARN && e.message().contains(store.name))).isEmpty();
  }

  @Test
  void whenTheStoreFailsEachInstanceKeepsItsOwnBudgetAndPollsOnWithOneWarn() throws Exception {
    SharedRateLimitTest.CountingStore store = new SharedRateLimitTest.CountingStore(Clock.systemUTC(), Duration.ofSeconds(2));
    store.mode = SharedRateLimitTest.CountingStore.Mode.FAIL;
    List<Long> at = pollThreeInstances(store); // every job ends: the polls go on without the store
    assertThat(Windows.mostInAnyWindow(at, 1000 * MS)).as("three local budgets").isLessThanOrEqualTo(3 * PER_SECOND + 15);
    List<CapturedLogs.Event> warns = CapturedLogs.since(mark, e -> e.level() == Level.WARN && e.message().contains(store.name));
    assertThat(warns).as("one WARN per instance for the outage").hasSize(3);
    assertThat(warns.get(0).message()).contains("poll budgets on its own");
  }
}
