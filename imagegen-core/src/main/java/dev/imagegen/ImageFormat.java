package dev.imagegen;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * The image formats imagegen recognises by their magic bytes, with their media types.
 */
public enum ImageFormat {
  /** Portable Network Graphics. */
  PNG("image/png", "png"),
  /** JPEG. */
  JPEG("image/jpeg", "jpg"),
  /** WebP, lossy or lossless. */
  WEBP("image/webp", "webp");

  private final String mediaType;
  private final String extension;

  ImageFormat(String mediaType, String extension) {
    this.mediaType = mediaType;
    this.extension = extension;
  }

  /** The media type, e.g. {@code image/png}. */
  public String mediaType() {
    return mediaType;
  }

  /** The usual file extension, without the dot. */
  public String extension() {
    return extension;
  }

  /**
   * Recognises a format from its magic bytes.
   *
   * @param bytes the image's first bytes (or all of them)
   * @return the format, or null when the bytes are not a PNG, JPEG or WebP image
   */
  public static @Nullable ImageFormat sniff(byte @Nullable [] bytes) {
    if (bytes == null || bytes.length < 12) {
      return null;
    }
    if ((bytes[0] & 0xff) == 0x89 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G'
        && bytes[4] == 0x0d && bytes[5] == 0x0a && bytes[6] == 0x1a && bytes[7] == 0x0a) {
      return PNG;
    }
    if ((bytes[0] & 0xff) == 0xff && (bytes[1] & 0xff) == 0xd8 && (bytes[2] & 0xff) == 0xff) {
      return JPEG;
    }
    if (bytes[0] == 'R' && bytes[1] == 'I' && bytes[2] == 'F' && bytes[3] == 'F'
        && bytes[8] == 'W' && bytes[9] == 'E' && bytes[10] == 'B' && bytes[11] == 'P') {
      return WEBP;
    }
    return null;
  }

  /**
   * The format for a name such as {@code png}, {@code jpg}, {@code jpeg} or {@code webp}.
   *
   * @param name the name, any case
   * @return the format, or null when unknown
   */
  public static @Nullable ImageFormat fromName(@Nullable String name) {
    if (name == null) {
      return null;
    }
    switch (name.toLowerCase(Locale.ROOT)) {
      case "png": case "image/png": return PNG;
      case "jpg": case "jpeg": case "image/jpeg": return JPEG;
      case "webp": case "image/webp": return WEBP;
      default: return null;
    }
  }

  /**
   * Reads width and height from the image header, without decoding pixels.
   *
   * @param bytes the image
   * @return {width, height}, or null when the header cannot be read
   */
  static int @Nullable [] dimensions(byte[] bytes) {
    ImageFormat f = sniff(bytes);
    if (f == null) {
      return null;
    }
    try {
      switch (f) {
        case PNG:
          if (bytes.length < 24) return null;
          return new int[] {be32(bytes, 16), be32(bytes, 20)};
        case JPEG:
          return jpeg(bytes);
        case WEBP:
          return webp(bytes);
        default:
          return null;
      }
    } catch (ArrayIndexOutOfBoundsException e) {
      return null;
    }
  }

  private static int be32(byte[] b, int o) {
    return ((b[o] & 0xff) << 24) | ((b[o + 1] & 0xff) << 16) | ((b[o + 2] & 0xff) << 8) | (b[o + 3] & 0xff);
  }

  private static int @Nullable [] jpeg(byte[] b) {
    int i = 2;
    while (i + 9 < b.length) {
      if ((b[i] & 0xff) != 0xff) {
        return null;
      }
      int marker = b[i + 1] & 0xff;
      if (marker == 0xff) {
        i++;
        continue;
      }
      int len = ((b[i + 2] & 0xff) << 8) | (b[i + 3] & 0xff);
      boolean sof = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
      if (sof) {
        int h = ((b[i + 5] & 0xff) << 8) | (b[i + 6] & 0xff);
        int w = ((b[i + 7] & 0xff) << 8) | (b[i + 8] & 0xff);
        return new int[] {w, h};
      }
      i += 2 + len;
    }
    return null;
  }

  private static int @Nullable [] webp(byte[] b) {
    if (b.length < 30) return null;
    String chunk = new String(b, 12, 4, StandardCharsets.US_ASCII);
    switch (chunk) {
      case "VP8 ":
        return new int[] {((b[26] & 0xff) | ((b[27] & 0xff) << 8)) & 0x3fff, ((b[28] & 0xff) | ((b[29] & 0xff) << 8)) & 0x3fff};
      case "VP8L": {
        int bits = (b[21] & 0xff) | ((b[22] & 0xff) << 8) | ((b[23] & 0xff) << 16) | ((b[24] & 0xff) << 24);
        return new int[] {(bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1};
      }
      case "VP8X":
        return new int[] {
          ((b[24] & 0xff) | ((b[25] & 0xff) << 8) | ((b[26] & 0xff) << 16)) + 1,
          ((b[27] & 0xff) | ((b[28] & 0xff) << 8) | ((b[29] & 0xff) << 16)) + 1};
      default:
        return null;
    }
  }
}
