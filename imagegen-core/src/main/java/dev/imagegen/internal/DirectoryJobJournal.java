package dev.imagegen.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.ConfigurationException;
import dev.imagegen.JobJournal;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link JobJournal#directory}: one JSON file per open job, {@code <hash>.job.json}, and one lease
 * file per instance, {@code <instance-id>.lease}, whose modification time a daemon heartbeat
 * refreshes every third of the lease; the file records its owner's lease ({@code lease=PT10S}), by
 * which every reader judges it. Every file is written to a temporary {@code .tmp} file in
 * the same directory, forced to disk and moved into place atomically, so a reader sees the old
 * file or the new one, never half of one; temporary files are never read as entries. Adopting an
 * entry ({@link #adopt}) holds an exclusive lock on {@code .adopt.lock} (an OS file lock between
 * processes, a monitor between journals of one process), so two instances never both adopt it.
 */
public final class DirectoryJobJournal implements JobJournal {
  /** How long a lease lasts without a heartbeat unless told otherwise. */
  public static final Duration DEFAULT_LEASE = JobJournal.DEFAULT_LEASE;
  /** What an instance id may hold: it names a file. */
  public static final Pattern INSTANCE_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  private static final Logger LOG = LoggerFactory.getLogger(DirectoryJobJournal.class);
  private static final String JOB = ".job.json";
  private static final String LEASE = ".lease";
  private static final int FORMAT = 1;
  private static final String CANCEL_FAILED = "cancel-failed";

  private final Path dir;
  private final Duration lease;
  private final ObjectMapper json = new ObjectMapper();
  private final Map<String, ScheduledExecutorService> heartbeats = new ConcurrentHashMap<>();
  /** One monitor per directory in this process: file locks exclude other processes, not other channels of this one. */
  private static final Map<Path, Object> ADOPT_MONITORS = new ConcurrentHashMap<>();

  /**
   * Opens a journal in a directory.
   *
   * @param dir the directory, created if missing
   * @param lease how long a lease lasts without a heartbeat
   * @throws ConfigurationException when the directory cannot be created or written
   */
  public DirectoryJobJournal(Path dir, Duration lease) {
    if (lease.toMillis() < 100) {
      throw new IllegalArgumentException("the journal's lease must be at least 100 ms, was " + lease);
    }
    this.dir = dir.toAbsolutePath().normalize();
    this.lease = lease;
    try {
      Files.createDirectories(this.dir);
      Path probe = this.dir.resolve(".probe-" + UUID.randomUUID() + ".tmp");
      writeAtomically(probe.resolveSibling(probe.getFileName() + ".done"), new byte[] {'{', '}'});
      Files.deleteIfExists(probe.resolveSibling(probe.getFileName() + ".done"));
    } catch (IOException | RuntimeException e) {
      throw new ConfigurationException(List.of("job journal directory " + this.dir + " cannot be created or written: " + e));
    }
  }

  /** The directory. */
  public Path directory() {
    return dir;
  }

  @Override
  public void started(Entry entry) {
    ObjectNode n = json.createObjectNode();
    n.put("format", FORMAT);
    n.put("generationId", entry.generationId());
    n.put("provider", entry.provider());
    n.put("remoteJobId", entry.remoteJobId());
    ObjectNode h = n.putObject("handles");
    entry.handles().forEach(h::put);
    n.put("requestHash", entry.requestHash());
    n.put("deadline", entry.deadline().toString());
    n.put("startedAt", entry.startedAt().toString());
    n.put("owner", entry.owner());
    n.put("state", entry.state());
    if (entry.cacheKey() != null) {
      n.put("cacheKey", entry.cacheKey());
    }
    if (entry.estimatedCost() != null) {
      n.put("estimatedCost", entry.estimatedCost());
    }
    try {
      writeAtomically(file(entry.generationId(), entry.remoteJobId()), json.writerWithDefaultPrettyPrinter().writeValueAsBytes(n));
    } catch (IOException e) {
      throw new UncheckedIOException("job journal " + dir + ": cannot record job " + entry.remoteJobId(), e);
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>Under the directory's adopt lock: the file is read again and rewritten only if it still
   * names the owner {@code entry} names.
   *
   * @throws UncheckedIOException when the lock or the file cannot be read or written
   */
  @Override
  public boolean adopt(Entry entry, String newOwner) {
    Path f = file(entry.generationId(), entry.remoteJobId());
    Object monitor = ADOPT_MONITORS.computeIfAbsent(dir, d -> new Object());
    synchronized (monitor) {
      try (FileChannel ch = FileChannel.open(dir.resolve(".adopt.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          java.nio.channels.FileLock lock = ch.lock()) {
        Entry now = Files.exists(f) ? read(f) : null;
        if (now == null || !now.owner().equals(entry.owner())) {
          return false;
        }
        started(now.ownedBy(newOwner));
        return true;
      } catch (IOException e) {
        throw new UncheckedIOException("job journal " + dir + ": cannot adopt job " + entry.remoteJobId(), e);
      }
    }
  }

  /**
   * Removes the job's file; a job whose cancel failed ({@code cancel-failed}) may still run and
   * bill, so its file stays, in state {@code cancel-failed}, for {@code recover()} to cancel later.
   */
  @Override
  public void ended(String generationId, String remoteJobId, String status) {
    Path f = file(generationId, remoteJobId);
    if (CANCEL_FAILED.equals(status)) {
      Entry e = Files.exists(f) ? read(f) : null;
      if (e != null) {
        started(new Entry(e.generationId(), e.provider(), e.remoteJobId(), e.handles(), e.requestHash(), e.deadline(),
            e.startedAt(), e.owner(), CANCEL_FAILED, e.cacheKey(), e.estimatedCost()));
        return;
      }
    }
    try {
      Files.deleteIfExists(f);
    } catch (IOException e) {
      throw new UncheckedIOException("job journal " + dir + ": cannot remove job " + remoteJobId, e);
    }
  }

  @Override
  public List<Entry> open() {
    List<Entry> out = new ArrayList<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + JOB)) {
      for (Path f : files) {
        if (f.getFileName().toString().startsWith(".")) {
          continue;
        }
        Entry e = read(f);
        if (e != null) {
          out.add(e);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("job journal " + dir + ": cannot list the open jobs", e);
    }
    out.sort((a, b) -> a.startedAt().compareTo(b.startedAt()));
    return out;
  }

  private @Nullable Entry read(Path f) {
    try {
      JsonNode n = json.readTree(Files.readAllBytes(f));
      Map<String, String> handles = new LinkedHashMap<>();
      n.path("handles").fields().forEachRemaining(x -> handles.put(x.getKey(), x.getValue().asText()));
      return new Entry(text(n, "generationId"), text(n, "provider"), text(n, "remoteJobId"), handles, text(n, "requestHash"),
          Instant.parse(text(n, "deadline")), Instant.parse(text(n, "startedAt")), text(n, "owner"), text(n, "state"),
          n.hasNonNull("cacheKey") ? n.get("cacheKey").asText() : null,
          n.hasNonNull("estimatedCost") ? n.get("estimatedCost").asText() : null);
    } catch (NoSuchFileException gone) { // ended between the listing and the read
      return null;
    } catch (IOException | RuntimeException e) {
      LOG.warn("job journal {}: {} is not a readable entry, left as it is: {}", dir, f.getFileName(), e.toString());
      return null;
    }
  }

  private static String text(JsonNode n, String field) {
    JsonNode v = n.get(field);
    if (v == null || !v.isTextual()) {
      throw new IllegalArgumentException("no " + field);
    }
    return v.asText();
  }

  @Override
  public void join(String instanceId) {
    checkInstanceId(instanceId);
    Path leaseFile = dir.resolve(instanceId + LEASE);
    beat(leaseFile, true);
    ScheduledExecutorService s = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "imagegen-journal-lease-" + instanceId);
      t.setDaemon(true);
      return t;
    });
    ScheduledExecutorService old = heartbeats.put(instanceId, s);
    if (old != null) {
      old.shutdownNow();
    }
    long every = Math.max(30, lease.toMillis() / 3);
    s.scheduleWithFixedDelay(() -> beat(leaseFile, false), every, every, TimeUnit.MILLISECONDS);
  }

  @Override
  public void leave(String instanceId) {
    ScheduledExecutorService s = heartbeats.remove(instanceId);
    if (s != null) {
      s.shutdownNow();
    }
    try {
      Files.deleteIfExists(dir.resolve(instanceId + LEASE));
    } catch (IOException e) {
      LOG.warn("job journal {}: cannot remove the lease of {}: {}", dir, instanceId, e.toString());
    }
  }

  @Override
  public boolean leaseLive(String instanceId) {
    if (!INSTANCE_ID.matcher(instanceId).matches()) {
      return false;
    }
    Path file = dir.resolve(instanceId + LEASE);
    try {
      FileTime t = Files.getLastModifiedTime(file);
      // judged by the owner's own lease (its heartbeat runs every third of it), which its lease file records
      return t.toInstant().plus(ownersLease(file)).isAfter(Instant.now());
    } catch (IOException e) { // no lease file: the instance closed, or never held one
      return false;
    }
  }

  /** The lease its owner wrote into a lease file ({@code lease=PT10S}), or this journal's own for a file without one. */
  private Duration ownersLease(Path file) {
    try {
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        if (line.startsWith("lease=")) {
          Duration d = Duration.parse(line.substring(6).strip());
          return d.isNegative() || d.isZero() ? lease : d;
        }
      }
    } catch (IOException | RuntimeException e) {
      // unreadable or written by an older version: this journal's own lease
    }
    return lease;
  }

  private void beat(Path leaseFile, boolean first) {
    try {
      if (first || !Files.exists(leaseFile)) {
        writeAtomically(leaseFile, ("since=" + Instant.now() + "\nlease=" + lease + "\n").getBytes(StandardCharsets.UTF_8));
      } else {
        Files.setLastModifiedTime(leaseFile, FileTime.from(Instant.now()));
      }
    } catch (IOException | RuntimeException e) {
      if (first) {
        throw new UncheckedIOException("job journal " + dir + ": cannot write the lease " + leaseFile.getFileName(),
            e instanceof IOException io ? io : new IOException(e));
      }
      LOG.warn("job journal {}: lease heartbeat failed: {}", dir, e.toString());
    }
  }

  /** Checks an instance id: it names a file, so letters, digits, dot, dash and underscore, at most 64. */
  public static String checkInstanceId(String id) {
    if (!INSTANCE_ID.matcher(id).matches()) {
      throw new IllegalArgumentException("instance id must be 1 to 64 letters, digits, '.', '-' or '_', was '" + id + "'");
    }
    return id;
  }

  private Path file(String generationId, String remoteJobId) {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      d.update(generationId.getBytes(StandardCharsets.UTF_8));
      d.update((byte) 0);
      d.update(remoteJobId.getBytes(StandardCharsets.UTF_8));
      return dir.resolve(HexFormat.of().formatHex(d.digest(), 0, 16) + JOB);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void writeAtomically(Path target, byte[] bytes) throws IOException {
    Path tmp = target.resolveSibling("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
          ch.write(b);
        }
        ch.force(true);
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
