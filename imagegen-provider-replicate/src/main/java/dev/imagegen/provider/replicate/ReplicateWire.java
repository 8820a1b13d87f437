package dev.imagegen.provider.replicate;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageBytes;
import dev.imagegen.spi.ProviderSupport;
import dev.imagegen.spi.Redactor;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The JSON Replicate sends and receives (see {@code shared/protocols/replicate.md}), and its error
 * answers and failed predictions mapped to imagegen's exceptions where they differ from core's
 * {@code HttpErrors} (which maps 401/403, 402, other 404s, 429 with {@code Retry-After} and 5xx;
 * core's {@code ProviderHttp} makes a 5xx to a create an unknown outcome, which is reconciled,
 * unless {@code retry-create-on-server-error} marks creates safe to repeat):
 *
 * <table>
 * <caption>answer to exception</caption>
 * <tr><th>answer</th><th>exception</th><th>retry</th><th>failover</th></tr>
 * <tr><td>404 on a create</td><td>{@link InvalidRequestException} (no such model)</td><td>no</td><td>no</td></tr>
 * <tr><td>422 input validation</td><td>{@link InvalidRequestException} with Replicate's detail</td><td>no</td><td>no</td></tr>
 * <tr><td>422 invalid version</td><td>{@link ProviderUnavailableException}</td><td>no</td><td>yes</td></tr>
 * <tr><td>429 without {@code Retry-After}</td><td>{@link RateLimitedException}: the body's "~30s"</td>
 *     <td>if short</td><td>yes</td></tr>
 * <tr><td>status {@code failed}, NSFW</td><td>{@link ContentPolicyException}</td><td>no</td><td>no</td></tr>
 * <tr><td>status {@code failed}, other</td><td>{@link ProviderUnavailableException}</td><td>no</td><td>yes</td></tr>
 * <tr><td>status {@code aborted} (not started, not billed)</td><td>{@link ProviderUnavailableException}</td>
 *     <td>no</td><td>yes</td></tr>
 * </table>
 *
 * <p>Unknown fields are ignored by the shared mapper; every field Replicate may omit is nullable.
 */
final class ReplicateWire {
  private static final String ID = ReplicateProvider.ID;
  private static final Pattern BODY_WAIT = Pattern.compile(
      "(?:~|\\bin\\s+)(\\d+(?:\\.\\d+)?)\\s*(ms|s|sec|secs|seconds?|m|min|minutes?)\\b", Pattern.CASE_INSENSITIVE);
  private static final Pattern NSFW = Pattern.compile("nsfw|flagged as sensitive", Pattern.CASE_INSENSITIVE);

  private ReplicateWire() {}

  /** The statuses that end a prediction. {@code aborted} is real (deadline hit before it started). */
  static final List<String> TERMINAL = List.of("succeeded", "failed", "canceled", "aborted");

  /**
   * The body of {@code POST /predictions} (with {@code version}) and of
   * {@code POST /models/{owner}/{name}/predictions} (without it).
   *
   * <pre>{@code {"version":"7762fd07...","input":{"prompt":"a red fox in snow","width":1024,"height":1024}}}</pre>
   *
   * @param version the 64-hex version id, or null for an official model
   * @param input the model's input
   * @param webhook where Replicate POSTs the prediction, or null (no webhook)
   * @param webhookEventsFilter the events sent to the webhook ({@code ["completed"]}), or null
   */
  record Create(@Nullable String version, JsonNode input, @Nullable String webhook,
      @JsonProperty("webhook_events_filter") @Nullable List<String> webhookEventsFilter) {}

  /**
   * A prediction, as every endpoint returns it.
   *
   * <pre>{@code
   * {"id":"s14dfnzq35rma0cqtjw9m48hmw","model":"black-forest-labs/flux-schnell","version":"hidden",
   *  "input":{"prompt":"a red fox in snow"},"logs":"","output":null,"data_removed":false,"error":null,
   *  "status":"starting","created_at":"2025-07-04T09:16:21.145Z",
   *  "urls":{"get":"https://api.replicate.com/v1/predictions/s14dfnzq35rma0cqtjw9m48hmw",
   *   "cancel":"https://api.replicate.com/v1/predictions/s14dfnzq35rma0cqtjw9m48hmw/cancel",
   *   "web":"https://replicate.com/p/s14dfnzq35rma0cqtjw9m48hmw"}}
   * }</pre>
   *
   * Succeeded adds {@code started_at}, {@code completed_at}, {@code output} (an array of URLs for
   * flux-schnell and sdxl, one string for some models) and
   * {@code "metrics":{"image_count":1,"predict_time":0.56,"total_time":1.21}}. List predictions
   * adds {@code "source":"api"} or {@code "web"}; {@code input} is the input the create sent.
   */
  record Prediction(
      @Nullable String id,
      @Nullable String model,
      @Nullable String version,
      @Nullable String status,
      @Nullable String source,
      @Nullable JsonNode input,
      @Nullable JsonNode output,
      @Nullable JsonNode error,
      @Nullable String logs,
      @JsonProperty("data_removed") @Nullable Boolean dataRemoved,
      @JsonProperty("created_at") @Nullable String createdAt,
      @JsonProperty("started_at") @Nullable String startedAt,
      @JsonProperty("completed_at") @Nullable String completedAt,
      @Nullable Urls urls,
      @Nullable Metrics metrics) {

    /** The status in lower case, empty when absent. */
    String state() {
      return status == null ? "" : status.strip().toLowerCase(Locale.ROOT);
    }

    /**
     * Whether the prediction ended: a terminal status, or a status this client does not know
     * (say, a new one) with {@code completed_at} set, so that polling never runs on forever.
     */
    boolean isTerminal() {
      String s = state();
      return TERMINAL.contains(s) || (!s.equals("starting") && !s.equals("processing") && completedAt != null);
    }

    /** The error text of a failed prediction, empty when none. */
    String errorText() {
      if (error != null && error.isObject() && error.has("message")) {
        return error.get("message").asText().strip();
      }
      return error == null || error.isNull() ? "" : error.isTextual() ? error.asText().strip() : error.toString();
    }

    /** Every result URL (or data URI) in {@code output}, in order: arrays, single strings and nested values. */
    List<String> outputs() {
      List<String> out = new ArrayList<>();
      collect(output, out);
      return out;
    }

    private static void collect(@Nullable JsonNode n, List<String> out) {
      if (n == null || n.isNull()) {
        return;
      }
      String s = n.asText().strip();
      if (n.isTextual() && (ImageBytes.isHttpUrl(s) || ImageBytes.isDataUri(s))) {
        out.add(s);
      } else if (n.isArray() || n.isObject()) {
        n.forEach(x -> collect(x, out));
      }
    }
  }

  /**
   * A page of {@code GET /predictions} (List predictions): the account's predictions, API and web,
   * most recent first, up to 100 a page.
   *
   * <pre>{@code {"previous":null,"next":"https://api.replicate.com/v1/predictions?cursor=cD0y...","results":[...]}}</pre>
   *
   * @param next the next (older) page's URL, or null on the last page
   * @param results the predictions
   */
  record Page(@Nullable String next, @Nullable List<Prediction> results) {}

  /**
   * The prediction's URLs.
   *
   * @param get poll URL
   * @param cancel cancel URL
   * @param web page on replicate.com
   */
  record Urls(@Nullable String get, @Nullable String cancel, @Nullable String web) {}

  /**
   * What Replicate measured: {@code predict_time} is the billed GPU time of time-priced models.
   *
   * @param predictTime GPU seconds
   * @param totalTime seconds from creation to completion
   * @param imageCount images produced (per-image models)
   */
  record Metrics(
      @JsonProperty("predict_time") @Nullable Double predictTime,
      @JsonProperty("total_time") @Nullable Double totalTime,
      @JsonProperty("image_count") @Nullable Integer imageCount) {}

  /**
   * Maps an error answer, problem JSON with a {@code title} (429 and 404 may lack it), Replicate's
   * {@code detail} and the {@code invalid_fields} a 422 refused:
   *
   * <pre>{@code {"detail":"- input.num_inference_steps: Must be less than or equal to 4\n","status":422,
   *  "title":"Input validation failed","invalid_fields":[{"type":"number_lte","field":"input.num_inference_steps",
   *  "description":"Must be less than or equal to 4"}]}}</pre>
   *
   * @param r the answer (secrets already scrubbed)
   * @param json the mapper
   * @return the exception, or null for core's default mapping
   */
  static @Nullable ImageGenerationException map(HttpResult r, ObjectMapper json) {
    JsonNode body = r.jsonOrNull(json);
    JsonNode problem = body != null && body.isObject() ? body : null;
    String title = problem == null ? "" : ProviderSupport.clip(problem.path("title").asText(""));
    String detail = ProviderSupport.clip(problem == null ? r.text() : problem.path("detail").asText(""));
    String what = "HTTP " + r.status() + (title.isEmpty() ? "" : " " + title) + (detail.isEmpty() ? "" : ": " + detail);
    boolean create = "POST".equals(r.method()) && r.uri().getPath().endsWith("/predictions");
    if (r.status() == 404 && create) {
      return new InvalidRequestException("no such model at Replicate: " + modelOf(r) + " (" + what + ")", ID);
    }
    if (r.status() == 422) {
      return isVersionError(title, detail) ? ProviderUnavailableException.failOver("version refused (" + what + ")", ID, null)
          : new InvalidRequestException(violations(title, detail, problem), ID, null);
    }
    Duration wait = r.status() == 429 && r.retryAfter() == null ? waitInBody(detail) : null;
    if (wait != null) {
      return new RateLimitedException("rate limited (" + what + ")", ID, wait, null);
    }
    return null;
  }

  /**
   * The exception for a prediction that ended without images.
   *
   * @param p the prediction ({@code failed}, {@code canceled} or {@code aborted})
   * @param redactor scrubs secrets from the prediction's own text (its error, its id)
   */
  static ImageGenerationException ended(Prediction p, Redactor redactor) {
    String error = ProviderSupport.clip(redactor.redact(p.errorText()));
    String because = error.isEmpty() ? "" : ": " + error;
    switch (p.state()) {
      case "failed":
        if (NSFW.matcher(error).find()) {
          return new ContentPolicyException("prediction " + p.id() + " refused by the safety filter" + because, ID);
        }
        return ProviderUnavailableException.failOver("prediction " + p.id() + " failed" + because, ID, null);
      case "canceled":
        return new GenerationCancelledException("prediction " + p.id() + " was canceled at Replicate" + because, ID);
      case "aborted":
        // Replicate's Cancel-After deadline passed before the prediction started: no GPU time, not
        // billed; the request's own deadline may still leave time for another provider
        return ProviderUnavailableException.notStarted("prediction " + p.id() + " was aborted at Replicate: its Cancel-After "
            + "deadline passed before it started, so it was not started and not billed" + (error.isEmpty() ? "" : " (" + error
            + ")"), ID);
      default:
        return ProviderUnavailableException.failOver("prediction " + p.id() + " ended with unknown status '" + p.status() + "'",
            ID, null);
    }
  }

  /**
   * The wait a 429 body states, e.g. "Your rate limit resets in ~30s.".
   *
   * @param detail the body's detail
   * @return the wait, or null when none is stated
   */
  static @Nullable Duration waitInBody(String detail) {
    Matcher m = BODY_WAIT.matcher(detail);
    if (!m.find()) {
      return null;
    }
    double n = Double.parseDouble(m.group(1));
    String unit = m.group(2).toLowerCase(Locale.ROOT);
    return Duration.ofMillis(unit.equals("ms") ? (long) n : unit.startsWith("m") ? (long) (n * 60_000) : (long) (n * 1000));
  }

  private static boolean isVersionError(String title, String detail) {
    String t = title.toLowerCase(Locale.ROOT);
    String d = detail.toLowerCase(Locale.ROOT);
    return t.contains("invalid version") || t.contains("not permitted") || d.contains("specified version does not exist");
  }

  private static List<String> violations(String title, String detail, @Nullable JsonNode problem) {
    List<String> v = new ArrayList<>();
    String head = title.isEmpty() ? "Replicate refused the input" : title;
    JsonNode fields = problem == null ? MissingNode.getInstance() : problem.path("invalid_fields");
    if (!detail.isEmpty()) {
      v.add(head + ": " + detail);
    } else if (!fields.isEmpty()) {
      for (JsonNode f : fields) { // {"type":"number_lte","field":"input.num_inference_steps","description":"..."}
        String field = f.hasNonNull("field") ? f.get("field").asText() + ": " : "";
        v.add(head + ": " + field + (f.hasNonNull("description") ? f.get("description").asText() : f.path("type").asText(null)));
      }
    } else {
      v.add(head + " (HTTP 422)");
    }
    return v;
  }

  private static String modelOf(HttpResult r) {
    String path = r.uri().getPath();
    int i = path.indexOf("/models/");
    return i < 0 ? "the requested version" : path.substring(i + "/models/".length(), path.length() - "/predictions".length());
  }

  static @Nullable Instant instant(@Nullable String s) {
    try {
      return s == null || s.isBlank() ? null : OffsetDateTime.parse(s.strip()).toInstant();
    } catch (DateTimeParseException e) {
      return null;
    }
  }

  /** The time between two timestamps ({@code created_at}, {@code started_at}, {@code completed_at}), or null when unknown. */
  static @Nullable Duration between(@Nullable String from, @Nullable String to) {
    Instant a = instant(from);
    Instant b = instant(to);
    return a == null || b == null || b.isBefore(a) ? null : Duration.between(a, b);
  }
}
