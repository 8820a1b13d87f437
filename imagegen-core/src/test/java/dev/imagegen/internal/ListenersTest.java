package dev.imagegen.internal;

import static dev.imagegen.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.Attempt;
import dev.imagegen.GenerationListener;
import dev.imagegen.testing.CapturedLogs;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** A listener that falls behind loses the newest events, counted and logged, and never blocks the emitter. */
class ListenersTest {

  @Test
  void aListenerThatFallsBehindDropsTheNewestEventsAndSaysHowMany() throws Exception {
    Callbacks callbacks = new Callbacks(LoggerFactory.getLogger(ListenersTest.class));
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch holding = new CountDownLatch(1);
    List<Integer> seen = new CopyOnWriteArrayList<>();
    GenerationListener slow = new GenerationListener() {
      @Override public void attemptEnded(AttemptEnded e) {
        int n = e.attempt().calls();
        if (n == 0) {
          holding.countDown();
          try {
            release.await();
          } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
          }
        }
        seen.add(n);
      }
    };
    long mark = CapturedLogs.mark();
    Listeners listeners = new Listeners(List.of(slow), callbacks, LoggerFactory.getLogger("dev.imagegen.test.listeners"), 10);
    try {
      listeners.emit(l -> l.attemptEnded(event(0)));
      holding.await();
      for (int i = 1; i <= 25; i++) { // 10 queue, 15 are dropped; the emitter never waits
        int n = i;
        listeners.emit(l -> l.attemptEnded(event(n)));
      }
      release.countDown();
      eventually(Duration.ofSeconds(10), () -> assertThat(seen).hasSize(11));
      assertThat(seen).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
      eventually(Duration.ofSeconds(10), () -> assertThat(CapturedLogs.since(mark,
          e -> e.logger().equals("dev.imagegen.test.listeners")).stream().map(CapturedLogs.Event::message))
          .anySatisfy(m -> assertThat(m).contains("10 events behind"))
          .anySatisfy(m -> assertThat(m).contains("15 events were dropped")));
      // caught up: events flow again
      listeners.emit(l -> l.attemptEnded(event(99)));
      eventually(Duration.ofSeconds(10), () -> assertThat(seen).contains(99));
    } finally {
      release.countDown();
      callbacks.close();
    }
  }

  private static GenerationListener.AttemptEnded event(int calls) {
    return new GenerationListener.AttemptEnded("g", new Attempt("p", Attempt.Outcome.SUCCEEDED, null, null, Duration.ZERO,
        calls, null, false, false, null), Duration.ZERO, Instant.EPOCH);
  }
}
