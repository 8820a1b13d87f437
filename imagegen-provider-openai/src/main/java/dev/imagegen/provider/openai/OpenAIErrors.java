package dev.imagegen.provider.openai;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.spi.HttpErrors;
import dev.imagegen.spi.HttpResult;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The Images API's error answers mapped to imagegen's exceptions, per the protocol's table; the
 * body is always {@code {"error":{"message","type","param","code"}}}:
 *
 * <table>
 * <caption>answer to exception</caption>
 * <tr><th>HTTP</th><th>type / code</th><th>exception</th></tr>
 * <tr><td>400</td><td>{@code moderation_blocked}, {@code content_policy_violation}, Azure {@code contentFilter}</td>
 *     <td>{@link ContentPolicyException}</td></tr>
 * <tr><td>400</td><td>{@code invalid_request_error}, {@code param} named</td><td>{@link InvalidRequestException} naming the param</td></tr>
 * <tr><td>401, 403</td><td>{@code invalid_api_key}, region, unverified organisation</td><td>{@link AuthenticationException}</td></tr>
 * <tr><td>404 (or 400)</td><td>{@code model_not_found}, Azure {@code DeploymentNotFound}</td><td>{@link InvalidRequestException} naming the model</td></tr>
 * <tr><td>429 (or 400)</td><td>{@code insufficient_quota}, {@code billing_hard_limit_reached}</td><td>{@link InsufficientCreditsException}: no retry</td></tr>
 * <tr><td>429</td><td>{@code rate_limit_exceeded}</td><td>{@link RateLimitedException}, wait from {@code retry-after-ms},
 *     {@code Retry-After} or the {@code x-ratelimit-reset-*} headers</td></tr>
 * <tr><td>5xx</td><td>{@code server_error}</td><td>the default row: unknown outcome after the POST</td></tr>
 * </table>
 *
 * A {@code x-should-retry: false} header makes a 429 or 5xx one that is not retried. Thread-safe;
 * all methods are static.
 */
final class OpenAIErrors {
  /** A model named in OpenAI's text: {@code The model `dall-e-3` has been deprecated}. */
  private static final Pattern MODEL_IN_TEXT = Pattern.compile("model [`'\"]([^`'\"]+)[`'\"]");
  /** One part of a Go-style duration ({@code 6m0s}, {@code 20ms}, {@code 1.5s}). */
  private static final Pattern DURATION_PART = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|h|m|s)");

  private OpenAIErrors() {}

  /**
   * Maps an error answer (its secrets already scrubbed).
   *
   * @param id the provider id
   * @param r the answer, not 2xx
   * @param json the mapper
   * @param model the model the call named, or null when unknown
   * @return the exception
   */
  static ImageGenerationException map(String id, HttpResult r, ObjectMapper json, @Nullable String model) {
    OpenAIWire.ErrorBody body = OpenAIWire.ErrorBody.of(r, json);
    int s = r.status();
    String code = lower(body.code());
    String type = lower(body.type());
    String text = body.message();
    String lowerText = text.toLowerCase(Locale.ROOT);
    String what = "HTTP " + s + (code.isEmpty() ? type.isEmpty() ? "" : " " + type : " " + code)
        + (text.isEmpty() ? "" : ": " + text) + requestId(r);
    Boolean shouldRetry = shouldRetry(r);

    if (isContentPolicy(code, type, lowerText)) {
      return new ContentPolicyException("the safety system refused the request (" + what + ")", id);
    }
    if (code.equals("model_not_found") || code.equals("deploymentnotfound")
        || (s == 404 && (lowerText.contains("model") || lowerText.contains("deployment")))) {
      String named = model != null ? model : modelIn(text);
      // another provider serves another model: this fails over as a capability skip does
      return InvalidRequestException.notServedHere("model '" + (named == null ? "?" : named) + "' is not served (" + what
          + "): it is unknown or shut down; set the 'model' key (or the request's model) to a live GPT image model", id);
    }
    if (code.equals("insufficient_quota") || code.equals("billing_hard_limit_reached")
        || (s == 429 && lowerText.contains("exceeded your current quota"))) {
      return new InsufficientCreditsException("out of quota (" + what + "); waiting does not help: check the plan and "
          + "billing details of the account", id);
    }
    if (s == 401 || s == 403) {
      return new AuthenticationException((s == 401 ? "API key refused (" : "not allowed (") + what + ")", id);
    }
    if (s == 400 || s == 422) {
      String param = body.param();
      String field = param == null || param.isBlank() ? "" : " (parameter '" + param + "')";
      return new InvalidRequestException(List.of(id + " refused the request" + field + ": " + what), id, null);
    }
    if (s == 429) {
      Duration wait = retryAfter(r);
      if (Boolean.FALSE.equals(shouldRetry)) {
        return ProviderUnavailableException.builder("rate limited (" + what + "); the answer says x-should-retry: false", id)
            .retryable(false).retryAfter(wait).build();
      }
      return new RateLimitedException("rate limited (" + what + rateLimitState(r) + ")", id, wait, null);
    }
    if (s == 408 || s >= 500) {
      boolean retry = !Boolean.FALSE.equals(shouldRetry);
      return new ProviderUnavailableException("server error (" + what + ")" + (retry ? "" : "; x-should-retry: false"), id, retry,
          false, retryAfter(r), null);
    }
    return HttpErrors.map(id, r, (text + requestId(r)).strip());
  }

  /**
   * The {@code x-should-retry} header: true, false, or null when absent.
   *
   * @param r the answer
   */
  static @Nullable Boolean shouldRetry(HttpResult r) {
    String v = r.header("x-should-retry");
    if (v == null) {
      return null;
    }
    String t = v.strip().toLowerCase(Locale.ROOT);
    return t.equals("true") ? Boolean.TRUE : t.equals("false") ? Boolean.FALSE : null;
  }

  /**
   * How long to wait: {@code retry-after-ms}, then {@code Retry-After}, then the reset of the
   * exhausted {@code x-ratelimit-remaining-*} budget (the later of the two when both are spent, the
   * sooner of the resets when neither says which).
   *
   * @param r the answer
   * @return the wait, or null when the answer gives none
   */
  static @Nullable Duration retryAfter(HttpResult r) {
    String ms = r.header("retry-after-ms");
    if (ms != null) {
      try {
        double v = Double.parseDouble(ms.strip());
        if (v >= 0) {
          return Duration.ofMillis((long) v);
        }
      } catch (NumberFormatException e) {
        // fall through to Retry-After
      }
    }
    Duration ra = r.retryAfter();
    if (ra != null) {
      return ra;
    }
    Duration requests = parseDuration(r.header("x-ratelimit-reset-requests"));
    Duration tokens = parseDuration(r.header("x-ratelimit-reset-tokens"));
    boolean requestsSpent = "0".equals(strip(r.header("x-ratelimit-remaining-requests")));
    boolean tokensSpent = "0".equals(strip(r.header("x-ratelimit-remaining-tokens")));
    if (requestsSpent && tokensSpent) {
      return max(requests, tokens);
    }
    if (requestsSpent && requests != null) {
      return requests;
    }
    if (tokensSpent && tokens != null) {
      return tokens;
    }
    return min(requests, tokens);
  }

  /**
   * A reset duration as OpenAI writes it: {@code 1s}, {@code 6m0s}, {@code 20ms}, {@code 1h2m3.5s}.
   *
   * @param v the header value, or null
   * @return the duration, or null when absent or unreadable
   */
  static @Nullable Duration parseDuration(@Nullable String v) {
    if (v == null || v.isBlank()) {
      return null;
    }
    String t = v.strip().toLowerCase(Locale.ROOT);
    Matcher m = DURATION_PART.matcher(t);
    double millis = 0;
    int at = 0;
    while (m.find()) {
      if (m.start() != at) {
        return null;
      }
      double n = Double.parseDouble(m.group(1));
      switch (m.group(2)) {
        case "h": millis += n * 3_600_000; break;
        case "m": millis += n * 60_000; break;
        case "s": millis += n * 1000; break;
        default: millis += n; break;
      }
      at = m.end();
    }
    return at == t.length() && at > 0 ? Duration.ofMillis((long) Math.ceil(millis)) : null;
  }

  private static String rateLimitState(HttpResult r) {
    StringBuilder b = new StringBuilder();
    for (String kind : List.of("requests", "tokens")) {
      String left = r.header("x-ratelimit-remaining-" + kind);
      String limit = r.header("x-ratelimit-limit-" + kind);
      String reset = r.header("x-ratelimit-reset-" + kind);
      if (left != null || reset != null) {
        b.append("; ").append(kind).append(' ').append(left == null ? "?" : left.strip()).append('/')
            .append(limit == null ? "?" : limit.strip()).append(" left").append(reset == null ? "" : ", reset in " + reset.strip());
      }
    }
    return b.toString();
  }

  private static boolean isContentPolicy(String code, String type, String lowerText) {
    return code.equals("moderation_blocked") || code.equals("content_policy_violation") || code.equals("contentfilter")
        || code.equals("content_filter") || code.equals("responsibleaipolicyviolation")
        || (type.equals("image_generation_user_error") && lowerText.contains("safety"))
        || lowerText.contains("rejected by the safety system") || lowerText.contains("rejected as a result of our safety system");
  }

  /** The model OpenAI names in its text, or null. */
  static @Nullable String modelIn(String text) {
    Matcher m = MODEL_IN_TEXT.matcher(text);
    return m.find() ? m.group(1) : null;
  }

  private static String requestId(HttpResult r) {
    String v = r.header("x-request-id");
    return v == null || v.isBlank() ? "" : " [x-request-id " + v.strip() + "]";
  }

  private static String lower(@Nullable String v) {
    return v == null ? "" : v.strip().toLowerCase(Locale.ROOT);
  }

  private static @Nullable String strip(@Nullable String v) {
    return v == null ? null : v.strip();
  }

  private static @Nullable Duration max(@Nullable Duration a, @Nullable Duration b) {
    return a == null ? b : b == null ? a : a.compareTo(b) >= 0 ? a : b;
  }

  private static @Nullable Duration min(@Nullable Duration a, @Nullable Duration b) {
    return a == null ? b : b == null ? a : a.compareTo(b) <= 0 ? a : b;
  }
}
