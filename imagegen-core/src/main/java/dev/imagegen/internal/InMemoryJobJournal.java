package dev.imagegen.internal;

import dev.imagegen.JobJournal;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/** The default {@link JobJournal}, in memory. */
public final class InMemoryJobJournal implements JobJournal {
  private final ConcurrentHashMap<String, Entry> open = new ConcurrentHashMap<>();

  @Override
  public void started(Entry entry) {
    open.put(key(entry.generationId(), entry.remoteJobId()), entry);
  }

  @Override
  public void ended(String generationId, String remoteJobId, String status) {
    open.remove(key(generationId, remoteJobId));
  }

  private static String key(String generationId, String remoteJobId) {
    return generationId + '\u0000' + remoteJobId;
  }

  @Override
  public boolean adopt(Entry entry, String newOwner) {
    boolean[] adopted = new boolean[1];
    open.computeIfPresent(key(entry.generationId(), entry.remoteJobId()), (k, now) -> {
      if (!now.owner().equals(entry.owner())) {
        return now;
      }
      adopted[0] = true;
      return now.ownedBy(newOwner);
    });
    return adopted[0];
  }

  @Override
  public List<Entry> open() {
    return List.copyOf(open.values());
  }
}
