package dev.imagegen.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import java.io.IOException;
import java.math.BigDecimal;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Checks on a JSON submit as WireMock logged it, for {@link ProviderStubs#assertSubmitted}: each
 * check throws an {@link AssertionError} naming the field, what was expected and what was sent.
 *
 * <pre>{@code
 * SubmittedJson.of(submit).header("Authorization", "Bearer " + apiKey)
 *     .field("prompt", request.prompt()).field("width", request.width()).field("seed", request.seed());
 * }</pre>
 *
 * <p>Fields are named by a JSON Pointer without the leading slash ({@code "input/prompt"}) or by a
 * plain name. Not thread-safe; use one per submit.
 */
public final class SubmittedJson {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private final LoggedRequest submit;
  private final JsonNode body;

  private SubmittedJson(LoggedRequest submit, JsonNode body) {
    this.submit = submit;
    this.body = body;
  }

  /**
   * Reads a submit's body as JSON.
   *
   * @param submit the submit as WireMock logged it
   * @return the checks on it
   * @throws AssertionError when the body is not JSON
   */
  public static SubmittedJson of(LoggedRequest submit) {
    try {
      JsonNode body = MAPPER.readTree(submit.getBodyAsString());
      return new SubmittedJson(submit, body == null ? MAPPER.missingNode() : body);
    } catch (IOException e) {
      throw new AssertionError("the submit's body is not JSON: " + submit.getBodyAsString(), e);
    }
  }

  /** The body, for checks of your own. */
  public JsonNode body() {
    return body;
  }

  /**
   * The submit carried this header with exactly this value (shown masked when it is wrong, as it
   * is usually a credential).
   *
   * @param name the header's name
   * @param value the value expected
   * @return this
   */
  public SubmittedJson header(String name, String value) {
    String sent = submit.getHeader(name);
    if (!value.equals(sent)) {
      throw new AssertionError("the submit's header " + name + " is " + (sent == null ? "missing" : "not the expected value")
          + "; check how the provider adds its credential (authorize)");
    }
    return this;
  }

  /**
   * The field has this value: a text equal to a {@link CharSequence}, a number equal to a
   * {@link Number} (compared as decimals), a boolean equal to a {@link Boolean}; {@code null}
   * means the field is absent or JSON null (the request did not set it).
   *
   * @param field a plain name or a JSON Pointer without the leading slash
   * @param expected the value, or null
   * @return this
   */
  public SubmittedJson field(String field, @Nullable Object expected) {
    JsonNode n = body.at("/" + field);
    boolean ok;
    if (expected == null) {
      ok = n.isMissingNode() || n.isNull();
    } else if (expected instanceof Number x) {
      ok = n.isNumber() && n.decimalValue().compareTo(new BigDecimal(x.toString())) == 0;
    } else if (expected instanceof Boolean x) {
      ok = n.isBoolean() && n.booleanValue() == x;
    } else {
      ok = n.isTextual() && Objects.equals(n.textValue(), expected.toString());
    }
    if (!ok) {
      throw new AssertionError("the submit's field '" + field + "' is " + (n.isMissingNode() ? "absent" : n.toString())
          + ", expected " + (expected == null ? "absent or null" : expected) + "; check the request mapping (field names"
          + " and values)");
    }
    return this;
  }
}
