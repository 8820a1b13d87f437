package dev.imagegen.redis;

import dev.imagegen.JobJournal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/** The journal contract on {@link RedisJobJournal}, against a real redis-server. */
class RedisJobJournalContractTest extends JobJournalContract {
  private static RedisServer redis;
  private final List<RedisJobJournal> opened = new ArrayList<>();

  @BeforeAll
  static void startRedis() {
    redis = RedisServer.start();
  }

  @AfterAll
  static void stopRedis() {
    redis.close();
  }

  @BeforeEach
  void empty() {
    redis.command("FLUSHALL");
  }

  @AfterEach
  void closeJournals() {
    opened.forEach(RedisJobJournal::close);
  }

  @Override
  JobJournal journal(Duration lease) {
    RedisJobJournal j = RedisJobJournal.builder().url(redis.url()).leaseTtl(lease).build();
    opened.add(j);
    return j;
  }

  @Override
  void crash(JobJournal journal, String instanceId) {
    ((RedisJobJournal) journal).close(); // the heartbeat stops; the lease key is left to expire
  }
}
