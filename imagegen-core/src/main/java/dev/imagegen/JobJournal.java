package dev.imagegen;

import dev.imagegen.internal.DirectoryJobJournal;
import dev.imagegen.internal.InMemoryJobJournal;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A record of the remote jobs the service submitted, so that a paid job is never forgotten: the
 * default lives in memory; {@link #directory(Path)} keeps one file per open job on disk, so that a
 * service started after a crash can find the jobs submitted before it and resume or cancel them
 * ({@link ImageGenerationService#recover()}). Implementations must be thread-safe.
 */
public interface JobJournal {

  /** The state of an entry whose job is running remotely. */
  String RUNNING = "running";

  /**
   * Records a remote job as soon as the provider acknowledged it; an entry with the same
   * generation id and remote job id replaces the one recorded before (a new owner, a new state).
   *
   * @param entry the job
   */
  void started(Entry entry);

  /**
   * Records how a job ended; its entry leaves {@link #open()}.
   *
   * @param generationId imagegen's generation id
   * @param remoteJobId the provider's job id
   * @param status {@code succeeded}, {@code failed}, {@code cancelled} or {@code cancel-failed}
   */
  void ended(String generationId, String remoteJobId, String status);

  /** Jobs started and not yet ended, by every instance sharing this journal. */
  List<Entry> open();

  /**
   * Called by the service when it is built: from now on the instance holds a lease (for a durable
   * journal, refreshed until {@link #leave}). The default does nothing.
   *
   * @param instanceId the service's instance id
   */
  default void join(String instanceId) {}

  /**
   * Called by the service's close: the instance's lease ends, so its entries still open can be
   * adopted at once by another instance. The default does nothing.
   *
   * @param instanceId the service's instance id
   */
  default void leave(String instanceId) {}

  /**
   * Whether an instance still holds a live lease, so that its open jobs are its own to finish and
   * no other instance may adopt them. The default, for a journal that holds no leases, says true:
   * only the owner itself recovers its entries.
   *
   * @param instanceId an instance id, as in {@link Entry#owner()}
   * @return true while the instance is alive
   */
  default boolean leaseLive(String instanceId) {
    return true;
  }

  /**
   * Takes over an open entry of an instance whose lease expired: records it as owned by
   * {@code newOwner}, if the journal still has it owned by {@code entry.owner()}. Of several
   * instances that adopt one entry at once, exactly one gets true, and {@code recover()} resumes
   * or cancels only the jobs it adopted, so a job is never polled (nor its result delivered, nor its
   * cost recorded) twice. The default is not atomic ({@link #started} with the new owner, then
   * true): a journal that several instances share overrides it.
   *
   * @param entry the entry as read from {@link #open()}
   * @param newOwner the adopting instance's id
   * @return true when this call adopted it; false when another instance did first or it ended
   */
  default boolean adopt(Entry entry, String newOwner) {
    started(entry.ownedBy(newOwner));
    return true;
  }

  /**
   * A journal entry: everything needed to find the job again without the original request.
   *
   * @param generationId imagegen's generation id
   * @param provider the provider id
   * @param remoteJobId the provider's job id
   * @param handles the provider's own handles to the job (status and cancel URLs, an endpoint id);
   *     never a credential
   * @param requestHash a hash of the request
   * @param deadline when the generation had to be finished; a recovered job is not polled past it
   * @param startedAt when the job was acknowledged
   * @param owner the instance id of the service that owns the job
   * @param state {@value #RUNNING}, or another state a journal records
   * @param cacheKey the response-cache key of the request, or null when the request is not cached
   * @param estimatedCost the estimated cost in USD, or null when unknown
   */
  record Entry(String generationId, String provider, String remoteJobId, Map<String, String> handles, String requestHash,
      Instant deadline, Instant startedAt, String owner, String state, @Nullable String cacheKey,
      @Nullable String estimatedCost) {

    /** Copies the handles. */
    public Entry {
      handles = Map.copyOf(handles);
    }

    /**
     * An entry without handles, owned by the default instance, due in five minutes, as journals
     * written before handles existed recorded it.
     *
     * @param generationId imagegen's generation id
     * @param provider the provider id
     * @param remoteJobId the provider's job id
     * @param requestHash a hash of the request
     * @param startedAt when the job was acknowledged
     */
    public Entry(String generationId, String provider, String remoteJobId, String requestHash, Instant startedAt) {
      this(generationId, provider, remoteJobId, Map.of(), requestHash, startedAt.plus(Duration.ofMinutes(5)), startedAt, "",
          RUNNING, null, null);
    }

    /**
     * This entry owned by another instance.
     *
     * @param instanceId the new owner
     * @return the entry with that owner
     */
    public Entry ownedBy(String instanceId) {
      return new Entry(generationId, provider, remoteJobId, handles, requestHash, deadline, startedAt, instanceId, state,
          cacheKey, estimatedCost);
    }
  }

  /** How long an instance's lease lasts without a heartbeat unless told otherwise: 10 s. */
  Duration DEFAULT_LEASE = Duration.ofSeconds(10);

  /**
   * The journal a service uses when none is given: open jobs held in this JVM's memory, lost at
   * exit (so a crash loses them; see {@link #directory(Path)} for that). Thread-safe.
   *
   * @return a new, empty journal
   */

  static JobJournal inMemory() {
    return new InMemoryJobJournal();
  }

  /**
   * A durable journal that needs no server: one small JSON file per open job in {@code dir}
   * (written to a temporary file, forced to disk, moved into place atomically, removed when the
   * job ends; kept, in state {@code cancel-failed}, when its cancel failed, so that a later
   * recovery cancels it), and one lease file per instance, refreshed by a heartbeat; an instance whose lease
   * is older than 10 seconds is taken for dead and its entries may be adopted. Two processes may
   * share a directory: there is no shared index, each reads the directory.
   *
   * @param dir the directory, created if missing
   * @return the journal
   * @throws ConfigurationException when the directory cannot be created or written
   */
  static JobJournal directory(Path dir) {
    return new DirectoryJobJournal(dir, DirectoryJobJournal.DEFAULT_LEASE);
  }

  /**
   * Like {@link #directory(Path)}, with the lease time given.
   *
   * @param dir the directory, created if missing
   * @param lease how long an instance's lease lasts without a heartbeat, at least 100 ms
   * @return the journal
   * @throws ConfigurationException when the directory cannot be created or written
   */
  static JobJournal directory(Path dir, Duration lease) {
    return new DirectoryJobJournal(dir, lease);
  }
}
