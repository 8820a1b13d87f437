package dev.imagegen.internal;

import dev.imagegen.BudgetExceededException;
import dev.imagegen.BudgetPolicy;
import dev.imagegen.BudgetStore;
import dev.imagegen.Cost;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a {@link BudgetPolicy} through a {@link BudgetStore}: reserve the most a call can cost
 * ({@link dev.imagegen.spi.CostModel#maximum}) before it is made, settle the actual cost after.
 * Every known cost is recorded, also for calls whose price was unknown beforehand.
 */
final class Budgets {
  private static final Logger LOG = LoggerFactory.getLogger(Budgets.class);
  private final BudgetPolicy policy;
  private final BudgetStore store;

  Budgets(BudgetPolicy policy, BudgetStore store) {
    this.policy = policy;
    this.store = store;
  }

  /** A reservation to settle or release. */
  record Reservation(List<BudgetStore.Scope> scopes, BigDecimal amount) {
    static final Reservation NONE = new Reservation(List.of(), BigDecimal.ZERO);
  }

  /**
   * Reserves a request's estimated cost with a provider.
   *
   * @throws BudgetExceededException when a limit would be exceeded, or the price is unknown and not allowed
   */
  Reservation reserve(String providerId, Cost estimate) {
    if (!policy.limits(providerId)) {
      return Reservation.NONE;
    }
    if (!estimate.isKnown()) {
      if (policy.allowUnknownPrices()) {
        // nothing to reserve, but the cost the provider reports later is still recorded; a limit
        // already reached refuses the call
        List<BudgetStore.Scope> scopes = scopes(providerId);
        for (BudgetStore.Scope sc : scopes) {
          if (store.spent(sc.key()).compareTo(sc.limit()) >= 0) {
            throw new BudgetExceededException("price unknown and " + describe(List.of(sc)) + " is already reached",
                providerId);
          }
        }
        return new Reservation(scopes, BigDecimal.ZERO);
      }
      throw new BudgetExceededException("price unknown and the budget policy does not allow unknown prices "
          + "(configure imagegen." + providerId + ".price-per-image, or allowUnknownPrices)", providerId);
    }
    List<BudgetStore.Scope> scopes = scopes(providerId);
    BigDecimal amount = estimate.amountOrZero();
    if (!store.reserve(scopes, amount)) {
      throw new BudgetExceededException("estimated cost " + amount.stripTrailingZeros().toPlainString() + " USD would exceed "
          + describe(scopes), providerId);
    }
    return new Reservation(scopes, amount);
  }

  /**
   * Settles a reservation with what the call cost; an unknown cost keeps the reservation spent.
   * A cost above the reservation is recorded all the same (it was spent), and logged.
   */
  void settle(Reservation r, Cost actual, String providerId) {
    if (r.scopes().isEmpty()) {
      return;
    }
    BigDecimal amount = actual.isKnown() ? actual.amountOrZero() : r.amount();
    if (amount.compareTo(r.amount()) > 0 && r.amount().signum() > 0) {
      LOG.warn("{}: reported cost {} USD is above the {} USD reserved for the call", providerId,
          amount.stripTrailingZeros().toPlainString(), r.amount().stripTrailingZeros().toPlainString());
    }
    store.settle(r.scopes(), r.amount(), amount);
  }

  void release(Reservation r) {
    if (!r.scopes().isEmpty()) {
      store.settle(r.scopes(), r.amount(), BigDecimal.ZERO);
    }
  }

  /** What has been spent in the total scope of the current window. */
  BigDecimal spentTotal() {
    return store.spent("total" + windowSuffix());
  }

  private List<BudgetStore.Scope> scopes(String providerId) {
    List<BudgetStore.Scope> s = new ArrayList<>(2);
    String suffix = windowSuffix();
    if (policy.total() != null) {
      s.add(new BudgetStore.Scope("total" + suffix, policy.total()));
    }
    @Nullable BigDecimal p = policy.perProvider().get(providerId);
    if (p != null) {
      s.add(new BudgetStore.Scope("provider:" + providerId + suffix, p));
    }
    return s;
  }

  private String windowSuffix() {
    if (policy.window() == null) {
      return "";
    }
    long w = policy.window().toMillis();
    return "@" + (Instant.now().toEpochMilli() / w) * w;
  }

  private String describe(List<BudgetStore.Scope> scopes) {
    List<String> parts = new ArrayList<>();
    for (BudgetStore.Scope s : scopes) {
      parts.add(s.key() + " limit " + s.limit().stripTrailingZeros().toPlainString() + " USD (spent or reserved "
          + store.spent(s.key()).stripTrailingZeros().toPlainString() + ")");
    }
    return String.join(", ", parts);
  }
}
