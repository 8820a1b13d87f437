package dev.imagegen.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.CacheConfig;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageFormat;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The content-addressed response cache: an in-memory LRU bounded by entries and bytes, or a
 * directory store with atomic writes. A cache never fails the caller: {@link #get} and
 * {@link #put} do not throw, and a store that cannot do its work degrades to misses and no-ops.
 */
abstract class ResponseCache {
  private static final Logger LOG = LoggerFactory.getLogger(ResponseCache.class);

  /** What a cache entry holds. */
  record Entry(String provider, String model, List<GeneratedImage> images, Map<String, String> metadata) {}

  static ResponseCache create(CacheConfig config, ObjectMapper json) {
    return config.directory() == null
        ? new Memory(config.maxEntries(), config.maxMemoryBytes())
        : new Directory(config.directory(), config.maxBytes(), json);
  }

  /** The entry under {@code key}, or null on a miss or on any failure to read it. Never throws. */
  abstract @Nullable Entry get(String key);

  /** Stores an entry, or does nothing when it cannot. Never throws. */
  abstract void put(String key, Entry entry);

  static long imageBytes(Entry e) {
    long n = 0;
    for (GeneratedImage i : e.images()) {
      n += i.bytes().length;
    }
    return n;
  }

  /** An LRU in memory, bounded by its number of entries and by the total bytes of their images. */
  static final class Memory extends ResponseCache {
    private final int maxEntries;
    private final long maxBytes;
    private final LinkedHashMap<String, Entry> map = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;

    Memory(int maxEntries, long maxBytes) {
      this.maxEntries = maxEntries;
      this.maxBytes = maxBytes;
    }

    @Override
    synchronized @Nullable Entry get(String key) {
      return map.get(key);
    }

    @Override
    synchronized void put(String key, Entry entry) {
      long size = imageBytes(entry);
      Entry old = map.remove(key);
      if (old != null) {
        bytes -= imageBytes(old);
      }
      if (size > maxBytes) {
        return; // would evict everything else and still not fit
      }
      map.put(key, entry);
      bytes += size;
      for (Iterator<Entry> it = map.values().iterator(); it.hasNext() && (map.size() > maxEntries || bytes > maxBytes); ) {
        bytes -= imageBytes(it.next());
        it.remove();
      }
    }

    /** The bytes of image data held now. */
    synchronized long bytes() {
      return bytes;
    }
  }

  /**
   * One directory per entry, named by its key, holding the images and {@code entry.json} (with
   * each image's SHA-256), possibly shared with other stores and other processes.
   *
   * <p>Writes: an entry is written into a temporary directory {@code .tmp-<pid>-<uuid>} and moved
   * into place atomically, so a reader never sees a half-written entry. Temporary directories of
   * other writers are left alone; only ones older than {@link #TEMP_MAX_AGE} (a crash's leftovers)
   * are removed. Removing an entry first renames it to a temporary name, so it vanishes at once.
   *
   * <p>Reads: an entry whose files are missing is a miss; one that does not parse or whose files
   * do not match their hashes is a miss and is removed (the next put writes it again).
   *
   * <p>Size bound: the store keeps an index of entries (key, size, oldest used first) built from
   * the directory on the first put, updated by its own puts, gets and evictions, and evicts from
   * it, so a put costs O(1) amortized. Entries other stores add are learnt by re-indexing, which a
   * put triggers once the store has made as many puts as the directory held at the last indexing
   * (at least {@link #MIN_PUTS_BETWEEN_SCANS}), outside the lock, so concurrent gets and puts go
   * on meanwhile. With several stores on one directory the bound is therefore approximate between
   * re-indexings: each store keeps what it knows of within {@code maxBytes}.
   *
   * <p>Failures: an IO failure is caught, the operation becomes a miss or a no-op, and the first
   * one is logged at WARN naming the directory (later ones at DEBUG).
   */
  static final class Directory extends ResponseCache {
    /** A temporary directory younger than this may be another writer's and is left alone. */
    static final Duration TEMP_MAX_AGE = Duration.ofHours(1);
    static final int MIN_PUTS_BETWEEN_SCANS = 256;
    private static final String TEMP_PREFIX = ".tmp-";
    private static final String META = "entry.json";
    private static final long PID = pid();

    private final Path dir;
    private final long maxBytes;
    private final ObjectMapper json;
    private final Object lock = new Object();
    /** Key to size in bytes, least recently used first. Guarded by {@link #lock}. */
    private final LinkedHashMap<String, Long> index = new LinkedHashMap<>(16, 0.75f, true);
    /** Entries put while a scan runs, merged into its result. Guarded by {@link #lock}. */
    private final Map<String, Long> putDuringScan = new LinkedHashMap<>();
    private long indexedBytes;
    private boolean indexed;
    private boolean scanning;
    private int putsSinceScan;
    private int entriesAtScan;
    private final AtomicInteger scans = new AtomicInteger();
    private final AtomicBoolean warned = new AtomicBoolean();
    private final AtomicInteger warnings = new AtomicInteger();
    private volatile @Nullable String lastWarning;

    /** Does no IO beyond creating the directory, and never throws. */
    Directory(Path dir, long maxBytes, ObjectMapper json) {
      this.dir = dir;
      this.maxBytes = maxBytes;
      this.json = json;
      try {
        Files.createDirectories(dir);
      } catch (IOException | RuntimeException e) {
        problem("cannot create the directory", e);
      }
    }

    @Override
    @Nullable Entry get(String key) {
      try {
        return read(key);
      } catch (RuntimeException e) {
        problem("cannot read entry " + key, e);
        return null;
      }
    }

    private @Nullable Entry read(String key) {
      if (key.startsWith(".")) {
        return null;
      }
      Path d = dir.resolve(key);
      Path meta = d.resolve(META);
      Entry entry;
      boolean metaRead = false;
      try {
        byte[] m = Files.readAllBytes(meta);
        metaRead = true;
        JsonNode n = json.readTree(m);
        List<GeneratedImage> images = new ArrayList<>();
        for (JsonNode i : n.path("images")) {
          byte[] bytes = Files.readAllBytes(d.resolve(i.path("file").asText()));
          if (!sha256(bytes).equals(i.path("sha256").asText())) {
            throw new IOException("an image does not match its hash");
          }
          images.add(new GeneratedImage(bytes, i.path("mediaType").asText(), i.path("width").asInt(), i.path("height").asInt(),
              i.hasNonNull("seed") ? i.get("seed").asLong() : null, null, false));
        }
        if (images.isEmpty()) {
          throw new IOException("no images");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        n.path("metadata").fields().forEachRemaining(e -> metadata.put(e.getKey(), e.getValue().asText()));
        entry = new Entry(n.path("provider").asText(), n.path("model").asText(), images, metadata);
      } catch (NoSuchFileException e) {
        if (metaRead && Files.isRegularFile(meta)) { // in place but lacking an image: broken, not being removed
          problem("entry " + key + " lacks " + e.getFile() + "; removing it", e);
          remove(key);
        }
        return null; // absent, or removed while being read
      } catch (IOException | RuntimeException e) {
        if (Files.isDirectory(dir) && Files.exists(d, LinkOption.NOFOLLOW_LINKS)) {
          problem("entry " + key + " is unreadable (" + e + "); removing it", e);
          remove(key);
        } else {
          problem("cannot read entry " + key, e);
        }
        return null;
      }
      synchronized (lock) {
        index.get(key); // most recently used
      }
      try {
        Files.setLastModifiedTime(meta, FileTime.fromMillis(System.currentTimeMillis())); // recency for other stores
      } catch (IOException | RuntimeException e) {
        // it was read whole; evicted meanwhile, or read-only: either way the hit stands
      }
      return entry;
    }

    @Override
    void put(String key, Entry entry) {
      Path tmp = null;
      try {
        if (key.startsWith(".")) {
          return;
        }
        scanIfDue(false);
        Path target = dir.resolve(key);
        if (Files.exists(target)) {
          return; // entries are immutable: another writer stored it first
        }
        tmp = dir.resolve(TEMP_PREFIX + PID + "-" + UUID.randomUUID());
        long size = write(tmp, entry);
        if (!moveIntoPlace(tmp, target)) {
          return;
        }
        tmp = null;
        List<String> victims;
        synchronized (lock) {
          index.put(key, size);
          indexedBytes += size;
          if (scanning) {
            putDuringScan.put(key, size);
          }
          putsSinceScan++;
          victims = victims();
        }
        victims.forEach(this::remove);
        scanIfDue(true);
      } catch (IOException | RuntimeException e) {
        problem("cannot write entry " + key, e);
      } finally {
        if (tmp != null) {
          deleteTree(tmp);
        }
      }
    }

    private long write(Path tmp, Entry entry) throws IOException {
      try {
        Files.createDirectory(tmp);
      } catch (NoSuchFileException e) { // the directory was removed under the store: start it again
        Files.createDirectories(dir);
        Files.createDirectory(tmp);
      }
      long size = 0;
      ObjectNode meta = json.createObjectNode();
      meta.put("provider", entry.provider());
      meta.put("model", entry.model());
      ArrayNode imgs = meta.putArray("images");
      int i = 0;
      for (GeneratedImage img : entry.images()) {
        ImageFormat f = img.format();
        String file = "image-" + i++ + "." + f.extension();
        Files.write(tmp.resolve(file), img.bytes());
        size += img.bytes().length;
        ObjectNode o = imgs.addObject();
        o.put("file", file).put("mediaType", img.mediaType()).put("width", img.width()).put("height", img.height())
            .put("sha256", sha256(img.bytes()));
        if (img.seed() != null) {
          o.put("seed", img.seed());
        }
      }
      ObjectNode md = meta.putObject("metadata");
      entry.metadata().forEach(md::put);
      byte[] m = json.writeValueAsBytes(meta);
      Files.write(tmp.resolve(META), m); // written last
      return size + m.length;
    }

    /** Moves a written entry into place; false when another writer put the same key first. */
    private static boolean moveIntoPlace(Path tmp, Path target) throws IOException {
      try {
        try {
          Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
          Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
        return true;
      } catch (IOException e) {
        if (Files.isDirectory(target)) {
          return false; // (a non-empty directory is never replaced)
        }
        throw e;
      }
    }

    /** What to evict to get back within the bound, taken out of the index. Holds {@link #lock}. */
    private List<String> victims() {
      List<String> out = new ArrayList<>();
      for (Iterator<Map.Entry<String, Long>> it = index.entrySet().iterator(); it.hasNext() && indexedBytes > maxBytes; ) {
        Map.Entry<String, Long> e = it.next();
        indexedBytes -= e.getValue();
        out.add(e.getKey());
        it.remove();
      }
      return out;
    }

    /**
     * Builds the index when there is none yet ({@code afterPut} false), or rebuilds it once enough
     * puts have been made since the last time ({@code afterPut} true). One scan at a time; the
     * lock is not held while the directory is read.
     */
    private void scanIfDue(boolean afterPut) {
      synchronized (lock) {
        boolean due = afterPut ? indexed && putsSinceScan >= Math.max(MIN_PUTS_BETWEEN_SCANS, entriesAtScan) : !indexed;
        if (!due || scanning) {
          return;
        }
        scanning = true;
        putDuringScan.clear();
      }
      List<Found> found = null;
      try {
        found = scan();
      } finally {
        List<String> victims = List.of();
        synchronized (lock) {
          if (found != null) {
            index.clear();
            indexedBytes = 0;
            for (Found f : found) {
              index.put(f.key, f.size);
              indexedBytes += f.size;
            }
            putDuringScan.forEach((k, v) -> {
              Long before = index.remove(k);
              indexedBytes += v - (before == null ? 0 : before);
              index.put(k, v);
            });
            victims = victims();
          }
          putDuringScan.clear();
          scanning = false;
          indexed = true;
          putsSinceScan = 0;
          entriesAtScan = index.size();
        }
        victims.forEach(this::remove);
      }
    }

    private record Found(String key, long size, long used) {}

    /** Reads every entry's size and last use, oldest first; removes stale temporary directories. */
    private @Nullable List<Found> scan() {
      scans.incrementAndGet();
      long staleBefore = System.currentTimeMillis() - TEMP_MAX_AGE.toMillis();
      List<Found> found = new ArrayList<>();
      try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
        for (Path p : entries) {
          String name = p.getFileName().toString();
          try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            if (!a.isDirectory()) {
              continue;
            }
            if (name.startsWith(TEMP_PREFIX)) {
              if (a.lastModifiedTime().toMillis() < staleBefore) {
                deleteTree(p);
              }
            } else if (!name.startsWith(".")) {
              long size = 0;
              try (DirectoryStream<Path> files = Files.newDirectoryStream(p)) {
                for (Path f : files) {
                  size += Files.size(f);
                }
              }
              found.add(new Found(name, size, Files.getLastModifiedTime(p.resolve(META)).toMillis()));
            }
          } catch (IOException | RuntimeException e) {
            // removed or replaced while listed, or not an entry: not indexed (a get removes a broken one)
          }
        }
      } catch (IOException | RuntimeException e) {
        problem("cannot list the directory", e);
        return null;
      }
      found.sort(Comparator.comparingLong(Found::used));
      return found;
    }

    /** Removes an entry: renamed away first, so it disappears whole, then deleted. */
    private void remove(String key) {
      Path d = dir.resolve(key);
      Path trash = dir.resolve(TEMP_PREFIX + PID + "-" + UUID.randomUUID());
      synchronized (lock) {
        Long size = index.remove(key);
        if (size != null) {
          indexedBytes -= size;
        }
      }
      try {
        Files.move(d, trash, StandardCopyOption.ATOMIC_MOVE);
      } catch (NoSuchFileException e) {
        return; // another store removed it
      } catch (IOException | RuntimeException e) {
        trash = d; // cannot rename here: delete in place
      }
      deleteTree(trash);
    }

    /** Deletes a tree as far as it can; files vanishing meanwhile are fine. */
    private void deleteTree(Path p) {
      try {
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
            Files.deleteIfExists(file);
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFileFailed(Path file, IOException e) {
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult postVisitDirectory(Path d, @Nullable IOException e) throws IOException {
            Files.deleteIfExists(d);
            return FileVisitResult.CONTINUE;
          }
        });
      } catch (NoSuchFileException e) {
        // gone already
      } catch (IOException | RuntimeException e) {
        problem("cannot delete " + p.getFileName(), e);
      }
    }

    private void problem(String what, Throwable e) {
      String msg = "response cache in " + dir + ": " + what + " (" + e + ")";
      if (warned.compareAndSet(false, true)) {
        warnings.incrementAndGet();
        lastWarning = msg;
        LOG.warn("{}; the cache skips what fails and logs further problems at DEBUG", msg);
      } else {
        LOG.debug(msg);
      }
    }

    /** How many times the directory was listed to build the index. */
    int scans() {
      return scans.get();
    }

    /** How many entries the index holds now. */
    int indexedEntries() {
      synchronized (lock) {
        return index.size();
      }
    }

    /** How many problems were logged at WARN. */
    int warnings() {
      return warnings.get();
    }

    @Nullable String lastWarning() {
      return lastWarning;
    }

    private static long pid() {
      try {
        return ProcessHandle.current().pid();
      } catch (RuntimeException e) {
        return 0; // the UUID alone keeps names unique
      }
    }
  }

  static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
