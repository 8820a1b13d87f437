package dev.imagegen.local.djl;

import java.io.IOException;

/** Loads the graphs of a checked model directory on the engine's device. */
interface GraphsLoader {

  /**
   * Loads the graphs.
   *
   * @throws IOException when a graph cannot be loaded
   */
  Graphs load(ModelDirectory.Spec spec) throws IOException;

  /** The device in use and why, e.g. {@code cpu (no GPU visible to ONNX Runtime)}. */
  String device();
}
