package dev.imagegen.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.MetricsSnapshot;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;

class LatencyHistogramTest {

  @Test
  void aSingleObservationIsEveryPercentileAndTheMaxExactly() {
    LatencyHistogram h = new LatencyHistogram();
    h.record(Duration.ofMillis(3100).toNanos());
    MetricsSnapshot.Latency l = h.snapshot();
    assertThat(l.count()).isEqualTo(1);
    assertThat(l.min()).isEqualTo(Duration.ofMillis(3100));
    assertThat(l.p50()).isEqualTo(Duration.ofMillis(3100));
    assertThat(l.p95()).isEqualTo(Duration.ofMillis(3100));
    assertThat(l.p99()).isEqualTo(Duration.ofMillis(3100));
    assertThat(l.max()).isEqualTo(Duration.ofMillis(3100));
    assertThat(h.medianNanos()).isEqualTo(Duration.ofMillis(3100).toNanos());
  }

  @Test
  void percentilesLieBetweenMinAndMaxAndNeverDecrease() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    for (int round = 0; round < 200; round++) {
      LatencyHistogram h = new LatencyHistogram();
      int n = 1 + r.nextInt(50);
      for (int i = 0; i < n; i++) {
        h.record(r.nextLong(500, 20_000_000_000L));
      }
      MetricsSnapshot.Latency l = h.snapshot();
      assertThat(l.count()).isEqualTo(n);
      assertThat(l.min()).isLessThanOrEqualTo(l.p50());
      assertThat(l.p50()).isLessThanOrEqualTo(l.p95());
      assertThat(l.p95()).isLessThanOrEqualTo(l.p99());
      assertThat(l.p99()).isLessThanOrEqualTo(l.max());
    }
  }

  @Test
  void percentilesAreWithinFivePercentOfTheTrueValue() {
    LatencyHistogram h = new LatencyHistogram();
    for (int ms = 1; ms <= 1000; ms++) {
      h.record(Duration.ofMillis(ms).toNanos());
    }
    MetricsSnapshot.Latency l = h.snapshot();
    assertThat(l.min()).isEqualTo(Duration.ofMillis(1));
    assertThat(l.max()).isEqualTo(Duration.ofMillis(1000));
    assertThat(l.p50().toNanos()).isBetween(Duration.ofMillis(475).toNanos(), Duration.ofMillis(525).toNanos());
    assertThat(l.p99().toNanos()).isBetween(Duration.ofMillis(940).toNanos(), Duration.ofMillis(1000).toNanos());
  }

  @Test
  void emptyIsAllZero() {
    MetricsSnapshot.Latency l = new LatencyHistogram().snapshot();
    assertThat(l.count()).isZero();
    assertThat(l.min()).isZero();
    assertThat(l.p50()).isZero();
    assertThat(l.max()).isZero();
    assertThat(new LatencyHistogram().medianNanos()).isEqualTo(-1);
  }
}
