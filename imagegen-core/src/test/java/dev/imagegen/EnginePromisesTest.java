package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testing.Eventually;
import dev.imagegen.testing.MutableClock;
import dev.imagegen.testing.ScriptedProvider;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The engine's promises under the faults that broke them: user callbacks that throw or block,
 * provider-reported costs above the estimate, close with submits in flight or queued, a half-open
 * trial that ends at its deadline, a caller completing the future, the pending limit, cancels
 * that all fail, and submits racing the deadline.
 */
class EnginePromisesTest {

  private static void eventually(Duration within, Runnable assertion) throws InterruptedException {
    Eventually.eventually(within, assertion);
  }


  private static ProviderConfig config(String id, String... kv) {
    ProviderConfig.Builder b = ProviderConfig.builder(id);
    for (int i = 0; i < kv.length; i += 2) {
      b.set(kv[i], kv[i + 1]);
    }
    return b.build();
  }

  /** A provider call that creates a remote job after {@code submitDelay}, then never finishes. */
  private static ScriptedProvider.Step jobAfter(Duration submitDelay, Set<String> created, Set<String> cancelled) {
    return jobAfter(submitDelay, created, cancelled, false);
  }

  /**
   * As above; with {@code endsOnCancel} the call fails as soon as it is cancelled, as a provider
   * aborting its HTTP exchange does, which gives its concurrency permit back at once.
   */
  private static ScriptedProvider.Step jobAfter(Duration submitDelay, Set<String> created, Set<String> cancelled,
      boolean endsOnCancel) {
    AtomicInteger n = new AtomicInteger();
    return (r, ctx) -> {
      CompletableFuture<ProviderResult> f = new CompletableFuture<>();
      if (endsOnCancel) {
        ctx.onCancel(() -> f.completeExceptionally(new GenerationCancelledException("aborted", "a")));
      }
      ctx.scheduler().schedule(() -> {
        String job = "job-" + n.incrementAndGet() + "-" + System.nanoTime();
        created.add(job);
        ctx.remoteJobStarted(job, () -> {
          cancelled.add(job);
          return CompletableFuture.completedFuture(null);
        });
      }, submitDelay.toMillis(), TimeUnit.MILLISECONDS);
      return f;
    };
  }

  @Nested
  class UserCallbacks {
    @Test
    void aListenerThatThrowsAnErrorOnEveryEventStillLetsTheResultArriveOnTime() {
      ScriptedProvider a = new ScriptedProvider("a");
      CountDownLatch listening = new CountDownLatch(1);
      a.then((r, ctx) -> {
        CompletableFuture<ProviderResult> f = new CompletableFuture<>();
        ctx.scheduler().execute(() -> {
          try {
            listening.await(5, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          ctx.progress(ProgressEvent.queued("a", 1, Duration.ofSeconds(1)));
          f.complete(ProviderResult.builder("m").image(GeneratedImage.of(ScriptedProvider.png(), 1L, null, false)).build());
        });
        return f;
      });
      try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a")).build()) {
        GenerationJob job = s.submit(ImageGenerationRequest.builder().prompt("x").timeout(Duration.ofSeconds(5)).build());
        job.onProgress(e -> {
          throw new AssertionError("listener bug on " + e.stage());
        });
        listening.countDown();
        assertThat(job.result().orTimeout(5, TimeUnit.SECONDS).join().images()).hasSize(1);
      }
    }

    @Test
    void blockingListenersDoNotDelayOtherGenerations() throws Exception {
      ScriptedProvider a = new ScriptedProvider("a");
      a.then((r, ctx) -> {
        CompletableFuture<ProviderResult> f = new CompletableFuture<>();
        ctx.scheduler().schedule(() -> {
          ctx.progress(ProgressEvent.queued("a", 1, Duration.ofSeconds(1)));
          f.complete(ProviderResult.builder("m").image(GeneratedImage.of(ScriptedProvider.png(), 1L, null, false)).build());
        }, 20, TimeUnit.MILLISECONDS);
        return f;
      });
      CountDownLatch release = new CountDownLatch(1);
      try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a", "max-concurrent", "64"))
          .shutdownGrace(Duration.ofMillis(200)).build()) {
        List<GenerationJob> blocked = new ArrayList<>();
        for (int i = 0; i < 8; i++) { // more blocked listeners than the HTTP pool has threads
          GenerationJob j = s.submit(ImageGenerationRequest.builder().prompt("blocked " + i).timeout(Duration.ofSeconds(30)).build());
          j.onProgress(e -> {
            try {
              release.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException ex) {
              Thread.currentThread().interrupt();
            }
          });
          blocked.add(j);
        }
        List<CompletableFuture<ImageGenerationResponse>> others = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
          others.add(s.generateAsync(ImageGenerationRequest.builder().prompt("other " + i).timeout(Duration.ofSeconds(3)).build()));
        }
        for (CompletableFuture<ImageGenerationResponse> f : others) {
          assertThat(f.get(10, TimeUnit.SECONDS).images()).hasSize(1);
        }
        release.countDown();
        for (GenerationJob j : blocked) {
          assertThat(j.result().get(10, TimeUnit.SECONDS).images()).hasSize(1);
        }
      }
    }
  }

  @Nested
  class Budgets {
    @Test
    void aReportedCostFarAboveTheEstimateNeverTakesSpendPastTheLimit() {
      // 0.038 USD per GPU-second, a typical run of 5 s (0.19 USD), the provider reports 60 s
      CostModel gpu = CostModel.perGpuSecond(new BigDecimal("0.038"), 5);
      ScriptedProvider p = new ScriptedProvider("p", ProviderCapabilities.builder().build(), gpu)
          .then(ScriptedProvider.okWithGpuSeconds(60));
      try (ImageGenerationService s = ImageGenerationService.builder().provider(p, config("p", "max-concurrent", "50"))
          .budget(BudgetPolicy.builder().total("3.00").build()).build()) {
        List<CompletableFuture<ImageGenerationResponse>> fs = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
          fs.add(s.generateAsync(ImageGenerationRequest.builder().prompt("x" + i).timeout(Duration.ofSeconds(60)).build()));
        }
        int served = 0;
        for (CompletableFuture<ImageGenerationResponse> f : fs) {
          try {
            f.join();
            served++;
          } catch (RuntimeException e) {
            assertThat(e.getCause()).isInstanceOf(BudgetExceededException.class);
          }
        }
        // at most 60 s x 0.038 = 2.28 USD each can be reserved, so one call fits in 3.00, not two at once
        assertThat(served).isGreaterThanOrEqualTo(1);
        assertThat(s.getMetrics().totalCost()).isLessThanOrEqualTo(new BigDecimal("3.00"));
        assertThat(s.getMetrics().totalCost()).isEqualByComparingTo(new BigDecimal("2.28").multiply(BigDecimal.valueOf(served)));
      }
    }

    @Test
    void theMostACallCanCostIsBoundedByTheRequestsDeadline() {
      CostModel gpu = CostModel.perGpuSecond(new BigDecimal("0.01"), 5);
      ImageGenerationRequest r = ImageGenerationRequest.of("x");
      assertThat(gpu.maximum(r, Duration.ofSeconds(60)).amountOrZero()).isEqualByComparingTo("0.60");
      assertThat(gpu.maximum(r, Duration.ofSeconds(1)).amountOrZero()).isEqualByComparingTo("0.05"); // never below the estimate
      assertThat(CostModel.perImage(new BigDecimal("0.04")).maximum(r, Duration.ofHours(1)).amountOrZero())
          .isEqualByComparingTo("0.04");
    }

    @Test
    void withUnknownPricesAllowedTheReportedSpendIsStillRecorded() {
      CostModel unknownUntilReported = new CostModel() {
        @Override public Cost estimate(ImageGenerationRequest request) { return Cost.unknown(); }
        @Override public Cost actual(ImageGenerationRequest request, ProviderResult result) {
          return Cost.providerReported(new BigDecimal("5.00"));
        }
      };
      ScriptedProvider p = new ScriptedProvider("p", ProviderCapabilities.builder().build(), unknownUntilReported);
      InMemoryStore store = new InMemoryStore();
      try (ImageGenerationService s = ImageGenerationService.builder().provider(p, config("p"))
          .budget(BudgetPolicy.builder().total("10.00").allowUnknownPrices(true).build()).budgetStore(store).build()) {
        for (int i = 0; i < 4; i++) {
          try {
            s.generateImageWithFailover(ImageGenerationRequest.of("x" + i));
          } catch (BudgetExceededException expected) {
            // once 10.00 is spent, the next unknown-priced call is refused
          }
        }
        assertThat(store.spent("total")).isGreaterThanOrEqualTo(new BigDecimal("10.00"));
        assertThat(p.calls.get()).isEqualTo(2);
      }
    }
  }

  /** The default store, visible to the test. */
  static final class InMemoryStore implements BudgetStore {
    private final BudgetStore d = BudgetStore.inMemory();
    @Override public boolean reserve(List<Scope> scopes, BigDecimal amount) { return d.reserve(scopes, amount); }
    @Override public void settle(List<Scope> scopes, BigDecimal reserved, BigDecimal actual) { d.settle(scopes, reserved, actual); }
    @Override public BigDecimal spent(String scope) { return d.spent(scope); }
  }

  @Nested
  class Close {
    @Test
    void closeCancelsJobsWhoseSubmitIsStillInFlight() {
      Set<String> created = ConcurrentHashMap.newKeySet();
      Set<String> cancelled = ConcurrentHashMap.newKeySet();
      ScriptedProvider a = new ScriptedProvider("a").then(jobAfter(Duration.ofMillis(300), created, cancelled));
      ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a", "max-concurrent", "100")).build();
      List<CompletableFuture<ImageGenerationResponse>> fs = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        fs.add(s.generateAsync(ImageGenerationRequest.builder().prompt("x" + i).timeout(Duration.ofSeconds(30)).build()));
      }
      assertThat(a.calls).hasValue(50);
      int cancelledByClose = s.shutdown(Duration.ofSeconds(10));
      assertThat(cancelledByClose).as(() -> "ended before close: " + fs.stream().filter(CompletableFuture::isDone)
          .map(f -> f.handle((r, e) -> String.valueOf(e)).join()).toList()).isEqualTo(50);
      assertThat(created).hasSize(50);
      assertThat(cancelled).containsExactlyInAnyOrderElementsOf(created);
      assertThat(fs).allSatisfy(f -> assertThat(f).isCompletedExceptionally());
    }

    @Test
    void generationsQueuedBehindTheConcurrencyLimitNeverSubmitAfterClose() throws Exception {
      Set<String> created = ConcurrentHashMap.newKeySet();
      Set<String> cancelled = ConcurrentHashMap.newKeySet();
      ScriptedProvider a = new ScriptedProvider("a").then(jobAfter(Duration.ZERO, created, cancelled, true));
      ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a", "max-concurrent", "2")).build();
      for (int i = 0; i < 40; i++) {
        s.generateAsync(ImageGenerationRequest.builder().prompt("x" + i).timeout(Duration.ofSeconds(30)).build());
      }
      eventually(Duration.ofSeconds(5), () -> assertThat(created).hasSize(2));
      s.shutdown(Duration.ofSeconds(5));
      Thread.sleep(200);
      assertThat(a.calls).hasValue(2);
      assertThat(cancelled).containsExactlyInAnyOrderElementsOf(created);
    }

    @Test
    void aCancelTheProviderStartsItselfIsAwaitedByClose() {
      Set<String> cancelled = ConcurrentHashMap.newKeySet();
      ScriptedProvider a = new ScriptedProvider("a").then((r, ctx) -> {
        ctx.remoteJobStarted("job-1", () -> {
          CompletableFuture<Void> ack = new CompletableFuture<>();
          ctx.scheduler().schedule(() -> {
            cancelled.add("job-1");
            ack.complete(null);
          }, 300, TimeUnit.MILLISECONDS);
          return ack;
        });
        ctx.cancelRemoteJob(); // the provider gave up on the job itself
        return CompletableFuture.failedFuture(new ProviderUnavailableException("polling gave up", "a", false, false, null, null));
      });
      ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a")).build();
      assertThatThrownBy(() -> s.generateImage(ImageGenerationRequest.of("x"), "a"))
          .isInstanceOf(ProviderUnavailableException.class);
      s.shutdown(Duration.ofSeconds(5));
      assertThat(cancelled).containsExactly("job-1");
    }

    @Test
    void closingManyServicesLeavesNoSelectorThreadsBehind() {
      int before = selectorThreads();
      for (int i = 0; i < 30; i++) {
        ScriptedProvider a = new ScriptedProvider("a");
        try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a")).build()) {
          s.generateImageWithFailover(ImageGenerationRequest.of("x"));
        }
      }
      assertThat(selectorThreads()).isLessThanOrEqualTo(before + 1);
    }

    private int selectorThreads() {
      return (int) Thread.getAllStackTraces().keySet().stream()
          .filter(t -> t.getName().contains("SelectorManager") && t.isAlive()).count();
    }
  }

  @Nested
  class Breaker {
    @Test
    void aHalfOpenTrialThatEndsAtTheDeadlineLetsTheProviderBeTriedAgain() {
      MutableClock clock = new MutableClock();
      ScriptedProvider a = new ScriptedProvider("a");
      ScriptedProvider b = new ScriptedProvider("b");
      a.then(ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", false, false, null, null)), a.hang(),
          ScriptedProvider.ok());
      try (ImageGenerationService s = ImageGenerationService.builder().clock(clock)
          .provider(a, config("a", "priority", "1")).provider(b, config("b", "priority", "2"))
          .circuitBreaker(1, Duration.ofSeconds(30)).build()) {
        assertThat(s.generateImageWithFailover(ImageGenerationRequest.of("1")).provider()).isEqualTo("b"); // opens a
        assertThat(s.generateImageWithFailover(ImageGenerationRequest.of("2")).attempts().get(0).message())
            .contains("circuit open");
        clock.advance(Duration.ofSeconds(31));
        // the trial call hangs until the caller's deadline
        assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.builder().prompt("3")
            .timeout(Duration.ofMillis(200)).build())).isInstanceOf(GenerationTimeoutException.class);
        assertThat(a.calls).hasValue(2);
        // a is healthy again: it is called, not skipped as "circuit open" for good
        ImageGenerationResponse r = s.generateImageWithFailover(ImageGenerationRequest.of("4"));
        assertThat(r.provider()).as(r.attempts().toString()).isEqualTo("a");
        assertThat(s.generateImageWithFailover(ImageGenerationRequest.of("5")).provider()).isEqualTo("a");
      }
    }

    @Test
    void anOpenCircuitWaitsForTheClockNotForWallTime() {
      MutableClock clock = new MutableClock();
      ScriptedProvider a = new ScriptedProvider("a");
      ScriptedProvider b = new ScriptedProvider("b");
      a.then(ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", false, false, null, null)),
          ScriptedProvider.ok());
      try (ImageGenerationService s = ImageGenerationService.builder().clock(clock)
          .provider(a, config("a", "priority", "1")).provider(b, config("b", "priority", "2"))
          .circuitBreaker(1, Duration.ofMinutes(10)).build()) {
        s.generateImageWithFailover(ImageGenerationRequest.of("1"));
        assertThat(s.generateImageWithFailover(ImageGenerationRequest.of("2")).provider()).isEqualTo("b");
        clock.advance(Duration.ofMinutes(10));
        assertThat(s.generateImageWithFailover(ImageGenerationRequest.of("3")).provider()).isEqualTo("a");
      }
    }
  }

  @Nested
  class CallersFuture {
    @Test
    void aCallersOrTimeoutOnTheFutureCancelsTheGenerationAndItsRemoteJob() throws Exception {
      ScriptedProvider a = new ScriptedProvider("a");
      a.then(a.hang());
      try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a")).build()) {
        GenerationJob job = s.submit(ImageGenerationRequest.builder().prompt("x").timeout(Duration.ofMinutes(5)).build());
        eventually(Duration.ofSeconds(5), () -> assertThat(a.calls).hasValue(1));
        job.result().orTimeout(100, TimeUnit.MILLISECONDS);
        eventually(Duration.ofSeconds(5), () -> assertThat(job.status()).isEqualTo(GenerationJob.Status.CANCELLED));
        assertThat(a.cancelledJobs).hasSize(1);
        MetricsSnapshot m = s.getMetrics();
        assertThat(m.failuresByKind()).containsEntry(ErrorKind.CANCELLED, 1L);
        assertThat(m.pending()).isZero();
        assertThat(job.cancel()).isFalse();
      }
    }

    @Test
    void completingTheHandedOutFutureDoesNotCompleteTheEngines() throws Exception {
      ScriptedProvider a = new ScriptedProvider("a");
      a.then(a.hang());
      try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a")).build()) {
        CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("x"));
        eventually(Duration.ofSeconds(5), () -> assertThat(a.calls).hasValue(1));
        f.completeExceptionally(new IllegalStateException("caller gave up"));
        eventually(Duration.ofSeconds(5), () -> assertThat(a.cancelledJobs).hasSize(1));
        assertThat(s.getMetrics().failures()).isEqualTo(1);
      }
    }

    @Test
    void cancelReturnsTrueOnlyTheFirstTime() throws Exception {
      ScriptedProvider a = new ScriptedProvider("a");
      a.then(a.hang());
      try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a")).build()) {
        GenerationJob job = s.submit(ImageGenerationRequest.of("x"));
        eventually(Duration.ofSeconds(5), () -> assertThat(a.calls).hasValue(1));
        assertThat(job.cancel()).isTrue();
        assertThat(job.cancel()).isFalse();
        assertThat(job.result()).isCancelled();
        eventually(Duration.ofSeconds(5), () -> assertThat(a.cancelledJobs).hasSize(1));
      }
    }
  }

  @Nested
  class Admission {
    @Test
    void generationsPastThePendingLimitAreRefusedAtOnceAndCounted() {
      ScriptedProvider a = new ScriptedProvider("a");
      a.then(a.hang());
      try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a", "max-concurrent", "100"))
          .maxPendingGenerations(5).shutdownGrace(Duration.ofMillis(500)).build()) {
        for (int i = 0; i < 5; i++) {
          s.generateAsync(ImageGenerationRequest.of("x" + i));
        }
        assertThatThrownBy(() -> s.generateAsync(ImageGenerationRequest.of("too many")))
            .isInstanceOf(GenerationRejectedException.class).hasMessageContaining("5 generations are already pending");
        assertThat(s.getMetrics().rejected()).isEqualTo(1);
        assertThat(s.getMetrics().pending()).isEqualTo(5);
        assertThat(a.calls).hasValue(5);
      }
    }

    @Test
    void theTimeAGenerationWaitedForAPermitIsItsQueueTimeWhenTheProviderStatesNone() throws Exception {
      ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.okAfter(Duration.ofMillis(1000)), ScriptedProvider.ok());
      try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a", "max-concurrent", "1")).build()) {
        CompletableFuture<ImageGenerationResponse> first = s.generateAsync(ImageGenerationRequest.of("first"));
        eventually(Duration.ofSeconds(5), () -> assertThat(a.calls).hasValue(1));
        ImageGenerationResponse second = s.generateAsync(ImageGenerationRequest.of("second")).get(10, TimeUnit.SECONDS);
        assertThat(first.get(10, TimeUnit.SECONDS).timings().queue()).isLessThan(Duration.ofMillis(300));
        assertThat(second.timings().queue()).as("waited while the first held the only permit")
            .isGreaterThanOrEqualTo(Duration.ofMillis(200));
      }
    }

    @Test
    void aGenerationWaitingForAConcurrencyPermitIsReportedQueuedAndACancelWhileWaitingSendsNothing() throws Exception {
      ScriptedProvider a = new ScriptedProvider("a");
      a.then(a.hang());
      try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a", "max-concurrent", "1"))
          .shutdownGrace(Duration.ofMillis(500)).build()) {
        s.generateAsync(ImageGenerationRequest.of("holds the only permit"));
        eventually(Duration.ofSeconds(5), () -> assertThat(a.calls).hasValue(1));
        GenerationJob waiting = s.submit(ImageGenerationRequest.builder().prompt("waits").timeout(Duration.ofSeconds(30)).build());
        eventually(Duration.ofSeconds(5), () -> {
          ProgressEvent e = waiting.latestProgress();
          assertThat(e).isNotNull();
          assertThat(e.stage()).isEqualTo(ProgressEvent.Stage.QUEUED);
          assertThat(e.queuePosition()).as("the place among the calls waiting for the provider").isEqualTo(1);
        });
        waiting.cancel();
        assertThat(waiting.result()).isCancelled();
        Thread.sleep(200); // a permit handed to a cancelled waiter would reach the provider now
        assertThat(a.calls).as("a generation cancelled while it waited for a permit never reaches the provider").hasValue(1);
      }
    }
  }

  @Nested
  class ProviderWaits {
    @Test
    void aProvidersOwnWaitEndsWithTheAttemptInsteadOfHoldingOnToItsTimer() throws Exception {
      CompletableFuture<Throwable> waitEnded = new CompletableFuture<>();
      ScriptedProvider a = new ScriptedProvider("a").then((r, ctx) -> ctx.delay(Duration.ofSeconds(60))
          .whenComplete((v, e) -> waitEnded.complete(e))
          .thenApply(v -> ProviderResult.builder("m").image(GeneratedImage.of(ScriptedProvider.png(), 1L, null, false)).build()));
      try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a")).build()) {
        assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.builder().prompt("x")
            .timeout(Duration.ofMillis(200)).build())).isInstanceOf(GenerationTimeoutException.class);
        assertThat(waitEnded.get(5, TimeUnit.SECONDS)).isInstanceOf(GenerationCancelledException.class);
      }
    }

    @Test
    void aPriceListThatAppliedTheConfigurationItselfIsNotReplacedByTheFlatKeys() {
      CostModel own = new CostModel() {
        @Override
        public Cost estimate(ImageGenerationRequest request) {
          return Cost.estimated(new BigDecimal("0.5"));
        }

        @Override
        public boolean appliesConfiguration() {
          return true;
        }
      };
      ScriptedProvider a = new ScriptedProvider("a", ProviderCapabilities.builder().build(), own);
      ScriptedProvider b = new ScriptedProvider("b", ProviderCapabilities.builder().build(),
          r -> Cost.estimated(new BigDecimal("0.5")));
      try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a", "price-per-image", "0.01"))
          .provider(b, config("b", "price-per-image", "0.01")).build()) {
        ImageGenerationRequest r = ImageGenerationRequest.of("x");
        assertThat(s.estimateCosts(r).get("a").amountOrZero()).isEqualByComparingTo("0.5");
        assertThat(s.estimateCosts(r).get("b").amountOrZero()).as("without the flag the flat keys replace the list")
            .isEqualByComparingTo("0.01");
      }
    }
  }

  @Nested
  class Journal {
    @Test
    void aJournalThatFailsEveryCallIsOneWarningPerOutageAndTheGenerationsGoOn() {
      java.util.concurrent.atomic.AtomicBoolean down = new java.util.concurrent.atomic.AtomicBoolean(true);
      JobJournal flaky = new JobJournal() {
        @Override public void started(Entry entry) { if (down.get()) throw new IllegalStateException("journal down"); }
        @Override public void ended(String generationId, String remoteJobId, String status) {
          if (down.get()) throw new IllegalStateException("journal down");
        }
        @Override public List<Entry> open() { return List.of(); }
      };
      ScriptedProvider a = new ScriptedProvider("a").then((r, ctx) -> {
        ctx.remoteJobStarted("job-" + r.prompt(), () -> CompletableFuture.completedFuture(null));
        return ScriptedProvider.ok().apply(r, ctx);
      });
      long mark = dev.imagegen.testing.CapturedLogs.mark();
      try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a")).jobJournal(flaky).build()) {
        for (int i = 0; i < 5; i++) {
          assertThat(s.generateImageWithFailover(ImageGenerationRequest.of("fox " + i)).provider()).isEqualTo("a");
        }
        assertThat(dev.imagegen.testing.CapturedLogs.since(mark, e -> e.level() == org.slf4j.event.Level.WARN
            && e.message().contains("job journal failed"))).hasSize(1);
        down.set(false);
        assertThat(s.generateImageWithFailover(ImageGenerationRequest.of("fox again")).provider()).isEqualTo("a");
        assertThat(dev.imagegen.testing.CapturedLogs.since(mark, e -> e.message().contains("job journal works again")))
            .hasSize(1);
      }
    }

    @Test
    void aJobWhoseEveryCancelFailsLeavesNoJournalEntryBehind() throws Exception {
      AtomicInteger cancelCalls = new AtomicInteger();
      ScriptedProvider a = new ScriptedProvider("a").then((r, ctx) -> {
        ctx.remoteJobStarted("job-x", () -> {
          cancelCalls.incrementAndGet();
          return CompletableFuture.failedFuture(new ProviderUnavailableException("HTTP 503", "a", null));
        });
        return new CompletableFuture<>();
      });
      JobJournal journal = JobJournal.inMemory();
      try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a")).jobJournal(journal).build()) {
        assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.builder().prompt("x")
            .timeout(Duration.ofMillis(100)).build())).isInstanceOf(GenerationTimeoutException.class);
        eventually(Duration.ofSeconds(10), () -> assertThat(cancelCalls).hasValue(4));
        eventually(Duration.ofSeconds(5), () -> assertThat(journal.open()).isEmpty());
      }
    }

    @Test
    void aSubmitRacingTheDeadlineAlwaysHasItsJobCancelled() throws Exception {
      Set<String> created = ConcurrentHashMap.newKeySet();
      Set<String> cancelled = ConcurrentHashMap.newKeySet();
      ScriptedProvider a = new ScriptedProvider("a").then(jobAfter(Duration.ofMillis(20), created, cancelled));
      try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a", "max-concurrent", "500"))
          .build()) {
        List<CompletableFuture<ImageGenerationResponse>> fs = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
          fs.add(s.generateAsync(ImageGenerationRequest.builder().prompt("x" + i).timeout(Duration.ofMillis(15 + i % 10))
              .build()));
        }
        for (CompletableFuture<ImageGenerationResponse> f : fs) {
          assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(GenerationTimeoutException.class);
        }
        // each job is created 20 ms after its call, some after their generation ended: wait for all;
        // a generation whose deadline passed before its call (a loaded machine) makes no call at all
        eventually(Duration.ofSeconds(10), () -> {
          assertThat(created).hasSize(a.calls.get());
          assertThat(cancelled).containsExactlyInAnyOrderElementsOf(created);
        });
        assertThat(a.calls.get()).isGreaterThan(0);
      }
    }
  }

  @Nested
  class Polling {
    @Test
    void aJobWhosePollingGivesUpIsCancelledNotLeftRunning() throws Exception {
      Set<String> cancelled = ConcurrentHashMap.newKeySet();
      ScriptedProvider a = new ScriptedProvider("a").then((r, ctx) -> ctx.await(new dev.imagegen.spi.RemoteJob() {
        @Override public String id() { return "job-p"; }
        @Override public CompletableFuture<dev.imagegen.spi.PollResult> poll() {
          // a permanent refusal of the status answer (e.g. far past max-image-bytes)
          return CompletableFuture.failedFuture(new ProviderUnavailableException("status answer too large", "a", false,
              false, null, null));
        }
        @Override public CompletableFuture<?> cancel() {
          cancelled.add("job-p");
          return CompletableFuture.completedFuture(null);
        }
      }, dev.imagegen.spi.PollPolicy.every(Duration.ofMillis(10), Duration.ofMillis(10))));
      try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a")).build()) {
        assertThatThrownBy(() -> s.generateImage(ImageGenerationRequest.of("x"), "a"))
            .isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("too large");
        eventually(Duration.ofSeconds(5), () -> assertThat(cancelled).containsExactly("job-p"));
      }
    }
  }

  @Nested
  class Settings {
    @Test
    void aMistypedServiceOrProviderSettingIsReportedNotIgnored() {
      java.util.Properties p = new java.util.Properties();
      p.setProperty("imagegen.failover-on-unknown-outcome", "ture");
      assertThatThrownBy(() -> ImageGenerationService.builder().configureFrom(java.util.Map.of(), p).build())
          .hasMessageContaining("imagegen.failover-on-unknown-outcome (system property): 'ture' is not accepted; expected true or "
              + "false");
      java.util.Properties q = new java.util.Properties();
      q.setProperty("imagegen.max-pending", "lots");
      assertThatThrownBy(() -> ImageGenerationService.builder().configureFrom(java.util.Map.of(), q).build())
          .hasMessageContaining("imagegen.max-pending (system property): 'lots' is not accepted; expected a whole number of at "
              + "least 1");
      assertThatThrownBy(() -> config("a", "allow-private-downloads", "ture").bool("allow-private-downloads", false))
          .hasMessageContaining("a: 'allow-private-downloads' (set in code) must be true or false (also yes/no, on/off, 1/0), "
              + "was 'ture'");
    }

    @Test
    void changingTheBuilderAfterBuildChangesNoRunningService() {
      ScriptedProvider a = new ScriptedProvider("a");
      a.then(ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", null)));
      ImageGenerationService.Builder b = ImageGenerationService.builder().provider(a, config("a")).maxRetries(0);
      try (ImageGenerationService s = b.build()) {
        b.maxRetries(5).provider(new ScriptedProvider("late"), config("late"));
        assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.of("x")));
        assertThat(a.calls).hasValue(1);
        assertThat(s.providers()).containsExactly("a");
      }
    }
  }

}
