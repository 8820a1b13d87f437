package dev.imagegen.provider.fal.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The scale bench, small: 50 jobs queued for half a second, so that a change that breaks it shows in {@code mvn verify}. */
class PendingJobsBenchSmokeTest {
  @Test
  void everyModeCompletesEveryJobAfterTheReleaseAndReportsItsFigures() throws Exception {
    PendingJobsBench.Options o = new PendingJobsBench.Options(50, Duration.ofMillis(500), List.of("imagegen", "imagegen-webhooks", "bare"),
        false, false, false, 0);
    List<PendingJobsBench.Row> rows = PendingJobsBench.run(o);

    assertThat(rows).hasSize(3);
    for (PendingJobsBench.Row r : rows) {
      assertThat(r.failed()).as(r.client()).isZero();
      assertThat(r.requests().get(FalQueueStub.Kind.SUBMIT)).as(r.client()).isEqualTo(50);
      assertThat(r.requests().get(FalQueueStub.Kind.RESULT)).as(r.client()).isEqualTo(50);
      assertThat(r.requests().get(FalQueueStub.Kind.IMAGE)).as(r.client()).isEqualTo(50);
      assertThat(r.requests().get(FalQueueStub.Kind.CANCEL)).as(r.client()).isZero();
      assertThat(r.p99Ms()).as(r.client()).isPositive().isLessThanOrEqualTo(r.allDoneMs());
    }
    assertThat(PendingJobsBench.table(rows, o)).contains("| imagegen `generateAsync`", "| bare `HttpClient` loop");
    // with webhooks the jobs end by the deliveries, not by the 30 s safety net
    assertThat(rows.get(1).allDoneMs()).as(rows.get(1).client()).isLessThan(10_000);
  }

  @Test
  void anUnknownModeIsNamedWithTheModesThatExist() {
    PendingJobsBench.Options o = new PendingJobsBench.Options(1, Duration.ZERO, List.of("webhok"), false, false, false, 0);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> PendingJobsBench.run(o))
        .hasMessageContaining("unknown bench mode 'webhok'").hasMessageContaining("[imagegen, imagegen-webhooks, bare]");
  }
}
