package dev.imagegen.examples.plugin;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ProviderHealth;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HealthCheck;
import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Secret;
import java.math.BigDecimal;
import java.net.http.HttpRequest;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A provider plugin for a made-up synchronous API ("PixelForge"): {@code POST /v1/render} with
 * {@code prompt, negative_prompt, width, height, seed} answers {@code {"image_base64": "...", "seed": 42}};
 * errors are {@code {"error": "..."}} with the usual statuses; {@code GET /v1/me} checks the key.
 *
 * <p>A plugin author writes a factory (id, where the key comes from; listed in {@code META-INF/services},
 * so {@code fromEnvironment()} enables it when {@code PIXELFORGE_KEY} is set) and a provider on
 * {@link HttpImageProvider} that declares what it can do and its price ({@code declare}), adds the key
 * ({@code authorize}), maps the request to the API's fields and the answer to an image
 * ({@code ctx.downloader().image}) and probes the key ({@link HealthCheck#get}).
 * imagegen does the rest: base URL, deadlines, retries, failover, the usual error statuses, secrets
 * kept out of messages and logs, decoding, size limits, prices ({@code price-per-image} overrides).
 */
public final class PixelForgeProviderFactory implements ImageProviderFactory {
  @Override public String id() { return "pixelforge"; }
  @Override public Map<String, List<String>> customaryEnvironment() { return Map.of("api-key", List.of("PIXELFORGE_KEY")); }
  /** The keys read beyond the standard ones: none (a typo such as {@code imagegen.pixelforge.apikey} is reported). */
  @Override public Set<String> settings() { return Set.of(); }
  @Override public boolean isConfigured(ProviderConfig config) { return config.apiKey().isPresent(); }
  @Override public ImageProvider create(ProviderConfig config) { return new PixelForge(config); }

  private static final class PixelForge extends HttpImageProvider {
    private final Secret key = config.requireApiKey(); // never printed, revealed only for the header
    PixelForge(ProviderConfig config) {
      super(config, "https://api.pixelforge.example");
      declare(ProviderCapabilities.builder().negativePrompt(true).seed(true).sizes(64, 2048, 8).build(),
          CostModel.perImage(new BigDecimal("0.002")));
    }

    @Override protected HttpRequest.Builder authorize(HttpRequest.Builder request) {
      return request.header("Authorization", "Bearer " + key.reveal());
    }

    /** The submit's body; unset (null) fields are left out. */
    private record Render(String prompt, @JsonProperty("negative_prompt") String negativePrompt, Integer width, Integer height,
        Long seed) {}

    @Override public CompletableFuture<ProviderResult> generate(ImageGenerationRequest r, GenerationContext ctx) {
      Render body = new Render(r.prompt(), r.effectiveNegativePrompt(), r.width(), r.height(), r.seed());
      return ctx.http().json(postJson(ctx, "/v1/render", body))
          .thenCompose(n -> ctx.downloader().image(n.path("image_base64").asText(), n.path("seed").asLong(), false))
          .thenApply(image -> ProviderResult.builder("pixelforge-v1").image(image).build());
    }

    @Override public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
      return HealthCheck.get(ctx, request(ctx, "/v1/me").GET().build(), (answer, latency) -> ProviderHealth.up(id(), latency));
    }
  }
}
