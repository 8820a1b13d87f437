package dev.imagegen.examples;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.InputImage;
import dev.imagegen.testkit.StubImages;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * Image editing with several input images, the virtual try-on flow: a person photo (the init
 * image) and garment photos (reference images) go to an editing model with a prompt. Providers
 * that cannot take reference images are skipped, never sent the request without them. Pass photo
 * paths as arguments (person first); without them, generated placeholder photos are used.
 */
public final class TryOnEdit {
  private TryOnEdit() {}

  /**
   * Runs the example.
   *
   * @param args {@code --sandbox}, then optional paths: person photo, garment photos
   */
  public static void main(String[] args) {
    System.exit(run(args, new Console(System.out)));
  }

  static int run(String[] args, Console console) {
    String[] paths = Examples.withoutFlags(args);
    return Examples.run(args, console, Set.of(), b -> b, (service, out) -> {
      ImageGenerationRequest.Builder b = ImageGenerationRequest.builder()
          .prompt("the person wearing the garments, natural pose, studio light")
          .model("fal-ai/nano-banana-pro/edit");
      if (paths.length >= 2) {
        b.inputImage(InputImage.ofPath(InputImage.Role.INIT, Path.of(paths[0])));
        for (int i = 1; i < paths.length; i++) {
          b.inputImage(InputImage.ofPath(InputImage.Role.REFERENCE, Path.of(paths[i])));
        }
      } else {
        b.inputImage(InputImage.ofBytes(InputImage.Role.INIT, StubImages.png(384, 512, 1).bytes()));
        b.inputImage(InputImage.ofBytes(InputImage.Role.REFERENCE, StubImages.png(256, 256, 2).bytes()));
        b.inputImage(InputImage.ofBytes(InputImage.Role.REFERENCE, StubImages.png(256, 256, 3).bytes()));
        out.line("no photos given: using generated placeholders (a person and two garments)");
      }
      ImageGenerationResponse r = service.generateImageWithFailover(b.build());
      out.response(r);
      Path file = r.image().saveTo(Files.createTempDirectory("imagegen-tryon").resolve("tryon." + r.image().format().extension()));
      out.line("saved " + file);
    });
  }
}
