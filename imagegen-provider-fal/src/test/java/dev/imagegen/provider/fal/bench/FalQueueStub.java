package dev.imagegen.provider.fal.bench;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import javax.imageio.ImageIO;

/**
 * A loopback stand-in for fal's queue API, shaped like {@code shared/protocols/fal.md}, cheap enough
 * to answer thousands of polls a second: {@code POST /fal-ai/flux/schnell} answers {@code IN_QUEUE}
 * with {@code request_id}, {@code status_url}, {@code response_url} and {@code cancel_url};
 * {@code GET .../requests/{id}/status} answers {@code IN_QUEUE} with a {@code queue_position} until
 * the jobs are released, then {@code COMPLETED}; {@code GET .../requests/{id}} answers the result
 * with one image URL; {@code GET /img/{id}.png} answers a small PNG. Every job is released at once
 * by {@code POST /_bench/release}, which answers the {@link System#nanoTime()} of the flip.
 * {@code GET /_bench/counts} answers the requests counted by kind and the client connections
 * (distinct remote ports) seen since the last {@code POST /_bench/mark}.
 *
 * <p>It holds no state per job (the id is a counter), so its heap does not grow with the jobs.
 * Run in its own JVM ({@link #main}) so that the client's CPU and heap are measured alone; in the
 * same JVM for the smoke test.
 */
public final class FalQueueStub implements AutoCloseable {
  /** The request kinds counted, and the two figures {@code /_bench/counts} adds (connections, the stub's CPU nanoseconds). */
  enum Kind { SUBMIT, STATUS, STREAM, RESULT, IMAGE, CANCEL, OTHER, CONNECTIONS, CPU }

  private static final String APP = "fal-ai/flux/schnell";
  private static final String ROOT = "fal-ai/flux";

  private final HttpServer server;
  private final ExecutorService pool;
  private final String base;
  private final LongAdder[] counts = new LongAdder[Kind.values().length];
  private final AtomicInteger ids = new AtomicInteger();
  private final Set<Integer> ports = ConcurrentHashMap.newKeySet();
  private final byte[] png = png();
  private volatile long releasedAt; // 0 while the jobs are queued

  /**
   * Starts a stub on a free loopback port.
   *
   * @param threads the server's fixed pool
   */
  public FalQueueStub(int threads) throws IOException {
    for (int i = 0; i < counts.length; i++) {
      counts[i] = new LongAdder();
    }
    System.setProperty("sun.net.httpserver.nodelay", "true"); // without TCP_NODELAY every answer waits ~40 ms
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 4096);
    AtomicInteger n = new AtomicInteger();
    pool = Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "fal-stub-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(pool);
    base = "http://127.0.0.1:" + server.getAddress().getPort();
    server.createContext("/", this::handle);
    server.start();
  }

  /** The base URL, e.g. {@code http://127.0.0.1:40123}. */
  public String baseUrl() {
    return base;
  }

  /** Status streams held open until the release, each told {@code COMPLETED} then. */
  private final java.util.concurrent.ConcurrentLinkedQueue<HttpExchange> streams = new java.util.concurrent.ConcurrentLinkedQueue<>();
  private static final String COMPLETED = "{\"status\":\"COMPLETED\",\"logs\":null,\"metrics\":{\"inference_time\":0.4}}";

  private void handle(HttpExchange ex) throws IOException {
    String p = ex.getRequestURI().getPath();
    if (ex.getRequestMethod().equals("GET") && p.startsWith("/" + ROOT + "/requests/") && p.endsWith("/status/stream")) {
      stream(ex); // held open past this handler: not closed here
      return;
    }
    try (ex) {
      ports.add(ex.getRemoteAddress().getPort());
      String method = ex.getRequestMethod();
      String path = ex.getRequestURI().getPath();
      ex.getRequestBody().readAllBytes();
      if (path.startsWith("/_bench/")) {
        control(ex, path);
      } else if (method.equals("POST") && path.equals("/" + APP)) {
        count(Kind.SUBMIT);
        String id = "req-" + ids.incrementAndGet();
        String u = base + "/" + ROOT + "/requests/" + id;
        json(ex, 200, "{\"status\":\"IN_QUEUE\",\"request_id\":\"" + id + "\",\"response_url\":\"" + u
            + "\",\"status_url\":\"" + u + "/status\",\"cancel_url\":\"" + u + "/cancel\",\"queue_position\":0}");
      } else if (method.equals("GET") && path.startsWith("/" + ROOT + "/requests/") && path.endsWith("/status")) {
        count(Kind.STATUS);
        json(ex, 200, releasedAt != 0 ? "{\"status\":\"COMPLETED\",\"logs\":null,\"metrics\":{\"inference_time\":0.4}}"
            : "{\"status\":\"IN_QUEUE\",\"queue_position\":3}");
      } else if (method.equals("PUT") && path.endsWith("/cancel")) {
        count(Kind.CANCEL);
        json(ex, 202, "{\"status\":\"CANCELLATION_REQUESTED\"}");
      } else if (method.equals("GET") && path.startsWith("/" + ROOT + "/requests/")) {
        count(Kind.RESULT);
        String id = path.substring(path.lastIndexOf('/') + 1);
        json(ex, 200, "{\"images\":[{\"url\":\"" + base + "/img/" + id + ".png\",\"width\":8,\"height\":8,"
            + "\"content_type\":\"image/png\"}],\"timings\":{\"inference\":0.4},\"seed\":7,\"has_nsfw_concepts\":[false]}");
      } else if (method.equals("GET") && path.startsWith("/img/")) {
        count(Kind.IMAGE);
        ex.getResponseHeaders().add("Content-Type", "image/png");
        ex.sendResponseHeaders(200, png.length);
        ex.getResponseBody().write(png);
      } else {
        count(Kind.OTHER);
        json(ex, 404, "{\"detail\":\"Not Found\"}");
      }
    }
  }

  /**
   * {@code GET .../status/stream}: server-sent events of the status, as fal sends them: the current
   * one at once; before the release the stream stays open and gets {@code COMPLETED} at the release,
   * then ends.
   */
  private void stream(HttpExchange ex) throws IOException {
    ports.add(ex.getRemoteAddress().getPort());
    count(Kind.STREAM);
    ex.getRequestBody().readAllBytes();
    ex.getResponseHeaders().add("Content-Type", "text/event-stream");
    ex.sendResponseHeaders(200, 0);
    if (releasedAt != 0) {
      event(ex, COMPLETED);
      ex.close();
      return;
    }
    event(ex, "{\"status\":\"IN_QUEUE\",\"queue_position\":3}");
    streams.add(ex);
    if (releasedAt != 0 && streams.remove(ex)) { // released meanwhile
      event(ex, COMPLETED);
      ex.close();
    }
  }

  private static void event(HttpExchange ex, String data) {
    try {
      ex.getResponseBody().write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
      ex.getResponseBody().flush();
    } catch (IOException e) {
      // the client closed its stream
    }
  }

  private void releaseStreams() {
    HttpExchange ex;
    while ((ex = streams.poll()) != null) {
      event(ex, COMPLETED);
      ex.close();
    }
  }

  private void control(HttpExchange ex, String path) throws IOException {
    switch (path) {
      case "/_bench/release" -> {
        long now = System.nanoTime();
        releasedAt = now;
        releaseStreams();
        json(ex, 200, Long.toString(now));
      }
      case "/_bench/mark" -> {
        ports.clear();
        json(ex, 200, "ok");
      }
      case "/_bench/counts" -> {
        StringBuilder sb = new StringBuilder();
        for (Kind k : List.of(Kind.SUBMIT, Kind.STATUS, Kind.STREAM, Kind.RESULT, Kind.IMAGE, Kind.CANCEL, Kind.OTHER)) {
          sb.append(k).append('=').append(counts[k.ordinal()].sum()).append('\n');
        }
        sb.append("CONNECTIONS=").append(Math.max(0, ports.size() - 1)).append('\n'); // less this control call's
        sb.append("CPU=").append(((com.sun.management.OperatingSystemMXBean) ManagementFactory
            .getOperatingSystemMXBean()).getProcessCpuTime()).append('\n');
        json(ex, 200, sb.toString());
      }
      default -> json(ex, 404, "unknown control " + path);
    }
  }

  private void count(Kind k) {
    counts[k.ordinal()].increment();
  }

  private static void json(HttpExchange ex, int status, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().add("Content-Type", "application/json");
    ex.sendResponseHeaders(status, b.length);
    ex.getResponseBody().write(b);
  }

  private static byte[] png() {
    BufferedImage img = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      ImageIO.write(img, "png", out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  @Override
  public void close() {
    server.stop(0);
    pool.shutdownNow();
  }

  /**
   * Runs a stub in this JVM until stdin closes, printing its base URL as the first line.
   *
   * @param args the server's thread count (default 4)
   */
  public static void main(String[] args) throws Exception {
    System.setProperty("java.awt.headless", "true");
    FalQueueStub stub = new FalQueueStub(args.length > 0 ? Integer.parseInt(args[0]) : 4);
    System.out.println(stub.baseUrl());
    System.out.flush();
    while (System.in.read() != -1) {
      // wait for the parent to go
    }
    stub.close();
    System.exit(0);
  }
}
