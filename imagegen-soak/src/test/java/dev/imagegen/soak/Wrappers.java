package dev.imagegen.soak;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageDownloader;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Reconciliation;
import dev.imagegen.spi.Redactor;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * Provider wrappers for the soak's own tests: deliberately broken builds that the soak must catch.
 */
final class Wrappers {
  private Wrappers() {}

  /**
   * Broken: a provider that can neither resume nor cancel a job by its handles (the SPI's
   * defaults), so {@code recover()} leaves every job a crash left. Invariant 16 must fail.
   */
  static ImageProvider noRecovery(ImageProvider p) {
    return new Delegating(p) {};
  }

  /**
   * Broken: after a submit whose outcome is unknown (reset after the request, empty or malformed
   * answer, timeout), submits the same request again at once instead of reporting it. Invariant 2
   * must fail.
   */
  static ImageProvider blindResubmit(ImageProvider p) {
    return new Delegating(p) {
      @Override
      public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
        return p.generate(request, ctx).exceptionallyCompose(e -> {
          Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
          if (c instanceof ProviderUnavailableException pu && pu.outcomeUnknown() && !ctx.isCancelled()) {
            return p.generate(request, ctx);
          }
          return CompletableFuture.failedFuture(c);
        });
      }
    };
  }

  /**
   * Broken: reports a submit whose outcome is unknown (a 5xx after the job may have been created,
   * a reset, a timeout) as a plain failure that is safe to fail over, so the service pays another
   * provider while the first job may run and be billed. Invariant 12 must fail.
   */
  static ImageProvider unknownOutcomeAsSafe(ImageProvider p) {
    return new Delegating(p) {
      @Override
      public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
        return p.generate(request, ctx).exceptionallyCompose(e -> {
          Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
          if (c instanceof ProviderUnavailableException pu && pu.outcomeUnknown()) {
            return CompletableFuture.failedFuture(ProviderUnavailableException.failOver(pu.getMessage(), p.id(), null));
          }
          return CompletableFuture.failedFuture(c);
        });
      }
    };
  }

  /**
   * Broken: tells the service a job exists but hands it a cancel that never calls the provider.
   * Invariant 3 must fail.
   */
  static ImageProvider skipRemoteCancel(ImageProvider p) {
    return new Delegating(p) {
      @Override
      public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
        return p.generate(request, new Context(ctx, cancel -> () -> CompletableFuture.completedFuture(null)));
      }
    };
  }

  /**
   * Broken: a webhook verifier that checks neither the signature nor the timestamp (it reads the
   * delivery id and the job from the delivery and accepts it), as a receiver whose signature check
   * was switched off. Invariant 18 must fail: forged and stale deliveries are accepted and poll.
   */
  static ImageProvider unverifiedWebhooks(ImageProvider p) {
    return new Delegating(p) {
      @Override
      public dev.imagegen.spi.@Nullable WebhookVerifier webhookVerifier() {
        if (p.webhookVerifier() == null) {
          return null;
        }
        return (headers, body, ctx) -> {
          String id = dev.imagegen.spi.Webhooks.header(headers, "webhook-id");
          String falId = dev.imagegen.spi.Webhooks.header(headers, "X-Fal-Webhook-Request-Id");
          String job;
          try {
            com.fasterxml.jackson.databind.JsonNode json = ctx.json().readTree(body);
            job = json.has("id") ? json.get("id").asText() : json.path("request_id").asText(falId);
          } catch (java.io.IOException e) {
            return CompletableFuture.completedFuture(dev.imagegen.spi.WebhookVerifier.Rejection.malformed("not JSON"));
          }
          String delivery = id != null ? id : falId + "/" + dev.imagegen.spi.Webhooks.header(headers, "X-Fal-Webhook-Timestamp");
          return CompletableFuture.completedFuture(new dev.imagegen.spi.WebhookVerifier.Delivery(delivery, job, null));
        };
      }
    };
  }

  /**
   * Broken: a webhook verifier that checks deliveries as the provider's does but loses the job
   * they name, so no delivery nudges a poll loop and only the safety net ends a job. Invariant 21
   * must fail (deliveries take the safety-net interval), and 17 (an early delivery polls nothing).
   */
  static ImageProvider webhooksNameNoJob(ImageProvider p) {
    return new Delegating(p) {
      @Override
      public dev.imagegen.spi.@Nullable WebhookVerifier webhookVerifier() {
        dev.imagegen.spi.WebhookVerifier real = p.webhookVerifier();
        if (real == null) {
          return null;
        }
        return (headers, body, ctx) -> real.verify(headers, body, ctx).thenApply(v ->
            v instanceof dev.imagegen.spi.WebhookVerifier.Delivery d
                ? new dev.imagegen.spi.WebhookVerifier.Delivery(d.deliveryId(), null, d.timestamp()) : v);
      }
    };
  }

  /** An attempt's context that changes the cancel handed to {@link GenerationContext#remoteJobStarted}. */
  private static final class Context implements GenerationContext {
    private final GenerationContext ctx;
    private final Function<Supplier<CompletableFuture<?>>, Supplier<CompletableFuture<?>>> cancels;

    Context(GenerationContext ctx, Function<Supplier<CompletableFuture<?>>, Supplier<CompletableFuture<?>>> cancels) {
      this.ctx = ctx;
      this.cancels = cancels;
    }

    @Override public String providerId() { return ctx.providerId(); }
    @Override public ProviderConfig config() { return ctx.config(); }
    @Override public ObjectMapper json() { return ctx.json(); }
    @Override public ScheduledExecutorService scheduler() { return ctx.scheduler(); }
    @Override public Logger log() { return ctx.log(); }
    @Override public Redactor redactor() { return ctx.redactor(); }
    @Override public ProviderHttp http() { return ctx.http(); }
    @Override public ImageDownloader downloader() { return ctx.downloader(); }
    @Override public String generationId() { return ctx.generationId(); }
    @Override public Instant deadline() { return ctx.deadline(); }
    @Override public boolean isCancelled() { return ctx.isCancelled(); }
    @Override public void onCancel(Runnable action) { ctx.onCancel(action); }
    @Override public void progress(ProgressEvent event) { ctx.progress(event); }

    @Override
    public void remoteJobStarted(String remoteJobId, Supplier<CompletableFuture<?>> cancel) {
      ctx.remoteJobStarted(remoteJobId, cancels.apply(cancel));
    }
  }

  /** Delegates everything to a provider. */
  private static class Delegating implements ImageProvider {
    private final ImageProvider p;

    Delegating(ImageProvider p) {
      this.p = p;
    }

    @Override public String id() { return p.id(); }
    @Override public ProviderCapabilities capabilities() { return p.capabilities(); }
    @Override public CompletableFuture<ProviderHealth> health(ProviderContext context) { return p.health(context); }
    @Override public CostModel costModel() { return p.costModel(); }
    @Override public java.util.List<dev.imagegen.ModelInfo> models() { return p.models(); }
    @Override public void close() { p.close(); }

    @Override
    public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context) {
      return p.generate(request, context);
    }

    @Override
    public CompletableFuture<Reconciliation> reconcile(ImageGenerationRequest request, GenerationContext context) {
      return p.reconcile(request, context);
    }

    @Override
    public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
      return p.mapError(response, context);
    }
  }
}
