package dev.imagegen.testkit;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Random;
import javax.imageio.ImageIO;

/**
 * Real encoded images for stubs to answer with: PNG and JPEG rendered by {@link ImageIO}, and WebP
 * files with a valid lossless header (the JDK cannot encode WebP; imagegen reads WebP's header, not
 * its pixels). Deterministic for a given seed.
 */
public final class StubImages {
  private StubImages() {}

  /**
   * A PNG of the given size.
   *
   * @param width width in pixels
   * @param height height in pixels
   * @param seed picks the colours
   */
  public static ProviderStubs.StubImage png(int width, int height, long seed) {
    return new ProviderStubs.StubImage(encode("png", width, height, seed), "image/png", width, height, seed);
  }

  /**
   * A JPEG of the given size.
   *
   * @param width width in pixels
   * @param height height in pixels
   * @param seed picks the colours
   */
  public static ProviderStubs.StubImage jpeg(int width, int height, long seed) {
    return new ProviderStubs.StubImage(encode("jpg", width, height, seed), "image/jpeg", width, height, seed);
  }

  /**
   * A WebP (VP8L) file of the given size, padded with {@code extraBytes} of payload.
   *
   * @param width width in pixels, 1..16384
   * @param height height in pixels, 1..16384
   * @param seed reported seed
   * @param extraBytes payload size, to make large images
   */
  public static ProviderStubs.StubImage webp(int width, int height, long seed, int extraBytes) {
    int payload = 5 + Math.max(0, extraBytes);
    if (payload % 2 == 1) {
      payload++;
    }
    byte[] b = new byte[20 + payload];
    put(b, 0, "RIFF");
    le32(b, 4, 12 + payload);
    put(b, 8, "WEBP");
    put(b, 12, "VP8L");
    le32(b, 16, payload);
    b[20] = 0x2f;
    int bits = ((width - 1) & 0x3fff) | (((height - 1) & 0x3fff) << 14);
    le32(b, 21, bits);
    byte[] fill = new byte[b.length - 25];
    new Random(seed).nextBytes(fill);
    System.arraycopy(fill, 0, b, 25, fill.length);
    return new ProviderStubs.StubImage(b, "image/webp", width, height, seed);
  }

  private static void put(byte[] b, int o, String s) {
    for (int i = 0; i < 4; i++) {
      b[o + i] = (byte) s.charAt(i);
    }
  }

  private static void le32(byte[] b, int o, int v) {
    b[o] = (byte) v;
    b[o + 1] = (byte) (v >>> 8);
    b[o + 2] = (byte) (v >>> 16);
    b[o + 3] = (byte) (v >>> 24);
  }

  private static byte[] encode(String format, int width, int height, long seed) {
    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    Random r = new Random(seed);
    g.setColor(new Color(r.nextInt(0xffffff)));
    g.fillRect(0, 0, width, height);
    g.setColor(new Color(r.nextInt(0xffffff)));
    g.fillOval(width / 4, height / 4, width / 2, height / 2);
    g.dispose();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      if (!ImageIO.write(img, format, out)) {
        throw new IllegalStateException("no ImageIO writer for " + format);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }
}
