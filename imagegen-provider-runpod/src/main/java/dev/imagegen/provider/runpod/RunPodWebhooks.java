package dev.imagegen.provider.runpod;

import com.fasterxml.jackson.databind.JsonNode;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.WebhookVerifier;
import dev.imagegen.spi.Webhooks;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * RunPod's webhook deliveries: RunPod signs nothing, so this verifier exists only when the
 * operator set {@code webhook-allow-unsigned} (the provider refuses {@code webhook-url} without
 * it). The body is the job's {@code /status} object; the job is its {@code id}, the delivery id
 * the SHA-256 of the body (RunPod resends the same body up to twice), and there is no timestamp.
 * Since anyone reaching the receiver can send one, a delivery only makes the job poll at once: the
 * result still comes from {@code /status}. Thread-safe.
 */
final class RunPodWebhooks implements WebhookVerifier {

  @Override
  public CompletableFuture<Verification> verify(Map<String, List<String>> headers, byte[] body, ProviderContext context) {
    JsonNode json;
    try {
      json = context.json().readTree(body);
    } catch (IOException e) {
      return CompletableFuture.completedFuture(Rejection.malformed("the body is not JSON"));
    }
    JsonNode id = json == null ? null : json.get("id");
    if (id == null || !id.isTextual() || id.asText().isBlank()) {
      return CompletableFuture.completedFuture(Rejection.malformed("the body names no job (no id)"));
    }
    return CompletableFuture.completedFuture(new Delivery(Webhooks.sha256Hex(body), id.asText().strip(), null));
  }
}
