package dev.imagegen.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.GeneratedImage;
import dev.imagegen.testing.TestImages;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResponseCacheTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The entry stored under key number {@code k}: three small images that identify it. */
  private static ResponseCache.Entry entry(int k) {
    List<GeneratedImage> images = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      images.add(GeneratedImage.of(TestImages.webp(k + 1, i + 1), (long) k, null, false));
    }
    return new ResponseCache.Entry("p", "m-" + k, images, Map.of("key", String.valueOf(k)));
  }

  private static String key(int k) {
    return String.format("k%04d", k);
  }

  private static void assertComplete(ResponseCache.Entry got, int k) {
    ResponseCache.Entry want = entry(k);
    assertThat(got.provider()).isEqualTo(want.provider());
    assertThat(got.model()).isEqualTo(want.model());
    assertThat(got.images()).isEqualTo(want.images());
    assertThat(got.metadata()).isEqualTo(want.metadata());
  }

  private static long entriesOnDisk(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> !p.getFileName().toString().startsWith(".")).count();
    }
  }

  // ------------------------------------------------------------------ shared directory

  @Test
  void twoStoresSharingADirectoryUnderConcurrentPutGetAndEvictionNeverThrowAndServeOnlyCompleteEntries(@TempDir Path dir)
      throws Exception {
    // about four entries fit, so nearly every put evicts, often what the other store is reading or evicting
    ResponseCache.Directory a = new ResponseCache.Directory(dir, 2_500, JSON);
    ResponseCache.Directory b = new ResponseCache.Directory(dir, 2_500, JSON);
    int threadsPerStore = 3;
    int opsPerThread = 400;
    Queue<Throwable> escaped = new ConcurrentLinkedQueue<>();
    AtomicInteger hits = new AtomicInteger();
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(threadsPerStore * 2);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threadsPerStore * 2; t++) {
        ResponseCache.Directory store = t % 2 == 0 ? a : b;
        Random rnd = new Random(t);
        done.add(pool.submit(() -> {
          start.await();
          for (int i = 0; i < opsPerThread; i++) {
            int k = rnd.nextInt(12);
            try {
              if (rnd.nextBoolean()) {
                store.put(key(k), entry(k));
              } else {
                ResponseCache.Entry got = store.get(key(k));
                if (got != null) {
                  assertComplete(got, k);
                  hits.incrementAndGet();
                }
              }
            } catch (Throwable e) {
              escaped.add(e);
            }
          }
          return null;
        }));
      }
      start.countDown();
      for (Future<?> f : done) {
        f.get(2, TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(escaped).isEmpty();
    assertThat(hits).hasPositiveValue();
    // both stores still work on the directory afterwards
    a.put(key(99), entry(99));
    assertComplete(b.get(key(99)), 99);
  }

  @Test
  void openingAStoreKeepsAnotherWritersFreshTempDirectoryAndCleansOnlyStaleOnes(@TempDir Path dir) throws Exception {
    Path inProgress = Files.createDirectory(dir.resolve(".tmp-4242-in-progress"));
    Files.write(inProgress.resolve("image-0.webp"), TestImages.webp(2, 2));
    Path crashed = Files.createDirectory(dir.resolve(".tmp-17-crashed"));
    Files.write(crashed.resolve("image-0.webp"), TestImages.webp(2, 2));
    Files.setLastModifiedTime(crashed, FileTime.from(Instant.now().minus(Duration.ofHours(3))));

    ResponseCache.Directory store = new ResponseCache.Directory(dir, 10_000_000, JSON);
    assertThat(inProgress.resolve("image-0.webp")).exists();
    store.put(key(1), entry(1));
    store.get(key(1));
    assertThat(inProgress.resolve("image-0.webp")).exists();
    assertThat(crashed).doesNotExist();
    // a temp directory is never read as an entry
    assertThat(store.get(".tmp-4242-in-progress")).isNull();
    assertComplete(store.get(key(1)), 1);
  }

  @Test
  void aPutIntoADirectoryOfTwoThousandEntriesDoesNotRescanIt(@TempDir Path dir) throws Exception {
    // two thousand entries as another process left them (copies of one, written without the store under test)
    new ResponseCache.Directory(dir, Long.MAX_VALUE, JSON).put(key(0), entry(0));
    List<Path> files;
    try (Stream<Path> s = Files.list(dir.resolve(key(0)))) {
      files = s.toList();
    }
    for (int k = 1; k < 2_000; k++) {
      Path d = Files.createDirectory(dir.resolve(key(k)));
      for (Path f : files) {
        Files.copy(f, d.resolve(f.getFileName()));
      }
    }
    assertThat(entriesOnDisk(dir)).isEqualTo(2_000);

    ResponseCache.Directory store = new ResponseCache.Directory(dir, Long.MAX_VALUE, JSON);
    store.put(key(2_000), entry(2_000)); // the first put builds the index
    int afterFirst = store.scans();
    assertThat(afterFirst).isEqualTo(1);
    for (int k = 2_001; k < 2_100; k++) {
      store.put(key(k), entry(k));
      assertComplete(store.get(key(k)), k);
    }
    assertThat(store.scans()).isEqualTo(afterFirst);
    assertThat(entriesOnDisk(dir)).isEqualTo(2_100);
  }

  @Test
  void aStoreLearnsOfAnotherStoresEntriesByReindexingAfterAsManyPutsAsItLastFound(@TempDir Path dir) throws Exception {
    ResponseCache.Directory a = new ResponseCache.Directory(dir, Long.MAX_VALUE, JSON);
    ResponseCache.Directory b = new ResponseCache.Directory(dir, Long.MAX_VALUE, JSON);
    a.put(key(0), entry(0));
    for (int k = 1; k <= 10; k++) {
      b.put(key(k), entry(k));
    }
    assertThat(a.indexedEntries()).isEqualTo(1);
    int puts = ResponseCache.Directory.MIN_PUTS_BETWEEN_SCANS;
    for (int k = 100; k < 100 + puts - 2; k++) { // with the first, one put short of a re-index
      a.put(key(k), entry(k));
    }
    assertThat(a.scans()).isEqualTo(1);
    a.put(key(99), entry(99));
    assertThat(a.scans()).isEqualTo(2);
    assertThat(a.indexedEntries()).isEqualTo(10 + puts).isEqualTo((int) entriesOnDisk(dir));
  }

  @Test
  void aStoreEvictsFromItsIndexOldestFirstIncludingEntriesItFoundOnDisk(@TempDir Path dir) throws Exception {
    ResponseCache.Directory first = new ResponseCache.Directory(dir, Long.MAX_VALUE, JSON);
    first.put(key(1), entry(1));
    first.put(key(2), entry(2));
    long perEntry;
    try (Stream<Path> w = Files.walk(dir)) {
      perEntry = w.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum() / 2;
    }
    Files.setLastModifiedTime(dir.resolve(key(1)).resolve("entry.json"), FileTime.from(Instant.now().minusSeconds(60)));
    ResponseCache.Directory second = new ResponseCache.Directory(dir, perEntry * 2 + perEntry / 2, JSON);
    second.put(key(3), entry(3));
    assertThat(dir.resolve(key(1))).doesNotExist();
    assertThat(dir.resolve(key(2))).exists();
    second.put(key(4), entry(4));
    assertThat(dir.resolve(key(2))).doesNotExist();
    assertComplete(second.get(key(3)), 3);
    assertComplete(second.get(key(4)), 4);
  }

  // ------------------------------------------------------------------ failures degrade to misses

  @Test
  void aCacheDirectoryReplacedByAFileMakesPutANoOpAndGetAMissWithOneWarning(@TempDir Path root) throws Exception {
    Path dir = root.resolve("cache");
    ResponseCache.Directory store = new ResponseCache.Directory(dir, 10_000_000, JSON);
    store.put(key(1), entry(1));
    assertComplete(store.get(key(1)), 1);
    assertThat(store.warnings()).isZero();

    try (Stream<Path> w = Files.walk(dir)) {
      w.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
    Files.writeString(dir, "not a directory");
    for (int k = 2; k < 6; k++) {
      store.put(key(k), entry(k));
      assertThat(store.get(key(k))).isNull();
    }
    assertThat(store.get(key(1))).isNull();
    assertThat(store.warnings()).isEqualTo(1);
    assertThat(store.lastWarning()).contains(dir.toString());
    assertThat(Files.readString(dir)).isEqualTo("not a directory");
  }

  @Test
  void aStoreWhoseDirectoryIsRemovedStartsItAgainOnTheNextPut(@TempDir Path root) throws Exception {
    Path dir = root.resolve("cache");
    ResponseCache.Directory store = new ResponseCache.Directory(dir, 10_000_000, JSON);
    store.put(key(1), entry(1));
    try (Stream<Path> w = Files.walk(dir)) {
      w.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
    assertThat(store.get(key(1))).isNull();
    store.put(key(2), entry(2));
    assertComplete(store.get(key(2)), 2);
    assertThat(store.warnings()).isZero();
  }

  @Test
  void aStoreOnAPathThatIsAFileConstructsAndDegradesToMisses(@TempDir Path root) throws Exception {
    Path file = Files.writeString(root.resolve("cache"), "x");
    ResponseCache.Directory store = new ResponseCache.Directory(file, 10_000_000, JSON);
    store.put(key(1), entry(1));
    assertThat(store.get(key(1))).isNull();
    assertThat(store.warnings()).isEqualTo(1);
    assertThat(store.lastWarning()).contains(file.toString());
  }

  @Test
  void truncatedOrMalformedEntriesAreMissesAndAreReplacedByTheNextPut(@TempDir Path dir) throws Exception {
    ResponseCache.Directory store = new ResponseCache.Directory(dir, 10_000_000, JSON);
    // entry.json cut short
    store.put(key(1), entry(1));
    Path meta = dir.resolve(key(1)).resolve("entry.json");
    byte[] full = Files.readAllBytes(meta);
    Files.write(meta, java.util.Arrays.copyOf(full, full.length / 2));
    assertThat(store.get(key(1))).isNull();
    store.put(key(1), entry(1));
    assertComplete(store.get(key(1)), 1);
    // an image cut short
    store.put(key(2), entry(2));
    Path image;
    try (Stream<Path> s = Files.list(dir.resolve(key(2)))) {
      image = s.filter(p -> p.getFileName().toString().startsWith("image-")).findFirst().orElseThrow();
    }
    Files.write(image, new byte[] {1, 2});
    assertThat(store.get(key(2))).isNull();
    store.put(key(2), entry(2));
    assertComplete(store.get(key(2)), 2);
    // an image that is a directory
    store.put(key(3), entry(3));
    Path img = dir.resolve(key(3)).resolve("image-0.webp");
    Files.delete(img);
    Files.createDirectories(img.resolve("nested"));
    assertThat(store.get(key(3))).isNull();
    store.put(key(3), entry(3));
    assertComplete(store.get(key(3)), 3);
    // an image deleted from an entry that is otherwise in place
    store.put(key(5), entry(5));
    Files.delete(dir.resolve(key(5)).resolve("image-2.webp"));
    assertThat(store.get(key(5))).isNull();
    store.put(key(5), entry(5));
    assertComplete(store.get(key(5)), 5);
    // an entry name that is a plain file
    Files.writeString(dir.resolve(key(4)), "junk");
    assertThat(store.get(key(4))).isNull();
  }

  // ------------------------------------------------------------------ memory

  @Test
  void theMemoryStoreIsBoundedByBytesOfImageData() {
    long perEntry = entry(1).images().stream().mapToLong(i -> i.bytes().length).sum();
    ResponseCache.Memory store = new ResponseCache.Memory(1_000, perEntry * 3);
    for (int k = 1; k <= 3; k++) {
      store.put(key(k), entry(k));
    }
    assertThat(store.get(key(1))).isNotNull(); // now the most recently used
    store.put(key(4), entry(4));
    store.put(key(5), entry(5));
    assertThat(store.get(key(2))).isNull();
    assertThat(store.get(key(3))).isNull();
    assertThat(store.get(key(1))).isNotNull();
    assertThat(store.get(key(4))).isNotNull();
    assertThat(store.get(key(5))).isNotNull();
    assertThat(store.bytes()).isEqualTo(perEntry * 3);
    // replacing an entry does not count it twice; one larger than the whole bound is not kept
    store.put(key(5), entry(5));
    assertThat(store.bytes()).isEqualTo(perEntry * 3);
    ResponseCache.Memory tiny = new ResponseCache.Memory(1_000, perEntry - 1);
    tiny.put(key(1), entry(1));
    assertThat(tiny.get(key(1))).isNull();
    assertThat(tiny.bytes()).isZero();
  }

  @Test
  void theMemoryStoreStillHonoursItsEntryCount() {
    ResponseCache.Memory store = new ResponseCache.Memory(2, Long.MAX_VALUE);
    for (int k = 1; k <= 3; k++) {
      store.put(key(k), entry(k));
    }
    assertThat(store.get(key(1))).isNull();
    assertThat(store.get(key(3))).isNotNull();
  }
}
