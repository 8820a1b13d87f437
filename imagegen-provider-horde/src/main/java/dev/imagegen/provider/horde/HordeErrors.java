package dev.imagegen.provider.horde;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.spi.HttpResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * AI Horde's error answers mapped to imagegen's exceptions, by the return code ({@code rc}) the
 * Horde puts in its body ({@code {"message":"...","rc":"KudosUpfront"}}), per the Horde's
 * {@code README_return_codes.md}:
 *
 * <table>
 * <caption>Horde answer to exception</caption>
 * <tr><th>answer</th><th>exception</th></tr>
 * <tr><td>400 schema validation ({@code errors}, no rc)</td><td>{@link InvalidRequestException} listing each field</td></tr>
 * <tr><td>400 {@code MissingPrompt InvalidPromptSize BadCFGDecimals TooManyLoras UnsupportedModel ...}</td><td>{@link InvalidRequestException}</td></tr>
 * <tr><td>400 {@code CorruptPrompt}</td><td>{@link ContentPolicyException} (never retried)</td></tr>
 * <tr><td>{@code MaintenanceMode} (400 in the code, 503 in the swagger)</td><td>{@link ProviderUnavailableException}, fail over</td></tr>
 * <tr><td>401 {@code InvalidAPIKey}, 404 {@code UserNotFound}, 403 {@code BannedClientAgent}</td><td>{@link AuthenticationException}</td></tr>
 * <tr><td>403 {@code KudosUpfront SharedKeyInsufficientKudos}</td><td>{@link InsufficientCreditsException}</td></tr>
 * <tr><td>403 {@code TimeoutIP NotTrusted}</td><td>{@link ProviderUnavailableException}, fail over</td></tr>
 * <tr><td>404 {@code RequestNotFound} (expired)</td><td>{@link ProviderUnavailableException}, fail over</td></tr>
 * <tr><td>429 {@code TooManyPrompts}</td><td>{@link RateLimitedException}</td></tr>
 * </table>
 *
 * Anything else (no rc: the limiter's 429, 500, a proxy's 503, bodies that are not the Horde's)
 * falls back to the default mapping, which keeps a job whose poll failed that way.
 * Every message names the return code. Thread-safe; all methods are static.
 */
final class HordeErrors {
  private static final int MAX_TEXT = 300;
  private static final Set<String> OUT_OF_KUDOS = Set.of("KudosUpfront", "SharedKeyInsufficientKudos");

  private HordeErrors() {}

  /**
   * Maps an error answer of the Horde.
   *
   * @param providerId the provider id
   * @param r the answer (not 2xx; already scrubbed of secrets)
   * @param json the shared mapper
   * @return the exception, or null for the default mapping
   */
  static @Nullable ImageGenerationException map(String providerId, HttpResult r, ObjectMapper json) {
    JsonNode body = r.jsonOrNull(json);
    if (body == null || !body.isObject()) {
      return null; // not the Horde's own body (a proxy's 502/503, a limiter's text): the default mapping
    }
    String rc = text(body.get("rc"));
    String message = text(body.get("message"));
    int s = r.status();
    String what = "HTTP " + s + (rc == null ? "" : " " + rc) + (message == null ? "" : ": " + message);

    JsonNode errors = body.get("errors");
    if (s == 400 && errors != null && errors.isObject() && errors.size() > 0) {
      List<String> violations = new ArrayList<>();
      errors.fields().forEachRemaining(e -> violations.add(e.getKey() + ": "
          + clip(e.getValue().isTextual() ? e.getValue().asText() : e.getValue().toString())));
      String head = message == null ? "Input payload validation failed" : message;
      violations.set(0, "AI Horde: " + head + " (HTTP 400): " + violations.get(0));
      return new InvalidRequestException(violations, providerId, null);
    }
    if (rc == null) {
      // the limiter's 429 ({"message":"2 per 1 second"}), a 500, a proxy's 503: the default mapping
      // (retryable, Retry-After honoured), so that a poll error keeps the job
      return null;
    }
    if ("MaintenanceMode".equals(rc)) {
      return maintenance(providerId, what, r); // sent as 400 by the code, documented as 503
    }
    switch (s) {
      case 400:
        if ("CorruptPrompt".equals(rc)) {
          return new ContentPolicyException("prompt rejected (" + what + ")", providerId);
        }
        return new InvalidRequestException(List.of("AI Horde refused the request (" + what + ")"), providerId, null);
      case 401:
        return new AuthenticationException("API key refused (" + what + ")", providerId);
      case 403:
        if (OUT_OF_KUDOS.contains(rc)) {
          return new InsufficientCreditsException("not enough kudos (" + what + ")", providerId);
        }
        if ("BannedClientAgent".equals(rc)) {
          return new AuthenticationException("Client-Agent refused; set imagegen.horde.client-agent (" + what + ")",
              providerId);
        }
        if ("TimeoutIP".equals(rc) || "NotTrusted".equals(rc)) {
          return new ProviderUnavailableException("refused (" + what + ")", providerId, false, false, r.retryAfter(), null);
        }
        return new AuthenticationException("forbidden (" + what + ")", providerId);
      case 404:
        if ("UserNotFound".equals(rc)) {
          return new AuthenticationException("API key not recognised (" + what + ")", providerId);
        }
        if ("RequestNotFound".equals(rc)) {
          return new ProviderUnavailableException("request expired or unknown (" + what + ")", providerId, false, false,
              null, null);
        }
        return null;
      case 429:
        return new RateLimitedException("rate limited (" + what + ")", providerId, r.retryAfter(), null);
      default:
        return null;
    }
  }

  private static ProviderUnavailableException maintenance(String providerId, String what, HttpResult r) {
    return new ProviderUnavailableException("in maintenance (" + what + ")", providerId, false, false, r.retryAfter(), null);
  }

  private static @Nullable String text(@Nullable JsonNode n) {
    if (n == null || !n.isValueNode() || n.isNull()) {
      return null;
    }
    String t = n.asText().strip();
    return t.isEmpty() ? null : clip(t);
  }

  private static String clip(String s) {
    String t = s.replaceAll("\\s+", " ").strip();
    return t.length() > MAX_TEXT ? t.substring(0, MAX_TEXT) + "..." : t;
  }
}
