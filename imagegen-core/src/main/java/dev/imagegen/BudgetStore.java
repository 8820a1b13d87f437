package dev.imagegen;

import dev.imagegen.internal.InMemoryBudgetStore;
import java.math.BigDecimal;
import java.util.List;

/**
 * Where spending is kept. The default lives in memory; an application running several instances
 * plugs in a shared one (a Redis script, a JDBC row lock) so that limits hold across JVMs.
 * Implementations must be thread-safe and make {@link #reserve} atomic across all its scopes.
 */
public interface BudgetStore {

  /**
   * Reserves an amount in every scope at once, or in none.
   *
   * @param scopes budget scopes (e.g. {@code total@<window>}, {@code provider:fal@<window>}) with their limits
   * @param amount the amount to reserve
   * @return true when reserved in all scopes; false (nothing reserved) when a limit would be exceeded
   */
  boolean reserve(List<Scope> scopes, BigDecimal amount);

  /**
   * Replaces a reservation with the actual amount (which may be larger or smaller).
   *
   * @param scopes the scopes reserved in
   * @param reserved the amount reserved
   * @param actual the amount spent
   */
  void settle(List<Scope> scopes, BigDecimal reserved, BigDecimal actual);

  /**
   * The amount spent or reserved in a scope.
   *
   * @param scope the scope key
   */
  BigDecimal spent(String scope);

  /**
   * A budget scope and its limit.
   *
   * @param key the scope's key
   * @param limit the limit in US dollars
   */
  record Scope(String key, BigDecimal limit) {}

  /**
   * The store a service uses when none is given: spend held in this JVM's memory, lost at exit.
   * Thread-safe.
   *
   * @return a new, empty store
   */
  static BudgetStore inMemory() {
    return new InMemoryBudgetStore();
  }
}
