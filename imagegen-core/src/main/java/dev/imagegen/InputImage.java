package dev.imagegen;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * An image given to a provider as input, with its role: the init image of img2img, the mask of
 * inpainting, or a reference image for editing models that take several. Exactly one of bytes,
 * path or URL is set. Providers that cannot take a role are skipped by failover, never sent the
 * request without the image.
 */
public final class InputImage {

  /** What an input image is for. */
  public enum Role {
    /** The image to transform (img2img, inpainting base, the person photo of a try-on). */
    INIT,
    /** The inpainting mask: white is repainted. */
    MASK,
    /** An additional image an editing model takes (garments, style references). */
    REFERENCE
  }

  private final Role role;
  private final byte @Nullable [] bytes;
  private final @Nullable Path path;
  private final @Nullable URI url;
  private volatile @Nullable String sha256;

  private InputImage(Role role, byte @Nullable [] bytes, @Nullable Path path, @Nullable URI url) {
    this.role = Objects.requireNonNull(role, "role");
    this.bytes = bytes;
    this.path = path;
    this.url = url;
  }

  /**
   * An input image held in memory.
   *
   * @param role its role
   * @param bytes the encoded image (PNG, JPEG or WebP)
   */
  public static InputImage ofBytes(Role role, byte[] bytes) {
    return new InputImage(role, bytes.clone(), null, null);
  }

  /**
   * An input image read from a file when a provider needs its bytes.
   *
   * @param role its role
   * @param path the file
   */
  public static InputImage ofPath(Role role, Path path) {
    return new InputImage(role, null, Objects.requireNonNull(path, "path"), null);
  }

  /**
   * An input image at a URL, passed to providers that accept URLs and fetched by those that do not.
   *
   * @param role its role
   * @param url an http or https URL
   */
  public static InputImage ofUrl(Role role, URI url) {
    return new InputImage(role, null, null, Objects.requireNonNull(url, "url"));
  }

  /** The role. */
  public Role role() {
    return role;
  }

  /** The URL, when the image was given as one. */
  public @Nullable URI url() {
    return url;
  }

  /** The file, when the image was given as one. */
  public @Nullable Path path() {
    return path;
  }

  /** Whether the bytes are available locally (given as bytes or as a file). */
  public boolean isLocal() {
    return url == null;
  }

  /**
   * The image's bytes, reading the file when given as a path.
   *
   * @return the bytes
   * @throws IllegalStateException when the image was given as a URL (fetch it instead)
   * @throws UncheckedIOException when the file cannot be read
   */
  public byte[] bytes() {
    if (bytes != null) {
      return bytes.clone();
    }
    if (path != null) {
      try {
        return Files.readAllBytes(path);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read input image " + path, e);
      }
    }
    throw new IllegalStateException("input image is a URL; its bytes must be fetched: " + url);
  }

  /**
   * A content hash: SHA-256 of the bytes, or of the URL text for a URL image. Used as the cache
   * key's part for this image and to reuse uploads of the same bytes.
   */
  public String sha256() {
    String h = sha256;
    if (h == null) {
      byte[] content = url != null ? url.toString().getBytes(StandardCharsets.UTF_8) : bytes();
      try {
        h = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
      sha256 = h;
    }
    return h;
  }

  @Override
  public String toString() {
    URI u = url;
    String src = bytes != null ? bytes.length + " bytes" : path != null ? "file " + path
        : u == null ? "nothing" : "url " + u.getScheme() + "://" + u.getHost() + u.getPath(); // query strings may hold signatures
    return "InputImage[" + role + ", " + src + "]";
  }
}
