package dev.imagegen.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A young job is polled often: the interval is held to a quarter of its age. */
class JobPollerIntervalTest {
  private final PollPolicy fal = PollPolicy.builder().initialDelay(Duration.ofMillis(300)).interval(Duration.ofMillis(500))
      .maxInterval(Duration.ofSeconds(5)).multiplier(1.5).floor(Duration.ofMillis(100)).build();

  @Test
  void aJobDoneAfterFourAndAHalfSecondsIsSeenWithinAQuarterOfItsAge() {
    // the poll times without jitter: the interval grows by 1.5 each poll, held to age / 4
    long t = fal.initialDelay().toMillis();
    Duration interval = fal.interval();
    long doneAt = 4_500;
    while (t < doneAt) {
      Duration next = JobPoller.forAgeForTest(interval, Duration.ofMillis(t), fal);
      t += next.toMillis();
      interval = Duration.ofMillis(Math.min((long) (interval.toMillis() * 1.5), fal.maxInterval().toMillis()));
    }
    // without the cap: polls at 0.3, 0.8, 1.55, 2.675, 4.36, 6.89 s: seen 2.4 s late
    assertThat(t - doneAt).isLessThanOrEqualTo(doneAt / 4);
  }

  @Test
  void theCapNeverGoesBelowTheFirstIntervalNorAboveTheGrownOne() {
    assertThat(JobPoller.forAgeForTest(Duration.ofSeconds(5), Duration.ofMillis(100), fal)).isEqualTo(Duration.ofMillis(500));
    assertThat(JobPoller.forAgeForTest(Duration.ofSeconds(5), Duration.ofSeconds(8), fal)).isEqualTo(Duration.ofSeconds(2));
    assertThat(JobPoller.forAgeForTest(Duration.ofSeconds(5), Duration.ofMinutes(2), fal)).isEqualTo(Duration.ofSeconds(5));
  }
}
