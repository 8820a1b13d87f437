package dev.imagegen.provider.fal.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The floor: a bare JDK {@link HttpClient} doing the least a fal client must: submit, read the
 * status every second until {@code COMPLETED}, read the result, download the image. No retries,
 * no budget, no journal; the same HTTP/1.1 client on the same kind of small fixed executor the
 * service uses, so the difference is imagegen's own code.
 */
final class BarePollingClient implements BenchClient {
  static final Factory FACTORY = new Factory() {
    @Override
    public String name() {
      return "bare";
    }

    @Override
    public BenchClient create(String baseUrl, int jobs) {
      return new BarePollingClient(baseUrl);
    }
  };

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String KEY = "Key bench-key-id:bench-key-secret";

  private final URI submit;
  private final ExecutorService executor;
  private final HttpClient http;
  private final ScheduledExecutorService timer;

  BarePollingClient(String baseUrl) {
    submit = URI.create(baseUrl + "/fal-ai/flux/schnell");
    executor = Executors.newFixedThreadPool(Math.max(4, 2 * Runtime.getRuntime().availableProcessors()), r -> {
      Thread t = new Thread(r, "bench-bare-http");
      t.setDaemon(true);
      return t;
    });
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).executor(executor).build();
    timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "bench-bare-timer");
      t.setDaemon(true);
      return t;
    });
  }

  @Override
  public String name() {
    return "bare `HttpClient` loop (poll every 1 s)";
  }

  @Override
  public CompletableFuture<?> generate(int i) {
    HttpRequest req = HttpRequest.newBuilder(submit).header("Authorization", KEY).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"a red fox in snow\"}")).build();
    return json(req).thenCompose(s -> {
      CompletableFuture<JsonNode> done = new CompletableFuture<>();
      URI status = URI.create(s.path("status_url").asText() + "?logs=0");
      URI response = URI.create(s.path("response_url").asText());
      schedulePoll(status, done);
      return done.thenCompose(x -> json(get(response)))
          .thenCompose(r -> http.sendAsync(get(URI.create(r.path("images").path(0).path("url").asText())),
              HttpResponse.BodyHandlers.ofByteArray()))
          .thenApply(img -> {
            if (img.statusCode() != 200 || img.body().length == 0) {
              throw new IllegalStateException("image download answered " + img.statusCode());
            }
            return img.body();
          });
    });
  }

  private void schedulePoll(URI status, CompletableFuture<JsonNode> done) {
    timer.schedule(() -> json(get(status)).whenComplete((st, e) -> {
      if (e != null) {
        done.completeExceptionally(e);
      } else if ("COMPLETED".equals(st.path("status").asText())) {
        done.complete(st);
      } else {
        schedulePoll(status, done);
      }
    }), 1, TimeUnit.SECONDS);
  }

  private static HttpRequest get(URI uri) {
    return HttpRequest.newBuilder(uri).header("Authorization", KEY).GET().build();
  }

  private CompletableFuture<JsonNode> json(HttpRequest req) {
    return http.sendAsync(req, HttpResponse.BodyHandlers.ofByteArray()).thenApply(r -> {
      if (r.statusCode() / 100 != 2) {
        throw new IllegalStateException(req.method() + " " + req.uri().getPath() + " answered " + r.statusCode());
      }
      try {
        return JSON.readTree(r.body());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
  }

  @Override
  public void close() {
    timer.shutdownNow();
    executor.shutdownNow();
  }
}
