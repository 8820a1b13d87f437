package dev.imagegen.provider.stability;

import com.fasterxml.jackson.databind.JsonNode;
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
import dev.imagegen.spi.ProviderSupport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * Stability's error answers mapped to imagegen's exceptions, per the protocol's table. The body is
 * {@code {"id":"a1b2...","name":"bad_request","errors":["some-field: is required"]}}: every message
 * carries {@code name}, the {@code errors} array joined, and the {@code id} support asks for.
 *
 * <table>
 * <caption>status to exception</caption>
 * <tr><th>HTTP</th><th>{@code name}</th><th>exception</th></tr>
 * <tr><td>400</td><td>bad_request</td><td>{@link InvalidRequestException}: no retry, no failover</td></tr>
 * <tr><td>401</td><td>unauthorized</td><td>{@link AuthenticationException}: failover</td></tr>
 * <tr><td>402</td><td>payment_required</td><td>{@link InsufficientCreditsException}: failover, no retry</td></tr>
 * <tr><td>403</td><td>content_moderation</td><td>{@link ContentPolicyException}: not charged, no failover by default</td></tr>
 * <tr><td>403</td><td>anything else</td><td>{@link AuthenticationException}</td></tr>
 * <tr><td>404</td><td>not_found</td><td>{@link ProviderUnavailableException}: failover, no retry</td></tr>
 * <tr><td>413</td><td>payload_too_large</td><td>{@link InvalidRequestException}: shrink the input images</td></tr>
 * <tr><td>422</td><td>invalid_*</td><td>{@link InvalidRequestException}</td></tr>
 * <tr><td>429</td><td>rate_limit_exceeded</td><td>{@link RateLimitedException}, {@code Retry-After} or 60 s</td></tr>
 * <tr><td>500</td><td>internal_error, in Stability's error shape</td><td>{@link ProviderUnavailableException}: the
 *     result failed and is not charged (not billed): retried, then failover</td></tr>
 * <tr><td>other 5xx, or a 500 without Stability's body</td><td>(a gateway)</td><td>core's default: the POST's
 *     outcome is unknown</td></tr>
 * </table>
 *
 * Thread-safe; all methods are static.
 */
final class StabilityErrors {
  /**
   * How long a 429 without {@code Retry-After} keeps the provider cooled: the docs describe a 60 s
   * lockout after the limit of 150 requests per 10 s.
   */
  static final Duration RATE_LIMIT_LOCKOUT = Duration.ofSeconds(60);

  private StabilityErrors() {}

  /**
   * Stability's error body.
   *
   * @param id the error's id for support tickets, or null
   * @param name e.g. {@code bad_request}, {@code content_moderation}, or null
   * @param errors the {@code errors} array (strings), possibly empty
   */
  record ErrorBody(@Nullable String id, @Nullable String name, List<String> errors) {

    /**
     * Reads an answer's body; null when it is not Stability's error shape (JSON with {@code name}
     * or {@code errors}).
     *
     * @param r the answer
     * @param json the mapper
     */
    static @Nullable ErrorBody of(HttpResult r, ObjectMapper json) {
      JsonNode n = r.jsonOrNull(json);
      if (n == null || !n.isObject() || !(n.has("name") || n.has("errors"))) {
        return null;
      }
      List<String> errors = new ArrayList<>();
      JsonNode e = n.get("errors");
      if (e != null && e.isArray()) {
        e.forEach(x -> errors.add(x.isTextual() ? x.asText() : x.toString()));
      } else if (e != null && e.isTextual()) {
        errors.add(e.asText());
      }
      return new ErrorBody(text(n.get("id")), text(n.get("name")), List.copyOf(errors));
    }

    private static @Nullable String text(@Nullable JsonNode n) {
      return n == null || n.isNull() || n.asText().isBlank() ? null : n.asText();
    }

    /** {@code name: error; error [id ...]}, clipped. */
    String describe() {
      StringBuilder b = new StringBuilder();
      if (name != null) {
        b.append(name);
      }
      if (!errors.isEmpty()) {
        b.append(b.length() == 0 ? "" : ": ").append(String.join("; ", errors));
      }
      if (id != null) {
        b.append(" [id ").append(id).append(']');
      }
      return ProviderSupport.clip(b.toString());
    }
  }

  /**
   * Maps an error answer.
   *
   * @param id the provider id
   * @param r the answer (not 2xx)
   * @param json the mapper
   * @return the exception
   */
  static ImageGenerationException map(String id, HttpResult r, ObjectMapper json) {
    int s = r.status();
    ErrorBody body = ErrorBody.of(r, json);
    String detail = body != null ? body.describe() : HttpErrors.message(r, json);
    String name = body == null || body.name() == null ? "" : body.name().toLowerCase(Locale.ROOT);
    String what = "HTTP " + s + (detail.isEmpty() ? "" : ": " + detail);
    if (s == 403 && (name.contains("moderation") || detail.toLowerCase(Locale.ROOT).contains("content moderation"))) {
      return new ContentPolicyException("Stability's content moderation refused the request (" + what + "); "
          + "Stability says such requests are not charged", id);
    }
    if (s == 401) {
      return new AuthenticationException("API key refused (" + what + "); check STABILITY_API_KEY or "
          + "imagegen.stability.api-key", id);
    }
    if (s == 402) {
      return new InsufficientCreditsException("not enough credits (" + what + "); buy credits at "
          + "https://platform.stability.ai/account/credits", id);
    }
    if (s == 403) {
      return new AuthenticationException("request forbidden (" + what + ")", id);
    }
    if (s == 404) {
      return ProviderUnavailableException.failOver("endpoint or resource not found at " + r.uri().getPath() + " (" + what
          + "); check base-url", id, null);
    }
    if (s == 413) {
      return new InvalidRequestException(List.of(id + " refused the request as too large (" + what + "): Stability takes "
          + "at most 10 MiB per request; send smaller input images"), id, null);
    }
    if (s == 400 || s == 422) {
      return new InvalidRequestException(List.of(id + " refused the request: " + what), id, null);
    }
    if (s == 429) {
      Duration wait = r.retryAfter();
      return new RateLimitedException("rate limited (" + what + "): Stability allows 150 requests per 10 s per account"
          + (wait == null ? " and locks the account out for about 60 s after" : ""), id,
          wait == null ? RATE_LIMIT_LOCKOUT : wait, null);
    }
    if (s == 500 && body != null) {
      // "You will not be charged for failed results": the POST may be sent again, then another provider tried
      return ProviderUnavailableException.builder("Stability reported an internal error (" + what + "); a failed result is"
          + " not charged", id).retryable(true).notBilled().retryAfter(r.retryAfter()).build();
    }
    return HttpErrors.map(id, r, detail);
  }
}
