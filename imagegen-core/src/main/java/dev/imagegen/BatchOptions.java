package dev.imagegen;

import java.math.BigDecimal;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * How {@code generateBatch} runs: how many items at once (each provider's own concurrency limits
 * still apply), an optional budget for the whole batch (items that would exceed it fail with
 * {@link BudgetExceededException}, the rest go on), and a progress listener. Immutable.
 *
 * <p>The progress listener is called once per finished item, on imagegen's callback threads
 * (never its HTTP threads), one call at a time and in order: {@link BatchProgress#done()} counts
 * up by one from call to call, and {@code succeeded}, {@code failed} and {@code spent} never go
 * backwards, however many items finish at once. The batch's result completes after the last call,
 * unless the listener holds its thread for longer than a short grace (200 ms): then the result
 * goes out first. A listener that throws, even an {@link Error}, is logged once and the batch goes
 * on.
 *
 * @param concurrency items in flight at once
 * @param budget the most the batch may spend in USD (by estimate, settled with actual costs), or null
 * @param progress called after each item finishes, in order, or null
 */
public record BatchOptions(int concurrency, @Nullable BigDecimal budget, @Nullable Consumer<BatchProgress> progress) {

  /** Four at a time, no budget, no listener. */
  public static final BatchOptions DEFAULTS = new BatchOptions(4, null, null);

  /** Checks the values. */
  public BatchOptions {
    if (concurrency < 1) {
      throw new IllegalArgumentException("concurrency must be at least 1");
    }
  }

  /** @param n items in flight at once @return a copy */
  public BatchOptions concurrency(int n) {
    return new BatchOptions(n, budget, progress);
  }

  /** @param usd the batch's budget @return a copy */
  public BatchOptions budget(BigDecimal usd) {
    return new BatchOptions(concurrency, usd, progress);
  }

  /** @param listener progress listener @return a copy */
  public BatchOptions onProgress(Consumer<BatchProgress> listener) {
    return new BatchOptions(concurrency, budget, listener);
  }

  /**
   * Progress across a batch.
   *
   * @param total items in the batch
   * @param succeeded items finished with images
   * @param failed items finished without
   * @param spent known cost so far
   */
  public record BatchProgress(int total, int succeeded, int failed, BigDecimal spent) {
    /** Items finished. */
    public int done() {
      return succeeded + failed;
    }
  }
}
