package dev.imagegen;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What a generation cost, or is estimated to cost. A price nobody configured is {@link #unknown()},
 * never zero: {@link #amount()} is then null.
 *
 * @param amount the amount, or null when unknown
 * @param currency ISO currency code, {@code USD} for every built-in price list
 * @param source where the amount comes from
 */
public record Cost(@Nullable BigDecimal amount, String currency, Source source) {

  /** Where a cost figure comes from. */
  public enum Source {
    /** Computed from the request and the configured price list, before or without usage data. */
    ESTIMATED,
    /** Computed from usage the provider reported (GPU seconds, executionTime...). */
    PROVIDER_REPORTED,
    /** The provider charges nothing (AI Horde, a local engine, a self-hosted WebUI). */
    FREE,
    /** Served from imagegen's cache: nothing was spent. */
    CACHED,
    /** No price is configured or known: never reported as zero. */
    UNKNOWN
  }

  /** Validates the record. */
  public Cost {
    Objects.requireNonNull(currency, "currency");
    Objects.requireNonNull(source, "source");
    if (source == Source.UNKNOWN && amount != null) {
      throw new IllegalArgumentException("an unknown cost has no amount");
    }
    if (source != Source.UNKNOWN && amount == null) {
      throw new IllegalArgumentException("a known cost needs an amount");
    }
    if (amount != null && amount.signum() < 0) {
      throw new IllegalArgumentException("cost cannot be negative: " + amount);
    }
  }

  /** An unknown cost. */
  public static Cost unknown() {
    return new Cost(null, "USD", Source.UNKNOWN);
  }

  /** A free generation. */
  public static Cost free() {
    return new Cost(BigDecimal.ZERO, "USD", Source.FREE);
  }

  /** A cache hit: nothing spent. */
  public static Cost cached() {
    return new Cost(BigDecimal.ZERO, "USD", Source.CACHED);
  }

  /**
   * An estimate in US dollars.
   *
   * @param amount the amount
   */
  public static Cost estimated(BigDecimal amount) {
    return new Cost(amount, "USD", Source.ESTIMATED);
  }

  /**
   * A cost computed from usage the provider reported, in US dollars.
   *
   * @param amount the amount
   */
  public static Cost providerReported(BigDecimal amount) {
    return new Cost(amount, "USD", Source.PROVIDER_REPORTED);
  }

  /** Whether the amount is known. */
  public boolean isKnown() {
    return amount != null;
  }

  /** The amount, or zero when unknown; for sums where unknown is tracked separately. */
  public BigDecimal amountOrZero() {
    return amount == null ? BigDecimal.ZERO : amount;
  }

  @Override
  public String toString() {
    return amount == null ? "unknown" : amount.stripTrailingZeros().toPlainString() + " " + currency + " (" + source.name().toLowerCase(Locale.ROOT) + ")";
  }
}
