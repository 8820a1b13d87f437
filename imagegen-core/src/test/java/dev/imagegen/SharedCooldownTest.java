package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.CapturedLogs;
import dev.imagegen.testing.MutableClock;
import dev.imagegen.testing.ScriptedProvider;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

/**
 * With a {@link CooldownStore}, one instance's refused key or exhausted credit skips the provider
 * in the other instances without a failed call of their own; other cool-downs stay local.
 */
class SharedCooldownTest {

  /** An in-process store: what one service publishes reaches every subscriber, the latest kept for late ones. */
  static final class Bus implements CooldownStore {
    final List<Consumer<Cooldown>> listeners = new CopyOnWriteArrayList<>();
    final List<Cooldown> published = new CopyOnWriteArrayList<>();

    @Override
    public void publish(Cooldown cooldown) {
      published.add(cooldown);
      listeners.forEach(l -> l.accept(cooldown));
    }

    @Override
    public AutoCloseable subscribe(Consumer<Cooldown> listener) {
      published.forEach(listener); // a real store gives what is still in force
      listeners.add(listener);
      return () -> listeners.remove(listener);
    }
  }

  private static ImageGenerationService service(ScriptedProvider p, ScriptedProvider q, MutableClock clock, Bus bus) {
    return ImageGenerationService.builder()
        .provider(p, ProviderConfig.builder("p").set("priority", "1").build())
        .provider(q, ProviderConfig.builder("q").set("priority", "2").build())
        .clock(clock).cooldownStore(bus).build();
  }

  @Test
  void aKeyRefusedInOneInstanceSkipsTheProviderInTheOthers() {
    long mark = CapturedLogs.mark();
    MutableClock clock = new MutableClock();
    Bus bus = new Bus();
    ScriptedProvider pa = new ScriptedProvider("p").then(ScriptedProvider.fail(new AuthenticationException("401", "p")));
    ScriptedProvider pb = new ScriptedProvider("p");
    ScriptedProvider pc = new ScriptedProvider("p");
    try (ImageGenerationService a = service(pa, new ScriptedProvider("q"), clock, bus);
        ImageGenerationService b = service(pb, new ScriptedProvider("q"), clock, bus)) {
      assertThat(b.selectOptimalProvider(ImageGenerationRequest.of("x"))).contains("p");
      assertThat(a.generateImageWithFailover(ImageGenerationRequest.of("x")).provider()).isEqualTo("q");
      assertThat(bus.published).singleElement().satisfies(c -> {
        assertThat(c.providerId()).isEqualTo("p");
        assertThat(c.kind()).isEqualTo(ErrorKind.AUTHENTICATION);
        assertThat(c.remaining()).isEqualTo(Duration.ofMinutes(5));
      });
      // b never called p: it skips it at once, with the reason
      assertThat(b.selectOptimalProvider(ImageGenerationRequest.of("x"))).contains("q");
      assertThat(b.generateImageWithFailover(ImageGenerationRequest.of("x")).provider()).isEqualTo("q");
      assertThat(pb.calls.get()).isZero();
      assertThat(CapturedLogs.since(mark, e -> e.level() == Level.INFO && e.message().contains("seen by another instance")))
          .isNotEmpty();
      // an instance started later learns it from the store
      try (ImageGenerationService c = service(pc, new ScriptedProvider("q"), clock, bus)) {
        assertThat(c.generateImageWithFailover(ImageGenerationRequest.of("x")).provider()).isEqualTo("q");
        assertThat(pc.calls.get()).isZero();
      }
      // it ends when the cool-down ends
      clock.advance(Duration.ofMinutes(5).plusSeconds(1));
      assertThat(b.generateImageWithFailover(ImageGenerationRequest.of("x")).provider()).isEqualTo("p");
      assertThat(bus.published).hasSize(1); // the received one was not published again
    }
    assertThat(bus.listeners).as("close unsubscribes").isEmpty();
  }

  @Test
  void exhaustedCreditIsSharedAndALongRetryAfterIsNot() {
    MutableClock clock = new MutableClock();
    Bus bus = new Bus();
    ScriptedProvider pa = new ScriptedProvider("p")
        .then(ScriptedProvider.fail(new RateLimitedException("429", "p", Duration.ofMinutes(2), null)));
    ScriptedProvider pb = new ScriptedProvider("p");
    try (ImageGenerationService a = service(pa, new ScriptedProvider("q"), clock, bus);
        ImageGenerationService b = service(pb, new ScriptedProvider("q"), clock, bus)) {
      assertThat(a.generateImageWithFailover(ImageGenerationRequest.of("x")).provider()).isEqualTo("q");
      assertThat(bus.published).isEmpty(); // a Retry-After is this instance's own
      assertThat(b.generateImageWithFailover(ImageGenerationRequest.of("x")).provider()).isEqualTo("p");

      clock.advance(Duration.ofMinutes(3));
      pa.then(ScriptedProvider.fail(new InsufficientCreditsException("402", "p")));
      assertThat(a.generateImageWithFailover(ImageGenerationRequest.of("x")).provider()).isEqualTo("q");
      assertThat(bus.published).singleElement().satisfies(c -> {
        assertThat(c.kind()).isEqualTo(ErrorKind.INSUFFICIENT_CREDITS);
        assertThat(c.remaining()).isEqualTo(Duration.ofHours(1));
      });
      int before = pb.calls.get();
      assertThat(b.generateImageWithFailover(ImageGenerationRequest.of("x")).provider()).isEqualTo("q");
      assertThat(pb.calls.get()).isEqualTo(before);
    }
    assertThat(bus.listeners).as("close unsubscribes").isEmpty();
  }
}
