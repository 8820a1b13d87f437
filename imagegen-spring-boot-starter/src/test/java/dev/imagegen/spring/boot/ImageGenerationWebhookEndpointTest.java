package dev.imagegen.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The webhook endpoint mounted in a web application: a signed Replicate delivery is accepted, a forged
 * one refused with the receiver's 401, a provider without webhooks answered 404 by the receiver.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
    "imagegen.horde.enabled=false", "imagegen.scripted.api-key=k-app",
    "imagegen.replicate.api-key=r8-test-key", "imagegen.replicate.webhook-url=https://app.example.com/hooks/replicate",
    "imagegen.replicate.webhook-secret=" + ImageGenerationWebhookEndpointTest.SECRET,
    "imagegen.webhooks.endpoint.enabled=true", "imagegen.webhooks.endpoint.path=/hooks", "imagegen.strict=true"})
class ImageGenerationWebhookEndpointTest {
  static final byte[] KEY = "a-signing-key-of-32-bytes-length".getBytes(StandardCharsets.UTF_8);
  static final String SECRET = "whsec_YS1zaWduaW5nLWtleS1vZi0zMi1ieXRlcy1sZW5ndGg=";

  @SpringBootConfiguration
  @EnableAutoConfiguration
  static class App {}

  @LocalServerPort int port;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private HttpResponse<String> post(String path, String id, long ts, String signature, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).timeout(Duration.ofSeconds(20))
        .header("Content-Type", "application/json").header("webhook-id", id).header("webhook-timestamp", String.valueOf(ts))
        .header("webhook-signature", signature).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static String sign(String id, long ts, String body) throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(KEY, "HmacSHA256"));
    return "v1," + Base64.getEncoder().encodeToString(mac.doFinal((id + "." + ts + "." + body).getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void signedDeliveriesReachTheReceiverAndForgedOnesAreRefused() throws Exception {
    assertThat(Base64.getDecoder().decode(SECRET.substring("whsec_".length()))).isEqualTo(KEY);
    String body = "{\"id\":\"not-pending-here\",\"status\":\"succeeded\"}";
    long now = Instant.now().getEpochSecond();

    HttpResponse<String> good = post("/hooks/replicate", "msg_1", now, sign("msg_1", now, body), body);
    assertThat(good.statusCode()).as(good.body()).isEqualTo(200);

    HttpResponse<String> forged = post("/hooks/replicate", "msg_2", now, sign("msg_2", now, body + " "), body);
    assertThat(forged.statusCode()).as(forged.body()).isEqualTo(401);
    assertThat(forged.body()).doesNotContain("not-pending-here");

    HttpResponse<String> stale = post("/hooks/replicate", "msg_3", now - 3600, sign("msg_3", now - 3600, body), body);
    assertThat(stale.statusCode()).as(stale.body()).isEqualTo(401);

    HttpResponse<String> noWebhooks = post("/hooks/scripted", "msg_4", now, sign("msg_4", now, body), body);
    assertThat(noWebhooks.statusCode()).as(noWebhooks.body()).isEqualTo(404);
  }
}
