package dev.imagegen.redis;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A remote job service on 127.0.0.1 that counts, for {@link MultiJvmKillNineTest}: {@code POST
 * /submit/<prompt>} creates a job, {@code GET /status/<job>} answers {@code running} and then, on the
 * job's second poll, {@code done}; {@code POST /cancel/<job>} cancels it. Every call is recorded with
 * its moment, from whichever JVM it came.
 */
final class JobServer implements AutoCloseable {
  /** One call: what, on which job or prompt, when ({@link System#nanoTime()}). */
  record Call(String kind, String subject, long at) {}

  private final HttpServer server;
  private final AtomicInteger jobs = new AtomicInteger();
  private final Map<String, AtomicInteger> polls = new ConcurrentHashMap<>();
  final List<Call> calls = new CopyOnWriteArrayList<>();

  JobServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 100);
    server.setExecutor(Executors.newFixedThreadPool(8));
    server.createContext("/", this::handle);
    server.start();
  }

  String baseUrl() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  List<Call> calls(String kind, long since) {
    return calls.stream().filter(c -> c.kind().equals(kind) && c.at() >= since).toList();
  }

  private void handle(HttpExchange x) throws IOException {
    String[] parts = x.getRequestURI().getPath().split("/", 3);
    String kind = parts.length > 1 ? parts[1] : "";
    String subject = parts.length > 2 ? parts[2] : "";
    String body;
    int status = 200;
    switch (kind) {
      case "submit" -> {
        body = "job-" + jobs.incrementAndGet();
        calls.add(new Call("submit", subject, System.nanoTime()));
      }
      case "status" -> {
        calls.add(new Call("poll", subject, System.nanoTime()));
        body = polls.computeIfAbsent(subject, k -> new AtomicInteger()).incrementAndGet() >= 2 ? "done" : "running";
      }
      case "cancel" -> {
        calls.add(new Call("cancel", subject, System.nanoTime()));
        body = "cancelled";
      }
      default -> {
        status = 404;
        body = "no such path";
      }
    }
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    x.sendResponseHeaders(status, b.length);
    x.getResponseBody().write(b);
    x.close();
  }

  @Override
  public void close() {
    server.stop(0);
    ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
  }
}
