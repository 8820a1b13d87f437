package dev.imagegen.provider.fal;

import com.fasterxml.jackson.annotation.JsonProperty;
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
import dev.imagegen.spi.ProviderSupport;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.StreamSupport;
import org.jspecify.annotations.Nullable;

/**
 * The JSON fal sends and receives on its queue API, as records holding the fields imagegen reads
 * (the examples show whole answers; the storage API's two small bodies are in {@link FalStorage}),
 * and fal's error answers mapped where they differ from core's defaults. Unknown fields are ignored
 * (the shared mapper does that); every field may be missing, so every component is nullable and
 * checked where it is used. Thread-safe; all methods are static.
 */
final class FalWire {
  private FalWire() {}

  /**
   * The answer to a submit ({@code POST queue.fal.run/{app id}}).
   *
   * <pre>{@code
   * {"status":"IN_QUEUE","request_id":"5b9d1c2e-7f3a-4c1e-9a55-0d6f2b8e41aa",
   *  "response_url":"https://queue.fal.run/fal-ai/flux/requests/5b9d1c2e-7f3a-4c1e-9a55-0d6f2b8e41aa",
   *  "status_url":"https://queue.fal.run/fal-ai/flux/requests/5b9d1c2e-7f3a-4c1e-9a55-0d6f2b8e41aa/status",
   *  "cancel_url":"https://queue.fal.run/fal-ai/flux/requests/5b9d1c2e-7f3a-4c1e-9a55-0d6f2b8e41aa/cancel",
   *  "queue_position":0}
   * }</pre>
   */
  record Submit(
      @JsonProperty("request_id") @Nullable String requestId,
      @JsonProperty("response_url") @Nullable String responseUrl,
      @JsonProperty("status_url") @Nullable String statusUrl,
      @JsonProperty("cancel_url") @Nullable String cancelUrl) {}

  /**
   * The answer to a status read ({@code GET …/requests/{id}/status?logs=1}); the three URLs and
   * {@code request_id} are repeated in each.
   *
   * <pre>{@code
   * {"status":"IN_QUEUE","queue_position":3}
   * {"status":"IN_PROGRESS",
   *  "logs":[{"message":"step 2/4","level":"INFO","source":"USER","timestamp":"2026-11-20T10:15:02.311Z"}]}
   * {"status":"COMPLETED","logs":null,"metrics":{"inference_time":0.41}}
   * {"status":"COMPLETED","logs":null,"metrics":{},"error":"Runner disconnected","error_type":"runner_disconnected"}
   * }</pre>
   */
  record Status(
      @JsonProperty("status") @Nullable String status,
      @JsonProperty("queue_position") @Nullable Integer queuePosition,
      @JsonProperty("logs") @Nullable List<Log> logs,
      @JsonProperty("metrics") @Nullable Metrics metrics,
      @JsonProperty("error") @Nullable String error,
      @JsonProperty("error_type") @Nullable String errorType) {

    /** The message of the newest log line, or null. */
    @Nullable String lastLog() {
      List<Log> l = logs;
      return l == null ? null : l.stream().filter(log -> log != null && log.message() != null && !log.message().isBlank())
          .reduce((older, newer) -> newer).map(Log::message).orElse(null);
    }
  }

  /**
   * One log line of a running request.
   *
   * <pre>{@code {"message":"step 2/4","level":"INFO","source":"USER","timestamp":"2026-11-20T10:15:02.311Z"}}</pre>
   */
  record Log(@JsonProperty("message") @Nullable String message) {}

  /**
   * Run metrics of a completed request; may be empty or missing on old apps.
   *
   * <pre>{@code {"inference_time":0.41}}</pre>
   */
  record Metrics(@JsonProperty("inference_time") @Nullable Double inferenceTime) {}

  /**
   * The result of an image app ({@code GET …/requests/{id}}).
   *
   * <pre>{@code
   * {"images":[{"url":"https://v3.fal.media/files/tiger/Qm3xV0aZ.jpeg","width":1024,"height":768,"content_type":"image/jpeg"}],
   *  "timings":{"inference":0.38},"seed":1984632751,"has_nsfw_concepts":[false],"prompt":"a red fox in snow"}
   * {"images":[{"url":"https://v3b.fal.media/files/b/penguin/k9Rr.png","content_type":"image/png","file_name":"output.png"}],
   *  "description":"Here is the scene with the jacket changed to red."}
   * }</pre>
   */
  record Result(
      @JsonProperty("images") @Nullable List<Image> images,
      @JsonProperty("seed") @Nullable Long seed,
      @JsonProperty("has_nsfw_concepts") @Nullable List<Boolean> hasNsfwConcepts,
      @JsonProperty("timings") @Nullable Timings timings,
      @JsonProperty("description") @Nullable String description) {

    /** Whether fal flagged the image at an index. */
    boolean nsfw(int index) {
      List<Boolean> flags = hasNsfwConcepts;
      return flags != null && index < flags.size() && Boolean.TRUE.equals(flags.get(index));
    }
  }

  /**
   * Timings a result reports, in seconds.
   *
   * <pre>{@code {"inference":0.38}}</pre>
   */
  record Timings(@JsonProperty("inference") @Nullable Double inference) {}

  /**
   * One output image: a CDN URL (or a data URI with {@code sync_mode}).
   *
   * <pre>{@code
   * {"url":"https://v3.fal.media/files/tiger/Qm3xV0aZ.jpeg","width":1024,"height":768,"content_type":"image/jpeg"}
   * }</pre>
   */
  record Image(@JsonProperty("url") @Nullable String url) {}

  /**
   * Maps an error answer where fal's differs from core's defaults ({@link HttpErrors}: 400/422
   * invalid, 401/403 refused credentials, 402 out of credit, 429 rate limited with
   * {@code Retry-After}, 408/5xx retryable, anything else not retried), or returns null for the
   * default:
   *
   * <table>
   * <caption>fal status to exception</caption>
   * <tr><th>HTTP</th><th>fal body</th><th>exception</th></tr>
   * <tr><td>any</td><td>{@code error_type} (body or {@code X-Fal-Error-Type}) or a 422 item of type
   *     {@code content_policy_violation}</td><td>{@link ContentPolicyException}</td></tr>
   * <tr><td>401</td><td>{@code {"detail":"No user found for Key ID and Secret"}}</td><td>{@link AuthenticationException}
   *     saying that fal expects {@code key_id:key_secret}</td></tr>
   * <tr><td>403</td><td>{@code {"detail":"User is locked. Reason: Exhausted balance. …"}}</td>
   *     <td>{@link InsufficientCreditsException} when the balance is exhausted, else the default</td></tr>
   * <tr><td>422</td><td>{@code {"detail":[{"loc":["body","prompt"],"msg":"field required","type":"value_error.missing"}]}}
   *     or a string</td><td>{@link InvalidRequestException}, one violation per item</td></tr>
   * <tr><td>5xx</td><td>{@code {"detail":"…","error_type":"runner_server_error"}}</td>
   *     <td>{@link ProviderUnavailableException} naming the error type, retried unless {@code X-Fal-Retryable: false};
   *     not retried for a 504 with {@code X-Fal-Request-Timeout-Type: user}</td></tr>
   * </table>
   *
   * @param providerId the provider id
   * @param r the answer (scrubbed of secrets)
   * @param mapper JSON mapper
   */
  static @Nullable ImageGenerationException mapError(String providerId, HttpResult r, ObjectMapper mapper) {
    int s = r.status();
    JsonNode json = r.jsonOrNull(mapper);
    String detail = HttpErrors.message(r, mapper);
    String what = "HTTP " + s + (detail.isEmpty() ? "" : ": " + detail);
    String errorType = errorType(r, json);
    String d = detail.toLowerCase(Locale.ROOT);
    if (isContentPolicy(errorType, json)) {
      return new ContentPolicyException("the model refused the request (" + what + ")", providerId);
    } else if (s == 401) {
      return new AuthenticationException("key refused (" + what + "); fal expects FAL_KEY as key_id:key_secret", providerId);
    } else if (s == 403 && (d.contains("balance") || d.contains("billing") || d.contains("top up") || d.contains("credit"))) {
      return new InsufficientCreditsException("account out of balance (" + what + ")", providerId);
    } else if (s == 422) {
      return new InvalidRequestException(violations(json, what), providerId, null);
    } else if (s == 504 && "user".equalsIgnoreCase(String.valueOf(r.header("X-Fal-Request-Timeout-Type")).strip())) {
      return ProviderUnavailableException.failOver("the request's own timeout (X-Fal-Request-Timeout) passed before it ran ("
          + what + ")", providerId, null);
    } else if (s >= 500) {
      return ProviderUnavailableException.builder("server error" + (errorType == null ? "" : " " + errorType) + " (" + what
          + ")", providerId).retryable(!"false".equalsIgnoreCase(String.valueOf(r.header("X-Fal-Retryable")).strip()))
          .retryAfter(r.retryAfter()).build();
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
    return ProviderUnavailableException.builder(what, providerId).retryable(transientFault).build();
  }

  /** fal's own error type of an answer ({@code X-Fal-Error-Type} or body {@code error_type}), or null. */
  static @Nullable String errorType(HttpResult r, @Nullable JsonNode json) {
    String h = r.header("X-Fal-Error-Type");
    if (h != null && !h.isBlank()) {
      return h.strip();
    }
    if (json != null && json.isObject() && json.path("error_type").isTextual()) {
      return json.path("error_type").asText();
    }
    return null;
  }

  private static boolean isContentPolicy(@Nullable String errorType, @Nullable JsonNode json) {
    JsonNode detail = json == null ? null : json.get("detail");
    return errorType != null && errorType.toLowerCase(Locale.ROOT).contains("content_policy") || detail != null
        && detail.isArray() && StreamSupport.stream(detail.spliterator(), false)
            .anyMatch(d -> d.path("type").asText("").toLowerCase(Locale.ROOT).contains("content_policy"));
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
          out.add(ProviderSupport.clip(loc.isEmpty() ? msg : loc + ": " + msg, 300));
        } else if (!d.isNull()) {
          out.add(ProviderSupport.clip(d.asText(d.toString()), 300));
        }
        if (out.size() >= 20) {
          break;
        }
      }
    } else if (detail != null && detail.isTextual() && !detail.asText().isBlank()) {
      out.add(ProviderSupport.clip(detail.asText(), 300));
    }
    if (out.isEmpty()) {
      out.add("fal refused the request (" + what + ")");
    }
    return out;
  }
}
