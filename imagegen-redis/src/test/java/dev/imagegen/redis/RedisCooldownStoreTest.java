package dev.imagegen.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.AuthenticationException;
import dev.imagegen.ConfigurationException;
import dev.imagegen.CooldownStore.Cooldown;
import dev.imagegen.ErrorKind;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.CapturedLogs;
import dev.imagegen.testing.Eventually;
import dev.imagegen.testing.ScriptedProvider;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

/**
 * The Redis cool-down store against a real redis-server: one instance's refused key skips the
 * provider in the others (and in one started later), with the cool-down's TTL kept by Redis; with
 * Redis down the cool-down holds where it was seen, with one WARN.
 */
class RedisCooldownStoreTest {
  private static final ImageGenerationRequest REQUEST = ImageGenerationRequest.of("a lighthouse at dusk");
  private RedisServer redis;
  private long mark;

  @BeforeEach
  void startRedis() {
    redis = RedisServer.start();
    mark = CapturedLogs.mark();
  }

  @AfterEach
  void stopRedis() {
    redis.close();
  }

  private static ImageGenerationService service(ScriptedProvider p, RedisCooldownStore store) {
    return ImageGenerationService.builder()
        .provider(p, ProviderConfig.builder("p").set("priority", "1").build())
        .provider(new ScriptedProvider("q"), ProviderConfig.builder("q").set("priority", "2").build())
        .cooldownStore(store).build();
  }

  @Test
  void aKeyRefusedInOneInstanceSkipsTheProviderInTheOthers() throws Exception {
    ScriptedProvider pa = new ScriptedProvider("p").then(ScriptedProvider.fail(new AuthenticationException("401", "p")));
    ScriptedProvider pb = new ScriptedProvider("p");
    ScriptedProvider pc = new ScriptedProvider("p");
    try (RedisCooldownStore sa = RedisCooldownStore.connect(redis.url());
        RedisCooldownStore sb = RedisCooldownStore.connect(redis.url());
        RedisCooldownStore sc = RedisCooldownStore.connect(redis.url());
        ImageGenerationService a = service(pa, sa);
        ImageGenerationService b = service(pb, sb)) {
      assertThat(b.selectOptimalProvider(REQUEST)).contains("p");
      assertThat(a.generateImageWithFailover(REQUEST).provider()).isEqualTo("q");
      // b hears of it and skips p without calling it
      Eventually.eventually(Duration.ofSeconds(10), () -> assertThat(b.selectOptimalProvider(REQUEST)).contains("q"));
      assertThat(b.generateImageWithFailover(REQUEST).provider()).isEqualTo("q");
      assertThat(pb.calls.get()).isZero();
      // Redis keeps it with the cool-down as its TTL (5 minutes by default)
      long ttl = Long.parseLong(redis.command("PTTL", "imagegen:cooldown:p:AUTHENTICATION").substring(1));
      assertThat(ttl).isBetween(Duration.ofMinutes(4).toMillis(), Duration.ofMinutes(5).toMillis());
      // an instance built later reads the cool-downs in force
      try (ImageGenerationService c = service(pc, sc)) {
        Eventually.eventually(Duration.ofSeconds(10), () -> assertThat(c.selectOptimalProvider(REQUEST)).contains("q"));
        assertThat(c.generateImageWithFailover(REQUEST).provider()).isEqualTo("q");
        assertThat(pc.calls.get()).isZero();
      }
      // a's own cool-down came back through Redis: not logged as another instance's
      assertThat(CapturedLogs.since(mark, e -> e.level() == Level.INFO && e.message().contains("seen by another instance")))
          .hasSize(2);
    }
  }

  @Test
  void aCooldownIsDeliveredWithWhatIsLeftOfIt() throws Exception {
    try (RedisCooldownStore s = RedisCooldownStore.connect(redis.url());
        RedisCooldownStore other = RedisCooldownStore.connect(redis.url())) {
      List<Cooldown> got = new CopyOnWriteArrayList<>();
      try (AutoCloseable sub = s.subscribe(got::add)) {
        other.publish(new Cooldown("fal", ErrorKind.INSUFFICIENT_CREDITS, Duration.ofHours(1), "out of credit or quota"));
        Eventually.eventually(Duration.ofSeconds(10), () -> assertThat(got).hasSize(1));
        Cooldown c = got.get(0);
        assertThat(c.providerId()).isEqualTo("fal");
        assertThat(c.kind()).isEqualTo(ErrorKind.INSUFFICIENT_CREDITS);
        assertThat(c.reason()).isEqualTo("out of credit or quota");
        assertThat(c.remaining()).isBetween(Duration.ofMinutes(59), Duration.ofHours(1));
        // a shorter one does not replace it, and is not published
        other.publish(new Cooldown("fal", ErrorKind.INSUFFICIENT_CREDITS, Duration.ofMinutes(1), "out of credit or quota"));
        other.publish(new Cooldown("fal", ErrorKind.AUTHENTICATION, Duration.ofMinutes(5), "credentials refused"));
        Eventually.eventually(Duration.ofSeconds(10), () -> assertThat(got).hasSize(2));
        assertThat(got.get(1).kind()).isEqualTo(ErrorKind.AUTHENTICATION);
      }
      List<Cooldown> late = new CopyOnWriteArrayList<>();
      try (AutoCloseable sub = s.subscribe(late::add)) {
        Eventually.eventually(Duration.ofSeconds(10), () -> assertThat(late).hasSize(2));
      }
    }
  }

  @Test
  void withRedisDownTheCooldownHoldsWhereItWasSeenWithOneWarn() throws Exception {
    ScriptedProvider pa = new ScriptedProvider("p").then(ScriptedProvider.fail(new InsufficientCreditsException("402", "p")));
    try (RedisCooldownStore sa = RedisCooldownStore.builder().url(redis.url()).commandTimeout(Duration.ofMillis(500)).build();
        ImageGenerationService a = service(pa, sa)) {
      redis.stop();
      assertThat(a.generateImageWithFailover(REQUEST).provider()).isEqualTo("q");
      assertThat(a.generateImageWithFailover(REQUEST).provider()).isEqualTo("q");
      assertThat(pa.calls.get()).isEqualTo(1);
      Eventually.eventually(Duration.ofSeconds(10), () -> assertThat(CapturedLogs.since(mark,
          e -> e.level() == Level.WARN && e.message().contains("could not publish p's cool-down"))).hasSize(1));
      // the store shares the kind and core's reason, never the provider's message
      assertThat(CapturedLogs.since(mark, e -> e.logger().equals(RedisCooldownStore.class.getName())
          && e.message().contains("402"))).isEmpty();
    }
  }

  @Test
  void settingsAreReadAndTheSubscriptionNeedsRedis() {
    assertThatThrownBy(() -> RedisCooldownStore.fromSettings(Map.of("imagegen.redis.timeout", "soon")::get))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("imagegen.redis.url (IMAGEGEN_REDIS_URL) is not set")
        .hasMessageContaining("imagegen.redis.timeout (IMAGEGEN_REDIS_TIMEOUT): 'soon'");
    try (RedisCooldownStore s = RedisCooldownStore.fromSettings(Map.of("imagegen.redis.url",
        "redis://user:hunter2-secret@127.0.0.1:" + redis.port() + "/0", "imagegen.redis.cooldown.key-prefix", "app:cd:")::get)) {
      assertThat(s.toString()).doesNotContain("hunter2").contains("user:***@").contains("app:cd:");
      redis.stop();
      // a service built while Redis is down builds, and says cool-downs are not shared with it
      ImageGenerationService svc = service(new ScriptedProvider("p"), s);
      svc.close();
      assertThat(CapturedLogs.since(mark, e -> e.level() == Level.WARN && e.message().contains("could not subscribe")))
          .singleElement().satisfies(e -> assertThat(e.message()).doesNotContain("hunter2"));
    }
  }
}
