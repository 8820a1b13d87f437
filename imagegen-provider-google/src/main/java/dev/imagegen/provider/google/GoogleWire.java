package dev.imagegen.provider.google;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The JSON of the Gemini API's {@code generateContent} (python-genai {@code google/genai/types.py}:
 * {@code Content}, {@code Part}, {@code GenerationConfig}, {@code ImageConfig},
 * {@code GenerateContentResponse}). Requests are written in lowerCamelCase, as the API's own
 * answers are; unknown fields of an answer are ignored by the shared mapper and nulls are not
 * written.
 */
final class GoogleWire {
  private GoogleWire() {}

  /**
   * The body of {@code POST /v1beta/models/{model}:generateContent}.
   *
   * <pre>{@code
   * {"contents":[{"role":"user","parts":[{"text":"Make the jacket red"},
   *    {"inlineData":{"mimeType":"image/png","data":"<base64>"}}]}],
   *  "generationConfig":{"responseModalities":["TEXT","IMAGE"],"imageConfig":{"aspectRatio":"16:9","imageSize":"2K"}}}
   * }</pre>
   *
   * @param contents one user turn
   * @param generationConfig the modalities and the image configuration
   */
  record Request(List<Content> contents, GenerationConfig generationConfig) {}

  /**
   * One turn.
   *
   * @param role {@code user} for what is sent, {@code model} in answers
   * @param parts text and inline images, in order
   */
  record Content(@Nullable String role, @Nullable List<Part> parts) {}

  /**
   * One part of a turn: text, an inline image, or (Gemini 3) a thought.
   *
   * @param text text, or null
   * @param inlineData an inline image, or null
   * @param thought true for a thought part (skipped: never the result)
   */
  record Part(@Nullable String text, @Nullable Blob inlineData, @Nullable Boolean thought) {

    /** A text part. */
    static Part text(String text) {
      return new Part(text, null, null);
    }

    /** An inline image part. */
    static Part image(String mimeType, String base64) {
      return new Part(null, new Blob(mimeType, base64), null);
    }

    /** Whether this part is a thought. */
    boolean isThought() {
      return Boolean.TRUE.equals(thought);
    }
  }

  /**
   * Inline bytes.
   *
   * @param mimeType e.g. {@code image/png}
   * @param data standard base64
   */
  record Blob(@Nullable String mimeType, @Nullable String data) {}

  /**
   * The generation configuration imagegen sends.
   *
   * @param responseModalities {@code ["TEXT","IMAGE"]} or {@code ["IMAGE"]}
   * @param imageConfig the aspect ratio and size tier, or null to let the model pick
   */
  record GenerationConfig(List<String> responseModalities, @Nullable ImageConfig imageConfig) {}

  /**
   * {@code imageConfig}: only the two keys the Gemini API takes (python-genai refuses the others,
   * {@code personGeneration}, {@code outputMimeType}, ..., for the Gemini API).
   *
   * @param aspectRatio e.g. {@code 16:9}, or null
   * @param imageSize {@code 1K}, {@code 2K}, {@code 4K} (capital K), or null for the model's default
   */
  record ImageConfig(@Nullable String aspectRatio, @Nullable String imageSize) {}

  /**
   * The answer (HTTP 200, also when the prompt or the image was blocked).
   *
   * <pre>{@code
   * {"candidates":[{"content":{"role":"model","parts":[{"text":"Here it is."},
   *    {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo..."}}]},"finishReason":"STOP","index":0}],
   *  "usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":1290,"totalTokenCount":1302,
   *    "candidatesTokensDetails":[{"modality":"IMAGE","tokenCount":1290}]},
   *  "modelVersion":"gemini-2.5-flash-image","responseId":"mD9ZabCdEf"}
   * }</pre>
   *
   * A blocked prompt: no {@code candidates}, {@code "promptFeedback":{"blockReason":"PROHIBITED_CONTENT"}}.
   *
   * @param candidates the candidates (one), or null when the prompt was blocked
   * @param promptFeedback why the prompt was blocked, or null
   * @param usageMetadata the tokens billed
   * @param modelVersion the model that answered
   * @param responseId the answer's id
   */
  record Response(@Nullable List<Candidate> candidates, @Nullable PromptFeedback promptFeedback,
      @Nullable UsageMetadata usageMetadata, @Nullable String modelVersion, @Nullable String responseId) {}

  /**
   * One candidate.
   *
   * @param content its parts, or null when the output was blocked
   * @param finishReason {@code STOP}, {@code IMAGE_SAFETY}, {@code NO_IMAGE}, ...
   * @param finishMessage the reason in words, or null
   */
  record Candidate(@Nullable Content content, @Nullable String finishReason, @Nullable String finishMessage) {}

  /**
   * Why a prompt was blocked.
   *
   * @param blockReason {@code SAFETY}, {@code OTHER}, {@code BLOCKLIST}, {@code PROHIBITED_CONTENT}, {@code IMAGE_SAFETY}
   * @param blockReasonMessage the reason in words, or null
   */
  record PromptFeedback(@Nullable String blockReason, @Nullable String blockReasonMessage) {}

  /**
   * The tokens of one call.
   *
   * @param promptTokenCount input tokens (text and images sent)
   * @param candidatesTokenCount output tokens, all modalities
   * @param thoughtsTokenCount thinking tokens, or null
   * @param candidatesTokensDetails output tokens per modality ({@code IMAGE}, {@code TEXT})
   */
  record UsageMetadata(@Nullable Long promptTokenCount, @Nullable Long candidatesTokenCount,
      @Nullable Long thoughtsTokenCount, @Nullable List<ModalityTokenCount> candidatesTokensDetails) {}

  /**
   * Tokens of one modality.
   *
   * @param modality {@code TEXT}, {@code IMAGE}, ...
   * @param tokenCount the tokens
   */
  record ModalityTokenCount(@Nullable String modality, @Nullable Long tokenCount) {}

  /**
   * {@code GET /v1beta/models/{model}}, the health probe's answer.
   *
   * <pre>{@code
   * {"name":"models/gemini-2.5-flash-image","displayName":"Nano Banana","supportedGenerationMethods":["generateContent"]}
   * }</pre>
   *
   * @param name {@code models/<id>}
   * @param displayName the model's name in words
   */
  record Model(@Nullable String name, @JsonProperty("displayName") @Nullable String displayName) {}
}
