package dev.imagegen.provider.bedrock;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ProviderSupport;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Bedrock's error answers (rest-json: the type in {@code x-amzn-ErrorType}, the text in the body's
 * {@code message}) as imagegen's exceptions. Thread-safe; all methods are static.
 */
final class BedrockErrors {
  static final String ERROR_TYPE_HEADER = "x-amzn-ErrorType";
  static final String REQUEST_ID_HEADER = "x-amzn-RequestId";

  /** The errors of the common AWS layer for credentials it cannot accept (any 403 is read the same way). */
  private static final Set<String> CREDENTIAL_ERRORS = Set.of("AccessDeniedException", "UnrecognizedClientException",
      "InvalidSignatureException", "ExpiredTokenException", "IncompleteSignatureException",
      "MissingAuthenticationTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch");

  private BedrockErrors() {}

  /**
   * The error type: {@code x-amzn-ErrorType} without its {@code :http://internal.amazon.com/...}
   * suffix, else the body's {@code __type} (after any {@code #}) or {@code code}; empty when none.
   */
  static String type(HttpResult r, ObjectMapper json) {
    String h = r.header(ERROR_TYPE_HEADER);
    if (h != null && !h.isBlank()) {
      return bare(h);
    }
    JsonNode body = r.jsonOrNull(json);
    if (body != null && body.isObject()) {
      for (String f : List.of("__type", "code", "Code")) {
        JsonNode t = body.get(f);
        if (t != null && t.isTextual() && !t.asText().isBlank()) {
          String v = t.asText();
          return bare(v.substring(v.lastIndexOf('#') + 1));
        }
      }
    }
    return "";
  }

  private static String bare(String type) {
    String t = type.strip();
    int colon = t.indexOf(':');
    return colon >= 0 ? t.substring(0, colon).strip() : t;
  }

  /** The body's {@code message} (or {@code Message}), clipped; else the body's start. */
  static String message(HttpResult r, ObjectMapper json) {
    JsonNode body = r.jsonOrNull(json);
    if (body != null && body.isObject()) {
      for (String f : List.of("message", "Message")) {
        JsonNode m = body.get(f);
        if (m != null && m.isTextual() && !m.asText().isBlank()) {
          return ProviderSupport.clip(m.asText());
        }
      }
    }
    return ProviderSupport.clip(r.text());
  }

  /** Whether Bedrock's text says its content filters refused the input or the output. */
  static boolean isContentFilter(@Nullable String text) {
    if (text == null) {
      return false;
    }
    String t = text.toLowerCase(Locale.ROOT);
    return t.contains("content filter") || t.contains("blocked by our content");
  }

  /**
   * Maps an error answer by the protocol's rows; null leaves an unknown type to core's default
   * mapping by status.
   *
   * @param r the answer (not 2xx), secrets already scrubbed
   * @param json the mapper
   * @param id the provider id
   * @param region the region, for messages
   */
  static @Nullable ImageGenerationException map(HttpResult r, ObjectMapper json, String id, String region) {
    String type = type(r, json);
    String msg = message(r, json);
    int s = r.status();
    String what = (type.isEmpty() ? "HTTP " + s : type + " (HTTP " + s + ")") + (msg.isEmpty() ? "" : ": " + msg);
    switch (type) {
      case "ValidationException":
        if (isContentFilter(msg)) {
          return new ContentPolicyException("Bedrock's content filters refused the input: " + what, id);
        }
        if (msg.toLowerCase(Locale.ROOT).contains("model identifier is invalid")) {
          // what Bedrock answers for an id it does not know in this region, including a model past its end of life
          return ProviderUnavailableException.failOver("model not available in " + region + " (a wrong id, a model not "
              + "offered in this region, or one past its end of life): " + what, id, null);
        }
        return new InvalidRequestException(List.of(id + " refused the request: " + what), id, null);
      case "ServiceQuotaExceededException":
        return new InsufficientCreditsException("the account's Bedrock quota is exceeded in " + region + " (" + what + ")", id);
      case "ResourceNotFoundException":
        return ProviderUnavailableException.failOver("model not found in " + region + " (a wrong id, a model not offered "
            + "in this region, or one past its end of life): " + what, id, null);
      case "ModelErrorException":
        return ProviderUnavailableException.failOver("the model failed: " + what, id, null);
      case "ModelTimeoutException":
        // a typed AWS error answer: InvokeModel failed and returned no image, so it is retried, then failed over
        return ProviderUnavailableException.builder("the model took too long: " + what, id).retryable(true).notBilled()
            .build();
      case "ThrottlingException":
        return new RateLimitedException("throttled: " + what, id, r.retryAfter(), null);
      case "ModelNotReadyException":
        // not a throttle: the model is being made ready; a retry after a backoff is what AWS's own SDKs do
        return ProviderUnavailableException.transientFailure("the model is not ready yet: " + what, id, null);
      case "InternalServerException":
      case "ServiceUnavailableException":
        return ProviderUnavailableException.builder("server error: " + what, id).retryable(true).notBilled()
            .retryAfter(r.retryAfter()).build();
      default:
        if (CREDENTIAL_ERRORS.contains(type) || s == 403) {
          return new AuthenticationException("credentials or model access refused in " + region + ": " + what
              + (type.equals("AccessDeniedException") ? " (check the IAM policy allows bedrock:InvokeModel on the model and "
                  + "that access to the model is enabled)" : ""), id);
        }
        if (s == 400 && isContentFilter(msg)) {
          return new ContentPolicyException("Bedrock's content filters refused the input: " + what, id);
        }
        return null;
    }
  }
}
