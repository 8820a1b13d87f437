package dev.imagegen.redis;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three JVMs, each an instance of one application with a 1.00 USD budget in one Redis, fire 1,000
 * generations each at once on a provider priced 0.01 USD per image: 100 are served in all, the
 * providers report exactly 1.00 USD, and Redis holds exactly 1.00 USD spent.
 */
class MultiJvmBudgetTest {
  private static final int JVMS = 3;
  private static final int PER_JVM = 1_000;
  @TempDir Path dir;
  private final List<Process> children = new ArrayList<>();
  private RedisServer redis;

  @AfterEach
  void tearDown() throws InterruptedException {
    for (Process p : children) {
      if (p.isAlive()) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
    if (redis != null) {
      redis.close();
    }
  }

  @Test
  void threeJvmsOfAThousandConcurrentGenerationsSpendExactlyTheOneBudget() throws Exception {
    redis = RedisServer.start();
    String java = ProcessHandle.current().info().command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    List<Path> logs = new ArrayList<>();
    for (int i = 0; i < JVMS; i++) {
      Path log = dir.resolve("child-" + i + ".log");
      logs.add(log);
      children.add(new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
          BudgetChild.class.getName(), redis.url(), Integer.toString(PER_JVM))
          .redirectErrorStream(true).redirectOutput(log.toFile()).start());
    }
    // every instance connected and built before any fires: the three race for the same budget
    for (int i = 0; i < JVMS; i++) {
      Path log = logs.get(i);
      Process p = children.get(i);
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!read(log).contains("ready") && p.isAlive() && System.nanoTime() < until) {
        Thread.sleep(20);
      }
      assertThat(read(log)).as("child %s ready; its output:%n%s", i, read(log)).contains("ready");
    }
    long start = System.nanoTime();
    for (Process p : children) {
      OutputStream in = p.getOutputStream();
      in.write("go\n".getBytes(StandardCharsets.UTF_8));
      in.flush();
    }
    for (Process p : children) {
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("children end within 30 s").isTrue();
    }
    long wallMs = (System.nanoTime() - start) / 1_000_000;

    int served = 0;
    int refused = 0;
    int calls = 0;
    BigDecimal spend = BigDecimal.ZERO;
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < JVMS; i++) {
      assertThat(children.get(i).exitValue()).as("child %s exit; its output:%n%s", i, read(logs.get(i))).isZero();
      String line = read(logs.get(i)).lines().filter(l -> l.startsWith("served=")).findFirst().orElseThrow();
      lines.add(line);
      Map<String, String> f = fields(line);
      assertThat(f.get("failed")).as("child %s: %s", i, line).isEqualTo("0");
      assertThat(f.get("unavailable")).as("child %s, refused because Redis was slow: %s", i, line).isEqualTo("0");
      served += Integer.parseInt(f.get("served"));
      refused += Integer.parseInt(f.get("refused"));
      calls += Integer.parseInt(f.get("calls"));
      spend = spend.add(new BigDecimal(f.get("spend")));
    }
    String nanos = redis.command("GET", "imagegen:budget:total");
    String held = nanos.matches("\\d+") ? new BigDecimal(nanos).movePointLeft(9).toPlainString() : "nothing";
    System.out.printf("3 JVMs x %d concurrent generations, one Redis budget of 1.00 USD at 0.01 per image: served %d, "
            + "refused %d, provider calls %d, provider-reported spend %s USD, overshoot %s USD, Redis holds %s (%s USD); "
            + "%d ms from go to the last child's end; per child: %s%n", PER_JVM, served, refused, calls,
        spend.toPlainString(), spend.subtract(BigDecimal.ONE).toPlainString(), nanos, held, wallMs, lines);

    assertThat(served).as("served across the 3 instances: %s", lines).isEqualTo(100);
    assertThat(refused).isEqualTo(JVMS * PER_JVM - 100);
    assertThat(calls).as("the provider is called once per image served, never for a refused one").isEqualTo(100);
    assertThat(spend).as("provider-reported spend: 0 overshoot").isEqualByComparingTo("1.00");
    assertThat(nanos).as("Redis's own key").isEqualTo("1000000000");
  }

  private static Map<String, String> fields(String line) {
    Map<String, String> m = new HashMap<>();
    for (String kv : line.split(" ")) {
      int eq = kv.indexOf('=');
      if (eq > 0) {
        m.put(kv.substring(0, eq), kv.substring(eq + 1));
      }
    }
    return m;
  }

  private static String read(Path log) {
    try {
      return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
    } catch (IOException e) {
      return e.toString();
    }
  }
}
