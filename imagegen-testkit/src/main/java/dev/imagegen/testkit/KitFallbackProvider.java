package dev.imagegen.testkit;

import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ProviderHealth;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The second provider the kit registers in failover scenarios: always succeeds at once with a
 * small PNG, can serve any request, and counts its calls so a scenario can prove it was (or was
 * not) reached. Thread-safe.
 */
final class KitFallbackProvider implements ImageProvider {
  private static final byte[] IMAGE = StubImages.png(64, 64, 7).bytes();
  private final AtomicInteger calls = new AtomicInteger();

  /** How often {@link #generate} was called. */
  int calls() {
    return calls.get();
  }

  @Override
  public String id() {
    return ProviderKit.FALLBACK_ID;
  }

  @Override
  public ProviderCapabilities capabilities() {
    return ProviderCapabilities.builder().sizes(ImageGenerationRequest.MIN_SIZE, ImageGenerationRequest.MAX_SIZE, 8)
        .maxSteps(ImageGenerationRequest.MAX_STEPS).negativePrompt(true).seed(true).img2img(true).mask(true)
        .maxReferenceImages(16).maxImagesPerRequest(ImageGenerationRequest.MAX_IMAGES).loras(true).free(true).build();
  }

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context) {
    calls.incrementAndGet();
    return CompletableFuture.completedFuture(ProviderResult.builder("kit-fallback-model")
        .image(GeneratedImage.of(IMAGE.clone(), 7L, null, false)).build());
  }

  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext context) {
    return CompletableFuture.completedFuture(ProviderHealth.up(id(), Duration.ZERO));
  }

  @Override
  public CostModel costModel() {
    return CostModel.free();
  }

  @Override
  public String toString() {
    return "KitFallbackProvider[calls=" + calls.get() + "]";
  }
}
