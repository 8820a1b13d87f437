package dev.imagegen;

import static dev.imagegen.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testing.ScriptedProvider;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Progress events reach each listener in order, and a listener added late starts from the latest. */
class ProgressOrderTest {

  private static final Duration WAIT = Duration.ofSeconds(10);

  private static ProviderResult image() {
    return ProviderResult.builder("m").image(GeneratedImage.of(ScriptedProvider.png(), 1L, null, false)).build();
  }

  /** A provider whose calls wait for the test to complete them. */
  private static ScriptedProvider held(List<CompletableFuture<ProviderResult>> calls) {
    return new ScriptedProvider("p").then((r, ctx) -> {
      CompletableFuture<ProviderResult> f = new CompletableFuture<>();
      calls.add(f);
      return f;
    });
  }

  private static ImageGenerationService service(ScriptedProvider p) {
    return ImageGenerationService.builder().provider(p, ProviderConfig.builder(p.id()).set("max-concurrent", "512").build())
        .shutdownGrace(Duration.ofMillis(200)).build();
  }

  private static List<ImageGenerationRequest> requests(int n) {
    List<ImageGenerationRequest> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(ImageGenerationRequest.builder().prompt("item " + i).timeout(Duration.ofSeconds(30)).build());
    }
    return out;
  }

  private static void assertInOrder(List<BatchOptions.BatchProgress> events, int total) {
    assertThat(events).extracting(BatchOptions.BatchProgress::done)
        .containsExactlyElementsOf(java.util.stream.IntStream.rangeClosed(1, total).boxed().toList());
    for (int i = 1; i < events.size(); i++) {
      BatchOptions.BatchProgress before = events.get(i - 1);
      BatchOptions.BatchProgress after = events.get(i);
      assertThat(after.succeeded()).isGreaterThanOrEqualTo(before.succeeded());
      assertThat(after.failed()).isGreaterThanOrEqualTo(before.failed());
      assertThat(after.spent()).isGreaterThanOrEqualTo(before.spent());
    }
  }

  @Nested
  class Batches {

    @Test
    void aNewerBatchEventWaitsForTheListenerToFinishWithTheOlderOne() throws Exception {
      List<CompletableFuture<ProviderResult>> calls = new CopyOnWriteArrayList<>();
      CountDownLatch firstInListener = new CountDownLatch(1);
      CountDownLatch secondSeen = new CountDownLatch(1);
      List<BatchOptions.BatchProgress> events = new CopyOnWriteArrayList<>();
      try (ImageGenerationService s = service(held(calls))) {
        CompletableFuture<BatchResult> batch = s.generateBatchAsync(requests(2), BatchOptions.DEFAULTS.concurrency(2).onProgress(p -> {
          if (p.done() == 1) {
            firstInListener.countDown();
            try {
              // were the second event delivered beside this one, it would be seen during this wait
              secondSeen.await(500, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          events.add(p);
          if (p.done() == 2) {
            secondSeen.countDown();
          }
        }));
        eventually(WAIT, () -> assertThat(calls).hasSize(2));
        Thread first = new Thread(() -> calls.get(0).complete(image()));
        first.start();
        assertThat(firstInListener.await(5, TimeUnit.SECONDS)).isTrue();
        calls.get(1).complete(image());
        assertThat(batch.get(10, TimeUnit.SECONDS).succeeded()).isEqualTo(2);
        first.join(5000);
        eventually(WAIT, () -> assertThat(events).hasSize(2));
        assertInOrder(events, 2);
      }
    }

    @Test
    void manyConcurrentCompletionsReachTheListenerInOrderOnCallbackThreads() throws Exception {
      int n = 200;
      List<CompletableFuture<ProviderResult>> calls = new CopyOnWriteArrayList<>();
      List<BatchOptions.BatchProgress> events = new CopyOnWriteArrayList<>();
      List<String> threads = new CopyOnWriteArrayList<>();
      try (ImageGenerationService s = service(held(calls))) {
        CompletableFuture<BatchResult> batch = s.generateBatchAsync(requests(n), BatchOptions.DEFAULTS.concurrency(n).onProgress(p -> {
          threads.add(Thread.currentThread().getName());
          events.add(p);
        }));
        eventually(WAIT, () -> assertThat(calls).hasSize(n));
        int completers = 4;
        CyclicBarrier start = new CyclicBarrier(completers);
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < completers; t++) {
          int first = t;
          Thread th = new Thread(() -> {
            try {
              start.await(5, TimeUnit.SECONDS);
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
            for (int i = first; i < n; i += completers) {
              if (i % 3 == 0) {
                calls.get(i).completeExceptionally(new InvalidRequestException("HTTP 422: refused", "p"));
              } else {
                calls.get(i).complete(image());
              }
            }
          });
          th.start();
          ts.add(th);
        }
        BatchResult r = batch.get(20, TimeUnit.SECONDS);
        for (Thread th : ts) {
          th.join(5000);
        }
        assertThat(r.failed()).isEqualTo((n + 2) / 3);
        eventually(WAIT, () -> assertThat(events).hasSize(n));
        assertInOrder(events, n);
        assertThat(events.get(n - 1).succeeded()).isEqualTo(r.succeeded());
        assertThat(threads).allSatisfy(name -> assertThat(name).startsWith("imagegen-callback-"));
      }
    }
  }

  @Nested
  class Jobs {

    @Test
    void aListenerAddedLateGetsTheLatestEventAtOnceThenTheRest() throws Exception {
      AtomicReference<GenerationContext> ctx = new AtomicReference<>();
      CompletableFuture<ProviderResult> call = new CompletableFuture<>();
      ScriptedProvider p = new ScriptedProvider("p").then((r, c) -> {
        ctx.set(c);
        c.progress(ProgressEvent.queued("p", 2, null));
        c.progress(ProgressEvent.queued("p", 1, null));
        return call;
      });
      try (ImageGenerationService s = service(p)) {
        GenerationJob job = s.submit(ImageGenerationRequest.of("x"));
        eventually(WAIT, () -> assertThat(job.latestProgress()).isNotNull());
        eventually(WAIT, () -> assertThat(job.latestProgress().queuePosition()).isEqualTo(1));
        List<ProgressEvent> seen = new CopyOnWriteArrayList<>();
        job.onProgress(seen::add);
        eventually(WAIT, () -> assertThat(seen).hasSize(1));
        assertThat(seen.get(0).stage()).isEqualTo(ProgressEvent.Stage.QUEUED);
        assertThat(seen.get(0).queuePosition()).isEqualTo(1);
        ctx.get().progress(ProgressEvent.running("p", 50.0, null));
        call.complete(image());
        job.result().get(10, TimeUnit.SECONDS);
        assertThat(seen).extracting(ProgressEvent::stage)
            .containsExactly(ProgressEvent.Stage.QUEUED, ProgressEvent.Stage.RUNNING, ProgressEvent.Stage.DONE);
      }
    }

    @Test
    void aListenerAddedAfterTheJobFinishedGetsItsLastEvent() throws Exception {
      try (ImageGenerationService s = service(new ScriptedProvider("p"))) {
        GenerationJob job = s.submit(ImageGenerationRequest.of("x"));
        job.result().get(10, TimeUnit.SECONDS);
        List<ProgressEvent> seen = new CopyOnWriteArrayList<>();
        job.onProgress(seen::add);
        eventually(WAIT, () -> assertThat(seen).extracting(ProgressEvent::stage).containsExactly(ProgressEvent.Stage.DONE));
      }
    }

    @Test
    void listenersAddedWhileEventsArriveFromManyThreadsSeeEachEventOnceInOrderAndNothingAfterDone() throws Exception {
      AtomicReference<GenerationContext> ctx = new AtomicReference<>();
      CompletableFuture<ProviderResult> call = new CompletableFuture<>();
      ScriptedProvider p = new ScriptedProvider("p").then((r, c) -> {
        ctx.set(c);
        return call;
      });
      try (ImageGenerationService s = service(p)) {
        GenerationJob job = s.submit(ImageGenerationRequest.of("x"));
        eventually(WAIT, () -> assertThat(ctx.get()).isNotNull());
        int emitters = 4;
        int each = 250;
        CyclicBarrier start = new CyclicBarrier(emitters + 1);
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < emitters; t++) {
          String source = "t" + t;
          Thread th = new Thread(() -> {
            try {
              start.await(5, TimeUnit.SECONDS);
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
            for (int i = 0; i < each; i++) {
              ctx.get().progress(new ProgressEvent("p", ProgressEvent.Stage.RUNNING, null, null, null, source + ":" + i,
                  java.time.Instant.now()));
            }
          });
          th.start();
          ts.add(th);
        }
        List<List<ProgressEvent>> perListener = new ArrayList<>();
        start.await(5, TimeUnit.SECONDS);
        for (int l = 0; l < 20; l++) {
          List<ProgressEvent> seen = new CopyOnWriteArrayList<>();
          perListener.add(seen);
          job.onProgress(seen::add);
          Thread.yield();
        }
        call.complete(image()); // DONE races the last emitted events
        job.result().get(10, TimeUnit.SECONDS);
        for (Thread th : ts) {
          th.join(5000);
        }
        for (List<ProgressEvent> seen : perListener) {
          eventually(WAIT, () -> assertThat(seen).isNotEmpty().last().extracting(ProgressEvent::stage)
              .isEqualTo(ProgressEvent.Stage.DONE));
          assertThat(seen).filteredOn(e -> e.stage() == ProgressEvent.Stage.DONE).hasSize(1);
          int[] lastBySource = new int[emitters];
          java.util.Arrays.fill(lastBySource, -1);
          for (ProgressEvent e : seen) {
            if (e.message() == null) {
              continue;
            }
            int source = Integer.parseInt(e.message().substring(1, e.message().indexOf(':')));
            int i = Integer.parseInt(e.message().substring(e.message().indexOf(':') + 1));
            assertThat(i).as("events of %s in order, each once", "t" + source).isGreaterThan(lastBySource[source]);
            lastBySource[source] = i;
          }
        }
      }
    }
  }
}
