package dev.imagegen.provider.huggingface;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.spi.HttpErrors;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ProviderSupport;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.jspecify.annotations.Nullable;

/** The JSON Hugging Face Inference sends and receives (text to image). */
final class HuggingFaceWire {
  private HuggingFaceWire() {}

  /**
   * The request body of {@code POST /hf-inference/models/{model}}: the prompt is {@code inputs},
   * everything else sits under {@code parameters}; one image per call.
   *
   * <pre>
   * {"inputs":"Astronaut riding a horse",
   *  "parameters":{"negative_prompt":"blurry","width":1024,"height":1024,
   *                "num_inference_steps":30,"guidance_scale":7.5,"seed":42}}
   * </pre>
   *
   * @param inputs the prompt
   * @param parameters the parameters, or null when none is set
   */
  record TextToImage(String inputs, @Nullable Parameters parameters) {}

  /**
   * {@code parameters} of {@link TextToImage}; null fields are not written. An unknown parameter
   * makes the pipeline raise (HTTP 400), so only what the model takes is set.
   *
   * @param negativePrompt {@code negative_prompt}
   * @param width {@code width} in pixels
   * @param height {@code height} in pixels
   * @param numInferenceSteps {@code num_inference_steps}
   * @param guidanceScale {@code guidance_scale}
   * @param scheduler {@code scheduler}: a diffusers class name such as {@code DPMSolverMultistepScheduler}
   * @param seed {@code seed}, an integer
   */
  record Parameters(
      @JsonProperty("negative_prompt") @Nullable String negativePrompt,
      @JsonProperty("width") @Nullable Integer width,
      @JsonProperty("height") @Nullable Integer height,
      @JsonProperty("num_inference_steps") @Nullable Integer numInferenceSteps,
      @JsonProperty("guidance_scale") @Nullable Double guidanceScale,
      @JsonProperty("scheduler") @Nullable String scheduler,
      @JsonProperty("seed") @Nullable Long seed) {

    boolean isEmpty() {
      return negativePrompt == null && width == null && height == null && numInferenceSteps == null && guidanceScale == null
          && scheduler == null && seed == null;
    }
  }

  /**
   * An error answer. Usually {@code {"error":"..."}}; {@code error} may also be a list of strings,
   * and a model still loading adds {@code estimated_time} in seconds:
   *
   * <pre>
   * {"error":"Model black-forest-labs/FLUX.1-dev is currently loading","estimated_time":20.0}
   * {"error":"`height` and `width` have to be divisible by 8 but are 1000 and 630."}
   * {"error":"Model acme/no-such-model does not exist"}
   * {"error":"...","error_type":"template_error"}
   * </pre>
   *
   * 422 bodies may be {@code text/plain}; 504 bodies may be HTML.
   *
   * @param message the error text (the list joined), or the start of a non-JSON body
   * @param estimatedTime {@code estimated_time} in seconds, or null
   */
  record ErrorBody(String message, @Nullable Double estimatedTime) {

    /**
     * Reads an error answer.
     *
     * @param r the answer
     * @param json the mapper
     */
    static ErrorBody of(HttpResult r, ObjectMapper json) {
      JsonNode n = r.jsonOrNull(json);
      if (n == null || !n.isObject()) {
        return new ErrorBody(HttpErrors.message(r, json), null);
      }
      JsonNode error = n.get("error");
      String message;
      if (error != null && error.isTextual()) {
        message = error.asText();
      } else if (error != null && error.isArray()) {
        message = StreamSupport.stream(error.spliterator(), false).map(e -> e.isTextual() ? e.asText() : e.toString())
            .collect(Collectors.joining("; "));
      } else {
        message = HttpErrors.message(r, json);
      }
      message = ProviderSupport.clip(message);
      JsonNode est = n.get("estimated_time");
      return new ErrorBody(message, est != null && est.isNumber() ? est.asDouble() : null);
    }
  }
}
