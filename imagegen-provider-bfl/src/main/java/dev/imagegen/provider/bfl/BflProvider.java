package dev.imagegen.provider.bfl;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HealthCheck;
import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.PollPolicy;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.ProviderSupport;
import dev.imagegen.spi.Secret;
import dev.imagegen.spi.SoftInput;
import dev.imagegen.spi.WebhookVerifier;
import dev.imagegen.spi.Webhooks;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.jspecify.annotations.Nullable;

/**
 * Black Forest Labs' API: submits to {@code POST /v1/{model}} with {@code x-key}, reads
 * {@code {id, polling_url}}, polls the returned {@code polling_url} ({@link BflJob}) and downloads
 * {@code result.sample} at once. See {@link BflProviderFactory} for the configuration.
 * Thread-safe; one instance serves every generation of a service.
 */
final class BflProvider extends HttpImageProvider {
  /** The global endpoint (routes across clusters, with failover). */
  static final String GLOBAL_URL = "https://api.bfl.ai";
  /** Config key: {@code global}, {@code eu}, {@code us} (multi-cluster, region-bound), {@code eu1}, {@code us1} (legacy single-cluster). */
  static final String REGION = "region";
  /** Config key: hosts a returned {@code polling_url} may name for the key to go there. */
  static final String POLLING_HOSTS = "polling-hosts";
  /** Config key: the model of a request without input images that names none. */
  static final String MODEL = "model";
  /** Config key: the model of a request with input images that names none. */
  static final String EDIT_MODEL = "edit-model";
  /** Config key: {@code safety_tolerance} sent with every submit (0 strictest .. 6); unset leaves BFL's default (2). */
  static final String SAFETY_TOLERANCE = "safety-tolerance";
  /** The most permissive {@code safety_tolerance} FLUX.2 models take (FLUX.1 take up to 6). */
  static final int FLUX2_MAX_SAFETY_TOLERANCE = 5;
  /** Config key: {@code prompt_upsampling} sent with every submit (default false, not sent). */
  static final String PROMPT_UPSAMPLING = "prompt-upsampling";
  /** The regions and their hosts. */
  static final Map<String, String> REGIONS = Map.of("global", GLOBAL_URL, "eu", "https://api.eu.bfl.ai",
      "us", "https://api.us.bfl.ai", "eu1", "https://api.eu1.bfl.ai", "us1", "https://api.us1.bfl.ai");
  /** BFL documents no poll limit (its client polls every second); ours, so a small poll-interval cannot hammer it. */
  static final Duration POLL_FLOOR = Duration.ofMillis(200);
  /** Config key: the {@code webhook_secret} sent with each submit and checked on each delivery; required with {@code webhook-url}. */
  static final String WEBHOOK_SECRET = "webhook-secret";

  private final Secret key;
  private final BflHosts hosts;
  private final BflModels.Model defaultModel;
  private final BflModels.Model editModel;
  private final @Nullable Integer safetyTolerance;
  private final boolean promptUpsampling;
  private final PollPolicy pollPolicy;
  /** Where BFL sends each task's webhook, or null (polling only). */
  private final @Nullable URI webhookUrl;
  private final @Nullable Secret webhookSecret;
  private final @Nullable WebhookVerifier webhookVerifier;

  BflProvider(ProviderConfig config, Secret key) {
    super(config, regionUrl(config));
    config.url(ProviderConfig.BASE_URL, regionUrl(config)); // an http(s) URL with a host, or the error names the key
    this.key = key;
    this.hosts = BflHosts.of(config.providerId(), baseUrl, config.string(POLLING_HOSTS, BflHosts.DEFAULT));
    this.defaultModel = model(config, MODEL, BflModels.FLUX_2_PRO);
    this.editModel = model(config, EDIT_MODEL, BflModels.KONTEXT_PRO);
    if (editModel.maxInputImages() == 0) {
      throw new IllegalStateException(config.providerId() + ": '" + EDIT_MODEL + "' must be a model that takes input images "
          + "(a FLUX.2 or Kontext model), was " + editModel.id());
    }
    this.safetyTolerance = config.get(SAFETY_TOLERANCE).isPresent() ? config.intValue(SAFETY_TOLERANCE, 2, 0, 6) : null;
    this.promptUpsampling = config.bool(PROMPT_UPSAMPLING, false);
    PollPolicy normal = PollPolicy.builder().initialDelay(Duration.ofMillis(500)).interval(Duration.ofMillis(500))
        .maxInterval(Duration.ofSeconds(2)).multiplier(1.5).floor(POLL_FLOOR)
        // poll budget: BFL publishes no read limit; 24 active tasks per account, polled about once a second each
        .pollsPerSecond(24).build().withConfig(config);
    this.webhookUrl = Webhooks.url(config).orElse(null);
    this.webhookSecret = webhookUrl == null ? null : config.secret(WEBHOOK_SECRET).filter(v -> !v.reveal().isBlank())
        .orElseThrow(() -> new IllegalStateException(config.providerId() + ": '" + WEBHOOK_SECRET + "' is required with '"
            + Webhooks.URL + "': the secret BFL is given with each task and sends back with its webhook (set "
            + config.whereToSet(WEBHOOK_SECRET) + ")"));
    this.webhookVerifier = webhookSecret == null ? null : new BflWebhooks(webhookSecret, Webhooks.allowUnsigned(config));
    this.pollPolicy = webhookUrl == null ? normal : Webhooks.safetyNet(normal, config);
    ProviderCapabilities capabilities = ProviderCapabilities.builder()
        .models(BflModels.ORDER)
        .maxPromptLength(ProviderCapabilities.DEFAULT_MAX_PROMPT_LENGTH)
        // the request's bfl options are merged into the body: any field of the model (raw, image_prompt, webhook_url...)
        .anyOption(true)
        // the union over the models; each model's own rule is checked in generate (BflModels.check)
        .sizes(64, 4096, 16)
        .maxSteps(50)
        .negativePrompt(false)
        .ignores(SoftInput.SAMPLER)
        .modelInputs(r -> BflModels.ignored(modelOrNull(r)))
        .seed(true)
        .img2img(true)
        .mask(false)
        .maxReferenceImages(8)
        .maxImagesPerRequest(1)
        // BFL reports no queue position, only a progress while Pending
        .queued(false)
        // BFL has no cancel endpoint
        .cancellable(false)
        .build();
    declare(capabilities, new BflPrices(config, this::modelOrNull));
  }

  /** The URL of the configured {@code region} (default the global endpoint); {@code base-url} may not be set with it. */
  static String regionUrl(ProviderConfig config) {
    if (config.get(REGION).isEmpty()) {
      return GLOBAL_URL;
    }
    String region = config.choice(REGION, "global", "global", "eu", "us", "eu1", "us1");
    if (config.get(ProviderConfig.BASE_URL).isPresent()) {
      throw new IllegalStateException(config.providerId() + ": set either '" + REGION + "' or '" + ProviderConfig.BASE_URL
          + "', not both (" + REGION + " " + region + " picks " + REGIONS.get(region) + ")");
    }
    return java.util.Objects.requireNonNull(REGIONS.get(region), region);
  }

  private static BflModels.Model model(ProviderConfig config, String key, String fallback) {
    String v = config.string(key, fallback);
    BflModels.Model m = BflModels.find(v);
    if (m == null) {
      throw new IllegalStateException(config.providerId() + ": '" + key + "' must be one of " + String.join(", ",
          BflModels.ORDER) + ", was '" + v.strip() + "'");
    }
    return m;
  }

  /** The verifier of BFL's deliveries ({@link BflWebhooks}) when {@code webhook-url} is set, else null. */
  @Override
  public @Nullable WebhookVerifier webhookVerifier() {
    return webhookVerifier;
  }

  /** The allow-list of polling hosts. */
  BflHosts hosts() {
    return hosts;
  }

  /** Sends the key as {@code x-key}. */
  @Override
  protected HttpRequest.Builder authorize(HttpRequest.Builder request) {
    return request.header("x-key", key.reveal());
  }

  /**
   * BFL's models, each with what it does and its built-in price.
   */
  @Override
  public List<ModelInfo> models() {
    List<ModelInfo> out = new ArrayList<>();
    for (String id : BflModels.ORDER) {
      BflModels.Model m = java.util.Objects.requireNonNull(BflModels.ALL.get(id), id);
      String price = m.perImage() != null ? "$" + m.perImage().toPlainString() + " per image"
          : m.firstMp() != null ? "$" + m.firstMp().toPlainString() + " for the first megapixel, $"
              + java.util.Objects.requireNonNull(m.furtherMp()).toPlainString() + " per further output or input megapixel"
          : "price unknown unless configured";
      String role = m.id().equals(defaultModel.id()) ? " (default)" : m.id().equals(editModel.id()) ? " (default for edits)" : "";
      out.add(new ModelInfo(id(), m.id(), List.of(), m.description() + role + "; " + price));
    }
    return out;
  }

  /**
   * The model a request runs on: its own, else {@code edit-model} when it has input images, else
   * {@code model}.
   *
   * @throws ImageGenerationException when BFL has no such model (another provider may)
   */
  BflModels.Model modelFor(ImageGenerationRequest r) {
    String name = r.model();
    if (name == null || name.isBlank()) {
      return BflModels.orderedInputs(r).isEmpty() ? defaultModel : editModel;
    }
    BflModels.Model m = BflModels.find(name);
    if (m == null) {
      throw BflModels.notCapable(id(), "BFL has no model '" + name + "' (known: " + String.join(", ", BflModels.ORDER) + ")");
    }
    return m;
  }

  private BflModels.@Nullable Model modelOrNull(ImageGenerationRequest r) {
    try {
      return modelFor(r);
    } catch (ImageGenerationException e) {
      return null;
    }
  }

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    BflModels.Model model;
    ObjectNode body;
    List<String> warnings = new ArrayList<>(capabilities().warnings(request));
    try {
      model = modelFor(request);
      BflModels.check(id(), request, model);
      body = body(request, model, ctx, warnings);
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    HttpRequest.BodyPublisher publisher;
    try {
      publisher = ctx.http().jsonBody(body);
    } catch (IllegalArgumentException e) {
      return CompletableFuture.failedFuture(new InvalidRequestException("the bfl options cannot be written as JSON", id()));
    }
    HttpRequest post = request(ctx, "/v1/" + model.id()).header("Content-Type", "application/json").POST(publisher).build();
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("bfl_model", model.id());
    ctx.progress(ProgressEvent.of(id(), ProgressEvent.Stage.SUBMITTED));
    return ctx.http().json(post, BflWire.Submit.class).thenCompose(s -> {
      String taskId = s.id() == null ? "" : s.id().strip();
      if (taskId.isEmpty()) {
        // a 200 without an id: a task may exist (and be billed) that cannot be followed
        throw new CompletionException(ProviderUnavailableException.outcomeUnknown("submit answered without an id; a task "
            + "may have been created", id(), null));
      }
      BflJob job = new BflJob(this, ctx, model.id(), taskId, s, request.seed(), warnings, meta);
      return ctx.await(job, pollPolicy);
    });
  }

  /**
   * The submit body: the request's fields under BFL's names for this model, then the request's
   * {@code bfl} options merged over them.
   */
  private ObjectNode body(ImageGenerationRequest r, BflModels.Model model, GenerationContext ctx, List<String> warnings) {
    ObjectNode b = ctx.json().createObjectNode();
    b.put("prompt", r.prompt());
    if (r.seed() != null) {
      b.put("seed", r.seed());
    }
    Integer w = r.width();
    Integer h = r.height();
    if (w != null && h != null) {
      if (model.sizing() == BflModels.Sizing.ASPECT_RATIO) {
        String ar = BflModels.aspectRatio(w, h);
        b.put("aspect_ratio", ar);
        warnings.add(model.id() + " takes an aspect ratio, not a size: aspect_ratio " + ar + " sent, BFL picks the pixel size");
      } else {
        b.put("width", w);
        b.put("height", h);
      }
    }
    if (model.stepsAndGuidance()) {
      if (r.steps() != null) {
        b.put("steps", r.steps());
      }
      if (r.guidanceScale() != null) {
        b.put("guidance", r.guidanceScale());
      }
    }
    String format = r.outputFormat() == null ? null : r.outputFormat().strip().toLowerCase(Locale.ROOT);
    if (format != null) {
      switch (format) {
        case "png" -> b.put("output_format", "png");
        case "jpeg", "jpg" -> b.put("output_format", "jpeg");
        default -> warnings.add("output format " + format + " not offered by BFL (jpeg or png): the model's default is sent");
      }
    }
    Integer tolerance = safetyTolerance;
    if (tolerance != null) {
      if (model.isFlux2() && tolerance > FLUX2_MAX_SAFETY_TOLERANCE) {
        // FLUX.2 takes 0..5 (BFL's API reference); the stricter end is kept rather than a 422
        warnings.add("safety_tolerance " + tolerance + " sent as " + FLUX2_MAX_SAFETY_TOLERANCE + ": " + model.id()
            + " takes 0 to " + FLUX2_MAX_SAFETY_TOLERANCE);
        tolerance = FLUX2_MAX_SAFETY_TOLERANCE;
      }
      b.put("safety_tolerance", tolerance);
    }
    if (promptUpsampling) {
      b.put("prompt_upsampling", true);
    }
    List<InputImage> inputs = BflModels.orderedInputs(r);
    for (int i = 0; i < inputs.size(); i++) {
      b.put(i == 0 ? "input_image" : "input_image_" + (i + 1), imageValue(inputs.get(i)));
    }
    if (r.strength() != null) {
      warnings.add("strength " + r.strength() + " not sent: BFL's editing models take none");
    }
    ProviderSupport.mergeOptions(b, r.providerOptions(id()), ctx.json());
    URI hook = webhookUrl;
    Secret hookSecret = webhookSecret;
    if (hook != null && hookSecret != null) {
      // the configured receiver wins over a request's bfl options: its verifier only knows the configured secret
      for (String field : List.of("webhook_url", "webhook_secret")) {
        if (b.has(field)) {
          warnings.add("bfl option " + field + " not sent: " + Webhooks.URL + " is configured, so the configured webhook is sent");
        }
      }
      b.put("webhook_url", hook.toString());
      b.put("webhook_secret", hookSecret.reveal());
    }
    return b;
  }

  /** An input image as BFL takes it: a URL as given (BFL fetches it), local bytes as base64. */
  private static String imageValue(InputImage image) {
    URI url = image.url();
    if (url != null && !image.isLocal()) {
      return url.toString();
    }
    return Base64.getEncoder().encodeToString(image.bytes());
  }

  /** {@code GET /v1/credits}: 200 is up (the balance in the message), 401/403 a refused key. Never completes exceptionally. */
  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext c) {
    return HealthCheck.get(c, request(c, "/v1/credits").GET().build(), (r, latency) -> {
      var json = r.jsonOrNull(c.json());
      String credits = json == null || !json.path("credits").isNumber() ? "" : json.path("credits").asText();
      return ProviderHealth.of(id(), ProviderHealth.State.UP, latency, credits.isEmpty() ? "key accepted"
          : "key accepted, " + credits + " credits");
    });
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return BflWire.mapError(id(), response, context.json());
  }
}
