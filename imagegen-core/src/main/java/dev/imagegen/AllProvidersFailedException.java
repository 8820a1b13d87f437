package dev.imagegen;

import java.util.List;
import java.util.stream.Collectors;

/**
 * Thrown by {@code generateImageWithFailover} when no provider produced an image. Carries every
 * attempt, in order, each with its provider, outcome, error kind and cause; the last failure is
 * the cause.
 */
public class AllProvidersFailedException extends ImageGenerationException {
  private static final long serialVersionUID = 1L;

  private final transient List<Attempt> attempts;

  /**
   * Creates the exception.
   *
   * @param attempts every attempt made or skipped, in order
   * @param cause the last failure
   */
  public AllProvidersFailedException(List<Attempt> attempts, Throwable cause) {
    super("all providers failed: " + attempts.stream().map(Attempt::summary).collect(Collectors.joining("; ")),
        null, ErrorKind.ALL_FAILED, false, false, cause);
    this.attempts = List.copyOf(attempts);
  }

  /** Every attempt, in the order made, skipped providers included. */
  public List<Attempt> attempts() {
    return attempts;
  }
}
