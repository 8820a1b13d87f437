package dev.imagegen.internal;

import dev.imagegen.JobJournal;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/** The default {@link JobJournal}, in memory. */
public final class InMemoryJobJournal implements JobJournal {
  private final ConcurrentHashMap<String, Entry> open = new ConcurrentHashMap<>();

  @Override
  public void started(Entry entry) {
    open.put(entry.provider() + "/" + entry.remoteJobId(), entry);
  }

  @Override
  public void ended(String generationId, String remoteJobId, String status) {
    open.values().removeIf(e -> e.remoteJobId().equals(remoteJobId) && e.generationId().equals(generationId));
  }

  @Override
  public List<Entry> open() {
    return List.copyOf(open.values());
  }
}
