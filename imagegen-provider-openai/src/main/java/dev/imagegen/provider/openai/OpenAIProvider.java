package dev.imagegen.provider.openai;

import com.fasterxml.jackson.databind.JsonNode;
import dev.imagegen.Cost;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderHealth.State;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HealthCheck;
import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageDownloader;
import dev.imagegen.spi.Multipart;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.Secret;
import dev.imagegen.spi.SoftInput;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * The OpenAI Images API: one synchronous {@code POST /images/generations} (JSON) or
 * {@code POST /images/edits} (multipart: {@code image}, or repeated {@code image[]} parts, and an
 * optional {@code mask}) per request, answered with every image in base64 (GPT image models) or as
 * URLs (DALL·E, compatible servers), which are fetched at once. No job id, no polling, no remote
 * cancel; a connection lost after the POST was sent leaves the outcome unknown (the image may be
 * billed) and is never resubmitted.
 *
 * <p>The model is configuration ({@code model}, default {@value OpenAIModels#DEFAULT_MODEL}) or the
 * request's, and is always sent. Models OpenAI has shut down ({@code retired-models}) are refused
 * before any call, so routing skips this provider for them; a model the server does not know
 * (404 {@code model_not_found}) is an {@link InvalidRequestException} that names it.
 *
 * <p>The cost is the call's {@code usage}, priced per token kind ({@link OpenAIPrices}).
 *
 * <p>Immutable and thread-safe.
 */
final class OpenAIProvider extends HttpImageProvider {
  static final String ID = "openai";
  static final String DEFAULT_BASE_URL = "https://api.openai.com/v1";
  /** Azure's default data-plane version: the one whose image how-to documents GPT image edits. */
  static final String DEFAULT_API_VERSION = "2025-04-01-preview";

  /** Config key: the model a request without one runs on (on Azure, the model the deployment serves). */
  static final String MODEL = "model";
  /** Config key: models refused without a call. */
  static final String RETIRED_MODELS = "retired-models";
  /** Config key: the Azure resource's endpoint, {@code https://{resource}.openai.azure.com}. */
  static final String ENDPOINT = "endpoint";
  /** Config key: the Azure deployment name. */
  static final String DEPLOYMENT = "deployment";
  /** Config key: the Azure {@code api-version}, or {@code v1} for the v1 surface. */
  static final String API_VERSION = "api-version";
  /** Config key: the Azure key, sent as {@code api-key} (else {@code api-key}'s value). */
  static final String AZURE_API_KEY = "azure-api-key";
  /** Config key: {@code OpenAI-Organization}. */
  static final String ORGANIZATION = "organization";
  /** Config key: {@code OpenAI-Project}. */
  static final String PROJECT = "project";
  /** Config key: the default {@code quality}. */
  static final String QUALITY = "quality";
  /** Config key: the default {@code background}. */
  static final String BACKGROUND = "background";
  /** Config key: the default {@code moderation}. */
  static final String MODERATION = "moderation";
  /** Config key: the default {@code output_compression}. */
  static final String OUTPUT_COMPRESSION = "output-compression";
  /** Config key: the default {@code user}. */
  static final String USER = "user";
  /** Config key: the {@code response_format} sent where the model takes one. */
  static final String RESPONSE_FORMAT = "response-format";
  /** Config key: the default {@code input_fidelity} of edits. */
  static final String INPUT_FIDELITY = "input-fidelity";


  /** The {@code providerOptions} keys read, under their wire names. */
  static final List<String> OPTIONS = List.of("quality", "background", "moderation", "output_compression", "user",
      "input_fidelity", "style");

  private final OpenAIFlavour flavour;
  private final @Nullable Secret key;
  private final @Nullable String organization;
  private final @Nullable String project;
  /** Where the API lives: {@code base-url} (OpenAI, compatible) or the Azure endpoint. */
  private final URI root;
  private final @Nullable String deployment;
  private final String apiVersion;
  private final String defaultModel;
  private final Set<String> retired;
  private final Map<String, String> defaults;
  private final @Nullable String responseFormat;
  private final OpenAIPrices prices;

  OpenAIProvider(ProviderConfig config) {
    super(config, DEFAULT_BASE_URL);
    this.flavour = OpenAIFlavour.of(config);
    this.organization = config.get(ORGANIZATION).orElse(null);
    this.project = config.get(PROJECT).orElse(null);
    this.apiVersion = config.string(API_VERSION, DEFAULT_API_VERSION);
    this.deployment = config.get(DEPLOYMENT).map(String::strip).orElse(null);
    if (flavour == OpenAIFlavour.AZURE) {
      this.key = config.secret(AZURE_API_KEY).or(config::apiKey).orElse(null);
      this.root = config.get(ENDPOINT).isPresent() ? config.url(ENDPOINT, DEFAULT_BASE_URL) : baseUrl;
      if (key == null) {
        throw new IllegalStateException(ID + ": no Azure key configured (set AZURE_OPENAI_API_KEY, "
            + config.whereToSet(AZURE_API_KEY) + ")");
      }
      if (deployment == null && !"v1".equalsIgnoreCase(apiVersion)) {
        throw new IllegalStateException(ID + ": Azure needs '" + DEPLOYMENT + "', the deployment name (" + config.whereToSet(DEPLOYMENT)
            + "), or '" + API_VERSION + "=v1' for the v1 surface");
      }
    } else {
      this.key = config.apiKey().orElse(null);
      this.root = baseUrl;
      if (key == null && flavour == OpenAIFlavour.OPENAI) {
        throw new IllegalStateException(ID + ": no API key configured (set OPENAI_API_KEY, " + config.whereToSet(ProviderConfig.API_KEY)
            + ")");
      }
    }
    String model = config.string(MODEL, OpenAIModels.DEFAULT_MODEL).strip();
    this.defaultModel = model.isEmpty() ? OpenAIModels.DEFAULT_MODEL : model;
    this.retired = config.get(RETIRED_MODELS)
        .map(v -> Arrays.stream(v.split(",")).map(s -> s.strip().toLowerCase(Locale.ROOT)).filter(s -> !s.isEmpty())
            .collect(Collectors.toCollection(LinkedHashSet::new)))
        .orElseGet(() -> flavour == OpenAIFlavour.OPENAI ? new LinkedHashSet<>(OpenAIModels.RETIRED) : new LinkedHashSet<>());
    if (retired.contains(defaultModel.toLowerCase(Locale.ROOT))) {
      throw new IllegalStateException(ID + ": '" + MODEL + "' is " + defaultModel + ", which " + RETIRED_MODELS + " lists as shut "
          + "down; set " + config.whereToSet(MODEL) + " to a live model such as " + OpenAIModels.DEFAULT_MODEL);
    }
    this.defaults = OpenAIOptions.defaults(config);
    this.responseFormat = responseFormat(config, flavour, root);
    boolean compatible = flavour == OpenAIFlavour.COMPATIBLE;
    ProviderCapabilities.Builder caps = ProviderCapabilities.builder()
        .maxPromptLength(OpenAIModels.MAX_PROMPT)
        .optionKeys(OPTIONS)
        .maxImagesPerRequest(config.intValue("max-images-per-request", 10, 1, 10))
        .ignores(SoftInput.STEPS, SoftInput.GUIDANCE, SoftInput.SAMPLER)
        .negativePrompt(compatible)
        .seed(compatible);
    if (compatible) {
      caps.sizes(64, 4096, 8).anyModel(true);
    } else {
      // gpt-image-2: edges multiples of 16 up to 3840 (at least 655,360 pixels within 1:3..3:1, checked per call)
      caps.sizes(480, OpenAIModels.MAX_EDGE, 16).img2img(true).mask(true).maxReferenceImages(OpenAIModels.MAX_EDIT_IMAGES);
      if (flavour == OpenAIFlavour.AZURE) {
        List<String> names = new ArrayList<>(List.of(defaultModel));
        if (deployment != null && !deployment.equals(defaultModel)) {
          names.add(deployment);
        }
        caps.models(names);
      } else {
        caps.models(defaultModel).modelNames(name -> OpenAIModels.isOpenAIImageModel(name) && !isRetired(name));
      }
    }
    this.prices = OpenAIPrices.build(config, this::priced);
    declare(caps.build(), prices);
  }

  @Override
  protected HttpRequest.Builder authorize(HttpRequest.Builder request) {
    Secret k = key;
    if (k == null) {
      return request;
    }
    if (flavour == OpenAIFlavour.AZURE) {
      return request.header("api-key", k.reveal());
    }
    request.header("Authorization", "Bearer " + k.reveal());
    if (organization != null) {
      request.header("OpenAI-Organization", organization);
    }
    if (project != null) {
      request.header("OpenAI-Project", project);
    }
    return request;
  }

  @Override
  public List<ModelInfo> models() {
    String what = flavour == OpenAIFlavour.AZURE ? "Azure OpenAI deployment " + (deployment == null ? defaultModel : deployment)
        : flavour == OpenAIFlavour.COMPATIBLE ? "OpenAI-compatible server " + ProviderConfig.maskUserInfo(root.toString())
        : "OpenAI Images API (any live GPT image model id is accepted)";
    return List.of(new ModelInfo(ID, defaultModel, List.of(), what));
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return OpenAIErrors.map(id(), response, context.json(), null);
  }

  // ------------------------------------------------------------------ generation

  /** The model a request runs on, or null when this provider cannot serve the name. */
  @Nullable String modelOf(ImageGenerationRequest request) {
    String m = request.model();
    if (m == null || m.isBlank() || flavour == OpenAIFlavour.AZURE) {
      return defaultModel;
    }
    return isRetired(m) ? null : m.strip();
  }

  /**
   * The {@code model} sent for a model: on Azure's v1 surface the deployment name (when one is
   * configured), everywhere else the model id itself.
   *
   * @param model the model a request runs on
   */
  String wireModel(String model) {
    return flavour == OpenAIFlavour.AZURE && "v1".equalsIgnoreCase(apiVersion) && deployment != null ? deployment : model;
  }

  boolean isRetired(String model) {
    return retired.contains(model.strip().toLowerCase(Locale.ROOT));
  }

  /** What the price of a request depends on. */
  private OpenAIPrices.Priced priced(ImageGenerationRequest r) {
    Map<String, Object> opts = r.providerOptions(ID);
    Object q = opts.getOrDefault("quality", defaults.get("quality"));
    int inputs = r.inputImages(InputImage.Role.INIT).size() + r.inputImages(InputImage.Role.REFERENCE).size();
    return new OpenAIPrices.Priced(modelOf(r), q == null ? null : q.toString(), r.width(), r.height(), r.numImages(), inputs,
        r.prompt() == null ? 0 : r.prompt().length());
  }

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    OpenAIRequest plan;
    try {
      plan = OpenAIRequest.plan(this, request);
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    return inputs(plan, ctx).thenCompose(files -> {
      if (ctx.isCancelled()) {
        return CompletableFuture.failedFuture(new GenerationCancelledException("cancelled before calling "
            + flavourName(), id()));
      }
      HttpRequest req = plan.edit() ? multipart(ctx, plan, files) : json(ctx, plan);
      return ctx.http().send(req, ctx.http().bodyLimit(plan.n())).thenCompose(r -> r.isSuccess() ? read(ctx, plan, r)
          : CompletableFuture.failedFuture(error(ctx, plan, r)));
    });
  }

  /** An input image's bytes, fetched when it is a URL. */
  private record File(InputImage.Role role, byte[] bytes) {}

  private CompletableFuture<List<File>> inputs(OpenAIRequest plan, GenerationContext ctx) {
    List<CompletableFuture<File>> all = new ArrayList<>();
    for (InputImage img : plan.inputs()) {
      all.add(ctx.downloader().input(img).thenApply(b -> new File(img.role(), b)));
    }
    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).thenApply(v -> all.stream().map(CompletableFuture::join)
        .toList());
  }

  /** The URL of an operation ({@code /images/generations} or {@code /images/edits}) for this flavour. */
  URI operation(String path) {
    if (flavour != OpenAIFlavour.AZURE) {
      return ProviderHttp.join(root, path);
    }
    if ("v1".equalsIgnoreCase(apiVersion)) {
      return ProviderHttp.join(root, "/openai/v1" + path);
    }
    String d = URLEncoder.encode(deployment == null ? defaultModel : deployment, StandardCharsets.UTF_8).replace("+", "%20");
    return URI.create(ProviderHttp.join(root, "/openai/deployments/" + d + path) + "?api-version="
        + URLEncoder.encode(apiVersion, StandardCharsets.UTF_8));
  }

  private HttpRequest json(GenerationContext ctx, OpenAIRequest plan) {
    return request(ctx, operation("/images/generations")).header("Content-Type", "application/json")
        .POST(ctx.http().jsonBody(plan.body())).build();
  }

  private HttpRequest multipart(GenerationContext ctx, OpenAIRequest plan, List<File> files) {
    Multipart form = Multipart.form();
    plan.body().fields().forEachRemaining(f -> form.field(f.getKey(), f.getValue().asText()));
    List<File> images = files.stream().filter(f -> f.role() != InputImage.Role.MASK).toList();
    String part = images.size() == 1 ? "image" : "image[]";
    for (int i = 0; i < images.size(); i++) {
      byte[] b = images.get(i).bytes();
      ImageFormat f = ImageFormat.sniff(b);
      if (f == null) {
        throw new CompletionException(new InvalidRequestException("input image " + (i + 1) + " is not a PNG, JPEG or WebP image",
            id()));
      }
      form.file(part, "image-" + (i + 1) + "." + f.extension(), f.mediaType(), b);
    }
    for (File m : files) {
      if (m.role() == InputImage.Role.MASK) {
        byte[] mask;
        try {
          mask = OpenAIMask.toAlphaMask(m.bytes());
        } catch (IllegalArgumentException e) {
          throw new CompletionException(new InvalidRequestException(String.valueOf(e.getMessage()), id()));
        }
        form.file("mask", "mask.png", "image/png", mask);
      }
    }
    return request(ctx, operation("/images/edits")).header("Content-Type", form.contentType())
        .POST(form.body()).build();
  }

  /** An error answer: OpenAI's rows, the model named, and {@code x-should-retry: true} honoured for a 5xx. */
  private ImageGenerationException error(GenerationContext ctx, OpenAIRequest plan, HttpResult r) {
    ImageGenerationException mapped = ctx.http().mapError(r);
    OpenAIWire.ErrorBody body = OpenAIWire.ErrorBody.of(r, ctx.json());
    if (mapped instanceof InvalidRequestException && ("model_not_found".equalsIgnoreCase(String.valueOf(body.code()))
        || r.status() == 404)) {
      String what = mapped.getMessage() == null ? "" : mapped.getMessage();
      String named = flavour == OpenAIFlavour.AZURE && deployment != null ? "deployment '" + deployment + "' (model '"
          + plan.model() + "')" : "model '" + plan.model() + "'";
      return what.contains(named) ? mapped : InvalidRequestException.notServedHere(named + " is not served on " + flavourName()
          + ": " + what.replaceFirst("^" + id() + ": (invalid request: )?", ""), id());
    }
    if (r.status() >= 500 && body.type() != null && mapped instanceof ProviderUnavailableException pu && pu.outcomeUnknown()) {
      // OpenAI answered in its own error shape: the synchronous call failed and returned no image, so it is retried
      // (unless x-should-retry: false) and failed over, as OpenAI's clients do; a 5xx page from a proxy stays unknown
      String why = pu.getCause() instanceof ImageGenerationException cause && cause.getMessage() != null ? cause.getMessage()
          : String.valueOf(pu.getMessage());
      return ProviderUnavailableException.builder(why + "; OpenAI's error answer means no image was made", id())
          .retryable(!Boolean.FALSE.equals(OpenAIErrors.shouldRetry(r))).notBilled().retryAfter(pu.retryAfter()).build();
    }
    return mapped;
  }

  /** A 2xx answer: the images (base64 decoded with the size limit, or URLs fetched), the usage priced. */
  private CompletableFuture<ProviderResult> read(GenerationContext ctx, OpenAIRequest plan, HttpResult r) {
    OpenAIWire.ImagesResponse answer = ctx.http().parse(r, OpenAIWire.ImagesResponse.class);
    List<OpenAIWire.Datum> data = answer.data() == null ? List.of() : answer.data();
    if (data.isEmpty()) {
      return CompletableFuture.failedFuture(ProviderUnavailableException.builder("answered HTTP " + r.status() + " with no image ("
          + "data is empty)" + requestId(r) + "; the call may have been billed", id()).retryable(false).build());
    }
    Long seed = flavour == OpenAIFlavour.COMPATIBLE ? plan.seed() : null;
    List<ImageDownloader.Source> sources = data.stream().map(d -> new ImageDownloader.Source(d.value(), seed, false)).toList();
    return ctx.downloader().allOf(sources).thenApply(done -> result(plan, answer, data, done, r));
  }

  private ProviderResult result(OpenAIRequest plan, OpenAIWire.ImagesResponse answer, List<OpenAIWire.Datum> data,
      ImageDownloader.Downloaded done, HttpResult r) {
    String model = answer.model() != null && !answer.model().isBlank() ? answer.model() : plan.model();
    ProviderResult.Builder b = ProviderResult.builder(model).downloadTime(done.took());
    done.images().forEach(b::image);
    plan.warnings().forEach(b::warning);
    b.metadata("openai_flavour", flavour.key()).metadata("openai_request_id", r.header("x-request-id"))
        .metadata("azure_deployment", flavour == OpenAIFlavour.AZURE ? deployment : null)
        .metadata("size", answer.size()).metadata("quality", answer.quality()).metadata("background", answer.background())
        .metadata("output_format", answer.outputFormat())
        .metadata("ratelimit_remaining_requests", r.header("x-ratelimit-remaining-requests"))
        .metadata("ratelimit_remaining_tokens", r.header("x-ratelimit-remaining-tokens"));
    String revised = data.stream().map(OpenAIWire.Datum::revisedPrompt).filter(p -> p != null && !p.isBlank()).findFirst()
        .orElse(null);
    b.metadata("revised_prompt", revised);
    OpenAIWire.Usage usage = answer.usage();
    if (usage != null) {
      OpenAIWire.Details in = usage.inputTokensDetails();
      OpenAIWire.Details out = usage.outputTokensDetails();
      b.metadata("input_tokens", usage.inputTokens()).metadata("output_tokens", usage.outputTokens())
          .metadata("input_text_tokens", in == null ? null : in.textTokens())
          .metadata("input_image_tokens", in == null ? null : in.imageTokens())
          .metadata("output_image_tokens", out == null ? null : out.imageTokens());
      Cost cost = prices.fromUsage(model, usage, plan.edit());
      b.reportedCost(cost);
      if (cost == null && prices.tokenPrices(model) == null) {
        b.warning("no token prices for model " + model + ": its cost is unknown (set price." + model + ".text-input, "
            + ".image-input and .image-output, USD per 1M tokens)");
      }
    }
    if (done.images().size() < plan.n()) {
      b.metadata("images_requested", plan.n()).metadata("images_returned", done.images().size());
      b.warning("asked for " + plan.n() + " images, " + flavourName() + " returned " + done.images().size());
    }
    return b.build();
  }

  // ------------------------------------------------------------------ health

  /**
   * A cheap authenticated read: {@code GET /models/{model}} on OpenAI (the key and the model at
   * once), {@code GET /openai/models?api-version=...} on Azure, {@code GET /models} on a
   * compatible server.
   */
  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
    URI probe;
    if (flavour == OpenAIFlavour.AZURE) {
      probe = "v1".equalsIgnoreCase(apiVersion) ? ProviderHttp.join(root, "/openai/v1/models")
          : URI.create(ProviderHttp.join(root, "/openai/models") + "?api-version=" + URLEncoder.encode(apiVersion,
              StandardCharsets.UTF_8));
    } else if (flavour == OpenAIFlavour.COMPATIBLE) {
      probe = ProviderHttp.join(root, "/models");
    } else {
      probe = ProviderHttp.join(root, "/models/" + URLEncoder.encode(defaultModel, StandardCharsets.UTF_8));
    }
    HttpRequest req = request(ctx, probe).GET().build();
    return HealthCheck.get(ctx, req, (r, latency) -> {
      JsonNode m = r.jsonOrNull(ctx.json());
      JsonNode shutdown = m == null ? null : m.get("shutdown_date");
      if (shutdown != null && shutdown.isTextual()) {
        return ProviderHealth.of(id(), State.DEGRADED, latency, "key accepted; model " + defaultModel + " shuts down on "
            + shutdown.asText());
      }
      return ProviderHealth.of(id(), State.UP, latency, "key accepted" + (flavour == OpenAIFlavour.OPENAI ? "; model "
          + defaultModel + " listed" : ""));
    });
  }

  // ------------------------------------------------------------------ helpers

  OpenAIFlavour flavour() {
    return flavour;
  }

  String defaultModel() {
    return defaultModel;
  }

  Map<String, String> defaults() {
    return defaults;
  }

  @Nullable String responseFormat() {
    return responseFormat;
  }

  String flavourName() {
    return flavour == OpenAIFlavour.AZURE ? "Azure OpenAI" : flavour == OpenAIFlavour.COMPATIBLE ? "the OpenAI-compatible server"
        : "OpenAI";
  }

  private static String requestId(HttpResult r) {
    String v = r.header("x-request-id");
    return v == null ? "" : " [x-request-id " + v.strip() + "]";
  }

  /**
   * The {@code response_format} a model that takes one gets: {@code response-format}, else
   * {@code base64} for Together (its spelling) and {@code b64_json} elsewhere; {@code none} sends none.
   */
  private static @Nullable String responseFormat(ProviderConfig config, OpenAIFlavour flavour, URI root) {
    String host = root.getHost() == null ? "" : root.getHost().toLowerCase(Locale.ROOT);
    boolean together = host.endsWith("together.xyz") || host.endsWith("together.ai");
    String v = config.choice(RESPONSE_FORMAT, flavour == OpenAIFlavour.COMPATIBLE && together ? "base64" : "b64_json", "b64_json",
        "base64", "url", "none");
    return "none".equals(v) ? null : v;
  }

  @Override
  public String toString() {
    return "OpenAIProvider[" + flavour.key() + ", " + ProviderConfig.maskUserInfo(root.toString())
        + (deployment == null ? "" : ", deployment " + deployment) + ", model " + defaultModel + "]";
  }
}
