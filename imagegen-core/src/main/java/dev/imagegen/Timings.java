package dev.imagegen;

import java.time.Duration;

/**
 * Where the time of a successful generation went.
 *
 * @param queue time the job waited in the provider's queue (as reported, or observed while polling)
 * @param run time the provider spent generating (as reported, or observed)
 * @param download time spent fetching the result images
 * @param total wall time of the whole call, failover included
 */
public record Timings(Duration queue, Duration run, Duration download, Duration total) {
  /** All zero. */
  public static final Timings ZERO = new Timings(Duration.ZERO, Duration.ZERO, Duration.ZERO, Duration.ZERO);
}
