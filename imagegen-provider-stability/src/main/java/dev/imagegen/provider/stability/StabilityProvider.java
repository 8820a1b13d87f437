package dev.imagegen.provider.stability;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.Cost;
import dev.imagegen.ErrorKind;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderHealth.State;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.provider.stability.StabilityModels.Kind;
import dev.imagegen.provider.stability.StabilityModels.Model;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HealthCheck;
import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ImageBytes;
import dev.imagegen.spi.Multipart;
import dev.imagegen.spi.PriceTable;
import dev.imagegen.spi.PriceTable.Price;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.ProviderSupport;
import dev.imagegen.spi.Secret;
import dev.imagegen.spi.SoftInput;
import java.math.BigDecimal;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * Stability AI's v2beta Stable Image API: one synchronous multipart {@code POST} per image to
 * {@code generate/ultra}, {@code generate/core}, {@code generate/sd3} or {@code edit/inpaint},
 * sent with {@code accept: image/*} and answered with the image's raw bytes and the headers
 * {@code finish-reason} and {@code seed}. No job id, no polling, no remote cancel.
 *
 * <p>{@code finish-reason: CONTENT_FILTERED} (a 200 with a blurred image) is a
 * {@link ContentPolicyException}, never a success. A 5xx with Stability's own error body is a
 * failed, uncharged result; any other lost or 5xx answer to the POST leaves its outcome unknown.
 *
 * <p>Immutable and thread-safe.
 */
final class StabilityProvider extends HttpImageProvider {
  static final String ID = "stability";
  static final String DEFAULT_BASE_URL = "https://api.stability.ai";

  /** Config key: the model of a text-to-image request that names none. */
  static final String MODEL = "model";
  /** Config key: the model of an image-to-image request that names none, when {@code model} takes no init image. */
  static final String IMG2IMG_MODEL = "img2img-model";
  /** Config key: USD per credit. */
  static final String CREDIT_PRICE = "credit-price";
  /** Config key: sent as {@code stability-client-id}. */
  static final String CLIENT_ID = "client-id";

  /** The strength sent with an init image when the request sets none (Ultra and SD3 require one). */
  static final double DEFAULT_STRENGTH = 0.5;
  /** The {@code providerOptions} keys read. */
  static final String STYLE_PRESET = "style_preset";
  /** Inpaint's mask growth, 0-20 pixels. */
  static final String GROW_MASK = "grow_mask";

  private static final long MIN_ERROR_BODY = 64 * 1024;
  /** How long past the deadline a POST cut short by it may still be read: the deadline ends the attempt first. */

  private final Secret key;
  private final Model defaultModel;
  private final Model img2imgModel;
  private final BigDecimal creditPrice;
  private final @Nullable String clientId;

  StabilityProvider(ProviderConfig config) {
    super(config, DEFAULT_BASE_URL);
    this.key = config.requireApiKey();
    this.defaultModel = modelSetting(config, MODEL, "core");
    this.img2imgModel = modelSetting(config, IMG2IMG_MODEL, "sd3.5-large");
    if (!img2imgModel.takesInitImage()) {
      throw new IllegalStateException(ID + ": " + config.whereToSet(IMG2IMG_MODEL) + " must be a model that takes an init "
          + "image (ultra or an sd3 model), was '" + img2imgModel.id() + "'");
    }
    BigDecimal credit = config.decimal(CREDIT_PRICE).orElse(StabilityModels.CREDIT_USD);
    if (credit.signum() < 0) {
      throw new IllegalStateException(ID + ": " + config.whereToSet(CREDIT_PRICE) + " must not be negative, was " + credit);
    }
    this.creditPrice = credit;
    this.clientId = config.get(CLIENT_ID).map(String::strip).filter(s -> !s.isEmpty()).orElse(null);

    List<String> names = Stream.concat(StabilityModels.MODELS.keySet().stream(), StabilityModels.ALIASES.keySet().stream())
        .toList();
    ProviderCapabilities capabilities = ProviderCapabilities.builder()
        .models(names)
        // any size is sent as the nearest aspect ratio; the model fixes the resolution (a warning says so)
        .sizes(64, 16_384, 1)
        .negativePrompt(true)
        .seed(true)
        .img2img(true)
        .mask(true)
        .maxImagesPerRequest(1)
        .maxPromptLength(10_000)
        .optionKeys(STYLE_PRESET, GROW_MASK)
        .ignores(SoftInput.STEPS, SoftInput.SAMPLER)
        .modelInputs(this::ignoredBy)
        .build();
    PriceTable.Builder prices = PriceTable.builder(ID).modelOf(r -> {
      Model m = modelFor(r);
      return m == null ? null : m.id();
    });
    StabilityModels.MODELS.values().forEach(m -> prices.price(m.id(), new Price(usd(m), PriceTable.Unit.IMAGE)));
    StabilityModels.ALIASES.forEach(prices::alias);
    declare(capabilities, prices.build(config));
  }

  private static Model modelSetting(ProviderConfig config, String key, String defaultId) {
    String name = config.string(key, defaultId);
    Model m = StabilityModels.of(name);
    if (m == null || m.kind() == Kind.INPAINT) {
      throw new IllegalStateException(ID + ": " + config.whereToSet(key) + " must be one of ultra, core, sd3.5-large, "
          + "sd3.5-large-turbo, sd3.5-medium, sd3-large, sd3-large-turbo, sd3-medium, was '" + name + "'");
    }
    return m;
  }

  /** USD of one image of a model at the configured credit price. */
  BigDecimal usd(Model m) {
    return m.credits().multiply(creditPrice);
  }

  @Override
  protected HttpRequest.Builder authorize(HttpRequest.Builder request) {
    HttpRequest.Builder b = request.header("authorization", "Bearer " + key.reveal());
    return clientId == null ? b : b.header("stability-client-id", clientId);
  }

  @Override
  public List<ModelInfo> models() {
    List<ModelInfo> out = new ArrayList<>();
    for (Model m : StabilityModels.MODELS.values()) {
      List<String> aliases = StabilityModels.ALIASES.entrySet().stream().filter(e -> e.getValue().equals(m.id()))
          .map(Map.Entry::getKey).toList();
      out.add(new ModelInfo(ID, m.id(), aliases, m.credits().stripTrailingZeros().toPlainString() + " credits per image, "
          + m.path()));
    }
    return out;
  }

  @Override
  public @Nullable ImageGenerationException mapError(HttpResult response, ProviderContext context) {
    return StabilityErrors.map(ID, response, context.json());
  }

  // ------------------------------------------------------------------ models

  /**
   * The model a request runs on: the one it names; else inpaint for a mask, the configured
   * models otherwise. Null when the name is not one of this provider's.
   */
  @Nullable Model modelFor(ImageGenerationRequest r) {
    if (r.model() != null && !r.model().isBlank()) {
      return StabilityModels.of(r.model());
    }
    if (r.mask() != null) {
      return StabilityModels.MODELS.get("inpaint");
    }
    if (r.initImage() != null && !defaultModel.takesInitImage()) {
      return img2imgModel;
    }
    return defaultModel;
  }

  private Set<SoftInput> ignoredBy(ImageGenerationRequest r) {
    Model m = modelFor(r);
    if (m == null) {
      return Set.of();
    }
    EnumSet<SoftInput> out = EnumSet.noneOf(SoftInput.class);
    if (!m.takesGuidance()) {
      out.add(SoftInput.GUIDANCE);
    }
    if (!m.takesNegativePrompt()) {
      out.add(SoftInput.NEGATIVE_PROMPT);
    }
    return out;
  }

  // ------------------------------------------------------------------ generation

  @Override
  public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext ctx) {
    Model model;
    List<String> warnings;
    try {
      model = check(request);
      warnings = new ArrayList<>(capabilities().warnings(request));
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
    CompletableFuture<byte @Nullable []> init = bytesOf(request.initImage(), ctx);
    CompletableFuture<byte @Nullable []> mask = bytesOf(request.mask(), ctx);
    return init.thenCombine(mask, (i, m) -> form(request, model, i, m, warnings))
        .thenCompose(form -> call(ctx, model, form, warnings));
  }

  /** The model, once the request is known to fit it; else the reason, as the exception to fail with. */
  private Model check(ImageGenerationRequest r) {
    Model m = modelFor(r);
    if (m == null) {
      throw notCapable("model '" + r.model() + "' is not a Stability model (known: "
          + String.join(", ", StabilityModels.MODELS.keySet()) + ")");
    }
    if (r.mask() != null && m.kind() != Kind.INPAINT) {
      throw notCapable("model " + m.id() + " takes no mask: Stability inpaints on its inpaint endpoint (model 'inpaint',"
          + " or name no model)");
    }
    if (r.initImage() != null && !m.takesInitImage()) {
      throw notCapable("model " + m.id() + " takes no init image (ultra and the sd3 models do)");
    }
    List<String> v = new ArrayList<>();
    if (m.kind() == Kind.INPAINT && r.initImage() == null) {
      v.add("inpaint needs an init image (InputImage.Role.INIT), its mask as a MASK image or its alpha channel");
    }
    if (r.seed() != null && (r.seed() < 0 || r.seed() > StabilityModels.MAX_SEED)) {
      v.add("seed must be 0 to " + StabilityModels.MAX_SEED + " for Stability (0 = random), was " + r.seed());
    }
    Map<String, Object> opts = r.providerOptions(ID);
    Object preset = opts.get(STYLE_PRESET);
    if (preset != null) {
      if (m.kind() == Kind.CORE) {
        if (!StabilityModels.STYLE_PRESETS.contains(String.valueOf(preset))) {
          v.add("providerOptions style_preset '" + preset + "' is not one of " + String.join(", ",
              new TreeSet<>(StabilityModels.STYLE_PRESETS)));
        }
      } else {
        v.add("providerOptions style_preset is taken by model core only, not " + m.id());
      }
    }
    Object grow = opts.get(GROW_MASK);
    if (grow != null) {
      if (m.kind() != Kind.INPAINT) {
        v.add("providerOptions grow_mask is taken by inpaint only, not " + m.id());
      } else if (!(grow instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue()) || n.intValue() < 0
          || n.intValue() > 20) {
        v.add("providerOptions grow_mask must be a whole number 0 to 20, was " + grow);
      }
    }
    if (!v.isEmpty()) {
      throw new InvalidRequestException(v, ID, null);
    }
    return m;
  }

  private static ImageGenerationException notCapable(String message) {
    return new ImageGenerationException(message, ID, ErrorKind.NO_CAPABLE_PROVIDER, false, true, null);
  }

  /** An input image's bytes: given, read from its file, or fetched from its URL (size-limited). */
  private static CompletableFuture<byte @Nullable []> bytesOf(@Nullable InputImage image, GenerationContext ctx) {
    return image == null ? CompletableFuture.completedFuture(null) : ctx.downloader().input(image).thenApply(b -> b);
  }

  /** The multipart body; fields in the order the reference lists them. */
  private Multipart form(ImageGenerationRequest r, Model m, byte @Nullable [] init, byte @Nullable [] mask,
      List<String> warnings) {
    Multipart f = Multipart.form().field("prompt", r.prompt());
    if (m.kind() == Kind.SD3) {
      f.field("mode", init != null ? "image-to-image" : "text-to-image");
      f.field("model", m.id());
    }
    if (init != null) {
      f.file("image", "image." + extension(init), mediaType(init), init);
      if (m.kind() != Kind.INPAINT) {
        double strength = r.strength() != null ? r.strength() : DEFAULT_STRENGTH;
        if (r.strength() == null) {
          warnings.add("strength not set: sent " + DEFAULT_STRENGTH + " (" + m.id() + " requires one with an init image)");
        }
        f.field("strength", String.valueOf(strength));
      }
    }
    if (mask != null) {
      f.file("mask", "mask." + extension(mask), mediaType(mask), mask);
    }
    String negative = m.takesNegativePrompt() ? r.effectiveNegativePrompt() : null;
    if (negative != null && !negative.isBlank()) {
      f.field("negative_prompt", negative);
    }
    Integer w = r.width();
    Integer h = r.height();
    if (w != null && h != null) {
      if (m.takesAspectRatio(init != null)) {
        String ratio = ProviderSupport.nearestAspectRatio(w, h, StabilityModels.ASPECT_RATIOS);
        f.field("aspect_ratio", ratio);
        warnings.add("Stability takes an aspect ratio, not a size: " + w + "x" + h + " was sent as aspect_ratio " + ratio
            + "; " + m.id() + " answers about " + megapixels(m) + " megapixels");
      } else {
        warnings.add("size " + w + "x" + h + " not sent: " + m.id() + " with an init image answers the init image's"
            + " aspect ratio");
      }
    }
    if (r.seed() != null) {
      f.field("seed", String.valueOf(r.seed()));
    }
    if (m.takesGuidance() && r.guidanceScale() != null) {
      f.field("cfg_scale", String.valueOf(r.guidanceScale()));
    }
    Map<String, Object> opts = r.providerOptions(ID);
    if (opts.get(STYLE_PRESET) != null) {
      f.field("style_preset", String.valueOf(opts.get(STYLE_PRESET)));
    }
    if (opts.get(GROW_MASK) instanceof Number n) {
      f.field("grow_mask", String.valueOf(n.intValue()));
    }
    f.field("output_format", outputFormat(r, m, warnings));
    return f;
  }

  private static String megapixels(Model m) {
    double mp = m.megapixels();
    return mp == Math.rint(mp) ? String.valueOf((long) mp) : String.valueOf(mp);
  }

  private static String outputFormat(ImageGenerationRequest r, Model m, List<String> warnings) {
    ImageFormat f = ImageFormat.fromName(r.outputFormat());
    if (f == null) {
      return "png";
    }
    if (f == ImageFormat.WEBP && !m.takesWebp()) {
      warnings.add("output format webp not available on " + m.id() + ": asked for png");
      return "png";
    }
    return f == ImageFormat.JPEG ? "jpeg" : f == ImageFormat.WEBP ? "webp" : "png";
  }

  private static String mediaType(byte[] bytes) {
    ImageFormat f = ImageFormat.sniff(bytes);
    return f == null ? "application/octet-stream" : f.mediaType();
  }

  private static String extension(byte[] bytes) {
    ImageFormat f = ImageFormat.sniff(bytes);
    return f == null ? "bin" : f.extension();
  }

  /** Sends the POST and reads its answer. */
  private CompletableFuture<ProviderResult> call(GenerationContext ctx, Model m, Multipart form, List<String> warnings) {
    byte[] body = form.toByteArray();
    if (body.length > StabilityModels.MAX_REQUEST_BYTES) {
      return CompletableFuture.failedFuture(new InvalidRequestException(List.of("the request is " + body.length
          + " bytes; Stability takes at most 10 MiB (" + StabilityModels.MAX_REQUEST_BYTES + " bytes): send smaller input"
          + " images"), ID, null));
    }
    // accept image/*: raw image bytes, with finish-reason and seed in the headers
    HttpRequest post = request(ctx, m.path()).setHeader("Accept", "image/*").header("Content-Type", form.contentType())
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
    long limit = Math.max(ctx.http().bodyLimit(1), MIN_ERROR_BODY);
    return ctx.http().send(post, limit).thenCompose(r -> {
      if (!r.isSuccess()) {
        // a 500 in Stability's own error shape is a failed result, which is not charged: StabilityErrors maps it as not
        // billed, so core retries it and then fails over; a gateway's 5xx stays an unknown outcome
        return CompletableFuture.failedFuture(ctx.http().mapError(r));
      }
      return read(ctx, m, r, warnings);
    });
  }

  /**
   * The JSON answer ({@code accept: application/json}, or a proxy that converts):
   * {@code {"image":"<base64>","finish_reason":"SUCCESS","seed":343940597}}.
   *
   * @param image the image, base64
   * @param finishReason {@code SUCCESS} or {@code CONTENT_FILTERED}
   * @param seed the seed used
   */
  record JsonImage(@Nullable String image, @JsonProperty("finish_reason") @Nullable String finishReason,
      @Nullable Long seed) {}

  /** A 2xx answer: the image bytes (or the JSON form), checked; a filtered image is a content-policy failure. */
  private CompletableFuture<ProviderResult> read(GenerationContext ctx, Model m, HttpResult r, List<String> warnings) {
    String type = r.header("content-type") == null ? "none" : String.valueOf(r.header("content-type"));
    byte[] bytes = r.body();
    String requestId = r.header("x-request-id");
    if (bytes.length == 0) {
      return CompletableFuture.failedFuture(ProviderUnavailableException.outcomeUnknown("answered HTTP " + r.status()
          + " with an empty body instead of an image (content-type " + type + "); the image may have been billed", ID, null));
    }
    String source;
    String finish;
    Long seed;
    String start = new String(bytes, 0, Math.min(bytes.length, 16), StandardCharsets.UTF_8).strip();
    if (type.toLowerCase(Locale.ROOT).contains("json") || start.startsWith("{")) {
      JsonImage j;
      try {
        j = ctx.http().parse(r, JsonImage.class);
      } catch (ImageGenerationException e) {
        return CompletableFuture.failedFuture(e);
      }
      if (j.image() == null || j.image().isBlank()) {
        String reason = j.finishReason();
        if ("CONTENT_FILTERED".equals(reason)) {
          return CompletableFuture.failedFuture(filtered(m, seedText(j.seed()), requestId));
        }
        return CompletableFuture.failedFuture(ProviderUnavailableException.outcomeUnknown("answered HTTP " + r.status()
            + " with JSON but no image (finish_reason " + reason + "); the image may have been billed", ID, null));
      }
      source = j.image();
      finish = j.finishReason();
      seed = j.seed();
    } else {
      ImageFormat format = ImageFormat.sniff(bytes);
      if (format == null) {
        return CompletableFuture.failedFuture(ProviderUnavailableException.outcomeUnknown("answered HTTP " + r.status()
            + " with " + bytes.length + " bytes that are not a PNG, JPEG or WebP image (content-type " + type + ")", ID,
            null));
      }
      finish = r.header("finish-reason");
      seed = parseSeed(r.header("seed"));
      source = ImageBytes.dataUri(bytes, format.mediaType());
    }
    if (finish != null && finish.strip().equalsIgnoreCase("CONTENT_FILTERED")) {
      return CompletableFuture.failedFuture(filtered(m, seedText(seed), requestId));
    }
    if (finish != null && !finish.strip().equalsIgnoreCase("SUCCESS")) {
      return CompletableFuture.failedFuture(ProviderUnavailableException.failOver("answered HTTP " + r.status()
          + " with finish-reason " + ProviderSupport.clip(finish, 64) + " instead of SUCCESS" + idText(requestId), ID, null));
    }
    if (finish == null) {
      warnings.add("the answer carried no finish-reason: the image was taken as SUCCESS");
    }
    // the downloader's inline path applies max-image-bytes and the magic-byte check, as for every provider
    return ctx.downloader().image(source, seed, false).thenApply(image -> {
      ProviderResult.Builder b = ProviderResult.builder(m.id()).image(image)
          .metadata("stability_model", m.id())
          .metadata("stability_endpoint", m.path())
          .metadata("finish_reason", finish)
          .metadata("seed", seed)
          .metadata("credits", m.credits().stripTrailingZeros().toPlainString())
          .metadata("x_request_id", requestId);
      warnings.forEach(b::warning);
      return b.build();
    });
  }

  /**
   * {@code CONTENT_FILTERED}: generated, then blurred by Stability's filter. Stability's reference
   * calls such a result "a successful generation" and charges per successful generation, so it
   * is reported as billed.
   */
  private ContentPolicyException filtered(Model m, String seed, @Nullable String requestId) {
    ContentPolicyException e = new ContentPolicyException("Stability generated the image but its content filter blurred it "
        + "(finish-reason CONTENT_FILTERED" + seed + idText(requestId) + "); the blurred image is not returned, and it was "
        + "billed (" + m.credits().stripTrailingZeros().toPlainString() + " credits, $" + usd(m).stripTrailingZeros().toPlainString()
        + "): Stability counts a filtered result as a successful generation", ID);
    e.setCharged(Cost.estimated(usd(m))); // the budget spends it and the attempt says billed
    return e;
  }

  private static String seedText(@Nullable Long seed) {
    return seed == null ? "" : ", seed " + seed;
  }

  private static String idText(@Nullable String requestId) {
    return requestId == null || requestId.isBlank() ? "" : ", x-request-id " + ProviderSupport.clip(requestId.strip(), 80);
  }

  private static @Nullable Long parseSeed(@Nullable String v) {
    if (v == null) {
      return null;
    }
    try {
      long s = Long.parseLong(v.strip());
      return s >= 0 ? s : null;
    } catch (NumberFormatException e) {
      return null;
    }
  }

  // ------------------------------------------------------------------ health

  /** Asks the account's credit balance ({@code GET /v1/user/balance}): a refused key is AUTH_FAILED, no credit DEGRADED. */
  @Override
  public CompletableFuture<ProviderHealth> health(ProviderContext ctx) {
    HttpRequest req = request(ctx, StabilityModels.BALANCE_PATH).GET().build();
    return HealthCheck.get(ctx, req, (r, latency) -> {
      JsonNode b = r.jsonOrNull(ctx.json());
      JsonNode credits = b == null ? null : b.get("credits");
      if (credits == null || !credits.isNumber()) {
        return ProviderHealth.of(ID, State.UP, latency, "key accepted");
      }
      double c = credits.asDouble();
      String left = credits.decimalValue().stripTrailingZeros().toPlainString() + " credits left";
      return c <= 0 ? ProviderHealth.of(ID, State.DEGRADED, latency, "key accepted, but " + left + ": every generation "
          + "would answer 402") : ProviderHealth.of(ID, State.UP, latency, "key accepted, " + left);
    });
  }
}
