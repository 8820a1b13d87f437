package dev.imagegen.internal;

import dev.imagegen.BudgetStore;
import java.math.BigDecimal;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The default {@link BudgetStore}: one lock, so reservations across scopes are atomic. */
public final class InMemoryBudgetStore implements BudgetStore {
  private final Map<String, BigDecimal> spent = new HashMap<>();

  @Override
  public synchronized boolean reserve(List<Scope> scopes, BigDecimal amount) {
    for (Scope s : scopes) {
      if (spent.getOrDefault(s.key(), BigDecimal.ZERO).add(amount).compareTo(s.limit()) > 0) {
        return false;
      }
    }
    for (Scope s : scopes) {
      spent.merge(s.key(), amount, BigDecimal::add);
    }
    return true;
  }

  @Override
  public synchronized void settle(List<Scope> scopes, BigDecimal reserved, BigDecimal actual) {
    BigDecimal delta = actual.subtract(reserved);
    for (Scope s : scopes) {
      spent.merge(s.key(), delta, BigDecimal::add);
    }
  }

  @Override
  public synchronized BigDecimal spent(String scope) {
    return spent.getOrDefault(scope, BigDecimal.ZERO);
  }
}
