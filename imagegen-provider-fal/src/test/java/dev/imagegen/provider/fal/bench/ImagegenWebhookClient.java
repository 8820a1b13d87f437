package dev.imagegen.provider.fal.bench;

import com.sun.net.httpserver.HttpServer;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.provider.fal.FalProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.Signature;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * imagegen's {@code generateAsync} through the fal provider with {@code webhook-url} set: the jobs are
 * polled as a safety net (every 30 s, within the poll budget), and at the release fal's deliveries
 * (one per job, signed with Ed25519 as fal signs them, the key set served on loopback) are handed
 * to {@code service.webhooks()} in this process, as the application's HTTP endpoint would hand them
 * on; each makes its job poll at once. The deliveries are signed before the release, since fal signs
 * them, not the client; the HTTP server the application mounts the receiver on is not measured.
 */
final class ImagegenWebhookClient implements BenchClient {
  static final Factory FACTORY = new Factory() {
    @Override
    public String name() {
      return "imagegen-webhooks";
    }

    @Override
    public BenchClient create(String baseUrl, int jobs) throws Exception {
      return new ImagegenWebhookClient(baseUrl, jobs);
    }
  };

  private final ImageGenerationService service;
  private final HttpServer keys;
  private final KeyPair key;
  private final int jobs;
  private final ImageGenerationRequest request = ImageGenerationRequest.builder().prompt("a red fox in snow").build();
  private final List<Object[]> signed = new ArrayList<>();

  ImagegenWebhookClient(String baseUrl, int jobs) throws Exception {
    this.jobs = jobs;
    this.key = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    byte[] spki = key.getPublic().getEncoded();
    byte[] raw = Arrays.copyOfRange(spki, spki.length - 32, spki.length);
    byte[] jwks = ("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"bench\",\"x\":\""
        + Base64.getUrlEncoder().withoutPadding().encodeToString(raw) + "\"}]}").getBytes(StandardCharsets.UTF_8);
    keys = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
    keys.createContext("/.well-known/jwks.json", ex -> {
      try (ex) {
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(200, jwks.length);
        ex.getResponseBody().write(jwks);
      }
    });
    keys.start();
    ProviderConfig config = ProviderConfig.builder("fal").apiKey("bench-key-id:bench-key-secret").baseUrl(baseUrl)
        .set("max-concurrent", String.valueOf(Math.max(16, jobs))).set("timeout", "30m")
        .set("webhook-url", "https://app.example.com/hooks/fal")
        .set("webhook-jwks-url", "http://127.0.0.1:" + keys.getAddress().getPort() + "/.well-known/jwks.json").build();
    service = ImageGenerationService.builder().provider(new FalProviderFactory(), config).build();
  }

  @Override
  public String name() {
    return "imagegen `generateAsync` (webhooks, polling as a 30 s safety net)";
  }

  @Override
  public CompletableFuture<?> generate(int i) {
    return service.generateAsync(request);
  }

  /** Signs one delivery per job (the stub numbers its requests req-1 to req-N), as fal would before sending. */
  @Override
  public void beforeRelease() {
    try {
      long ts = Instant.now().getEpochSecond();
      for (int i = 1; i <= jobs; i++) {
        String id = "req-" + i;
        byte[] body = ("{\"request_id\":\"" + id + "\",\"gateway_request_id\":\"" + id + "\",\"status\":\"OK\","
            + "\"payload\":{\"images\":[{\"url\":\"https://v3.fal.media/files/x.png\"}],\"seed\":7}}")
            .getBytes(StandardCharsets.UTF_8);
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
        Signature s = Signature.getInstance("Ed25519");
        s.initSign(key.getPrivate());
        s.update((id + "\nbench-user\n" + ts + "\n" + sha).getBytes(StandardCharsets.UTF_8));
        Map<String, List<String>> headers = Map.of("X-Fal-Webhook-Request-Id", List.of(id), "X-Fal-Webhook-User-Id",
            List.of("bench-user"), "X-Fal-Webhook-Timestamp", List.of(String.valueOf(ts)), "X-Fal-Webhook-Signature",
            List.of(HexFormat.of().formatHex(s.sign())), "Content-Type", List.of("application/json"));
        signed.add(new Object[] {headers, body});
      }
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  @SuppressWarnings("unchecked")
  public void released() {
    for (Object[] d : signed) {
      service.webhooks().handleAsync("fal", (Map<String, List<String>>) d[0], (byte[]) d[1]);
    }
    signed.clear();
  }

  @Override
  public void close() {
    service.close();
    keys.stop(0);
  }
}
