package dev.imagegen.soak;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The fault soak (issue 14): thousands of generations through every remote provider's wire
 * protocol, with faults injected at random (fixed seed), checked against fifteen invariants. The
 * soak runs once; each invariant is its own test. {@code -Dsoak.generations=N} sets the number of
 * generations (2,000 by default; 10,000 with {@code -Psoak}), {@code -Dsoak.seed=S} the seed. The
 * report table goes to standard output and to {@code target/soak-report.txt}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FaultSoakTest {
  private Verdict verdict;

  @BeforeAll
  void soak() throws Exception {
    int n = Integer.getInteger("soak.generations", 2000);
    long seed = Long.getLong("soak.seed", 20261123L);
    SoakRun.Options options = SoakRun.Options.standard(n, seed);
    SoakRun run = SoakRun.run(options);
    verdict = new Verdict(run);
    report(verdict.table());
    run.assertSoakSound();
  }

  static void report(String table) throws IOException {
    System.out.println(table);
    String file = System.getProperty("soak.report");
    if (file != null) {
      Path p = Path.of(file);
      Files.createDirectories(p.toAbsolutePath().getParent());
      Files.writeString(p, table, StandardCharsets.UTF_8);
    }
  }

  @Test
  @Order(1)
  @DisplayName("1: every generation ends exactly once (a response or an exception), within its deadline plus slack")
  void everyGenerationEndsExactlyOnce() {
    verdict.check(1);
  }

  @Test
  @Order(2)
  @DisplayName("2: no second paid submit to a provider after a submit whose outcome was unknown")
  void noDuplicatePaidSubmit() {
    verdict.check(2);
  }

  @Test
  @Order(3)
  @DisplayName("3: every acknowledged remote job ends completed, failed, or cancelled by us")
  void noRemoteJobLeftRunning() {
    verdict.check(3);
  }

  @Test
  @Order(4)
  @DisplayName("4: spend (responses and the budget store) never exceeds the budget")
  void spendNeverExceedsTheBudget() {
    verdict.check(4);
  }

  @Test
  @Order(5)
  @DisplayName("5: every returned image decodes and is the bytes the server served for its job")
  void imagesAreWhatWasServed() {
    verdict.check(5);
  }

  @Test
  @Order(6)
  @DisplayName("6: metrics agree with the results (counts, failures by kind, cost)")
  void metricsAgreeWithResults() {
    verdict.check(6);
  }

  @Test
  @Order(7)
  @DisplayName("7: no API key in any captured log line or exception message")
  void noKeyLeaks() {
    verdict.check(7);
  }

  @Test
  @Order(8)
  @DisplayName("8: threads stay bounded while thousands of generations are in flight")
  void threadsStayBounded() {
    verdict.check(8);
  }
  @Test
  @Order(9)
  @DisplayName("9: no credential and no request body reaches the host an API answer redirects to")
  void redirectsLeakNothing() {
    verdict.check(9);
  }

  @Test
  @Order(10)
  @DisplayName("10: every provider is called again after its breaker's delay once it is healthy")
  void breakersCloseAgain() {
    verdict.check(10);
  }

  @Test
  @Order(11)
  @DisplayName("11: close under load: no submit after close returned; every remote job ends or is listed by close")
  void closeLeavesNothingBehind() {
    verdict.check(11);
  }

  @Test
  @Order(12)
  @DisplayName("12: a job created under a 5xx answer is never paid for twice")
  void createdThen5xxIsNotPaidTwice() {
    verdict.check(12);
  }

  @Test
  @Order(13)
  @DisplayName("13: inline images far past max-image-bytes are refused as permanent; heap stays bounded")
  void hugeInlineImagesAreRefused() {
    verdict.check(13);
  }

  @Test
  @Order(14)
  @DisplayName("14: listeners that throw an Error or block delay no generation past its deadline")
  void hostileListenersDelayNothing() {
    verdict.check(14);
  }

  @Test
  @Order(15)
  @DisplayName("15: a cache directory shared by two services never fails a generation nor serves a half-written entry")
  void sharedCacheDirectoryIsSafe() {
    verdict.check(15);
  }

  @Test
  @Order(16)
  @DisplayName("16: after a crash, recover() ends every remote job the dead services created and submits none again")
  void crashAndRecoverEndsEveryJob() {
    verdict.check(16);
  }
}
