package dev.imagegen.testkit;

import java.time.Duration;
import java.util.Locale;

/**
 * Stretches every timeout and deadline the kit uses, for slow or loaded machines: set the
 * environment variable {@value #ENV} (or the system property {@value #PROPERTY}) to a factor such
 * as {@code 3} or {@code 2.5}. Default 1. Poll-interval floors are not stretched: they are limits
 * the provider's documents set, not waits.
 */
public final class KitTime {
  /** The environment variable holding the factor. */
  public static final String ENV = "IMAGEGEN_KIT_TIME_SCALE";
  /** The system property holding the factor; wins over the environment variable. */
  public static final String PROPERTY = "imagegen.kit.time-scale";

  private static final double SCALE = read();

  private KitTime() {}

  /** The factor every kit timeout is multiplied by (at least 0.1, default 1). */
  public static double scale() {
    return SCALE;
  }

  /**
   * A duration stretched by {@link #scale()}.
   *
   * @param d the duration on a fast, idle machine
   * @return the duration to use here
   */
  public static Duration scaled(Duration d) {
    return Duration.ofNanos((long) (d.toNanos() * SCALE));
  }

  /**
   * Milliseconds stretched by {@link #scale()}.
   *
   * @param millis the duration on a fast, idle machine
   * @return the duration to use here
   */
  public static Duration scaledMillis(long millis) {
    return scaled(Duration.ofMillis(millis));
  }

  private static double read() {
    String v = System.getProperty(PROPERTY);
    String from = PROPERTY;
    if (v == null || v.isBlank()) {
      v = System.getenv(ENV);
      from = ENV;
    }
    if (v == null || v.isBlank()) {
      return 1.0;
    }
    try {
      double d = Double.parseDouble(v.strip().toLowerCase(Locale.ROOT).replace("x", ""));
      if (!Double.isFinite(d) || d <= 0) {
        throw new NumberFormatException(v);
      }
      return Math.max(0.1, d);
    } catch (NumberFormatException e) {
      throw new IllegalStateException(from + " must be a positive number such as 2 or 2.5, not '" + v + "'", e);
    }
  }
}
