package dev.imagegen.provider.fal.bench;

import java.util.concurrent.CompletableFuture;

/**
 * One column of {@link PendingJobsBench}: a way of running a generation against the fal stub, from
 * submit to holding the image. A new mode (webhooks, fal's status stream) is one more implementation
 * and one more entry in {@link PendingJobsBench#MODES}; the bench measures every mode the same way.
 */
interface BenchClient extends AutoCloseable {
  /** The row's name in the table. */
  String name();

  /**
   * Submits job {@code i} and waits for its image.
   *
   * @param i the job's index, from 0
   * @return completes when the caller holds the image, or fails with the reason
   */
  CompletableFuture<?> generate(int i);

  /** Called just before the stub releases every job (a mode that pushes prepares its deliveries here). */
  default void beforeRelease() {}

  /** Called right after the stub released every job: a mode whose provider pushes delivers here. */
  default void released() {}

  @Override
  void close();

  /** Makes a client for a stub at a base URL, for {@code jobs} jobs in flight at once. */
  interface Factory {
    /** The mode's name (also what {@code -Dbench.modes} selects). */
    String name();

    /**
     * A fresh client.
     *
     * @param baseUrl the stub's base URL
     * @param jobs how many jobs will be in flight at once
     */
    BenchClient create(String baseUrl, int jobs) throws Exception;
  }
}
