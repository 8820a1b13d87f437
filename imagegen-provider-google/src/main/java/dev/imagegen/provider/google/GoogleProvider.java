package dev.imagegen.provider.google;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderHealth.State;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.provider.google.GoogleCalls.Plan;
import dev.imagegen.provider.google.GoogleModels.Profile;
import dev.imagegen.provider.google.GoogleWire.Part;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HealthCheck;
import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.ProviderSupport;
import dev.imagegen.spi.Secret;
import dev.imagegen.spi.SoftInput;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * The Gemini API's image models through {@code generateContent}: one call per image, the key in
 * the {@code x-goog-api-key} header (never in the URL, so it cannot reach a log line), the
 * request's size mapped to the nearest aspect ratio and size tier the model takes, input images
 * (init and references) sent inline. No job id, no queue, no remote cancel.
 *
 * <p>Immutable and thread-safe.
 */
final class GoogleProvider extends HttpImageProvider {
  static final String ID = "google";
  /** The Gemini API, version v1beta (the one python-genai calls). */
  static final String DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta";

  /** Config key: the model when a request names none. */
  static final String MODEL = "model";
  /** Config key: most images one request may ask for (one call each). */
  static final String MAX_IMAGES = "max-images-per-request";
  /** Config key: most input images (init and references) a request may carry, over the model's own limit. */
  static final String MAX_INPUT_IMAGES = "max-input-images";
  /** Config key: {@code TEXT,IMAGE} (default) or {@code IMAGE}. */
  static final String RESPONSE_MODALITIES = "response-modalities";

  /** {@code imageConfig} keys only Vertex AI takes: python-genai refuses them for the Gemini API. */
  static final Set<String> VERTEX_ONLY = Set.of("personGeneration", "person_generation", "outputMimeType", "output_mime_type",
      "outputCompressionQuality", "output_compression_quality", "prominentPeople", "prominent_people", "imageOutputOptions",
      "image_output_options");
  /** The providerOptions keys merged into the body. */
  static final List<String> OPTION_KEYS = List.of("generationConfig", "safetySettings", "systemInstruction");

  private final Secret key;
  private final String defaultModel;
  private final List<String> modalities;
  private final @Nullable Integer maxInputImages;
  private final GoogleCalls calls;

  GoogleProvider(ProviderConfig config) {
    super(config, DEFAULT_BASE_URL);
    this.key = config.apiKey().orElseThrow(() -> new IllegalStateException(ID + ": no API key configured (set GOOGLE_API_KEY"
        + " or GEMINI_API_KEY, " + config.whereToSet(ProviderConfig.API_KEY) + ")"));
    String m = GoogleModels.normalise(config.string(MODEL, GoogleModels.DEFAULT_MODEL));
    if (GoogleModels.isImagen(m)) {
      throw new IllegalStateException(ID + ": '" + MODEL + "' is '" + m + "', an Imagen model: Imagen answers only :predict, "
          + "which the Gemini API no longer serves (since 2026-08-17); use a Gemini image model such as "
          + GoogleModels.DEFAULT_MODEL);
    }
    if (!GoogleModels.isGeminiImageId(m)) {
      throw new IllegalStateException(ID + ": '" + MODEL + "' must be a Gemini image model id such as "
          + String.join(", ", GoogleModels.known()) + ", was '" + m + "'");
    }
    String instead = GoogleModels.RETIRED.get(m);
    if (instead != null) {
      throw new IllegalStateException(ID + ": '" + MODEL + "' is '" + m + "', a model reported as shut down on the Gemini "
          + "API; use " + instead);
    }
    this.defaultModel = m;
    String mod = config.choice(RESPONSE_MODALITIES, "TEXT,IMAGE", "TEXT,IMAGE", "IMAGE");
    this.modalities = List.of(mod.split(","));
    this.maxInputImages = config.get(MAX_INPUT_IMAGES).isPresent()
        ? Integer.valueOf(config.intValue(MAX_INPUT_IMAGES, 3, 0, 100)) : null;
    int maxImages = config.intValue(MAX_IMAGES, ImageGenerationRequest.MAX_IMAGES, 1, ImageGenerationRequest.MAX_IMAGES);
    int parallel = config.intValue(GoogleCalls.PARALLEL_CALLS, 2, 1, 10);
    Set<String> names = new LinkedHashSet<>(GoogleModels.known());
    names.add(defaultModel);
    ProviderCapabilities caps = ProviderCapabilities.builder()
        .models(names)
        .anyModel(true)
        .modelNames(GoogleModels::isGeminiImageId) // any Gemini image id; other names are skipped by routing, never sent
        .sizes(ImageGenerationRequest.MIN_SIZE, ImageGenerationRequest.MAX_SIZE, 8) // mapped to a ratio and tier, with a warning
        .maxSteps(ImageGenerationRequest.MAX_STEPS)
        .negativePrompt(false)
        .ignores(SoftInput.NEGATIVE_PROMPT, SoftInput.SAMPLER, SoftInput.GUIDANCE, SoftInput.STEPS)
        .seed(false)
        .img2img(true)
        .mask(false)
        .maxReferenceImages(Math.max(0, inputLimit(GoogleModels.profile(defaultModel)) - 1))
        .maxImagesPerRequest(maxImages)
        .optionKeys(OPTION_KEYS)
        .build();
    declare(caps, new GooglePrices(config, this::modelOf));
    this.calls = new GoogleCalls(ID, this, parallel);
  }

  /** The key goes in {@code x-goog-api-key}, as python-genai sends it; never in the URL. */
  @Override
  protected HttpRequest.Builder authorize(HttpRequest.Builder request) {
    return request.header("x-goog-api-key", key.reveal());
  }

  @Override
  public List<ModelInfo> models() {
    List<ModelInfo> out = new ArrayList<>();
    Set<String> ids = new LinkedHashSet<>();
    ids.add(defaultModel);
    ids.addAll(GoogleModels.known());
    for (String m : ids) {
      Profile p = GoogleModels.profile(m);
      out.add(new ModelInfo(ID, m, List.of(), (m.equals(defaultModel) ? "default; " : "") + p.ratios().size()
          + " aspect ratios, " + (p.sizeTiers() ? "1K/2K/4K" : "about 1024 px") + ", up to " + inputLimit(p)
          + " input images"));
    }
    return out;
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return GoogleErrors.map(ID, response, context.json());
  }

  /** The model a request runs on, or null when its name is no Gemini image id. */
  @Nullable String modelOf(ImageGenerationRequest request) {
    if (request.model() == null) {
      return defaultModel;
    }
    return GoogleModels.isGeminiImageId(request.model()) ? GoogleModels.normalise(request.model()) : null;
  }

  private int inputLimit(Profile p) {
    return maxInputImages != null ? maxInputImages : p.maxInputImages();
  }

  // ------------------------------------------------------------------ generation

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    String model = modelOf(request);
    try {
      if (model == null) {
        throw ProviderUnavailableException.failOver("model '" + request.model() + "' is no Gemini image model id ("
            + (GoogleModels.isImagen(String.valueOf(request.model())) ? "Imagen answers only :predict, which the Gemini API "
            + "no longer serves" : "known: " + String.join(", ", GoogleModels.known())) + ")", ID, null);
      }
      Profile profile = GoogleModels.profile(model);
      List<InputImage> inputs = new ArrayList<>();
      if (request.initImage() != null) {
        inputs.add(request.initImage());
      }
      inputs.addAll(request.inputImages(InputImage.Role.REFERENCE));
      int limit = inputLimit(profile);
      if (inputs.size() > limit) {
        throw ProviderUnavailableException.failOver(inputs.size() + " input images, but " + model + " takes at most " + limit
            + " (set imagegen.google." + MAX_INPUT_IMAGES + " if it takes more)", ID, null);
      }
      List<CompletableFuture<Part>> encoded = inputs.stream().map(in -> encode(in, ctx)).toList();
      return CompletableFuture.allOf(encoded.toArray(CompletableFuture[]::new))
          .thenCompose(v -> calls.run(plan(request, model, profile, encoded.stream().map(CompletableFuture::join).toList(), ctx),
              ctx));
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private Plan plan(ImageGenerationRequest request, String model, Profile profile, List<Part> images, GenerationContext ctx) {
    List<String> warnings = new ArrayList<>(capabilities().warnings(request));
    List<Part> parts = new ArrayList<>();
    parts.add(Part.text(request.prompt()));
    parts.addAll(images);
    GoogleWire.ImageConfig imageConfig = null;
    Integer w = request.width();
    Integer h = request.height();
    if (w != null && h != null) {
      String ratio = ProviderSupport.nearestAspectRatio(w, h, profile.ratios());
      String tier = GoogleModels.sizeTier(w, h);
      String size = profile.sizeTiers() && !tier.equals("1K") ? tier : null;
      imageConfig = new GoogleWire.ImageConfig(ratio, size);
      warnings.add(ID + ": size " + w + "x" + h + " sent as aspectRatio " + ratio + (size == null ? "" : ", imageSize " + size)
          + ": the Gemini API takes a ratio and a size tier, not pixels; " + model + " picks the pixel size"
          + (profile.sizeTiers() ? "" : " (about 1024 px on the longer side)"));
    } else if (w != null || h != null) {
      String tier = GoogleModels.sizeTier(w, h);
      if (profile.sizeTiers() && !tier.equals("1K")) {
        imageConfig = new GoogleWire.ImageConfig(null, tier);
      }
      warnings.add(ID + ": only one side given; the aspect ratio is the model's choice");
    }
    if (request.strength() != null) {
      warnings.add(ID + ": strength " + request.strength() + " not sent: Gemini edits by instruction and takes no strength");
    }
    if (request.seed() != null) {
      warnings.add(ID + ": seed not sent: Gemini image models are not seeded reproducibly");
    }
    GoogleWire.Request body = new GoogleWire.Request(List.of(new GoogleWire.Content("user", parts)),
        new GoogleWire.GenerationConfig(modalities, imageConfig));
    ObjectNode json = ctx.json().valueToTree(body);
    Map<String, Object> options = request.providerOptions(ID);
    checkOptions(options);
    ProviderSupport.mergeOptions(json, options, ctx.json());
    ImageFormat wanted = ImageFormat.fromName(request.outputFormat());
    return new Plan(model, "/models/" + model + ":generateContent", json, request.numImages(), wanted, warnings);
  }

  /** Refuses Vertex-only {@code imageConfig} keys: the Gemini API rejects them (python-genai raises before sending). */
  private static void checkOptions(Map<String, Object> options) {
    Object gc = options.get("generationConfig");
    Object ic = gc instanceof Map<?, ?> m ? m.get("imageConfig") : gc instanceof JsonNode n ? n.get("imageConfig") : null;
    List<String> bad = new ArrayList<>();
    if (ic instanceof Map<?, ?> m) {
      m.keySet().forEach(k -> {
        if (VERTEX_ONLY.contains(String.valueOf(k))) {
          bad.add(String.valueOf(k));
        }
      });
    } else if (ic instanceof JsonNode n) {
      n.fieldNames().forEachRemaining(k -> {
        if (VERTEX_ONLY.contains(k)) {
          bad.add(k);
        }
      });
    }
    if (!bad.isEmpty()) {
      throw new InvalidRequestException(List.of("providerOptions for 'google': imageConfig " + bad + " is taken only by "
          + "Vertex AI, not by the Gemini API"), ID, null);
    }
  }

  /** An input image as an inline part: bytes or a file as they are, a URL fetched first (size-limited). */
  private CompletableFuture<Part> encode(InputImage image, GenerationContext ctx) {
    URI url = image.url();
    if (url != null) {
      return ctx.downloader().download(url, null, false)
          .thenApply(g -> Part.image(g.mediaType(), Base64.getEncoder().encodeToString(g.bytes())));
    }
    byte[] bytes;
    try {
      bytes = image.bytes();
    } catch (UncheckedIOException | IllegalStateException e) {
      return CompletableFuture.failedFuture(new InvalidRequestException("cannot read " + image + ": " + e.getMessage(), ID));
    }
    ImageFormat f = ImageFormat.sniff(bytes);
    if (f == null) {
      return CompletableFuture.failedFuture(new InvalidRequestException(image + " is not a PNG, JPEG or WebP image", ID));
    }
    return CompletableFuture.completedFuture(Part.image(f.mediaType(), Base64.getEncoder().encodeToString(bytes)));
  }

  // ------------------------------------------------------------------ health

  /**
   * {@code GET /models/{model}}: checks the key (a bad one answers 400 {@code API_KEY_INVALID})
   * and that the model is listed. A listed model may still be shut down for generation, so UP
   * says "listed", not "generating".
   */
  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
    HttpRequest get = request(ctx, "/models/" + defaultModel).GET().build();
    return HealthCheck.get(ctx, get, (r, latency) -> {
      JsonNode m = r.jsonOrNull(ctx.json());
      String name = m == null || !m.hasNonNull("displayName") ? "" : " (" + ProviderSupport.clip(m.get("displayName").asText(),
          60) + ")";
      return ProviderHealth.of(ID, State.UP, latency, "key accepted; model " + defaultModel + name + " listed");
    });
  }

  @Override
  public String toString() {
    return "GoogleProvider[" + ProviderConfig.maskUserInfo(baseUrl.toString()) + ", model " + defaultModel + "]";
  }
}
