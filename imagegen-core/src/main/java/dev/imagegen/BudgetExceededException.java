package dev.imagegen;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Thrown before any call is made when the estimated cost of a request would take spending past a
 * configured budget (total, per provider, or per time window), or when the price is unknown and
 * the budget policy does not allow unknown prices. Nothing was sent to the provider the budget
 * refused, and nothing was charged for it.
 *
 * <p>With failover, it is thrown when a budget stopped the last provider that could serve the
 * request; the providers tried or skipped before it are in {@link #attempts()}, each with its
 * own reason (a refused key, an open circuit, another budget).
 */
public class BudgetExceededException extends ImageGenerationException {
  private static final long serialVersionUID = 1L;

  private final transient List<Attempt> attempts;

  /**
   * Creates the exception.
   *
   * @param message which budget and by how much
   * @param providerId the provider whose budget (or the global one) was exceeded, or null
   */
  public BudgetExceededException(String message, @Nullable String providerId) {
    this(message, providerId, List.of(), null);
  }

  /**
   * Creates the exception for a generation that failed over before the budget stopped it.
   *
   * @param message which budget and by how much, and what happened with the providers before
   * @param providerId the provider the budget refused last, or null
   * @param attempts every attempt made or skipped, in order, the budget's refusal included
   * @param cause the earlier failure worth keeping (the last provider call that failed), or null
   */
  public BudgetExceededException(String message, @Nullable String providerId, List<Attempt> attempts,
      @Nullable Throwable cause) {
    super(message, providerId, ErrorKind.BUDGET_EXCEEDED, false, true, cause);
    this.attempts = List.copyOf(attempts);
  }

  /**
   * Every attempt made or skipped in the generation, in order, when failover led here; empty when
   * the budget refused the first and only provider asked, or a batch's own budget refused the item.
   *
   * @return the attempts, never null
   */
  public List<Attempt> attempts() {
    return attempts == null ? List.of() : attempts;
  }
}
