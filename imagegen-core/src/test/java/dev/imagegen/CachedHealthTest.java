package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.MutableClock;
import dev.imagegen.testing.ScriptedProvider;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** cachedHealth(): the last known result at once, a background check per provider when it is stale. */
class CachedHealthTest {

  @Test
  void answersAtOnceFromTheLastCheckAndRefreshesInTheBackgroundOncePerTimeToLive() {
    ScriptedProvider p = new ScriptedProvider("a");
    AtomicReference<CompletableFuture<ProviderHealth>> answer = new AtomicReference<>(new CompletableFuture<>());
    p.healthAnswer = answer::get;
    MutableClock clock = new MutableClock();
    try (ImageGenerationService s = ImageGenerationService.builder().provider(p, ProviderConfig.builder("a").build())
        .clock(clock).healthCheck(Duration.ofSeconds(5), Duration.ofSeconds(10)).build()) {
      // never checked: UNKNOWN at once, while the first check (which hangs) runs
      assertThat(s.cachedHealth().get("a").state()).isEqualTo(ProviderHealth.State.UNKNOWN);
      assertThat(s.cachedHealth().get("a").state()).isEqualTo(ProviderHealth.State.UNKNOWN);
      assertThat(p.healthCalls).hasValue(1);

      answer.get().complete(ProviderHealth.of("a", ProviderHealth.State.DEGRADED, Duration.ofMillis(4), "slow"));
      assertThat(s.cachedHealth().get("a").state()).isEqualTo(ProviderHealth.State.DEGRADED);
      clock.advance(Duration.ofSeconds(9));
      assertThat(s.cachedHealth().get("a").message()).isEqualTo("slow");
      assertThat(p.healthCalls).hasValue(1);

      // stale: the last result at once, and one check in the background however often it is asked
      answer.set(new CompletableFuture<>());
      clock.advance(Duration.ofSeconds(2));
      for (int i = 0; i < 5; i++) {
        assertThat(s.cachedHealth().get("a").state()).isEqualTo(ProviderHealth.State.DEGRADED);
      }
      assertThat(p.healthCalls).hasValue(2);
      answer.get().complete(ProviderHealth.up("a", Duration.ofMillis(2)));
      assertThat(s.cachedHealth().get("a").state()).isEqualTo(ProviderHealth.State.UP);
      assertThat(s.health().get("a").state()).isEqualTo(ProviderHealth.State.UP);
      assertThat(p.healthCalls).hasValue(2);
    }
  }

  @Test
  void withoutProvidersItIsTheOneDownEntryOfHealth() {
    try (ImageGenerationService s = ImageGenerationService.builder().build()) {
      assertThat(s.cachedHealth()).isEqualTo(s.health());
      assertThat(s.cachedHealth().get(ImageGenerationService.NO_PROVIDER).state()).isEqualTo(ProviderHealth.State.DOWN);
    }
  }
}
