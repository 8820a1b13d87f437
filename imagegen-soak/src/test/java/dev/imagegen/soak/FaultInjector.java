package dev.imagegen.soak;

import com.github.tomakehurst.wiremock.extension.ResponseTransformerV2;
import com.github.tomakehurst.wiremock.extension.requestfilter.RequestFilterAction;
import com.github.tomakehurst.wiremock.extension.requestfilter.RequestWrapper;
import com.github.tomakehurst.wiremock.extension.requestfilter.StubRequestFilterV2;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.http.HttpHeader;
import com.github.tomakehurst.wiremock.http.HttpHeaders;
import com.github.tomakehurst.wiremock.http.Request;
import com.github.tomakehurst.wiremock.http.Response;
import com.github.tomakehurst.wiremock.stubbing.ServeEvent;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The WireMock extensions of one provider's soak server: a request filter that maps each job's own
 * ids back to the constants the testkit's stubs answer for (and labels the request with its call,
 * generation and job in headers the request journal keeps), and a global response transformer
 * that gives every job its own ids, progress, fate and image, and replaces answers with faults as
 * {@link FaultPlan} decides. Every decision is recorded in the provider's {@link Ledger} by
 * serve-event id, so the journal can be read against it afterwards.
 */
final class FaultInjector {
  static final String CALL = "X-Soak-Call";
  static final String GEN = "X-Soak-Gen";
  static final String JOB = "X-Soak-Job";
  static final String SEQ = "X-Soak-Seq";
  /** When the request reached the server (System.nanoTime of the soak's JVM). */
  static final String NANOS = "X-Soak-Nanos";
  private static final Pattern PROMPT = Pattern.compile("soak-(\\d{6})");
  private static final String MARKER_B64 = Base64.getEncoder().encodeToString(Images.MARKER);
  private static final AtomicLong SEQUENCE = new AtomicLong();
  /**
   * Whether status reads are redirected off-host too (on by default; {@code -Dsoak.pollRedirects=false}
   * turns it off). A refused redirect ends the wait, and the poller then cancels the job (finding F).
   */
  static final boolean POLL_REDIRECTS = Boolean.parseBoolean(System.getProperty("soak.pollRedirects", "true"));
  /** The execution time the RunPod stubs' completed answers report. */
  private static final String EXECUTION_TIME = "\"executionTime\":" + dev.imagegen.testkit.stubs.RunPodStubs.EXECUTION_MS;

  private final Protocol protocol;
  private final Ledger ledger;
  private final FaultPlan plan;
  private final long delayMillis;
  private final String retryAfterShort;
  private final String retryAfterLong;
  final Filter filter = new Filter();
  final Transformer transformer = new Transformer();

  FaultInjector(Protocol protocol, Ledger ledger, FaultPlan plan, long delayMillis, long retryAfterShortSeconds,
      long retryAfterLongSeconds) {
    this.protocol = protocol;
    this.ledger = ledger;
    this.plan = plan;
    this.delayMillis = delayMillis;
    this.retryAfterShort = Long.toString(retryAfterShortSeconds);
    this.retryAfterLong = Long.toString(retryAfterLongSeconds);
  }

  /** The generation a soak prompt names, or -1. */
  static int generationOf(@Nullable String text) {
    if (text == null) {
      return -1;
    }
    Matcher m = PROMPT.matcher(text);
    return m.find() ? Integer.parseInt(m.group(1)) : -1;
  }

  // ------------------------------------------------------------------------------ request side

  /** Maps job ids back to the stubs' constants and labels the request. */
  final class Filter implements StubRequestFilterV2 {
    @Override
    public String getName() {
      return "soak-filter-" + protocol.id;
    }

    @Override
    public RequestFilterAction filter(Request request, ServeEvent serveEvent) {
      try {
        return label(request);
      } catch (RuntimeException | Error e) {
        ledger.errors.add(e);
        throw e;
      }
    }

    private RequestFilterAction label(Request request) {
      String url = request.getUrl();
      Job job = null;
      List<String[]> swaps = new ArrayList<>();
      for (String token : protocol.tokens) {
        String head = token.substring(0, 8);
        String tail = token.substring(8);
        int at = url.indexOf(tail);
        while (at >= 8) {
          String prefix = url.substring(at - 8, at);
          Job j = prefix.equals(head) ? null : ledger.jobByPrefix.get(prefix);
          if (j != null) {
            job = j;
            swaps.add(new String[] {prefix + tail, token});
          }
          at = url.indexOf(tail, at + tail.length());
        }
      }
      Request rewritten = request;
      if (!swaps.isEmpty()) {
        rewritten = RequestWrapper.create().transformAbsoluteUrl(abs -> {
          String s = abs;
          for (String[] sw : swaps) {
            s = s.replace(sw[0], sw[1]);
          }
          return s;
        }).wrap(request);
      }
      Protocol.Call call = protocol.classify(rewritten, job != null);
      int gen = job != null ? job.gen : call == Protocol.Call.SUBMIT ? generationOf(request.getBodyAsString()) : -1;
      if (job != null) {
        job.referenced = true;
      }
      RequestWrapper.Builder b = RequestWrapper.create()
          .addHeader(CALL, call.name())
          .addHeader(GEN, Integer.toString(gen))
          .addHeader(SEQ, Long.toString(SEQUENCE.incrementAndGet()))
          .addHeader(NANOS, Long.toString(System.nanoTime()));
      if (job != null) {
        b.addHeader(JOB, job.id);
      }
      return RequestFilterAction.continueWith(b.wrap(rewritten));
    }
  }

  // ------------------------------------------------------------------------------ answer side

  /** Gives jobs their own ids, progress, fate and image, and injects faults. */
  final class Transformer implements ResponseTransformerV2 {
    @Override
    public String getName() {
      return "soak-faults-" + protocol.id;
    }

    @Override
    public boolean applyGlobally() {
      return true;
    }

    @Override
    public Response transform(Response response, ServeEvent event) {
      try {
        return answer(response, event);
      } catch (RuntimeException | Error e) {
        ledger.errors.add(e);
        throw e;
      }
    }

    private Response answer(Response response, ServeEvent event) {
      Request req = event.getRequest();
      String callName = req.getHeader(CALL);
      if (callName == null) {
        return response;
      }
      Protocol.Call call = Protocol.Call.valueOf(callName);
      String jobId = req.getHeader(JOB);
      Job job = jobId == null ? null : ledger.jobById.get(jobId);
      int gen = Integer.parseInt(req.getHeader(GEN));
      String eventId = event.getId().toString();
      requests.put(eventId, req);
      try {
        return answer(response, req, call, job, gen, eventId);
      } finally {
        requests.remove(eventId);
      }
    }

    private Response answer(Response response, Request req, Protocol.Call call, @Nullable Job job, int gen, String eventId) {
      if (ledger.draining && call != Protocol.Call.OTHER) {
        record(eventId, FaultKind.DOWN_503);
        return error(response, FaultKind.HTTP_503);
      }
      switch (call) {
        case SUBMIT:
          return protocol.async() ? asyncSubmit(response, eventId, gen) : syncSubmit(response, eventId, gen);
        case POLL:
          return job == null ? response : poll(response, eventId, job);
        case RESULT:
          return job == null ? response : result(response, eventId, job);
        case DOWNLOAD:
          return job == null ? response : download(response, eventId, job);
        case CANCEL:
          return cancel(response, eventId, job);
        default:
          return response;
      }
    }
  }

  private void record(String eventId, FaultKind f) {
    ledger.faultByEvent.put(eventId, f);
    ledger.count(f);
  }

  private @Nullable FaultKind decide(Protocol.Call call, String subject, boolean imageInAnswer) {
    int occ = ledger.occurrence(call + "|" + subject);
    return plan.pick(call, plan.random(protocol.id, call.name(), subject, occ), imageInAnswer);
  }

  /** The fault of a submit: the plan's, unless the server holds it (trial after the outage, or closing). */
  private @Nullable FaultKind submitFault(String subject, int gen, boolean imageInAnswer) {
    FaultKind f = decide(Protocol.Call.SUBMIT, subject, imageInAnswer);
    if (gen >= ledger.cleanSubmitsFromGen) {
      return null;
    }
    if (gen >= ledger.holdSubmitsFromGen && gen < ledger.holdSubmitsToGen) {
      return FaultKind.SUBMIT_HELD_AT_CLOSE;
    }
    if (ledger.trialHangs.get() > 0 && ledger.trialHangs.getAndDecrement() > 0) {
      return FaultKind.TRIAL_HANGS;
    }
    if (f == FaultKind.REDIRECT_OFF_HOST && ledger.redirectBase == null) {
      return null;
    }
    return f;
  }

  private Response asyncSubmit(Response response, String eventId, int gen) {
    int occ = ledger.occurrence("submit-count|" + gen);
    String subject = "g" + gen + "s" + occ;
    FaultKind f = submitFault(subject, gen, false);
    if (f == FaultKind.REDIRECT_OFF_HOST) {
      record(eventId, f);
      return redirect(response, 307, event(eventId));
    }
    if (f == FaultKind.SUBMIT_HELD_AT_CLOSE) {
      record(eventId, f);
      response = Response.Builder.like(response).but().incrementInitialDelay(ledger.hold(gen)).build();
      f = null;
    }
    if (f != null && !f.unknownOutcome) {
      record(eventId, f);
      return error(response, f); // refused: no job exists
    }
    if (response.getStatus() / 100 != 2) {
      return response;
    }
    SplittableRandom rnd = plan.random(protocol.id, "job", subject, 0);
    Job.Fate fate = plan.fate(rnd, protocol.hasRemoteCancel());
    int pending = plan.pendingPolls(rnd, protocol.slowPolls());
    long imageSeed = rnd.nextLong();
    boolean overrun = protocol.reportsGpuTime() && plan.gpuOverrun(plan.random(protocol.id, "gpu", subject, 0));
    if (overrun) {
      pending += 2 + plan.random(protocol.id, "gpu-polls", subject, 0).nextInt(5);
    }
    Job job = newJob(gen, eventId, fate, pending, imageSeed);
    job.gpuOverrun = overrun;
    if (overrun && fate == Job.Fate.DONE) {
      ledger.count(FaultKind.GPU_TIME_OVERRUN);
    }
    if (f != null) {
      countFate(job);
      record(eventId, f);
      job.acknowledged = false;
      return unknownOutcome(response, substitute(response.getBodyAsString(), job, null), f);
    }
    countFate(job);
    job.acknowledged = true;
    if (!protocol.submitAnswersStatus()) {
      return Response.Builder.like(response).but().body(substitute(response.getBodyAsString(), job, null)).build();
    }
    return statusAnswer(response, job, true);
  }

  private Job newJob(int gen, String eventId, Job.Fate fate, int pending, long imageSeed) {
    String head = protocol.tokens.get(0).substring(0, 8);
    while (true) {
      int n = ledger.jobSeq.incrementAndGet();
      String prefix = String.format("%08x", (n * 0x9E3779B1) ^ 0x2545F491);
      if (prefix.equals(head) || protocol.tokens.stream().anyMatch(t -> t.startsWith(prefix))) {
        continue;
      }
      String id = prefix + protocol.tokens.get(0).substring(8);
      Job job = new Job(protocol.id, gen, prefix, id, eventId, fate, pending, imageSeed);
      job.gated = ledger.gateJobs;
      ledger.jobByPrefix.put(prefix, job);
      ledger.jobById.put(id, job);
      ledger.jobBySubmitEvent.put(eventId, job);
      return job;
    }
  }

  private void countFate(Job job) {
    FaultKind k = faultOf(job.fate);
    if (k != null) {
      ledger.count(k);
    }
  }

  private static @Nullable FaultKind faultOf(Job.Fate fate) {
    return switch (fate) {
      case FAILED -> FaultKind.JOB_FAILED_REMOTELY;
      case CANCELLED_REMOTELY -> FaultKind.JOB_CANCELLED_REMOTELY;
      case NEVER -> FaultKind.JOB_NEVER_FINISHES;
      default -> null;
    };
  }

  /**
   * The status of a job: pending for its pending polls (for ever if it never finishes), then its
   * end. The state moves only when the answer goes out intact.
   */
  private Response statusAnswer(Response stub, Job job, boolean deliver) {
    int step = job.deliveredPending.get();
    boolean pending = job.gated ? job.heldRunning() : job.fate == Job.Fate.NEVER || step < job.pendingPolls;
    if (pending) {
      if (deliver) {
        job.deliveredPending.incrementAndGet();
      }
      return answer(stub, protocol.pending(step), job);
    }
    switch (job.fate) {
      case FAILED:
        if (deliver) {
          job.end = Job.End.FAILED;
        }
        return answer(stub, protocol.failed(), job);
      case CANCELLED_REMOTELY:
        if (deliver) {
          job.end = Job.End.CANCELLED_REMOTELY;
        }
        return answer(stub, protocol.remoteCancelled(), job);
      default:
        if (deliver) {
          job.end = Job.End.COMPLETED;
        }
        String body = stub.getBodyAsString();
        if (protocol.reportsGpuTime() && body.contains(EXECUTION_TIME)) {
          long age = (System.nanoTime() - job.createdNanos) / 1_000_000;
          long ms = job.gpuOverrun ? Math.max(1, age) : Math.min(Math.max(1, age), 400);
          body = body.replace(EXECUTION_TIME, "\"executionTime\":" + ms);
          if (deliver) {
            job.reportedExecMs = ms;
          }
        }
        boolean inline = body.contains(MARKER_B64);
        if (deliver && inline) {
          job.imageServed = true;
        }
        return Response.Builder.like(stub).but().body(substitute(body, job, null)).build();
    }
  }

  private Response answer(Response stub, Protocol.Answer a, Job job) {
    return Response.Builder.like(stub).but().status(a.status()).body(substitute(a.body(), job, null)).build();
  }

  private Response poll(Response response, String eventId, Job job) {
    Response r = pollAnswer(response, eventId, job);
    synchronized (job) {
      if (job.firstPollNanos == 0) {
        job.firstPollNanos = System.nanoTime();
      }
    }
    java.util.function.Consumer<Job> hook = ledger.onPoll;
    if (hook != null) {
      hook.accept(job);
    }
    return r;
  }

  private Response pollAnswer(Response response, String eventId, Job job) {
    if (job.gated && job.failPolls.get() > 0 && job.failPolls.getAndDecrement() > 0) {
      record(eventId, FaultKind.HTTP_503);
      return error(response, FaultKind.HTTP_503);
    }
    boolean doneWithInlineImage = job.fate == Job.Fate.DONE && job.deliveredPending.get() >= job.pendingPolls
        && response.getBodyAsString().contains(MARKER_B64);
    FaultKind f = decide(Protocol.Call.POLL, job.id, doneWithInlineImage);
    if (f == FaultKind.REDIRECT_OFF_HOST) {
      if (ledger.redirectBase == null || !POLL_REDIRECTS) {
        f = null;
      } else {
        record(eventId, f);
        return redirect(response, 302, event(eventId));
      }
    }
    if (f == FaultKind.IMAGE_CORRUPT || f == FaultKind.IMAGE_OVERSIZED || f == FaultKind.HUGE_INLINE_IMAGE) {
      record(eventId, f);
      job.end = Job.End.COMPLETED;
      byte[] broken = f == FaultKind.IMAGE_CORRUPT ? Images.CORRUPT : f == FaultKind.IMAGE_OVERSIZED ? Images.OVERSIZED
          : Images.HUGE;
      return Response.Builder.like(response).but().body(substitute(response.getBodyAsString(), job, broken)).build();
    }
    if (f != null && !f.unknownOutcome) {
      record(eventId, f);
      return error(response, f);
    }
    Response normal = statusAnswer(response, job, f == null);
    if (f != null) {
      record(eventId, f);
      return unknownOutcome(normal, normal.getBodyAsString(), f);
    }
    return normal;
  }

  private Response result(Response response, String eventId, Job job) {
    FaultKind f = decide(Protocol.Call.RESULT, job.id, false);
    Protocol.Answer failed = job.fate == Job.Fate.DONE ? null : protocol.failedResult();
    Response normal = failed != null ? answer(response, failed, job)
        : Response.Builder.like(response).but().body(substitute(response.getBodyAsString(), job, null)).build();
    if (f == null) {
      return normal;
    }
    record(eventId, f);
    return f.unknownOutcome ? unknownOutcome(normal, normal.getBodyAsString(), f) : error(response, f);
  }

  private Response download(Response response, String eventId, Job job) {
    FaultKind f = decide(Protocol.Call.DOWNLOAD, job.id, true);
    byte[] body = response.getBody();
    boolean isMarker = body != null && Arrays.equals(body, Images.MARKER);
    if (f == null) {
      if (isMarker) {
        job.imageServed = true;
        return Response.Builder.like(response).but().body(job.image()).build();
      }
      return response;
    }
    record(eventId, f);
    return switch (f) {
      case IMAGE_CORRUPT -> Response.Builder.like(response).but().body(Images.CORRUPT).build();
      case IMAGE_OVERSIZED -> Response.Builder.like(response).but().body(Images.OVERSIZED).build();
      case IMAGE_404 -> Response.Builder.like(response).but().status(404)
          .headers(HttpHeaders.noHeaders().plus(new HttpHeader("Content-Type", "application/xml")))
          .body("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not "
              + "exist.</Message></Error>").build();
      case RESET_AFTER_REQUEST, CLOSED_WITHOUT_ANSWER, DELAY_PAST_DEADLINE ->
          unknownOutcome(Response.Builder.like(response).but().body(isMarker ? job.image() : body).build(), null, f);
      default -> error(response, f);
    };
  }

  private Response cancel(Response response, String eventId, @Nullable Job job) {
    String subject = job == null ? "sync-" + eventId : job.id;
    FaultKind f = decide(Protocol.Call.CANCEL, subject, false);
    if (job != null) {
      job.cancelReceived = true;
    }
    Response normal = job == null ? response
        : Response.Builder.like(response).but().body(substitute(response.getBodyAsString(), job, null)).build();
    if (f == null) {
      return normal;
    }
    record(eventId, f);
    return f.unknownOutcome ? unknownOutcome(normal, normal.getBodyAsString(), f) : error(response, f);
  }

  private Response syncSubmit(Response response, String eventId, int gen) {
    int occ = ledger.occurrence("submit-count|" + gen);
    String subject = "g" + gen + "s" + occ;
    FaultKind f = submitFault(subject, gen, true);
    if (f == FaultKind.REDIRECT_OFF_HOST) {
      record(eventId, f);
      return redirect(response, 307, event(eventId));
    }
    long held = 0;
    if (f == FaultKind.SUBMIT_HELD_AT_CLOSE) {
      record(eventId, f);
      held = ledger.hold(gen);
      f = null;
    }
    boolean imageFault = f == FaultKind.IMAGE_CORRUPT || f == FaultKind.IMAGE_OVERSIZED || f == FaultKind.HUGE_INLINE_IMAGE;
    if (f != null && !f.unknownOutcome && !imageFault) {
      record(eventId, f);
      return error(response, f);
    }
    byte[] image = f == FaultKind.IMAGE_CORRUPT ? Images.CORRUPT : f == FaultKind.IMAGE_OVERSIZED ? Images.OVERSIZED
        : f == FaultKind.HUGE_INLINE_IMAGE ? Images.HUGE
        : Images.png(plan.random(protocol.id, "image", subject, 0).nextLong());
    Response normal;
    byte[] body = response.getBody();
    if (body != null && Arrays.equals(body, Images.MARKER)) {
      normal = Response.Builder.like(response).but().body(image).build();
    } else {
      String text = response.getBodyAsString();
      normal = Response.Builder.like(response).but()
          .body(text.replace(MARKER_B64, Base64.getEncoder().encodeToString(image))).build();
    }
    // the model takes a while: 0.5 to 2.5 s, as a blocking API holds the call while it samples
    long work = 500 + plan.random(protocol.id, "work", subject, 0).nextInt(2000);
    normal = Response.Builder.like(normal).but().incrementInitialDelay(work + held).build();
    if (f == null) {
      ledger.syncImages.add(new Ledger.SyncImage(gen, eventId, image));
      return normal;
    }
    record(eventId, f);
    if (imageFault) {
      return normal;
    }
    if (f == FaultKind.CREATED_THEN_5XX) {
      ledger.syncBilledUnanswered.put(eventId, gen);
    }
    return unknownOutcome(normal, normal.getBodyAsString(), f);
  }

  /** Replaces the job constants with the job's own ids, and the marker image with the job's (or other bytes). */
  private String substitute(String body, Job job, byte @Nullable [] imageOverride) {
    String s = body;
    for (String token : protocol.tokens) {
      s = s.replace(token, job.prefix + token.substring(8));
    }
    if (s.contains(MARKER_B64)) {
      s = s.replace(MARKER_B64, Base64.getEncoder().encodeToString(imageOverride != null ? imageOverride : job.image()));
    }
    return s;
  }

  // ------------------------------------------------------------------------------ faults

  /** An answer whose outcome the client cannot know: the request was read, the answer is lost. */
  private Response unknownOutcome(Response normal, @Nullable String text, FaultKind f) {
    return switch (f) {
      case RESET_AFTER_REQUEST -> Response.Builder.like(normal).but().fault(Fault.CONNECTION_RESET_BY_PEER).build();
      case CLOSED_WITHOUT_ANSWER -> Response.Builder.like(normal).but().fault(Fault.EMPTY_RESPONSE).build();
      case EMPTY_BODY -> Response.Builder.like(normal).but().body(new byte[0]).build();
      case MALFORMED_JSON -> {
        String t = text == null ? "{\"status\":" : text;
        yield Response.Builder.like(normal).but().body(t.substring(0, Math.max(1, t.length() / 2))).build();
      }
      case DELAY_PAST_DEADLINE, TRIAL_HANGS -> Response.Builder.like(normal).but().incrementInitialDelay(delayMillis).build();
      case CREATED_THEN_5XX -> {
        int pick = plan.random(protocol.id, "5xx", String.valueOf(text), 0).nextInt(3);
        yield error(normal, pick == 0 ? FaultKind.HTTP_500 : pick == 1 ? FaultKind.HTTP_502 : FaultKind.HTTP_503);
      }
      default -> throw new IllegalArgumentException(f.name());
    };
  }

  private final Map<String, Request> requests = new java.util.concurrent.ConcurrentHashMap<>();

  private Request event(String eventId) {
    return requests.get(eventId);
  }

  /** A redirect of the request to the same path on another host. */
  private Response redirect(Response like, int status, Request req) {
    String location = ledger.redirectBase + req.getUrl();
    HttpHeaders h = HttpHeaders.noHeaders().plus(new HttpHeader("Location", location))
        .plus(new HttpHeader("Content-Type", "text/html"));
    return Response.Builder.like(like).but().status(status).headers(h)
        .body(("<html><body>Moved: <a href=\"" + location + "\">here</a></body></html>").getBytes(StandardCharsets.UTF_8))
        .build();
  }

  /** An error answer: nothing was created. */
  private Response error(Response like, FaultKind f) {
    int status;
    String type;
    String body;
    String retryAfter = null;
    switch (f) {
      case HTTP_500 -> { status = 500; type = "text/plain"; body = "Internal Server Error"; }
      case HTTP_502 -> { status = 502; type = "text/html"; body = "<html><body><h1>502 Bad Gateway</h1></body></html>"; }
      case RATE_LIMITED_SHORT, RATE_LIMITED_LONG -> {
        status = 429;
        type = "application/json";
        retryAfter = f == FaultKind.RATE_LIMITED_SHORT ? retryAfterShort : retryAfterLong;
        body = "{\"detail\":\"Request was throttled.\"}";
      }
      default -> { status = 503; type = "text/plain"; body = "Service Unavailable"; }
    }
    HttpHeaders h = HttpHeaders.noHeaders().plus(new HttpHeader("Content-Type", type));
    if (retryAfter != null) {
      h = h.plus(new HttpHeader("Retry-After", retryAfter));
    }
    return Response.Builder.like(like).but().status(status).headers(h).body(body.getBytes(StandardCharsets.UTF_8)).build();
  }

  /** The fault kinds counted, by label. */
  static Map<FaultKind, Long> counts(Ledger l) {
    Map<FaultKind, Long> m = new java.util.EnumMap<>(FaultKind.class);
    l.counts.forEach((k, v) -> m.put(k, v.sum()));
    return m;
  }
}
