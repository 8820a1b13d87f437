package dev.imagegen.provider.huggingface;

import com.fasterxml.jackson.databind.JsonNode;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderHealth.State;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.provider.huggingface.HuggingFaceCalls.Plan;
import dev.imagegen.provider.huggingface.HuggingFaceCalls.Shot;
import dev.imagegen.provider.huggingface.HuggingFaceModels.Profile;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HealthCheck;
import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.PriceTable;
import dev.imagegen.spi.PriceTable.Price;
import dev.imagegen.spi.PriceTable.Unit;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Secret;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * Hugging Face Inference, text to image: one synchronous {@code POST {base-url}/models/{model}}
 * per image, answered with the raw image bytes. No job id, no polling, no remote cancel.
 *
 * <p>A model that answers 503 "loading" with {@code estimated_time} is waited for (no thread held,
 * ended as soon as the attempt is cancelled) when the estimate fits the attempt's deadline and
 * {@code max-loading-wait}; otherwise the attempt fails at once with a
 * {@link ProviderUnavailableException} whose {@code retryAfter} is the estimate, so the service
 * fails over and cools this provider down. A request for several images makes one call per image,
 * at most {@code parallel-calls} at once, with {@code seed + i} when a seed is set.
 *
 * <p>Immutable and thread-safe.
 */
final class HuggingFaceProvider extends HttpImageProvider {
  static final String ID = "huggingface";
  /** Today's router, HF Inference's own fleet. */
  static final String DEFAULT_BASE_URL = HuggingFaceErrors.ROUTER;
  /** The Hub, where {@code whoami-v2} lives. */
  static final String HUB = "https://huggingface.co";

  /** Config key: base-url is a dedicated Inference Endpoint that takes no model in its path. */
  static final String DEDICATED_ENDPOINT = "dedicated-endpoint";
  /** Config key: the model used when a request names none (the endpoint's model when dedicated). */
  static final String MODEL = "model";
  /** Config key: where {@code /api/whoami-v2} is asked (health). */
  static final String HUB_URL = "hub-url";
  /** Config key: most images one request may ask for (one call each). */
  static final String MAX_IMAGES = "max-images-per-request";

  private final @Nullable Secret token;
  /** The base URL, the router's root read as HF Inference's own fleet. */
  private final URI endpoint;
  private final URI hubUrl;
  private final boolean dedicated;
  private final String defaultModel;
  private final HuggingFaceCalls calls;

  HuggingFaceProvider(ProviderConfig config) {
    super(config, DEFAULT_BASE_URL);
    this.token = config.apiKey().orElse(null);
    this.endpoint = normalise(baseUrl);
    if (token == null && isHuggingFaceHost(endpoint, ".huggingface.co")) {
      throw new IllegalStateException(ID + ": no token configured for " + endpoint.getHost() + " (set HF_TOKEN, "
          + config.whereToSet(ProviderConfig.API_KEY) + ")");
    }
    this.dedicated = config.bool(DEDICATED_ENDPOINT, false);
    String m = config.string(MODEL, HuggingFaceModels.DEFAULT_ALIAS);
    String repo = HuggingFaceModels.repoId(m);
    if (repo == null) {
      throw new IllegalStateException(ID + ": '" + MODEL + "' must be " + String.join(", ", HuggingFaceModels.ALIASES.keySet())
          + " or a repo id owner/name, was '" + m + "'");
    }
    this.defaultModel = repo;
    this.hubUrl = hubUrl(config, endpoint);
    int maxImages = config.intValue(MAX_IMAGES, ImageGenerationRequest.MAX_IMAGES, 1, ImageGenerationRequest.MAX_IMAGES);
    // the aliases, then the repo ids
    Stream<String> names = dedicated ? Stream.concat(HuggingFaceModels.aliasesOf(defaultModel).stream(), Stream.of(defaultModel))
        : Stream.concat(HuggingFaceModels.ALIASES.keySet().stream(), HuggingFaceModels.ALIASES.values().stream());
    ProviderCapabilities capabilities = ProviderCapabilities.builder()
        .models(names.toList())
        // any repo id owner/name on the router; another name is skipped by routing, never sent
        .modelNames(name -> HuggingFaceModels.repoId(name) != null)
        .anyModel(!dedicated)
        // HF documents no prompt limit (FLUX reads 256-512 T5 tokens and truncates the rest):
        // 10,000 characters keeps every prompt a model can use and refuses a runaway one
        .maxPromptLength(10_000)
        .optionKeys() // the body is built from the request alone: no providerOptions are read
        .maxSteps(100)
        .negativePrompt(true)
        .modelInputs(r -> {
          String served = modelOf(r);
          return served == null ? Set.of() : HuggingFaceModels.profile(served).ignoredInputs();
        })
        .seed(true)
        .maxImagesPerRequest(maxImages)
        .build();
    // HF Inference bills compute time times the hardware's price; the only published figure is the docs'
    // example, a FLUX.1-dev request of 10 s on a $0.00012/s GPU. The reported x-compute-time is priced
    // as an estimate too: the hardware's real price is not in the answer
    PriceTable.Builder prices = PriceTable.builder(ID).bareUnit(Unit.SECOND).modelOf(this::modelOf)
        .everyModel(Price.perSecond("0.00012")).typicalSeconds(10).reportedSecondsEstimated();
    HuggingFaceModels.ALIASES.forEach(prices::alias);
    CostModel costModel = prices.build(config);
    declare(capabilities, costModel);
    this.calls = new HuggingFaceCalls(config, this, dedicated ? endpoint : null);
  }

  @Override
  protected HttpRequest.Builder authorize(HttpRequest.Builder request) {
    return token == null ? request : request.header("Authorization", "Bearer " + token.reveal());
  }

  @Override
  public List<ModelInfo> models() {
    if (dedicated) {
      return List.of(new ModelInfo(ID, defaultModel, HuggingFaceModels.aliasesOf(defaultModel),
          "dedicated Inference Endpoint " + endpoint));
    }
    return HuggingFaceModels.ALIASES.entrySet().stream().map(e -> new ModelInfo(ID, e.getValue(), List.of(e.getKey()),
        HuggingFaceModels.profile(e.getValue()) == Profile.STABLE_DIFFUSION ? "Stable Diffusion XL base 1.0"
            : "FLUX.1 " + e.getKey().substring(5))).toList();
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return HuggingFaceErrors.map(ID, response, context.json());
  }

  // ------------------------------------------------------------------ generation

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    Plan plan;
    try {
      plan = plan(request);
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    return calls.run(plan, ctx);
  }

  /** The repo id a request runs on, or null when its model is neither an alias nor a repo id. */
  private @Nullable String modelOf(ImageGenerationRequest request) {
    return dedicated || request.model() == null ? defaultModel : HuggingFaceModels.repoId(request.model());
  }

  private Plan plan(ImageGenerationRequest request) {
    String model = modelOf(request);
    if (model == null) {
      throw ProviderUnavailableException.failOver("model '" + request.model() + "' is neither an alias this provider knows ("
          + String.join(", ", HuggingFaceModels.ALIASES.keySet()) + ") nor a Hugging Face repo id (owner/name)", ID, null);
    }
    Profile p = HuggingFaceModels.profile(model);
    // soft inputs the model ignores are left out below and named by core's rule
    List<String> warnings = new ArrayList<>(capabilities().warnings(request));

    String negative = p.negativePrompt ? request.effectiveNegativePrompt() : null;
    Integer steps = request.steps();
    if (steps != null && p.maxSteps > 0 && steps > p.maxSteps) {
      warnings.add("steps lowered from " + steps + " to " + p.maxSteps + ": " + model + " takes 1-" + p.maxSteps + " steps");
      steps = p.maxSteps;
    }
    Double guidance = p.guidance ? request.guidanceScale() : null;
    String scheduler = null;
    if (p.schedulers() && request.sampler() != null && !request.sampler().isBlank()) {
      scheduler = HuggingFaceModels.scheduler(request.sampler());
      if (scheduler == null) {
        warnings.add("sampler '" + request.sampler() + "' not sent: no matching diffusers scheduler (known: euler, euler_a, "
            + "dpm++ 2m, dpm++ sde, ddim, pndm, lms, heun, unipc, ddpm, or a diffusers class name)");
      }
    }
    Integer w = request.width();
    Integer h = request.height();
    if ((w != null && w % p.sizeMultiple != 0) || (h != null && h % p.sizeMultiple != 0)) {
      warnings.add(model + " may resize " + w + "x" + h + " to multiples of " + p.sizeMultiple);
    }

    int n = request.numImages();
    Long base = request.seed();
    List<Shot> shots = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Long seed = base != null ? Long.valueOf(base + i)
          : n > 1 ? Long.valueOf(ThreadLocalRandom.current().nextLong(0, Integer.MAX_VALUE)) : null;
      HuggingFaceWire.Parameters params = new HuggingFaceWire.Parameters(negative, w, h, steps, guidance, scheduler, seed);
      shots.add(new Shot(seed, new HuggingFaceWire.TextToImage(request.prompt(), params.isEmpty() ? null : params)));
    }
    ImageFormat format = ImageFormat.fromName(request.outputFormat());
    String accept = format == null ? ImageFormat.PNG.mediaType() : format.mediaType();
    URI uri = dedicated ? endpoint : ProviderHttp.join(endpoint, "/models/" + model);
    return new Plan(model, uri, accept, shots, warnings);
  }

  // ------------------------------------------------------------------ health

  /** Asks the Hub whose token this is ({@code whoami-v2}); without a token, DEGRADED and no call. */
  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
    if (token == null) {
      return CompletableFuture.completedFuture(ProviderHealth.of(ID, State.DEGRADED, Duration.ZERO,
          "no token configured: the token check (whoami) was skipped"));
    }
    HttpRequest req = request(ctx, ProviderHttp.join(hubUrl, "/api/whoami-v2")).GET().build();
    return HealthCheck.get(ctx, req, (r, latency) -> {
      // {"type":"user","name":"alice",...}: the token was accepted, the body only names its account
      JsonNode w = r.jsonOrNull(ctx.json());
      JsonNode name = w == null ? null : w.get("name");
      String type = w == null || !w.hasNonNull("type") ? "" : w.get("type").asText() + " ";
      String who = name == null || name.isNull() ? "" : " (" + type + name.asText() + ")";
      return ProviderHealth.of(ID, State.UP, latency, "token accepted" + who);
    });
  }

  // ------------------------------------------------------------------ helpers

  @Override
  public String toString() {
    return "HuggingFaceProvider[" + endpoint + (dedicated ? " (dedicated endpoint)" : "") + ", model " + defaultModel + "]";
  }

  /** The router without a provider segment means HF Inference's own fleet. */
  static URI normalise(URI base) {
    String path = base.getPath() == null ? "" : base.getPath();
    if ("router.huggingface.co".equalsIgnoreCase(base.getHost()) && (path.isEmpty() || "/".equals(path))) {
      return URI.create(DEFAULT_BASE_URL);
    }
    return base;
  }

  /** Whether a URL's host is {@code suffix} (without its dot) or ends with it. */
  static boolean isHuggingFaceHost(URI uri, String suffix) {
    String host = uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT);
    return host.endsWith(suffix) || host.equals(suffix.substring(1));
  }

  /**
   * Where {@code whoami-v2} is asked: {@code hub-url}; the Hub for HF's own hosts; else the
   * base URL's origin (a proxy, a test server).
   */
  static URI hubUrl(ProviderConfig config, URI base) {
    boolean hf = isHuggingFaceHost(base, ".huggingface.co") || isHuggingFaceHost(base, ".huggingface.cloud");
    return config.url(HUB_URL, hf ? HUB : base.getScheme() + "://" + base.getRawAuthority());
  }
}
