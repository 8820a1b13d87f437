package dev.imagegen.provider.replicate;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The JSON Replicate sends and receives (see {@code shared/protocols/replicate.md}). Unknown fields
 * are ignored by the shared mapper; every field Replicate may omit is nullable.
 */
final class ReplicateWire {
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
   */
  record Create(@Nullable String version, Map<String, Object> input) {}

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
      @Nullable String deadline,
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
      if (error == null || error.isNull()) {
        return "";
      }
      if (error.isTextual()) {
        return error.asText().strip();
      }
      if (error.isObject() && error.has("message")) {
        return error.get("message").asText().strip();
      }
      return error.toString();
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
      if (n.isTextual()) {
        String s = n.asText().strip();
        if (s.regionMatches(true, 0, "https://", 0, 8) || s.regionMatches(true, 0, "http://", 0, 7)
            || s.regionMatches(true, 0, "data:", 0, 5)) {
          out.add(s);
        }
      } else if (n.isArray()) {
        n.forEach(x -> collect(x, out));
      } else if (n.isObject()) {
        n.forEach(x -> collect(x, out));
      }
    }

    /** Time between creation and start, or null when unknown. */
    @Nullable Duration queueTime() {
      return between(createdAt, startedAt);
    }

    /** Time between start and completion, or null when unknown. */
    @Nullable Duration runTime() {
      return between(startedAt, completedAt);
    }
  }

  /**
   * A page of {@code GET /predictions} (List predictions): the account's predictions, API and web,
   * most recent first, up to 100 a page.
   *
   * <pre>{@code {"previous":null,"next":"https://api.replicate.com/v1/predictions?cursor=cD0y...","results":[...]}}</pre>
   *
   * @param previous the previous page's URL, or null
   * @param next the next (older) page's URL, or null on the last page
   * @param results the predictions
   */
  record Page(@Nullable String previous, @Nullable String next, @Nullable List<Prediction> results) {}

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
   * An error answer (problem JSON).
   *
   * <pre>{@code {"detail":"- input.num_inference_steps: Must be less than or equal to 4\n","status":422,
   *  "title":"Input validation failed","invalid_fields":[{"type":"number_lte","field":"input.num_inference_steps",
   *  "description":"Must be less than or equal to 4"}]}}</pre>
   *
   * @param title short title (429 and 404 may lack it)
   * @param detail Replicate's explanation
   * @param invalidFields the fields a 422 refused
   */
  record Problem(
      @Nullable String title,
      @Nullable String detail,
      @JsonProperty("invalid_fields") @Nullable List<InvalidField> invalidFields) {}

  /**
   * One refused input field.
   *
   * @param type e.g. {@code number_lte}, {@code required}, {@code enum}
   * @param field e.g. {@code input.num_inference_steps}
   * @param description e.g. {@code Must be less than or equal to 4}
   */
  record InvalidField(@Nullable String type, @Nullable String field, @Nullable String description) {}

  /**
   * {@code GET /account}: {@code {"type":"user","username":"acme","name":"Acme"}}.
   *
   * @param type {@code user} or {@code organization}
   * @param username the account name
   * @param name the display name
   */
  record Account(@Nullable String type, @Nullable String username, @Nullable String name) {}

  static @Nullable Instant instant(@Nullable String s) {
    if (s == null || s.isBlank()) {
      return null;
    }
    try {
      return OffsetDateTime.parse(s.strip()).toInstant();
    } catch (DateTimeParseException e) {
      try {
        return Instant.parse(s.strip());
      } catch (DateTimeParseException e2) {
        return null;
      }
    }
  }

  private static @Nullable Duration between(@Nullable String from, @Nullable String to) {
    Instant a = instant(from);
    Instant b = instant(to);
    if (a == null || b == null || b.isBefore(a)) {
      return null;
    }
    return Duration.between(a, b);
  }
}
