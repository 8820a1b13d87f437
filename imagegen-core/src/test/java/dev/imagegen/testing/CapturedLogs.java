package dev.imagegen.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.Predicate;
import org.slf4j.ILoggerFactory;
import org.slf4j.IMarkerFactory;
import org.slf4j.Logger;
import org.slf4j.MDC;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.BasicMDCAdapter;
import org.slf4j.helpers.BasicMarkerFactory;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;
import org.slf4j.spi.MDCAdapter;
import org.slf4j.spi.SLF4JServiceProvider;

/**
 * Core's test SLF4J provider (selected with {@code -Dslf4j.provider} in the build): every line at
 * DEBUG and above is printed to standard error, as slf4j-simple would, and kept with its level,
 * logger name and MDC, so a test can assert what the engine logged. The buffer is global to the
 * JVM: tests read the events logged after their own {@link #mark()}.
 */
public final class CapturedLogs implements SLF4JServiceProvider {
  /** One captured line. */
  public record Event(Level level, String logger, String message, Map<String, String> mdc) {
    @Override
    public String toString() {
      return level + " " + logger + " - " + message + " " + mdc;
    }
  }

  private static final List<Event> EVENTS = new ArrayList<>();
  private static final int CAPACITY = 50_000;
  private static long dropped;

  private final ILoggerFactory factory = new Factory();
  private final IMarkerFactory markers = new BasicMarkerFactory();
  private final MDCAdapter mdc = new BasicMDCAdapter();

  /** Called by SLF4J. */
  public CapturedLogs() {}

  /** The position to read from: events logged after this call. */
  public static synchronized long mark() {
    return dropped + EVENTS.size();
  }

  /** Events logged since {@code mark} that match. */
  public static synchronized List<Event> since(long mark, Predicate<Event> filter) {
    List<Event> out = new ArrayList<>();
    for (int i = (int) Math.max(0, mark - dropped); i < EVENTS.size(); i++) {
      if (filter.test(EVENTS.get(i))) {
        out.add(EVENTS.get(i));
      }
    }
    return out;
  }

  /** Whether this provider is SLF4J's (the build selects it). */
  public static boolean active() {
    return org.slf4j.LoggerFactory.getILoggerFactory() instanceof Factory;
  }

  private static synchronized void record(Event e) {
    if (EVENTS.size() >= CAPACITY) {
      EVENTS.subList(0, CAPACITY / 2).clear();
      dropped += CAPACITY / 2;
    }
    EVENTS.add(e);
  }

  @Override public ILoggerFactory getLoggerFactory() { return factory; }
  @Override public IMarkerFactory getMarkerFactory() { return markers; }
  @Override public MDCAdapter getMDCAdapter() { return mdc; }
  @Override public String getRequestedApiVersion() { return "2.0.99"; }
  @Override public void initialize() {}

  private static final class Factory implements ILoggerFactory {
    private final ConcurrentMap<String, Logger> loggers = new ConcurrentHashMap<>();

    @Override
    public Logger getLogger(String name) {
      return loggers.computeIfAbsent(name, CapturingLogger::new);
    }
  }

  private static final class CapturingLogger extends LegacyAbstractLogger {
    private static final long serialVersionUID = 1L;

    CapturingLogger(String name) {
      this.name = name;
    }

    @Override
    protected String getFullyQualifiedCallerName() {
      return null;
    }

    @Override
    protected void handleNormalizedLoggingCall(Level level, Marker marker, String pattern, Object[] args, Throwable t) {
      String msg = MessageFormatter.basicArrayFormat(pattern, args);
      Map<String, String> ctx = MDC.getCopyOfContextMap();
      record(new Event(level, name, msg, ctx == null ? Map.of() : Map.copyOf(ctx)));
      System.err.println("[" + Thread.currentThread().getName() + "] " + level + " " + name + " - " + msg);
      if (t != null) {
        t.printStackTrace();
      }
    }

    @Override public boolean isTraceEnabled() { return false; }
    @Override public boolean isDebugEnabled() { return true; }
    @Override public boolean isInfoEnabled() { return true; }
    @Override public boolean isWarnEnabled() { return true; }
    @Override public boolean isErrorEnabled() { return true; }
  }
}
