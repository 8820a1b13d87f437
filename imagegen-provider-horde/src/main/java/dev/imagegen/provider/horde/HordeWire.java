package dev.imagegen.provider.horde;

import static dev.imagegen.spi.ProviderSupport.clip;

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
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The JSON AI Horde's v2 API sends and receives, as records, and its error answers mapped to
 * imagegen's exceptions ({@link #mapError}). Field names are the Horde's own (snake case);
 * unknown fields are ignored by the shared mapper and null fields are not written.
 * Samples are from the protocol notes (Haidra-Org/AI-Horde, {@code horde/apis/models/stable_v2.py}).
 */
final class HordeWire {
  private HordeWire() {}

  /**
   * {@code POST /generate/async}; the worker flags ({@code nsfw} to {@code r2}) are added from the
   * configuration. Sample:
   * <pre>{@code
   * {"prompt":"red fox in snow###blurry, lowres",
   *  "params":{"sampler_name":"k_euler_a","cfg_scale":5.0,"seed":"42","width":1024,"height":1024,
   *            "steps":30,"n":1,"karras":true},
   *  "models":["AlbedoBase XL (SDXL)"],"nsfw":false,"censor_nsfw":true,"trusted_workers":false,
   *  "validated_backends":true,"slow_workers":true,"r2":true}
   * }</pre>
   */
  record Submit(
      String prompt,
      Params params,
      List<String> models,
      @JsonProperty("source_image") @Nullable String sourceImage,
      @JsonProperty("source_processing") @Nullable String sourceProcessing,
      @JsonProperty("source_mask") @Nullable String sourceMask) {}

  /** The {@code params} object of a submit; {@code seed} is a string on the wire. */
  record Params(
      @JsonProperty("sampler_name") @Nullable String samplerName,
      @JsonProperty("cfg_scale") @Nullable Double cfgScale,
      @JsonProperty("denoising_strength") @Nullable Double denoisingStrength,
      @Nullable String seed,
      @Nullable Integer width,
      @Nullable Integer height,
      @Nullable Integer steps,
      int n,
      @Nullable Boolean karras,
      @Nullable List<LoraParam> loras) {}

  /**
   * One LoRA: {@code {"name":"GlowingRunesAI","model":0.8,"clip":0.8}}.
   *
   * @param name the CivitAI name or id
   * @param model strength on the UNet, -5..5
   * @param clip strength on the text encoder, -5..5
   */
  record LoraParam(String name, @Nullable Double model, @Nullable Double clip) {}

  /**
   * The 202 answer of a submit. Sample:
   * <pre>{@code
   * {"id":"8c1f6a52-3b7e-4d0e-9f2a-6e4b1d9c7a10","kudos":17.0,
   *  "warnings":[{"code":"NoAvailableWorker","message":"Warning: No available workers can fulfill this request. ..."}]}
   * }</pre>
   */
  record Submitted(@Nullable String id, @Nullable Double kudos, @Nullable List<Warning> warnings, @Nullable String message) {}

  /** A warning in a submit's answer, e.g. {@code NoAvailableWorker}, {@code SamplerMismatch}. */
  record Warning(@Nullable String code, @Nullable String message) {}

  /**
   * {@code GET /generate/check/{id}} (without {@code generations}) and {@code GET|DELETE
   * /generate/status/{id}}. Sample check:
   * <pre>{@code
   * {"finished":0,"processing":0,"restarted":0,"waiting":1,"done":false,"faulted":false,
   *  "wait_time":38,"queue_position":7,"kudos":0.0,"is_possible":true}
   * }</pre>
   * Sample generation:
   * <pre>{@code
   * {"img":"https://<r2-host>/<bucket>/4b0e9d7c-....webp?X-Amz-Expires=1800&...","seed":"3188263487",
   *  "id":"4b0e9d7c-1a2f-4e3b-8c5d-9f6a7b8c9d0e","worker_id":"0b7a2c1e-...","worker_name":"gpu-farm-3",
   *  "model":"AlbedoBase XL (SDXL)","state":"ok","censored":false,"gen_metadata":[]}
   * }</pre>
   */
  record Status(
      int finished,
      int processing,
      int restarted,
      int waiting,
      boolean done,
      boolean faulted,
      @JsonProperty("wait_time") @Nullable Integer waitTime,
      @JsonProperty("queue_position") @Nullable Integer queuePosition,
      @Nullable Double kudos,
      @JsonProperty("is_possible") @Nullable Boolean isPossible,
      @Nullable List<Generation> generations) {

    /** Whether no live worker can serve the request ({@code is_possible:false} and nothing processing). */
    boolean impossible() {
      return Boolean.FALSE.equals(isPossible) && processing == 0 && !done;
    }
  }

  /** One finished image; {@code img} is a presigned R2 URL (valid 1800 s) or, with {@code r2:false}, base64 WebP. */
  record Generation(
      @Nullable String img,
      @Nullable String seed,
      @Nullable String id,
      @JsonProperty("worker_id") @Nullable String workerId,
      @JsonProperty("worker_name") @Nullable String workerName,
      @Nullable String model,
      boolean censored,
      @JsonProperty("gen_metadata") @Nullable List<GenMetadata> genMetadata) {}

  /** Metadata of a generation, e.g. {@code {"type":"censorship","value":"nsfw"}}. */
  record GenMetadata(@Nullable String type, @Nullable String value, @Nullable String ref) {}

  /**
   * {@code GET /status/heartbeat}: {@code {"message":"OK","version":"5.1.5","queue":0,"threads":8,
   * "active_count":2,"db_connection":true}}; {@code message} may be {@code OVERLOADED} or {@code DOWN}.
   */
  record Heartbeat(@Nullable String message, @Nullable String version, @Nullable Integer queue) {}

  /** {@code GET /find_user}: {@code {"username":"alice#4711","id":4711,"kudos":1520.0,"concurrency":30,...}}. */
  record User(@Nullable String username, @Nullable Long id, @Nullable Double kudos, @Nullable Integer concurrency) {}

  /**
   * One entry of {@code GET /status/models?type=image}:
   * {@code {"name":"Flux.1-Schnell fp8 (Compact)","count":9,"performance":2.1,"queued":4.5,"jobs":3.0,"eta":41,"type":"image"}}.
   */
  record Model(@Nullable String name, int count, @Nullable Double queued, @Nullable Double jobs, @Nullable Integer eta,
      @Nullable String type) {}

  // ------------------------------------------------------------------------------------ error answers

  private static final int MAX_TEXT = 300;
  private static final Set<String> OUT_OF_KUDOS = Set.of("KudosUpfront", "SharedKeyInsufficientKudos");

  /**
   * Maps an error answer of the Horde to imagegen's exceptions, by the return code ({@code rc}) the
   * Horde puts in its body ({@code {"message":"...","rc":"KudosUpfront"}}), per the Horde's
   * {@code README_return_codes.md}. Only the rows that differ from core's defaults are here:
   *
   * <table>
   * <caption>Horde answer to exception</caption>
   * <tr><th>answer</th><th>exception</th></tr>
   * <tr><td>400 schema validation ({@code errors}, no rc)</td><td>{@link InvalidRequestException} listing each field</td></tr>
   * <tr><td>400 {@code CorruptPrompt}</td><td>{@link ContentPolicyException} (never retried)</td></tr>
   * <tr><td>{@code MaintenanceMode} (400 in the code, 503 in the swagger)</td>
   *     <td>{@link ProviderUnavailableException}, fail over</td></tr>
   * <tr><td>404 {@code UserNotFound}, 403 {@code BannedClientAgent}</td><td>{@link AuthenticationException}</td></tr>
   * <tr><td>403 {@code KudosUpfront SharedKeyInsufficientKudos}</td><td>{@link InsufficientCreditsException}</td></tr>
   * <tr><td>403 {@code TimeoutIP NotTrusted}</td><td>{@link ProviderUnavailableException}, fail over</td></tr>
   * </table>
   *
   * Any other answer with an rc takes the default row for its status, with the rc and the Horde's
   * message as the detail (400 {@code MissingPrompt TooManyLoras ...} invalid, 401 {@code InvalidAPIKey}
   * auth, 404 {@code RequestNotFound} fail over, 429 {@code TooManyPrompts} rate limited). Answers
   * without an rc (the limiter's 429, 500, a proxy's 503, bodies that are not the Horde's) get the
   * default mapping, which keeps a job whose poll failed that way.
   *
   * @param providerId the provider id
   * @param r the answer (not 2xx; already scrubbed of secrets)
   * @param json the shared mapper
   * @return the exception, or null for the default mapping
   */
  static @Nullable ImageGenerationException mapError(String providerId, HttpResult r, ObjectMapper json) {
    JsonNode body = r.jsonOrNull(json);
    if (body == null || !body.isObject()) {
      return null; // not the Horde's own body (a proxy's 502/503, a limiter's text): the default mapping
    }
    String rc = text(body.get("rc"));
    String message = text(body.get("message"));
    int s = r.status();
    JsonNode errors = body.get("errors");
    if (s == 400 && errors != null && errors.isObject() && errors.size() > 0) {
      List<String> violations = new ArrayList<>();
      errors.fields().forEachRemaining(e -> violations.add(e.getKey() + ": "
          + clip(e.getValue().isTextual() ? e.getValue().asText() : e.getValue().toString(), MAX_TEXT)));
      String head = message == null ? "Input payload validation failed" : message;
      violations.set(0, "AI Horde: " + head + " (HTTP 400): " + violations.get(0));
      return new InvalidRequestException(violations, providerId, null);
    }
    if (rc == null) {
      return null; // the default mapping (retryable, Retry-After honoured), so that a poll error keeps the job
    }
    String detail = rc + (message == null ? "" : ": " + message);
    String what = "HTTP " + s + " " + detail;
    boolean refused = s == 403 && ("TimeoutIP".equals(rc) || "NotTrusted".equals(rc));
    if ("MaintenanceMode".equals(rc) || refused) {
      return ProviderUnavailableException.builder((refused ? "refused (" : "in maintenance (") + what + ")", providerId)
          .retryAfter(r.retryAfter()).build();
    }
    if (s == 400 && "CorruptPrompt".equals(rc)) {
      return new ContentPolicyException("prompt rejected (" + what + ")", providerId);
    }
    if (s == 403 && OUT_OF_KUDOS.contains(rc)) {
      return new InsufficientCreditsException("not enough kudos (" + what + ")", providerId);
    }
    if (s == 403 && "BannedClientAgent".equals(rc)) {
      return new AuthenticationException("Client-Agent refused; set imagegen.horde.client-agent (" + what + ")", providerId);
    }
    if (s == 404 && "UserNotFound".equals(rc)) {
      return new AuthenticationException("API key not recognised (" + what + ")", providerId);
    }
    return HttpErrors.map(providerId, r, detail);
  }

  private static @Nullable String text(@Nullable JsonNode n) {
    if (n == null || !n.isValueNode() || n.isNull()) {
      return null;
    }
    String t = n.asText().strip();
    return t.isEmpty() ? null : clip(t, MAX_TEXT);
  }
}
