package dev.imagegen.spring.boot;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ProviderHealth;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testing.ScriptedProvider;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/** A scripted provider that counts close() calls and health checks. */
final class ClosingProvider implements ImageProvider {
  final ScriptedProvider scripted;
  final AtomicInteger closed = new AtomicInteger();

  ClosingProvider(String id) {
    scripted = new ScriptedProvider(id);
  }

  ClosingProvider(String id, CostModel costModel) {
    scripted = new ScriptedProvider(id, ProviderCapabilities.builder().maxImagesPerRequest(4).build(), costModel);
  }

  @Override public String id() { return scripted.id(); }
  @Override public ProviderCapabilities capabilities() { return scripted.capabilities(); }
  @Override public CostModel costModel() { return scripted.costModel(); }

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context) {
    return scripted.generate(request, context);
  }

  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext context) {
    return scripted.health(context);
  }

  @Override
  public void close() {
    closed.incrementAndGet();
  }
}
