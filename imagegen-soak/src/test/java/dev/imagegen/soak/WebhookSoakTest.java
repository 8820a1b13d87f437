package dev.imagegen.soak;

import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The soak's webhook phase ({@link WebhookPhase}): 80 generations on Replicate and fal with
 * webhooks configured, each job's deliveries on time, late, twice, never, forged, stale, for a job
 * not pending, early, or on time with its poll answered 503 once, as a seeded fate says; checked
 * against invariants 17 to 22 (and finding K, disabled until core's poll back-off changes). The phase
 * runs once; each invariant is its own test. The table goes to standard output and to
 * {@code target/soak-webhooks.txt}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WebhookSoakTest {
  private WebhookVerdict verdict;

  @BeforeAll
  void soak() throws Exception {
    long seed = Long.getLong("soak.seed", 20261123L);
    WebhookPhase phase = WebhookPhase.run(seed, "webhook phase", (id, p) -> p);
    verdict = new WebhookVerdict(phase);
    String table = verdict.table();
    System.out.println(table);
    String file = System.getProperty("soak.report");
    if (file != null) {
      java.nio.file.Path p = java.nio.file.Path.of(file).resolveSibling("soak-webhooks.txt");
      java.nio.file.Files.createDirectories(p.toAbsolutePath().getParent());
      java.nio.file.Files.writeString(p, table);
    }
    phase.assertSound();
  }

  @Test
  @Order(17)
  @DisplayName("17: every webhook-phase generation ends with its own job's image, never before the job is done")
  void everyGenerationEndsWithItsOwnImage() {
    verdict.check(17);
  }

  @Test
  @Order(18)
  @DisplayName("18: a forged or stale delivery is answered 401 and makes no poll; one for a job not pending makes none")
  void refusedDeliveriesMakeNoPoll() {
    verdict.check(18);
  }

  @Test
  @Order(19)
  @DisplayName("19: a duplicate delivery id is answered as a duplicate; a job delivered twice gets at most one extra poll")
  void duplicatesArePolledOnce() {
    verdict.check(19);
  }

  @Test
  @Order(20)
  @DisplayName("20: a job with no timely delivery ends by the safety net; a late delivery makes no poll")
  void theSafetyNetEndsUndeliveredJobs() {
    verdict.check(20);
  }

  @Test
  @Order(21)
  @DisplayName("21: an on-time delivery ends the wait at once (p90 of delivery to completion below 1 s)")
  void onTimeDeliveriesEndTheWaitAtOnce() {
    verdict.check(21);
  }

  @Test
  @Order(23)
  @DisplayName("K: a delivery whose poll meets one transient 503 ends no later than the safety net would have")
  void aFailedPushPollIsNoSlowerThanTheSafetyNet() {
    List<String> v = verdict.failedPollWaits();
    org.assertj.core.api.Assertions.assertThat(v).as("finding K").isEmpty();
  }

  @Test
  @Order(22)
  @DisplayName("22: no remote job of the phase is left running; no secret in any log line or receiver answer")
  void nothingLeftRunningAndNoSecretLeaks() {
    verdict.check(22);
  }
}
