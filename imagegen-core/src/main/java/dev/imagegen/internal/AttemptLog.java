package dev.imagegen.internal;

import dev.imagegen.Cost;
import java.time.Duration;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.MDC;
import org.slf4j.event.Level;

/**
 * The lines a generation's attempts leave on their provider's logger
 * ({@code dev.imagegen.provider.<id>}, secrets redacted): each starts with the generation's id and
 * is logged with it in the MDC under {@value #MDC_KEY}, so that the lines of one generation can be
 * found across providers and threads.
 */
final class AttemptLog {
  /** The MDC key holding the generation's id while its lines are logged and its provider calls start. */
  static final String MDC_KEY = "imagegen.generation";
  /** Messages longer than this are cut in log lines (the attempts keep them whole). */
  private static final int SHORT = 300;

  private AttemptLog() {}

  static void warn(ProviderSlot slot, Generation g, String format, Object... args) {
    log(slot, g, Level.WARN, format, args);
  }

  static void info(ProviderSlot slot, Generation g, String format, Object... args) {
    log(slot, g, Level.INFO, format, args);
  }

  static void debug(ProviderSlot slot, Generation g, String format, Object... args) {
    log(slot, g, Level.DEBUG, format, args);
  }

  private static void log(ProviderSlot slot, Generation g, Level level, String format, Object... args) {
    Logger log = slot.context.log();
    if (!log.isEnabledForLevel(level)) {
      return;
    }
    withId(g, () -> {
      String f = "generation " + g.id() + ": " + format;
      switch (level) {
        case WARN -> log.warn(f, args);
        case INFO -> log.info(f, args);
        default -> log.debug(f, args);
      }
      return null;
    });
  }

  /** Runs {@code body} with the generation's id in the MDC, restoring what was there. */
  static <T> T withId(Generation g, Supplier<T> body) {
    String before = MDC.get(MDC_KEY);
    MDC.put(MDC_KEY, g.id());
    try {
      return body.get();
    } finally {
      if (before == null) {
        MDC.remove(MDC_KEY);
      } else {
        MDC.put(MDC_KEY, before);
      }
    }
  }

  /** A message cut to a log line's length. */
  static String shortly(@org.jspecify.annotations.Nullable String message) {
    if (message == null) {
      return "no message";
    }
    return message.length() <= SHORT ? message : message.substring(0, SHORT) + "...";
  }

  /** A duration as a person says it: "250 ms", "90 s", "5 min", "1 h". */
  static String human(Duration d) {
    long ms = d.toMillis();
    if (ms >= 3_600_000 && ms % 3_600_000 == 0) {
      return ms / 3_600_000 + " h";
    }
    if (ms >= 60_000 && ms % 60_000 == 0) {
      return ms / 60_000 + " min";
    }
    if (ms >= 1_000 && ms % 1_000 == 0) {
      return ms / 1_000 + " s";
    }
    return ms + " ms";
  }

  /** A cost for a log line: "0.003 USD", or "unknown". */
  static String cost(Cost c) {
    return c.isKnown() ? c.amountOrZero().stripTrailingZeros().toPlainString() + " " + c.currency() : "unknown";
  }
}
