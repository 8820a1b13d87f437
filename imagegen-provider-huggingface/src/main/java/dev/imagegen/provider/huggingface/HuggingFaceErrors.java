package dev.imagegen.provider.huggingface;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.HttpErrors;
import dev.imagegen.spi.HttpResult;
import java.time.Duration;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * Hugging Face's error answers mapped to imagegen's exceptions, per the protocol's table; every
 * other status takes {@link HttpErrors}' default row with HF's own error text and request id
 * (400/422 invalid, 429 rate limited with {@code Retry-After}, 5xx unavailable; a 5xx to the
 * generating POST, 504 included, is an unknown outcome, the image may have been billed):
 *
 * <table>
 * <caption>status to exception</caption>
 * <tr><th>HTTP</th><th>answer</th><th>exception</th></tr>
 * <tr><td>401</td><td>Invalid credentials in Authorization header</td><td>{@link AuthenticationException}</td></tr>
 * <tr><td>402 (or any body about monthly credits)</td><td>credits exhausted</td><td>{@link InsufficientCreditsException}</td></tr>
 * <tr><td>403</td><td>token lacks the Inference Providers permission</td><td>{@link AuthenticationException}</td></tr>
 * <tr><td>403</td><td>gated model, licence not accepted</td><td>{@link ProviderUnavailableException}, no retry, fail over</td></tr>
 * <tr><td>404 (or 400/422 "does not exist")</td><td>Model ... does not exist</td><td>{@link ProviderUnavailableException}, no retry, fail over</td></tr>
 * <tr><td>410</td><td>the retired api-inference host</td><td>{@link ProviderUnavailableException} telling to use the router, cools down</td></tr>
 * <tr><td>503 loading</td><td>{@code estimated_time}</td><td>{@link ProviderUnavailableException} with retryAfter = estimated_time</td></tr>
 * </table>
 *
 * Thread-safe; all methods are static.
 */
final class HuggingFaceErrors {
  /** Where a user should point {@code base-url}. */
  static final String ROUTER = "https://router.huggingface.co/hf-inference";
  /** How long a provider pointed at the retired host is skipped: the configuration will not fix itself. */
  static final Duration RETIRED_HOST_COOLDOWN = Duration.ofHours(1);

  private HuggingFaceErrors() {}

  /**
   * Maps an error answer.
   *
   * @param id the provider id
   * @param r the answer (not 2xx)
   * @param json the mapper
   * @return the exception: HF's own rows, else the default row with HF's error text
   */
  static ImageGenerationException map(String id, HttpResult r, ObjectMapper json) {
    int s = r.status();
    HuggingFaceWire.ErrorBody body = HuggingFaceWire.ErrorBody.of(r, json);
    String text = body.message();
    String lower = text.toLowerCase(Locale.ROOT);
    String what = "HTTP " + s + (text.isEmpty() ? "" : ": " + text) + requestId(r);
    String model = modelOf(r);
    if (s == 410) {
      return ProviderUnavailableException.builder("the classic Inference API host is retired (" + what + "); base-url points"
          + " at " + origin(r) + ": set it to " + ROUTER + " (imagegen.huggingface.base-url or IMAGEGEN_HUGGINGFACE_BASE_URL)",
          id).retryAfter(RETIRED_HOST_COOLDOWN).build();
    }
    if (s == 402 || isCredits(lower)) {
      return new InsufficientCreditsException("monthly included credits exhausted (" + what + "); buy pre-paid credits or "
          + "subscribe to PRO at https://huggingface.co/pricing, or wait for the monthly reset", id);
    }
    if (s == 401) {
      return new AuthenticationException("token refused (" + what + "); check HF_TOKEN or imagegen.huggingface.api-key", id);
    }
    if (s == 403) {
      if (isGated(lower)) {
        return ProviderUnavailableException.failOver("model " + (model == null ? "" : model + " ") + "is gated and this token's "
            + "account has not been granted access (" + what + "); accept its conditions at https://huggingface.co/"
            + (model == null ? "<model>" : model), id, null);
      }
      return new AuthenticationException("token not allowed (" + what + "); fine-grained tokens need the \"Make calls to "
          + "Inference Providers\" permission", id);
    }
    if (s == 404 || ((s == 400 || s == 422) && lower.contains("does not exist"))) {
      return ProviderUnavailableException.failOver("model " + (model == null ? "" : model + " ") + "not found on "
          + origin(r) + " (" + what + "); check the id, and which providers serve it at https://huggingface.co/api/models/"
          + (model == null ? "<model>" : model) + "?expand[]=inferenceProviderMapping", id, null);
    }
    if (s == 503 && isLoading(r, body)) {
      Duration est = estimate(r, body);
      return ProviderUnavailableException.builder("model " + (model == null ? "" : model + " ") + "is loading (" + what
          + (est == null ? "" : "; estimated_time " + seconds(est) + " s") + ")", id).retryable(true).retryAfter(est).build();
    }
    return HttpErrors.map(id, r, (text + requestId(r)).strip());
  }

  /**
   * Whether an answer says the model is still loading: 503 with {@code estimated_time}, or an
   * error that says "loading".
   *
   * @param r the answer
   * @param body its error body
   */
  static boolean isLoading(HttpResult r, HuggingFaceWire.ErrorBody body) {
    return r.status() == 503
        && (body.estimatedTime() != null || body.message().toLowerCase(Locale.ROOT).contains("loading"));
  }

  /**
   * The time a loading model says it needs: {@code estimated_time}, else {@code Retry-After}.
   *
   * @param r the answer
   * @param body its error body
   * @return the estimate, or null when none was given
   */
  static @Nullable Duration estimate(HttpResult r, HuggingFaceWire.ErrorBody body) {
    Double est = body.estimatedTime();
    if (est != null && est >= 0 && !est.isInfinite() && !est.isNaN()) {
      return Duration.ofMillis((long) (est * 1000));
    }
    return r.retryAfter();
  }

  /** Seconds with at most one decimal, for messages. */
  static String seconds(Duration d) {
    double s = d.toMillis() / 1000.0;
    return s == Math.rint(s) ? String.valueOf((long) s) : String.format(Locale.ROOT, "%.1f", s);
  }

  private static boolean isCredits(String lower) {
    return lower.contains("monthly included credits") || lower.contains("pre-paid credits") || lower.contains("prepaid credits")
        || lower.contains("depleted your") || lower.contains("exceeded your monthly");
  }

  private static boolean isGated(String lower) {
    return lower.contains("gated") || lower.contains("restricted") || lower.contains("access to model")
        || lower.contains("must have access");
  }

  private static String requestId(HttpResult r) {
    String id = r.header("x-request-id");
    return id == null || id.isBlank() ? "" : " [x-request-id " + id.strip() + "]";
  }

  /** The model id in a {@code .../models/{owner}/{name}} path, or null. */
  static @Nullable String modelOf(HttpResult r) {
    String p = r.uri().getPath();
    int i = p.lastIndexOf("/models/") + "/models/".length();
    return i < "/models/".length() || i == p.length() ? null : p.substring(i);
  }

  private static String origin(HttpResult r) {
    var u = r.uri();
    return u.getScheme() + "://" + u.getHost() + (u.getPort() > 0 ? ":" + u.getPort() : "");
  }
}
