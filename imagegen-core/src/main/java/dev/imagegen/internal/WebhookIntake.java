package dev.imagegen.internal;

import dev.imagegen.WebhookReceiver;
import dev.imagegen.spi.WebhookVerifier;
import dev.imagegen.spi.Webhooks;
import dev.imagegen.spi.WebhookVerifier.Delivery;
import dev.imagegen.spi.WebhookVerifier.Rejection;
import dev.imagegen.spi.WebhookVerifier.Verification;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * The service's {@link WebhookReceiver}: finds the provider's verifier, checks the signature, the
 * timestamp's age and the delivery id, and nudges the job's poll loop ({@link PushRegistry}).
 */
final class WebhookIntake implements WebhookReceiver {
  /** Delivery ids remembered at most, whatever their age. */
  static final int MAX_REMEMBERED = 100_000;
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final Map<String, ProviderSlot> slots;
  private final PushRegistry pushes;
  private final Clock clock;
  private final Duration tolerance;
  /** Accepted delivery ids (provider id, NUL, delivery id) and when they were accepted, oldest first; guarded by itself. */
  private final LinkedHashMap<String, Instant> seen = new LinkedHashMap<>();

  WebhookIntake(Map<String, ProviderSlot> slots, PushRegistry pushes, Clock clock, Duration tolerance, Logger log) {
    this.slots = slots;
    this.pushes = pushes;
    this.clock = clock;
    this.tolerance = tolerance;
    slots.values().forEach(slot -> {
      if (Webhooks.allowUnsigned(slot.config)) {
        log.warn("{}: {} is true: webhook deliveries without a signature are accepted, so anyone who can reach the receiver "
            + "can make this service poll; deliveries with a wrong signature are still refused", slot.id(), Webhooks.ALLOW_UNSIGNED);
      }
    });
  }

  @Override
  public Response handle(String providerId, Map<String, List<String>> headers, byte[] body) {
    try {
      return handleAsync(providerId, headers, body).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Response(503, "interrupted while verifying the delivery");
    } catch (TimeoutException e) {
      return new Response(503, "verifying the delivery took longer than " + WAIT.toSeconds() + " s");
    } catch (ExecutionException e) { // handleAsync never fails; kept for safety
      return new Response(500, "the delivery could not be handled");
    }
  }

  @Override
  public CompletableFuture<Response> handleAsync(@Nullable String providerId, @Nullable Map<String, List<String>> headers,
      byte @Nullable [] body) {
    ProviderSlot slot = providerId == null ? null : slots.get(providerId);
    if (slot == null) {
      return done(404, "unknown provider");
    }
    WebhookVerifier verifier;
    try {
      verifier = slot.provider.webhookVerifier();
    } catch (RuntimeException e) {
      slot.context.log().warn("{}: its webhook verifier failed: {}", slot.id(), e.toString());
      return done(500, "the provider's webhook verifier failed");
    }
    if (verifier == null) {
      return done(404, "webhooks are not configured for provider " + slot.id());
    }
    if (body == null) {
      return done(400, "no body");
    }
    if (body.length > MAX_BODY_BYTES) {
      return done(413, "the body is over " + MAX_BODY_BYTES + " bytes");
    }
    Map<String, List<String>> h = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    if (headers != null) {
      headers.forEach((k, v) -> {
        if (k != null && v != null) {
          h.computeIfAbsent(k, x -> new ArrayList<>()).addAll(v);
        }
      });
    }
    CompletableFuture<Verification> verified;
    try {
      verified = verifier.verify(h, body, slot.context);
    } catch (RuntimeException e) {
      verified = CompletableFuture.failedFuture(e);
    }
    return verified.handle((v, e) -> {
      if (e != null || v == null) {
        slot.context.log().warn("{}: verifying a webhook delivery failed: {}", slot.id(), e == null ? "no answer" : e.toString());
        return new Response(500, "the delivery could not be verified");
      }
      return accept(slot, v);
    });
  }

  private Response accept(ProviderSlot slot, Verification v) {
    Logger plog = slot.context.log();
    if (v instanceof Rejection r) {
      int status = switch (r.kind()) {
        case UNAUTHORIZED -> 401;
        case MALFORMED -> 400;
        case UNAVAILABLE -> 503;
      };
      plog.info("{}: webhook delivery refused ({}): {}", slot.id(), status, r.reason());
      return new Response(status, r.reason());
    }
    Delivery d = (Delivery) v;
    Instant now = clock.instant();
    if (d.timestamp() != null) {
      Duration age = Duration.between(d.timestamp(), now);
      if (age.abs().compareTo(tolerance) > 0) {
        String why = "the delivery's timestamp is " + (age.isNegative() ? "ahead of" : "behind") + " this host's clock by more than "
            + tolerance.toSeconds() + " s";
        plog.info("{}: webhook delivery refused (401): {}", slot.id(), why);
        return new Response(401, why);
      }
    }
    if (!remember(slot.id() + '\u0000' + d.deliveryId(), now)) {
      plog.debug("{}: webhook delivery {} seen before; not acted on again", slot.id(), d.deliveryId());
      return new Response(200, "duplicate delivery; accepted before");
    }
    String job = d.remoteJobId();
    if (job == null || job.isBlank()) {
      return new Response(200, "accepted; it names no job");
    }
    boolean pending = pushes.push(slot.id(), job);
    plog.debug("{}: webhook delivery {} for job {}: {}", slot.id(), d.deliveryId(), job, pending ? "polling it now"
        : "no such job is pending here");
    return new Response(200, pending ? "accepted" : "accepted; no such job is pending here");
  }

  /** Remembers a delivery id for twice the tolerance (and at most {@value #MAX_REMEMBERED}); false when it was seen. */
  private boolean remember(String key, Instant now) {
    synchronized (seen) {
      Instant horizon = now.minus(tolerance.multipliedBy(2));
      for (Iterator<Instant> it = seen.values().iterator(); it.hasNext();) {
        if (it.next().isBefore(horizon) || seen.size() > MAX_REMEMBERED) {
          it.remove();
        } else {
          break;
        }
      }
      return seen.putIfAbsent(key, now) == null;
    }
  }

  /** How many delivery ids are remembered (for tests). */
  int remembered() {
    synchronized (seen) {
      return seen.size();
    }
  }

  private static CompletableFuture<Response> done(int status, String message) {
    return CompletableFuture.completedFuture(new Response(status, message));
  }
}
