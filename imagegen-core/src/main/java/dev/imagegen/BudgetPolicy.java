package dev.imagegen;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Spending limits in US dollars, checked before each call with the request's estimated cost:
 * a total limit, per-provider limits, and optionally a time window after which spending starts
 * again from zero (fixed windows aligned to the epoch). Reservations are atomic, so concurrent
 * requests never take spending past a limit. Immutable.
 *
 * <p>A price nobody configured is unknown: by default a request with an unknown price is refused
 * while any limit applies to its provider ({@link Builder#allowUnknownPrices(boolean)}).
 *
 * @param total the limit on all spending, or null for none
 * @param perProvider limits per provider id
 * @param window the window the limits apply to, or null for the lifetime of the store
 * @param allowUnknownPrices whether requests whose price is unknown may be sent under a limit
 */
public record BudgetPolicy(@Nullable BigDecimal total, Map<String, BigDecimal> perProvider, @Nullable Duration window,
    boolean allowUnknownPrices) {

  /** No limits. */
  public static final BudgetPolicy UNLIMITED = new BudgetPolicy(null, Map.of(), null, true);

  /** Copies the map. */
  public BudgetPolicy {
    perProvider = Map.copyOf(perProvider);
  }

  /** A builder. */
  public static Builder builder() {
    return new Builder();
  }

  /** Whether any limit applies to a provider. */
  public boolean limits(String providerId) {
    return total != null || perProvider.containsKey(providerId);
  }

  /**
   * What is left of each limit in the current window, as {@code ImageGenerationService.budgetRemaining()}
   * reports it: the limit less what was spent (never below zero; reservations in flight count as
   * spent only once settled).
   *
   * @param total what is left of the total limit, or null when there is none
   * @param perProvider what is left of each provider's limit, by provider id
   */
  public record Remaining(@Nullable BigDecimal total, Map<String, BigDecimal> perProvider) {
    /** Copies the map. */
    public Remaining {
      perProvider = Map.copyOf(perProvider);
    }
  }

  /** Builds a {@link BudgetPolicy}. Not thread-safe. */
  public static final class Builder {
    private @Nullable BigDecimal total;
    private final Map<String, BigDecimal> perProvider = new LinkedHashMap<>();
    private @Nullable Duration window;
    private boolean allowUnknownPrices;

    private Builder() {}

    /** @param usd the limit on all spending @return this */
    public Builder total(BigDecimal usd) { total = Objects.requireNonNull(usd); return this; }
    /** @param usd the limit on all spending @return this */
    public Builder total(String usd) { return total(new BigDecimal(usd)); }
    /** @param providerId provider @param usd its limit @return this */
    public Builder perProvider(String providerId, BigDecimal usd) { perProvider.put(providerId, usd); return this; }
    /** @param window the period after which spending starts from zero (e.g. a day) @return this */
    public Builder window(@Nullable Duration window) { this.window = window; return this; }
    /** @param allow whether unknown prices may be spent under a limit (default false) @return this */
    public Builder allowUnknownPrices(boolean allow) { allowUnknownPrices = allow; return this; }

    /** Builds the policy. */
    public BudgetPolicy build() {
      return new BudgetPolicy(total, perProvider, window, allowUnknownPrices);
    }
  }
}
