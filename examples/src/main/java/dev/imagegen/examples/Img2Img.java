package dev.imagegen.examples;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.InputImage;
import dev.imagegen.testkit.StubImages;
import java.nio.file.Path;

/**
 * img2img: an init image plus a prompt and a denoising strength, with the SDXL model; providers that
 * cannot take an init image are skipped, and one that does not offer the model fails over (both are
 * listed in the attempts). Pass an image path as the
 * argument; without one a generated placeholder is used.
 */
public final class Img2Img {
  private Img2Img() {}

  /**
   * Runs the example.
   *
   * @param args {@code --sandbox}, then an optional image path
   */
  public static void main(String[] args) {
    System.exit(run(args, new Console(System.out)));
  }

  static int run(String[] args, Console console) {
    String[] paths = Examples.withoutFlags(args);
    return Examples.run(args, console, b -> b, (service, out) -> {
      InputImage init = paths.length > 0 ? InputImage.ofPath(InputImage.Role.INIT, Path.of(paths[0]))
          : InputImage.ofBytes(InputImage.Role.INIT, StubImages.png(512, 512, 9).bytes());
      ImageGenerationResponse r = service.generateImageWithFailover(ImageGenerationRequest.builder()
          .prompt("the same scene as a watercolor").inputImage(init).strength(0.6).model("sdxl").size(512, 512).seed(5L).build());
      out.response(r);
    });
  }
}
