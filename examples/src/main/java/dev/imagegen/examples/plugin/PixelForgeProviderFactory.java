package dev.imagegen.examples.plugin;

import com.fasterxml.jackson.databind.JsonNode;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ProviderHealth;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Secret;
import java.math.BigDecimal;
import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * A provider plugin in a few dozen lines, for a made-up synchronous API ("PixelForge"):
 * {@code POST /v1/render} with {@code prompt, negative_prompt, width, height, seed} answers
 * {@code {"image_base64": "...", "seed": 42}}; errors are {@code {"error": "..."}} with the usual
 * statuses; {@code GET /v1/me} checks the key. Everything else (timeouts, retries, error mapping,
 * secrets, decoding, cost, failover) comes from imagegen's SPI support. Listed in
 * {@code META-INF/services}, so {@code fromEnvironment()} enables it when {@code PIXELFORGE_KEY} is set.
 */
public final class PixelForgeProviderFactory implements ImageProviderFactory {
  @Override public String id() { return "pixelforge"; }
  @Override public Map<String, List<String>> customaryEnvironment() { return Map.of("api-key", List.of("PIXELFORGE_KEY")); }
  @Override public boolean isConfigured(ProviderConfig config) { return config.apiKey().isPresent(); }
  @Override public ImageProvider create(ProviderConfig config) { return new PixelForge(config); }

  private static final class PixelForge implements ImageProvider {
    private final URI base;
    private final Secret key; // a Secret: never printed, revealed only for the header
    private final CostModel cost;

    PixelForge(ProviderConfig config) {
      this.base = config.baseUrl("https://api.pixelforge.example");
      this.key = config.apiKey().orElseThrow();
      this.cost = CostModel.fromConfig(config, CostModel.perImage(new BigDecimal("0.002")));
    }

    @Override public String id() { return "pixelforge"; }
    @Override public CostModel costModel() { return cost; }
    @Override public ProviderCapabilities capabilities() {
      return ProviderCapabilities.builder().negativePrompt(true).seed(true).sizes(64, 2048, 8).build();
    }

    @Override
    public CompletableFuture<ProviderResult> generate(ImageGenerationRequest r, GenerationContext ctx) {
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("prompt", r.prompt());
      body.put("negative_prompt", r.effectiveNegativePrompt());
      body.put("width", r.width());
      body.put("height", r.height());
      body.put("seed", r.seed());
      ProviderHttp http = ctx.http();
      return http.json(http.request(ProviderHttp.join(base, "/v1/render")).header("Authorization", "Bearer " + key.reveal())
              .header("Content-Type", "application/json").POST(http.jsonBody(body)).build())
          .thenCompose((JsonNode n) -> ctx.downloader().image(n.path("image_base64").asText(), n.path("seed").asLong(), false))
          .thenApply(img -> ProviderResult.builder("pixelforge-v1").image(img).build());
    }

    @Override
    public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
      long t0 = System.nanoTime();
      return ctx.http().send(ctx.http().request(ProviderHttp.join(base, "/v1/me")).header("Authorization", "Bearer " + key.reveal())
          .GET().build(), 65_536).handle((res, e) -> new ProviderHealth("pixelforge",
          e != null ? ProviderHealth.State.DOWN : res.isSuccess() ? ProviderHealth.State.UP
              : res.status() == 401 || res.status() == 403 ? ProviderHealth.State.AUTH_FAILED : ProviderHealth.State.DOWN,
          Duration.ofNanos(System.nanoTime() - t0), e == null ? "HTTP " + res.status() : e.getMessage(), null, null));
    }
  }
}
