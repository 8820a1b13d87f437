package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class PromptStylesTest {
  @Test
  void expandsStyleThenEnhancersInOrderWithoutDuplicates() {
    assertThat(PromptStyles.expand(" a red fox ", "watercolor", List.of("sharp_focus", "cinematic", "SHARP_FOCUS")))
        .isEqualTo("a red fox, watercolor painting, soft washes of color, paper texture, sharp focus, crisp details, "
            + "cinematic composition, dramatic lighting, film still");
  }

  @Test
  void everyDocumentedStyleAndEnhancerExists() {
    assertThat(PromptStyles.styles())
        .containsExactly("watercolor", "oil_painting", "digital_art", "cartoon", "realistic", "sketch", "anime");
    assertThat(PromptStyles.enhancers())
        .containsExactly("high_detail", "professional_lighting", "sharp_focus", "vibrant_colors", "cinematic");
  }
}
