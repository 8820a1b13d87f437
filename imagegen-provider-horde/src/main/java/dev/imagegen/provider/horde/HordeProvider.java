package dev.imagegen.provider.horde;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Secret;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * AI Horde's v2 API: submit with {@code POST /generate/async}, wait on {@code /generate/check/{id}},
 * read {@code /generate/status/{id}} once, download every image at once, cancel with
 * {@code DELETE /generate/status/{id}}. Free; works with the anonymous key. Thread-safe.
 */
final class HordeProvider implements ImageProvider {
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

  private final URI baseUrl;
  private final Secret apiKey;
  private final boolean anonymous;
  private final @Nullable String clientAgent;
  private final String contact;
  private final HordeRequests requests;
  private final CostModel costModel;
  private final ProviderCapabilities capabilities;
  private final PollPolicy pollPolicy;
  private final Duration modelsRefresh;
  private final AtomicReference<@Nullable LiveModels> liveModels = new AtomicReference<>();

  /** The Horde's model list as last read, with when. */
  private record LiveModels(List<HordeWire.Model> models, long readAt) {}

  HordeProvider(ProviderConfig config) {
    this.baseUrl = config.baseUrl(DEFAULT_BASE_URL);
    String key = config.get(ProviderConfig.API_KEY).map(String::strip).filter(k -> !k.isEmpty()).orElse(ANONYMOUS_KEY);
    this.apiKey = Secret.of(key);
    this.anonymous = ANONYMOUS_KEY.equals(key);
    this.clientAgent = config.get("client-agent").map(String::strip).orElse(null);
    if (clientAgent != null && !CLIENT_AGENT.matcher(clientAgent).matches()) {
      throw new IllegalStateException(ID + ": client-agent must look like name:version:contact, was '" + clientAgent + "'");
    }
    this.contact = config.get("contact").map(String::strip).filter(c -> !c.isEmpty()).orElse(DEFAULT_CONTACT);
    if (contact.contains(":") && !contact.matches("https?://\\S+|mailto:\\S+") || contact.matches(".*\\s.*")) {
      throw new IllegalStateException(ID + ": contact must be a URL, an e-mail address or a name without spaces, was '"
          + contact + "'");
    }
    this.requests = new HordeRequests(config);
    this.costModel = CostModel.fromConfig(config, CostModel.free());
    this.pollPolicy = PollPolicy.every(POLL_INTERVAL, POLL_FLOOR).withConfig(config);
    this.modelsRefresh = config.duration("models-refresh", MODELS_REFRESH);
    Set<String> models = new LinkedHashSet<>(requests.aliases().keySet());
    requests.aliases().values().forEach(a -> models.add(a.model()));
    this.capabilities = ProviderCapabilities.builder()
        .models(models)
        .anyModel(true)
        .sizes(64, 3072, 64)
        .maxSteps(500)
        .negativePrompt(true)
        .seed(true)
        .img2img(true)
        .mask(true)
        .maxReferenceImages(0)
        .maxImagesPerRequest(20)
        .loras(true)
        .queued(true)
        .cancellable(true)
        .free(costModel.estimate(ImageGenerationRequest.of("price probe")).amountOrZero().signum() == 0)
        .build();
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
    return costModel;
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
    CompletableFuture<ObjectNode> body;
    URI maskUrl = prepared.maskUrl();
    if (maskUrl == null) {
      body = CompletableFuture.completedFuture(prepared.body());
    } else {
      // the Horde takes a mask only as base64
      body = ctx.downloader().download(maskUrl, null, false).thenApply(mask -> {
        ObjectNode b = prepared.body().deepCopy();
        b.put("source_mask", Base64.getEncoder().encodeToString(mask.bytes()));
        return b;
      });
    }
    return body.thenCompose(b -> submit(b, prepared, ctx));
  }

  private CompletableFuture<ProviderResult> submit(ObjectNode body, HordeRequests.Prepared prepared, GenerationContext ctx) {
    HttpRequest post = request(ctx, "/generate/async").header("Content-Type", "application/json")
        .POST(ctx.http().jsonBody(body)).build();
    long submittedAt = System.nanoTime();
    return ctx.http().json(post, HordeWire.Submitted.class).thenCompose(s -> {
      String id = s.id();
      if (id == null || !REQUEST_ID.matcher(id).matches()) {
        throw new CompletionException(new ProviderUnavailableException("accepted the request without a usable id ("
            + (id == null ? "none" : "'" + abbreviate(ctx.redactor().redact(id)) + "'") + ")", ctx.providerId(), false, true,
            null, null));
      }
      HordeJob job = new HordeJob(this, ctx, id, prepared, s, submittedAt);
      String noWorker = noAvailableWorker(s);
      if (noWorker != null) {
        // a 202 is no promise that anyone will serve it: delete it and let another provider try now
        ctx.remoteJobStarted(id, job::cancel);
        return job.cancel().handle((x, e) -> null).thenCompose(x -> CompletableFuture.<ProviderResult>failedFuture(
            new ProviderUnavailableException("no available worker can serve model '" + prepared.model() + "' (NoAvailableWorker: "
                + noWorker + "); request " + id + " was deleted", ctx.providerId(), false, false, null, null)));
      }
      return ctx.await(job, pollPolicy);
    });
  }


  private static @Nullable String noAvailableWorker(HordeWire.Submitted s) {
    if (s.warnings() == null) {
      return null;
    }
    for (HordeWire.Warning w : s.warnings()) {
      if ("NoAvailableWorker".equals(w.code())) {
        return w.message() == null ? "no message" : abbreviate(w.message());
      }
    }
    return null;
  }

  /** The submit's warnings and message, as lines for the response's warnings. */
  static List<String> warnings(HordeWire.Submitted s) {
    List<String> out = new ArrayList<>();
    if (s.warnings() != null) {
      for (HordeWire.Warning w : s.warnings()) {
        out.add("AI Horde warning " + (w.code() == null ? "" : w.code() + ": ") + (w.message() == null ? "" : abbreviate(w.message())));
      }
    }
    if (s.message() != null && !s.message().isBlank()) {
      out.add("AI Horde: " + abbreviate(s.message()));
    }
    return out;
  }

  /**
   * A request to the Horde with the key, the {@code Client-Agent} and imagegen's defaults.
   *
   * @param ctx the context whose HTTP support sends it
   * @param path the path under the base URL
   */
  HttpRequest.Builder request(ProviderContext ctx, String path) {
    return ctx.http().request(ProviderHttp.join(baseUrl, path))
        .header("apikey", apiKey.reveal())
        .header("Client-Agent", clientAgent(ctx));
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
    String name = "imagegen-java";
    String version = "0";
    int slash = ua.indexOf('/');
    if (slash > 0) {
      name = ua.substring(0, slash).replace(':', '-');
      String rest = ua.substring(slash + 1).split("\\s+")[0].replace(':', '-');
      if (!rest.isEmpty()) {
        version = rest;
      }
    }
    return name + ":" + version + ":" + contact;
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return HordeErrors.map(context.providerId(), response, context.json());
  }

  // ------------------------------------------------------------------------------------ health

  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
    long t0 = System.nanoTime();
    CompletableFuture<Outcome<HordeWire.Heartbeat>> heartbeat =
        outcome(ctx.http().json(request(ctx, "/status/heartbeat").GET().build(), HordeWire.Heartbeat.class));
    CompletableFuture<Outcome<HordeWire.User>> user =
        outcome(ctx.http().json(request(ctx, "/find_user").GET().build(), HordeWire.User.class));
    CompletableFuture<?> models = refreshModels(ctx);
    return CompletableFuture.allOf(heartbeat, user, models).handle((v, e) -> {
      Duration latency = Duration.ofNanos(System.nanoTime() - t0);
      try {
        ProviderHealth h = health(heartbeat.join(), user.join(), latency);
        // heartbeat and user fields are the server's text: scrub them like any answer
        return new ProviderHealth(h.provider(), h.state(), h.latency(), ctx.redactor().redact(h.message()), h.queueDepth(),
            h.workersReady());
      } catch (RuntimeException x) {
        return new ProviderHealth(ID, ProviderHealth.State.DOWN, latency, ctx.redactor().redact(String.valueOf(x.getMessage())),
            null, null);
      }
    });
  }

  private ProviderHealth health(Outcome<HordeWire.Heartbeat> hb, Outcome<HordeWire.User> user, Duration latency) {
    if (user.error() instanceof AuthenticationException a) {
      return new ProviderHealth(ID, ProviderHealth.State.AUTH_FAILED, latency, a.getMessage(), null, null);
    }
    if (hb.error() != null || hb.value() == null) {
      String why = hb.error() == null ? "no heartbeat" : hb.error().getMessage();
      return new ProviderHealth(ID, ProviderHealth.State.DOWN, latency, "heartbeat failed: " + why, null, null);
    }
    HordeWire.Heartbeat h = hb.value();
    String status = h.message() == null ? "?" : abbreviate(h.message());
    ProviderHealth.State state = switch (status) {
      case "OK" -> ProviderHealth.State.UP;
      case "DOWN" -> ProviderHealth.State.DOWN;
      default -> ProviderHealth.State.DEGRADED;
    };
    StringBuilder msg = new StringBuilder("heartbeat ").append(status);
    if (h.version() != null) {
      msg.append(" (version ").append(abbreviate(h.version())).append(')');
    }
    if (user.value() != null) {
      HordeWire.User u = user.value();
      msg.append("; user ").append(u.username() == null ? "?" : abbreviate(u.username()));
      if (u.kudos() != null) {
        msg.append(", ").append(Math.round(u.kudos())).append(" kudos");
      }
    } else if (user.error() != null) {
      if (state == ProviderHealth.State.UP) {
        state = ProviderHealth.State.DEGRADED;
      }
      msg.append("; key not checked: ").append(user.error().getMessage());
    }
    if (anonymous) {
      msg.append("; anonymous key (lowest priority)");
    }
    return new ProviderHealth(ID, state, latency, msg.toString(), h.queue(), workersFor(requests.modelName(null)));
  }

  /** A future's value or its error, never failing. */
  private record Outcome<T>(@Nullable T value, @Nullable ImageGenerationException error) {}

  private static <T> CompletableFuture<Outcome<T>> outcome(CompletableFuture<T> f) {
    return f.handle((v, e) -> {
      if (e == null) {
        return new Outcome<>(v, null);
      }
      Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      ImageGenerationException x = c instanceof ImageGenerationException ige ? ige
          : new ProviderUnavailableException(c.getClass().getSimpleName(), ID, c);
      return new Outcome<>(null, x);
    });
  }

  // ------------------------------------------------------------------------------------ models

  /** Reads the Horde's image models when the copy held is older than {@code models-refresh}; never fails. */
  private CompletableFuture<@Nullable Void> refreshModels(ProviderContext ctx) {
    LiveModels held = liveModels.get();
    if (held != null && System.nanoTime() - held.readAt() < modelsRefresh.toNanos()) {
      return CompletableFuture.completedFuture(null);
    }
    return ctx.http().json(request(ctx, "/status/models?type=image").GET().build(), HordeWire.Model[].class)
        .thenAccept(ms -> {
          List<HordeWire.Model> list = new ArrayList<>();
          for (HordeWire.Model m : ms) {
            if (m != null && m.name() != null && (m.type() == null || "image".equals(m.type()))) {
              list.add(m);
            }
          }
          liveModels.set(new LiveModels(List.copyOf(list), System.nanoTime()));
        })
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
      aliasesByModel.forEach((model, aliases) -> out.add(new ModelInfo(ID, model, aliases,
          "worker count unknown until health() or testConnection() has run")));
      return out;
    }
    List<HordeWire.Model> sorted = new ArrayList<>(held.models());
    sorted.sort(Comparator.comparingInt(HordeWire.Model::count).reversed().thenComparing(HordeWire.Model::name));
    Set<String> seen = new LinkedHashSet<>();
    for (HordeWire.Model m : sorted) {
      seen.add(m.name());
      out.add(new ModelInfo(ID, m.name(), aliasesByModel.getOrDefault(m.name(), List.of()), describe(m)));
    }
    aliasesByModel.forEach((model, aliases) -> {
      if (!seen.contains(model)) {
        out.add(new ModelInfo(ID, model, aliases, "0 workers (not served now)"));
      }
    });
    return out;
  }

  private static String describe(HordeWire.Model m) {
    StringBuilder s = new StringBuilder().append(m.count()).append(m.count() == 1 ? " worker" : " workers");
    if (m.queued() != null) {
      s.append(", ").append(Math.round(m.queued())).append(" megapixelsteps queued");
    }
    if (m.jobs() != null) {
      s.append(", ").append(Math.round(m.jobs())).append(" jobs");
    }
    if (m.eta() != null) {
      s.append(", ETA ").append(m.eta()).append(" s");
    }
    return s.toString();
  }

  private static String abbreviate(String s) {
    String t = s.replaceAll("\\s+", " ").strip();
    return t.length() > 200 ? t.substring(0, 200) + "..." : t;
  }

  @Override
  public String toString() {
    return "HordeProvider[" + baseUrl + (anonymous ? ", anonymous" : "") + "]";
  }
}
