package dev.imagegen.soak;

import dev.imagegen.testkit.StubImages;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import javax.imageio.ImageIO;

/** The images the soak's servers serve: one small PNG per job, plus broken ones. */
final class Images {
  /** The image the stubs are installed with; the servers replace it with each job's own. */
  static final byte[] MARKER = StubImages.png(16, 16, 0x5eed).bytes();
  /** The {@code max-image-bytes} the providers are configured with. */
  static final int MAX_IMAGE_BYTES = 100_000;
  /** An image larger than {@link #MAX_IMAGE_BYTES} (a PNG header, then padding). */
  static final byte[] OVERSIZED = oversized();
  /** An image far past {@link #MAX_IMAGE_BYTES} (4 MB: a PNG header, then padding), for inline base64 answers. */
  static final byte[] HUGE = Arrays.copyOf(MARKER, 4 * 1024 * 1024);
  /** Bytes that are no image (an HTML error page a CDN might send with 200). */
  static final byte[] CORRUPT = "<html><body>AccessDenied: the object was corrupted in transit</body></html>"
      .getBytes(StandardCharsets.UTF_8);

  private Images() {}

  /** A 16x16 PNG, different for every seed. */
  static byte[] png(long seed) {
    return StubImages.png(16, 16, seed).bytes();
  }

  /** Whether the bytes decode as an image. */
  static boolean decodes(byte[] bytes) {
    try {
      return ImageIO.read(new ByteArrayInputStream(bytes)) != null;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  private static byte[] oversized() {
    byte[] b = Arrays.copyOf(MARKER, MAX_IMAGE_BYTES + 50_000);
    return b;
  }
}
