package dev.imagegen.internal;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.imagegen.spi.Redactor;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/** The shared plumbing of one service: HTTP client, JSON mapper, scheduler, redactor. */
final class Support {
  /** imagegen's version, from the jar. */
  public static final String VERSION = readVersion();
  /** The {@code User-Agent} every call sends. */
  public static final String USER_AGENT = "imagegen-java/" + VERSION;

  final HttpClient http;
  final ObjectMapper json;
  final ScheduledExecutorService scheduler;
  final Redactor redactor = new Redactor();
  private final boolean ownsScheduler;

  /**
   * @param http the client the application supplied, or null for the shared default
   * @param scheduler the scheduler
   * @param ownsScheduler whether close shuts the scheduler down
   */
  Support(@Nullable HttpClient http, ScheduledExecutorService scheduler, boolean ownsScheduler) {
    this.http = http != null ? http : SharedClient.CLIENT;
    this.scheduler = scheduler;
    this.ownsScheduler = ownsScheduler;
    this.json = mapper();
  }

  /** The JSON mapper configuration every provider gets. */
  public static ObjectMapper mapper() {
    return JsonMapper.builder()
        .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .serializationInclusion(JsonInclude.Include.NON_NULL)
        .build();
  }

  /**
   * The default HTTP client, one per JVM for every service that was given none: the JDK's client
   * has no close() before Java 21, and each one keeps a selector thread until it is collected, so
   * a client per service left a thread behind for every service built and closed. Its executor's
   * threads are daemons and its tasks never block; a closed service sends nothing through it.
   */
  private static final class SharedClient {
    static final HttpClient CLIENT = defaultHttpClient(defaultHttpExecutor());
  }

  static HttpClient defaultHttpClient(ExecutorService executor) {
    // HTTP/1.1: the JDK's HTTP/2 client fails, rather than queues, past a server's stream limit;
    // per-provider concurrency limits queue calls instead. Redirects are never followed by the
    // client (it would re-send credential headers and bodies to any host): ProviderHttp follows
    // same-origin ones for API calls and downloads' without credentials.
    return HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NEVER)
        .connectTimeout(Duration.ofSeconds(10))
        .executor(executor)
        .build();
  }

  /**
   * The HTTP client's executor: a small fixed pool (the JDK's default is an unbounded cached pool,
   * which grows a thread per concurrent exchange under load). Its tasks never block.
   */
  static ExecutorService defaultHttpExecutor() {
    AtomicInteger n = new AtomicInteger();
    int size = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
    return Executors.newFixedThreadPool(size, r -> {
      Thread t = new Thread(r, "imagegen-http-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  static ScheduledExecutorService defaultScheduler() {
    AtomicInteger n = new AtomicInteger();
    ThreadFactory tf = r -> {
      Thread t = new Thread(r, "imagegen-scheduler-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
    ScheduledThreadPoolExecutor s = new ScheduledThreadPoolExecutor(2, tf);
    s.setRemoveOnCancelPolicy(true);
    return s;
  }

  void close() {
    if (ownsScheduler) {
      scheduler.shutdownNow();
    }
  }

  private static String readVersion() {
    try (InputStream in = Support.class.getResourceAsStream("/dev/imagegen/spi/imagegen-version.properties")) {
      if (in == null) {
        return "dev";
      }
      Properties p = new Properties();
      p.load(in);
      String v = p.getProperty("version", "dev");
      return v.startsWith("${") ? "dev" : v;
    } catch (IOException e) {
      return "dev";
    }
  }
}
