package dev.imagegen.examples;

import dev.imagegen.Attempt;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ProgressEvent;
import java.io.PrintStream;
import java.util.Locale;
import java.util.Objects;

/**
 * Terminal output for the examples: every line says "[sandbox]" in sandbox mode, progress is
 * printed only when it changes.
 */
public final class Console {
  private final PrintStream out;
  private volatile boolean sandbox;
  private volatile String lastProgress = "";

  /**
   * A console.
   *
   * @param out where lines go
   */
  public Console(PrintStream out) {
    this.out = out;
  }

  /** Marks every later line as sandbox output. */
  void sandbox() {
    sandbox = true;
  }

  /** Whether the sandbox is on. */
  public boolean isSandbox() {
    return sandbox;
  }

  /**
   * Prints a line.
   *
   * @param text the line
   */
  public void line(String text) {
    out.println((sandbox ? "[sandbox] " : "") + text);
  }

  /**
   * Prints a progress event when it says something new (queue position, percent, stage).
   *
   * @param e the event
   */
  public void progress(ProgressEvent e) {
    String s = "  " + e.provider() + " " + e.stage().name().toLowerCase(Locale.ROOT)
        + (e.queuePosition() != null ? ", queue position " + e.queuePosition() : "")
        + (e.percent() != null ? String.format(", %.0f%%", e.percent()) : "")
        + (e.eta() != null ? ", about " + e.eta().toSeconds() + " s left" : "");
    if (!Objects.equals(s, lastProgress)) {
      lastProgress = s;
      line(s);
    }
  }

  /**
   * Prints a response: the attempts, who served, timings, cost, image.
   *
   * @param r the response
   */
  public void response(ImageGenerationResponse r) {
    line("attempts:");
    for (Attempt a : r.attempts()) {
      line(String.format("  %-12s %-9s %6d ms  %s", a.provider(), a.outcome(), a.duration().toMillis(),
          a.message() == null ? "" : a.message()));
    }
    line(String.format("served by %s (model %s) in %d ms; the provider reports queue %d ms, run %d ms; download %d ms",
        r.provider(), r.model(), r.generationTime().toMillis(), r.timings().queue().toMillis(), r.timings().run().toMillis(),
        r.timings().download().toMillis()));
    line("cost: " + r.cost());
    line(String.format("image: %s %dx%d, seed %s", r.image().mediaType(), r.image().width(), r.image().height(),
        r.image().seed()));
  }
}
