package dev.imagegen.provider.runpod;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.HttpErrors;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ProviderSupport;
import dev.imagegen.spi.Redactor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * RunPod's answers and job states mapped to imagegen's exceptions.
 *
 * <ul>
 * <li>403: {@link AuthenticationException} naming the endpoint; a restricted key may be refused
 *     for one endpoint only.
 * <li>404: an unknown endpoint (fail over), or on {@code /status} a job that expired or passed its
 *     {@code ttl} (lost: never resubmitted blindly).
 * <li>A job body with status {@code FAILED} (also what {@code /runsync} answers with HTTP 400):
 *     the worker's {@code error}, a string that often holds JSON
 *     ({@code {"error_type": "<class 'KeyError'>", "error_message": "'K_DPM'", ...}}), or what the
 *     handler returned as {@code error} (worker-sdxl's validation: a list of messages). Validation
 *     and input errors give {@link InvalidRequestException}; anything else (CUDA out of memory,
 *     {@code RuntimeError}) a retryable {@link ProviderUnavailableException}.
 * <li>{@code TIMED_OUT}: expired in the queue or the worker went silent; it may have been billed, so it
 *     is not retried on RunPod (no second job for it): fail over.
 * <li>{@code CANCELLED} that imagegen did not ask for: fail over.
 * <li>Everything else: {@link HttpErrors}' default mapping (401 refused key, 429 with Retry-After,
 *     5xx retried).
 * </ul>
 */
final class RunPodErrors {
  private static final Pattern CLASS = Pattern.compile("<class '([^']+)'>");
  /** Exception types a worker raises for input it cannot use. */
  private static final Set<String> INPUT_ERRORS = Set.of("KeyError", "ValueError", "TypeError", "ValidationError");
  /** rp_validator's messages (runpod-python utils/rp_validator.py). */
  private static final List<String> VALIDATOR_PHRASES = List.of("is not a valid input option", "is a required input",
      "unexpected input", "should be", "does not meet the constraint");

  /** The last segments of RunPod's endpoint operations. */
  private static final Set<String> ACTIONS = Set.of("run", "runsync", "health", "status", "cancel", "purge-queue", "retry",
      "stream");

  private RunPodErrors() {}

  /**
   * Maps an error answer, or returns null for the default mapping.
   *
   * @param providerId the provider id
   * @param r the answer
   * @param mapper JSON mapper
   * @param redactor scrubs secrets from the worker's text
   */
  static @Nullable ImageGenerationException map(String providerId, HttpResult r, ObjectMapper mapper, Redactor redactor) {
    JsonNode body = r.jsonOrNull(mapper);
    if (body != null && body.isObject() && body.hasNonNull("status") && body.has("id")) {
      String status = body.path("status").asText();
      if ("FAILED".equals(status) || "TIMED_OUT".equals(status) || "CANCELLED".equals(status)) {
        return jobEnded(providerId, status, body.path("id").asText(), body.get("error"), body.get("output"),
            body.hasNonNull("workerId") ? body.get("workerId").asText() : null, mapper, redactor);
      }
    }
    int s = r.status();
    String path = r.uri().getPath();
    String detail = HttpErrors.message(r, mapper);
    String what = "HTTP " + s + (detail.isEmpty() ? "" : ": " + detail);
    if (s == 403) {
      return new AuthenticationException("API key not allowed for " + endpointOf(path) + " (" + what
          + "); a restricted key needs Read-Write access to the endpoint", providerId);
    }
    if (s == 404) {
      if (path.contains("/status/")) {
        return ProviderUnavailableException.failOver("job " + path.substring(path.lastIndexOf('/') + 1) + " is no longer known"
            + " to RunPod (expired, past its ttl, or past the 30-minute result retention; " + what + ")", providerId, null);
      }
      return ProviderUnavailableException.failOver("endpoint " + endpointOf(path) + " not found (" + what
          + "); check the endpoint id in the configuration", providerId, null);
    }
    return null;
  }

  /**
   * The exception for a job that ended without output.
   *
   * @param providerId the provider id
   * @param status FAILED, TIMED_OUT or CANCELLED
   * @param jobId the job id
   * @param error the job's {@code error}, or null
   * @param output the job's {@code output}, or null
   * @param workerId the worker, or null
   * @param mapper JSON mapper, for an error that holds JSON text
   * @param redactor scrubs secrets from the worker's text
   */
  static ImageGenerationException jobEnded(String providerId, String status, String jobId, @Nullable JsonNode error,
      @Nullable JsonNode output, @Nullable String workerId, ObjectMapper mapper, Redactor redactor) {
    String where = "job " + jobId + (workerId == null ? "" : " on worker " + workerId);
    if ("TIMED_OUT".equals(status)) {
      // the worker may have run (and billed) part of it: never a new job on this endpoint for it
      return ProviderUnavailableException.failOver(where + " timed out at RunPod (expired in the queue, or the worker went"
          + " silent past the execution timeout); it may have been billed and is not resubmitted to this endpoint", providerId,
          null);
    }
    if ("CANCELLED".equals(status)) {
      return ProviderUnavailableException.failOver(where + " was cancelled at RunPod (not by imagegen)", providerId, null);
    }
    WorkerError e = WorkerError.of(error, output, mapper);
    String text = ProviderSupport.clip(redactor.redact(e.describe()));
    if (e.validation()) {
      String refused = "the RunPod worker refused the input (" + where + "): ";
      List<String> violations = e.fromValidator() ? e.messages().stream()
          .map(m -> refused + ProviderSupport.clip(redactor.redact(m))).toList() : List.of();
      return new InvalidRequestException(violations.isEmpty() ? List.of(refused + text) : violations, providerId, null);
    }
    return ProviderUnavailableException.transientFailure(where + " failed: " + text, providerId, null);
  }

  /**
   * What a worker reported when its job failed.
   *
   * @param type the Python exception class, e.g. {@code KeyError}, or null
   * @param messages the error text(s)
   * @param fromValidator whether the handler returned a list of validation messages
   */
  record WorkerError(@Nullable String type, List<String> messages, boolean fromValidator) {

    static WorkerError of(@Nullable JsonNode error, @Nullable JsonNode output, ObjectMapper mapper) {
      List<String> messages = new ArrayList<>();
      String type = null;
      boolean list = false;
      JsonNode e = error;
      if (e != null && e.isTextual()) {
        String s = e.asText().strip();
        JsonNode parsed = (s.startsWith("{") || s.startsWith("[")) ? parse(s, mapper) : null;
        if (parsed != null) {
          e = parsed;
        } else if (s.startsWith("[") && s.endsWith("]")) {
          // a Python list's repr: ['Unexpected input. foo is not a valid input option.']
          list = true;
          Arrays.stream(s.substring(1, s.length() - 1).split("'\\s*,\\s*'|\"\\s*,\\s*\""))
              .map(part -> part.strip().replaceAll("^['\"]|['\"]$", "")).filter(p -> !p.isEmpty()).forEach(messages::add);
          e = null;
        } else {
          messages.add(s);
          e = null;
        }
      }
      if (e != null && e.isArray()) {
        list = true;
        e.forEach(x -> messages.add(x.isTextual() ? x.asText() : x.toString()));
      } else if (e != null && e.isObject()) {
        String t = e.path("error_type").asText("");
        Matcher m = CLASS.matcher(t);
        type = m.find() ? m.group(1) : t.isBlank() ? null : t;
        if (type != null && type.contains(".")) {
          type = type.substring(type.lastIndexOf('.') + 1);
        }
        String msg = e.path("error_message").asText(e.path("message").asText(""));
        messages.add(msg.isBlank() ? e.toString() : msg);
      } else if (e != null && !e.isNull() && !e.isMissingNode()) {
        messages.add(e.asText(e.toString()));
      }
      messages.addAll(RunPodWire.Output.of(output).errors());
      return new WorkerError(type, messages, list);
    }

    /** Whether the worker refused the input rather than failed running it. */
    boolean validation() {
      if (fromValidator || (type != null && INPUT_ERRORS.contains(type))) {
        return true;
      }
      if (type != null) {
        return false;
      }
      String all = String.join(" ", messages).toLowerCase(Locale.ROOT);
      if (all.contains("out of memory") || all.contains("cuda") || all.contains("runtimeerror")) {
        return false;
      }
      return VALIDATOR_PHRASES.stream().anyMatch(all::contains);
    }

    /** One line: type and messages. */
    String describe() {
      String m = messages.isEmpty() ? "no error text" : String.join("; ", messages);
      return (type == null ? "" : type + ": ") + m.replaceAll("\\s+", " ").strip();
    }
  }

  private static @Nullable JsonNode parse(String s, ObjectMapper mapper) {
    try {
      return mapper.readTree(s);
    } catch (IOException e) {
      return null;
    }
  }

  /** The endpoint id in a path such as {@code /v2/abc123/run}. */
  static String endpointOf(String path) {
    String[] parts = path.split("/");
    for (int i = parts.length - 1; i > 0; i--) {
      if (ACTIONS.contains(parts[i])) {
        return "'" + parts[i - 1] + "'";
      }
    }
    return "'" + path + "'";
  }
}
