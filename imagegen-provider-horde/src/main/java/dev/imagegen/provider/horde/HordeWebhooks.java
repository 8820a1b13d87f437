package dev.imagegen.provider.horde;

import com.fasterxml.jackson.databind.JsonNode;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.WebhookVerifier;
import dev.imagegen.spi.Webhooks;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * AI Horde's webhook deliveries: one POST per finished image, unsigned, so this verifier exists
 * only when the operator set {@code webhook-allow-unsigned} (the provider refuses
 * {@code webhook-url} without it). The body is the image's generation ({@code img}, {@code seed},
 * {@code worker_id}, {@code model}, {@code censored}...) plus {@code id} (the generation's id),
 * {@code request} (the async request's id, the one polled) and {@code kudos}. The job is
 * {@code request}; the delivery id is {@code request/id} (the Horde resends the same generation up
 * to three times), else the SHA-256 of the body; there is no timestamp. A delivery only makes the
 * request poll at once: the images still come from {@code /generate/status}. Thread-safe.
 */
final class HordeWebhooks implements WebhookVerifier {

  @Override
  public CompletableFuture<Verification> verify(Map<String, List<String>> headers, byte[] body, ProviderContext context) {
    JsonNode json;
    try {
      json = context.json().readTree(body);
    } catch (IOException e) {
      return CompletableFuture.completedFuture(Rejection.malformed("the body is not JSON"));
    }
    String request = json == null ? null : text(json, "request");
    if (request == null) {
      return CompletableFuture.completedFuture(Rejection.malformed("the body names no request (no request)"));
    }
    String generation = text(json, "id");
    String deliveryId = generation != null ? request + "/" + generation : Webhooks.sha256Hex(body);
    return CompletableFuture.completedFuture(new Delivery(deliveryId, request, null));
  }

  private static @Nullable String text(JsonNode json, String field) {
    JsonNode v = json.get(field);
    return v != null && v.isTextual() && !v.asText().isBlank() ? v.asText().strip() : null;
  }
}
