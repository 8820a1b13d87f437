package dev.imagegen.redis;

import dev.imagegen.JobJournal;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.io.TempDir;

/** The journal contract on core's {@link JobJournal#directory(Path, Duration)}: the model. */
class DirectoryJobJournalContractTest extends JobJournalContract {
  @TempDir Path dir;

  @Override
  JobJournal journal(Duration lease) {
    return JobJournal.directory(dir, lease);
  }

  @Override
  void crash(JobJournal journal, String instanceId) {
    journal.leave(instanceId); // stops the heartbeat; a dead process leaves its lease file behind, as now
    try {
      Files.writeString(dir.resolve(instanceId + ".lease"), "x");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
