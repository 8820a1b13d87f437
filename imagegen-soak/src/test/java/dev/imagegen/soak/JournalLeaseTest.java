package dev.imagegen.soak;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.JobJournal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Leases in a directory journal shared by instances configured with different lease lengths. */
class JournalLeaseTest {
  @TempDir Path dir;

  @Test
  void aLiveInstanceWithALongerLeaseIsNotTakenForDead() throws Exception {
    JobJournal writer = JobJournal.directory(dir, Duration.ofSeconds(60)); // beats every 20 s
    writer.join("slow-beat");
    try {
      // 15 s after its last heartbeat: on schedule, its next beat is due in 5 s
      Files.setLastModifiedTime(dir.resolve("slow-beat.lease"), FileTime.from(Instant.now().minusSeconds(15)));
      JobJournal reader = JobJournal.directory(dir); // the default lease, 10 s
      assertThat(reader.leaseLive("slow-beat")).as("an instance on its heartbeat schedule is alive").isTrue();
    } finally {
      writer.leave("slow-beat");
    }
  }

  @Test
  void aLeaseOnItsOwnScheduleIsLiveToAReaderWithTheSameLease() throws Exception {
    JobJournal writer = JobJournal.directory(dir, Duration.ofSeconds(60));
    writer.join("slow-beat");
    try {
      Files.setLastModifiedTime(dir.resolve("slow-beat.lease"), FileTime.from(Instant.now().minusSeconds(15)));
      assertThat(JobJournal.directory(dir, Duration.ofSeconds(60)).leaseLive("slow-beat")).isTrue();
      Files.setLastModifiedTime(dir.resolve("slow-beat.lease"), FileTime.from(Instant.now().minusSeconds(61)));
      assertThat(JobJournal.directory(dir, Duration.ofSeconds(60)).leaseLive("slow-beat")).isFalse();
    } finally {
      writer.leave("slow-beat");
    }
  }
}
