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

/** Applies a {@link BudgetPolicy} through a {@link BudgetStore}: reserve the estimate, settle the actual. */
final class Budgets {
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
        return Reservation.NONE;
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

  void settle(Reservation r, Cost actual) {
    if (r.scopes().isEmpty()) {
      return;
    }
    store.settle(r.scopes(), r.amount(), actual.isKnown() ? actual.amountOrZero() : r.amount());
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
