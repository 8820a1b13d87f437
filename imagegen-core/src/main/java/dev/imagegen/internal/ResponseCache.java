package dev.imagegen.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.CacheConfig;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The content-addressed response cache: an in-memory LRU bounded by entries and bytes, or a directory store with atomic writes. */
abstract class ResponseCache {
  private static final Logger LOG = LoggerFactory.getLogger(ResponseCache.class);

  /** What a cache entry holds. */
  record Entry(String provider, String model, List<GeneratedImage> images, Map<String, String> metadata) {}

  static ResponseCache create(CacheConfig config, ObjectMapper json) {
    return config.directory() == null
        ? new Memory(config.maxEntries(), config.maxMemoryBytes())
        : new Directory(config.directory(), config.maxBytes(), json);
  }

  abstract @Nullable Entry get(String key);

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
   * each image's SHA-256). An entry is written into a temporary directory and moved into place
   * atomically, so a crash mid-write leaves no entry; an entry whose files do not match its
   * hashes is treated as absent and removed. Oldest entries are evicted past the size bound.
   */
  static final class Directory extends ResponseCache {
    private final Path dir;
    private final long maxBytes;
    private final ObjectMapper json;

    Directory(Path dir, long maxBytes, ObjectMapper json) {
      this.dir = dir;
      this.maxBytes = maxBytes;
      this.json = json;
      try {
        Files.createDirectories(dir);
        try (Stream<Path> s = Files.list(dir)) {
          s.filter(p -> p.getFileName().toString().startsWith(".tmp-")).forEach(Directory::deleteQuietly);
        }
      } catch (IOException e) {
        throw new java.io.UncheckedIOException("cannot use cache directory " + dir, e);
      }
    }

    @Override
    synchronized @Nullable Entry get(String key) {
      Path d = dir.resolve(key);
      Path meta = d.resolve("entry.json");
      if (!Files.isRegularFile(meta)) {
        return null;
      }
      try {
        JsonNode n = json.readTree(meta.toFile());
        List<GeneratedImage> images = new ArrayList<>();
        for (JsonNode i : n.path("images")) {
          byte[] bytes = Files.readAllBytes(d.resolve(i.path("file").asText()));
          if (!sha256(bytes).equals(i.path("sha256").asText())) {
            throw new IOException("hash mismatch");
          }
          images.add(new GeneratedImage(bytes, i.path("mediaType").asText(), i.path("width").asInt(), i.path("height").asInt(),
              i.hasNonNull("seed") ? i.get("seed").asLong() : null, null, false));
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        n.path("metadata").fields().forEachRemaining(e -> metadata.put(e.getKey(), e.getValue().asText()));
        if (images.isEmpty()) {
          throw new IOException("no images");
        }
        Files.setLastModifiedTime(meta, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis()));
        return new Entry(n.path("provider").asText(), n.path("model").asText(), images, metadata);
      } catch (IOException | RuntimeException e) {
        LOG.warn("cache entry {} is unreadable ({}); removing it", key, e.toString());
        deleteQuietly(d);
        return null;
      }
    }

    @Override
    synchronized void put(String key, Entry entry) {
      Path tmp = dir.resolve(".tmp-" + UUID.randomUUID());
      try {
        Files.createDirectories(tmp);
        ObjectNode meta = json.createObjectNode();
        meta.put("provider", entry.provider());
        meta.put("model", entry.model());
        ArrayNode imgs = meta.putArray("images");
        int i = 0;
        for (GeneratedImage img : entry.images()) {
          ImageFormat f = img.format();
          String file = "image-" + i++ + "." + f.extension();
          Files.write(tmp.resolve(file), img.bytes());
          ObjectNode o = imgs.addObject();
          o.put("file", file).put("mediaType", img.mediaType()).put("width", img.width()).put("height", img.height())
              .put("sha256", sha256(img.bytes()));
          if (img.seed() != null) {
            o.put("seed", img.seed());
          }
        }
        ObjectNode md = meta.putObject("metadata");
        entry.metadata().forEach(md::put);
        Files.write(tmp.resolve("entry.json"), json.writeValueAsBytes(meta)); // written last
        Path target = dir.resolve(key);
        if (Files.exists(target)) {
          deleteQuietly(tmp);
          return;
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        evict();
      } catch (IOException e) {
        LOG.warn("could not write cache entry {}: {}", key, e.toString());
        deleteQuietly(tmp);
      }
    }

    private void evict() throws IOException {
      List<Path> entries = new ArrayList<>();
      try (Stream<Path> s = Files.list(dir)) {
        s.filter(p -> !p.getFileName().toString().startsWith(".tmp-") && Files.isDirectory(p)).forEach(entries::add);
      }
      long total = 0;
      Map<Path, Long> sizes = new LinkedHashMap<>();
      for (Path e : entries) {
        long sz = size(e);
        sizes.put(e, sz);
        total += sz;
      }
      if (total <= maxBytes) {
        return;
      }
      entries.sort(Comparator.comparingLong(Directory::modified));
      for (Iterator<Path> it = entries.iterator(); it.hasNext() && total > maxBytes; ) {
        Path e = it.next();
        total -= sizes.get(e);
        deleteQuietly(e);
      }
    }

    private static long modified(Path p) {
      try {
        return Files.getLastModifiedTime(p.resolve("entry.json")).toMillis();
      } catch (IOException e) {
        return 0;
      }
    }

    private static long size(Path d) throws IOException {
      try (Stream<Path> s = Files.walk(d)) {
        return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
      }
    }

    private static void deleteQuietly(Path p) {
      try (Stream<Path> s = Files.walk(p)) {
        s.sorted(Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
      } catch (IOException e) {
        // best effort
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
