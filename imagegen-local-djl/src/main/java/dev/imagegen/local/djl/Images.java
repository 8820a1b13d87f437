package dev.imagegen.local.djl;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import javax.imageio.ImageIO;
import org.jspecify.annotations.Nullable;

/** PNG/JPEG encoding of results and decoding, resizing and scaling of init images (javax.imageio, headless). */
final class Images {
  private Images() {}

  static {
    System.setProperty("java.awt.headless", System.getProperty("java.awt.headless", "true"));
  }

  /** Decodes PNG, JPEG, BMP or GIF bytes, or returns null when ImageIO cannot read them (WebP, garbage). */
  static @Nullable BufferedImage decode(byte[] bytes) {
    try {
      return ImageIO.read(new ByteArrayInputStream(bytes));
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /**
   * Resizes (bilinear) and scales to [-1, 1], channels first: the VAE encoder's input.
   *
   * @return [3, height, width]
   */
  static float[] toPixels(BufferedImage image, int width, int height) {
    BufferedImage scaled = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = scaled.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
      g.drawImage(image, 0, 0, width, height, null);
    } finally {
      g.dispose();
    }
    int plane = width * height;
    float[] out = new float[3 * plane];
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        int rgb = scaled.getRGB(x, y);
        int p = y * width + x;
        out[p] = ((rgb >> 16) & 0xff) / 127.5f - 1f;
        out[plane + p] = ((rgb >> 8) & 0xff) / 127.5f - 1f;
        out[2 * plane + p] = (rgb & 0xff) / 127.5f - 1f;
      }
    }
    return out;
  }

  /**
   * Encodes 8-bit RGB pixels.
   *
   * @param format {@code png} or {@code jpeg}
   */
  static byte[] encode(byte[] rgb, int width, int height, String format) {
    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        int i = (y * width + x) * 3;
        img.setRGB(x, y, ((rgb[i] & 0xff) << 16) | ((rgb[i + 1] & 0xff) << 8) | (rgb[i + 2] & 0xff));
      }
    }
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
