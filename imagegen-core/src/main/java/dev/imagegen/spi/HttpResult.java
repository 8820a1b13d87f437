package dev.imagegen.spi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A complete HTTP answer from a provider: status, headers and body bytes.
 *
 * @param method the request method
 * @param uri the request URI
 * @param status the HTTP status
 * @param headers the response headers
 * @param body the body, possibly empty
 * @param retrySafe whether the request may be repeated without creating a second job (an
 *     idempotent method, or a POST marked with {@link ProviderHttp#retrySafe}); when false, a lost
 *     or 5xx answer leaves the outcome unknown
 */
public record HttpResult(String method, URI uri, int status, HttpHeaders headers, byte[] body, boolean retrySafe) {

  /**
   * An answer whose request is safe to repeat exactly when its method is idempotent (GET, HEAD,
   * PUT, DELETE, OPTIONS).
   *
   * @param method the request method
   * @param uri the request URI
   * @param status the HTTP status
   * @param headers the response headers
   * @param body the body, possibly empty
   */
  public HttpResult(String method, URI uri, int status, HttpHeaders headers, byte[] body) {
    this(method, uri, status, headers, body, Set.of("GET", "HEAD", "PUT", "DELETE", "OPTIONS").contains(method));
  }

  /** Whether the status is 2xx. */
  public boolean isSuccess() {
    return status >= 200 && status < 300;
  }

  /** The body as UTF-8 text. */
  public String text() {
    return new String(body, StandardCharsets.UTF_8);
  }

  /**
   * A header's first value.
   *
   * @param name header name, any case
   */
  public @Nullable String header(String name) {
    return headers.firstValue(name).orElse(null);
  }

  /** The {@code Retry-After} header as a duration, or null when absent or unreadable. */
  public @Nullable Duration retryAfter() {
    String v = header("Retry-After");
    return v == null ? null : HttpErrors.parseRetryAfter(v);
  }

  /**
   * The body parsed as JSON, or null when it is empty or not JSON.
   *
   * @param mapper the mapper
   */
  public @Nullable JsonNode jsonOrNull(ObjectMapper mapper) {
    if (body.length == 0) {
      return null;
    }
    try {
      return mapper.readTree(body);
    } catch (IOException e) {
      return null;
    }
  }

  @Override
  public String toString() {
    return method + " " + uri.getPath() + " -> " + status + " (" + body.length + " bytes)";
  }
}
