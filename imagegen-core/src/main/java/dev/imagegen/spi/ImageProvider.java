package dev.imagegen.spi;

import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProviderHealth;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * A provider of images: one wire protocol. Created by its {@link ImageProviderFactory}, called by
 * the service, which owns routing, retries, rate limits, budgets, deadlines and cancellation.
 * Implementations must be thread-safe and must not block: return futures built on
 * {@link ProviderHttp} and {@link GenerationContext#await}.
 */
public interface ImageProvider extends AutoCloseable {

  /** The provider's id, e.g. {@code fal}; the same as its factory's. */
  String id();

  /** What the provider can do; routing skips it for requests it cannot honour. */
  ProviderCapabilities capabilities();

  /**
   * Generates images. Called by the service for each attempt (retries call it again), after
   * capability, budget, rate-limit and concurrency checks. The request's prompt is final (presets
   * and styles already applied); the negative prompt is already defaulted.
   *
   * <p>Throw or complete exceptionally with an {@link ImageGenerationException} subclass; any
   * other exception is reported as a provider fault. Once a remote job exists, call
   * {@link GenerationContext#remoteJobStarted} so cancellation reaches it.
   *
   * @param request the request
   * @param context deadline, cancellation, progress and shared support for this attempt
   * @return the images and usage
   */
  CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context);

  /**
   * Checks the provider with a real, cheap call (a key check, a heartbeat). Called by
   * {@code health()} and {@code testConnection}, and by routing for providers that report queue
   * depth. A refused key gives {@link ProviderHealth.State#AUTH_FAILED}, an unreachable server
   * {@link ProviderHealth.State#DOWN}; never complete exceptionally.
   *
   * @param context shared support
   */
  CompletableFuture<ProviderHealth> health(ProviderContext context);

  /** The price list. */
  CostModel costModel();

  /** The models this provider offers, from its configuration (no network call). */
  default List<ModelInfo> models() {
    return capabilities().models().stream().sorted().map(m -> new ModelInfo(id(), m, List.of(), "")).toList();
  }

  /**
   * Looks up or cancels the job a submit may have created when the submit's answer was lost
   * (connection reset after the body was sent). Called by the service before it considers another
   * submit. The default cannot reconcile.
   *
   * @param request the request whose submit was lost
   * @param context the attempt's context (its generation id is the one that was sent)
   */
  default CompletableFuture<Reconciliation> reconcile(ImageGenerationRequest request, GenerationContext context) {
    return CompletableFuture.completedFuture(Reconciliation.unknown());
  }

  /**
   * Maps a provider-specific error answer, before the default mapping of {@link HttpErrors}.
   * Called by {@link ProviderHttp} for every non-2xx answer.
   *
   * @param response the answer (its body already scrubbed of secrets)
   * @param context shared support (the JSON mapper)
   * @return the exception, or null to use the default mapping
   */
  default @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return null;
  }

  /**
   * Whether {@link #resume} can finish a job found in the job journal after a restart, from its
   * id and handles alone. Default false.
   */
  default boolean canResume() {
    return false;
  }

  /**
   * Finishes a job submitted by an earlier process (found in the job journal after a crash): polls
   * it to its end and returns its images, like the end of {@link #generate}. Never submits a job.
   * The context's deadline is the original generation's; its generation id the original one.
   * Called only when {@link #canResume()} is true; the default fails with an
   * {@link UnsupportedOperationException} naming the provider.
   *
   * @param job the job's id and handles, as the provider registered them
   * @param context deadline, cancellation and shared support
   * @return the images and usage, or a failure
   */
  default CompletableFuture<ProviderResult> resume(JobHandle job, GenerationContext context) {
    return CompletableFuture.failedFuture(new UnsupportedOperationException(id() + " cannot resume a job by its handles (job "
        + job.remoteJobId() + ")"));
  }

  /**
   * Whether {@link #cancel(JobHandle, ProviderContext)} can cancel a job from its id and handles
   * alone. Default false.
   */
  default boolean canCancelByHandle() {
    return false;
  }

  /**
   * Cancels a job submitted by an earlier process (found in the job journal after a crash), from
   * its id and handles alone. Called only when {@link #canCancelByHandle()} is true; the default
   * fails with an {@link UnsupportedOperationException} naming the provider.
   *
   * @param job the job's id and handles, as the provider registered them
   * @param context shared support
   * @return completes when the provider accepted the cancel (or the job had ended already)
   */
  default CompletableFuture<Void> cancel(JobHandle job, ProviderContext context) {
    return CompletableFuture.failedFuture(new UnsupportedOperationException(id() + " cannot cancel a job by its handles (job "
        + job.remoteJobId() + ")"));
  }

  /**
   * How this provider's webhook deliveries are verified, or null when it sends none (the default,
   * and a provider whose webhooks are not configured): the service's
   * {@code WebhookReceiver} answers 404 for it. See {@link WebhookVerifier} and
   * {@link StandardWebhooks}.
   *
   * @return the verifier, or null
   */
  default @Nullable WebhookVerifier webhookVerifier() {
    return null;
  }

  /** Releases resources. Called once by the service's close. */
  @Override
  default void close() {}
}
