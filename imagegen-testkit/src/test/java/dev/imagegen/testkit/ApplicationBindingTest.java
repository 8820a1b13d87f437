package dev.imagegen.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.platform.engine.discovery.DiscoverySelectors;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;
import org.slf4j.LoggerFactory;

/**
 * With an application's SLF4J binding (slf4j-simple) on the test class path next to the kit, the
 * application's binding stays in charge: SLF4J binds to it, without a "multiple providers"
 * warning, the kit sets no {@code slf4j.provider}, lines go where the application's binding sends
 * them, and the kit's scenarios still pass (their log checks skipped). Runs in its own Surefire
 * execution ({@code application-binding}), the only one whose class path has slf4j-simple.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ApplicationBindingTest {

  @Test
  @Order(1)
  void theApplicationsBindingStaysInCharge() {
    PrintStream err = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, UTF_8));
    boolean capturing;
    long mark;
    try {
      capturing = KitLogs.install(); // what the kit runs before its tests; SLF4J binds here
      mark = KitLogs.mark();
      LoggerFactory.getLogger("dev.imagegen.provider.acme").warn("a line for the application's binding");
    } finally {
      System.setErr(err);
    }
    String out = captured.toString(UTF_8);
    assertThat(LoggerFactory.getILoggerFactory().getClass().getName()).isEqualTo("org.slf4j.simple.SimpleLoggerFactory");
    assertThat(capturing).isFalse();
    assertThat(KitLogs.capturing()).isFalse();
    assertThat(System.getProperty(KitLogs.PROVIDER_PROPERTY)).isNull();
    assertThat(out).contains("WARN dev.imagegen.provider.acme - a line for the application's binding")
        .doesNotContain("multiple SLF4J providers").doesNotContain("imagegen-testkit log");
    assertThat(KitLogs.since(mark)).isEmpty();
  }

  @Test
  @Order(2)
  void theKitStillRunsAndLeavesTheBindingAlone() {
    SummaryGeneratingListener listener = new SummaryGeneratingListener();
    LauncherFactory.create().execute(LauncherDiscoveryRequestBuilder.request()
        .selectors(DiscoverySelectors.selectClass("dev.imagegen.testkit.example.AcmeProviderKitTest")).build(), listener);
    TestExecutionSummary summary = listener.getSummary();
    assertThat(summary.getFailures()).as("kit failures with the application's binding").isEmpty();
    assertThat(summary.getTestsSucceededCount()).isGreaterThanOrEqualTo(20);
    assertThat(summary.getTestsAbortedCount()).as("only s14's log part is skipped").isEqualTo(1);
    assertThat(LoggerFactory.getILoggerFactory().getClass().getName()).isEqualTo("org.slf4j.simple.SimpleLoggerFactory");
  }
}
