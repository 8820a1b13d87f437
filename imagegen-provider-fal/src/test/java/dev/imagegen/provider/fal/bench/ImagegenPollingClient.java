package dev.imagegen.provider.fal.bench;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.provider.fal.FalProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.util.concurrent.CompletableFuture;

/**
 * imagegen's {@code generateAsync} through the fal provider, polling with the defaults (poll
 * intervals, the provider's poll budget); only {@code base-url}, {@code max-concurrent} (so that
 * every job is in flight at once) and a timeout long enough for the slowest job are set.
 */
final class ImagegenPollingClient implements BenchClient {
  static final Factory FACTORY = new Factory() {
    @Override
    public String name() {
      return "imagegen";
    }

    @Override
    public BenchClient create(String baseUrl, int jobs) {
      return new ImagegenPollingClient(baseUrl, jobs);
    }
  };

  private final ImageGenerationService service;
  private final ImageGenerationRequest request = ImageGenerationRequest.builder().prompt("a red fox in snow").build();

  ImagegenPollingClient(String baseUrl, int jobs) {
    ProviderConfig config = ProviderConfig.builder("fal").apiKey("bench-key-id:bench-key-secret").baseUrl(baseUrl)
        .set("max-concurrent", String.valueOf(Math.max(16, jobs))).set("timeout", "30m").build();
    service = ImageGenerationService.builder().provider(new FalProviderFactory(), config).build();
  }

  @Override
  public String name() {
    return "imagegen `generateAsync` (polling, default budget)";
  }

  @Override
  public CompletableFuture<?> generate(int i) {
    return service.generateAsync(request);
  }

  @Override
  public void close() {
    service.close();
  }
}
