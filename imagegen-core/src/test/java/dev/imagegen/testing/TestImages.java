package dev.imagegen.testing;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import javax.imageio.ImageIO;

/** Real encoded images for tests. */
public final class TestImages {
  private TestImages() {}

  public static byte[] png(int w, int h) {
    return encode("png", w, h);
  }

  public static byte[] jpeg(int w, int h) {
    return encode("jpg", w, h);
  }

  /** A lossless WebP header with the given size (imagegen reads headers, not pixels). */
  public static byte[] webp(int w, int h) {
    byte[] b = new byte[40];
    System.arraycopy("RIFF".getBytes(), 0, b, 0, 4);
    b[4] = 32;
    System.arraycopy("WEBPVP8L".getBytes(), 0, b, 8, 8);
    b[16] = 20;
    b[20] = 0x2f;
    int bits = ((w - 1) & 0x3fff) | (((h - 1) & 0x3fff) << 14);
    for (int i = 0; i < 4; i++) {
      b[21 + i] = (byte) (bits >>> (8 * i));
    }
    return b;
  }

  private static byte[] encode(String fmt, int w, int h) {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    img.setRGB(0, 0, 0xff0000);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      ImageIO.write(img, fmt, out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }
}
