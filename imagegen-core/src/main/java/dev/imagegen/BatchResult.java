package dev.imagegen;

import java.math.BigDecimal;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The outcome of a batch: one item per request, in input order, each with its response or its
 * error; one failure never sinks the rest.
 *
 * @param items the items, in input order
 */
public record BatchResult(List<Item> items) {

  /** Copies the list. */
  public BatchResult {
    items = List.copyOf(items);
  }

  /**
   * One request's outcome.
   *
   * @param index position in the input
   * @param request the request
   * @param response the response, or null on failure
   * @param error the failure, or null on success
   */
  public record Item(int index, ImageGenerationRequest request, @Nullable ImageGenerationResponse response,
      @Nullable ImageGenerationException error) {
    /** Whether it succeeded. */
    public boolean succeeded() {
      return response != null;
    }
  }

  /** Items that succeeded. */
  public long succeeded() {
    return items.stream().filter(Item::succeeded).count();
  }

  /** Items that failed. */
  public long failed() {
    return items.size() - succeeded();
  }

  /** The sum of known costs. */
  public BigDecimal totalCost() {
    BigDecimal sum = BigDecimal.ZERO;
    for (Item i : items) {
      ImageGenerationResponse r = i.response();
      if (i.succeeded() && r != null) {
        sum = sum.add(r.cost().amountOrZero());
      }
    }
    return sum;
  }
}
