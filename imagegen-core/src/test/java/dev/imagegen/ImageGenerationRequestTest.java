package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ImageGenerationRequestTest {

  @Test
  void listsEveryViolationAtOnce() {
    assertThatThrownBy(() -> ImageGenerationRequest.builder()
            .prompt("  ")
            .size(100, 4100)
            .steps(0)
            .guidanceScale(-1.0)
            .numImages(11)
            .strength(0.5)
            .style("vaporwave")
            .qualityEnhancers("sharp_focus", "ultra")
            .outputFormat("gif")
            .timeout(Duration.ZERO)
            .build())
        .isInstanceOfSatisfying(InvalidRequestException.class, e -> {
          assertThat(e.providerId()).isNull();
          assertThat(e.retryMayHelp()).isFalse();
          assertThat(e.failoverMayHelp()).isFalse();
          assertThat(e.violations()).containsExactly(
              "prompt must not be empty",
              "width must be a multiple of 8, was 100",
              "height must be between 64 and 4096, was 4100",
              "numImages must be between 1 and 10, was 11",
              "steps must be between 1 and 500, was 0",
              "guidanceScale must be between 0 and 100, was -1.0",
              "strength needs an init image (InputImage.Role.INIT)",
              "unknown style 'vaporwave' (known: watercolor, oil_painting, digital_art, cartoon, realistic, sketch, anime)",
              "unknown quality enhancer 'ultra' (known: high_detail, professional_lighting, sharp_focus, vibrant_colors, cinematic)",
              "outputFormat must be png, jpeg or webp, was 'gif'",
              "timeout must be positive, was PT0S");
          assertThat(e.getMessage()).startsWith("invalid request (11 problems): prompt must not be empty; ");
        });
  }

  @Test
  void maskNeedsInitImageAndWidthNeedsHeight() {
    assertThatThrownBy(() -> ImageGenerationRequest.builder().prompt("x").width(512)
            .inputImage(InputImage.ofUrl(InputImage.Role.MASK, URI.create("https://example.com/m.png"))).build())
        .isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.violations())
            .containsExactly("width and height must be set together", "a mask needs an init image"));
  }

  @Test
  void validRequestIsImmutableAndCopyable() {
    ImageGenerationRequest r = ImageGenerationRequest.builder().prompt("a fox").size(1024, 768).seed(5L).lora("detail", 0.6)
        .providerOption("replicate", "go_fast", false).build();
    assertThat(r.numImages()).isEqualTo(1);
    assertThat(r.megapixels()).isEqualTo(1024 * 768 / 1e6);
    ImageGenerationRequest copy = r.toBuilder().seed(6L).build();
    assertThat(copy.seed()).isEqualTo(6L);
    assertThat(copy.providerOptions("replicate")).containsEntry("go_fast", false);
    assertThat(r.seed()).isEqualTo(5L);
    assertThatThrownBy(() -> r.loras().add(new Lora("x", 1))).isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void defaultNegativePromptAppliesUnlessSetOrTurnedOff() {
    assertThat(ImageGenerationRequest.of("x").effectiveNegativePrompt()).isEqualTo(PromptStyles.DEFAULT_NEGATIVE_PROMPT);
    assertThat(ImageGenerationRequest.builder().prompt("x").negativePrompt("rain").build().effectiveNegativePrompt())
        .isEqualTo("rain");
    assertThat(ImageGenerationRequest.builder().prompt("x").defaultNegativePrompt(false).build().effectiveNegativePrompt())
        .isNull();
  }

  /** The canonical constructor with every field at the builder's default except those given. */
  private static ImageGenerationRequest raw(String prompt, Integer width, Integer height, int numImages, Double strength,
      List<String> enhancers, List<Lora> loras, List<InputImage> images, Map<String, Map<String, Object>> options) {
    return new ImageGenerationRequest(prompt, null, true, null, width, height, numImages, null, null, null, null, null,
        enhancers, loras, images, strength, null, null, null, options, false);
  }

  @Test
  void canonicalConstructorValidatesLikeTheBuilder() {
    assertThatThrownBy(() -> raw(" ", 100, 4100, 0, 0.5, List.of(), List.of(), List.of(), Map.of()))
        .isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.violations()).containsExactly(
            "prompt must not be empty",
            "width must be a multiple of 8, was 100",
            "height must be between 64 and 4096, was 4100",
            "numImages must be between 1 and 10, was 0",
            "strength needs an init image (InputImage.Role.INIT)"));
  }

  @Test
  void canonicalConstructorRejectsNullCollectionsAndElementsNamingThem() {
    List<Lora> loras = new ArrayList<>(Arrays.asList(new Lora("detail", 0.5), null));
    Map<String, Map<String, Object>> options = new HashMap<>();
    options.put("fal", null);
    assertThatThrownBy(() -> raw("a fox", null, null, 1, null, null, loras, null, options))
        .isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.violations()).containsExactly(
            "qualityEnhancers must not be null (use an empty list)",
            "loras[1] must not be null",
            "inputImages must not be null (use an empty list)",
            "providerOptions for 'fal' must not be null (use an empty map)"));
  }

  @Test
  void toBuilderCannotCarryAnInvalidRequestPastTheConstructor() {
    ImageGenerationRequest valid = ImageGenerationRequest.builder().prompt("a fox").size(512, 512).build();
    assertThatThrownBy(() -> valid.toBuilder().width(null).steps(900).build())
        .isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.violations()).containsExactly(
            "width and height must be set together", "steps must be between 1 and 500, was 900"));
  }

  @Test
  void collectionsAreCopiedSoTheCallersListsCannotChangeTheRequest() {
    List<String> enhancers = new ArrayList<>(List.of("sharp_focus"));
    List<Lora> loras = new ArrayList<>(List.of(new Lora("detail", 0.5)));
    List<InputImage> images = new ArrayList<>();
    Map<String, Object> falOptions = new LinkedHashMap<>();
    falOptions.put("acceleration", "high");
    falOptions.put("sync_mode", null);
    Map<String, Map<String, Object>> options = new LinkedHashMap<>();
    options.put("fal", falOptions);

    ImageGenerationRequest r = raw("a fox", null, null, 1, null, enhancers, loras, images, options);
    enhancers.add("ultra");
    loras.add(new Lora("other", 9));
    images.add(InputImage.ofUrl(InputImage.Role.MASK, URI.create("https://example.com/m.png")));
    falOptions.put("acceleration", "none");
    options.put("replicate", Map.of("go_fast", true));

    assertThat(r.qualityEnhancers()).containsExactly("sharp_focus");
    assertThat(r.loras()).containsExactly(new Lora("detail", 0.5));
    assertThat(r.inputImages()).isEmpty();
    assertThat(r.providerOptions()).containsOnlyKeys("fal");
    assertThat(r.providerOptions("fal")).containsEntry("acceleration", "high").containsEntry("sync_mode", null);
    assertThatThrownBy(() -> r.providerOptions("fal").put("x", 1)).isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> r.qualityEnhancers().add("cinematic")).isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void outputFormatIsNormalisedByTheConstructorToo() {
    ImageGenerationRequest r = new ImageGenerationRequest("a fox", null, true, null, null, null, 1, null, null, null, null,
        null, List.of(), List.of(), List.of(), null, "PNG", null, null, Map.of(), false);
    assertThat(r.outputFormat()).isEqualTo("png");
    assertThat(r.toBuilder().build()).isEqualTo(r);
  }
}
