package dev.imagegen.soak;

import dev.imagegen.JobJournal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The job journal the soak's services share (as instances of one application would share a
 * persistent one): it remembers every remote job the SDK was told of, which is how the soak knows
 * that the SDK learned a job's id (a server cannot tell whether its answer was read before the
 * client gave up). Thread-safe.
 */
final class RecordingJournal implements JobJournal {
  private final Set<String> started = ConcurrentHashMap.newKeySet();
  private final Map<String, Entry> open = new ConcurrentHashMap<>();
  private final Map<String, String> ended = new ConcurrentHashMap<>();

  @Override
  public void started(Entry entry) {
    started.add(key(entry.provider(), entry.remoteJobId()));
    open.put(entry.remoteJobId(), entry);
  }

  @Override
  public void ended(String generationId, String remoteJobId, String status) {
    ended.put(remoteJobId, status);
    open.remove(remoteJobId);
  }

  @Override
  public List<Entry> open() {
    return new ArrayList<>(open.values());
  }

  /** Whether the SDK recorded this provider's job as started. */
  boolean knows(String provider, String remoteJobId) {
    return started.contains(key(provider, remoteJobId));
  }

  private static String key(String provider, String remoteJobId) {
    return provider + '|' + remoteJobId;
  }
}
