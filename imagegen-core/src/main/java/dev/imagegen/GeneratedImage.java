package dev.imagegen;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import org.jspecify.annotations.Nullable;

/**
 * One generated image, with its bytes kept in memory (provider URLs expire, so imagegen always
 * downloads them at once).
 *
 * @param bytes the encoded image
 * @param mediaType the media type, sniffed from the bytes (e.g. {@code image/webp})
 * @param width width in pixels, read from the image header
 * @param height height in pixels, read from the image header
 * @param seed the seed the provider used, or null when it did not say
 * @param sourceUrl where the provider served the image from, or null when it came inline
 * @param nsfw whether the provider flagged the image (some return a blanked image with a flag)
 */
public record GeneratedImage(
    byte[] bytes, String mediaType, int width, int height, @Nullable Long seed, @Nullable String sourceUrl, boolean nsfw) {

  /** Checks the fields and keeps a copy of the bytes: the image cannot be changed from outside. */
  public GeneratedImage {
    bytes = Objects.requireNonNull(bytes, "bytes").clone();
    Objects.requireNonNull(mediaType, "mediaType");
  }

  /** A copy of the encoded image; use {@link #size()}, {@link #asByteBuffer()} or {@link #saveTo} to avoid copying. */
  @Override
  public byte[] bytes() {
    return bytes.clone();
  }

  /** The size of the encoded image in bytes. */
  public int size() {
    return bytes.length;
  }

  /** A read-only view of the encoded image, without a copy. */
  public ByteBuffer asByteBuffer() {
    return ByteBuffer.wrap(bytes).asReadOnlyBuffer();
  }

  /** The encoded image as a stream, without a copy. */
  public InputStream openStream() {
    return new ByteArrayInputStream(bytes);
  }

  /**
   * Wraps image bytes, sniffing the media type and size from them.
   *
   * @param bytes the encoded image
   * @param seed the seed used, or null
   * @param sourceUrl where it was downloaded from, or null
   * @param nsfw whether the provider flagged it
   * @return the image
   * @throws IllegalArgumentException when the bytes are not a PNG, JPEG or WebP image
   */
  public static GeneratedImage of(byte[] bytes, @Nullable Long seed, @Nullable String sourceUrl, boolean nsfw) {
    ImageFormat format = ImageFormat.sniff(bytes);
    if (format == null) {
      throw new IllegalArgumentException("not a PNG, JPEG or WebP image (" + bytes.length + " bytes)");
    }
    int[] dims = ImageFormat.dimensions(bytes);
    return new GeneratedImage(bytes, format.mediaType(), dims == null ? 0 : dims[0], dims == null ? 0 : dims[1], seed, sourceUrl, nsfw);
  }

  /** The format, from the media type. */
  public ImageFormat format() {
    ImageFormat f = ImageFormat.fromName(mediaType);
    return f == null ? ImageFormat.PNG : f;
  }

  /**
   * Writes the image to a file atomically (a temporary file in the same directory, then a move).
   * If {@code path} is a directory, a file named after the image's content hash is created in it.
   * An existing file is replaced. The file gets the permissions any newly created file gets there
   * (on POSIX systems, those the process's umask allows, typically {@code rw-r--r--}), also when it
   * replaces a file; when writing fails, no temporary file is left behind.
   *
   * @param path a file or an existing directory
   * @return the file written
   * @throws UncheckedIOException when writing fails
   */
  public Path saveTo(Path path) {
    try {
      Path target = path;
      if (Files.isDirectory(path)) {
        target = path.resolve("image-" + Integer.toHexString(Arrays.hashCode(bytes)) + "." + format().extension());
      }
      Path dir = target.toAbsolutePath().getParent();
      if (dir != null) {
        Files.createDirectories(dir);
      }
      Path tmp = newTempFile(dir);
      try {
        Files.write(tmp, bytes);
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
      return target;
    } catch (IOException e) {
      throw new UncheckedIOException("could not save image to " + path, e);
    }
  }

  /**
   * A new empty file beside the target, created like any new file (not with
   * {@link Files#createTempFile}, whose files are private to their owner): the move keeps its
   * permissions.
   */
  private static Path newTempFile(@Nullable Path dir) throws IOException {
    for (int tries = 0; ; tries++) {
      String name = ".imagegen-" + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36) + ".tmp";
      try {
        return Files.createFile(dir == null ? Path.of(name) : dir.resolve(name));
      } catch (FileAlreadyExistsException e) {
        if (tries >= 100) {
          throw e;
        }
      }
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof GeneratedImage g && Arrays.equals(bytes, g.bytes) && mediaType.equals(g.mediaType)
        && width == g.width && height == g.height && Objects.equals(seed, g.seed) && nsfw == g.nsfw;
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bytes);
  }

  @Override
  public String toString() {
    return "GeneratedImage[" + mediaType + ", " + width + "x" + height + ", " + bytes.length + " bytes, seed=" + seed
        + (nsfw ? ", nsfw" : "") + "]";
  }
}
