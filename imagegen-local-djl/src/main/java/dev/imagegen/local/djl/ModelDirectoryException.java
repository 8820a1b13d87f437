package dev.imagegen.local.djl;

import java.nio.file.Path;
import java.util.List;

/** A model directory that cannot be used, with every problem found in it (not just the first). */
final class ModelDirectoryException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final List<String> problems;

  ModelDirectoryException(Path dir, List<String> problems) {
    super("model directory " + dir + " cannot be used (" + problems.size() + (problems.size() == 1 ? " problem" : " problems")
        + "): " + String.join("; ", problems));
    this.problems = List.copyOf(problems);
  }

  List<String> problems() {
    return problems;
  }
}
