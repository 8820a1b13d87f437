package dev.imagegen.provider.fal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.HttpErrors;
import dev.imagegen.spi.HttpResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * fal's error answers mapped to imagegen's exceptions:
 *
 * <table>
 * <caption>fal status to exception</caption>
 * <tr><th>HTTP</th><th>fal body</th><th>exception</th></tr>
 * <tr><td>400</td><td>{@code {"detail":"…","error_type":"bad_request"}}</td><td>{@link InvalidRequestException}</td></tr>
 * <tr><td>401</td><td>{@code {"detail":"No user found for Key ID and Secret"}}</td><td>{@link AuthenticationException}</td></tr>
 * <tr><td>403</td><td>{@code {"detail":"User is locked. Reason: Exhausted balance. …"}}</td>
 *     <td>{@link InsufficientCreditsException} when the balance is exhausted, else {@link AuthenticationException}</td></tr>
 * <tr><td>404</td><td>unknown app or request id</td><td>{@link ProviderUnavailableException}, not retried</td></tr>
 * <tr><td>422</td><td>{@code {"detail":[{"loc":["body","prompt"],"msg":"field required","type":"value_error.missing"}]}}
 *     or a string</td><td>{@link InvalidRequestException}, one violation per item;
 *     {@link ContentPolicyException} for {@code content_policy_violation}</td></tr>
 * <tr><td>429</td><td>concurrency or rate limit</td><td>the default: {@code RateLimitedException} with {@code Retry-After}</td></tr>
 * <tr><td>5xx</td><td>{@code {"detail":"…","error_type":"runner_server_error"}}</td>
 *     <td>{@link ProviderUnavailableException}, retried unless {@code X-Fal-Retryable: false} or a 504 with
 *     {@code X-Fal-Request-Timeout-Type: user}</td></tr>
 * </table>
 *
 * Thread-safe; all methods are static.
 */
final class FalErrors {
  private FalErrors() {}

  /**
   * Maps an error answer, or returns null for the default mapping.
   *
   * @param providerId the provider id
   * @param r the answer (scrubbed of secrets)
   * @param mapper JSON mapper
   */
  static @Nullable ImageGenerationException map(String providerId, HttpResult r, ObjectMapper mapper) {
    int s = r.status();
    JsonNode json = r.jsonOrNull(mapper);
    String detail = HttpErrors.message(r, mapper);
    String what = "HTTP " + s + (detail.isEmpty() ? "" : ": " + detail);
    String errorType = errorType(r, json);
    if (isContentPolicy(errorType, json)) {
      return new ContentPolicyException("the model refused the request (" + what + ")", providerId);
    }
    switch (s) {
      case 400:
        return new InvalidRequestException(List.of("fal refused the request (" + what + ")"), providerId, null);
      case 401:
        return new AuthenticationException("key refused (" + what + "); fal expects FAL_KEY as key_id:key_secret",
            providerId);
      case 403: {
        String d = detail.toLowerCase(Locale.ROOT);
        if (d.contains("balance") || d.contains("billing") || d.contains("top up") || d.contains("credit")) {
          return new InsufficientCreditsException("account out of balance (" + what + ")", providerId);
        }
        return new AuthenticationException("access refused (" + what + ")", providerId);
      }
      case 404:
        return new ProviderUnavailableException("unknown app or request id (" + what + ")", providerId, false, false, null,
            null);
      case 422:
        return new InvalidRequestException(violations(json, what), providerId, null);
      default:
        break;
    }
    if (s >= 500) {
      boolean userTimeout = s == 504 && "user".equalsIgnoreCase(strip(r.header("X-Fal-Request-Timeout-Type")));
      boolean notRetryable = "false".equalsIgnoreCase(strip(r.header("X-Fal-Retryable")));
      if (userTimeout) {
        return new ProviderUnavailableException("the request's own timeout (X-Fal-Request-Timeout) passed before it ran ("
            + what + ")", providerId, false, false, null, null);
      }
      return new ProviderUnavailableException("server error" + (errorType == null ? "" : " " + errorType) + " (" + what
          + ")", providerId, !notRetryable, false, r.retryAfter(), null);
    }
    return null;
  }

  /**
   * The failure a status read reported for a completed request ({@code error}, {@code error_type}),
   * used when the result itself does not say more.
   *
   * @param providerId the provider id
   * @param requestId the request
   * @param error fal's error text
   * @param errorType fal's error type, or null
   */
  static ImageGenerationException runFailed(String providerId, String requestId, String error, @Nullable String errorType) {
    String t = errorType == null ? "" : errorType.toLowerCase(Locale.ROOT);
    String what = "request " + requestId + " failed: " + error + (errorType == null ? "" : " (" + errorType + ")");
    if (t.contains("content_policy")) {
      return new ContentPolicyException(what, providerId);
    }
    boolean transientFault = t.startsWith("runner_") || t.contains("timeout") || t.equals("internal_error")
        || t.contains("scheduling");
    return new ProviderUnavailableException(what, providerId, transientFault, false, null, null);
  }

  /** Whether an answer carries fal's own error type (body {@code error_type} or {@code X-Fal-Error-Type}). */
  static boolean hasFalErrorType(HttpResult r, ObjectMapper mapper) {
    return errorType(r, r.jsonOrNull(mapper)) != null;
  }

  private static @Nullable String errorType(HttpResult r, @Nullable JsonNode json) {
    String h = strip(r.header("X-Fal-Error-Type"));
    if (h != null && !h.isEmpty()) {
      return h;
    }
    if (json != null && json.isObject() && json.path("error_type").isTextual()) {
      return json.path("error_type").asText();
    }
    return null;
  }

  private static boolean isContentPolicy(@Nullable String errorType, @Nullable JsonNode json) {
    if (errorType != null && errorType.toLowerCase(Locale.ROOT).contains("content_policy")) {
      return true;
    }
    if (json != null && json.path("detail").isArray()) {
      for (JsonNode d : json.path("detail")) {
        if (d.path("type").asText("").toLowerCase(Locale.ROOT).contains("content_policy")) {
          return true;
        }
      }
    }
    return false;
  }

  /** One violation per item of a 422 {@code detail} list ({@code "prompt: field required"}), or the text. */
  private static List<String> violations(@Nullable JsonNode json, String what) {
    List<String> out = new ArrayList<>();
    JsonNode detail = json == null ? null : json.get("detail");
    if (detail != null && detail.isArray()) {
      for (JsonNode d : detail) {
        if (d.isObject()) {
          String loc = HttpErrors.fieldPath(d.get("loc"));
          String msg = d.path("msg").isTextual() ? d.path("msg").asText() : d.toString();
          out.add(clip(loc.isEmpty() ? msg : loc + ": " + msg));
        } else if (!d.isNull()) {
          out.add(clip(d.asText(d.toString())));
        }
        if (out.size() >= 20) {
          break;
        }
      }
    } else if (detail != null && detail.isTextual() && !detail.asText().isBlank()) {
      out.add(clip(detail.asText()));
    }
    if (out.isEmpty()) {
      out.add("fal refused the request (" + what + ")");
    }
    return out;
  }



  private static String clip(String s) {
    String t = s.replaceAll("\\s+", " ").strip();
    return t.length() > 300 ? t.substring(0, 300) + "..." : t;
  }

  private static @Nullable String strip(@Nullable String s) {
    return s == null ? null : s.strip();
  }
}
