package dev.imagegen.provider.fal.bench;

import com.sun.management.OperatingSystemMXBean;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.management.ObjectName;

/**
 * The pending-jobs scale benchmark on fal's queue protocol: N generations submitted at once stay
 * queued on a loopback stub ({@link FalQueueStub}) for W seconds, then all are released at one
 * recorded instant. Each mode ({@link #MODES}: imagegen's {@code generateAsync} with its default
 * poll budget, a bare {@code HttpClient} loop polling every second) runs on a fresh stub and a fresh
 * client, side by side in one JVM, garbage collected between runs, at N and at 1 pending job.
 *
 * <p>While the jobs wait (after the first quarter of the wait, at most 5 s, so that polls the
 * scheduler still owes from the submits do not count) it measures the status polls per second the stub answered, this process's
 * CPU (the stub runs in its own JVM unless {@code -Dbench.stub=inproc}), the heap per pending job
 * (used heap after a full GC with N pending, minus before, over N; at the start and at the end of
 * the wait), live threads and their peak, and the client connections the stub saw; after the
 * release, completion latency (release instant to the caller's future completing) p50/p99 and the
 * time until all are done. Prints a markdown table. Run: see imagegen-provider-fal/README.md.
 *
 * <p>Options (system properties): {@code bench.jobs} (10000), {@code bench.wait} (20s),
 * {@code bench.modes} (imagegen,bare), {@code bench.single} (true: also the 1-job rows),
 * {@code bench.stub} (fork or inproc), {@code bench.warmup} (1000: every mode once at that many
 * jobs for 2 s first, not reported, so that the JIT's compiling is not counted; 0: none), {@code bench.histogram} (true: a class histogram of the
 * live heap while imagegen's N jobs wait).
 */
public final class PendingJobsBench {
  /** Every mode, by name. The webhook mode goes here (a {@link BenchClient.Factory} whose stub pushes on release). */
  static final List<BenchClient.Factory> MODES = List.of(ImagegenPollingClient.FACTORY, ImagegenWebhookClient.FACTORY,
      BarePollingClient.FACTORY);

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final OperatingSystemMXBean OS = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  private PendingJobsBench() {}

  /** What to run. */
  record Options(int jobs, Duration waitTime, List<String> modes, boolean single, boolean forkStub, boolean histogram,
      int warmupJobs) {
    static Options fromSystemProperties() {
      return new Options(Integer.parseInt(System.getProperty("bench.jobs", "10000").replace("_", "")),
          parseDuration(System.getProperty("bench.wait", "20s")),
          List.of(System.getProperty("bench.modes", "imagegen,bare").split(",")),
          Boolean.parseBoolean(System.getProperty("bench.single", "true")),
          !System.getProperty("bench.stub", "fork").equals("inproc"),
          Boolean.parseBoolean(System.getProperty("bench.histogram", "false")),
          Integer.parseInt(System.getProperty("bench.warmup", "1000").replace("_", "")));
    }
  }

  /** One row of the table. */
  record Row(String client, int jobs, int failed, double pollsPerSecond, double cpuPercent, double stubCpuPercent,
      double heapKbStart, double heapKbEnd, int threadsBefore, int threadsWaiting, int threadsPeak, int connections,
      double p50Ms, double p99Ms, double allDoneMs, Map<FalQueueStub.Kind, Long> requests) {}

  /**
   * Runs the bench and prints the table.
   *
   * @param args none; see the class's options
   */
  public static void main(String[] args) throws Exception {
    Options o = Options.fromSystemProperties();
    System.out.printf("java %s, %d cores, max heap %d MB, load average %.1f; %d jobs pending for %d s, stub %s%n",
        System.getProperty("java.version"), Runtime.getRuntime().availableProcessors(),
        Runtime.getRuntime().maxMemory() >> 20, OS.getSystemLoadAverage(), o.jobs(), o.waitTime().toSeconds(),
        o.forkStub() ? "in its own JVM" : "in this JVM (its CPU and heap count as the client's)");
    List<Row> rows = run(o);
    System.out.println();
    System.out.println(table(rows, o));
    System.exit(0);
  }

  /**
   * Runs every selected mode at 1 job (when asked) and at {@code jobs} jobs.
   *
   * @param o what to run
   * @return the rows, in the table's order
   */
  static List<Row> run(Options o) throws Exception {
    List<Row> rows = new ArrayList<>();
    if (o.warmupJobs() > 0) {
      // every mode once, not reported, so that the JIT's compiling does not count as the client's CPU
      Options warm = new Options(o.warmupJobs(), Duration.ofSeconds(2), o.modes(), false, o.forkStub(), false, -1); // -1: quiet
      for (String name : o.modes()) {
        runOne(mode(name), warm.jobs(), warm);
      }
      System.out.printf("warmed up: every mode at %d jobs%n", o.warmupJobs());
    }
    List<Integer> sizes = o.single() && o.jobs() != 1 ? List.of(o.jobs(), 1) : List.of(o.jobs());
    for (int n : sizes) {
      for (String name : o.modes()) {
        Row r = runOne(mode(name), n, o);
        System.out.printf("%s, %d jobs: %.0f polls/s, CPU %.0f%%, heap %.1f -> %.1f KB/job, threads %d (peak %d), "
            + "p50 %.0f ms, p99 %.0f ms, all done %.0f ms, %d failed%n", r.client(), n, r.pollsPerSecond(), r.cpuPercent(),
            r.heapKbStart(), r.heapKbEnd(), r.threadsWaiting(), r.threadsPeak(), r.p50Ms(), r.p99Ms(), r.allDoneMs(),
            r.failed());
        rows.add(r);
      }
    }
    return rows;
  }

  private static BenchClient.Factory mode(String name) {
    return MODES.stream().filter(m -> m.name().equals(name.strip())).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("unknown bench mode '" + name + "'; the modes are "
            + MODES.stream().map(BenchClient.Factory::name).toList()));
  }

  private static Row runOne(BenchClient.Factory factory, int n, Options o) throws Exception {
    try (Stub stub = o.forkStub() ? Stub.fork() : Stub.inProcess()) {
      double heap0 = usedHeapAfterGc();
      int threads0 = THREADS.getThreadCount();
      THREADS.resetPeakThreadCount();
      BenchClient client = factory.create(stub.base, n);
      String name = client.name();
      long[] doneAt = new long[n];
      AtomicInteger failed = new AtomicInteger();
      List<String> errors = new ArrayList<>();
      CompletableFuture<?>[] all = new CompletableFuture<?>[n];
      for (int i = 0; i < n; i++) {
        int j = i;
        all[i] = client.generate(i).handle((x, e) -> {
          doneAt[j] = System.nanoTime();
          if (e != null && failed.incrementAndGet() <= 3) {
            synchronized (errors) {
              errors.add(String.valueOf(e));
            }
          }
          return null;
        });
      }
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
      while (stub.counts().get(FalQueueStub.Kind.SUBMIT) < n && System.nanoTime() < deadline) {
        Thread.sleep(50); // a bench main, not a test: waits for the submits the stub has answered
      }
      double heapStart = usedHeapAfterGc();
      if (o.histogram() && n > 1 && factory == ImagegenPollingClient.FACTORY) {
        System.out.println("at the start of the wait:");
        histogram(30);
      }
      // the submits of N jobs at once leave the scheduler behind by a few seconds; polls it owes
      // from before the window would count in it, so the window starts a few seconds later
      Thread.sleep(Math.min(o.waitTime().toMillis() / 4, 5_000));
      stub.mark();
      Map<FalQueueStub.Kind, Long> c0 = stub.counts();
      Map<Long, Long> threadCpu0 = threadCpu();
      long[] gc0 = gcTime();
      long cpu0 = OS.getProcessCpuTime();
      long t0 = System.nanoTime();
      Thread.sleep(o.waitTime().toMillis() - Math.min(o.waitTime().toMillis() / 4, 5_000));
      long t1 = System.nanoTime();
      long cpu1 = OS.getProcessCpuTime();
      Map<FalQueueStub.Kind, Long> c1 = stub.counts();
      int threadsWaiting = THREADS.getThreadCount();
      if (n > 1 && o.warmupJobs() >= 0) {
        long[] gc1 = gcTime();
        printThreadCpu(name, threadCpu0, threadCpu(), cpu1 - cpu0, t1 - t0);
        System.out.printf("  %s: in the window %d collections, %d ms of collection, %d ms of JIT compiling%n", name,
            gc1[0] - gc0[0], gc1[1] - gc0[1], gc1[2] - gc0[2]);
      }
      if (o.histogram() && n > 1 && factory == ImagegenPollingClient.FACTORY) {
        System.out.println("at the end of the wait:");
        histogram(30);
      }
      double heapEnd = usedHeapAfterGc();
      client.beforeRelease();
      long released = stub.release();
      client.released();
      CompletableFuture.allOf(all).get(30, TimeUnit.MINUTES);
      double secs = (t1 - t0) / 1e9;
      long[] lat = Arrays.stream(doneAt).map(d -> d - released).sorted().toArray();
      int peak = THREADS.getPeakThreadCount();
      Map<FalQueueStub.Kind, Long> end = stub.counts();
      client.close();
      if (!errors.isEmpty()) {
        System.out.println("  " + name + ": first failures: " + errors);
      }
      return new Row(name, n, failed.get(), (c1.get(FalQueueStub.Kind.STATUS) - c0.get(FalQueueStub.Kind.STATUS)) / secs,
          100.0 * (cpu1 - cpu0) / (t1 - t0), 100.0 * (c1.get(FalQueueStub.Kind.CPU) - c0.get(FalQueueStub.Kind.CPU)) / (t1 - t0),
          (heapStart - heap0) / n / 1024, (heapEnd - heap0) / n / 1024, threads0, threadsWaiting, peak,
          c1.get(FalQueueStub.Kind.CONNECTIONS).intValue(), lat[(int) ((n - 1) * 0.50)] / 1e6, lat[(int) ((n - 1) * 0.99)] / 1e6,
          lat[n - 1] / 1e6, end);
    }
  }

  /** Collections so far, their time in milliseconds over every collector, and the JIT's compiling time. */
  private static long[] gcTime() {
    long[] t = new long[3];
    t[2] = ManagementFactory.getCompilationMXBean().getTotalCompilationTime();
    for (java.lang.management.GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      t[0] += Math.max(0, gc.getCollectionCount());
      t[1] += Math.max(0, gc.getCollectionTime());
    }
    return t;
  }

  private static Map<Long, Long> threadCpu() {
    Map<Long, Long> m = new HashMap<>();
    for (long id : THREADS.getAllThreadIds()) {
      long t = THREADS.getThreadCpuTime(id);
      if (t >= 0) {
        m.put(id, t);
      }
    }
    return m;
  }

  /** Where this process's CPU went during the window, by thread name (the rest: GC, JIT, threads that ended). */
  private static void printThreadCpu(String client, Map<Long, Long> before, Map<Long, Long> after, long processCpu, long window) {
    Map<String, Long> byName = new HashMap<>();
    long threads = 0;
    for (Map.Entry<Long, Long> e : after.entrySet()) {
      long d = e.getValue() - before.getOrDefault(e.getKey(), 0L);
      java.lang.management.ThreadInfo info = THREADS.getThreadInfo(e.getKey());
      if (info != null && d > 0) {
        byName.merge(info.getThreadName().replaceAll("[-#]?\\d+$", "-N"), d, Long::sum);
        threads += d;
      }
    }
    StringBuilder sb = new StringBuilder("  " + client + ": CPU while waiting by thread (% of one core):");
    byName.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(8)
        .forEach(e -> sb.append(String.format(Locale.ROOT, " %s %.1f%%,", e.getKey(), 100.0 * e.getValue() / window)));
    sb.append(String.format(Locale.ROOT, " not in Java threads (GC, JIT) %.1f%%", 100.0 * (processCpu - threads) / window));
    System.out.println(sb);
  }

  private static double usedHeapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(30);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /** Prints the top of a class histogram of the live heap (what {@code jcmd <pid> GC.class_histogram} prints). */
  private static void histogram(int lines) throws Exception {
    String h = (String) ManagementFactory.getPlatformMBeanServer().invoke(new ObjectName("com.sun.management:type=DiagnosticCommand"),
        "gcClassHistogram", new Object[] {new String[0]}, new String[] {String[].class.getName()});
    System.out.println("class histogram of the live heap while the jobs wait (top " + lines + "):");
    h.lines().limit(lines + 3L).forEach(l -> System.out.println("  " + l));
  }

  static String table(List<Row> rows, Options o) {
    StringBuilder sb = new StringBuilder();
    sb.append("| client | pending | polls/s while waiting | CPU while waiting (stub) | heap per pending job (start, end of wait) "
        + "| threads (before, waiting, peak) | connections | latency p50 / p99 | release to all done | failed |\n");
    sb.append("|---|---|---|---|---|---|---|---|---|---|\n");
    for (Row r : rows) {
      sb.append(String.format(Locale.ROOT, "| %s | %,d | %s | %.0f%% (%s) | %s | %d, %d, %d | %,d | %s / %s | %s | %d |%n",
          r.client(), r.jobs(), String.format(Locale.ROOT, r.pollsPerSecond() < 10 ? "%.1f" : "%,.0f", r.pollsPerSecond()), r.cpuPercent(), o.forkStub() ? String.format(Locale.ROOT, "%.0f%%", r.stubCpuPercent())
              : "included", r.jobs() >= 100 ? String.format(Locale.ROOT, "%.1f KB, %.1f KB", r.heapKbStart(), r.heapKbEnd()) : "-",
          r.threadsBefore(), r.threadsWaiting(), r.threadsPeak(), r.connections(), ms(r.p50Ms()), ms(r.p99Ms()), ms(r.allDoneMs()),
          r.failed()));
    }
    return sb.toString();
  }

  private static String ms(double ms) {
    return ms >= 10_000 ? String.format(Locale.ROOT, "%.1f s", ms / 1000) : String.format(Locale.ROOT, "%.0f ms", ms);
  }

  static Duration parseDuration(String s) {
    String t = s.strip().toLowerCase(Locale.ROOT);
    if (t.endsWith("ms")) {
      return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
    }
    if (t.endsWith("s")) {
      return Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 1000));
    }
    if (t.endsWith("m")) {
      return Duration.ofMinutes(Long.parseLong(t.substring(0, t.length() - 1)));
    }
    return Duration.ofSeconds(Long.parseLong(t));
  }

  /** A stub, in its own JVM or in this one, driven over its control endpoints. */
  static final class Stub implements AutoCloseable {
    final String base;
    private final @org.jspecify.annotations.Nullable Process process;
    private final @org.jspecify.annotations.Nullable FalQueueStub local;
    private final HttpClient control = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private Stub(String base, @org.jspecify.annotations.Nullable Process process, @org.jspecify.annotations.Nullable FalQueueStub local) {
      this.base = base;
      this.process = process;
      this.local = local;
    }

    static Stub inProcess() throws IOException {
      FalQueueStub s = new FalQueueStub(4);
      return new Stub(s.baseUrl(), null, s);
    }

    static Stub fork() throws IOException {
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      Process p = new ProcessBuilder(java, "-XX:+UseParallelGC", "-cp", System.getProperty("java.class.path"),
          FalQueueStub.class.getName(), "4").redirectError(ProcessBuilder.Redirect.INHERIT).start();
      String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
      if (line == null || !line.startsWith("http://")) {
        p.destroyForcibly();
        throw new IOException("the stub's JVM did not start (it printed " + line + ")");
      }
      return new Stub(line.strip(), p, null);
    }

    private String call(String method, String path) throws IOException, InterruptedException {
      HttpResponse<String> r = control.send(HttpRequest.newBuilder(URI.create(base + "/_bench/" + path))
          .method(method, HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IOException("stub control " + path + " answered " + r.statusCode() + ": " + r.body());
      }
      return r.body();
    }

    Map<FalQueueStub.Kind, Long> counts() throws IOException, InterruptedException {
      Map<FalQueueStub.Kind, Long> m = new HashMap<>();
      for (String l : call("GET", "counts").split("\n")) {
        String[] kv = l.split("=");
        m.put(FalQueueStub.Kind.valueOf(kv[0]), Long.parseLong(kv[1]));
      }
      return m;
    }

    void mark() throws IOException, InterruptedException {
      call("POST", "mark");
    }

    /** Releases every job; the stub's {@link System#nanoTime()} at the flip (one clock for every process on Linux). */
    long release() throws IOException, InterruptedException {
      return Long.parseLong(call("POST", "release").strip());
    }

    @Override
    public void close() throws Exception {
      if (local != null) {
        local.close();
      }
      if (process != null) {
        process.getOutputStream().close();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      }
    }
  }
}
