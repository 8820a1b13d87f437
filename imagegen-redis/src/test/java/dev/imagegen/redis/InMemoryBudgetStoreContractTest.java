package dev.imagegen.redis;

import dev.imagegen.BudgetStore;

/** The contract against core's in-memory store: the reference the Redis store must equal. */
class InMemoryBudgetStoreContractTest extends BudgetStoreContract {
  @Override
  BudgetStore newStore() {
    return BudgetStore.inMemory();
  }
}
