package dev.imagegen.provider.sdwebui;

import static dev.imagegen.spi.ProviderSupport.clip;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.HttpErrors;
import dev.imagegen.spi.HttpResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * The WebUI's error answers mapped to imagegen's exceptions. The WebUI's own handler answers
 * {@code {"error":<exception class>,"detail":…,"body":…,"errors":<str(e)>}}; FastAPI's validation
 * answers {@code {"detail":[{"loc":[…],"msg":…}]}}; a route that does not exist (the WebUI was
 * started without {@code --api}) answers FastAPI's {@code {"detail":"Not Found"}}.
 *
 * <table>
 * <caption>status to exception</caption>
 * <tr><th>answer</th><th>exception</th><th>retry</th><th>failover</th></tr>
 * <tr><td>404 {@code {"detail":"Not Found"}}</td><td>{@link ProviderUnavailableException}: started without --api</td>
 *     <td>no</td><td>yes</td></tr>
 * <tr><td>404 HTTPException ({@code Init image not found})</td><td>{@link InvalidRequestException}</td><td>no</td>
 *     <td>no</td></tr>
 * <tr><td>401</td><td>{@link AuthenticationException} (--api-auth)</td><td>no</td><td>yes</td></tr>
 * <tr><td>400, 422</td><td>{@link InvalidRequestException}, one violation per validation entry</td><td>no</td><td>no</td></tr>
 * <tr><td>500 OutOfMemoryError</td><td>{@link ProviderUnavailableException} with the WebUI's text</td><td>yes</td>
 *     <td>yes</td></tr>
 * <tr><td>500 other</td><td>{@link ProviderUnavailableException} with the WebUI's text</td><td>no</td><td>yes</td></tr>
 * <tr><td>500 {@code Invalid encoded image}</td><td>{@link InvalidRequestException}</td><td>no</td><td>no</td></tr>
 * </table>
 *
 * Anything else (a proxy's 502, a 429) falls back to the default mapping.
 */
final class SdWebUiErrors {
  private SdWebUiErrors() {}

  static @Nullable ImageGenerationException map(HttpResult r, ObjectMapper json, String providerId, SdWebUiSettings settings) {
    JsonNode body = r.jsonOrNull(json);
    if (body != null && !body.isObject()) {
      body = null;
    }
    String errorClass = text(body, "error");
    String detail = body == null ? "" : textOf(body.get("detail"));
    String path = r.uri().getPath();
    switch (r.status()) {
      case 404:
        if (errorClass.isEmpty()) {
          return noApi(r, providerId, settings);
        }
        return new InvalidRequestException(List.of("the WebUI answered 404 for " + path + ": " + orElse(detail, errorText(body))),
            providerId, null);
      case 401:
        return unauthorized(detail.isEmpty() ? "HTTP 401" : "HTTP 401: " + detail, providerId, settings);
      case 400:
      case 422:
        return new InvalidRequestException(violations(body, r), providerId, null);
      case 500:
        if (body == null || errorClass.isEmpty()) {
          return null; // not the WebUI's handler (a proxy): default mapping
        }
        return crashed(body, errorClass, detail, providerId);
      default:
        return null;
    }
  }

  /** A route under /sdapi/v1 is missing: the API is off, or base-url points elsewhere. */
  private static ProviderUnavailableException noApi(HttpResult r, String providerId, SdWebUiSettings settings) {
    return ProviderUnavailableException.failOver("the WebUI at " + shown(settings) + " answered 404 Not Found for "
        + r.method() + " " + r.uri().getPath() + ": it was started without --api (add --api to COMMANDLINE_ARGS, or use "
        + "--nowebui, which serves the API on port 7861), or base-url points to the wrong server or --subpath", providerId, null);
  }

  private static AuthenticationException unauthorized(String what, String providerId, SdWebUiSettings settings) {
    if (settings.authDescription == null) {
      return new AuthenticationException("the WebUI requires credentials (" + what + "): it was started with --api-auth; "
          + "set imagegen.sdwebui.username and imagegen.sdwebui.password (or imagegen.sdwebui.api-auth=user:password)",
          providerId);
    }
    return new AuthenticationException("the WebUI refused the credentials of " + settings.authDescription + " (" + what
        + "); check them against the WebUI's --api-auth", providerId);
  }

  private static ImageGenerationException crashed(JsonNode body, String errorClass, String detail, String providerId) {
    String errors = errorText(body);
    String what = errors.isEmpty() ? detail : errors;
    if (what.isEmpty()) {
      what = text(body, "body");
    }
    String message = clip(errorClass + (what.isEmpty() ? "" : ": " + what));
    String lower = message.toLowerCase(Locale.ROOT);
    if (lower.contains("invalid encoded image")) {
      return new InvalidRequestException(List.of("the WebUI could not decode an input image: " + message), providerId, null);
    }
    boolean oom = errorClass.contains("OutOfMemory") || lower.contains("out of memory");
    // out of memory is often transient (VRAM is freed after the failure, another process may have
    // held it); anything else would fail the same way again, but another provider may serve
    return ProviderUnavailableException.builder("the WebUI failed to generate (HTTP 500): " + message
        + (oom ? " (use a smaller size or batch)" : ""), providerId).retryable(oom).build();
  }

  private static List<String> violations(@Nullable JsonNode body, HttpResult r) {
    List<String> out = new ArrayList<>();
    JsonNode detail = body == null ? null : body.get("detail");
    if (detail != null && detail.isArray()) {
      for (JsonNode d : detail) {
        if (!d.isObject()) {
          out.add("the WebUI rejected the request: " + clip(d.asText()));
          continue;
        }
        String loc = HttpErrors.fieldPath(d.get("loc"));
        String msg = d.path("msg").asText(d.toString());
        JsonNode input = d.get("input");
        String shown = input != null && input.isValueNode() && input.asText().length() <= 60
            ? " (input: " + input.asText() + ")" : "";
        out.add("the WebUI rejected " + (loc.isEmpty() ? "the request" : loc) + ": " + clip(msg) + shown);
      }
    }
    if (out.isEmpty()) {
      String text = body == null ? r.text().strip() : orElse(textOf(detail), errorText(body));
      out.add("the WebUI rejected the request (HTTP " + r.status() + ")" + (text.isEmpty() ? "" : ": " + clip(text)));
    }
    return out;
  }

  /** A node's text, clipped: a string as it is, anything else as JSON; empty when absent. */
  private static String textOf(@Nullable JsonNode n) {
    return n == null || n.isNull() ? "" : clip(n.isTextual() ? n.asText() : n.toString());
  }

  private static String errorText(@Nullable JsonNode body) {
    return body == null ? "" : textOf(body.get("errors"));
  }

  private static String text(@Nullable JsonNode body, String field) {
    JsonNode n = body == null ? null : body.get(field);
    return n != null && n.isTextual() ? n.asText().strip() : "";
  }

  private static String orElse(String a, String b) {
    return a.isEmpty() ? b : a;
  }

  private static String shown(SdWebUiSettings settings) {
    var u = settings.baseUrl;
    return u.getScheme() + "://" + u.getHost() + (u.getPort() > 0 ? ":" + u.getPort() : "") + u.getPath();
  }
}
