package dev.imagegen.redis;

import dev.imagegen.BudgetPolicy;
import dev.imagegen.BudgetStore;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.ScriptedProvider;
import java.math.BigDecimal;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the Redis budget store adds to a generation: Redis round trips per generation and the
 * latency of {@code generateImageWithFailover} with a provider that answers at once, with the
 * in-memory store and with the Redis store side by side in one run (rounds interleaved), for a
 * per-image price (reserved = actual: no settlement) and a per-GPU-second price (settled after);
 * and what the Redis rate-limit store adds against the local limiter (a free provider with
 * {@code requests-per-minute} set so high that nobody waits).
 *
 * <p>Run: {@code ./mvnw -q -pl imagegen-redis -Pbench verify} (needs {@code redis-server}); the
 * arguments are generations per round and rounds.
 */
public final class RedisBench {
  private RedisBench() {}

  /**
   * Runs the benchmark.
   *
   * @param args generations per round (default 2000), rounds (default 5)
   */
  public static void main(String[] args) throws Exception {
    int perRound = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    BudgetPolicy policy = BudgetPolicy.builder().total("1000000").build();
    try (RedisServer redis = RedisServer.start();
        RedisBudgetStore store = RedisBudgetStore.builder().url(redis.url()).build();
        RedisRateLimitStore limits = RedisRateLimitStore.connect(redis.url())) {
      Map<String, ImageGenerationService> services = new LinkedHashMap<>();
      services.put("per image, in memory", service(perImage(), policy, BudgetStore.inMemory()));
      services.put("per image, Redis", service(perImage(), policy, store));
      services.put("per GPU second, in memory", service(perGpuSecond(), policy, BudgetStore.inMemory()));
      services.put("per GPU second, Redis", service(perGpuSecond(), policy, store));
      services.put("rate limit, local", limited(null));
      services.put("rate limit, Redis", limited(limits));
      Map<String, long[]> nanos = new LinkedHashMap<>();
      Map<String, Long> trips = new LinkedHashMap<>();
      services.keySet().forEach(k -> {
        nanos.put(k, new long[perRound * rounds]);
        trips.put(k, 0L);
      });
      // warm-up: JIT, connection, scripts loaded
      for (ImageGenerationService s : services.values()) {
        for (int i = 0; i < 2000; i++) {
          s.generateImageWithFailover(ImageGenerationRequest.of("warm " + i));
        }
      }
      for (int r = 0; r < rounds; r++) {
        for (Map.Entry<String, ImageGenerationService> e : services.entrySet()) {
          long before = store.commandsSent() + limits.commandsSent();
          long evalsBefore = scriptCalls(redis);
          long[] out = nanos.get(e.getKey());
          for (int i = 0; i < perRound; i++) {
            long t0 = System.nanoTime();
            e.getValue().generateImageWithFailover(ImageGenerationRequest.of("fox " + i));
            out[r * perRound + i] = System.nanoTime() - t0;
          }
          long sent = store.commandsSent() + limits.commandsSent() - before;
          long evals = scriptCalls(redis) - evalsBefore;
          if (sent != evals) {
            throw new IllegalStateException("the store counted " + sent + " commands, the server ran " + evals + " scripts");
          }
          trips.merge(e.getKey(), sent, Long::sum);
        }
      }
      services.values().forEach(ImageGenerationService::close);
      System.out.printf("%d generations per store and price, %d interleaved rounds, one thread, provider answers at once%n",
          perRound * rounds, rounds);
      System.out.printf("%-28s %12s %10s %10s%n", "store", "round trips", "p50 µs", "p99 µs");
      for (String k : services.keySet()) {
        long[] v = nanos.get(k);
        Arrays.sort(v);
        System.out.printf("%-28s %12.2f %10.1f %10.1f%n", k, trips.get(k) / (double) (perRound * rounds),
            pct(v, 0.50), pct(v, 0.99));
      }
      for (String price : new String[] {"per image", "per GPU second", "rate limit"}) {
        long[] mem = nanos.get(price + (price.equals("rate limit") ? ", local" : ", in memory"));
        long[] red = nanos.get(price + ", Redis");
        System.out.printf("%s: Redis / " + (price.equals("rate limit") ? "local" : "in memory") + " p50 %.2fx (+%.1f µs), p99 %.2fx (+%.1f µs)%n", price,
            pct(red, 0.5) / pct(mem, 0.5), pct(red, 0.5) - pct(mem, 0.5), pct(red, 0.99) / pct(mem, 0.99),
            pct(red, 0.99) - pct(mem, 0.99));
      }
      System.out.println("redis-server " + version(redis) + ", on 127.0.0.1 (loopback: a network adds its own round-trip time)");
    }
  }

  private static ScriptedProvider perImage() {
    return new ScriptedProvider("p", ProviderCapabilities.builder().build(), CostModel.perImage(new BigDecimal("0.04")))
        .then(ScriptedProvider.ok());
  }

  private static ScriptedProvider perGpuSecond() {
    return new ScriptedProvider("p", ProviderCapabilities.builder().build(),
        CostModel.perGpuSecond(new BigDecimal("0.0005"), 2.0)).then(ScriptedProvider.okWithGpuSeconds(1.5));
  }

  private static ImageGenerationService service(ScriptedProvider p, BudgetPolicy policy, BudgetStore store) {
    return ImageGenerationService.builder().provider(p, ProviderConfig.builder("p").build()).budget(policy)
        .budgetStore(store).build();
  }

  /**
   * A free provider under a requests-per-minute limit too high to make anyone wait (a billion a
   * minute), with no budget: what is measured is the permit, from the local limiter or from Redis.
   */
  private static ImageGenerationService limited(RedisRateLimitStore limits) {
    ImageGenerationService.Builder b = ImageGenerationService.builder().provider(new ScriptedProvider("p"),
        ProviderConfig.builder("p").set(ProviderConfig.REQUESTS_PER_MINUTE, "1000000000").build());
    return limits == null ? b.build() : b.rateLimitStore(limits).build();
  }

  private static double pct(long[] sorted, double q) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)] / 1000.0;
  }

  private static final Pattern CALLS = Pattern.compile("cmdstat_(?:evalsha|eval):calls=(\\d+)");

  /** Scripts the server has run (INFO commandstats: EVALSHA and EVAL), as a check on the store's count. */
  private static long scriptCalls(RedisServer redis) {
    Matcher m = CALLS.matcher(redis.bulk("INFO", "commandstats"));
    long n = 0;
    while (m.find()) {
      n += Long.parseLong(m.group(1));
    }
    return n;
  }

  private static String version(RedisServer redis) {
    Matcher m = Pattern.compile("redis_version:(\\S+)").matcher(redis.bulk("INFO", "server"));
    return m.find() ? m.group(1) : "?";
  }
}
