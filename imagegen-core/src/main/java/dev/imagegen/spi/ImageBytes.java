package dev.imagegen.spi;

import java.util.Base64;
import org.jspecify.annotations.Nullable;

/**
 * Decoding of images that providers return inline: raw base64 (standard or URL-safe, with or
 * without padding and line breaks) and {@code data:} URIs. Thread-safe; all methods are static.
 */
public final class ImageBytes {
  private ImageBytes() {}

  /**
   * Whether a string is a {@code data:} URI.
   *
   * @param s the string
   */
  public static boolean isDataUri(@Nullable String s) {
    return s != null && s.regionMatches(true, 0, "data:", 0, 5);
  }

  /**
   * Whether a string is an http or https URL.
   *
   * @param s the string
   */
  public static boolean isHttpUrl(@Nullable String s) {
    return s != null && (s.regionMatches(true, 0, "https://", 0, 8) || s.regionMatches(true, 0, "http://", 0, 7));
  }

  /**
   * Decodes base64 or a {@code data:} URI.
   *
   * @param s the text
   * @return the bytes
   * @throws IllegalArgumentException when it is not valid base64
   */
  public static byte[] decode(String s) {
    String b64 = s;
    if (isDataUri(s)) {
      int comma = s.indexOf(',');
      if (comma < 0 || !s.substring(0, comma).toLowerCase(java.util.Locale.ROOT).contains(";base64")) {
        throw new IllegalArgumentException("data URI is not base64-encoded");
      }
      b64 = s.substring(comma + 1);
    }
    b64 = b64.replaceAll("\\s", "");
    if (b64.indexOf('-') >= 0 || b64.indexOf('_') >= 0) {
      return Base64.getUrlDecoder().decode(b64);
    }
    return Base64.getMimeDecoder().decode(b64);
  }

  /**
   * Encodes bytes as a {@code data:} URI.
   *
   * @param bytes the image
   * @param mediaType e.g. {@code image/png}
   */
  public static String dataUri(byte[] bytes, String mediaType) {
    return "data:" + mediaType + ";base64," + Base64.getEncoder().encodeToString(bytes);
  }
}
