package dev.imagegen.local.djl;

import ai.djl.Device;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * CPU benchmark of the engine's own overhead per denoising step (Java around the model call:
 * input scaling and CFG doubling, array creation and dtype conversion, DJL binding, output copy,
 * guidance, scheduler step) against the UNet call alone (DJL {@code predict}: ONNX Runtime
 * running the graph), for the tiny stand-ins and for a mid-size stand-in UNet doing real work
 * (three 3x3 convolutions 4-C-C-4 over the latent).
 *
 * <p>Run: {@code mvn -q -o test-compile exec:java -Dexec.mainClass=dev.imagegen.local.djl.LocalSdxlBenchmark
 * -Dexec.classpathScope=test -Dai.djl.offline=true} (arguments: steps, default 20).
 */
public final class LocalSdxlBenchmark {
  private LocalSdxlBenchmark() {}

  record Row(String name, int size, int batch, int steps, double stepMs, double modelMs) {
    double overheadMs() {
      return stepMs - modelMs;
    }
  }

  public static void main(String[] args) throws Exception {
    System.setProperty("ai.djl.offline", "true");
    int steps = args.length > 0 ? Integer.parseInt(args[0]) : 20;
    Path tmp = Files.createTempDirectory("imagegen-bench");
    List<Row> rows = new ArrayList<>();
    TestOnnxModels.Options tiny = TestOnnxModels.Options.half();
    run(tmp, "JVM warm-up (discarded)", tiny.conv(16).base(), 256, 5.0, steps);
    rows.add(run(tmp, "tiny stand-ins, Turbo (no CFG)", tiny, 64, 0.0, steps));
    rows.add(run(tmp, "tiny stand-ins, base (CFG)", tiny.base(), 64, 5.0, steps));
    rows.add(run(tmp, "tiny stand-ins, base (CFG)", tiny.base(), 512, 5.0, steps));
    rows.add(run(tmp, "tiny stand-ins, base (CFG)", tiny.base(), 1024, 5.0, steps));
    rows.add(run(tmp, "mid-size conv UNet C=32, Turbo", tiny.conv(32), 512, 0.0, steps));
    rows.add(run(tmp, "mid-size conv UNet C=64, base (CFG)", tiny.conv(64).base(), 512, 5.0, steps));
    System.out.printf("%n%-38s %6s %5s %5s %10s %10s %12s %8s%n", "case", "size", "batch", "steps", "step ms",
        "model ms", "overhead ms", "ratio");
    for (Row r : rows) {
      System.out.printf("%-38s %6s %5d %5d %10.3f %10.3f %12.3f %8.3f%n", r.name(), r.size() + "^2", r.batch(),
          r.steps(), r.stepMs(), r.modelMs(), r.overheadMs(), r.overheadMs() / r.modelMs());
    }
    System.out.println("(step = wall time of one denoising step, steps 2..n averaged; model = UNet predict alone;"
        + " ratio = overhead / model; " + Runtime.getRuntime().availableProcessors() + " CPUs, "
        + System.getProperty("java.vm.name") + " " + System.getProperty("java.version") + ")");
  }

  static Row run(Path tmp, String name, TestOnnxModels.Options o, int size, double guidance, int steps)
      throws Exception {
    Path dir = TestOnnxModels.write(Files.createTempDirectory(tmp, "m"), o);
    ModelDirectory.Spec spec = ModelDirectory.inspect(dir, new ObjectMapper());
    try (OnnxGraphs g = OnnxGraphs.load(spec, Device.cpu(), Map.of())) {
      Pipeline p = new Pipeline("bench", ClipTokenizer.load(dir.resolve("tokenizer"), 49407, new ObjectMapper()),
          ClipTokenizer.load(dir.resolve("tokenizer_2"), 0, new ObjectMapper()), g, spec.scheduler(), true, 0.13025);
      Sampler sampler = spec.scheduler().defaultSampler();
      Pipeline.Job job = new Pipeline.Job("a cat, dog!", null, size, size, steps, guidance, sampler, new long[] {1},
          null, 1.0);
      // warm up (JIT, ORT's first-run allocations): the same job once
      p.run(job, new TestModels.Counting(), false);
      long[] stepEnd = new long[steps + 1];
      long[] modelAt = new long[steps + 1];
      p.run(job, new Pipeline.Listener() {
        @Override
        public boolean cancelled() {
          return false;
        }

        @Override
        public void step(int done, int total) {
          stepEnd[done] = System.nanoTime();
          modelAt[done] = g.unetPredictNanos.sum();
        }
      }, false);
      int n = steps - 1;
      double stepMs = (stepEnd[steps] - stepEnd[1]) / 1e6 / n;
      double modelMs = (modelAt[steps] - modelAt[1]) / 1e6 / n;
      return new Row(name, size, guidance > 1 ? 2 : 1, steps, stepMs, modelMs);
    }
  }
}
