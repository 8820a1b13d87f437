package dev.imagegen.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.BudgetStore;
import dev.imagegen.BudgetStore.Scope;
import java.math.BigDecimal;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link BudgetStore} does, run against the in-memory store and the Redis store alike,
 * so that the two cannot drift apart.
 */
abstract class BudgetStoreContract {
  private BudgetStore store;

  /** A new, empty store. */
  abstract BudgetStore newStore();

  @BeforeEach
  void newEmptyStore() {
    store = newStore();
  }

  private static Scope scope(String key, String limit) {
    return new Scope(key, new BigDecimal(limit));
  }

  private static BigDecimal usd(String v) {
    return new BigDecimal(v);
  }

  @Test
  void aScopeNeverUsedHasSpentNothing() {
    assertThat(store.spent("total")).isEqualByComparingTo("0");
  }

  @Test
  void aReservationWithinEveryLimitIsAddedToEveryScope() {
    List<Scope> scopes = List.of(scope("total", "1.00"), scope("provider:fal", "0.50"));
    assertThat(store.reserve(scopes, usd("0.20"))).isTrue();
    assertThat(store.spent("total")).isEqualByComparingTo("0.20");
    assertThat(store.spent("provider:fal")).isEqualByComparingTo("0.20");
    assertThat(store.spent("provider:openai")).isEqualByComparingTo("0");
  }

  @Test
  void aReservationPastAnyOneLimitIsAddedToNone() {
    List<Scope> scopes = List.of(scope("total", "1.00"), scope("provider:fal", "0.30"));
    assertThat(store.reserve(scopes, usd("0.20"))).isTrue();
    // 0.40 fits the total but not fal's 0.30: nothing is added anywhere
    assertThat(store.reserve(scopes, usd("0.20"))).isFalse();
    assertThat(store.spent("total")).isEqualByComparingTo("0.20");
    assertThat(store.spent("provider:fal")).isEqualByComparingTo("0.20");
    // another provider's scope is its own
    assertThat(store.reserve(List.of(scope("total", "1.00"), scope("provider:openai", "0.30")), usd("0.20"))).isTrue();
    assertThat(store.spent("total")).isEqualByComparingTo("0.40");
  }

  @Test
  void theLimitItselfMayBeReachedButNotPassedByTheSmallestAmount() {
    List<Scope> scopes = List.of(scope("total", "1.00"));
    for (int i = 0; i < 10; i++) {
      assertThat(store.reserve(scopes, usd("0.1"))).as("reservation %d", i).isTrue();
    }
    assertThat(store.spent("total")).isEqualByComparingTo("1.00");
    assertThat(store.reserve(scopes, usd("0.000000001"))).isFalse();
    assertThat(store.reserve(scopes, usd("0"))).isTrue();
    assertThat(store.spent("total")).isEqualByComparingTo("1.00");
  }

  @Test
  void settlingAddsActualMinusReservedToEveryScope() {
    List<Scope> scopes = List.of(scope("total", "1.00"), scope("provider:fal", "1.00"));
    store.reserve(scopes, usd("0.30"));
    store.settle(scopes, usd("0.30"), usd("0.12"));
    assertThat(store.spent("total")).isEqualByComparingTo("0.12");
    assertThat(store.spent("provider:fal")).isEqualByComparingTo("0.12");
  }

  @Test
  void settlingAboveTheReservationIsRecordedEvenPastTheLimitAndThenRefusesMore() {
    List<Scope> scopes = List.of(scope("total", "0.50"));
    store.reserve(scopes, usd("0.40"));
    store.settle(scopes, usd("0.40"), usd("0.65"));
    assertThat(store.spent("total")).isEqualByComparingTo("0.65");
    assertThat(store.reserve(scopes, usd("0.01"))).isFalse();
  }

  @Test
  void settlingAtZeroReleasesTheReservation() {
    List<Scope> scopes = List.of(scope("total", "0.50"));
    store.reserve(scopes, usd("0.50"));
    assertThat(store.reserve(scopes, usd("0.01"))).isFalse();
    store.settle(scopes, usd("0.50"), BigDecimal.ZERO);
    assertThat(store.spent("total")).isEqualByComparingTo("0");
    assertThat(store.reserve(scopes, usd("0.50"))).isTrue();
  }

  @Test
  void settlingWhatWasReservedChangesNothing() {
    List<Scope> scopes = List.of(scope("total", "0.50"));
    store.reserve(scopes, usd("0.25"));
    store.settle(scopes, usd("0.25"), usd("0.25"));
    assertThat(store.spent("total")).isEqualByComparingTo("0.25");
  }

  @Test
  void aCostKnownOnlyAfterwardsIsRecordedWithoutAReservation() {
    // Budgets' unknown-price path: nothing reserved, the reported cost settled afterwards
    List<Scope> scopes = List.of(scope("total", "1.00"));
    store.settle(scopes, BigDecimal.ZERO, usd("0.037"));
    assertThat(store.spent("total")).isEqualByComparingTo("0.037");
  }

  @Test
  void windowsAreSeparateScopes() {
    store.reserve(List.of(scope("total@1000", "0.10")), usd("0.10"));
    assertThat(store.reserve(List.of(scope("total@1000", "0.10")), usd("0.01"))).isFalse();
    assertThat(store.reserve(List.of(scope("total@2000", "0.10")), usd("0.10"))).isTrue();
    assertThat(store.spent("total@1000")).isEqualByComparingTo("0.10");
    assertThat(store.spent("total@2000")).isEqualByComparingTo("0.10");
    assertThat(store.spent("total")).isEqualByComparingTo("0");
  }

  @Test
  void amountsAreExactAcrossManySmallReservations() {
    List<Scope> scopes = List.of(scope("total", "10"));
    for (int i = 0; i < 1000; i++) {
      assertThat(store.reserve(scopes, usd("0.003"))).isTrue();
    }
    assertThat(store.spent("total")).isEqualByComparingTo("3.000");
    store.settle(scopes, usd("0.003"), usd("0.0011"));
    assertThat(store.spent("total")).isEqualByComparingTo("2.9981");
  }
}
