package dev.imagegen.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.RemoteJob;
import dev.imagegen.testing.ScriptedProvider;
import dev.imagegen.testing.Windows;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** A provider's polls stay within its budget however many jobs wait, and a job alone is not slowed. */
class PollBudgetTest {
  private static final long MS = 1_000_000L;
  private final AtomicLong now = new AtomicLong(1_000 * MS);

  @Test
  void aBurstOfAThousandJobsIsSpreadAtTheBudgetOldestFirst() {
    PollBudget b = new PollBudget(10, now::get);
    List<Long> at = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      at.add(b.reserve(0));
    }
    // one poll per 100 ms tick, in the order asked
    assertThat(at).isSorted();
    for (int i = 0; i < at.size(); i++) {
      assertThat(at.get(i)).isEqualTo(i * 100 * MS);
    }
    // any one-second window holds at most 10 of them
    assertThat(Windows.mostInAnyWindow(at, 1000 * MS)).isEqualTo(10);
    // a job that polled asks again: it is served after those already waiting
    assertThat(b.reserve(0)).isEqualTo(1000 * 100 * MS);
  }

  @Test
  void aJobAloneIsPolledWhenItWantsAndALateWishHoldsNoOneBack() {
    PollBudget b = new PollBudget(40, now::get); // 25 ms ticks
    assertThat(b.reserve(300 * MS)).isEqualTo(300 * MS);
    assertThat(b.reserve(5_000 * MS)).isEqualTo(5_000 * MS);
    assertThat(b.reserve(0)).as("the wish for 5 s does not delay one for now").isEqualTo(0);
    assertThat(b.reserve(0)).isEqualTo(25 * MS);
    assertThat(b.reserve(300 * MS)).as("300 ms is taken: the next tick").isEqualTo(325 * MS);
  }

  @Test
  void aHighBudgetPutsSeveralPollsInATickAndTheOldTicksAreForgotten() {
    PollBudget b = new PollBudget(500, now::get); // 10 ms ticks of 5
    List<Long> at = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      at.add(b.reserve(0));
    }
    assertThat(Windows.mostInAnyWindow(at, 10 * MS)).isEqualTo(5);
    assertThat(at.get(49)).isEqualTo(90 * MS);
    now.addAndGet(1_000 * MS);
    assertThat(b.reserve(0)).isZero();
    assertThat(b.reserved()).as("ticks in the past are dropped").isEqualTo(1);
  }

  /** A job that stays queued for {@code polls} polls, then succeeds; each poll's time is recorded. */
  private static RemoteJob job(String id, int polls, ConcurrentLinkedQueue<Long> times) {
    AtomicInteger n = new AtomicInteger();
    return new RemoteJob() {
      @Override public String id() { return id; }
      @Override public CompletableFuture<PollResult> poll() {
        times.add(System.nanoTime());
        if (n.incrementAndGet() < polls) {
          return CompletableFuture.completedFuture(PollResult.pending(null));
        }
        return CompletableFuture.completedFuture(PollResult.done(ProviderResult.builder("m")
            .image(dev.imagegen.GeneratedImage.of(ScriptedProvider.png(), 1L, null, false)).build()));
      }
      @Override public CompletableFuture<?> cancel() { return CompletableFuture.completedFuture(null); }
    };
  }

  @Test
  void sixtyJobsPolledEvery10msStayWithinTheProvidersBudgetOfSixtyPerSecond() throws Exception {
    ConcurrentLinkedQueue<Long> times = new ConcurrentLinkedQueue<>();
    AtomicInteger ids = new AtomicInteger();
    PollPolicy fast = PollPolicy.builder().initialDelay(Duration.ofMillis(10)).interval(Duration.ofMillis(10))
        .floor(Duration.ofMillis(10)).build();
    ScriptedProvider p = new ScriptedProvider("p").then((r, ctx) -> ctx.await(job("j" + ids.incrementAndGet(), 3, times), fast));
    try (ImageGenerationService s = ImageGenerationService.builder()
        .provider(p, ProviderConfig.builder("p").set("polls-per-second", "60").set("max-concurrent", "100").build()).build()) {
      List<CompletableFuture<?>> all = new ArrayList<>();
      for (int i = 0; i < 60; i++) {
        all.add(s.generateAsync(ImageGenerationRequest.of("fox " + i)));
      }
      CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0])).get(30, TimeUnit.SECONDS);
    }
    List<Long> at = new ArrayList<>(times);
    Collections.sort(at);
    assertThat(at).hasSize(180);
    // unbudgeted these 180 polls take 30 ms; within the budget they take 3 s, at most 60 in any second
    // (a little more where the scheduler ran a poll late and the next one on time)
    assertThat(Windows.mostInAnyWindow(at, 1000 * MS)).isLessThanOrEqualTo(66);
    assertThat(at.get(at.size() - 1) - at.get(0)).isGreaterThan(2_500 * MS);
  }
}
