package dev.imagegen;

import static dev.imagegen.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.ScriptedProvider;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every generation asked of the service is counted once, whichever way it ends. */
class MetricsSnapshotTest {

  private static ImageGenerationService service(ScriptedProvider p) {
    return ImageGenerationService.builder().provider(p, ProviderConfig.builder(p.id()).build()).build();
  }

  private static void assertBalanced(MetricsSnapshot m) {
    assertThat(m.successes() + m.failures() + m.pending()).as("successes + failures + pending").isEqualTo(m.requests());
    assertThat(m.failuresByKind().values().stream().mapToLong(Long::longValue).sum()).as("failures by kind")
        .isEqualTo(m.failures());
  }

  @Test
  void batchItemsRefusedByTheBatchBudgetAreCountedAsRequestsAndFailures() {
    ScriptedProvider p = new ScriptedProvider("p", ProviderCapabilities.builder().build(), CostModel.perImage(new BigDecimal("0.25")))
        .then(ScriptedProvider.okAfter(Duration.ofMillis(5)));
    List<ImageGenerationRequest> reqs = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      reqs.add(ImageGenerationRequest.of("p" + i));
    }
    try (ImageGenerationService s = service(p)) {
      BatchResult r = s.generateBatch(reqs, BatchOptions.DEFAULTS.concurrency(3).budget(new BigDecimal("1.00")));
      assertThat(r.succeeded()).isEqualTo(4);
      MetricsSnapshot m = s.getMetrics();
      assertThat(m.requests()).isEqualTo(10);
      assertThat(m.successes()).isEqualTo(4);
      assertThat(m.failures()).isEqualTo(6);
      assertThat(m.failuresByKind()).containsEntry(ErrorKind.BUDGET_EXCEEDED, 6L);
      assertThat(m.pending()).isZero();
      assertBalanced(m);
    }
  }

  @Test
  void generationsRefusedAtThePendingLimitAreCountedAsRequestsAndFailures() throws Exception {
    ScriptedProvider p = new ScriptedProvider("p");
    p.then(p.hang());
    try (ImageGenerationService s = ImageGenerationService.builder().provider(p, ProviderConfig.builder("p").build())
        .maxPendingGenerations(2).shutdownGrace(Duration.ofMillis(200)).build()) {
      s.generateAsync(ImageGenerationRequest.of("a"));
      s.generateAsync(ImageGenerationRequest.of("b"));
      assertThatThrownBy(() -> s.generateAsync(ImageGenerationRequest.of("c"))).isInstanceOf(GenerationRejectedException.class);
      MetricsSnapshot m = s.getMetrics();
      assertThat(m.requests()).isEqualTo(3);
      assertThat(m.pending()).isEqualTo(2);
      assertThat(m.rejected()).isEqualTo(1);
      assertThat(m.failures()).isEqualTo(1);
      assertThat(m.failuresByKind()).containsEntry(ErrorKind.REJECTED, 1L);
      assertBalanced(m);
    }
  }

  @Test
  void invalidRequestsAreCountedOnceAsRequestsAndFailures() {
    ScriptedProvider p = new ScriptedProvider("p");
    ImageGenerationRequest unknownPreset = ImageGenerationRequest.builder().prompt("b").preset("nope").build();
    try (ImageGenerationService s = service(p)) {
      assertThatThrownBy(() -> s.generateImageWithFailover(unknownPreset)).isInstanceOf(InvalidRequestException.class);
      BatchResult r = s.generateBatch(List.of(ImageGenerationRequest.of("a"), unknownPreset));
      assertThat(r.failed()).isEqualTo(1);
      MetricsSnapshot m = s.getMetrics();
      assertThat(m.requests()).isEqualTo(3);
      assertThat(m.successes()).isEqualTo(1);
      assertThat(m.failuresByKind()).containsEntry(ErrorKind.INVALID_REQUEST, 2L);
      assertBalanced(m);
    }
  }

  @Test
  void cancelledGenerationsAreCountedAsFailuresOfKindCancelled() throws Exception {
    ScriptedProvider p = new ScriptedProvider("p");
    p.then(p.hang());
    try (ImageGenerationService s = service(p)) {
      GenerationJob job = s.submit(ImageGenerationRequest.of("x"));
      eventually(Duration.ofSeconds(5), () -> assertThat(p.calls).hasValue(1));
      assertThat(job.cancel()).isTrue();
      MetricsSnapshot m = s.getMetrics();
      assertThat(m.requests()).isEqualTo(1);
      assertThat(m.failuresByKind()).containsExactlyEntriesOf(java.util.Map.of(ErrorKind.CANCELLED, 1L));
      assertThat(m.pending()).isZero();
      assertBalanced(m);
    }
  }

  @Test
  void latencyPercentilesOfRealGenerationsLieWithinMinAndMax() {
    ScriptedProvider p = new ScriptedProvider("p").then(ScriptedProvider.okAfter(Duration.ofMillis(30)), ScriptedProvider.ok(),
        ScriptedProvider.okAfter(Duration.ofMillis(10)));
    try (ImageGenerationService s = service(p)) {
      for (int i = 0; i < 3; i++) {
        s.generateImageWithFailover(ImageGenerationRequest.of("x" + i));
      }
      MetricsSnapshot.Latency l = s.getMetrics().latency();
      assertThat(l.count()).isEqualTo(3);
      assertThat(l.min()).isLessThanOrEqualTo(l.p50());
      assertThat(l.p50()).isLessThanOrEqualTo(l.p95());
      assertThat(l.p95()).isLessThanOrEqualTo(l.p99());
      assertThat(l.p99()).isLessThanOrEqualTo(l.max());
    }
  }
}
