package dev.imagegen;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Thrown when a request is invalid: by imagegen's own validation when an
 * {@link ImageGenerationRequest} is made, by its builder or its constructor (every violation listed
 * at once, no provider named), or by a provider (HTTP 400/422, with the provider's own message). Neither retried nor
 * failed over by default: another provider would refuse it too.
 *
 * <p>One kind is different: a request that only this provider cannot serve, such as a configured
 * model that it has retired or does not know ({@link #notServedHere}). That one fails over, as a
 * capability skip does, because another provider serves another model; {@link #failoverMayHelp()}
 * is true for it.
 */
public class InvalidRequestException extends ImageGenerationException {
  private static final long serialVersionUID = 1L;

  private final List<String> violations;

  /**
   * Creates the exception.
   *
   * @param violations each problem found, in words a user can act on
   * @param providerId the provider that refused the request, or null for local validation
   * @param cause the underlying cause, or null
   */
  public InvalidRequestException(List<String> violations, @Nullable String providerId, @Nullable Throwable cause) {
    this(violations, providerId, false, cause);
  }

  private InvalidRequestException(List<String> violations, @Nullable String providerId, boolean onlyHere,
      @Nullable Throwable cause) {
    super(describe(violations), providerId, ErrorKind.INVALID_REQUEST, false, onlyHere, cause);
    this.violations = List.copyOf(violations);
  }

  /**
   * A request that this provider cannot serve but another may: the model it names, or the
   * provider's configured default, is retired or unknown there. Not retried; failed over even when
   * {@code failoverOnInvalidRequest} is off, as a capability skip is.
   *
   * @param message what the provider refused, naming the model and the key that sets it
   * @param providerId the provider
   * @return the exception
   */
  public static InvalidRequestException notServedHere(String message, String providerId) {
    return new InvalidRequestException(List.of(message), providerId, true, null);
  }

  /**
   * Creates the exception for one problem.
   *
   * @param message the problem
   * @param providerId the provider that refused the request, or null
   */
  public InvalidRequestException(String message, @Nullable String providerId) {
    this(List.of(message), providerId, null);
  }

  private static String describe(List<String> violations) {
    if (violations.size() == 1) {
      return "invalid request: " + violations.get(0);
    }
    return "invalid request (" + violations.size() + " problems): " + String.join("; ", violations);
  }

  /** Every problem found, in order. */
  public List<String> violations() {
    return violations;
  }
}
