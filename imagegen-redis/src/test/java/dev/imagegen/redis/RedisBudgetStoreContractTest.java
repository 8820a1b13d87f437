package dev.imagegen.redis;

import dev.imagegen.BudgetStore;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/** The contract against the Redis store, on a real redis-server; each test has its own key prefix. */
class RedisBudgetStoreContractTest extends BudgetStoreContract {
  private static RedisServer server;
  private static final AtomicInteger TEST = new AtomicInteger();
  private RedisBudgetStore store;

  @BeforeAll
  static void startRedis() {
    server = RedisServer.start();
  }

  @AfterAll
  static void stopRedis() {
    server.close();
  }

  @Override
  BudgetStore newStore() {
    store = RedisBudgetStore.builder().url(server.url()).keyPrefix("contract" + TEST.incrementAndGet() + ":").build();
    return store;
  }

  @AfterEach
  void closeStore() {
    store.close();
  }
}
