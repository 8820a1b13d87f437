package dev.imagegen.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.slf4j.LoggerFactory;

/**
 * Without another SLF4J binding on the class path (the kit's own test run), the kit's provider is
 * selected, although the testkit registers none in {@code META-INF/services}, and captures lines.
 */
class KitLogsTest {

  @Test
  void theKitCapturesWhenNoOtherBindingIsPresent() {
    assertThat(KitLogs.otherBindingPresent()).isFalse();
    assertThat(KitLogs.install()).isTrue();
    assertThat(KitLogs.capturing()).isTrue();
    assertThat(System.getProperty(KitLogs.PROVIDER_PROPERTY)).as("the property is restored after binding").isNull();
    assertThat(KitLogsTest.class.getClassLoader().getResource("META-INF/services/org.slf4j.spi.SLF4JServiceProvider"))
        .as("the kit registers no SLF4J provider globally").isNull();
    long mark = KitLogs.mark();
    LoggerFactory.getLogger("kit.test").info("captured {}", 42);
    assertThat(KitLogs.since(mark)).containsExactly("INFO kit.test - captured 42");
  }

  @Test
  void aHintIsAppendedToAnAssertionOnly() {
    Throwable hinted = KitHints.withHint(new AssertionError("s03: two submits"), "check the 401 mapping");
    assertThat(hinted).isInstanceOf(AssertionError.class)
        .hasMessage("s03: two submits" + System.lineSeparator() + "If this fails, check the 401 mapping");
    assertThat(hinted.getStackTrace()).isNotEmpty();
    Throwable diff = KitHints.withHint(new AssertionFailedError("size", 512, 256), "check the size mapping");
    assertThat(diff).isInstanceOfSatisfying(AssertionFailedError.class, f -> {
      assertThat(f.getExpected().getValue()).isEqualTo(512);
      assertThat(f.getMessage()).endsWith("If this fails, check the size mapping");
    });
    IllegalStateException other = new IllegalStateException("x");
    assertThat(KitHints.withHint(other, "check")).isSameAs(other);
  }
}
