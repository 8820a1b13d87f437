package dev.imagegen.local.djl;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;

/** Shared helpers: toy tokenizers and pipelines over the Java stand-ins. */
final class TestModels {
  private TestModels() {}

  static ClipTokenizer tokenizer(Path dir, String name, String pad, int defaultPad) throws IOException {
    return ClipTokenizer.load(ClipTokenizerTest.write(dir.resolve(name), pad), defaultPad, new ObjectMapper());
  }

  static Pipeline pipeline(Path tmp, Graphs graphs, SchedulerConfig scheduler) throws IOException {
    return new Pipeline("test", tokenizer(tmp, "tokenizer", "<|endoftext|>", 49407), tokenizer(tmp, "tokenizer_2", "!", 0),
        graphs, scheduler, true, ModelDirectory.DEFAULT_VAE_SCALING);
  }

  /** A listener that never cancels and counts steps. */
  static final class Counting implements Pipeline.Listener {
    int steps;
    int total;

    @Override
    public boolean cancelled() {
      return false;
    }

    @Override
    public void step(int done, int total) {
      steps = done;
      this.total = total;
    }
  }
}
