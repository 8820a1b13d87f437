package dev.imagegen.provider.horde;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The JSON AI Horde's v2 API sends and receives, as records. Field names are the Horde's own
 * (snake case); unknown fields are ignored by the shared mapper and null fields are not written.
 * Samples are from the protocol notes (Haidra-Org/AI-Horde, {@code horde/apis/models/stable_v2.py}).
 */
final class HordeWire {
  private HordeWire() {}

  /**
   * {@code POST /generate/async}. Sample:
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
      boolean nsfw,
      @JsonProperty("censor_nsfw") boolean censorNsfw,
      @JsonProperty("trusted_workers") boolean trustedWorkers,
      @JsonProperty("validated_backends") boolean validatedBackends,
      @JsonProperty("slow_workers") boolean slowWorkers,
      boolean r2,
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
   * {@code GET /generate/check/{id}} (and the progress part of {@code /generate/status/{id}}). Sample:
   * <pre>{@code
   * {"finished":0,"processing":0,"restarted":0,"waiting":1,"done":false,"faulted":false,
   *  "wait_time":38,"queue_position":7,"kudos":0.0,"is_possible":true}
   * }</pre>
   */
  record Check(
      int finished,
      int processing,
      int restarted,
      int waiting,
      boolean done,
      boolean faulted,
      @JsonProperty("wait_time") @Nullable Integer waitTime,
      @JsonProperty("queue_position") @Nullable Integer queuePosition,
      @Nullable Double kudos,
      @JsonProperty("is_possible") @Nullable Boolean isPossible) {

    /** Whether no live worker can serve the request ({@code is_possible:false} and nothing processing). */
    boolean impossible() {
      return Boolean.FALSE.equals(isPossible) && processing == 0 && !done;
    }
  }

  /**
   * {@code GET /generate/status/{id}} and {@code DELETE /generate/status/{id}}: the check fields plus
   * the generations. Sample generation:
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
      @Nullable List<Generation> generations) {}

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
}
