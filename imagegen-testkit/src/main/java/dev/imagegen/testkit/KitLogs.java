package dev.imagegen.testkit;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;

/**
 * The log lines the kit captured: every SLF4J line at DEBUG and above, formatted, with the text of
 * its throwable (stack trace and causes), recorded by the kit's own SLF4J 2 provider
 * ({@link CapturingLoggerProvider}), which the testkit jar registers. Scenario 14 and every
 * scenario's clean-up search these lines for the API key.
 *
 * <p>The buffer is global to the JVM and keeps the latest {@value #CAPACITY} lines; use
 * {@link #mark()} and {@link #since(long)} to read what one piece of code logged. Thread-safe.
 */
public final class KitLogs {
  /** Lines kept. */
  public static final int CAPACITY = 20_000;

  private static final ArrayDeque<String> LINES = new ArrayDeque<>();
  private static long total;

  private KitLogs() {}

  /**
   * Whether the kit's provider is the SLF4J provider in use (another SLF4J binding on the test
   * class path, such as logback or slf4j-simple, may have been chosen instead).
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
