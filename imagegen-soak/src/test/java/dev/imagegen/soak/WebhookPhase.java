package dev.imagegen.soak;

import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;

import com.github.tomakehurst.wiremock.client.WireMock;
import com.github.tomakehurst.wiremock.stubbing.ServeEvent;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.WebhookReceiver;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testkit.KitLogs;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.jspecify.annotations.Nullable;

/**
 * The webhook phase: the attack on the webhook promises. One service with Replicate (Standard
 * Webhooks, an HMAC secret the test holds) and fal (Ed25519, a key set the soak's fal server
 * serves, signed with a key pair the test generates) configured with {@code webhook-url} and a
 * short safety-net poll ({@value #SAFETY_NET_MS} ms), {@value #PER_PROVIDER} generations per
 * provider. The servers give no fault (the deliveries are the faults) and hold every job running
 * until the test releases it, a seeded moment after its first status poll; a "webhook sender"
 * then delivers to {@code service.webhooks().handle(...)} as the job's seeded {@link Fate} says.
 * Everything sent and answered is recorded for {@link WebhookVerdict}.
 */
final class WebhookPhase {
  /** What the sender does for a job. */
  enum Fate {
    /** One signed delivery right after the job is done. */
    ON_TIME,
    /** No delivery until the safety-net poll ended the job; then the delivery, late. */
    LATE,
    /** The same delivery twice (same delivery id). */
    TWICE_SAME_ID,
    /** Two deliveries with different ids. */
    TWICE_NEW_ID,
    /** No delivery at all: the safety net must end it. */
    NEVER,
    /** A forged delivery (wrong signature, a body that names another image), then a good one. */
    FORGED_THEN_GOOD,
    /** A correctly signed delivery ten minutes old, then a good one. */
    STALE_THEN_GOOD,
    /** A signed delivery for a job that is not pending here, then the job's own. */
    NOT_PENDING_THEN_GOOD,
    /** A signed delivery before the job is done (its poll must say running), then a good one. */
    EARLY_THEN_GOOD,
    /** One signed delivery on time, whose poll is answered 503 once (then the job's status). */
    ON_TIME_POLL_FAILS
  }

  /** What a delivery was meant to be. */
  enum Kind { GOOD, DUPLICATE, FORGED, STALE, NOT_PENDING, EARLY, LATE }

  /** One delivery: what it was, when it was handed to the receiver and answered, and the answer. */
  record Delivery(String provider, int gen, String jobId, Kind kind, String deliveryId, long sentNanos, long answeredNanos,
      WebhookReceiver.Response answer) {}

  /** Generations per provider. */
  static final int PER_PROVIDER = 40;
  static final List<String> PROVIDERS = List.of("replicate", "fal");
  /** The safety-net poll interval of the phase (the service's {@code webhook-poll-interval}). */
  static final long SAFETY_NET_MS = 2000;
  /** The deadline of the phase's generations: far past the safety net. */
  static final Duration DEADLINE = Duration.ofSeconds(15);
  /** Between a refused (forged, stale, not-pending) delivery and the good one that follows. */
  static final long REFUSED_GAP_MS = 400;
  /** How long after a generation ended its late delivery is sent. */
  static final long LATE_AFTER_END_MS = 100;
  /** When an early delivery made no poll, its job is released this long after its first poll anyway. */
  static final long EARLY_FALLBACK_MS = 1500;
  static final String JWKS_PATH = "/.well-known/jwks.json";
  static final String HOOK = "https://app.example.test/hooks/";

  final long seed;
  final String label;
  final BiFunction<String, ImageProvider, ImageProvider> wrap;
  final Map<String, SoakServer> servers = new LinkedHashMap<>();
  final Map<String, String> keys = new LinkedHashMap<>();
  /** Replicate's signing key (raw) and the secret as configured ({@code whsec_} + base64). */
  final byte[] signingKey;
  final String webhookSecret;
  final KeyPair falKey;
  private final KeyPair stranger;
  /** Generation number to its fate, its provider, its response or error, and when it ended. */
  final Map<Integer, Fate> fates = new LinkedHashMap<>();
  final Map<Integer, String> providerOf = new LinkedHashMap<>();
  final Map<Integer, ImageGenerationResponse> responses = new ConcurrentHashMap<>();
  final Map<Integer, Throwable> errors = new ConcurrentHashMap<>();
  final Map<Integer, Long> endNanos = new ConcurrentHashMap<>();
  final List<Delivery> deliveries = new CopyOnWriteArrayList<>();
  /** Problems of the phase's own machinery (a sender that threw): the run proves nothing then. */
  final List<Throwable> problems = new CopyOnWriteArrayList<>();
  /** Captured log lines while the phase ran. */
  List<String> logLines = List.of();
  boolean logCapturing;
  long startNanos;
  long wallNanos;
  private final List<CompletableFuture<?>> sends = new CopyOnWriteArrayList<>();
  private final AtomicInteger msgSeq = new AtomicInteger();
  /** Generations whose job was polled at least once; when each early delivery went out. */
  private final Set<Integer> polled = ConcurrentHashMap.newKeySet();
  private final Map<Integer, Long> earlySent = new ConcurrentHashMap<>();
  private @Nullable ScheduledExecutorService timer;
  private @Nullable ImageGenerationService service;

  private WebhookPhase(long seed, String label, BiFunction<String, ImageProvider, ImageProvider> wrap) throws Exception {
    this.seed = seed;
    this.label = label;
    this.wrap = wrap;
    SplittableRandom r = new SplittableRandom(seed ^ 0x3eb4_00c5L);
    signingKey = new byte[32];
    for (int i = 0; i < signingKey.length; i++) {
      signingKey[i] = (byte) r.nextInt(256);
    }
    webhookSecret = "whsec_" + Base64.getEncoder().encodeToString(signingKey);
    KeyPairGenerator g = KeyPairGenerator.getInstance("Ed25519");
    falKey = g.generateKeyPair();
    stranger = g.generateKeyPair();
  }

  /** Runs the phase to its end (every generation answered, every delivery sent, the servers quiet). */
  static WebhookPhase run(long seed, String label, BiFunction<String, ImageProvider, ImageProvider> wrap) throws Exception {
    WebhookPhase p = new WebhookPhase(seed, label, wrap);
    try {
      p.execute();
    } finally {
      if (p.service != null) {
        p.service.close();
      }
      if (p.timer != null) {
        p.timer.shutdownNow();
      }
      for (SoakServer s : p.servers.values()) {
        s.close();
      }
    }
    return p;
  }

  /** Fails when the phase's own machinery broke (then its invariants say nothing). */
  void assertSound() {
    if (!problems.isEmpty()) {
      throw new AssertionError("the webhook phase's sender failed " + problems.size() + " time(s)", problems.get(0));
    }
    for (SoakServer s : servers.values()) {
      if (!s.ledger.errors.isEmpty()) {
        throw new AssertionError("the webhook phase's " + s.provider + " server failed; the run proves nothing",
            s.ledger.errors.get(0));
      }
    }
  }

  private void execute() throws Exception {
    FaultPlan clean = new FaultPlan(seed, 0); // no fault: the deliveries are the faults
    for (String id : PROVIDERS) {
      SoakServer s = new SoakServer(id, clean, DEADLINE, 1, 5);
      s.ledger.gateJobs = true;
      servers.put(id, s);
      keys.put(id, "SOAK-SECRET-" + id + "-" + Long.toHexString(new SplittableRandom(seed ^ (31L * id.hashCode())).nextLong()));
    }
    // fal's key set: another key of fal's and the one that signs; the forger's key is in no set
    KeyPair other = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    servers.get("fal").stub(get(urlPathEqualTo(JWKS_PATH)).willReturn(WireMock.okJson(jwks(other, falKey))));
    AtomicInteger threads = new AtomicInteger();
    ScheduledExecutorService t = Executors.newScheduledThreadPool(4, r -> {
      Thread th = new Thread(r, "soak-webhook-sender-" + threads.incrementAndGet());
      th.setDaemon(true);
      return th;
    });
    timer = t;
    // each job's fate: seeded, an equal share of each, shuffled per provider
    int gen = 0;
    for (String id : PROVIDERS) {
      List<Fate> deck = new ArrayList<>();
      while (deck.size() < PER_PROVIDER) {
        deck.addAll(Arrays.asList(Fate.values()));
      }
      deck = new ArrayList<>(deck.subList(0, PER_PROVIDER));
      Collections.shuffle(deck, new java.util.Random(seed * 7 + id.hashCode()));
      for (Fate f : deck) {
        fates.put(gen, f);
        providerOf.put(gen, id);
        gen++;
      }
    }
    Map<String, ImageProviderFactory> factories = new LinkedHashMap<>();
    for (ImageProviderFactory f : ServiceLoader.load(ImageProviderFactory.class)) {
      factories.put(f.id(), f);
    }
    ImageGenerationService.Builder b = ImageGenerationService.builder()
        .retryBackoff(Duration.ofMillis(20), Duration.ofMillis(200))
        .maxRetries(2)
        .defaultTimeout(DEADLINE);
    for (String id : PROVIDERS) {
      ProviderConfig config = config(id, factories.get(id));
      b.provider(wrap.apply(id, factories.get(id).create(config)), config);
    }
    ImageGenerationService svc = b.build();
    service = svc;
    for (SoakServer s : servers.values()) {
      s.ledger.onPoll = job -> {
        try {
          onPoll(job);
        } catch (RuntimeException | Error e) {
          problems.add(e);
        }
      };
    }
    logCapturing = KitLogs.capturing();
    long mark = KitLogs.mark();
    startNanos = System.nanoTime();
    List<CompletableFuture<ImageGenerationResponse>> futures = new ArrayList<>();
    for (Map.Entry<Integer, String> e : providerOf.entrySet()) {
      int n = e.getKey();
      Gen g = new Gen(n, Gen.Mode.ASYNC, DEADLINE, null, 0);
      CompletableFuture<ImageGenerationResponse> f =
          svc.generateAsync(ImageGenerationRequest.builder().prompt(g.prompt()).timeout(DEADLINE).build(), e.getValue());
      futures.add(f.whenComplete((r, x) -> ended(n, r, x))); // done once ended() ran (a late delivery is scheduled)
    }
    CompletableFuture.allOf(futures.toArray(new CompletableFuture<?>[0])).handle((x, y) -> null)
        .get(DEADLINE.toMillis() + 10_000, TimeUnit.MILLISECONDS);
    // the late deliveries follow the ends; then the servers must stay quiet (no poll after a late one)
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < until) {
      List<CompletableFuture<?>> now = new ArrayList<>(sends);
      CompletableFuture.allOf(now.toArray(new CompletableFuture<?>[0])).handle((x, y) -> null).get(10, TimeUnit.SECONDS);
      if (now.size() == sends.size()) {
        break;
      }
    }
    wallNanos = System.nanoTime() - startNanos;
    settle();
    logLines = KitLogs.since(mark);
  }

  private ProviderConfig config(String id, ImageProviderFactory f) {
    SoakServer server = servers.get(id);
    ProviderConfig.Builder c = ProviderConfig.builder(id)
        .baseUrl(server.baseUrl() + server.protocol.stubs.basePath())
        .apiKey(keys.get(id))
        .set("poll-interval", Math.max(100, server.protocol.stubs.minPollInterval().toMillis()) + "ms")
        .set("max-image-bytes", Integer.toString(Images.MAX_IMAGE_BYTES))
        .set("timeout", "12s")
        .set("download-timeout", "5s")
        .set("price-per-image", SoakRun.PRICES.get(id).toPlainString())
        .set("webhook-url", HOOK + id)
        .set("webhook-poll-interval", SAFETY_NET_MS + "ms");
    server.protocol.stubs.extraConfig().forEach((k, v) -> {
      if (!k.equals("retry-create-on-server-error")) {
        c.set(k, v);
      }
    });
    if (id.equals("replicate")) {
      c.set("webhook-secret", webhookSecret);
    } else {
      c.set("webhook-jwks-url", server.baseUrl() + JWKS_PATH);
    }
    return c.build().withDefaults(f.defaults());
  }

  private void ended(int gen, @Nullable ImageGenerationResponse r, @Nullable Throwable e) {
    endNanos.putIfAbsent(gen, System.nanoTime());
    if (r != null) {
      responses.put(gen, r);
    } else if (e != null) {
      errors.put(gen, e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e);
    }
    if (fates.get(gen) == Fate.LATE) {
      Job job = jobOf(gen);
      if (job != null) {
        later(LATE_AFTER_END_MS, () -> deliver(job, Kind.LATE, null, 0, 0));
      }
    }
  }

  /**
   * A status poll of a job reached its server (and was answered). At the first (answered running)
   * the job's release is scheduled a seeded moment later, with the deliveries its fate says around
   * that moment; an early delivery's job is released by the poll that delivery makes (its answer
   * already said running), or after {@value #EARLY_FALLBACK_MS} ms when none comes.
   */
  private void onPoll(Job job) {
    Fate fate = fates.get(job.gen);
    if (fate == null) {
      return;
    }
    if (!polled.add(job.gen)) {
      Long early = earlySent.get(job.gen);
      if (fate == Fate.EARLY_THEN_GOOD && early != null && System.nanoTime() > early) {
        releaseThenDeliver(job);
      }
      return;
    }
    SplittableRandom r = new SplittableRandom(seed * 1_000_003L + job.gen);
    long release = 150 + r.nextInt(250);
    long at = release + r.nextInt(30);
    switch (fate) {
      case ON_TIME -> later(at, () -> deliver(job, Kind.GOOD, null, 0, 0));
      case LATE, NEVER -> { }
      case ON_TIME_POLL_FAILS -> {
        job.failPolls.set(1); // the next poll, the delivery's, is answered 503 once
        later(at, () -> deliver(job, Kind.GOOD, null, 0, 0));
      }
      case TWICE_SAME_ID -> {
        String id = "msg_" + job.gen + "_" + msgSeq.incrementAndGet();
        long ts = Instant.now().getEpochSecond();
        later(at, () -> deliver(job, Kind.GOOD, id, ts, 0));
        later(at + r.nextInt(25), () -> deliver(job, Kind.DUPLICATE, id, ts, 0));
      }
      case TWICE_NEW_ID -> {
        later(at, () -> deliver(job, Kind.GOOD, null, 0, 0));
        later(at + r.nextInt(25), () -> deliver(job, Kind.GOOD, null, 0, 1));
      }
      case FORGED_THEN_GOOD -> {
        later(at, () -> deliver(job, Kind.FORGED, null, 0, 0));
        later(at + REFUSED_GAP_MS, () -> deliver(job, Kind.GOOD, null, 0, 0));
      }
      case STALE_THEN_GOOD -> {
        later(at, () -> deliver(job, Kind.STALE, null, 0, 0));
        later(at + REFUSED_GAP_MS, () -> deliver(job, Kind.GOOD, null, 0, 0));
      }
      case NOT_PENDING_THEN_GOOD -> {
        later(at, () -> deliver(job, Kind.NOT_PENDING, null, 0, 0));
        later(at + REFUSED_GAP_MS, () -> deliver(job, Kind.GOOD, null, 0, 0));
      }
      case EARLY_THEN_GOOD -> {
        // fal's delivery id is its request id and timestamp: the early one is stamped a second before
        later(50, () -> {
          earlySent.put(job.gen, System.nanoTime());
          deliver(job, Kind.EARLY, null, 0, -1);
        });
        later(EARLY_FALLBACK_MS, () -> releaseThenDeliver(job));
      }
    }
    if (fate != Fate.EARLY_THEN_GOOD) {
      later(release, job::release);
    }
  }

  /** Releases an early-delivered job (once) and sends its good delivery a seeded moment later. */
  private void releaseThenDeliver(Job job) {
    synchronized (job) {
      if (job.releasedNanos != 0) {
        return;
      }
      job.release();
    }
    later(new SplittableRandom(seed * 1_000_003L + job.gen).nextInt(30), () -> deliver(job, Kind.GOOD, null, 0, 1));
  }

  private void later(long ms, Runnable action) {
    ScheduledExecutorService t = timer;
    CompletableFuture<Void> f = new CompletableFuture<>();
    sends.add(f);
    t.schedule(() -> {
      try {
        action.run();
      } catch (RuntimeException | Error e) {
        problems.add(e);
      } finally {
        f.complete(null);
      }
    }, ms, TimeUnit.MILLISECONDS);
  }

  private @Nullable Job jobOf(int gen) {
    for (Job j : servers.get(providerOf.get(gen)).ledger.jobs()) {
      if (j.gen == gen) {
        return j;
      }
    }
    return null;
  }

  /**
   * Sends one delivery for a job to the receiver and records it.
   *
   * @param fixedId the delivery id to use (Replicate; a duplicate), or null for a new one
   * @param fixedTs the timestamp to use (a duplicate), or 0 for now
   * @param tsShift seconds added to now for the timestamp (fal's delivery id is request id and timestamp)
   */
  private void deliver(Job job, Kind kind, @Nullable String fixedId, long fixedTs, long tsShift) {
    ImageGenerationService svc = service;
    String provider = job.provider;
    long ts = fixedTs != 0 ? fixedTs : Instant.now().getEpochSecond() + tsShift;
    if (kind == Kind.STALE) {
      ts = Instant.now().getEpochSecond() - 600;
    }
    String named = kind == Kind.NOT_PENDING ? "notpending" + job.gen + job.id.substring(Math.min(12, job.id.length()))
        : job.id;
    String body = body(provider, named, kind == Kind.FORGED);
    String deliveryId;
    Map<String, List<String>> headers;
    try {
      if (provider.equals("replicate")) {
        deliveryId = fixedId != null ? fixedId : "msg_" + job.gen + "_" + msgSeq.incrementAndGet();
        byte[] key = kind == Kind.FORGED ? "not replicate's key, a forger's!".getBytes(StandardCharsets.UTF_8) : signingKey;
        headers = Map.of("webhook-id", List.of(deliveryId), "webhook-timestamp", List.of(Long.toString(ts)),
            "webhook-signature", List.of(hmac(key, deliveryId, ts, body)), "Content-Type", List.of("application/json"));
      } else {
        deliveryId = named + "/" + ts;
        headers = Map.of("X-Fal-Webhook-Request-Id", List.of(named), "X-Fal-Webhook-User-Id", List.of("soak-user"),
            "X-Fal-Webhook-Timestamp", List.of(Long.toString(ts)),
            "X-Fal-Webhook-Signature", List.of(ed25519(kind == Kind.FORGED ? stranger : falKey, named, ts, body)),
            "Content-Type", List.of("application/json"));
      }
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
    long sent = System.nanoTime();
    WebhookReceiver.Response answer = svc.webhooks().handle(provider, headers, body.getBytes(StandardCharsets.UTF_8));
    deliveries.add(new Delivery(provider, job.gen, job.id, kind, deliveryId, sent, System.nanoTime(), answer));
  }

  /** The delivery's body: the provider's completed shape; a forged one names an image of the forger's. */
  private static String body(String provider, String jobId, boolean forged) {
    String image = forged ? "http://127.0.0.1:9/forged/not-your-image.png" : "https://example.test/out-0.png";
    if (provider.equals("replicate")) {
      return "{\"id\":\"" + jobId + "\",\"status\":\"succeeded\",\"output\":[\"" + image + "\"],\"error\":null}";
    }
    return "{\"request_id\":\"" + jobId + "\",\"gateway_request_id\":\"" + jobId + "\",\"status\":\"OK\","
        + "\"payload\":{\"images\":[{\"url\":\"" + image + "\"}],\"seed\":1}}";
  }

  static String hmac(byte[] key, String id, long ts, String body) throws java.security.GeneralSecurityException {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(key, "HmacSHA256"));
    return "v1," + Base64.getEncoder().encodeToString(mac.doFinal((id + "." + ts + "." + body).getBytes(StandardCharsets.UTF_8)));
  }

  static String ed25519(KeyPair key, String requestId, long ts, String body) throws java.security.GeneralSecurityException {
    String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body.getBytes(StandardCharsets.UTF_8)));
    Signature s = Signature.getInstance("Ed25519");
    s.initSign(key.getPrivate());
    s.update((requestId + "\n" + "soak-user" + "\n" + ts + "\n" + sha).getBytes(StandardCharsets.UTF_8));
    return HexFormat.of().formatHex(s.sign());
  }

  /** A JSON Web Key Set of Ed25519 public keys, as fal publishes it. */
  static String jwks(KeyPair... pairs) {
    StringBuilder b = new StringBuilder("{\"keys\":[");
    for (int i = 0; i < pairs.length; i++) {
      byte[] spki = pairs[i].getPublic().getEncoded();
      byte[] raw = Arrays.copyOfRange(spki, spki.length - 32, spki.length);
      b.append(i == 0 ? "" : ",").append("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"soak-").append(i).append("\",\"x\":\"")
          .append(Base64.getUrlEncoder().withoutPadding().encodeToString(raw)).append("\"}");
    }
    return b.append("]}").toString();
  }

  /** Waits until the servers saw no request for a second (a late delivery's poll would come at once). */
  private void settle() throws InterruptedException {
    SoakServer.settle(servers.values());
  }

  /** The status polls each job received, by job id: when each reached its server (System.nanoTime). */
  Map<String, List<Long>> pollsByJob() {
    Map<String, List<Long>> m = new LinkedHashMap<>();
    for (SoakServer s : servers.values()) {
      for (ServeEvent e : s.journal()) {
        String call = e.getRequest().getHeader(FaultInjector.CALL);
        String job = e.getRequest().getHeader(FaultInjector.JOB);
        if ("POLL".equals(call) && job != null) {
          m.computeIfAbsent(job, k -> new ArrayList<>()).add(Long.parseLong(e.getRequest().getHeader(FaultInjector.NANOS)));
        }
      }
    }
    m.values().forEach(Collections::sort);
    return m;
  }

  /** Every job the phase's servers created. */
  List<Job> jobs() {
    List<Job> out = new ArrayList<>();
    servers.values().forEach(s -> out.addAll(s.ledger.jobs()));
    out.sort(java.util.Comparator.comparingInt(j -> j.gen));
    return out;
  }

  /** The secrets the phase gave the service (none may appear in a log line or an answer). */
  Map<String, String> secrets() {
    Map<String, String> m = new LinkedHashMap<>();
    keys.forEach((id, k) -> {
      m.put(id + " API key", k);
      m.put(id + " API key (its random part)", k.substring(k.lastIndexOf('-') + 1));
    });
    m.put("replicate webhook secret", webhookSecret);
    m.put("replicate webhook secret (its base64 key)", webhookSecret.substring("whsec_".length()));
    m.put("fal's private key", Base64.getEncoder().encodeToString(falKey.getPrivate().getEncoded()));
    return m;
  }
}
