package dev.imagegen.provider.fal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.WebhookVerifier;
import dev.imagegen.spi.Webhooks;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * fal's webhook signatures: an Ed25519 signature, hex in {@code X-Fal-Webhook-Signature}, over
 * the four lines {@code X-Fal-Webhook-Request-Id}, {@code X-Fal-Webhook-User-Id},
 * {@code X-Fal-Webhook-Timestamp} (seconds since the epoch) and the SHA-256 hex of the raw body,
 * joined by {@code \n}; any key of fal's JSON Web Key Set ({@code webhook-jwks-url}, Ed25519
 * {@code OKP} keys, {@code x} base64url) may have signed it. The key set is fetched with the
 * provider's HTTP client (no credential is sent), kept for 24 hours, and fetched again, at most
 * once a minute, when no key verifies a delivery (fal rotates keys). The job is the body's
 * {@code request_id}, else the signed request id header. Thread-safe.
 */
final class FalWebhooks implements WebhookVerifier {
  /** fal's documented key set. */
  static final String DEFAULT_JWKS_URL = "https://rest.fal.ai/.well-known/jwks.json";
  /** Config key: where the key set is read. */
  static final String JWKS_URL = "webhook-jwks-url";
  static final Duration KEEP = Duration.ofHours(24);
  static final Duration REFETCH_AFTER = Duration.ofMinutes(1);
  /** The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow. */
  private static final byte[] ED25519_SPKI_PREFIX = HexFormat.of().parseHex("302a300506032b6570032100");

  private final URI jwksUrl;
  private final boolean allowUnsigned;
  private volatile @Nullable Keys keys;

  private record Keys(List<PublicKey> keys, Instant fetched) {}

  FalWebhooks(URI jwksUrl, boolean allowUnsigned) {
    this.jwksUrl = jwksUrl;
    this.allowUnsigned = allowUnsigned;
  }

  @Override
  public CompletableFuture<Verification> verify(Map<String, List<String>> headers, byte[] body, ProviderContext ctx) {
    String requestId = Webhooks.header(headers, "X-Fal-Webhook-Request-Id");
    String userId = Webhooks.header(headers, "X-Fal-Webhook-User-Id");
    String ts = Webhooks.header(headers, "X-Fal-Webhook-Timestamp");
    String sig = Webhooks.header(headers, "X-Fal-Webhook-Signature");
    if (requestId == null && userId == null && ts == null && sig == null && allowUnsigned) {
      return CompletableFuture.completedFuture(delivery("unsigned-" + Webhooks.sha256Hex(body), null, null, body, ctx));
    }
    if (requestId == null || userId == null || ts == null || sig == null) {
      List<String> missing = new ArrayList<>();
      if (requestId == null) {
        missing.add("X-Fal-Webhook-Request-Id");
      }
      if (userId == null) {
        missing.add("X-Fal-Webhook-User-Id");
      }
      if (ts == null) {
        missing.add("X-Fal-Webhook-Timestamp");
      }
      if (sig == null) {
        missing.add("X-Fal-Webhook-Signature");
      }
      return done(Rejection.unauthorized("missing " + String.join(" ", missing)));
    }
    Instant at;
    try {
      at = Instant.ofEpochSecond(Long.parseLong(ts));
    } catch (RuntimeException e) {
      return done(Rejection.unauthorized("X-Fal-Webhook-Timestamp is not a number of seconds"));
    }
    byte[] signature;
    try {
      signature = HexFormat.of().parseHex(sig);
    } catch (IllegalArgumentException e) {
      return done(Rejection.unauthorized("X-Fal-Webhook-Signature is not hex"));
    }
    byte[] message = (requestId + "\n" + userId + "\n" + ts + "\n" + Webhooks.sha256Hex(body)).getBytes(StandardCharsets.UTF_8);
    String deliveryId = requestId + "/" + ts;
    return keys(ctx, false).thenCompose(k -> {
      if (anyVerifies(k.keys(), message, signature)) {
        return CompletableFuture.completedFuture(k);
      }
      if (Duration.between(k.fetched(), Instant.now()).compareTo(REFETCH_AFTER) < 0) {
        return CompletableFuture.completedFuture(null);
      }
      return keys(ctx, true).thenApply(fresh -> anyVerifies(fresh.keys(), message, signature) ? fresh : null);
    }).handle((k, e) -> {
      if (e != null) {
        ctx.log().warn("{}: fal's webhook key set could not be read from {}: {}", ctx.providerId(), jwksUrl, e.toString());
        return Rejection.unavailable("fal's webhook key set could not be read");
      }
      if (k == null) {
        return Rejection.unauthorized("no key of fal's key set verifies X-Fal-Webhook-Signature");
      }
      return delivery(deliveryId, requestId, at, body, ctx);
    });
  }

  private static Verification delivery(String deliveryId, @Nullable String headerRequestId, @Nullable Instant at, byte[] body,
      ProviderContext ctx) {
    JsonNode json = Webhooks.readObject(body, ctx.json());
    if (json == null) {
      return Rejection.malformed("the body is not a JSON object");
    }
    String id = Webhooks.text(json, "request_id");
    String job = id != null ? id : headerRequestId;
    return new Delivery(deliveryId, job, at);
  }

  private static boolean anyVerifies(List<PublicKey> keys, byte[] message, byte[] signature) {
    for (PublicKey k : keys) {
      try {
        Signature v = Signature.getInstance("Ed25519");
        v.initVerify(k);
        v.update(message);
        if (v.verify(signature)) {
          return true;
        }
      } catch (GeneralSecurityException e) {
        // a malformed signature for this key: try the next
      }
    }
    return false;
  }

  /** The key set: the one kept (under 24 h old) unless {@code fresh}, else fetched. */
  private CompletableFuture<Keys> keys(ProviderContext ctx, boolean fresh) {
    Keys k = keys;
    if (!fresh && k != null && Duration.between(k.fetched(), Instant.now()).compareTo(KEEP) < 0) {
      return CompletableFuture.completedFuture(k);
    }
    // deliveries that arrive together share one fetch in flight
    CompletableFuture<Keys> mine = new CompletableFuture<>();
    CompletableFuture<Keys> running = fetching.compareAndExchange(null, mine);
    if (running != null) {
      return running;
    }
    HttpRequest req = HttpRequest.newBuilder(jwksUrl).header("Accept", "application/json").GET().build();
    CompletableFuture<Keys> f;
    try {
      f = ctx.http().json(req).thenApply(json -> {
        Keys read = new Keys(parse(json), Instant.now());
        keys = read;
        return read;
      });
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    f.whenComplete((read, e) -> {
      fetching.compareAndSet(mine, null);
      if (e != null) {
        mine.completeExceptionally(e);
      } else {
        mine.complete(read);
      }
    });
    return mine;
  }

  /** The key-set fetch in flight, if any. */
  private final java.util.concurrent.atomic.AtomicReference<@Nullable CompletableFuture<Keys>> fetching =
      new java.util.concurrent.atomic.AtomicReference<>();

  /**
   * The Ed25519 keys of a JSON Web Key Set ({@code {"keys":[{"kty":"OKP","crv":"Ed25519","x":"..."}]}}).
   *
   * @throws IllegalStateException when it holds none
   */
  static List<PublicKey> parse(JsonNode jwks) {
    List<PublicKey> out = new ArrayList<>();
    for (JsonNode k : jwks.path("keys")) {
      if (!"OKP".equals(k.path("kty").asText()) || !"Ed25519".equals(k.path("crv").asText()) || !k.path("x").isTextual()) {
        continue;
      }
      try {
        byte[] raw = Base64.getUrlDecoder().decode(k.path("x").asText());
        if (raw.length != 32) {
          continue;
        }
        byte[] der = new byte[ED25519_SPKI_PREFIX.length + raw.length];
        System.arraycopy(ED25519_SPKI_PREFIX, 0, der, 0, ED25519_SPKI_PREFIX.length);
        System.arraycopy(raw, 0, der, ED25519_SPKI_PREFIX.length, raw.length);
        out.add(KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(der)));
      } catch (IllegalArgumentException | GeneralSecurityException e) {
        // not a usable key: skipped
      }
    }
    if (out.isEmpty()) {
      throw new IllegalStateException("the key set holds no Ed25519 key");
    }
    return List.copyOf(out);
  }

  private static CompletableFuture<Verification> done(Verification v) {
    return CompletableFuture.completedFuture(v);
  }
}
