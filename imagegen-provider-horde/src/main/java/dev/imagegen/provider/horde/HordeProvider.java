package dev.imagegen.provider.horde;

import static dev.imagegen.spi.ProviderSupport.clip;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProviderHealth.State;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HealthCheck;
import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.JobHandle;
import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.ProviderSupport;
import dev.imagegen.spi.Secret;
import dev.imagegen.spi.WebhookVerifier;
import dev.imagegen.spi.Webhooks;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * AI Horde's v2 API: submit with {@code POST /generate/async}, wait on {@code /generate/check/{id}},
 * read {@code /generate/status/{id}} once, download every image at once, cancel with
 * {@code DELETE /generate/status/{id}}. Free; works with the anonymous key. Thread-safe.
 */
final class HordeProvider extends HttpImageProvider {
  /** The provider id. */
  static final String ID = "horde";
  /** The public API. */
  static final String DEFAULT_BASE_URL = "https://aihorde.net/api/v2";
  /** The Horde's anonymous key: lowest priority, no kudos, no sign-up. */
  static final String ANONYMOUS_KEY = "0000000000";
  /** Contact sent in the {@code Client-Agent} unless {@code contact} or {@code client-agent} is set. */
  static final String DEFAULT_CONTACT = "https://github.com/imagegen/imagegen-java";
  /** Poll interval the Horde asks of clients (2 to 5 s). */
  static final Duration POLL_INTERVAL = Duration.ofSeconds(2);
  /** No poll of {@code /generate/check} ever comes sooner than this (the check has a 1 s server cache). */
  static final Duration POLL_FLOOR = Duration.ofSeconds(1);
  private static final Duration MODELS_REFRESH = Duration.ofMinutes(10);
  private static final Pattern REQUEST_ID = Pattern.compile("[A-Za-z0-9-]{1,100}");
  private static final Pattern CLIENT_AGENT = Pattern.compile("[^:\\s]+:[^:\\s]+:\\S+");

  private final Secret apiKey;
  private final boolean anonymous;
  private final @Nullable String clientAgent;
  private final String contact;
  private final HordeRequests requests;
  private final PollPolicy pollPolicy;
  /** Where the Horde posts each finished image for {@code service.webhooks()}, or null (polling only). */
  private final @Nullable URI webhookUrl;
  private final @Nullable WebhookVerifier webhookVerifier;
  private final Duration modelsRefresh;
  private final AtomicReference<@Nullable LiveModels> liveModels = new AtomicReference<>();

  /** The Horde's model list as last read, with when. */
  private record LiveModels(List<HordeWire.Model> models, long readAt) {}

  HordeProvider(ProviderConfig config) {
    super(config, DEFAULT_BASE_URL);
    this.apiKey = config.apiKey().orElse(Secret.of(ANONYMOUS_KEY));
    this.anonymous = ANONYMOUS_KEY.equals(apiKey.reveal());
    this.clientAgent = config.get("client-agent").map(String::strip).orElse(null);
    if (clientAgent != null && !CLIENT_AGENT.matcher(clientAgent).matches()) {
      throw new IllegalStateException(ID + ": client-agent must look like name:version:contact, was '" + clientAgent + "'");
    }
    this.contact = config.string("contact", DEFAULT_CONTACT);
    if (contact.contains(":") && !contact.matches("https?://\\S+|mailto:\\S+") || contact.matches(".*\\s.*")) {
      throw new IllegalStateException(ID + ": contact must be a URL, an e-mail address or a name without spaces, was '"
          + contact + "'");
    }
    this.requests = new HordeRequests(config);
    CostModel costModel = CostModel.fromConfig(config, CostModel.free());
    this.webhookUrl = Webhooks.url(config).orElse(null);
    if (webhookUrl != null && !"https".equalsIgnoreCase(webhookUrl.getScheme())) {
      throw new IllegalStateException(ID + ": '" + Webhooks.URL + "' must be an https URL (the Horde refuses any other webhook), "
          + "was " + webhookUrl.getScheme());
    }
    // one POST per finished image: {request, id, img, seed, ...}; each image is one delivery
    this.webhookVerifier = webhookUrl == null ? null : Webhooks.unsignedJson(config, "AI Horde", "request", (json, request) -> {
      String image = Webhooks.text(json, "id");
      return image == null ? null : request + "/" + image;
    });
    PollPolicy normal = PollPolicy.every(POLL_INTERVAL, POLL_FLOOR).withConfig(config);
    this.pollPolicy = webhookUrl == null ? normal : Webhooks.safetyNet(normal, config);
    this.modelsRefresh = config.duration("models-refresh", MODELS_REFRESH);
    Set<String> models = new LinkedHashSet<>(requests.aliases().keySet());
    requests.aliases().values().forEach(a -> models.add(a.model()));
    ProviderCapabilities capabilities = ProviderCapabilities.builder()
        .models(models)
        .anyModel(true)
        .sizes(64, 3072, 64)
        .negativePrompt(true)
        .seed(true)
        .img2img(true)
        .mask(true)
        .maxImagesPerRequest(20)
        // AI Horde refuses more than 7,500 words (InvalidPromptSize); a prompt of at most 15,000
        // characters cannot hold more words than that
        .maxPromptLength(15_000)
        // the Horde's own names; A1111 and diffusers spellings map onto them
        .samplers(HordeRequests.SAMPLERS, name -> HordeRequests.sampler(name) != null)
        .optionKeys(HordeRequests.optionKeys())
        .loras(true)
        .queued(true)
        .cancellable(true)
        .free(costModel.estimate(ImageGenerationRequest.of("price probe")).amountOrZero().signum() == 0)
        .build();
    declare(capabilities, costModel);
  }

  /** A verifier of the Horde's unsigned deliveries when {@code webhook-url} is set (with {@code webhook-allow-unsigned}), else null. */
  @Override
  public @Nullable WebhookVerifier webhookVerifier() {
    return webhookVerifier;
  }

  /** The poll policy in force (for tests). */
  PollPolicy pollPolicy() {
    return pollPolicy;
  }

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    HordeRequests.Prepared prepared;
    try {
      prepared = requests.prepare(request, ctx.json());
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    URI maskUrl = prepared.maskUrl();
    // the Horde takes a mask only as base64
    CompletableFuture<ObjectNode> body = maskUrl == null ? CompletableFuture.completedFuture(prepared.body())
        : ctx.downloader().download(maskUrl, null, false)
            .thenApply(mask -> prepared.body().deepCopy().put("source_mask", Base64.getEncoder().encodeToString(mask.bytes())));
    return body.thenCompose(b -> submit(b, prepared, ctx));
  }

  private CompletableFuture<ProviderResult> submit(ObjectNode body, HordeRequests.Prepared prepared, GenerationContext ctx) {
    long submittedAt = System.nanoTime();
    URI hook = webhookUrl;
    if (hook != null) {
      body.put("webhook", hook.toString()); // one POST per finished image
    }
    return ctx.http().json(postJson(ctx, "/generate/async", body), HordeWire.Submitted.class).thenCompose(s -> {
      String id = s.id();
      if (id == null || !REQUEST_ID.matcher(id).matches()) {
        throw new CompletionException(ProviderUnavailableException.outcomeUnknown("accepted the request without a usable id ("
            + (id == null ? "none" : "'" + clip(ctx.redactor().redact(id), 200) + "'") + ")", ctx.providerId(), null));
      }
      HordeJob job = new HordeJob(this, ctx, id, prepared, s, submittedAt, new AtomicLong());
      String noWorker = noAvailableWorker(s);
      if (noWorker != null) {
        // a 202 is no promise that anyone will serve it: delete it and let another provider try now
        ctx.remoteJobStarted(id, job::cancel);
        return job.cancel().handle((x, e) -> null).thenCompose(x -> CompletableFuture.<ProviderResult>failedFuture(
            ProviderUnavailableException.failOver("no available worker can serve model '" + prepared.model()
                + "' (NoAvailableWorker: " + noWorker + "); request " + id + " was deleted", ctx.providerId(), null)));
      }
      return ctx.await(job, pollPolicy);
    });
  }

  /** A request is checked at {@code /generate/check/{id}}, known from its id alone. */
  @Override
  public boolean canResume() {
    return true;
  }

  /** A request is deleted at {@code /generate/status/{id}}, known from its id alone. */
  @Override
  public boolean canCancelByHandle() {
    return true;
  }

  /**
   * Waits for a request an earlier process submitted (found in the job journal): polls
   * {@code GET /generate/check/{id}}, reads {@code /generate/status/{id}} once done and downloads
   * the images; never submits. The Horde keeps a finished request's images for a limited time only.
   */
  @Override
  public CompletableFuture<ProviderResult> resume(JobHandle job, GenerationContext ctx) {
    String id = job.remoteJobId();
    if (!REQUEST_ID.matcher(id).matches()) {
      return CompletableFuture.failedFuture(new InvalidRequestException("the journal's request id is not one of the Horde's",
          ID));
    }
    String model = job.handle(HordeJob.MODEL_HANDLE);
    int images = 1;
    try {
      images = Math.max(1, Integer.parseInt(String.valueOf(job.handle(HordeJob.IMAGES_HANDLE))));
    } catch (NumberFormatException e) {
      // an old or edited entry: the count only scales progress
    }
    HordeRequests.Prepared prepared = new HordeRequests.Prepared(ctx.json().createObjectNode(),
        model == null || model.isBlank() ? "unknown" : model, images, null);
    HordeJob resumed = new HordeJob(this, ctx, id, prepared, new HordeWire.Submitted(id, null, null, null), System.nanoTime(),
        new AtomicLong());
    return ctx.await(resumed, pollPolicy);
  }

  /** Deletes a request an earlier process submitted: {@code DELETE /generate/status/{id}}. */
  @Override
  public CompletableFuture<Void> cancel(JobHandle job, ProviderContext ctx) {
    String id = job.remoteJobId();
    if (!REQUEST_ID.matcher(id).matches()) {
      return CompletableFuture.failedFuture(new InvalidRequestException("the journal's request id is not one of the Horde's",
          ID));
    }
    return ctx.http().call(request(ctx, "/generate/status/" + id).DELETE().build()).thenApply(r -> null);
  }

  private static @Nullable String noAvailableWorker(HordeWire.Submitted s) {
    return s.warnings() == null ? null : s.warnings().stream().filter(w -> "NoAvailableWorker".equals(w.code()))
        .map(w -> w.message() == null ? "no message" : clip(w.message(), 200)).findFirst().orElse(null);
  }

  /** The submit's warnings and message, as lines for the response's warnings. */
  static List<String> warnings(HordeWire.Submitted s) {
    List<String> out = new ArrayList<>();
    if (s.warnings() != null) {
      s.warnings().forEach(w -> out.add("AI Horde warning " + (w.code() == null ? "" : w.code() + ": ")
          + clip(w.message(), 200)));
    }
    if (s.message() != null && !s.message().isBlank()) {
      out.add("AI Horde: " + clip(s.message(), 200));
    }
    return out;
  }

  @Override
  protected HttpRequest.Builder authorize(HttpRequest.Builder request) {
    return request.header("apikey", apiKey.reveal());
  }

  /** A request to the Horde with the key, the {@code Client-Agent} and imagegen's defaults. */
  @Override
  public HttpRequest.Builder request(ProviderContext ctx, String path) {
    return super.request(ctx, path).header("Client-Agent", clientAgent(ctx));
  }

  /**
   * The {@code Client-Agent} value: {@code client-agent} when configured, else
   * {@code imagegen-java:<version>:<contact>} from imagegen's {@code User-Agent}.
   *
   * @param ctx any context of this provider
   */
  String clientAgent(ProviderContext ctx) {
    if (clientAgent != null) {
      return clientAgent;
    }
    String ua = ctx.http().userAgent().strip();
    int slash = ua.indexOf('/');
    String name = slash > 0 ? ua.substring(0, slash).replace(':', '-') : "imagegen-java";
    String version = slash > 0 ? ua.substring(slash + 1).split("\\s+")[0].replace(':', '-') : "";
    return name + ":" + (version.isEmpty() ? "0" : version) + ":" + contact;
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return HordeWire.mapError(context.providerId(), response, context.json());
  }

  // ------------------------------------------------------------------------------------ health

  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
    CompletableFuture<HordeWire.Heartbeat> heartbeat = get(ctx, "/status/heartbeat", HordeWire.Heartbeat.class);
    CompletableFuture<HordeWire.User> user = get(ctx, "/find_user", HordeWire.User.class);
    CompletableFuture<?> all = CompletableFuture.allOf(heartbeat, user, refreshModels(ctx));
    return HealthCheck.timed(ctx, () -> all.handle((v, e) -> "probed"), (v, latency) -> health(ctx, heartbeat, user, latency));
  }

  /** {@code GET} of a path under the base URL, read as a type. */
  <T> CompletableFuture<T> get(ProviderContext ctx, String path, Class<T> type) {
    return ctx.http().json(request(ctx, path).GET().build(), type);
  }

  private ProviderHealth health(ProviderContext ctx, CompletableFuture<HordeWire.Heartbeat> heartbeat,
      CompletableFuture<HordeWire.User> user, Duration latency) {
    ImageGenerationException userError = error(user);
    if (userError instanceof AuthenticationException) {
      return HealthCheck.failed(ctx, latency, userError);
    }
    ImageGenerationException heartbeatError = error(heartbeat);
    if (heartbeatError != null || heartbeat.join() == null) {
      String why = heartbeatError == null ? "no heartbeat" : heartbeatError.getMessage();
      return ProviderHealth.of(id(), State.DOWN, latency, "heartbeat failed: " + why);
    }
    HordeWire.Heartbeat h = heartbeat.join();
    String status = h.message() == null ? "?" : clip(h.message(), 200);
    State state = switch (status) {
      case "OK" -> State.UP;
      case "DOWN" -> State.DOWN;
      default -> State.DEGRADED;
    };
    StringBuilder msg = new StringBuilder("heartbeat ").append(status);
    if (h.version() != null) {
      msg.append(" (version ").append(clip(h.version(), 200)).append(')');
    }
    if (userError != null) {
      state = state == State.UP ? State.DEGRADED : state;
      msg.append("; key not checked: ").append(userError.getMessage());
    } else if (user.join() != null) {
      HordeWire.User u = user.join();
      msg.append("; user ").append(u.username() == null ? "?" : clip(u.username(), 200));
      if (u.kudos() != null) {
        msg.append(", ").append(Math.round(u.kudos())).append(" kudos");
      }
    }
    if (anonymous) {
      msg.append("; anonymous key (lowest priority)");
    }
    return ProviderHealth.of(id(), state, latency, msg.toString()).withQueue(h.queue(), workersFor(requests.modelName(null)));
  }

  /** A finished future's failure as imagegen's exception, or null when it succeeded. */
  private @Nullable ImageGenerationException error(CompletableFuture<?> f) {
    return f.isCompletedExceptionally() ? f.handle((v, e) -> ProviderSupport.failure(id(), e)).join() : null;
  }

  // ------------------------------------------------------------------------------------ models

  /** Reads the Horde's image models when the copy held is older than {@code models-refresh}; never fails. */
  private CompletableFuture<@Nullable Void> refreshModels(ProviderContext ctx) {
    LiveModels held = liveModels.get();
    if (held != null && System.nanoTime() - held.readAt() < modelsRefresh.toNanos()) {
      return CompletableFuture.completedFuture(null);
    }
    return get(ctx, "/status/models?type=image", HordeWire.Model[].class)
        .thenAccept(ms -> liveModels.set(new LiveModels(Arrays.stream(ms)
            .filter(m -> m != null && m.name() != null && (m.type() == null || "image".equals(m.type()))).toList(),
            System.nanoTime())))
        .exceptionally(e -> {
          ctx.log().debug("reading the Horde's models failed: {}", e.getMessage());
          return null;
        });
  }

  private @Nullable Integer workersFor(String model) {
    LiveModels held = liveModels.get();
    if (held == null) {
      return null;
    }
    return held.models().stream().filter(m -> model.equals(m.name())).map(HordeWire.Model::count).findFirst().orElse(0);
  }

  /**
   * The Horde's image models with their worker counts and queue, as read by the last
   * {@code health()}/{@code testConnection} (refreshed at most every {@code models-refresh});
   * before that, the aliased models. Models without workers come last.
   */
  @Override
  public List<ModelInfo> models() {
    Map<String, List<String>> aliasesByModel = new LinkedHashMap<>();
    requests.aliases().forEach((alias, a) -> aliasesByModel.computeIfAbsent(a.model(), k -> new ArrayList<>()).add(alias));
    aliasesByModel.values().forEach(l -> l.sort(Comparator.naturalOrder()));
    LiveModels held = liveModels.get();
    List<ModelInfo> out = new ArrayList<>();
    if (held == null) {
      aliasesByModel.forEach((model, aliases) -> out.add(new ModelInfo(id(), model, aliases,
          "worker count unknown until health() or testConnection() has run")));
      return out;
    }
    List<HordeWire.Model> sorted = held.models().stream()
        .sorted(Comparator.comparingInt(HordeWire.Model::count).reversed().thenComparing(HordeWire.Model::name)).toList();
    Set<String> seen = new LinkedHashSet<>();
    for (HordeWire.Model m : sorted) {
      String name = Objects.requireNonNull(m.name()); // models without a name are dropped when read
      seen.add(name);
      out.add(new ModelInfo(id(), name, aliasesByModel.getOrDefault(name, List.of()), describe(m)));
    }
    aliasesByModel.forEach((model, aliases) -> {
      if (!seen.contains(model)) {
        out.add(new ModelInfo(id(), model, aliases, "0 workers (not served now)"));
      }
    });
    return out;
  }

  private static String describe(HordeWire.Model m) {
    return m.count() + (m.count() == 1 ? " worker" : " workers")
        + (m.queued() == null ? "" : ", " + Math.round(m.queued()) + " megapixelsteps queued")
        + (m.jobs() == null ? "" : ", " + Math.round(m.jobs()) + " jobs")
        + (m.eta() == null ? "" : ", ETA " + m.eta() + " s");
  }
}
