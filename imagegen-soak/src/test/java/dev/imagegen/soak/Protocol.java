package dev.imagegen.soak;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.TextNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.Request;
import com.github.tomakehurst.wiremock.matching.RequestPattern;
import com.github.tomakehurst.wiremock.matching.RequestPatternBuilder;
import com.github.tomakehurst.wiremock.stubbing.StubMapping;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.stubs.FalStubs;
import dev.imagegen.testkit.stubs.HordeStubs;
import dev.imagegen.testkit.stubs.ReplicateStubs;
import dev.imagegen.testkit.stubs.RunPodStubs;
import dev.imagegen.testkit.stubs.Stubs;
import java.io.IOException;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What the soak needs to know about one provider's wire protocol beyond the testkit's stubs: which
 * calls submit, poll, read a result, download an image or cancel; which constants in the stubs'
 * answers name a job (so that every job gets ids of its own); and the status answers of a job that
 * is still running, failed remotely or was cancelled remotely, built with the stubs' own body
 * builders. The stubs answer one job at a time with fixed ids; {@link FaultInjector} multiplexes
 * them into thousands of concurrent jobs by rewriting those ids.
 */
abstract class Protocol {
  /** What a request is, in the provider's protocol. */
  enum Call { SUBMIT, POLL, RESULT, DOWNLOAD, CANCEL, OTHER }

  /** An answer the injector sends instead of the stub's. */
  record Answer(int status, String body) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  final String id;
  /** The stubs; rebound to the new server after an outage (same port, so the same URLs). */
  volatile ProviderStubs stubs;
  private final RequestPattern submit;
  private final @Nullable RequestPattern poll;
  private final @Nullable RequestPattern cancel;
  /** Constants in the stubs' answers that name a job; the first is the job id the client sees. */
  List<String> tokens = List.of();

  Protocol(String id, WireMockServer server) {
    this.id = id;
    this.stubs = Stubs.forProvider(id, server);
    this.submit = stubs.submitRequests().build();
    this.poll = build(stubs.pollRequests());
    this.cancel = build(stubs.cancelRequests());
  }

  private static @Nullable RequestPattern build(@Nullable RequestPatternBuilder b) {
    return b == null ? null : b.build();
  }

  /** Builds bodies with stubs bound to a server that replaced the old one on the same port. */
  void rebind(WireMockServer server) {
    stubs = Stubs.forProvider(id, server);
  }

  /** Registers the stubs' normal success answers with this image, then learns the job constants. */
  void install(WireMockServer server, ProviderStubs.StubImage marker) {
    stubs.success(marker);
    stubs.healthy();
    tokens = discoverTokens(server);
  }

  /** The constants naming a job in the answers the stubs registered. */
  abstract List<String> discoverTokens(WireMockServer server);

  /** Whether jobs are submitted and then polled (false: one blocking call answers the image). */
  abstract boolean async();

  /** Whether a path serves a result image. */
  abstract boolean isDownload(String path);

  /** Whether the submit's answer already carries the job's status (Replicate's {@code Prefer: wait}). */
  boolean submitAnswersStatus() {
    return false;
  }

  /** Whether a completed job reports the GPU time it ran (RunPod's {@code executionTime}). */
  boolean reportsGpuTime() {
    return false;
  }

  /** Whether the API can report a job cancelled on its side. */
  boolean hasRemoteCancel() {
    return true;
  }

  /** Whether polls are rate limited to a floor of a second or more (fewer pending polls then). */
  boolean slowPolls() {
    return false;
  }

  /**
   * Classifies a request, its URL already rewritten to the stubs' constants.
   *
   * @param r the request
   * @param hasJob whether the URL named one of the soak's jobs
   */
  Call classify(Request r, boolean hasJob) {
    if (submit.match(r).isExactMatch()) {
      return Call.SUBMIT;
    }
    if (cancel != null && cancel.match(r).isExactMatch()) {
      return Call.CANCEL;
    }
    if (isDownload(r.getUrl().replaceAll("\\?.*", ""))) {
      return Call.DOWNLOAD;
    }
    if (async() && poll != null && poll.match(r).isExactMatch()) {
      return Call.POLL;
    }
    if (async() && hasJob) {
      return Call.RESULT;
    }
    return Call.OTHER;
  }

  /**
   * A status answer of a job still queued or running.
   *
   * @param step how many status reads the client already got for the job
   */
  abstract Answer pending(int step);

  /** A status answer of a job that failed on the provider's side. */
  abstract Answer failed();

  /** A status answer of a job the provider cancelled (or found impossible) on its side. */
  abstract Answer remoteCancelled();

  /** The answer to a result read of a failed job, or null when the status alone tells. */
  @Nullable Answer failedResult() {
    return null;
  }

  static JsonNode read(String s) {
    try {
      return JSON.readTree(s);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Creates the protocol of a provider. */
  static Protocol of(String id, WireMockServer server) {
    return switch (id) {
      case "horde" -> new Horde(server);
      case "replicate" -> new Replicate(server);
      case "fal" -> new Fal(server);
      case "runpod" -> new RunPod(server);
      case "huggingface", "sdwebui" -> new Sync(id, server);
      default -> throw new IllegalArgumentException("no soak protocol for " + id);
    };
  }

  // ------------------------------------------------------------------------------- providers

  /** AI Horde: 202 with an id, /generate/check polls, /generate/status result, R2 downloads, DELETE cancels. */
  static final class Horde extends Protocol {
    Horde(WireMockServer s) {
      super("horde", s);
    }

    @Override List<String> discoverTokens(WireMockServer server) {
      return List.of(HordeStubs.ID, HordeStubs.GEN_ID);
    }

    @Override boolean async() { return true; }
    @Override boolean slowPolls() { return true; }
    @Override boolean isDownload(String path) { return path.startsWith("/r2/"); }

    @Override Answer pending(int step) {
      return new Answer(200, step == 0 ? HordeStubs.queued(2, 12) : HordeStubs.processing(4));
    }

    @Override Answer failed() {
      return new Answer(200, HordeStubs.check(0, 0, 3, 0, false, true, 0, 0, 0.0, true));
    }

    /** The Horde's nearest thing: {@code is_possible} false, no worker will ever take it. */
    @Override Answer remoteCancelled() {
      return new Answer(200, HordeStubs.check(0, 0, 0, 1, false, false, 0, 9, 0.0, false));
    }
  }

  /** Replicate: the create answers the prediction (succeeded at once with Prefer: wait, or starting). */
  static final class Replicate extends Protocol {
    Replicate(WireMockServer s) {
      super("replicate", s);
    }

    private ReplicateStubs replicate() {
      return (ReplicateStubs) stubs;
    }

    @Override List<String> discoverTokens(WireMockServer server) {
      for (StubMapping m : server.getStubMappings()) {
        String body = m.getResponse().getBody();
        if (body != null && body.contains("\"urls\"") && m.getRequest().getMethod().value().equals("POST")) {
          return List.of(read(body).path("id").asText());
        }
      }
      throw new IllegalStateException("replicate: no create answer among the stubs");
    }

    @Override boolean async() { return true; }
    @Override boolean submitAnswersStatus() { return true; }
    @Override boolean isDownload(String path) { return path.startsWith("/replicate.delivery/"); }

    @Override Answer pending(int step) {
      return new Answer(200, step == 0 ? replicate().prediction(tokens.get(0), "starting").json()
          : replicate().prediction(tokens.get(0), "processing").logs("Using seed: 7\n  50%|#####     | 2/4\n").json());
    }

    @Override Answer failed() {
      return new Answer(200, replicate().prediction(tokens.get(0), "failed")
          .error("CUDA error: an illegal memory access was encountered").predictTime(0.4).json());
    }

    @Override Answer remoteCancelled() {
      return new Answer(200, replicate().prediction(tokens.get(0), "canceled").json());
    }
  }

  /** fal's queue: IN_QUEUE at submit, status polls, result read, /files/ downloads, PUT cancel. */
  static final class Fal extends Protocol {
    Fal(WireMockServer s) {
      super("fal", s);
    }

    private FalStubs fal() {
      return (FalStubs) stubs;
    }

    /** Also the cancel endpoint, which fal's success stubs leave out. */
    @Override void install(WireMockServer server, ProviderStubs.StubImage marker) {
      super.install(server, marker);
      fal().stubCancel(FalStubs.FLUX_ROOT, FalStubs.REQUEST_ID);
    }

    @Override List<String> discoverTokens(WireMockServer server) {
      return List.of(FalStubs.REQUEST_ID, "Qm3xV0aZ-0");
    }

    @Override boolean async() { return true; }
    @Override boolean isDownload(String path) { return path.startsWith("/files/"); }
    /** fal's queue has no cancelled status: a cancelled or failed run ends COMPLETED with an error. */
    @Override boolean hasRemoteCancel() { return false; }

    @Override Answer pending(int step) {
      return new Answer(200, step == 0 ? fal().inQueue(FalStubs.FLUX_ROOT, FalStubs.REQUEST_ID, 2)
          : fal().inProgress(FalStubs.FLUX_ROOT, FalStubs.REQUEST_ID, "step " + Math.min(step, 3) + "/4"));
    }

    @Override Answer failed() {
      return new Answer(200, fal().completedWithError(FalStubs.FLUX_ROOT, FalStubs.REQUEST_ID, "Runner disconnected",
          "runner_disconnected"));
    }

    @Override Answer remoteCancelled() {
      return failed();
    }

    @Override Answer failedResult() {
      return new Answer(500, "{\"detail\":\"Runner disconnected\",\"error_type\":\"runner_disconnected\"}");
    }
  }

  /** RunPod serverless: IN_QUEUE at /run, /status polls with the image inline, POST /cancel. */
  static final class RunPod extends Protocol {
    RunPod(WireMockServer s) {
      super("runpod", s);
    }

    @Override List<String> discoverTokens(WireMockServer server) {
      return List.of(RunPodStubs.JOB_ID);
    }

    @Override boolean async() { return true; }
    @Override boolean reportsGpuTime() { return true; }
    @Override boolean isDownload(String path) { return false; }

    @Override Answer pending(int step) {
      return new Answer(200, RunPodStubs.status(step < 2 ? "IN_QUEUE" : "IN_PROGRESS"));
    }

    /** The handler raised a runtime error (not an input error): worth another provider. */
    @Override Answer failed() {
      return new Answer(200, RunPodStubs.failed(TextNode.valueOf("{\"error_type\": \"<class 'torch.OutOfMemoryError'>\", "
          + "\"error_message\": \"CUDA out of memory. Tried to allocate 2.00 GiB\", \"hostname\": \"462u6mrq9s28h6-64411c3e\", "
          + "\"worker_id\": \"462u6mrq9s28h6\", \"runpod_version\": \"1.7.9\"}")));
    }

    @Override Answer remoteCancelled() {
      return new Answer(200, RunPodStubs.status("CANCELLED"));
    }
  }

  /** Hugging Face and the WebUI: one blocking call answers the image (raw bytes, or base64 in JSON). */
  static final class Sync extends Protocol {
    Sync(String id, WireMockServer s) {
      super(id, s);
    }

    @Override List<String> discoverTokens(WireMockServer server) {
      return List.of();
    }

    @Override boolean async() { return false; }
    @Override boolean isDownload(String path) { return false; }

    @Override Answer pending(int step) {
      throw new UnsupportedOperationException(id + " has no jobs");
    }

    @Override Answer failed() {
      throw new UnsupportedOperationException(id + " has no jobs");
    }

    @Override Answer remoteCancelled() {
      throw new UnsupportedOperationException(id + " has no jobs");
    }
  }
}
