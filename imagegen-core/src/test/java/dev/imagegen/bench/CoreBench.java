package dev.imagegen.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testing.ScriptedProvider;
import dev.imagegen.testing.TestImages;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * imagegen-core's benchmark: the SDK's own overhead per call against a bare {@link HttpClient}
 * call to the same loopback HTTP stub (64 in flight, rounds interleaved), and 10,000 concurrent
 * generations waiting on a slow provider with the live thread count and heap per pending
 * generation. Run: see imagegen-core/README.md.
 */
public final class CoreBench {
  private static int inFlight = 64;

  public static void main(String[] args) throws Exception {
    int calls = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    int pending = args.length > 2 ? Integer.parseInt(args[2]) : 10_000;
    System.setProperty("sun.net.httpserver.nodelay", "true"); // without TCP_NODELAY every call waits ~40 ms
    System.out.printf("java %s, %d cores, max heap %d MB%n", System.getProperty("java.version"),
        Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20);
    inFlight = 1;
    overhead(calls / 4, rounds);
    inFlight = 64;
    overhead(calls, rounds);
    scale(pending);
    System.exit(0);
  }

  // ---------------------------------------------------------------- overhead

  private static void overhead(int calls, int rounds) throws Exception {
    byte[] body = ("{\"id\":\"j1\",\"seed\":7,\"image\":\"" + Base64.getEncoder().encodeToString(TestImages.png(8, 8)) + "\"}")
        .getBytes(StandardCharsets.UTF_8);
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 1024);
    server.setExecutor(Executors.newFixedThreadPool(4));
    server.createContext("/generate", ex -> {
      ex.getRequestBody().readAllBytes();
      ex.getResponseHeaders().add("Content-Type", "application/json");
      ex.sendResponseHeaders(200, body.length);
      ex.getResponseBody().write(body);
      ex.close();
    });
    server.start();
    URI uri = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/generate");
    // like for like: the same HTTP/1.1 client on the same kind of small fixed executor the service uses,
    // so the difference is imagegen's own code, not the JDK's default (unbounded) executor
    HttpClient bare = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .executor(Executors.newFixedThreadPool(Math.max(4, 2 * Runtime.getRuntime().availableProcessors()), r -> {
          Thread t = new Thread(r, "bench-bare-http");
          t.setDaemon(true);
          return t;
        })).build();
    byte[] req = "{\"prompt\":\"a red fox\"}".getBytes(StandardCharsets.UTF_8);
    Supplier<CompletableFuture<?>> bareCall = () -> bare.sendAsync(HttpRequest.newBuilder(uri)
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(req)).build(),
        HttpResponse.BodyHandlers.ofByteArray());

    ImageGenerationService service = ImageGenerationService.builder()
        .provider(new HttpBenchProvider(uri), ProviderConfig.builder("bench").set("max-concurrent", "256").build())
        .maxRetries(0).build();
    ImageGenerationRequest request = ImageGenerationRequest.builder().prompt("a red fox").build();
    Supplier<CompletableFuture<?>> sdkCall = () -> service.generateAsync(request);

    run(bareCall, calls / 2); // warm-up
    run(sdkCall, calls / 2);
    List<long[]> bareRuns = new ArrayList<>();
    List<long[]> sdkRuns = new ArrayList<>();
    for (int r = 0; r < rounds; r++) {
      bareRuns.add(run(bareCall, calls));
      sdkRuns.add(run(sdkCall, calls));
    }
    long[] b = merge(bareRuns);
    long[] s = merge(sdkRuns);
    System.out.printf("%noverhead: %d calls x %d rounds, %d in flight, loopback JDK HTTP server with TCP_NODELAY%n", calls,
        rounds, inFlight);
    System.out.printf("  bare HttpClient POST      p50 %7.1f us   p99 %7.1f us%n", pct(b, 0.50), pct(b, 0.99));
    System.out.printf("  generateImageWithFailover p50 %7.1f us   p99 %7.1f us%n", pct(s, 0.50), pct(s, 0.99));
    System.out.printf("  imagegen adds             p50 %7.1f us   p99 %7.1f us   (ratio p50 %.2f, p99 %.2f)%n",
        pct(s, 0.50) - pct(b, 0.50), pct(s, 0.99) - pct(b, 0.99), pct(s, 0.50) / pct(b, 0.50), pct(s, 0.99) / pct(b, 0.99));
    if (inFlight > 1) {
      // with every lane busy the 2 cores are saturated: a call waits behind the others, so the
      // added latency is about in-flight x the extra CPU time each call costs
      System.out.printf("  saturated: extra CPU per call ~ %.1f us (p50 difference / %d in flight)%n",
          (pct(s, 0.50) - pct(b, 0.50)) / inFlight, inFlight);
    }
    service.close();
    server.stop(0);
  }

  private static long[] run(Supplier<CompletableFuture<?>> call, int calls) throws Exception {
    long[] lat = new long[calls];
    AtomicInteger next = new AtomicInteger();
    CompletableFuture<?>[] lanes = new CompletableFuture<?>[inFlight];
    for (int i = 0; i < inFlight; i++) {
      lanes[i] = lane(call, next, lat);
    }
    CompletableFuture.allOf(lanes).get();
    return lat;
  }

  private static CompletableFuture<Void> lane(Supplier<CompletableFuture<?>> call, AtomicInteger next, long[] lat) {
    int i = next.getAndIncrement();
    if (i >= lat.length) {
      return CompletableFuture.completedFuture(null);
    }
    long t0 = System.nanoTime();
    return call.get().thenCompose(x -> {
      lat[i] = System.nanoTime() - t0;
      return lane(call, next, lat);
    });
  }

  private static long[] merge(List<long[]> runs) {
    long[] all = runs.stream().flatMapToLong(Arrays::stream).toArray();
    Arrays.sort(all);
    return all;
  }

  private static double pct(long[] sorted, double p) {
    return sorted[(int) Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] / 1000.0;
  }

  /** A provider doing what a synchronous remote provider does: POST JSON, decode the inline image. */
  static final class HttpBenchProvider implements ImageProvider {
    private final URI uri;

    HttpBenchProvider(URI uri) {
      this.uri = uri;
    }

    @Override public String id() { return "bench"; }
    @Override public ProviderCapabilities capabilities() { return ProviderCapabilities.builder().build(); }
    @Override public CostModel costModel() { return CostModel.free(); }

    @Override
    public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
      ProviderHttp http = ctx.http();
      return http.json(http.request(uri).header("Content-Type", "application/json")
              .POST(http.jsonBody(Map.of("prompt", request.prompt()))).build())
          .thenCompose((JsonNode n) -> ctx.downloader().image(n.path("image").asText(), n.path("seed").asLong(), false))
          .thenApply(img -> ProviderResult.builder("bench-model").image(img).build());
    }

    @Override
    public CompletableFuture<ProviderHealth> health(ProviderContext context) {
      return CompletableFuture.completedFuture(ProviderHealth.up("bench", Duration.ZERO));
    }
  }

  // ---------------------------------------------------------------- scale

  private static void scale(int n) throws Exception {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    ScriptedProvider slow = new ScriptedProvider("slow").then(ScriptedProvider.okAfter(Duration.ofSeconds(3)));
    ImageGenerationService service = ImageGenerationService.builder()
        .provider(slow, ProviderConfig.builder("slow").set("max-concurrent", String.valueOf(n)).build()).build();
    ImageGenerationRequest request = ImageGenerationRequest.builder().prompt("a red fox").build();
    service.generateImageWithFailover(ImageGenerationRequest.builder().prompt("warm-up").build());
    long before = usedAfterGc();
    int threadsBefore = threads.getThreadCount();
    long t0 = System.nanoTime();
    List<CompletableFuture<ImageGenerationResponse>> fs = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      fs.add(service.generateAsync(request));
    }
    long submitted = System.nanoTime() - t0;
    long during = usedAfterGc();
    int threadsDuring = threads.getThreadCount();
    int done = 0;
    for (CompletableFuture<ImageGenerationResponse> f : fs) {
      if (f.get().images().size() == 1) {
        done++;
      }
    }
    long total = System.nanoTime() - t0;
    System.out.printf("%nscale: %d concurrent generations, provider answers after 3 s (scheduled, no thread held)%n", n);
    System.out.printf("  all submitted in %d ms, %d completed in %d ms%n", submitted / 1_000_000, done, total / 1_000_000);
    System.out.printf("  live threads: %d before, %d with all %d pending, peak %d%n", threadsBefore, threadsDuring, n,
        threads.getPeakThreadCount());
    System.out.printf("  heap with all pending: +%d KB in all, %.1f KB per pending generation%n", (during - before) >> 10,
        (during - before) / 1024.0 / n);
    service.close();
  }

  private static long usedAfterGc() throws InterruptedException {
    Runtime rt = Runtime.getRuntime();
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(100);
    }
    return rt.totalMemory() - rt.freeMemory();
  }
}
