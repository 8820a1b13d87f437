package dev.imagegen.provider.bfl;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.HttpErrors;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ProviderSupport;
import org.jspecify.annotations.Nullable;

/**
 * The JSON BFL sends and receives, and the answers mapped to imagegen's exceptions where they
 * differ from core's {@code HttpErrors} (401/403 authentication, 402 credits, 400/422 invalid,
 * 429 rate limited with {@code Retry-After}, 5xx unavailable; core's {@code ProviderHttp} makes a
 * 5xx or lost answer to the submit POST an unknown outcome, never resubmitted):
 *
 * <table>
 * <caption>answer to exception</caption>
 * <tr><th>answer</th><th>exception</th><th>retry</th><th>failover</th></tr>
 * <tr><td>404 to a submit (no such model path)</td><td>{@link InvalidRequestException#notServedHere}</td><td>no</td>
 *     <td>yes</td></tr>
 * <tr><td>404 to a poll (task unknown or expired)</td><td>{@link ProviderUnavailableException}</td><td>no</td>
 *     <td>yes</td></tr>
 * <tr><td>{@code Request Moderated}, {@code Content Moderated}</td><td>{@link ContentPolicyException}</td><td>no</td>
 *     <td>no</td></tr>
 * <tr><td>{@code Task not found}</td><td>{@link ProviderUnavailableException}</td><td>no</td><td>yes</td></tr>
 * <tr><td>{@code Error}, or a status this client does not know</td><td>{@link ProviderUnavailableException}</td>
 *     <td>no</td><td>yes</td></tr>
 * </table>
 *
 * <p>Unknown fields are ignored by the shared mapper; every field BFL may omit is nullable.
 */
final class BflWire {
  private BflWire() {}

  /** The status that keeps a task polled; every other one ends it. */
  static final String PENDING = "Pending";
  /** The status of a finished task with its result. */
  static final String READY = "Ready";
  /** The input was refused by moderation. */
  static final String REQUEST_MODERATED = "Request Moderated";
  /** The output was refused by moderation. */
  static final String CONTENT_MODERATED = "Content Moderated";
  /** The id is unknown or expired. */
  static final String TASK_NOT_FOUND = "Task not found";
  /** The generation failed. */
  static final String ERROR = "Error";

  /**
   * The submit answer.
   *
   * <pre>{@code {"id":"2fa25140-...","polling_url":"https://api.eu2.bfl.ai/v1/get_result?id=2fa25140-...",
   *  "cost":4.5,"input_mp":0,"output_mp":1.98}}</pre>
   *
   * @param id the task id
   * @param pollingUrl where to poll it (may name another cluster's host)
   * @param cost credits charged (FLUX.2; 1 credit = $0.01), or null
   * @param inputMp input megapixels billed, or null
   * @param outputMp output megapixels billed, or null
   */
  record Submit(@Nullable String id, @JsonProperty("polling_url") @Nullable String pollingUrl, @Nullable Double cost,
      @JsonProperty("input_mp") @Nullable Double inputMp, @JsonProperty("output_mp") @Nullable Double outputMp) {}

  /**
   * A poll answer.
   *
   * <pre>{@code {"id":"2fa2...","status":"Ready","result":{"sample":"https://...signed...","prompt":"a red fox","seed":1234567890}}}</pre>
   *
   * @param id the task id
   * @param status {@code Pending}, {@code Ready}, {@code Error}, {@code Request Moderated},
   *     {@code Content Moderated} or {@code Task not found}
   * @param result the result when ready
   * @param progress how far the task is, when BFL says (a fraction 0..1, or a percent)
   * @param details moderation or error details, shape unconfirmed
   * @param error an error text, when BFL gives one
   */
  record Poll(@Nullable String id, @Nullable String status, @Nullable Result result, @Nullable Double progress,
      @Nullable JsonNode details, @Nullable JsonNode error) {

    /** The status, stripped; empty when absent. */
    String state() {
      return status == null ? "" : status.strip();
    }

    /** The progress as a percent 0..100, or null when BFL gave none. */
    @Nullable Double percent() {
      Double p = progress;
      if (p == null || p.isNaN() || p < 0) {
        return null;
      }
      double pct = p <= 1.0 ? p * 100 : p;
      return Math.min(pct, 100.0);
    }
  }

  /**
   * A ready task's result.
   *
   * @param sample the signed URL of the image, valid about 10 minutes
   * @param prompt the prompt used
   * @param seed the seed used
   */
  record Result(@Nullable String sample, @Nullable String prompt, @Nullable Long seed) {}

  /**
   * The exception for a poll whose status ends the task without an image.
   *
   * @param providerId the provider id
   * @param taskId the task id
   * @param p the poll answer (its text already scrubbed of secrets by the caller's redactor)
   * @param because the details or error text, possibly empty
   */
  static ImageGenerationException ended(String providerId, String taskId, Poll p, String because) {
    String why = because.isEmpty() ? "" : ": " + because;
    switch (p.state()) {
      case REQUEST_MODERATED:
        return new ContentPolicyException("task " + taskId + " refused by BFL's moderation of the input (Request Moderated)"
            + why, providerId);
      case CONTENT_MODERATED:
        return new ContentPolicyException("task " + taskId + " refused by BFL's moderation of the output (Content Moderated)"
            + why, providerId);
      case TASK_NOT_FOUND:
        return ProviderUnavailableException.failOver("task " + taskId + " is unknown or expired at BFL (Task not found)" + why,
            providerId, null);
      case ERROR:
        return ProviderUnavailableException.failOver("task " + taskId + " failed at BFL (Error)" + why, providerId, null);
      default:
        return ProviderUnavailableException.failOver("task " + taskId + " ended with a status this client does not know: '"
            + ProviderSupport.clip(p.status(), 100) + "'" + why, providerId, null);
    }
  }

  /**
   * The text of a poll answer's {@code details} or {@code error}, clipped; empty when none.
   *
   * @param p the poll answer
   */
  static String because(Poll p) {
    StringBuilder b = new StringBuilder();
    for (JsonNode n : new JsonNode[] {p.error(), p.details()}) {
      if (n == null || n.isNull() || n.isMissingNode() || (n.isContainerNode() && n.isEmpty())) {
        continue;
      }
      if (b.length() > 0) {
        b.append(" - ");
      }
      b.append(n.isTextual() ? n.asText() : n.toString());
    }
    return ProviderSupport.clip(b.toString(), 300);
  }

  /**
   * Maps an error answer where BFL differs from core's rows: a 404 to a submit is an unknown
   * model path (fail over, as a capability skip), a 404 to a poll an unknown or expired task (the task is gone: fail over).
   * The message is read from {@code detail}, {@code message} or {@code error}, as BFL's client does.
   *
   * @param providerId the provider id
   * @param r the answer (secrets already scrubbed)
   * @param json the mapper
   * @return the exception, or null for core's mapping
   */
  static @Nullable ImageGenerationException mapError(String providerId, HttpResult r, ObjectMapper json) {
    if (r.status() != 404) {
      return null;
    }
    String detail = HttpErrors.message(r, json);
    String what = "HTTP 404" + (detail.isEmpty() ? "" : ": " + detail);
    if ("POST".equals(r.method())) {
      // a model BFL retired or never had: another provider serves another model, so failover goes on
      return InvalidRequestException.notServedHere("BFL has no model at " + r.uri().getPath() + " (" + what + "); set the "
          + "request's model or imagegen.bfl.model to a live FLUX model", providerId);
    }
    return ProviderUnavailableException.failOver("task unknown or expired at BFL (" + what + ")", providerId, null);
  }
}
