package dev.imagegen.internal;

import dev.imagegen.BudgetExceededException;
import dev.imagegen.BudgetPolicy;
import dev.imagegen.BudgetStore;
import dev.imagegen.Cost;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
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
   * @throws BudgetExceededException when a limit would be exceeded, the price is unknown and not
   *     allowed, or the store fails (fail closed)
   */
  Reservation reserve(String providerId, Cost estimate) {
    if (!policy.limits(providerId)) {
      return Reservation.NONE;
    }
    try {
      return reserveIn(providerId, estimate);
    } catch (BudgetExceededException e) {
      throw e;
    } catch (RuntimeException e) {
      // fail closed: a store that cannot answer (a shared store down, a bug) means no paid call without a reservation
      throw new BudgetExceededException("the budget store failed (" + e + "); no call is made without a reservation",
          providerId, List.of(), e);
    }
  }

  private Reservation reserveIn(String providerId, Cost estimate) {
    if (!policy.limits(providerId)) {
      return Reservation.NONE;
    }
    if (!estimate.isKnown()) {
      if (policy.allowUnknownPrices()) {
        // nothing to reserve, but the cost the provider reports later is still recorded; a limit
        // already reached refuses the call
        List<Limit> limits = limits(providerId);
        for (Limit l : limits) {
          BigDecimal spent = store.spent(l.scope().key());
          if (spent.compareTo(l.scope().limit()) >= 0) {
            throw new BudgetExceededException("price unknown and " + l.name() + " is already reached (" + usd(spent)
                + " USD spent or reserved)", providerId);
          }
        }
        return new Reservation(scopes(limits), BigDecimal.ZERO);
      }
      throw new BudgetExceededException("price unknown and the budget policy does not allow unknown prices "
          + "(configure imagegen." + providerId + ".price-per-image, or allowUnknownPrices)", providerId);
    }
    List<Limit> limits = limits(providerId);
    List<BudgetStore.Scope> scopes = scopes(limits);
    BigDecimal amount = estimate.amountOrZero();
    if (!store.reserve(scopes, amount)) {
      throw new BudgetExceededException(refusal(limits, amount), providerId);
    }
    return new Reservation(scopes, amount);
  }

  /**
   * Why a reservation was refused: each budget it would take past its limit, with its window, what
   * is spent and left, and the most the generation may cost.
   */
  private String refusal(List<Limit> limits, BigDecimal amount) {
    List<String> parts = new ArrayList<>();
    List<String> all = new ArrayList<>();
    for (Limit l : limits) {
      BigDecimal spent = store.spent(l.scope().key());
      BigDecimal left = l.scope().limit().subtract(spent).max(BigDecimal.ZERO);
      String part = l.name() + " would be exceeded: " + usd(spent) + " USD spent or reserved, " + usd(left) + " USD left";
      all.add(part);
      if (spent.add(amount).compareTo(l.scope().limit()) > 0) {
        parts.add(part);
      }
    }
    // spending in flight may have ended between the refusal and this look: then name them all
    return String.join("; ", parts.isEmpty() ? all : parts) + ", and this generation may cost up to " + usd(amount) + " USD";
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

  /** Records what a job recovered after a restart cost: its reservation died with the process that made it. */
  void record(String providerId, Cost cost) {
    if (!policy.limits(providerId) || !cost.isKnown()) {
      return;
    }
    store.settle(scopes(limits(providerId)), BigDecimal.ZERO, cost.amountOrZero());
  }

  void release(Reservation r) {
    if (!r.scopes().isEmpty()) {
      store.settle(r.scopes(), r.amount(), BigDecimal.ZERO);
    }
  }

  /** What is left of each limit in the current window (reads the store: a shared store may throw). */
  BudgetPolicy.Remaining remaining() {
    String suffix = windowSuffix(windowStart());
    @Nullable BigDecimal total = policy.total();
    BigDecimal totalLeft = total == null ? null : left(total, store.spent("total" + suffix));
    java.util.Map<String, BigDecimal> per = new java.util.LinkedHashMap<>();
    policy.perProvider().forEach((id, limit) -> per.put(id, left(limit, store.spent("provider:" + id + suffix))));
    return new BudgetPolicy.Remaining(totalLeft, per);
  }

  private static BigDecimal left(BigDecimal limit, BigDecimal spent) {
    BigDecimal l = limit.subtract(spent);
    return l.signum() < 0 ? BigDecimal.ZERO : l;
  }

  /** What has been spent in the total scope of the current window. */
  BigDecimal spentTotal() {
    return store.spent("total" + windowSuffix(windowStart()));
  }

  /** A budget scope with the name a person reads: which budget, its limit and its window. */
  private record Limit(BudgetStore.Scope scope, String name) {}

  private List<Limit> limits(String providerId) {
    List<Limit> s = new ArrayList<>(2);
    Duration w = policy.window();
    long start = windowStart();
    String suffix = windowSuffix(start);
    String window = w == null ? "(no window)" : per(w) + " (resets " + moment(start + w.toMillis()) + ")";
    @Nullable BigDecimal total = policy.total();
    if (total != null) {
      s.add(new Limit(new BudgetStore.Scope("total" + suffix, total), "the total budget of " + usd(total) + " USD " + window));
    }
    @Nullable BigDecimal p = policy.perProvider().get(providerId);
    if (p != null) {
      s.add(new Limit(new BudgetStore.Scope("provider:" + providerId + suffix, p),
          "the budget of " + usd(p) + " USD for provider " + providerId + " " + window));
    }
    return s;
  }

  private static List<BudgetStore.Scope> scopes(List<Limit> limits) {
    List<BudgetStore.Scope> s = new ArrayList<>(limits.size());
    limits.forEach(l -> s.add(l.scope()));
    return s;
  }

  /** When the current window began (epoch millis), 0 without a window. */
  private long windowStart() {
    Duration w = policy.window();
    return w == null ? 0 : (Instant.now().toEpochMilli() / w.toMillis()) * w.toMillis();
  }

  /** The part of a store key that names the window that began at {@code start}. */
  private String windowSuffix(long start) {
    return policy.window() == null ? "" : "@" + start;
  }

  /** A window as a person says it: "per day", "per 6 hours", "per 90 seconds". */
  static String per(Duration w) {
    long sec = w.getSeconds();
    if (w.getNano() != 0 || sec == 0) {
      return "per " + w.toMillis() + " ms";
    }
    long[] sizes = {7 * 86_400L, 86_400L, 3_600L, 60L, 1L};
    String[] names = {"week", "day", "hour", "minute", "second"};
    for (int i = 0; i < sizes.length; i++) {
      if (sec % sizes[i] == 0) {
        long n = sec / sizes[i];
        return n == 1 ? "per " + names[i] : "per " + n + " " + names[i] + "s";
      }
    }
    return "per " + sec + " seconds";
  }

  /** An instant in UTC to the minute when it falls on one ("2026-12-04T00:00Z"), else to the second. */
  private static String moment(long epochMillis) {
    Instant t = Instant.ofEpochMilli(epochMillis);
    String iso = t.truncatedTo(ChronoUnit.SECONDS).toString(); // 2026-12-04T00:00:00Z
    return t.getEpochSecond() % 60 == 0 && t.getNano() == 0 ? iso.substring(0, iso.length() - 4) + "Z" : iso;
  }

  private static String usd(BigDecimal amount) {
    return amount.stripTrailingZeros().toPlainString();
  }
}
