package dev.imagegen.redis;

import dev.imagegen.BudgetExceededException;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The shared budget store could not be reached in time (Redis down, slow, refusing the password):
 * no reservation was made, so the engine makes no paid call. It is a {@link BudgetExceededException}
 * because that is what the engine turns into "skipped, not called": fail closed.
 */
public class BudgetStoreUnavailableException extends BudgetExceededException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what failed, naming the store by its masked address (never a password)
   * @param cause the client's failure, or null
   */
  public BudgetStoreUnavailableException(String message, @Nullable Throwable cause) {
    super(message, null, List.of(), cause);
  }
}
