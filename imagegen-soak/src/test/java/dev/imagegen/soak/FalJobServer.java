package dev.imagegen.soak;

import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.ok;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.extension.ResponseDefinitionTransformerV2;
import com.github.tomakehurst.wiremock.http.Request;
import com.github.tomakehurst.wiremock.http.ResponseDefinition;
import com.github.tomakehurst.wiremock.stubbing.ServeEvent;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.FalStubs;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A fal queue on 127.0.0.1 whose every submit creates a job of its own (request ids
 * {@code crash-job-N}), in fal's wire shapes (the testkit's {@link FalStubs} bodies). Jobs stay
 * {@code IN_QUEUE} until {@link #completeAll()}; then their status is {@code COMPLETED}, their result
 * names one PNG per job, served here. Every request is recorded with the job it names and the
 * moment it arrived, so a test can say which process polled, read or cancelled what.
 */
final class FalJobServer implements AutoCloseable {
  /** The app the child submits to, and the root its queue URLs live under. */
  static final String APP = "fal-ai/flux/schnell";
  static final String ROOT = "fal-ai/flux";
  private static final Pattern REQUEST = Pattern.compile("/" + ROOT + "/requests/([A-Za-z0-9_-]+)(/status|/cancel)?");
  private static final Pattern IMAGE = Pattern.compile("/files/crash/([A-Za-z0-9_-]+)\\.png");
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What a request was. */
  enum Kind { SUBMIT, POLL, RESULT, CANCEL, IMAGE, OTHER }

  /** One request: what, for which job (or, for a submit, the prompt), when. */
  record Call(Kind kind, String subject, long atNanos) {}

  private final WireMockServer server;
  private final FalStubs stubs;
  private final AtomicInteger jobs = new AtomicInteger();
  private final List<Call> calls = new CopyOnWriteArrayList<>();
  private final Set<String> created = ConcurrentHashMap.newKeySet();
  private volatile boolean completed;

  FalJobServer() {
    server = new WireMockServer(options().bindAddress("127.0.0.1").dynamicPort().extensions(new Jobs()));
    server.start();
    server.stubFor(any(anyUrl()).willReturn(ok()));
    stubs = new FalStubs(server);
  }

  String baseUrl() {
    return server.baseUrl();
  }

  /** From now on every job reports {@code COMPLETED} and its result can be read. */
  void completeAll() {
    completed = true;
  }

  /** The ids of every job a submit created. */
  Set<String> created() {
    return Set.copyOf(created);
  }

  /** The calls recorded so far, in arrival order. */
  List<Call> calls() {
    return new ArrayList<>(calls);
  }

  /** The calls of one kind that arrived at or after a moment ({@link System#nanoTime()}). */
  List<Call> calls(Kind kind, long sinceNanos) {
    return calls.stream().filter(c -> c.kind() == kind && c.atNanos() >= sinceNanos).toList();
  }

  @Override
  public void close() {
    server.stop();
  }

  private static String imagePath(String job) {
    return "/files/crash/" + job + ".png";
  }

  private static StubImage image(String job) {
    return StubImages.png(16, 16, Math.abs(job.hashCode()));
  }

  /** Answers every request from the recorded state of the jobs. */
  private final class Jobs implements ResponseDefinitionTransformerV2 {
    @Override
    public String getName() {
      return "crash-fal-jobs";
    }

    @Override
    public ResponseDefinition transform(ServeEvent event) {
      Request r = event.getRequest();
      String path = r.getUrl().split("\\?", 2)[0];
      long now = System.nanoTime();
      if (r.getMethod().getName().equals("POST") && path.equals("/" + APP)) {
        String prompt;
        try {
          JsonNode body = JSON.readTree(r.getBodyAsString());
          prompt = body.path("prompt").asText("");
        } catch (Exception e) {
          prompt = "";
        }
        String job = "crash-job-" + jobs.incrementAndGet();
        created.add(job);
        calls.add(new Call(Kind.SUBMIT, prompt, now));
        return json(200, stubs.submitAnswer(ROOT, job, jobs.get()));
      }
      Matcher m = REQUEST.matcher(path);
      if (m.matches() && created.contains(m.group(1))) {
        String job = m.group(1);
        String suffix = m.group(2) == null ? "" : m.group(2);
        switch (suffix) {
          case "/status" -> {
            calls.add(new Call(Kind.POLL, job, now));
            return json(200, completed ? stubs.completed(ROOT, job) : stubs.inQueue(ROOT, job, 3));
          }
          case "/cancel" -> {
            calls.add(new Call(Kind.CANCEL, job, now));
            return json(200, "{\"status\":\"CANCELLATION_REQUESTED\"}");
          }
          default -> {
            calls.add(new Call(Kind.RESULT, job, now));
            if (!completed) {
              return json(400, "{\"detail\":\"Request is still in progress\"}");
            }
            StubImage img = image(job);
            return json(200, stubs.fluxResult(List.of(img), List.of(imagePath(job)), List.of(false), 7, "crash"));
          }
        }
      }
      Matcher im = IMAGE.matcher(path);
      if (im.matches() && created.contains(im.group(1))) {
        calls.add(new Call(Kind.IMAGE, im.group(1), now));
        StubImage img = image(im.group(1));
        return new ResponseDefinitionBuilder().withStatus(200).withHeader("Content-Type", img.mediaType())
            .withBody(img.bytes()).build();
      }
      calls.add(new Call(Kind.OTHER, r.getMethod() + " " + path, now));
      return json(404, "{\"detail\":\"Not Found\"}");
    }

    private ResponseDefinition json(int status, String body) {
      return new ResponseDefinitionBuilder().withStatus(status).withHeader("Content-Type", "application/json")
          .withBody(body).build();
    }
  }

  /** The number of calls of each kind, for a report. */
  Map<Kind, Long> counts(long sinceNanos) {
    Map<Kind, Long> out = new java.util.EnumMap<>(Kind.class);
    for (Call c : calls) {
      if (c.atNanos() >= sinceNanos) {
        out.merge(c.kind(), 1L, Long::sum);
      }
    }
    return out;
  }
}
