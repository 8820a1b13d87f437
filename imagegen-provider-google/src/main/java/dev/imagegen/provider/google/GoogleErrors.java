package dev.imagegen.provider.google;

import static dev.imagegen.spi.ProviderSupport.clip;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.spi.HttpErrors;
import dev.imagegen.spi.HttpResult;
import java.time.Duration;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * The Gemini API's error answers mapped to imagegen's exceptions. The body is Google's
 * {@code {"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED","details":[{"@type":
 * "type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}}.
 *
 * <table>
 * <caption>answer to exception</caption>
 * <tr><th>answer</th><th>exception</th><th>retry</th><th>failover</th></tr>
 * <tr><td>400 {@code INVALID_ARGUMENT} with {@code API_KEY_INVALID} (no 401!)</td><td>{@link AuthenticationException}</td>
 *     <td>no</td><td>yes</td></tr>
 * <tr><td>400 {@code INVALID_ARGUMENT}</td><td>{@link InvalidRequestException} with Google's message</td><td>no</td><td>no</td></tr>
 * <tr><td>400 {@code FAILED_PRECONDITION} (billing needed, free tier not in the country)</td>
 *     <td>{@link InsufficientCreditsException}</td><td>no</td><td>yes</td></tr>
 * <tr><td>401, 403 {@code PERMISSION_DENIED}</td><td>{@link AuthenticationException}</td><td>no</td><td>yes</td></tr>
 * <tr><td>404 {@code NOT_FOUND}</td><td>{@link ProviderUnavailableException} naming the model (retired or unknown)</td>
 *     <td>no</td><td>yes</td></tr>
 * <tr><td>429 {@code RESOURCE_EXHAUSTED}</td><td>{@link RateLimitedException} after {@code RetryInfo.retryDelay}; a
 *     per-day quota until midnight Pacific time</td><td>if short</td><td>yes</td></tr>
 * <tr><td>500, 503, 504 in Google's error shape</td><td>{@link ProviderUnavailableException}, not billed (Google
 *     does not charge a failed request)</td><td>yes</td><td>yes</td></tr>
 * <tr><td>5xx without Google's error shape (a proxy)</td><td>the default row: outcome unknown after the POST</td>
 *     <td>no</td><td>by policy</td></tr>
 * </table>
 *
 * Thread-safe; all methods are static.
 */
final class GoogleErrors {
  /** Where the daily quotas reset (the rate-limits page: midnight Pacific time). */
  static final ZoneId QUOTA_ZONE = ZoneId.of("America/Los_Angeles");

  private GoogleErrors() {}

  /**
   * Google's error envelope, read leniently.
   *
   * @param code the HTTP code in the body, or 0
   * @param status {@code INVALID_ARGUMENT}, {@code RESOURCE_EXHAUSTED}, ..., or empty
   * @param message Google's message, clipped, or empty
   * @param reasons the {@code ErrorInfo} reasons ({@code API_KEY_INVALID}, ...)
   * @param retryDelay {@code RetryInfo.retryDelay}, or null
   * @param quotaIds the {@code QuotaFailure} violations' quota ids
   */
  record ErrorBody(int code, String status, String message, List<String> reasons, @Nullable Duration retryDelay,
      List<String> quotaIds) {

    /** Reads an answer's body; an empty envelope when it is not Google's. */
    static ErrorBody of(HttpResult r, ObjectMapper json) {
      JsonNode body = r.jsonOrNull(json);
      // the envelope is an object; some proxies wrap it in an array
      if (body != null && body.isArray() && body.size() > 0) {
        body = body.get(0);
      }
      JsonNode e = body == null ? null : body.get("error");
      if (e == null || !e.isObject()) {
        String text = body == null ? r.text() : HttpErrors.message(r, json);
        return new ErrorBody(0, "", clip(text), List.of(), null, List.of());
      }
      List<String> reasons = new ArrayList<>();
      List<String> quotas = new ArrayList<>();
      Duration delay = null;
      for (JsonNode d : e.path("details")) {
        String type = d.path("@type").asText("");
        if (d.hasNonNull("reason")) {
          reasons.add(d.get("reason").asText());
        }
        if (type.endsWith("google.rpc.RetryInfo") && d.hasNonNull("retryDelay")) {
          delay = parseDelay(d.get("retryDelay").asText());
        }
        for (JsonNode v : d.path("violations")) {
          if (v.hasNonNull("quotaId")) {
            quotas.add(v.get("quotaId").asText());
          }
        }
      }
      return new ErrorBody(e.path("code").asInt(0), e.path("status").asText(""), clip(e.path("message").asText("")),
          List.copyOf(reasons), delay, List.copyOf(quotas));
    }

    /** {@code STATUS: message}, for exception messages. */
    String describe(int httpStatus) {
      String s = status.isEmpty() ? "" : " " + status;
      return "HTTP " + httpStatus + s + (message.isEmpty() ? "" : ": " + message);
    }
  }

  /**
   * Maps an error answer.
   *
   * @param id the provider id
   * @param r the answer (not 2xx), secrets already scrubbed
   * @param json the mapper
   * @return the exception, or null for the default row (5xx, others)
   */
  static @Nullable ImageGenerationException map(String id, HttpResult r, ObjectMapper json) {
    int s = r.status();
    ErrorBody e = ErrorBody.of(r, json);
    String what = e.describe(s);
    String lower = e.message().toLowerCase(Locale.ROOT);
    if (isBadKey(e, lower)) {
      return new AuthenticationException("API key refused (" + what + "); check GOOGLE_API_KEY / GEMINI_API_KEY or "
          + "imagegen.google.api-key (keys come from https://aistudio.google.com/apikey)", id);
    }
    if (s == 401 || s == 403 || "PERMISSION_DENIED".equals(e.status()) || "UNAUTHENTICATED".equals(e.status())) {
      return new AuthenticationException("the key may not call this API (" + what + "); check that the Generative "
          + "Language API is enabled for the key's project and that the key is not restricted", id);
    }
    if ("FAILED_PRECONDITION".equals(e.status())) {
      return new InsufficientCreditsException("the project cannot use the API as it is (" + what + "); the free tier is "
          + "not offered in every country and image models need billing: enable billing for the project in Google AI Studio",
          id);
    }
    if (s == 404 || "NOT_FOUND".equals(e.status())) {
      return notFound(id, r, e, what);
    }
    if (s == 429 || "RESOURCE_EXHAUSTED".equals(e.status())) {
      return rateLimited(id, r, e, what);
    }
    if (s == 400 || "INVALID_ARGUMENT".equals(e.status())) {
      return new InvalidRequestException(List.of(id + " refused the request: " + what), id, null);
    }
    if (s >= 500 && !e.status().isEmpty()) {
      // Google's own error answer ("if your request fails with a 400 or 500 error, you won't be charged"): the call
      // made nothing, so it is retried and then failed over; a 5xx without Google's body (a proxy) stays unknown
      return ProviderUnavailableException.builder("Google answered " + what + "; a failed request is not charged", id)
          .retryable(true).notBilled().retryAfter(r.retryAfter()).build();
    }
    return null;
  }

  private static boolean isBadKey(ErrorBody e, String lower) {
    return e.reasons().contains("API_KEY_INVALID") || lower.contains("api key not valid") || lower.contains("api key not found")
        || lower.contains("api key expired");
  }

  private static ImageGenerationException notFound(String id, HttpResult r, ErrorBody e, String what) {
    String model = modelOf(r);
    String hint = "";
    if (model != null) {
      String instead = GoogleModels.RETIRED.get(GoogleModels.normalise(model));
      boolean gone = e.message().toLowerCase(Locale.ROOT).contains("no longer available") || instead != null;
      hint = gone ? "; model " + model + " is retired" + (instead == null ? "" : ", use " + instead + " instead")
          + " (set the request's model or imagegen.google.model)"
          : "; check the model id " + model + " against https://ai.google.dev/gemini-api/docs/models";
    }
    return ProviderUnavailableException.failOver("model not found (" + what + ")" + hint, id, null);
  }

  private static RateLimitedException rateLimited(String id, HttpResult r, ErrorBody e, String what) {
    boolean daily = e.quotaIds().stream().anyMatch(q -> q.contains("PerDay"));
    Duration wait = e.retryDelay() != null ? e.retryDelay() : r.retryAfter();
    if (daily) {
      Duration untilReset = untilMidnightPacific(ZonedDateTime.now(QUOTA_ZONE));
      if (wait == null || wait.compareTo(untilReset) < 0) {
        wait = untilReset;
      }
      return new RateLimitedException("daily quota exhausted (" + what + "); it resets at midnight Pacific time, in about "
          + wait.toHours() + " h; see https://ai.google.dev/gemini-api/docs/rate-limits", id, wait, null);
    }
    return new RateLimitedException("rate limited (" + what + ")" + (e.retryDelay() != null ? "; retry in "
        + e.retryDelay().toSeconds() + " s" : ""), id, wait, null);
  }

  /** The time from {@code now} to the next midnight in {@code now}'s zone. */
  static Duration untilMidnightPacific(ZonedDateTime now) {
    ZonedDateTime midnight = now.toLocalDate().plusDays(1).atStartOfDay(now.getZone());
    return Duration.between(now, midnight);
  }

  /**
   * Reads a protobuf duration as JSON writes it: {@code 37s}, {@code 58.934310785s}.
   *
   * @param value the text
   * @return the duration, or null when it is not one
   */
  static @Nullable Duration parseDelay(String value) {
    String v = value.strip();
    if (!v.endsWith("s")) {
      return null;
    }
    try {
      double seconds = Double.parseDouble(v.substring(0, v.length() - 1));
      return seconds < 0 || !Double.isFinite(seconds) ? null : Duration.ofMillis((long) Math.ceil(seconds * 1000));
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /** The model in a {@code .../models/{model}:generateContent} or {@code .../models/{model}} path, or null. */
  static @Nullable String modelOf(HttpResult r) {
    String p = r.uri().getPath();
    int i = p.lastIndexOf("/models/");
    if (i < 0) {
      return null;
    }
    String rest = p.substring(i + "/models/".length());
    int colon = rest.indexOf(':');
    String m = colon < 0 ? rest : rest.substring(0, colon);
    return m.isEmpty() ? null : m;
  }
}
