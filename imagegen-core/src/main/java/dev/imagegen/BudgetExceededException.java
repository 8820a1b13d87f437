package dev.imagegen;

import org.jspecify.annotations.Nullable;

/**
 * Thrown before any call is made when the estimated cost of a request would take spending past a
 * configured budget (total, per provider, or per time window), or when the price is unknown and
 * the budget policy does not allow unknown prices. Nothing was sent and nothing was charged.
 */
public class BudgetExceededException extends ImageGenerationException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message which budget and by how much
   * @param providerId the provider whose budget (or the global one) was exceeded, or null
   */
  public BudgetExceededException(String message, @Nullable String providerId) {
    super(message, providerId, ErrorKind.BUDGET_EXCEEDED, false, true, null);
  }
}
