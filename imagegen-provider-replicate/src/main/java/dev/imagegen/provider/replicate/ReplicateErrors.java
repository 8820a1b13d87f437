package dev.imagegen.provider.replicate;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.spi.HttpResult;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Replicate's error answers and failed predictions mapped to imagegen's exceptions, per the
 * protocol's table:
 *
 * <table>
 * <caption>answer to exception</caption>
 * <tr><th>answer</th><th>exception</th><th>retry</th><th>failover</th></tr>
 * <tr><td>401, 403</td><td>{@link AuthenticationException}</td><td>no</td><td>yes</td></tr>
 * <tr><td>402</td><td>{@link InsufficientCreditsException}</td><td>no</td><td>yes</td></tr>
 * <tr><td>404 on a create</td><td>{@link InvalidRequestException} (no such model)</td><td>no</td><td>no</td></tr>
 * <tr><td>404 otherwise</td><td>{@link ProviderUnavailableException} (unknown or expired id)</td><td>no</td><td>yes</td></tr>
 * <tr><td>422 input validation</td><td>{@link InvalidRequestException} with Replicate's detail</td><td>no</td><td>no</td></tr>
 * <tr><td>422 invalid version</td><td>{@link ProviderUnavailableException}</td><td>no</td><td>yes</td></tr>
 * <tr><td>429</td><td>{@link RateLimitedException}: {@code Retry-After}, else the body's "~30s"</td><td>if short</td><td>yes</td></tr>
 * <tr><td>5xx on a create</td><td>{@link ProviderUnavailableException}, not retried (a duplicate paid run)</td><td>no*</td><td>yes</td></tr>
 * <tr><td>status {@code failed}, NSFW</td><td>{@link ContentPolicyException}</td><td>no</td><td>no</td></tr>
 * <tr><td>status {@code failed}, other</td><td>{@link ProviderUnavailableException}</td><td>no</td><td>yes</td></tr>
 * <tr><td>status {@code aborted} (not started, not billed)</td><td>{@link ProviderUnavailableException}</td><td>no</td><td>yes</td></tr>
 * </table>
 * * unless {@code retry-create-on-server-error} is true. Everything else: core's {@code HttpErrors}.
 */
final class ReplicateErrors {
  private static final int MAX_TEXT = 1000;
  private static final Pattern BODY_WAIT = Pattern.compile("(?:~|\\bin\\s+)(\\d+(?:\\.\\d+)?)\\s*(ms|s|sec|secs|seconds?|m|min|minutes?)\\b",
      Pattern.CASE_INSENSITIVE);
  private static final Pattern NSFW = Pattern.compile("nsfw|flagged as sensitive", Pattern.CASE_INSENSITIVE);

  private ReplicateErrors() {}

  /**
   * Maps an error answer.
   *
   * @param r the answer (secrets already scrubbed)
   * @param json the mapper
   * @param retryCreateOnServerError whether a 5xx on a create may be retried on Replicate
   * @return the exception, or null for core's default mapping
   */
  static @Nullable ImageGenerationException map(HttpResult r, ObjectMapper json, boolean retryCreateOnServerError) {
    String id = ReplicateProvider.ID;
    ReplicateWire.Problem problem = problem(r, json);
    String title = problem == null || problem.title() == null ? "" : problem.title().strip();
    String detail = problem == null || problem.detail() == null ? "" : problem.detail().strip();
    if (problem == null && !r.text().isBlank()) {
      detail = clip(r.text().strip());
    }
    String what = "HTTP " + r.status() + (title.isEmpty() ? "" : " " + title) + (detail.isEmpty() ? "" : ": " + clip(detail));
    boolean create = isCreate(r);
    switch (r.status()) {
      case 401:
      case 403:
        return new AuthenticationException("API token refused (" + what + ")", id);
      case 402:
        return new InsufficientCreditsException("insufficient credit (" + what + ")", id);
      case 404:
        if (create) {
          return new InvalidRequestException("no such model at Replicate: " + modelOf(r) + " (" + what + ")", id);
        }
        return new ProviderUnavailableException("not found, unknown or expired (" + what + ")", id, false, false, null, null);
      case 422:
        if (isVersionError(title, detail)) {
          return new ProviderUnavailableException("version refused (" + what + ")", id, false, false, null, null);
        }
        return new InvalidRequestException(violations(title, detail, problem), id, null);
      case 429: {
        Duration wait = r.retryAfter();
        if (wait == null) {
          wait = waitInBody(detail);
        }
        return new RateLimitedException("rate limited (" + what + ")", id, wait, null);
      }
      default:
        if (r.status() >= 500 && create) {
          return new ProviderUnavailableException("server error on create (" + what + ")"
              + (retryCreateOnServerError ? "" : "; not retried on Replicate: the prediction may exist and a second create "
                  + "could bill twice"), id, retryCreateOnServerError, false, r.retryAfter(), null);
        }
        return null;
    }
  }

  /**
   * The exception for a prediction that ended without images.
   *
   * @param p the prediction ({@code failed}, {@code canceled} or {@code aborted})
   * @param redactor scrubs secrets from the prediction's own text (its error, its id)
   */
  static ImageGenerationException ended(ReplicateWire.Prediction p, dev.imagegen.spi.Redactor redactor) {
    String id = ReplicateProvider.ID;
    String error = clip(redactor.redact(p.errorText()));
    switch (p.state()) {
      case "failed":
        if (NSFW.matcher(error).find()) {
          return new ContentPolicyException("prediction " + p.id() + " refused by the safety filter: " + error, id);
        }
        return new ProviderUnavailableException("prediction " + p.id() + " failed" + (error.isEmpty() ? "" : ": " + error),
            id, false, false, null, null);
      case "canceled":
        return new GenerationCancelledException("prediction " + p.id() + " was canceled at Replicate"
            + (error.isEmpty() ? "" : ": " + error), id);
      case "aborted":
        // Replicate's Cancel-After deadline passed before the prediction started: no GPU time, not
        // billed; the request's own deadline may still leave time for another provider
        return ProviderUnavailableException.notStarted("prediction " + p.id() + " was aborted at Replicate: its Cancel-After "
            + "deadline passed before it started, so it was not started and not billed" + (error.isEmpty() ? "" : " (" + error
            + ")"), id);
      default:
        return new ProviderUnavailableException("prediction " + p.id() + " ended with unknown status '" + p.status() + "'",
            id, false, false, null, null);
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
    long ms = unit.equals("ms") ? (long) n : unit.startsWith("m") ? (long) (n * 60_000) : (long) (n * 1000);
    return Duration.ofMillis(ms);
  }

  private static boolean isVersionError(String title, String detail) {
    String t = title.toLowerCase(Locale.ROOT);
    String d = detail.toLowerCase(Locale.ROOT);
    return t.contains("invalid version") || t.contains("not permitted") || d.contains("specified version does not exist");
  }

  private static List<String> violations(String title, String detail, ReplicateWire.@Nullable Problem problem) {
    List<String> v = new ArrayList<>();
    String head = title.isEmpty() ? "Replicate refused the input" : title;
    if (!detail.isEmpty()) {
      v.add(head + ": " + clip(detail));
    } else if (problem != null && problem.invalidFields() != null && !problem.invalidFields().isEmpty()) {
      for (ReplicateWire.InvalidField f : problem.invalidFields()) {
        v.add(head + ": " + (f.field() == null ? "" : f.field() + ": ") + (f.description() == null ? f.type() : f.description()));
      }
    } else {
      v.add(head + " (HTTP 422)");
    }
    return v;
  }

  private static ReplicateWire.@Nullable Problem problem(HttpResult r, ObjectMapper json) {
    if (r.body().length == 0) {
      return null;
    }
    try {
      return json.readValue(r.body(), ReplicateWire.Problem.class);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private static boolean isCreate(HttpResult r) {
    return "POST".equals(r.method()) && r.uri().getPath().endsWith("/predictions");
  }

  private static String modelOf(HttpResult r) {
    String path = r.uri().getPath();
    int i = path.indexOf("/models/");
    if (i < 0) {
      return "the requested version";
    }
    return path.substring(i + "/models/".length(), path.length() - "/predictions".length());
  }

  private static String clip(String s) {
    return s.length() > MAX_TEXT ? s.substring(0, MAX_TEXT) + "..." : s;
  }
}
