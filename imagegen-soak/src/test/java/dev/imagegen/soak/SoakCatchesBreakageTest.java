package dev.imagegen.soak;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.imagegen.spi.ImageProvider;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The soak catches breakage: the same soak, smaller (400 generations, no outage), run with every
 * provider wrapped in a deliberately broken build, must fail the invariant that build breaks; run
 * unbroken (the control), it must not. Each run prints its summary and the failure the soak
 * reports, and writes its table to {@code target/soak-breakage-<name>.txt}.
 */
class SoakCatchesBreakageTest {
  private static final int GENERATIONS = 400;
  private static final long SEED = 20261123L;

  private static Verdict soak(String name, UnaryOperator<ImageProvider> wrap) throws Exception {
    return soak(name, wrap, false);
  }

  private static Verdict soak(String name, UnaryOperator<ImageProvider> wrap, boolean crash) throws Exception {
    SoakRun.Options o = SoakRun.Options.standard(GENERATIONS, SEED).small(200)
        .withWrap("breakage test: " + name, (id, p) -> wrap.apply(p));
    if (crash) {
      o = o.withCrashPhase();
    }
    SoakRun run = SoakRun.run(o);
    run.assertSoakSound();
    Verdict v = new Verdict(run);
    String table = v.table();
    System.out.println(table);
    String dir = System.getProperty("soak.report");
    if (dir != null) {
      java.nio.file.Path p = java.nio.file.Path.of(dir).resolveSibling("soak-breakage-" + name.replace(' ', '-') + ".txt");
      java.nio.file.Files.writeString(p, table);
    }
    return v;
  }

  private static String caught(Verdict v, int invariant) {
    AssertionError e = catchThrowableOfType(AssertionError.class, () -> v.check(invariant));
    assertThat(e).as("the soak must report invariant " + invariant + " broken").isNotNull();
    String first = String.join("\n", e.getMessage().lines().limit(3).toList());
    System.out.println("caught: " + first);
    return e.getMessage();
  }

  @Test
  @DisplayName("control: unbroken providers keep invariants 2, 3 and 12")
  void control() throws Exception {
    Verdict v = soak("control", p -> p);
    v.check(2);
    v.check(3);
    v.check(12);
  }

  @Test
  @DisplayName("a provider that resubmits blindly after an unknown outcome breaks invariant 2")
  void blindResubmitIsCaught() throws Exception {
    Verdict v = soak("blind resubmit", Wrappers::blindResubmit);
    assertThat(caught(v, 2)).contains("outcome unknown").contains("more submit(s) followed");
  }

  @Test
  @DisplayName("a provider that reports an unknown outcome as safe to fail over breaks invariant 12")
  void unknownOutcomeReportedAsSafeIsCaught() throws Exception {
    Verdict v = soak("unknown outcome as safe", Wrappers::unknownOutcomeAsSafe);
    assertThat(caught(v, 12)).contains("answered 5xx").contains("more billed job(s)");
  }

  @Test
  @DisplayName("a provider whose cancel skips the remote call breaks invariant 3")
  void skippedRemoteCancelIsCaught() throws Exception {
    Verdict v = soak("skipped remote cancel", Wrappers::skipRemoteCancel);
    assertThat(caught(v, 3)).contains("left running for nobody");
  }

  @Test
  @DisplayName("a webhook receiver that checks no signature and no timestamp breaks invariant 18 (forged and stale deliveries poll)")
  void unverifiedWebhooksAreCaught() throws Exception {
    WebhookPhase phase = WebhookPhase.run(SEED, "breakage test: unverified webhooks", (id, p) -> Wrappers.unverifiedWebhooks(p));
    phase.assertSound();
    WebhookVerdict v = new WebhookVerdict(phase);
    System.out.println(v.table());
    AssertionError e = catchThrowableOfType(AssertionError.class, () -> v.check(18));
    assertThat(e).as("the soak must report invariant 18 broken").isNotNull();
    System.out.println("caught: " + String.join("\n", e.getMessage().lines().limit(3).toList()));
    assertThat(e.getMessage()).contains("a forged delivery was answered Response[status=200").contains("expected 401")
        .contains("a stale delivery was answered").contains("poll(s) of job");
    v.check(17); // the images are still the jobs' own: a delivery never carries a result
  }

  @Test
  @DisplayName("deliveries that nudge no poll loop leave every job to the safety net: invariant 21 breaks")
  void webhooksThatNudgeNothingAreCaught() throws Exception {
    WebhookPhase phase = WebhookPhase.run(SEED, "breakage test: webhooks name no job", (id, p) -> Wrappers.webhooksNameNoJob(p));
    phase.assertSound();
    WebhookVerdict v = new WebhookVerdict(phase);
    System.out.println(v.table());
    AssertionError e = catchThrowableOfType(AssertionError.class, () -> v.check(21));
    assertThat(e).as("the soak must report invariant 21 broken").isNotNull();
    System.out.println("caught: " + String.join("\n", e.getMessage().lines().limit(2).toList()));
    assertThat(e.getMessage()).contains("p90 of delivery to completion is");
    assertThat(catchThrowableOfType(AssertionError.class, () -> v.check(17))).isNotNull()
        .hasMessageContaining("the early delivery made no poll before the job was done");
  }

  @Test
  @DisplayName("providers that can neither resume nor cancel by handle leave the crash's jobs running: invariant 16 breaks")
  void unrecoverableJobsAreCaught() throws Exception {
    Verdict v = soak("no recovery", Wrappers::noRecovery, true);
    assertThat(caught(v, 16)).contains("neither ended nor was cancelled").contains("the dead service journalled it");
  }
}
