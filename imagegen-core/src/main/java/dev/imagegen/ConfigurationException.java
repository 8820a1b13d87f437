package dev.imagegen;

import java.util.List;

/**
 * The configuration read by {@link ImageGenerationService.Builder#configureFrom} (or
 * {@link ImageGenerationService#fromEnvironment()}) has mistakes: every one found, not only the
 * first. Each problem names the setting as the operator wrote it, where it came from (an
 * environment variable, a system property, a file, code), the value (masked for credentials) and
 * what is accepted; the message lists them one per line.
 */
public final class ConfigurationException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  /** The problems; a {@code List} of {@code String}s, immutable. */
  @SuppressWarnings("serial")
  private final List<String> problems;

  /**
   * An exception listing problems.
   *
   * @param problems the problems, at least one
   */
  public ConfigurationException(List<String> problems) {
    super(message(problems));
    this.problems = List.copyOf(problems);
  }

  private static String message(List<String> problems) {
    return "invalid imagegen configuration (" + problems.size() + (problems.size() == 1 ? " problem" : " problems") + "):\n  "
        + String.join("\n  ", problems);
  }

  /** Every problem, one line each, in the order found. */
  public List<String> problems() {
    return problems;
  }
}
