package dev.imagegen.provider.replicate;

import com.fasterxml.jackson.databind.JsonNode;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.PollResult;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Reconciliation;
import dev.imagegen.spi.RemoteJob;
import dev.imagegen.spi.Secret;
import dev.imagegen.spi.SoftInput;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Replicate predictions. A generation creates a prediction (official models through
 * {@code POST /models/{owner}/{name}/predictions}, others through {@code POST /predictions} with
 * their version) holding the answer for up to {@code wait-seconds} ({@code Prefer: wait=N}); a
 * prediction still {@code starting} or {@code processing} after that is polled at its
 * {@code urls.get}, and cancelled at its {@code urls.cancel} when the attempt is cancelled. Output
 * URLs are downloaded at once (they expire after an hour). A create whose answer was lost is
 * looked up in List predictions ({@link #reconcile}). Thread-safe; holds no thread while waiting.
 */
final class ReplicateProvider implements ImageProvider {
  /** The provider id. */
  static final String ID = "replicate";
  /** Replicate's public API. */
  static final String DEFAULT_BASE_URL = "https://api.replicate.com/v1";
  /** Config key: seconds the create call asks Replicate to hold its answer ({@code Prefer: wait=N}), 0..60; 0 = poll. */
  static final String WAIT_SECONDS = "wait-seconds";
  /** Config key: the model used when a request names none. */
  static final String DEFAULT_MODEL = "default-model";
  /** Config key: comma-separated models offered (aliases or native ids). */
  static final String MODELS = "models";
  /** Config key: whether the create sends {@code Cancel-After} with the time left (default true). */
  static final String CANCEL_AFTER = "cancel-after";
  /** Config key: whether a 5xx answer to a create may be retried on Replicate (default false: fail over). */
  static final String RETRY_CREATE_ON_SERVER_ERROR = "retry-create-on-server-error";
  /**
   * Config key: how long {@link #reconcile} waits before listing predictions, so that a prediction
   * the lost create made has time to show up in the list (default 2 s; at most half the time left).
   */
  static final String RECONCILE_DELAY = "reconcile-delay";
  static final Duration DEFAULT_RECONCILE_DELAY = Duration.ofSeconds(2);
  /**
   * How much earlier than the create was sent a prediction's {@code created_at} may be and still be
   * that create's: the clocks of this host and of Replicate may differ by a few seconds.
   */
  static final Duration CLOCK_SKEW = Duration.ofSeconds(5);
  /** How many prediction ids this provider remembers as created by answered creates (or adopted). */
  private static final int KNOWN_IDS = 4096;
  static final int DEFAULT_WAIT_SECONDS = 10;
  static final String DEFAULT_MODELS = "flux-schnell,sdxl";
  /** Polls: first after 0.5 s, then every 1 s growing to 5 s; never faster than 100 ms (no documented floor). */
  static final PollPolicy POLL =
      new PollPolicy(Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(5), 1.5, Duration.ofMillis(100), 8);

  private static final Pattern SEED_IN_LOGS = Pattern.compile("(?i)using seed:?\\s*(\\d{1,19})");
  private static final Pattern PERCENT_IN_LOGS = Pattern.compile("(\\d{1,3})%\\|");
  private static final Pattern SAFE_ID = Pattern.compile("[A-Za-z0-9_-]+");

  private final URI base;
  private final Secret token;
  private final int waitSeconds;
  private final boolean cancelAfter;
  private final boolean retryCreateOnServerError;
  private final String defaultModel;
  private final List<String> offered;
  private final ProviderCapabilities capabilities;
  private final ReplicatePrices prices;
  private final Duration reconcileDelay;
  /** The create last sent for each generation whose outcome may still be reconciled, by generation id. */
  private final Map<String, Submitted> submits = new ConcurrentHashMap<>();
  /**
   * Ids of predictions whose create was answered (or that a reconcile adopted), most recent last:
   * none of them can be the prediction of a create whose answer was lost. Guarded by itself.
   */
  private final Map<String, Boolean> known = new LinkedHashMap<>(64, 0.75f, false) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
      return size() > KNOWN_IDS;
    }
  };

  ReplicateProvider(ProviderConfig config) {
    this.base = config.baseUrl(DEFAULT_BASE_URL);
    String scheme = base.getScheme() == null ? "" : base.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("https") && !scheme.equals("http") || base.getHost() == null) {
      throw new IllegalStateException(ID + ": base-url must be an http(s) URL, was: " + base);
    }
    String key = config.require(ProviderConfig.API_KEY).strip();
    if (key.isEmpty()) {
      throw new IllegalStateException(ID + ": 'api-key' is empty");
    }
    this.token = Secret.of(key);
    this.waitSeconds = config.intValue(WAIT_SECONDS, DEFAULT_WAIT_SECONDS);
    if (waitSeconds < 0 || waitSeconds > 60) {
      throw new IllegalStateException(ID + ": '" + WAIT_SECONDS + "' must be between 0 and 60 (Replicate holds a "
          + "create at most 60 s), was " + waitSeconds);
    }
    this.cancelAfter = config.bool(CANCEL_AFTER, true);
    this.retryCreateOnServerError = config.bool(RETRY_CREATE_ON_SERVER_ERROR, false);
    this.reconcileDelay = config.duration(RECONCILE_DELAY, DEFAULT_RECONCILE_DELAY);
    if (reconcileDelay.isNegative()) {
      throw new IllegalStateException(ID + ": '" + RECONCILE_DELAY + "' must not be negative, was " + reconcileDelay);
    }
    this.defaultModel = config.get(DEFAULT_MODEL).map(String::strip).orElse("flux-schnell");
    if (ReplicateModels.tryResolve(defaultModel) == null) {
      throw new IllegalStateException(ID + ": '" + DEFAULT_MODEL + "' is not a Replicate model: " + defaultModel);
    }
    Set<String> names = new LinkedHashSet<>();
    for (String m : config.get(MODELS).orElse(DEFAULT_MODELS).split(",")) {
      if (m.isBlank()) {
        continue;
      }
      if (ReplicateModels.tryResolve(m.strip()) == null) {
        throw new IllegalStateException(ID + ": '" + MODELS + "' names something that is not a Replicate model: " + m.strip());
      }
      names.add(m.strip());
    }
    names.add(defaultModel);
    this.offered = List.copyOf(names);
    Set<String> accepted = new LinkedHashSet<>();
    for (String m : offered) {
      ReplicateModels.Target t = ReplicateModels.tryResolve(m);
      accepted.add(m);
      if (t != null) {
        accepted.add(t.displayName());
        if (t.alias() != null) {
          accepted.add(t.alias());
        }
        if (t.model() != null && (t.official() || t.family() == ReplicateModels.Family.SDXL)) {
          accepted.add(t.model());
        }
      }
    }
    this.capabilities = ProviderCapabilities.builder()
        .models(accepted)
        .anyModel(true)
        .sizes(64, 2048, 8)
        .maxSteps(500)
        .negativePrompt(true)
        .modelInputs(r -> ReplicateModels.ignoredInputs(r.model(), defaultModel))
        .seed(true)
        .img2img(true)
        .mask(true)
        .maxReferenceImages(0)
        .maxImagesPerRequest(4)
        .loras(false)
        .queued(true)
        .cancellable(true)
        .free(false)
        .build();
    this.prices = new ReplicatePrices(config, defaultModel);
  }

  @Override
  public String id() {
    return ID;
  }

  @Override
  public ProviderCapabilities capabilities() {
    return capabilities;
  }

  @Override
  public CostModel costModel() {
    return prices;
  }

  @Override
  public List<ModelInfo> models() {
    List<ModelInfo> out = new ArrayList<>();
    for (String m : offered) {
      ReplicateModels.Target t = ReplicateModels.tryResolve(m);
      if (t == null) {
        continue;
      }
      String description;
      switch (t.family()) {
        case FLUX_SCHNELL:
          description = "FLUX.1 [schnell], official model; $0.003 per image";
          break;
        case SDXL:
          description = "Stable Diffusion XL, community model by version; billed by GPU time";
          break;
        default:
          description = t.official() ? "official model" : "model by version; billed by GPU time";
          break;
      }
      out.add(new ModelInfo(ID, t.displayName(), t.alias() == null ? List.of() : List.of(t.alias()), description));
    }
    return out;
  }

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    Run run;
    try {
      run = new Run(request, ctx);
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    return run.start().handle((r, e) -> {
      ImageGenerationException x = e == null ? null : unwrap(e);
      if (!(x instanceof ProviderUnavailableException pu && pu.outcomeUnknown())) {
        run.forgetSubmit(); // the create's outcome is known: nothing to reconcile
      }
      if (x == null) {
        return r;
      }
      throw new CompletionException(x);
    });
  }

  /**
   * {@code GET /account}: 200 is up (the account's name in the message), 401 a refused token.
   * Never completes exceptionally.
   */
  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext c) {
    long t0 = System.nanoTime();
    CompletableFuture<HttpResult> sent;
    try {
      HttpRequest req = c.http().request(ProviderHttp.join(base, "/account")).header("Authorization", auth()).GET().build();
      sent = c.http().send(req, 1024 * 1024);
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    return sent.handle((r, e) -> {
      Duration latency = Duration.ofNanos(System.nanoTime() - t0);
      if (e != null) {
        Throwable x = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        String msg = x instanceof ImageGenerationException ? x.getMessage() : c.redactor().redact(x.toString());
        return new ProviderHealth(ID, ProviderHealth.State.DOWN, latency, msg, null, null);
      }
      if (r.isSuccess()) {
        ReplicateWire.Account a = null;
        try {
          a = c.json().readValue(r.body(), ReplicateWire.Account.class);
        } catch (java.io.IOException | RuntimeException ignored) {
          // a 200 is enough: the token was accepted
        }
        String who = a == null || a.username() == null ? "token accepted"
            : "account " + a.username() + (a.type() == null ? "" : " (" + a.type() + ")");
        return new ProviderHealth(ID, ProviderHealth.State.UP, latency, who, null, null);
      }
      ImageGenerationException x = c.http().mapError(r);
      ProviderHealth.State state = r.status() == 401 || r.status() == 403 ? ProviderHealth.State.AUTH_FAILED
          : r.status() == 429 || r.status() == 402 ? ProviderHealth.State.DEGRADED : ProviderHealth.State.DOWN;
      return new ProviderHealth(ID, state, latency, x.getMessage(), null, null);
    });
  }

  /**
   * Looks up the prediction a create whose answer was lost may have made. Replicate documents no
   * idempotency key, but List predictions ({@code GET /predictions}, most recent first) shows every
   * prediction of the account with its {@code model}, {@code version}, {@code source},
   * {@code created_at} and the {@code input} it was created with. After a short settling delay
   * ({@value #RECONCILE_DELAY}), the first page is read (with {@code created_after} a little before
   * the create was sent), and the next one at most once when the first does not reach back that
   * far. A prediction is the create's when it has the create's model (or version), source
   * {@code api}, was created no earlier than {@link #CLOCK_SKEW} before the create was sent, is not
   * one this provider already knows, and echoes exactly the input fields the create sent (numbers
   * by value; file inputs sent as data URIs only need to be present: Replicate may echo them as
   * file URLs). One that lacks its input or creation time, or echoes the fields sent plus others,
   * might be the create's.
   *
   * <ul>
   *   <li>exactly one such prediction, and none that might be: it is adopted (registered for
   *       cancellation, waited for like a created one): {@code FOUND} with its images;
   *       {@code CANCELLED} when it ended {@code canceled} or {@code aborted}; {@code UNKNOWN}
   *       when it failed;</li>
   *   <li>none, on a listing that reaches back before the create: {@code NOT_SUBMITTED}, so the
   *       service may create it again;</li>
   *   <li>several, one that might be, a listing that does not reach back far enough in two pages,
   *       or a listing that fails (any error, 404 included, or the deadline):
   *       {@code UNKNOWN}, the attempt stops as possibly billed.</li>
   * </ul>
   */
  @Override
  public CompletableFuture<Reconciliation> reconcile(ImageGenerationRequest request, GenerationContext context) {
    Submitted sent = submits.remove(context.generationId());
    if (sent == null) {
      context.log().warn("{}: a prediction create got no answer and was not recorded, so it cannot be looked up; it is not "
          + "resubmitted and may be billed (check https://replicate.com/predictions)", ID);
      return CompletableFuture.completedFuture(Reconciliation.unknown());
    }
    CompletableFuture<Reconciliation> found;
    try {
      found = new Run(request, context).reconcile(sent);
    } catch (RuntimeException e) {
      found = CompletableFuture.failedFuture(e);
    }
    return found.exceptionally(e -> {
      if (!context.isCancelled()) {
        context.log().warn("{}: the prediction create for {} got no answer and List predictions could not settle it ({}); it "
            + "is not resubmitted and may be billed (check https://replicate.com/predictions)", ID,
            sent.target().displayName(), unwrap(e).getMessage());
      }
      return Reconciliation.unknown();
    });
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return ReplicateErrors.map(response, context.json(), retryCreateOnServerError);
  }

  @Override
  public String toString() {
    return "ReplicateProvider[" + base + "]";
  }

  private String auth() {
    return "Bearer " + token.reveal();
  }

  /** {@code given} when it lies under the configured base URL (same origin), else the base URL plus {@code path}. */
  private URI under(@Nullable String given, String path) {
    URI u = within(given);
    return u != null ? u : ProviderHttp.join(base, path);
  }

  /** {@code given} when it is a URL under the configured base URL (same origin), else null. */
  private @Nullable URI within(@Nullable String given) {
    if (given == null || given.isBlank()) {
      return null;
    }
    try {
      URI u = URI.create(given.strip());
      if (u.getScheme() != null && u.getScheme().equalsIgnoreCase(base.getScheme()) && u.getHost() != null
          && u.getHost().equalsIgnoreCase(base.getHost()) && port(u) == port(base) && u.getPath() != null
          && u.getPath().startsWith(base.getPath() == null ? "" : base.getPath())) {
        return u;
      }
    } catch (IllegalArgumentException e) {
      // not a URL
    }
    return null;
  }

  /** Remembers a prediction as accounted for; false when it already was. */
  private boolean claim(String predictionId) {
    synchronized (known) {
      return known.put(predictionId, Boolean.TRUE) == null;
    }
  }

  private boolean isKnown(String predictionId) {
    synchronized (known) {
      return known.containsKey(predictionId);
    }
  }

  /** Records the create about to be sent, dropping records whose generation's deadline has passed. */
  private void recordSubmit(String generationId, Submitted s) {
    Instant now = Instant.now();
    for (Iterator<Submitted> it = submits.values().iterator(); it.hasNext();) {
      if (it.next().deadline().isBefore(now)) {
        it.remove();
      }
    }
    submits.put(generationId, s);
  }

  /**
   * A create as it was sent, for {@link #reconcile}.
   *
   * @param sentAt when it was about to be sent (this host's clock)
   * @param deadline the generation's deadline, after which the record is dropped
   * @param target the model it created
   * @param input the input it sent, as JSON
   */
  private record Submitted(Instant sentAt, Instant deadline, ReplicateModels.Target target, JsonNode input) {}

  /** How a listed prediction relates to the create being reconciled. */
  private enum Fit {
    /** Certainly another prediction. */
    OTHER,
    /**
     * Could be the create's: its input or creation time is missing, or its input holds every field
     * sent and more (Replicate echoes the input as sent, so it is most likely another request, but
     * a default Replicate filled in cannot be ruled out).
     */
    UNSURE,
    /** The create's model, source, time and input. */
    MATCH
  }

  /** Whether a prediction was made by the target's create: same version when one is sent, else same model. */
  private static boolean sameModel(ReplicateWire.Prediction p, ReplicateModels.Target t) {
    String version = t.version();
    if (version != null) {
      String v = p.version() == null ? "" : p.version().strip().toLowerCase(Locale.ROOT);
      String want = version.toLowerCase(Locale.ROOT);
      return v.equals(want) || v.endsWith(":" + want);
    }
    return t.model() != null && p.model() != null && t.model().equalsIgnoreCase(p.model().strip());
  }

  /**
   * Whether an echoed input holds every field sent, with the same value: numbers compared by value
   * ({@code 9} and {@code 9.0} are the same), a file sent as a data URI only present (Replicate
   * may keep the file and echo its URL). Fields the echo adds are not looked at here
   * ({@link #addsFields}).
   */
  static boolean sameInput(JsonNode sent, JsonNode echoed) {
    if (!sent.isObject() || !echoed.isObject()) {
      return false;
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = sent.fields(); it.hasNext();) {
      Map.Entry<String, JsonNode> f = it.next();
      JsonNode e = echoed.get(f.getKey());
      if (e == null || e.isNull()) {
        if (f.getValue().isNull()) {
          continue;
        }
        return false;
      }
      if (!sameValue(f.getValue(), e)) {
        return false;
      }
    }
    return true;
  }

  /** Whether an echoed input has a (non-null) top-level field that was not sent. */
  static boolean addsFields(JsonNode sent, JsonNode echoed) {
    for (Iterator<Map.Entry<String, JsonNode>> it = echoed.fields(); it.hasNext();) {
      Map.Entry<String, JsonNode> f = it.next();
      if (!f.getValue().isNull() && !sent.has(f.getKey())) {
        return true;
      }
    }
    return false;
  }

  private static boolean sameValue(JsonNode a, JsonNode b) {
    if (a.isNumber()) {
      return b.isNumber() && a.decimalValue().compareTo(b.decimalValue()) == 0;
    }
    if (a.isTextual()) {
      if (a.asText().regionMatches(true, 0, "data:", 0, 5)) {
        return b.isTextual() && !b.asText().isBlank();
      }
      return b.isTextual() && a.asText().equals(b.asText());
    }
    if (a.isArray()) {
      if (!b.isArray() || a.size() != b.size()) {
        return false;
      }
      for (int i = 0; i < a.size(); i++) {
        if (!sameValue(a.get(i), b.get(i))) {
          return false;
        }
      }
      return true;
    }
    if (a.isObject()) {
      return b.isObject() && a.size() == b.size() && sameInput(a, b);
    }
    return a.equals(b);
  }

  private static int port(URI u) {
    return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
  }

  private static String segment(String id) {
    return SAFE_ID.matcher(id).matches() ? id : URLEncoder.encode(id, StandardCharsets.UTF_8);
  }

  /** One generation attempt: the create, then the wait, then the downloads. */
  private final class Run {
    private final ImageGenerationRequest request;
    private final GenerationContext ctx;
    private final ReplicateModels.Target target;
    private final Map<String, Object> input;
    private final List<String> warnings = new ArrayList<>();
    private volatile @Nullable String waitingOn;
    private volatile @Nullable Submitted submitted;
    /** Whether the prediction was found by {@link #reconcile(Submitted)} rather than created. */
    private volatile boolean reconciled;

    Run(ImageGenerationRequest request, GenerationContext ctx) {
      this.request = request;
      this.ctx = ctx;
      this.target = ReplicateModels.resolve(request.model(), defaultModel);
      // the soft inputs the model ignores are left out of the input (ReplicateModels) and named here
      this.warnings.addAll(capabilities.warnings(request));
      this.input = ReplicateModels.input(request, target, warnings);
    }

    CompletableFuture<ProviderResult> start() {
      HttpRequest post;
      try {
        post = create();
      } catch (ImageGenerationException e) {
        return CompletableFuture.failedFuture(e);
      }
      try {
        Submitted s = new Submitted(Instant.now(), ctx.deadline(), target, ctx.json().valueToTree(input));
        submitted = s;
        recordSubmit(ctx.generationId(), s);
      } catch (IllegalArgumentException e) {
        // the body was written above, so this does not happen; without a record reconcile answers UNKNOWN
      }
      ctx.progress(ProgressEvent.of(ID, ProgressEvent.Stage.SUBMITTED));
      return ctx.http().json(post, ReplicateWire.Prediction.class).thenCompose(this::created);
    }

    /** Drops this run's create record: its outcome is known. */
    void forgetSubmit() {
      Submitted s = submitted;
      if (s != null) {
        submits.remove(ctx.generationId(), s);
      }
    }

    /** The reconcile of {@link ReplicateProvider#reconcile}: list, match, then adopt, retry or stop. */
    CompletableFuture<Reconciliation> reconcile(Submitted sent) {
      Instant from = sent.sentAt().minus(CLOCK_SKEW);
      Duration half = ctx.remaining().dividedBy(2);
      Duration settle = reconcileDelay.compareTo(half) < 0 ? reconcileDelay : half;
      URI first = ProviderHttp.join(base, "/predictions?created_after="
          + URLEncoder.encode(from.truncatedTo(ChronoUnit.MILLIS).toString(), StandardCharsets.UTF_8));
      return delay(settle).thenCompose(v -> list(first)).thenCompose(page -> {
        Listing l = new Listing(sent, from);
        if (l.add(page)) {
          return CompletableFuture.completedFuture(l);
        }
        URI next = within(page.next());
        if (next == null) {
          return CompletableFuture.completedFuture(l);
        }
        return list(next).thenApply(p2 -> {
          l.add(p2);
          return l;
        });
      }).thenCompose(this::decide);
    }

    private CompletableFuture<Void> delay(Duration d) {
      if (d.isZero() || d.isNegative()) {
        return CompletableFuture.completedFuture(null);
      }
      CompletableFuture<Void> f = new CompletableFuture<>();
      ScheduledFuture<?> timer = ctx.scheduler().schedule(() -> f.complete(null), d.toMillis(), TimeUnit.MILLISECONDS);
      ctx.onCancel(() -> {
        timer.cancel(false);
        f.completeExceptionally(new GenerationCancelledException("cancelled before listing predictions", ID));
      });
      return f;
    }

    private CompletableFuture<ReplicateWire.Page> list(URI uri) {
      HttpRequest req = ctx.http().request(uri).header("Authorization", auth()).GET().build();
      return ctx.http().json(req, ReplicateWire.Page.class).thenApply(p -> {
        if (p.results() == null) {
          throw new CompletionException(new ProviderUnavailableException("List predictions answered without 'results'", ID,
              false, false, null, null));
        }
        return p;
      });
    }

    private CompletableFuture<Reconciliation> decide(Listing l) {
      String model = target.displayName();
      if (l.matches.size() > 1) {
        ctx.log().warn("{}: the prediction create for {} got no answer and {} predictions created since have its input ({}); "
            + "none is adopted, nothing is resubmitted, and it may be billed", ID, model, l.matches.size(), ids(l.matches));
        return CompletableFuture.completedFuture(Reconciliation.unknown());
      }
      if (!l.unsure.isEmpty()) {
        ctx.log().warn("{}: the prediction create for {} got no answer and List predictions shows {} that may be its "
            + "prediction but lack their input or creation time ({}); nothing is resubmitted, and it may be billed", ID, model,
            l.unsure.size(), ids(l.unsure));
        return CompletableFuture.completedFuture(Reconciliation.unknown());
      }
      if (!l.complete) {
        ctx.log().warn("{}: the prediction create for {} got no answer and two pages of List predictions do not reach back to "
            + "when it was sent; nothing is resubmitted, and it may be billed", ID, model);
        return CompletableFuture.completedFuture(Reconciliation.unknown());
      }
      if (l.matches.isEmpty()) {
        ctx.log().info("{}: the prediction create for {} got no answer and List predictions shows no prediction it made; it "
            + "may be sent again", ID, model);
        return CompletableFuture.completedFuture(new Reconciliation(Reconciliation.State.NOT_SUBMITTED, null, null));
      }
      ReplicateWire.Prediction p = l.matches.get(0);
      if (!claim(p.id())) {
        ctx.log().warn("{}: prediction {} matches a create that got no answer but is already accounted for by another "
            + "generation; nothing is resubmitted, and it may be billed", ID, p.id());
        return CompletableFuture.completedFuture(Reconciliation.unknown());
      }
      return adopt(p);
    }

    /** Waits for a prediction found in the list as if this run's create had answered with it. */
    private CompletableFuture<Reconciliation> adopt(ReplicateWire.Prediction p) {
      String id = p.id();
      reconciled = true;
      ctx.log().info("{}: the prediction create for {} got no answer; prediction {} ({}) has its input and is used instead",
          ID, target.displayName(), id, p.state());
      CompletableFuture<ProviderResult> result;
      if (p.isTerminal() && !("succeeded".equals(p.state()) && p.outputs().isEmpty())) {
        ctx.remoteJobStarted(id, () -> CompletableFuture.completedFuture(null));
        result = settle(p);
      } else {
        ctx.progress(progress(p));
        waitingOn = id;
        result = ctx.await(new Job(id, p.urls()), POLL.withConfig(ctx.config()));
      }
      return result.handle((r, e) -> {
        if (e == null) {
          return new Reconciliation(Reconciliation.State.FOUND, r, id);
        }
        ImageGenerationException x = unwrap(e);
        if (ctx.isCancelled()) {
          throw new CompletionException(x);
        }
        if (x instanceof GenerationCancelledException || x instanceof ProviderUnavailableException pu && pu.notBilled()) {
          ctx.log().info("{}: prediction {}, found for a create that got no answer, was stopped at Replicate: {}", ID, id,
              x.getMessage());
          return new Reconciliation(Reconciliation.State.CANCELLED, null, id);
        }
        ctx.log().warn("{}: prediction {}, found for a create that got no answer, brought no images ({}); nothing is "
            + "resubmitted, and it may be billed", ID, id, x.getMessage());
        return new Reconciliation(Reconciliation.State.UNKNOWN, null, id);
      });
    }

    private HttpRequest create() {
      URI uri;
      if (target.official()) {
        String model = target.model() == null ? "" : target.model();
        uri = ProviderHttp.join(base, "/models/" + model + "/predictions");
      } else {
        uri = ProviderHttp.join(base, "/predictions");
      }
      HttpRequest.BodyPublisher body;
      try {
        body = ctx.http().jsonBody(new ReplicateWire.Create(target.version(), input));
      } catch (IllegalArgumentException e) {
        throw new InvalidRequestException("the input cannot be sent as JSON (check providerOptions for replicate)", ID);
      }
      HttpRequest.Builder b = ctx.http().request(uri)
          .header("Authorization", auth())
          .header("Content-Type", "application/json");
      int wait = preferWait();
      if (wait > 0) {
        b.header("Prefer", "wait=" + wait);
      }
      // a backstop a little after imagegen's own deadline (which cancels first): should this process
      // die, Replicate still stops the prediction instead of running it to the end
      long left = ctx.remaining().toSeconds() + 2;
      if (cancelAfter && left >= 5) {
        b.header("Cancel-After", left + "s");
      }
      if (retryCreateOnServerError) {
        ProviderHttp.retrySafe(b); // the operator accepts that a repeated create may bill twice
      }
      return b.POST(body).build();
    }

    /** N for {@code Prefer: wait=N}: the configured wait, at most 60 s, ending a second before the call's timeout. */
    private int preferWait() {
      long timeoutSeconds = ctx.http().timeout().toMillis() / 1000;
      long n = Math.min(Math.min(waitSeconds, 60), timeoutSeconds - 1);
      return n < 1 ? 0 : (int) n;
    }

    private CompletableFuture<ProviderResult> created(ReplicateWire.Prediction p) {
      if (p.id() == null || p.id().isBlank()) {
        return CompletableFuture.failedFuture(new ProviderUnavailableException("the create answer carries no prediction id; "
            + "a prediction may have been created", ID, false, true, null, null));
      }
      String id = p.id();
      claim(id);
      Job job = new Job(id, p.urls());
      if (p.isTerminal()) {
        ctx.remoteJobStarted(id, () -> CompletableFuture.completedFuture(null));
        return settle(p);
      }
      ctx.progress(progress(p));
      waitingOn = id;
      return ctx.await(job, POLL.withConfig(ctx.config()));
    }

    /** The result of a prediction that reached a terminal status. */
    private CompletableFuture<ProviderResult> settle(ReplicateWire.Prediction p) {
      if (!"succeeded".equals(p.state())) {
        return CompletableFuture.failedFuture(ReplicateErrors.ended(p, ctx.redactor()));
      }
      List<String> outputs = p.outputs();
      if (outputs.isEmpty()) {
        String why = Boolean.TRUE.equals(p.dataRemoved()) ? "its output was already removed (data_removed)" : "it has no output";
        return CompletableFuture.failedFuture(new ProviderUnavailableException("prediction " + p.id() + " succeeded but "
            + why, ID, false, false, null, null));
      }
      ctx.progress(ProgressEvent.of(ID, ProgressEvent.Stage.DOWNLOADING));
      Long seed = seed(p.logs());
      long t0 = System.nanoTime();
      List<CompletableFuture<GeneratedImage>> downloads = new ArrayList<>();
      for (String url : outputs) {
        downloads.add(ctx.downloader().image(url, seed, false));
      }
      return CompletableFuture.allOf(downloads.toArray(new CompletableFuture<?>[0])).thenApply(v -> {
        List<GeneratedImage> images = downloads.stream().map(CompletableFuture::join).toList();
        ReplicateWire.Metrics m = p.metrics();
        int count = m != null && m.imageCount() != null ? m.imageCount() : images.size();
        ProviderResult.Builder r = ProviderResult.builder(target.displayName())
            .images(images)
            .remoteJobId(p.id())
            .gpuSeconds(m == null ? null : m.predictTime())
            .reportedCost(prices.statedCost(target, count))
            .queueTime(p.queueTime())
            .runTime(p.runTime() != null ? p.runTime()
                : m != null && m.predictTime() != null ? Duration.ofMillis((long) (m.predictTime() * 1000)) : null)
            .downloadTime(Duration.ofNanos(System.nanoTime() - t0))
            .metadata("prediction_id", p.id())
            .metadata("replicate_model", p.model() != null ? p.model() : target.model())
            .metadata("replicate_version", p.version())
            .metadata("replicate_url", p.urls() == null ? null : p.urls().web())
            .metadata("predict_time", m == null ? null : m.predictTime())
            .metadata("total_time", m == null ? null : m.totalTime())
            .metadata("image_count", m == null ? null : m.imageCount())
            .metadata("reconciled", reconciled ? Boolean.TRUE : null);
        warnings.forEach(r::warning);
        return r.build();
      });
    }

    private @Nullable Long seed(@Nullable String logs) {
      if (logs != null) {
        Matcher m = SEED_IN_LOGS.matcher(logs);
        if (m.find()) {
          try {
            return Long.parseLong(m.group(1));
          } catch (NumberFormatException e) {
            // out of range: fall back to the request's
          }
        }
      }
      return request.seed();
    }

    /** The prediction waited on by {@link dev.imagegen.spi.JobPoller}. */
    private final class Job implements RemoteJob {
      private final String id;
      private final URI get;
      private final URI cancel;

      Job(String id, ReplicateWire.@Nullable Urls urls) {
        this.id = id;
        this.get = under(urls == null ? null : urls.get(), "/predictions/" + segment(id));
        this.cancel = under(urls == null ? null : urls.cancel(), "/predictions/" + segment(id) + "/cancel");
      }

      @Override
      public String id() {
        return id;
      }

      @Override
      public CompletableFuture<PollResult> poll() {
        HttpRequest req = ctx.http().request(get).header("Authorization", auth()).GET().build();
        return ctx.http().json(req, ReplicateWire.Prediction.class).thenCompose(p -> {
          if (!p.isTerminal()) {
            return CompletableFuture.completedFuture(PollResult.pending(progress(p)));
          }
          return settle(p).handle((r, e) -> e == null ? PollResult.done(r) : PollResult.failed(unwrap(e)));
        });
      }

      @Override
      public CompletableFuture<?> cancel() {
        HttpRequest req = ProviderHttp.retrySafe(ctx.http().request(cancel)).header("Authorization", auth())
            .POST(HttpRequest.BodyPublishers.noBody()).build();
        return ctx.http().call(req);
      }
    }
  }

  private static String ids(List<ReplicateWire.Prediction> ps) {
    List<String> out = new ArrayList<>();
    for (ReplicateWire.Prediction p : ps) {
      out.add(p.id() == null ? "(no id)" : p.id());
    }
    return String.join(", ", out);
  }

  /** What the pages of List predictions read so far say about one create. */
  private final class Listing {
    private final Submitted sent;
    private final Instant from;
    final List<ReplicateWire.Prediction> matches = new ArrayList<>();
    final List<ReplicateWire.Prediction> unsure = new ArrayList<>();
    /** Whether the pages read reach back to before {@code from}, or to the last page. */
    boolean complete;

    Listing(Submitted sent, Instant from) {
      this.sent = sent;
      this.from = from;
    }

    /**
     * Sorts a page's predictions; whether the pages read so far are complete: the page is the last,
     * or its oldest (last) prediction was created before {@code from}.
     */
    boolean add(ReplicateWire.Page page) {
      List<ReplicateWire.Prediction> results = page.results() == null ? List.of() : page.results();
      for (ReplicateWire.Prediction p : results) {
        if (p == null) {
          continue;
        }
        switch (fit(p)) {
          case MATCH:
            matches.add(p);
            break;
          case UNSURE:
            unsure.add(p);
            break;
          default:
            break;
        }
      }
      Instant oldest = results.isEmpty() || results.get(results.size() - 1) == null ? null
          : ReplicateWire.instant(results.get(results.size() - 1).createdAt());
      complete = page.next() == null || page.next().isBlank() || oldest != null && oldest.isBefore(from);
      return complete;
    }

    private Fit fit(ReplicateWire.Prediction p) {
      if (!sameModel(p, sent.target())) {
        return Fit.OTHER;
      }
      if (p.source() != null && !"api".equalsIgnoreCase(p.source().strip())) {
        return Fit.OTHER;
      }
      String id = p.id();
      if (id != null && isKnown(id)) {
        return Fit.OTHER;
      }
      Instant created = ReplicateWire.instant(p.createdAt());
      if (created != null && created.isBefore(from)) {
        return Fit.OTHER;
      }
      JsonNode in = p.input();
      boolean hasInput = in != null && in.isObject() && !Boolean.TRUE.equals(p.dataRemoved());
      if (hasInput && !sameInput(sent.input(), in)) {
        return Fit.OTHER;
      }
      return hasInput && !addsFields(sent.input(), in) && created != null && id != null && !id.isBlank() ? Fit.MATCH
          : Fit.UNSURE;
    }
  }

  private static ProgressEvent progress(ReplicateWire.Prediction p) {
    if ("starting".equals(p.state())) {
      return ProgressEvent.queued(ID, null, null);
    }
    Double percent = null;
    if (p.logs() != null) {
      Matcher m = PERCENT_IN_LOGS.matcher(p.logs());
      while (m.find()) {
        int v = Integer.parseInt(m.group(1));
        if (v <= 100) {
          percent = (double) v;
        }
      }
    }
    return ProgressEvent.running(ID, percent, null);
  }

  private static ImageGenerationException unwrap(Throwable e) {
    Throwable c = e;
    while (c instanceof CompletionException && c.getCause() != null) {
      c = c.getCause();
    }
    if (c instanceof ImageGenerationException ige) {
      return ige;
    }
    if (c instanceof java.util.concurrent.CancellationException) {
      return new GenerationCancelledException("cancelled", ID, c);
    }
    return new ProviderUnavailableException("could not finish the prediction: " + c.getClass().getSimpleName(), ID, false,
        false, null, c);
  }
}
