package dev.imagegen.springai;

import dev.imagegen.GeneratedImage;
import org.jspecify.annotations.Nullable;
import org.springframework.ai.image.ImageGenerationMetadata;

/**
 * What imagegen knows about one image of a response: its media type, size in pixels, seed and
 * whether the provider flagged it. Read it from {@code ImageGeneration.getMetadata()}.
 *
 * @param mediaType the media type, sniffed from the bytes (e.g. {@code image/png})
 * @param width width in pixels, read from the image header (0 when the header did not say)
 * @param height height in pixels, read from the image header (0 when the header did not say)
 * @param seed the seed the provider used, or null when it did not say
 * @param nsfw whether the provider flagged the image
 * @param sourceUrl where the provider served the image from, or null when it came inline (such URLs may expire)
 */
public record ImagegenImageGenerationMetadata(String mediaType, int width, int height, @Nullable Long seed,
    boolean nsfw, @Nullable String sourceUrl) implements ImageGenerationMetadata {

  /**
   * The metadata of one imagegen image.
   *
   * @param image the image
   * @return its metadata
   */
  public static ImagegenImageGenerationMetadata of(GeneratedImage image) {
    return new ImagegenImageGenerationMetadata(image.mediaType(), image.width(), image.height(), image.seed(),
        image.nsfw(), image.sourceUrl());
  }
}
