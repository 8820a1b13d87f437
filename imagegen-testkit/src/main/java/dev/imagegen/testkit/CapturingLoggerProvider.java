package dev.imagegen.testkit;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.ILoggerFactory;
import org.slf4j.IMarkerFactory;
import org.slf4j.Logger;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.BasicMDCAdapter;
import org.slf4j.helpers.BasicMarkerFactory;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;
import org.slf4j.spi.MDCAdapter;
import org.slf4j.spi.SLF4JServiceProvider;

/**
 * The testkit's SLF4J 2 provider: loggers at DEBUG and above that record every formatted line,
 * with its throwable's text, in {@link KitLogs}, and echo WARN and ERROR lines to standard error.
 * It exists so that the kit can prove an API key never reaches a log line; it is not meant for
 * applications.
 *
 * <p>It is registered nowhere: {@link KitLogs#install()} selects it through SLF4J's
 * {@code slf4j.provider} system property only when no other SLF4J binding is on the class path, so
 * an application's logback or slf4j-simple stays in charge when present (the kit's log checks are
 * then skipped with a reason). A test may select it explicitly with
 * {@code -Dslf4j.provider=dev.imagegen.testkit.CapturingLoggerProvider}.
 */
public final class CapturingLoggerProvider implements SLF4JServiceProvider {
  // created eagerly: SLF4J asks for the MDC adapter before it calls initialize()
  private final Factory factory = new Factory();
  private final IMarkerFactory markers = new BasicMarkerFactory();
  private final MDCAdapter mdc = new BasicMDCAdapter();

  /** Called by SLF4J, which instantiates the class named by {@code slf4j.provider}. */
  public CapturingLoggerProvider() {}

  @Override
  public ILoggerFactory getLoggerFactory() {
    return factory;
  }

  @Override
  public IMarkerFactory getMarkerFactory() {
    return markers;
  }

  @Override
  public MDCAdapter getMDCAdapter() {
    return mdc;
  }

  @Override
  public String getRequestedApiVersion() {
    return "2.0.99";
  }

  @Override
  public void initialize() {
    // everything is ready at construction
  }

  /** The logger factory: one capturing logger per name. */
  static final class Factory implements ILoggerFactory {
    private final ConcurrentMap<String, Logger> loggers = new ConcurrentHashMap<>();

    @Override
    public Logger getLogger(String name) {
      return loggers.computeIfAbsent(name, CapturingLogger::new);
    }
  }

  /** A logger recording DEBUG and above. */
  static final class CapturingLogger extends LegacyAbstractLogger {
    private static final long serialVersionUID = 1L;

    CapturingLogger(String name) {
      this.name = name;
    }

    @Override
    protected @Nullable String getFullyQualifiedCallerName() {
      return null;
    }

    @Override
    protected void handleNormalizedLoggingCall(Level level, @Nullable Marker marker, String messagePattern,
        Object @Nullable [] arguments, @Nullable Throwable throwable) {
      StringBuilder line = new StringBuilder().append(level).append(' ').append(name).append(" - ")
          .append(MessageFormatter.basicArrayFormat(messagePattern, arguments));
      if (throwable != null) {
        StringWriter sw = new StringWriter();
        throwable.printStackTrace(new PrintWriter(sw));
        line.append(System.lineSeparator()).append(sw);
      }
      String text = line.toString();
      KitLogs.record(text);
      if (level == Level.WARN || level == Level.ERROR) {
        System.err.println("[imagegen-testkit log] " + text);
      }
    }

    @Override public boolean isTraceEnabled() { return false; }
    @Override public boolean isDebugEnabled() { return true; }
    @Override public boolean isInfoEnabled() { return true; }
    @Override public boolean isWarnEnabled() { return true; }
    @Override public boolean isErrorEnabled() { return true; }
  }
}
