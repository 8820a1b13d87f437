package dev.imagegen.soak;

import dev.imagegen.BudgetStore;
import java.math.BigDecimal;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link BudgetStore} the soak's services share (as instances of one application would share a
 * Redis or JDBC store), which remembers the highest amount ever spent or reserved in each scope,
 * and any moment a scope stood above its limit. Atomic across scopes, like the default store.
 */
final class WatchedBudgetStore implements BudgetStore {
  private final Map<String, BigDecimal> spent = new HashMap<>();
  private final Map<String, BigDecimal> peak = new HashMap<>();
  private final Map<String, BigDecimal> limits = new HashMap<>();
  private long reservations;
  private long refusals;
  private long overLimitMoments;

  @Override
  public synchronized boolean reserve(List<Scope> scopes, BigDecimal amount) {
    for (Scope s : scopes) {
      if (spent.getOrDefault(s.key(), BigDecimal.ZERO).add(amount).compareTo(s.limit()) > 0) {
        refusals++;
        return false;
      }
    }
    for (Scope s : scopes) {
      add(s, amount);
    }
    reservations++;
    return true;
  }

  @Override
  public synchronized void settle(List<Scope> scopes, BigDecimal reserved, BigDecimal actual) {
    for (Scope s : scopes) {
      add(s, actual.subtract(reserved));
    }
  }

  private void add(Scope s, BigDecimal delta) {
    BigDecimal now = spent.merge(s.key(), delta, BigDecimal::add);
    limits.put(s.key(), s.limit());
    peak.merge(s.key(), now, BigDecimal::max);
    if (now.compareTo(s.limit()) > 0) {
      overLimitMoments++;
    }
  }

  @Override
  public synchronized BigDecimal spent(String scope) {
    return spent.getOrDefault(scope, BigDecimal.ZERO);
  }

  synchronized BigDecimal peak(String scope) {
    return peak.getOrDefault(scope, BigDecimal.ZERO);
  }

  synchronized Map<String, BigDecimal> limits() {
    return new HashMap<>(limits);
  }

  synchronized long reservations() {
    return reservations;
  }

  synchronized long refusals() {
    return refusals;
  }

  synchronized long overLimitMoments() {
    return overLimitMoments;
  }
}
