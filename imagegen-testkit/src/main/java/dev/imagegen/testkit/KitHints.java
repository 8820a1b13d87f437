package dev.imagegen.testkit;

import java.util.Optional;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.LifecycleMethodExecutionExceptionHandler;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;
import org.opentest4j.AssertionFailedError;

/**
 * Adds a test's {@link IfFails} hint to the message of an {@link AssertionError} it throws, and
 * the log hint of scenario 14 to a secret found in the log lines after a scenario. Other
 * throwables (a skipped scenario's assumption, a provider's own exception) pass unchanged; an
 * {@link AssertionFailedError} keeps its expected and actual values.
 */
final class KitHints implements TestExecutionExceptionHandler, LifecycleMethodExecutionExceptionHandler {
  /** The hint for a key found in a scenario's log lines (checked after every scenario). */
  static final String LOG_HINT = "check log statements built from the config, the request headers or the raw key"
      + " (log with ctx.log(), which redacts, and keep the key a Secret)";

  @Override
  public void handleTestExecutionException(ExtensionContext context, Throwable throwable) throws Throwable {
    Optional<IfFails> hint = context.getTestMethod().map(m -> m.getAnnotation(IfFails.class));
    throw hint.isPresent() ? withHint(throwable, hint.get().value()) : throwable;
  }

  @Override
  public void handleAfterEachMethodExecutionException(ExtensionContext context, Throwable throwable) throws Throwable {
    throw withHint(throwable, LOG_HINT);
  }

  /**
   * The throwable, or, for an assertion, one whose message ends with the hint.
   *
   * @param throwable what a test threw
   * @param hint the hint
   * @return what to rethrow
   */
  static Throwable withHint(Throwable throwable, String hint) {
    if (!(throwable instanceof AssertionError a) || String.valueOf(a.getMessage()).contains(hint)) {
      return throwable;
    }
    String message = a.getMessage() + System.lineSeparator() + "If this fails, " + hint;
    // an AssertionFailedError keeps its expected and actual values, so an IDE still shows the difference
    AssertionError hinted = a instanceof AssertionFailedError f && f.isExpectedDefined() && f.isActualDefined()
        ? new AssertionFailedError(message, f.getExpected().getValue(), f.getActual().getValue(), a.getCause())
        : new AssertionError(message, a.getCause());
    hinted.setStackTrace(a.getStackTrace());
    for (Throwable s : a.getSuppressed()) {
      hinted.addSuppressed(s);
    }
    return hinted;
  }
}
