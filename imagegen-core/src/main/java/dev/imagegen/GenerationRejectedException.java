package dev.imagegen;

/**
 * Thrown at once when a generation is not accepted because the service already has as many
 * generations pending as its limit allows ({@code maxPendingGenerations}, 10,000 by default).
 * Nothing was sent to any provider; trying again once some have finished may succeed.
 */
public class GenerationRejectedException extends ImageGenerationException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what was refused and why
   */
  public GenerationRejectedException(String message) {
    super(message, null, ErrorKind.REJECTED, true, false, null);
  }
}
