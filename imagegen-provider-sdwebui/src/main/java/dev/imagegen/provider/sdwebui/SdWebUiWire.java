package dev.imagegen.provider.sdwebui;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The JSON the WebUI's {@code /sdapi/v1} API sends and receives (AUTOMATIC1111
 * {@code modules/api/models.py}; Forge keeps the same names). Unknown fields are ignored by the
 * shared mapper and nulls are not written, so absent fields take the WebUI's defaults.
 */
final class SdWebUiWire {
  private SdWebUiWire() {}

  /**
   * The body of {@code POST /sdapi/v1/txt2img} and {@code /sdapi/v1/img2img} (the img2img fields
   * stay null for txt2img).
   *
   * <pre>{@code
   * {"prompt":"a lighthouse at dusk <lora:film:0.8>","negative_prompt":"blurry","seed":-1,
   *  "sampler_name":"DPM++ 2M","scheduler":"Karras","batch_size":1,"steps":20,"cfg_scale":7.0,
   *  "width":512,"height":512,"override_settings":{"sd_model_checkpoint":"v1-5-pruned-emaonly.safetensors [6ce0161689]"},
   *  "force_task_id":"imagegen-5f0c..."}
   * }</pre>
   */
  record Generate(
      String prompt,
      @JsonProperty("negative_prompt") @Nullable String negativePrompt,
      long seed,
      @JsonProperty("sampler_name") @Nullable String samplerName,
      @Nullable String scheduler,
      @JsonProperty("batch_size") int batchSize,
      @Nullable Integer steps,
      @JsonProperty("cfg_scale") @Nullable Double cfgScale,
      @Nullable Integer width,
      @Nullable Integer height,
      @JsonProperty("override_settings") @Nullable Map<String, Object> overrideSettings,
      @JsonProperty("init_images") @Nullable List<String> initImages,
      @Nullable String mask,
      @JsonProperty("denoising_strength") @Nullable Double denoisingStrength,
      @JsonProperty("force_task_id") @Nullable String forceTaskId) {}

  /**
   * The answer of txt2img / img2img.
   *
   * <pre>{@code
   * {"images":["iVBORw0KGgoAAAANSUhEUgAAAgAAAAIACAIAAAB7GkOt"],
   *  "parameters":{"prompt":"a lighthouse at dusk","seed":-1,"steps":20},
   *  "info":"{\"seed\": 2871624913, \"all_seeds\": [2871624913], \"sd_model_name\": \"v1-5-pruned-emaonly\", ...}"}
   * }</pre>
   *
   * @param images bare base64 images, a grid first when the host returns grids
   * @param info a JSON <em>string</em> (parse it again) holding {@link Info}
   */
  record Result(@Nullable List<String> images, @Nullable JsonNode info) {}

  /**
   * What {@code info} holds once parsed again.
   *
   * <pre>{@code
   * {"prompt": "a lighthouse at dusk", "seed": 2871624913, "all_seeds": [2871624913], "subseed": 1093481203,
   *  "sampler_name": "Euler a", "cfg_scale": 7.0, "steps": 20, "width": 512, "height": 512,
   *  "sd_model_name": "v1-5-pruned-emaonly", "sd_model_hash": "6ce0161689", "index_of_first_image": 0,
   *  "infotexts": ["a lighthouse at dusk\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 2871624913, Size: 512x512"],
   *  "job_timestamp": "20261120101502", "version": "v1.10.1"}
   * }</pre>
   */
  record Info(
      @Nullable Long seed,
      @JsonProperty("all_seeds") @Nullable List<Long> allSeeds,
      @JsonProperty("sd_model_name") @Nullable String sdModelName,
      @JsonProperty("sd_model_hash") @Nullable String sdModelHash,
      @JsonProperty("sampler_name") @Nullable String samplerName,
      @JsonProperty("index_of_first_image") @Nullable Integer indexOfFirstImage,
      @Nullable String version) {}

  /**
   * {@code GET /sdapi/v1/progress?skip_current_image=true}: the job that holds the GPU, whoever
   * sent it.
   *
   * <pre>{@code
   * {"progress":0.46,"eta_relative":3.9,"state":{"skipped":false,"interrupted":false,"stopping_generation":false,
   *  "job":"scripts_txt2img","job_count":1,"job_timestamp":"20261120101502","job_no":0,"sampling_step":9,
   *  "sampling_steps":20},"current_image":null,"textinfo":null}
   * }</pre>
   */
  record Progress(@Nullable Double progress, @JsonProperty("eta_relative") @Nullable Double etaRelative,
      @Nullable State state) {

    /** Whether a job holds the GPU (idle: progress 0 and job_count 0). */
    boolean busy() {
      return (progress != null && progress > 0) || (state != null && state.jobCount() != null && state.jobCount() > 0);
    }
  }

  /** The {@code state} of {@link Progress}. */
  record State(@JsonProperty("job_count") @Nullable Integer jobCount) {}

  /**
   * One entry of {@code GET /sdapi/v1/sd-models}; {@code hash}/{@code sha256} stay null until the
   * file has been hashed.
   *
   * <pre>{@code
   * {"title":"v1-5-pruned-emaonly.safetensors [6ce0161689]","model_name":"v1-5-pruned-emaonly","hash":"6ce0161689",
   *  "sha256":"6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa",
   *  "filename":"/models/Stable-diffusion/v1-5-pruned-emaonly.safetensors","config":null}
   * }</pre>
   */
  record SdModel(@Nullable String title, @JsonProperty("model_name") @Nullable String modelName, @Nullable String hash,
      @Nullable String sha256, @Nullable String filename) {}

  /** One entry of {@code GET /sdapi/v1/samplers}: {@code {"name":"DPM++ 2M","aliases":["k_dpmpp_2m"],"options":{}}}. */
  record Sampler(@Nullable String name, @Nullable List<String> aliases) {}

  /**
   * One entry of {@code GET /sdapi/v1/schedulers} (1.9+):
   * {@code {"name":"karras","label":"Karras","aliases":null,"default_rho":7.0,"need_inner_model":false}}.
   */
  record Scheduler(@Nullable String name, @Nullable String label, @Nullable List<String> aliases) {}

  /** One entry of {@code GET /sdapi/v1/loras}: {@code {"name":"film","alias":"film-grain","path":"...","metadata":{}}}. */
  record Lora(@Nullable String name, @Nullable String alias) {}
}
