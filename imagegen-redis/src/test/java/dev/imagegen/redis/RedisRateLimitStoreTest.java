package dev.imagegen.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.ConfigurationException;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.RateLimitStore.Decision;
import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.RemoteJob;
import dev.imagegen.testing.CapturedLogs;
import dev.imagegen.testing.Eventually;
import dev.imagegen.testing.ScriptedProvider;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

/**
 * The Redis rate-limit store against a real redis-server: one script per permit, permits spaced
 * evenly on Redis's clock, shared by every instance on the same Redis; when Redis is down each
 * instance limits on its own (one WARN per outage), and shares again once Redis is back.
 */
class RedisRateLimitStoreTest {
  private static final ImageGenerationRequest REQUEST = ImageGenerationRequest.of("a lighthouse at dusk");
  private RedisServer redis;
  private long mark;

  @BeforeEach
  void startRedis() {
    assertThat(CapturedLogs.active()).as("the build selects the capturing SLF4J provider").isTrue();
    redis = RedisServer.start();
    mark = CapturedLogs.mark();
  }

  @AfterEach
  void stopRedis() {
    redis.close();
  }

  private static Decision acquire(RedisRateLimitStore s, String key, int limit, Duration window, Duration maxWait)
      throws Exception {
    return s.acquire(key, limit, window, maxWait).toCompletableFuture().get(5, TimeUnit.SECONDS);
  }

  @Test
  void permitsAreSpacedEvenlyAndOnlyTakenWithinTheLongestWait() throws Exception {
    try (RedisRateLimitStore s = RedisRateLimitStore.connect(redis.url())) {
      Duration minute = Duration.ofMinutes(1);
      Decision first = acquire(s, "provider:p:requests", 2, minute, Duration.ZERO);
      assertThat(first.granted()).isTrue();
      assertThat(first.delay()).isZero();
      // the next permit is 30 s later: refused within 1 s, and nothing taken
      Decision refused = acquire(s, "provider:p:requests", 2, minute, Duration.ofSeconds(1));
      assertThat(refused.granted()).isFalse();
      assertThat(refused.delay()).isBetween(Duration.ofSeconds(29), Duration.ofSeconds(30));
      Decision later = acquire(s, "provider:p:requests", 2, minute, Duration.ofMinutes(1));
      assertThat(later.granted()).isTrue();
      assertThat(later.delay()).isBetween(Duration.ofSeconds(29), Duration.ofSeconds(30));
      // the one after that is a further 30 s out: the refusal above took nothing
      assertThat(acquire(s, "provider:p:requests", 2, minute, Duration.ZERO).delay())
          .isBetween(Duration.ofSeconds(59), Duration.ofSeconds(60));
      // another key is another limit
      assertThat(acquire(s, "provider:q:requests", 2, minute, Duration.ZERO).granted()).isTrue();
      // under the prefix, expiring about a second after its last permit's time (60 s from now)
      long ttl = Long.parseLong(redis.command("PTTL", "imagegen:ratelimit:provider:p:requests").substring(1));
      assertThat(ttl).isBetween(59_000L, 61_000L);
      // one command a permit, and one more for the first: the new server did not know the script (NOSCRIPT, then EVAL)
      assertThat(s.commandsSent()).isEqualTo(6);
    }
  }

  @Test
  void aScriptTheServerForgotIsSentAgain() throws Exception {
    try (RedisRateLimitStore s = RedisRateLimitStore.connect(redis.url())) {
      assertThat(acquire(s, "k", 60, Duration.ofMinutes(1), Duration.ZERO).granted()).isTrue();
      redis.command("SCRIPT", "FLUSH");
      assertThat(acquire(s, "k", 60, Duration.ofMinutes(1), Duration.ofSeconds(5)).granted()).isTrue();
      assertThat(s.commandsSent()).isEqualTo(4); // EVALSHA refused and EVAL, twice
    }
  }

  private static ImageGenerationService service(ScriptedProvider p, int rpm, RedisRateLimitStore store, Duration timeout) {
    return ImageGenerationService.builder()
        .provider(p, ProviderConfig.builder("p").set(ProviderConfig.REQUESTS_PER_MINUTE, Integer.toString(rpm)).build())
        .defaultTimeout(timeout)
        .maxRetryAfter(Duration.ofMinutes(10)) // a refused permit fails the generation, it does not cool the provider down
        .rateLimitStore(store)
        .build();
  }

  /** Runs a generation; returns its failure's message, or null when it produced an image. */
  private static String generate(ImageGenerationService s) {
    try {
      s.generateImageWithFailover(REQUEST);
      return null;
    } catch (ImageGenerationException e) {
      assertThat(e.getMessage()).as(e.toString()).contains("rate limit");
      return e.getMessage();
    }
  }

  @Test
  void threeInstancesShareOneLimit() throws Exception {
    List<RedisRateLimitStore> stores = new ArrayList<>();
    List<ScriptedProvider> providers = new ArrayList<>();
    List<ImageGenerationService> services = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        stores.add(RedisRateLimitStore.connect(redis.url())); // one connection each, as three JVMs have
        providers.add(new ScriptedProvider("p"));
        services.add(service(providers.get(i), 6, stores.get(i), Duration.ofSeconds(3)));
      }
      // 6 per minute is one permit every 10 s: 15 generations at once in 3 s get one call in all
      List<CompletableFuture<?>> all = new ArrayList<>();
      for (int round = 0; round < 5; round++) {
        for (ImageGenerationService s : services) {
          all.add(s.generateAsync(REQUEST).handle((r, e) -> null));
        }
      }
      CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(20, TimeUnit.SECONDS);
      assertThat(providers.stream().mapToInt(p -> p.calls.get()).sum()).as("calls by the three instances").isEqualTo(1);
      // three local limiters would have let one call through each
    } finally {
      services.forEach(ImageGenerationService::close);
      stores.forEach(RedisRateLimitStore::close);
    }
  }

  /** A job that stays queued for two polls, then succeeds; each poll's time is recorded. */
  private static RemoteJob job(String id, ConcurrentLinkedQueue<Long> times) {
    AtomicInteger n = new AtomicInteger();
    return new RemoteJob() {
      @Override public String id() { return id; }
      @Override public CompletableFuture<PollResult> poll() {
        times.add(System.nanoTime());
        if (n.incrementAndGet() < 3) {
          return CompletableFuture.completedFuture(PollResult.pending(null));
        }
        return CompletableFuture.completedFuture(PollResult.done(ProviderResult.builder("m")
            .image(GeneratedImage.of(ScriptedProvider.png(), 1L, null, false)).build()));
      }
      @Override public CompletableFuture<?> cancel() { return CompletableFuture.completedFuture(null); }
    };
  }

  @Test
  void threeInstancesShareOneProvidersPollBudget() throws Exception {
    ConcurrentLinkedQueue<Long> times = new ConcurrentLinkedQueue<>();
    AtomicInteger ids = new AtomicInteger();
    PollPolicy fast = PollPolicy.builder().initialDelay(Duration.ofMillis(10)).interval(Duration.ofMillis(10))
        .floor(Duration.ofMillis(10)).build();
    List<RedisRateLimitStore> stores = new ArrayList<>();
    List<ImageGenerationService> services = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        stores.add(RedisRateLimitStore.connect(redis.url()));
        ScriptedProvider p = new ScriptedProvider("p").then((r, ctx) -> ctx.await(job("j" + ids.incrementAndGet(), times), fast));
        services.add(ImageGenerationService.builder()
            .provider(p, ProviderConfig.builder("p").set("polls-per-second", "40").set("max-concurrent", "100").build())
            .rateLimitStore(stores.get(i))
            .build());
      }
      // 10 jobs per instance wanting a poll every 10 ms, 3 polls each: 90 polls, each instance's budget 40/s
      List<CompletableFuture<?>> all = new ArrayList<>();
      for (ImageGenerationService s : services) {
        for (int j = 0; j < 10; j++) {
          all.add(s.generateAsync(REQUEST));
        }
      }
      CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
    } finally {
      services.forEach(ImageGenerationService::close);
      stores.forEach(RedisRateLimitStore::close);
    }
    List<Long> at = new ArrayList<>(times);
    Collections.sort(at);
    assertThat(at).hasSize(90);
    // three budgets of their own would allow 120 a second: the polls would be over in 0.75 s
    int most = dev.imagegen.testing.Windows.mostInAnyWindow(at, 1_000_000_000L);
    assertThat(most).as("polls in any second, all instances").isLessThanOrEqualTo(44);
    assertThat(at.get(at.size() - 1) - at.get(0)).isGreaterThan(2_000_000_000L);
    assertThat(redis.command("EXISTS", "imagegen:ratelimit:provider:p:polls")).isEqualTo(":1");
  }

  @Test
  void aPermitOfAnotherInstanceIsWaitedForThenTheCallGoes() throws Exception {
    List<Long> calledAt = new CopyOnWriteArrayList<>();
    ScriptedProvider.Step ok = ScriptedProvider.ok();
    ScriptedProvider pa = new ScriptedProvider("p").then((r, c) -> {
      calledAt.add(System.nanoTime());
      return ok.apply(r, c);
    });
    ScriptedProvider pb = new ScriptedProvider("p").then((r, c) -> {
      calledAt.add(System.nanoTime());
      return ok.apply(r, c);
    });
    try (RedisRateLimitStore sa = RedisRateLimitStore.connect(redis.url());
        RedisRateLimitStore sb = RedisRateLimitStore.connect(redis.url());
        ImageGenerationService a = service(pa, 60, sa, Duration.ofSeconds(10));
        ImageGenerationService b = service(pb, 60, sb, Duration.ofSeconds(10))) {
      long t0 = System.nanoTime(); // before a's permit was asked for: b's comes at least 1 s after it
      a.generateImageWithFailover(REQUEST);
      b.generateImageWithFailover(REQUEST);
      assertThat(calledAt).hasSize(2);
      assertThat(Duration.ofNanos(calledAt.get(1) - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(990));
    }
  }

  private List<CapturedLogs.Event> logs(Level level, RedisRateLimitStore store) {
    return CapturedLogs.since(mark, e -> e.level() == level && e.message().contains("shared rate-limit store " + store));
  }

  @Test
  void withRedisDownEachInstanceLimitsOnItsOwnWithOneWarnThenSharesAgain() throws Exception {
    ScriptedProvider pa = new ScriptedProvider("p");
    ScriptedProvider pb = new ScriptedProvider("p");
    try (RedisRateLimitStore sa = RedisRateLimitStore.builder().url(redis.url()).commandTimeout(Duration.ofMillis(500)).build();
        RedisRateLimitStore sb = RedisRateLimitStore.builder().url(redis.url()).commandTimeout(Duration.ofMillis(500)).build();
        ImageGenerationService a = service(pa, 6, sa, Duration.ofSeconds(3));
        ImageGenerationService b = service(pb, 6, sb, Duration.ofSeconds(3))) {
      assertThat(generate(a)).isNull();
      assertThat(generate(b)).contains("shared client-side rate limit of 6/min");
      redis.stop();

      // availability over exactness: each instance's own limiter lets its first call through
      assertThat(generate(a)).isNull();
      assertThat(generate(b)).isNull();
      for (int i = 0; i < 3; i++) {
        assertThat(generate(a)).contains("client-side rate limit of 6/min").doesNotContain("shared");
        assertThat(generate(b)).contains("client-side rate limit of 6/min").doesNotContain("shared");
      }
      assertThat(pa.calls.get() + pb.calls.get()).isEqualTo(3);
      // one WARN per instance for the outage, not one per call
      assertThat(logs(Level.WARN, sa)).hasSize(2);
      assertThat(logs(Level.WARN, sa).get(0).message()).contains("on its own");

      redis.restart(); // empty: the next permit is free at once
      Eventually.eventually(Duration.ofSeconds(30), () -> {
        generate(a);
        assertThat(logs(Level.INFO, sa)).hasSize(1);
      });
      assertThat(logs(Level.INFO, sa).get(0).message()).contains("answers again");
      // shared again: a took Redis's permit, so b is refused by the shared limit, not its own
      Eventually.eventually(Duration.ofSeconds(10), () -> assertThat(generate(b)).contains("shared client-side rate limit"));
      assertThat(logs(Level.INFO, sa)).hasSize(2);
      assertThat(logs(Level.WARN, sa)).hasSize(2);
    }
  }

  @Test
  void settingsAreReadAndAMissingUrlOrBadTimeoutIsNamed() {
    assertThatThrownBy(() -> RedisRateLimitStore.fromSettings(Map.of("imagegen.redis.timeout", "soon")::get))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("imagegen.redis.url (IMAGEGEN_REDIS_URL) is not set")
        .hasMessageContaining("imagegen.redis.timeout (IMAGEGEN_REDIS_TIMEOUT): 'soon'");
    try (RedisRateLimitStore s = RedisRateLimitStore.fromSettings(Map.of("imagegen.redis.url",
        "redis://user:hunter2-secret@127.0.0.1:" + redis.port() + "/0", "imagegen.redis.rate-limit.key-prefix", "app:rl:",
        "imagegen.redis.timeout", "750ms")::get)) {
      assertThat(s.toString()).doesNotContain("hunter2").contains("user:***@").contains("app:rl:").contains("750 ms");
      assertThat(s.timeout()).isEqualTo(Duration.ofMillis(750));
    }
  }

  @Test
  void aStoppedRedisFailsTheStageAtOnce() throws Exception {
    try (RedisRateLimitStore s = RedisRateLimitStore.builder().url(redis.url()).commandTimeout(Duration.ofSeconds(5)).build()) {
      redis.stop();
      long t0 = System.nanoTime();
      CompletableFuture<Decision> f = s.acquire("k", 1, Duration.ofMinutes(1), Duration.ZERO).toCompletableFuture();
      assertThatThrownBy(() -> f.get(5, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
          .hasMessageContaining("the Redis rate-limit store redis://127.0.0.1:" + redis.port());
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(4));
    }
  }
}
