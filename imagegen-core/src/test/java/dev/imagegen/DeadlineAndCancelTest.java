package dev.imagegen;

import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.WireMock;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.Eventually;
import dev.imagegen.testing.ScriptedProvider;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class DeadlineAndCancelTest {

  private static void eventually(Runnable assertion) throws InterruptedException {
    Eventually.eventually(Duration.ofSeconds(5), assertion);
  }


  @Test
  void aSynchronousCallStillRunningAtTheDeadlineIsATimeoutNeverAnOrdinaryFailure() {
    // the call's own timer used to equal the time left and raced the engine's deadline: it sometimes won and reported
    // "no answer within ..." (an unknown outcome) instead of the timeout the caller set
    WireMockServer server = new WireMockServer(options().dynamicPort());
    server.start();
    try {
      server.stubFor(WireMock.post("/generate").willReturn(WireMock.aResponse().withFixedDelay(3_000).withBody("{}")));
      ScriptedProvider.Step overHttp = (req, ctx) -> ctx.http().call(ctx.http().request(URI.create(server.baseUrl() + "/generate"))
          .POST(HttpRequest.BodyPublishers.ofString("{}")).build()).thenCompose(r -> ScriptedProvider.ok().apply(req, ctx));
      ScriptedProvider a = new ScriptedProvider("a").then(overHttp);
      try (ImageGenerationService s = ImageGenerationService.builder().provider(a, ProviderConfig.builder("a").build()).build()) {
        for (int i = 0; i < 8; i++) {
          ImageGenerationRequest r = ImageGenerationRequest.builder().prompt("fox " + i).timeout(Duration.ofMillis(150 + 10 * i)).build();
          assertThatThrownBy(() -> s.generateImageWithFailover(r)).isInstanceOf(GenerationTimeoutException.class);
        }
      }
    } finally {
      server.stop();
    }
  }

  @Test
  void deadlineCancelsTheRemoteJobAndStopsFailover() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a");
    ScriptedProvider b = new ScriptedProvider("b");
    a.then(a.hang());
    try (ImageGenerationService s = ImageGenerationService.builder()
        .provider(a, ProviderConfig.builder("a").build()).provider(b, ProviderConfig.builder("b").build()).build()) {
      long t0 = System.nanoTime();
      assertThatThrownBy(() -> s.generateImageWithFailover(
              ImageGenerationRequest.builder().prompt("x").timeout(Duration.ofMillis(300)).build()))
          .isInstanceOfSatisfying(GenerationTimeoutException.class, e -> {
            assertThat(e.remoteCancelled()).isTrue();
            assertThat(e.providerId()).isEqualTo("a");
          });
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(3));
      assertThat(a.cancelledJobs).hasSize(1);
      assertThat(b.calls).hasValue(0);
    }
  }

  @Test
  void cancellingTheFutureCancelsTheRemoteJob() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a");
    a.then(a.hang());
    try (ImageGenerationService s = ImageGenerationService.builder().provider(a, ProviderConfig.builder("a").build()).build()) {
      GenerationJob job = s.submit(ImageGenerationRequest.of("x"));
      List<ProgressEvent> events = new CopyOnWriteArrayList<>();
      job.onProgress(events::add);
      eventually(() -> assertThat(a.calls).hasValue(1));
      assertThat(job.latestProgress()).isNotNull();
      assertThat(job.latestProgress().queuePosition()).isEqualTo(3);
      assertThat(job.status()).isEqualTo(GenerationJob.Status.RUNNING);
      assertThat(job.cancel()).isTrue();
      assertThat(job.status()).isEqualTo(GenerationJob.Status.CANCELLED);
      eventually(() -> assertThat(a.cancelledJobs).hasSize(1));
      assertThat(s.getMetrics().failuresByKind()).containsEntry(ErrorKind.CANCELLED, 1L);
    }
  }

  @Test
  void aJobWhoseIdArrivesAfterTheCancelIsStillCancelled() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a");
    CompletableFuture<Void> submitAnswered = new CompletableFuture<>();
    a.then((r, ctx) -> submitAnswered.thenCompose(v -> {
      ctx.remoteJobStarted("late-job", () -> {
        a.cancelledJobs.add("late-job");
        return CompletableFuture.completedFuture(null);
      });
      return new CompletableFuture<>();
    }));
    try (ImageGenerationService s = ImageGenerationService.builder().provider(a, ProviderConfig.builder("a").build()).build()) {
      CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("x"));
      eventually(() -> assertThat(a.calls).hasValue(1));
      f.cancel(true);
      submitAnswered.complete(null); // the submit's answer arrives after the caller gave up
      eventually(() -> assertThat(a.cancelledJobs).containsExactly("late-job"));
    }
  }

  @Test
  void aRemoteCancelLostOnTheWayIsSentAgain() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a");
    java.util.concurrent.atomic.AtomicInteger cancelCalls = new java.util.concurrent.atomic.AtomicInteger();
    a.then((r, ctx) -> {
      ctx.remoteJobStarted("flaky-cancel-job", () -> cancelCalls.incrementAndGet() <= 2
          ? CompletableFuture.failedFuture(new ProviderUnavailableException("connection reset", "a", null))
          : CompletableFuture.completedFuture(null));
      return new CompletableFuture<>();
    });
    try (ImageGenerationService s = ImageGenerationService.builder().provider(a, ProviderConfig.builder("a").build())
        .jobJournal(JobJournal.inMemory()).build()) {
      CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("x"));
      eventually(() -> assertThat(a.calls).hasValue(1));
      f.cancel(true);
      eventually(() -> assertThat(cancelCalls).hasValue(3));
    }
  }

  @Test
  void closeCancelsEverythingInFlightAndSaysHowMany() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a");
    a.then(a.hang(), a.hang(), a.hang());
    ImageGenerationService s = ImageGenerationService.builder().provider(a, ProviderConfig.builder("a").build()).build();
    List<CompletableFuture<ImageGenerationResponse>> fs = List.of(s.generateAsync(ImageGenerationRequest.of("1")),
        s.generateAsync(ImageGenerationRequest.of("2")), s.generateAsync(ImageGenerationRequest.of("3")));
    eventually(() -> assertThat(a.calls).hasValue(3));
    assertThat(s.shutdown(Duration.ofSeconds(2))).isEqualTo(3);
    assertThat(a.cancelledJobs).hasSize(3);
    for (CompletableFuture<ImageGenerationResponse> f : fs) {
      assertThat(f).isCompletedExceptionally();
    }
    assertThatThrownBy(() -> s.generateAsync(ImageGenerationRequest.of("4"))).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
  }

  @Test
  void interruptingABlockedCallerCancelsTheGeneration() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a");
    a.then(a.hang());
    try (ImageGenerationService s = ImageGenerationService.builder().provider(a, ProviderConfig.builder("a").build()).build()) {
      Thread caller = Thread.currentThread();
      CompletableFuture.runAsync(() -> {
        while (a.calls.get() == 0) {
          Thread.onSpinWait();
        }
        caller.interrupt();
      });
      assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.of("x")))
          .isInstanceOf(GenerationCancelledException.class);
      assertThat(Thread.interrupted()).isTrue();
      eventually(() -> assertThat(a.cancelledJobs).hasSize(1));
    }
  }
}
