package dev.imagegen.testkit.example;

import dev.imagegen.AuthenticationException;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testkit.StubImages;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;

/**
 * Ways to break the example provider, each with the kit tests it must make fail. The kit's own
 * tests ({@link BrokenVariantsTest}) run those tests against each broken provider and expect
 * every one of them to fail: a scenario no breakage can fail would be a check that cannot fail.
 */
enum Breakage {
  /** Sends {@code text} and {@code cfg} instead of the {@code prompt} and {@code guidance} Acme documents. */
  WRONG_FIELD_NAMES(Set.of("s01_textToImageSucceeds"), c -> new AcmeProvider(c) {
    @Override
    Object submitBody(ImageGenerationRequest r) {
      return Map.of("text", r.prompt(), "width", r.width(), "height", r.height(), "seed", r.seed(), "steps", r.steps(),
          "cfg", r.guidanceScale());
    }
  }),

  /** Does not report the seed Acme returned. */
  DROPS_SEED(Set.of("s01_textToImageSucceeds"), c -> new AcmeProvider(c) {
    @Override
    CompletableFuture<GeneratedImage> image(AcmeWire.Output out, GenerationContext ctx) {
      return ctx.downloader().image(java.util.Objects.requireNonNull(out.url()), null, false);
    }
  }),

  /** Reports no progress while the job is queued or running. */
  NO_PROGRESS(Set.of("s02_queuedThenRunningThenDone"), c -> new AcmeProvider(c) {
    @Override
    @Nullable ProgressEvent progress(AcmeWire.Job job) {
      return null;
    }
  }),

  /** Polls every 10 ms, ignoring both the configuration and Acme's 100 ms floor. */
  POLLS_TOO_FAST(Set.of("s02_queuedThenRunningThenDone", "s02_pollErrorsKeepTheJob"), c -> new AcmeProvider(c) {
    @Override
    PollPolicy policy(GenerationContext ctx) {
      return PollPolicy.every(Duration.ofMillis(10), Duration.ZERO);
    }
  }),

  /** Fails the job when one poll fails. */
  GIVES_UP_ON_POLL_ERROR(Set.of("s02_pollErrorsKeepTheJob"), c -> new AcmeProvider(c) {
    @Override
    CompletableFuture<PollResult> poll(String jobId, GenerationContext ctx) {
      return super.poll(jobId, ctx).exceptionally(e -> PollResult.failed(new ProviderUnavailableException(
          "status check of " + jobId + " failed", ID, false, false, null, null)));
    }
  }),

  /** Treats a refused key as a passing glitch, so it is retried. */
  RETRIES_ON_401(Set.of("s03_authenticationRefusedIsNotRetried"), c -> new AcmeProvider(c) {
    @Override
    public @Nullable ImageGenerationException mapError(HttpResult r, ProviderContext ctx) {
      return r.status() == 401 ? new ProviderUnavailableException("auth glitch", ID, null) : super.mapError(r, ctx);
    }
  }),

  /** Puts the key in the message of the refusal. */
  KEY_IN_MESSAGE(Set.of("s03_authenticationRefusedIsNotRetried", "s14_secretsNeverLeak"), c -> new AcmeProvider(c) {
    @Override
    public @Nullable ImageGenerationException mapError(HttpResult r, ProviderContext ctx) {
      return r.status() == 401 ? new AuthenticationException("key " + key.reveal() + " was refused", ID)
          : super.mapError(r, ctx);
    }
  }),

  /** Treats an empty account as a passing glitch, so it is retried. */
  RETRIES_ON_402(Set.of("s04_outOfCreditsFailsOverWithoutRetry"), c -> new AcmeProvider(c) {
    @Override
    public @Nullable ImageGenerationException mapError(HttpResult r, ProviderContext ctx) {
      return r.status() == 402 ? new ProviderUnavailableException("billing glitch", ID, null) : super.mapError(r, ctx);
    }
  }),

  /** Maps 429 without the Retry-After delay. */
  IGNORES_RETRY_AFTER(Set.of("s05_rateLimitedCarriesRetryAfter", "s05_longRetryAfterFailsOverAtOnce"),
      c -> new AcmeProvider(c) {
        @Override
        public @Nullable ImageGenerationException mapError(HttpResult r, ProviderContext ctx) {
          return r.status() == 429 ? new RateLimitedException("rate limited", ID, null, null) : super.mapError(r, ctx);
        }
      }),

  /** Marks its paid submit as safe to repeat, so a 5xx to it is retried blindly. */
  SUBMIT_MARKED_RETRY_SAFE(Set.of("s06_serverErrorToTheSubmitIsNotResubmittedBlindly"), c -> new AcmeProvider(c) {
    @Override
    HttpRequest submitRequest(ImageGenerationRequest r, GenerationContext ctx) {
      return dev.imagegen.spi.ProviderHttp.retrySafe(HttpRequest.newBuilder(super.submitRequest(r, ctx), (n, v) -> true))
          .build();
    }
  }),

  /** Reports every transport fault as an invalid request, which is neither retried nor failed over. */
  FAULTS_AS_INVALID_REQUEST(Set.of("s06_connectionRefusedFailsOver"), c -> new AcmeProvider(c) {
    @Override
    public CompletableFuture<ProviderResult> generate(ImageGenerationRequest r, GenerationContext ctx) {
      return super.generate(r, ctx).handle((v, e) -> {
        if (e == null) {
          return v;
        }
        Throwable x = unwrap(e);
        if (x instanceof ProviderUnavailableException) {
          throw new CompletionException(new InvalidRequestException(List.of("acme could not take it: " + x.getMessage()),
              ID, x));
        }
        throw new CompletionException(x);
      });
    }
  }),

  /** Submits again when the answer to a submit was lost. */
  RESUBMITS_AFTER_RESET(Set.of("s07_connectionResetIsNotResubmitted", "s07_emptyResponseIsAClearError",
      "s07_malformedJsonIsAClearError"), c -> new AcmeProvider(c) {
        @Override
        CompletableFuture<AcmeWire.Job> submit(ImageGenerationRequest r, GenerationContext ctx) {
          return super.submit(r, ctx).exceptionallyCompose(e -> unwrap(e) instanceof ProviderUnavailableException pu
              && pu.outcomeUnknown() ? super.submit(r, ctx) : CompletableFuture.failedFuture(e));
        }
      }),

  /** Reads the submit's answer with the mapper itself: an empty body is an NPE, a malformed one a Jackson exception. */
  PARSES_JSON_ITSELF(Set.of("s07_emptyResponseIsAClearError", "s07_malformedJsonIsAClearError"), c -> new AcmeProvider(c) {
    @Override
    CompletableFuture<AcmeWire.Job> submit(ImageGenerationRequest r, GenerationContext ctx) {
      return ctx.http().call(submitRequest(r, ctx)).thenApply(res -> {
        try {
          JsonNode n = ctx.json().readTree(res.body());
          return new AcmeWire.Job(n.get("id").asText(), n.get("status").asText(), null, null, null, null, null);
        } catch (IOException e) {
          throw new CompletionException(e);
        }
      });
    }
  }),

  /** Never sends the remote cancel. */
  NEVER_CANCELS(Set.of("s08_deadlineCancelsRemoteJob", "s09_callerCancelCancelsRemoteJob"), c -> new AcmeProvider(c) {
    @Override
    CompletableFuture<?> cancel(String jobId, GenerationContext ctx) {
      return CompletableFuture.completedFuture(null);
    }
  }),

  /** Submits with its own blocking HttpClient, without a timeout. */
  USES_OWN_BLOCKING_HTTP(Set.of("s08_stalledAnswerStillMeetsDeadline"), c -> new AcmeProvider(c) {
    @Override
    CompletableFuture<AcmeWire.Job> submit(ImageGenerationRequest r, GenerationContext ctx) {
      HttpRequest post = HttpRequest.newBuilder(submitRequest(r, ctx).uri())
          .header("Authorization", "Bearer " + key.reveal()).header("Content-Type", "application/json")
          .POST(ctx.http().jsonBody(submitBody(r))).build();
      try {
        HttpResponse<byte[]> res = HttpClient.newHttpClient().send(post, HttpResponse.BodyHandlers.ofByteArray());
        return CompletableFuture.completedFuture(ctx.http().parse(new HttpResult("POST", post.uri(), res.statusCode(),
            res.headers(), res.body()), AcmeWire.Job.class));
      } catch (IOException e) {
        return CompletableFuture.failedFuture(new ProviderUnavailableException("submit failed", ID, e));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return CompletableFuture.failedFuture(e);
      }
    }
  }),

  /** Waits for the job on the caller's thread. */
  BLOCKS_THREAD(Set.of("s09_callerCancelCancelsRemoteJob"), c -> new AcmeProvider(c) {
    @Override
    public CompletableFuture<ProviderResult> generate(ImageGenerationRequest r, GenerationContext ctx) {
      return CompletableFuture.completedFuture(super.generate(r, ctx).join());
    }
  }),

  /** Cancels, but its own status loop keeps polling the job afterwards. */
  KEEPS_POLLING_AFTER_CANCEL(Set.of("s09_callerCancelCancelsRemoteJob"), c -> new AcmeProvider(c) {
    @Override
    CompletableFuture<?> cancel(String jobId, GenerationContext ctx) {
      HttpClient own = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      URI status = URI.create(base + "/v1/jobs/" + encode(jobId));
      for (int i = 1; i <= 30; i++) {
        ctx.scheduler().schedule(() -> own.sendAsync(HttpRequest.newBuilder(status)
            .header("Authorization", "Bearer " + key.reveal()).GET().build(), HttpResponse.BodyHandlers.discarding()),
            i * 50L, TimeUnit.MILLISECONDS);
      }
      return super.cancel(jobId, ctx);
    }
  }),

  /** Treats a content-policy refusal as an outage, so it fails over. */
  CONTENT_POLICY_AS_UNAVAILABLE(Set.of("s10_contentPolicyIsNotFailedOver"), c -> new AcmeProvider(c) {
    @Override
    public @Nullable ImageGenerationException mapError(HttpResult r, ProviderContext ctx) {
      return r.text().contains("content_policy") ? new ProviderUnavailableException("refused", ID, false, false, null, null)
          : super.mapError(r, ctx);
    }
  }),

  /** Answers a placeholder when the result cannot be downloaded. */
  SWALLOWS_404(Set.of("s11_resultUrlNotFoundIsAClearError"), c -> new AcmeProvider(c) {
    @Override
    CompletableFuture<GeneratedImage> image(AcmeWire.Output out, GenerationContext ctx) {
      return super.image(out, ctx).exceptionally(e -> GeneratedImage.of(StubImages.png(8, 8, 0).bytes(), out.seed(), null,
          false));
    }
  }),

  /** Downloads results itself: no size limit, no check that the bytes are an image. */
  TRUSTS_DOWNLOADS(Set.of("s11_oversizedImageIsRefused", "s11_undecodableImageIsAFailure"), c -> new AcmeProvider(c) {
    @Override
    CompletableFuture<GeneratedImage> image(AcmeWire.Output out, GenerationContext ctx) {
      HttpRequest get = HttpRequest.newBuilder(URI.create(java.util.Objects.requireNonNull(out.url()))).GET().build();
      return ctx.http().send(get, Long.MAX_VALUE).thenApply(r -> new GeneratedImage(r.body(), "image/png", 512, 512,
          out.seed(), out.url(), false));
    }
  }),

  /** Maps Acme's invalid-request answers as server errors, which are retried. */
  INVALID_AS_SERVER_ERROR(Set.of("s12_invalidRequestCarriesProviderMessage"), c -> new AcmeProvider(c) {
    @Override
    public @Nullable ImageGenerationException mapError(HttpResult r, ProviderContext ctx) {
      return r.status() == 422 || r.status() == 400 ? new ProviderUnavailableException("server error", ID, null)
          : super.mapError(r, ctx);
    }
  }),

  /** Reports UP without asking Acme. */
  HEALTH_ALWAYS_UP(Set.of("s13_healthTellsBadKeyFromDownServer"), c -> new AcmeProvider(c) {
    @Override
    public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
      return CompletableFuture.completedFuture(ProviderHealth.up(ID, Duration.ZERO));
    }
  }),

  /** Logs the key with a logger that does not redact. */
  LOGS_THE_KEY(Set.of("s14_secretsNeverLeak"), c -> new AcmeProvider(c) {
    @Override
    CompletableFuture<AcmeWire.Job> submit(ImageGenerationRequest r, GenerationContext ctx) {
      LoggerFactory.getLogger(AcmeProvider.class).debug("acme: submitting with key {}", key.reveal());
      return super.submit(r, ctx);
    }
  }),

  /** Shows the key in toString(). */
  KEY_IN_TOSTRING(Set.of("s14_secretsNeverLeak"), c -> new AcmeProvider(c) {
    @Override
    public String toString() {
      return "AcmeProvider[" + base + ", key=" + key.reveal() + "]";
    }
  });

  /** The kit test methods this breakage must make fail. */
  final Set<String> fails;
  private final Function<ProviderConfig, ImageProvider> create;

  Breakage(Set<String> fails, Function<ProviderConfig, ImageProvider> create) {
    this.fails = fails;
    this.create = create;
  }

  ImageProvider create(ProviderConfig config) {
    return create.apply(config);
  }

  static Throwable unwrap(Throwable e) {
    return e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
  }
}
