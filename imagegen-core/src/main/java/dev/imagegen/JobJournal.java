package dev.imagegen;

import dev.imagegen.internal.InMemoryJobJournal;
import java.time.Instant;
import java.util.List;

/**
 * A record of the remote jobs the service submitted, so that a paid job is never forgotten: the
 * default lives in memory; an application can plug in a persistent one to find, after a restart,
 * the jobs submitted before it died. Implementations must be thread-safe.
 */
public interface JobJournal {

  /**
   * Records a remote job as soon as the provider acknowledged it.
   *
   * @param entry the job
   */
  void started(Entry entry);

  /**
   * Records how a job ended.
   *
   * @param generationId imagegen's generation id
   * @param remoteJobId the provider's job id
   * @param status {@code succeeded}, {@code failed} or {@code cancelled}
   */
  void ended(String generationId, String remoteJobId, String status);

  /** Jobs started and not yet ended. */
  List<Entry> open();

  /**
   * A journal entry.
   *
   * @param generationId imagegen's generation id
   * @param provider the provider id
   * @param remoteJobId the provider's job id
   * @param requestHash a hash of the request
   * @param startedAt when the job was acknowledged
   */
  record Entry(String generationId, String provider, String remoteJobId, String requestHash, Instant startedAt) {}

  /**
   * The journal a service uses when none is given: open jobs held in this JVM's memory, lost at
   * exit (so a crash loses them; see the durable journals for that). Thread-safe.
   *
   * @return a new, empty journal
   */
  static JobJournal inMemory() {
    return new InMemoryJobJournal();
  }
}
