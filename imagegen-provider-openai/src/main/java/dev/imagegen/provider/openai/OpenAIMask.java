package dev.imagegen.provider.openai;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import javax.imageio.ImageIO;

/**
 * Turns an imagegen mask (white is repainted) into the mask the Images API reads (a PNG whose
 * transparent pixels are repainted). A PNG that already has transparent pixels is taken as such a
 * mask and sent unchanged. Thread-safe; all methods are static.
 */
final class OpenAIMask {
  private OpenAIMask() {}

  /**
   * The mask as the Images API reads it.
   *
   * @param bytes the mask (PNG, JPEG or WebP that the JDK can read)
   * @return a PNG: transparent where the mask was light, opaque black elsewhere
   * @throws IllegalArgumentException when the bytes cannot be read as an image
   */
  static byte[] toAlphaMask(byte[] bytes) {
    BufferedImage src;
    try {
      src = ImageIO.read(new ByteArrayInputStream(bytes));
    } catch (IOException e) {
      throw new IllegalArgumentException("the mask cannot be read as an image: " + e.getMessage(), e);
    }
    if (src == null) {
      throw new IllegalArgumentException("the mask is not an image the JDK can read (give it as a PNG)");
    }
    int w = src.getWidth();
    int h = src.getHeight();
    boolean png = bytes.length > 8 && (bytes[0] & 0xFF) == 0x89 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G';
    if (png && src.getColorModel().hasAlpha() && anyTransparent(src, w, h)) {
      return bytes;
    }
    BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_ARGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int rgb = src.getRGB(x, y);
        int lum = (((rgb >> 16) & 0xFF) * 299 + ((rgb >> 8) & 0xFF) * 587 + (rgb & 0xFF) * 114) / 1000;
        out.setRGB(x, y, lum >= 128 ? 0x00000000 : 0xFF000000);
      }
    }
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try {
      ImageIO.write(out, "png", b);
    } catch (IOException e) {
      throw new IllegalArgumentException("the mask cannot be written as PNG: " + e.getMessage(), e);
    }
    return b.toByteArray();
  }

  private static boolean anyTransparent(BufferedImage img, int w, int h) {
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        if ((img.getRGB(x, y) >>> 24) == 0) {
          return true;
        }
      }
    }
    return false;
  }
}
