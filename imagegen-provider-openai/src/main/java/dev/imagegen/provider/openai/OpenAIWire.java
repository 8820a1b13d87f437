package dev.imagegen.provider.openai;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.spi.HttpResult;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The Images API's JSON, as the OpenAPI spec ({@code ImagesResponse}, {@code ImagesUsage},
 * {@code ErrorResponse}) and the compatible servers (Together's {@code type} items) write it.
 */
final class OpenAIWire {
  private OpenAIWire() {}

  /**
   * The answer of {@code /images/generations} and {@code /images/edits}.
   *
   * @param created Unix seconds
   * @param data the images
   * @param background the background chosen (GPT image)
   * @param outputFormat the format chosen (GPT image)
   * @param size the size chosen, concrete even for {@code auto} (GPT image)
   * @param quality the quality chosen, concrete even for {@code auto} (GPT image)
   * @param usage the tokens billed (GPT image); absent for DALL·E and compatible servers
   * @param model the model that served (Together); OpenAI does not echo it
   * @param id the answer's id (Together, LocalAI)
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  record ImagesResponse(@Nullable Long created, @Nullable List<Datum> data, @Nullable String background,
      @JsonProperty("output_format") @Nullable String outputFormat, @Nullable String size, @Nullable String quality,
      @Nullable Usage usage, @Nullable String model, @Nullable String id) {}

  /**
   * One image: base64 ({@code b64_json}) or a URL.
   *
   * @param b64Json the image in base64
   * @param url a URL to fetch it from (DALL·E, 60 min; Together; LocalAI)
   * @param revisedPrompt the prompt dall-e-3 actually used
   * @param type Together's {@code url} or {@code b64_json}
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  record Datum(@JsonProperty("b64_json") @Nullable String b64Json, @Nullable String url,
      @JsonProperty("revised_prompt") @Nullable String revisedPrompt, @Nullable String type) {

    /** The image's base64 or URL, whichever the answer carries. */
    @Nullable String value() {
      return b64Json != null && !b64Json.isBlank() ? b64Json : url;
    }
  }

  /**
   * {@code ImagesUsage}: what a GPT image call billed.
   *
   * @param inputTokens text and image input tokens
   * @param outputTokens output tokens (image, and text where the model writes any)
   * @param totalTokens their sum
   * @param inputTokensDetails the split of the input
   * @param outputTokensDetails the split of the output (optional in the spec)
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  record Usage(@JsonProperty("input_tokens") @Nullable Long inputTokens, @JsonProperty("output_tokens") @Nullable Long outputTokens,
      @JsonProperty("total_tokens") @Nullable Long totalTokens,
      @JsonProperty("input_tokens_details") @Nullable Details inputTokensDetails,
      @JsonProperty("output_tokens_details") @Nullable Details outputTokensDetails) {}

  /**
   * Tokens split by kind.
   *
   * @param textTokens text tokens
   * @param imageTokens image tokens
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  record Details(@JsonProperty("text_tokens") @Nullable Long textTokens, @JsonProperty("image_tokens") @Nullable Long imageTokens) {}

  /**
   * {@code {"error":{"message","type","param","code"}}}, read leniently: a compatible server's
   * {@code {"error":"text"}} or {@code {"message":...}} gives the message alone.
   *
   * @param message the text
   * @param type e.g. {@code invalid_request_error}, {@code image_generation_user_error}
   * @param param the field at fault, or null
   * @param code e.g. {@code moderation_blocked}, {@code insufficient_quota}, {@code model_not_found}
   */
  record ErrorBody(String message, @Nullable String type, @Nullable String param, @Nullable String code) {

    /** The error body of an answer; empty fields when it has none. */
    static ErrorBody of(HttpResult r, ObjectMapper json) {
      JsonNode root = r.jsonOrNull(json);
      if (root == null || !root.isObject()) {
        String text = r.text().strip().replaceAll("\\s+", " ");
        return new ErrorBody(text.length() > 300 ? text.substring(0, 300) + "..." : text, null, null, null);
      }
      JsonNode e = root.get("error");
      if (e != null && e.isTextual()) {
        return new ErrorBody(e.asText(), null, null, null);
      }
      JsonNode err = e != null && e.isObject() ? e : root;
      String message = text(err, "message");
      return new ErrorBody(message == null ? "" : message, text(err, "type"), text(err, "param"), text(err, "code"));
    }

    private static @Nullable String text(JsonNode n, String field) {
      JsonNode v = n.get(field);
      return v == null || v.isNull() ? null : v.isTextual() ? v.asText() : v.toString();
    }
  }
}
