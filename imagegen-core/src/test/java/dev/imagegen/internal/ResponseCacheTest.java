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
