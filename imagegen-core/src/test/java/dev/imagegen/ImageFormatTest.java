package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.testing.TestImages;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageFormatTest {

  @Test
  void sniffsFormatAndSizeFromTheBytes() {
    GeneratedImage png = GeneratedImage.of(TestImages.png(33, 17), 1L, null, false);
    assertThat(png.mediaType()).isEqualTo("image/png");
    assertThat(png.width()).isEqualTo(33);
    assertThat(png.height()).isEqualTo(17);
    GeneratedImage jpg = GeneratedImage.of(TestImages.jpeg(40, 24), null, null, false);
    assertThat(jpg.mediaType()).isEqualTo("image/jpeg");
    assertThat(jpg.width()).isEqualTo(40);
    assertThat(jpg.height()).isEqualTo(24);
    GeneratedImage webp = GeneratedImage.of(TestImages.webp(1024, 768), null, null, false);
    assertThat(webp.mediaType()).isEqualTo("image/webp");
    assertThat(webp.width()).isEqualTo(1024);
    assertThat(webp.height()).isEqualTo(768);
  }

  @Test
  void refusesBytesThatAreNoImage() {
    assertThatThrownBy(() -> GeneratedImage.of("{\"error\":\"x\"}".getBytes(), null, null, false))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a PNG, JPEG or WebP");
  }

  @Test
  void savesAtomicallyWithTheRightExtension(@TempDir Path dir) throws Exception {
    GeneratedImage img = GeneratedImage.of(TestImages.png(8, 8), null, null, false);
    Path f = img.saveTo(dir);
    assertThat(f.getFileName().toString()).endsWith(".png");
    assertThat(Files.readAllBytes(f)).isEqualTo(img.bytes());
    try (var files = Files.list(dir)) {
      assertThat(files).hasSize(1); // no temporary file left behind
    }
  }

  @Test
  void aGeneratedImageCannotBeChangedThroughTheArrayItWasGivenOrHandsOut() {
    byte[] png = TestImages.png(4, 4);
    GeneratedImage img = GeneratedImage.of(png, 1L, null, false);
    png[png.length - 1] ^= 0x55;
    byte[] out = img.bytes();
    out[0] = 0;
    assertThat(img.bytes()).isEqualTo(TestImages.png(4, 4));
    assertThat(img.size()).isEqualTo(out.length);
    assertThat(img.asByteBuffer().isReadOnly()).isTrue();
  }
}
