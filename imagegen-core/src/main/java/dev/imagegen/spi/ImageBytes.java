package dev.imagegen.spi;

import java.util.Base64;
import java.util.Locale;
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
      if (comma < 0 || !s.substring(0, comma).toLowerCase(Locale.ROOT).contains(";base64")) {
        throw new IllegalArgumentException("data URI is not base64-encoded");
      }
      b64 = s.substring(comma + 1);
    }
    if (hasWhitespace(b64)) {
      b64 = b64.replaceAll("\\s", "");
    }
    if (b64.indexOf('-') >= 0 || b64.indexOf('_') >= 0) {
      return Base64.getUrlDecoder().decode(b64);
    }
    return Base64.getMimeDecoder().decode(b64);
  }

  /**
   * How many bytes a base64 text or {@code data:} URI decodes to at most, counted without
   * decoding or copying it (whitespace and padding are not counted).
   *
   * @param s the text
   * @return an upper bound of the decoded length
   */
  public static long decodedLength(String s) {
    int start = 0;
    if (isDataUri(s)) {
      int comma = s.indexOf(',');
      start = comma < 0 ? s.length() : comma + 1;
    }
    long chars = 0;
    for (int i = start; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c != '=' && !Character.isWhitespace(c)) {
        chars++;
      }
    }
    return chars * 3 / 4;
  }

  /**
   * Decodes base64 or a {@code data:} URI, refusing before decoding anything whose decoded size
   * would exceed a limit.
   *
   * @param s the text
   * @param maxBytes the largest decoded size accepted
   * @return the bytes
   * @throws IllegalArgumentException when it is not valid base64
   * @throws TooLargeException when it would decode to more than {@code maxBytes}
   */
  public static byte[] decode(String s, long maxBytes) {
    long n = decodedLength(s);
    if (n > maxBytes) {
      throw new TooLargeException(n, maxBytes);
    }
    return decode(s);
  }

  /** Thrown by {@link #decode(String, long)} when the text would decode to more bytes than allowed. */
  public static final class TooLargeException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final long decodedLength;
    private final long limit;

    TooLargeException(long decodedLength, long limit) {
      super("inline image of about " + decodedLength + " bytes exceeds the limit of " + limit + " bytes");
      this.decodedLength = decodedLength;
      this.limit = limit;
    }

    /** About how many bytes the text decodes to. */
    public long decodedLength() {
      return decodedLength;
    }

    /** The limit that was exceeded, in bytes. */
    public long limit() {
      return limit;
    }
  }

  private static boolean hasWhitespace(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (Character.isWhitespace(s.charAt(i))) {
        return true;
      }
    }
    return false;
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
