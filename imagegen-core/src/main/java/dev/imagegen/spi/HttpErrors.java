package dev.imagegen.spi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The default mapping of an HTTP error answer to imagegen's exceptions, used when a provider's
 * {@link ImageProvider#mapError} does not claim the answer:
 *
 * <table>
 * <caption>status to exception</caption>
 * <tr><th>status</th><th>exception</th><th>retry</th><th>failover</th></tr>
 * <tr><td>400, 422</td><td>{@link InvalidRequestException} with the provider's message</td><td>no</td><td>no</td></tr>
 * <tr><td>401, 403</td><td>{@link AuthenticationException}</td><td>no</td><td>yes</td></tr>
 * <tr><td>402</td><td>{@link InsufficientCreditsException}</td><td>no</td><td>yes</td></tr>
 * <tr><td>408, 5xx</td><td>{@link ProviderUnavailableException}</td><td>yes</td><td>yes</td></tr>
 * <tr><td>429</td><td>{@link RateLimitedException} with {@code Retry-After}</td><td>yes, if short</td><td>yes</td></tr>
 * <tr><td>other</td><td>{@link ProviderUnavailableException}</td><td>no</td><td>yes</td></tr>
 * </table>
 *
 * Thread-safe; all methods are static.
 */
public final class HttpErrors {
  private static final int MAX_MESSAGE = 500;

  private HttpErrors() {}

  /**
   * Maps an error answer.
   *
   * @param providerId the provider
   * @param result the answer (not 2xx)
   * @param mapper JSON mapper for reading the body
   * @return the exception to fail with
   */
  public static ImageGenerationException map(String providerId, HttpResult result, ObjectMapper mapper) {
    return map(providerId, result, message(result, mapper));
  }

  /**
   * Maps an error answer by the default rows, with the provider's own text already read from the
   * body: a provider whose error body has a shape of its own reads it, handles the statuses that
   * differ, and passes the rest here.
   *
   * @param providerId the provider
   * @param result the answer (not 2xx)
   * @param detail the provider's error text (possibly empty), secrets already scrubbed
   * @return the exception to fail with
   */
  public static ImageGenerationException map(String providerId, HttpResult result, String detail) {
    int s = result.status();
    String what = "HTTP " + s + (detail.isEmpty() ? "" : ": " + detail);
    if (s == 400 || s == 422) {
      return new InvalidRequestException(List.of(providerId + " refused the request: " + what), providerId, null);
    }
    if (s == 401 || s == 403) {
      return new AuthenticationException("credentials refused (" + what + ")", providerId);
    }
    if (s == 402) {
      return new InsufficientCreditsException("out of credit (" + what + ")", providerId);
    }
    if (s == 429) {
      return new RateLimitedException("rate limited (" + what + ")", providerId, result.retryAfter(), null);
    }
    if (s == 408 || s >= 500) {
      return new ProviderUnavailableException("server error (" + what + ")", providerId, true, false, result.retryAfter(), null);
    }
    return new ProviderUnavailableException("unexpected answer (" + what + ")", providerId, false, false, null, null);
  }

  /**
   * The provider's own error text from a body: {@code detail} (a string, or FastAPI's list of
   * {@code {loc, msg}}), {@code message}, {@code error}, {@code title}, {@code errors}; else the
   * start of the body text. Never longer than 500 characters.
   *
   * @param result the answer
   * @param mapper JSON mapper
   * @return the text, possibly empty
   */
  public static String message(HttpResult result, ObjectMapper mapper) {
    JsonNode json = result.jsonOrNull(mapper);
    String text;
    if (json != null && json.isObject()) {
      List<String> parts = new ArrayList<>();
      addText(parts, json.get("title"));
      addText(parts, json.get("message"));
      addText(parts, json.get("error"));
      addDetail(parts, json.get("detail"));
      JsonNode errors = json.get("errors");
      if (errors != null && errors.isObject()) {
        errors.fields().forEachRemaining(e -> parts.add(e.getKey() + ": " + e.getValue().asText()));
      } else if (errors != null && errors.isArray()) {
        errors.forEach(e -> parts.add(e.isTextual() ? e.asText() : e.toString()));
      }
      text = parts.isEmpty() ? json.toString() : String.join(" - ", parts);
    } else {
      text = result.text().strip();
    }
    text = text.replaceAll("\\s+", " ");
    return text.length() > MAX_MESSAGE ? text.substring(0, MAX_MESSAGE) + "..." : text;
  }

  private static void addText(List<String> parts, @Nullable JsonNode n) {
    if (n != null && n.isTextual() && !n.asText().isBlank() && !parts.contains(n.asText())) {
      parts.add(n.asText());
    } else if (n != null && n.isObject() && n.has("message")) {
      addText(parts, n.get("message"));
    }
  }

  private static void addDetail(List<String> parts, @Nullable JsonNode detail) {
    if (detail == null) {
      return;
    }
    if (detail.isTextual()) {
      addText(parts, detail);
    } else if (detail.isArray()) {
      for (JsonNode d : detail) {
        if (d.isObject()) {
          String loc = fieldPath(d.get("loc"));
          String msg = d.path("msg").asText(d.toString());
          parts.add(loc.isEmpty() ? msg : loc + ": " + msg);
        } else {
          parts.add(d.asText());
        }
      }
    } else if (detail.isObject()) {
      parts.add(detail.toString());
    }
  }

  /**
   * The field path of a FastAPI/pydantic validation entry's {@code loc}: {@code ["body","width"]}
   * becomes {@code width}, {@code ["body","input","seed"]} becomes {@code input.seed}.
   *
   * @param loc the {@code loc} value (array or text), or null
   * @return the dotted path, empty when there is none
   */
  public static String fieldPath(@Nullable JsonNode loc) {
    if (loc == null || loc.isNull()) {
      return "";
    }
    if (!loc.isArray()) {
      return loc.asText();
    }
    List<String> p = new ArrayList<>();
    loc.forEach(x -> p.add(x.asText()));
    if (p.size() > 1 && p.get(0).equals("body")) {
      p.remove(0);
    }
    return String.join(".", p);
  }

  /**
   * Parses a {@code Retry-After} value: a number of seconds, or an HTTP date.
   *
   * @param value the header value
   * @return the delay (zero for a date in the past), or null when unreadable
   */
  public static @Nullable Duration parseRetryAfter(String value) {
    String v = value.strip();
    if (v.isEmpty()) {
      return null;
    }
    try {
      double seconds = Double.parseDouble(v);
      return seconds < 0 ? null : Duration.ofMillis((long) (seconds * 1000));
    } catch (NumberFormatException e) {
      // an HTTP date
    }
    try {
      ZonedDateTime at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME);
      Duration d = Duration.between(Instant.now(), at.toInstant());
      return d.isNegative() ? Duration.ZERO : d;
    } catch (DateTimeParseException e) {
      return null;
    }
  }
}
