package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.imagegen.testing.TestImages;
import java.io.UncheckedIOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GeneratedImageTest {

  private static final GeneratedImage IMAGE = GeneratedImage.of(TestImages.png(8, 8), null, null, false);

  private static Set<PosixFilePermission> permissionsOfANewFile(Path dir) throws Exception {
    Path reference = Files.createFile(dir.resolve("reference"));
    try {
      return Files.getPosixFilePermissions(reference);
    } finally {
      Files.delete(reference);
    }
  }

  private static void assumePosix() {
    assumeTrue(FileSystems.getDefault().supportedFileAttributeViews().contains("posix"), "not a POSIX file system");
  }

  @Test
  void aSavedFileHasThePermissionsOfAnyNewFileInItsDirectory(@TempDir Path dir) throws Exception {
    assumePosix();
    Path f = IMAGE.saveTo(dir.resolve("out.png"));
    assertThat(Files.getPosixFilePermissions(f)).isEqualTo(permissionsOfANewFile(dir));
  }

  @Test
  void aFileSavedIntoADirectoryHasThePermissionsOfAnyNewFile(@TempDir Path dir) throws Exception {
    assumePosix();
    Path f = IMAGE.saveTo(dir);
    assertThat(Files.getPosixFilePermissions(f)).isEqualTo(permissionsOfANewFile(dir));
  }

  @Test
  void overwritingReplacesTheBytesWithTheSamePermissions(@TempDir Path dir) throws Exception {
    Path target = dir.resolve("out.png");
    Files.writeString(target, "old");
    Path f = IMAGE.saveTo(target);
    assertThat(f).isEqualTo(target);
    assertThat(Files.readAllBytes(f)).isEqualTo(IMAGE.bytes());
    if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
      assertThat(Files.getPosixFilePermissions(f)).isEqualTo(permissionsOfANewFile(dir));
    }
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files).containsExactly(target);
    }
  }

  @Test
  void aFailedSaveLeavesNoTemporaryFile(@TempDir Path dir) throws Exception {
    // the file name the image takes in a directory is taken by a directory that is not empty
    Path blocker = dir.resolve("image-" + Integer.toHexString(IMAGE.hashCode()) + ".png");
    Files.createDirectories(blocker);
    Files.writeString(blocker.resolve("inside"), "x");
    assertThatThrownBy(() -> IMAGE.saveTo(dir)).isInstanceOf(UncheckedIOException.class)
        .hasMessageContaining("could not save image to");
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files).containsExactly(blocker);
    }
  }
}
