package dev.imagegen.testkit.example;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.testkit.ProviderKit;
import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.platform.engine.FilterResult;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.PostDiscoveryFilter;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.engine.discovery.DiscoverySelectors;

/**
 * The kit's checks can fail: for each {@link Breakage} of the example provider, the kit tests it
 * targets are run (through the JUnit Platform Launcher) and must fail with an assertion, and every
 * kit test is targeted by at least one breakage.
 */
class BrokenVariantsTest {

  @ParameterizedTest(name = "{0}")
  @EnumSource(Breakage.class)
  void eachBreakageFailsItsScenarios(Breakage breakage) {
    Map<String, Outcome> results = runKit(breakage, breakage.fails);
    for (String test : breakage.fails) {
      Outcome o = results.get(test);
      assertThat(o).as("%s: kit test %s did not run (results: %s)", breakage, test, results).isNotNull();
      assertThat(o.status()).as("%s should make %s fail, but it %s", breakage, test, o).isEqualTo("FAILED");
      assertThat(o.error()).as("%s: %s should fail with an assertion, not %s", breakage, test, o)
          .isInstanceOf(AssertionError.class);
      assertThat(o.error().getMessage()).as("%s: %s's failure should say what to check", breakage, test)
          .contains("If this fails, check");
    }
  }

  @Test
  void everyKitTestIsFailedByAtLeastOneBreakage() {
    Set<String> kitTests = new TreeSet<>();
    for (Class<?> nested : ProviderKit.class.getDeclaredClasses()) {
      if (nested.isAnnotationPresent(Nested.class)) {
        for (Method m : nested.getDeclaredMethods()) {
          if (m.isAnnotationPresent(Test.class)) {
            kitTests.add(m.getName());
          }
        }
      }
    }
    Set<String> targeted = Arrays.stream(Breakage.values()).flatMap(b -> b.fails.stream()).collect(Collectors.toSet());
    assertThat(kitTests).hasSizeGreaterThanOrEqualTo(14);
    assertThat(targeted).as("breakages name only existing kit tests").isSubsetOf(kitTests);
    assertThat(kitTests).as("kit tests no breakage makes fail").isSubsetOf(targeted);
  }

  /** What one kit test came to. */
  record Outcome(String status, Throwable error) {
    @Override
    public String toString() {
      return status + (error == null ? "" : " (" + error + ")");
    }
  }

  private static Map<String, Outcome> runKit(Breakage breakage, Set<String> tests) {
    BrokenAcmeKit.breakage = breakage;
    PostDiscoveryFilter onlyTargeted = d -> d.getSource()
        .filter(MethodSource.class::isInstance)
        .map(s -> tests.contains(((MethodSource) s).getMethodName()) ? FilterResult.included("targeted")
            : FilterResult.excluded("not targeted by " + breakage))
        .orElse(FilterResult.included("container"));
    LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
        .selectors(DiscoverySelectors.selectClass(BrokenAcmeKit.class))
        .filters(onlyTargeted)
        .build();
    Map<String, Outcome> results = new ConcurrentHashMap<>();
    Launcher launcher = LauncherFactory.create();
    launcher.execute(request, new TestExecutionListener() {
      @Override
      public void executionFinished(TestIdentifier id, TestExecutionResult result) {
        if (id.isTest() && id.getSource().orElse(null) instanceof MethodSource m) {
          results.put(m.getMethodName(), new Outcome(result.getStatus().name(), result.getThrowable().orElse(null)));
        }
      }

      @Override
      public void executionSkipped(TestIdentifier id, String reason) {
        if (id.getSource().orElse(null) instanceof MethodSource m) {
          results.put(m.getMethodName(), new Outcome("SKIPPED: " + reason, null));
        }
      }
    });
    results.forEach((test, o) -> System.out.println(breakage + " / " + test + ": " + o));
    return new TreeMap<>(results);
  }
}
