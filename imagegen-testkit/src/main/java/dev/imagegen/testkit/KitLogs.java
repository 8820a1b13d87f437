package dev.imagegen.testkit;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;
import org.slf4j.spi.SLF4JServiceProvider;

/**
 * The log lines the kit captured: every SLF4J line at DEBUG and above, formatted, with the text of
 * its throwable (stack trace and causes), recorded by the kit's SLF4J 2 provider
 * ({@link CapturingLoggerProvider}). Scenario 14 and every scenario's clean-up search these lines
 * for the API key.
 *
 * <p>The kit never takes over an application's logging: its provider is registered nowhere (no
 * {@code META-INF/services} entry). {@link #install()}, which the kit runs before its tests,
 * selects it through SLF4J's {@code slf4j.provider} system property only when the class path
 * holds no other SLF4J provider (logback, slf4j-simple, log4j-slf4j2-impl, ...) and SLF4J is not
 * bound yet; otherwise the application's binding stays in charge, {@link #capturing()} is false
 * and the kit's log checks are skipped with a reason. A test class path with a binding can still
 * ask for the kit's provider explicitly: {@code -Dslf4j.provider=dev.imagegen.testkit.CapturingLoggerProvider}.
 *
 * <p>The buffer is global to the JVM and keeps the latest {@value #CAPACITY} lines; use
 * {@link #mark()} and {@link #since(long)} to read what one piece of code logged. Thread-safe.
 */
public final class KitLogs {
  /** Lines kept. */
  public static final int CAPACITY = 20_000;

  private static final ArrayDeque<String> LINES = new ArrayDeque<>();
  private static long total;

  /** The system property SLF4J 2 (2.0.9 and later) reads to choose its provider explicitly. */
  public static final String PROVIDER_PROPERTY = "slf4j.provider";

  static {
    install();
  }

  private KitLogs() {}

  /**
   * Makes the kit's provider SLF4J's, if nothing else would be: when {@code slf4j.provider} is
   * unset and no other SLF4J provider (nor an SLF4J 1.x binding) is on the class path, sets it to
   * {@link CapturingLoggerProvider} while SLF4J binds, then restores it. A binding already made
   * is never changed. Idempotent; the kit calls it before its tests.
   *
   * @return whether the kit captures log lines now ({@link #capturing()})
   */
  public static synchronized boolean install() {
    boolean select = System.getProperty(PROVIDER_PROPERTY) == null && !otherBindingPresent();
    if (select) {
      System.setProperty(PROVIDER_PROPERTY, CapturingLoggerProvider.class.getName());
    }
    try {
      LoggerFactory.getILoggerFactory(); // binds now, before anything else logs
    } finally {
      if (select) {
        System.clearProperty(PROVIDER_PROPERTY);
      }
    }
    return capturing();
  }

  /** Whether the class path holds an SLF4J binding that is not the kit's. */
  static boolean otherBindingPresent() {
    ClassLoader loader = LoggerFactory.class.getClassLoader();
    try {
      for (SLF4JServiceProvider p : ServiceLoader.load(SLF4JServiceProvider.class, loader)) {
        if (!(p instanceof CapturingLoggerProvider)) {
          return true;
        }
      }
    } catch (ServiceConfigurationError e) {
      return true; // a provider is listed, even if it cannot load: leave the choice to SLF4J
    }
    return loader != null && loader.getResource("org/slf4j/impl/StaticLoggerBinder.class") != null;
  }

  /**
   * Whether the kit's provider is the SLF4J provider in use (it is not when the application's
   * binding, such as logback or slf4j-simple, is on the test class path).
   */
  public static boolean capturing() {
    return LoggerFactory.getILoggerFactory() instanceof CapturingLoggerProvider.Factory;
  }

  /** The class of the SLF4J logger factory in use, for messages. */
  public static String activeFactory() {
    ILoggerFactory f = LoggerFactory.getILoggerFactory();
    return f.getClass().getName();
  }

  /** A position in the stream of lines: pass it to {@link #since(long)}. */
  public static synchronized long mark() {
    return total;
  }

  /**
   * The lines logged since a {@link #mark()} (those still in the buffer).
   *
   * @param mark a value {@link #mark()} returned
   * @return the lines, oldest first
   */
  public static synchronized List<String> since(long mark) {
    long first = total - LINES.size();
    List<String> out = new ArrayList<>();
    long i = first;
    for (String line : LINES) {
      if (i++ >= mark) {
        out.add(line);
      }
    }
    return out;
  }

  /** Every line still in the buffer, oldest first. */
  public static synchronized List<String> all() {
    return new ArrayList<>(LINES);
  }

  /** Forgets every line (marks stay valid). */
  public static synchronized void clear() {
    LINES.clear();
  }

  static synchronized void record(String line) {
    LINES.addLast(line);
    total++;
    while (LINES.size() > CAPACITY) {
      LINES.removeFirst();
    }
  }
}
