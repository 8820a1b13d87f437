package dev.imagegen.provider.horde;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderSupport;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.URI;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * Maps an {@link ImageGenerationRequest} to the body of {@code POST /generate/async}: model alias
 * to Horde model name, sampler names to the Horde's, the negative prompt after {@code ###}, the
 * seed as a string, the flags whose applied defaults differ from the swagger sent explicitly,
 * img2img and inpainting sources, and the {@code horde} provider options. Immutable, thread-safe.
 */
final class HordeRequests {

  /** An alias and what it stands for on the Horde, with defaults that suit the model. */
  record Alias(String model, @Nullable Integer size, @Nullable Integer steps, @Nullable Double cfg, @Nullable String sampler,
      @Nullable Boolean karras) {
    static Alias of(String model) {
      return new Alias(model, null, null, null, null, null);
    }
  }

  /** The Horde's SDXL model that normally has workers; the default when a request names no model. */
  static final String SDXL = "AlbedoBase XL (SDXL)";
  /** The Horde's FLUX.1 [schnell] model. */
  static final String FLUX_SCHNELL = "Flux.1-Schnell fp8 (Compact)";
  /** Built-in aliases: imagegen's names to the Horde's. */
  static final Map<String, Alias> BUILT_IN = Map.of(
      "sdxl", new Alias(SDXL, 1024, null, null, null, null),
      "flux-schnell", new Alias(FLUX_SCHNELL, 1024, 4, 1.0, "k_euler", false));
  /** imagegen aliases the Horde has no model for, unless the operator maps them ({@code model-<alias>}). */
  static final Set<String> UNMAPPED_ALIASES = Set.of("sdxl-turbo");

  /** The Horde's samplers. */
  static final Set<String> SAMPLERS = Set.of("k_lms", "k_heun", "k_euler", "k_euler_a", "k_dpm_2", "k_dpm_2_a", "k_dpm_fast",
      "k_dpm_adaptive", "k_dpmpp_2s_a", "k_dpmpp_2m", "dpmsolver", "k_dpmpp_sde", "DDIM", "lcm");
  /** Spellings of a sampler besides its own name in lower case without {@code k_}. */
  private static final Map<String, List<String>> SAMPLER_ALIASES = Map.of("k_euler_a", List.of("euler_ancestral", "eulera"),
      "k_dpm_2", List.of("dpm2"), "k_dpm_2_a", List.of("dpm2_a", "dpm_2_ancestral", "dpm2_ancestral"),
      "k_dpmpp_2s_a", List.of("dpmpp_2s_ancestral"));
  private static final Map<String, String> SAMPLER_NAMES = samplerNames();
  private static final Set<String> SOURCE_PROCESSING = Set.of("img2img", "inpainting", "outpainting", "remix");
  private static final int MAX_LORAS = 5;

  /** Provider options that go into {@code params}, with their type. */
  private static final Map<String, Kind> PARAM_OPTIONS = Map.of(
      "clip_skip", Kind.CLIP_SKIP, "karras", Kind.BOOLEAN, "hires_fix", Kind.BOOLEAN, "tiling", Kind.BOOLEAN,
      "post_processing", Kind.STRINGS, "loras", Kind.LIST, "sampler_name", Kind.SAMPLER,
      "facefixer_strength", Kind.NUMBER, "hires_fix_denoising_strength", Kind.NUMBER, "scheduler", Kind.STRING);
  /** Provider options that go at the top level of the body, with their type. */
  private static final Map<String, Kind> TOP_OPTIONS = Map.ofEntries(
      Map.entry("nsfw", Kind.BOOLEAN), Map.entry("censor_nsfw", Kind.BOOLEAN), Map.entry("trusted_workers", Kind.BOOLEAN),
      Map.entry("validated_backends", Kind.BOOLEAN), Map.entry("slow_workers", Kind.BOOLEAN),
      Map.entry("extra_slow_workers", Kind.BOOLEAN), Map.entry("workers", Kind.STRINGS),
      Map.entry("worker_blacklist", Kind.BOOLEAN), Map.entry("r2", Kind.BOOLEAN), Map.entry("shared", Kind.BOOLEAN),
      Map.entry("replacement_filter", Kind.BOOLEAN), Map.entry("allow_downgrade", Kind.BOOLEAN),
      Map.entry("style", Kind.STRING), Map.entry("source_processing", Kind.SOURCE_PROCESSING),
      Map.entry("models", Kind.STRINGS));

  private enum Kind { BOOLEAN, NUMBER, STRING, STRINGS, LIST, CLIP_SKIP, SAMPLER, SOURCE_PROCESSING }

  /** Every horde option a request may set ({@code providerOptions("horde", key, value)}). */
  static Set<String> optionKeys() {
    Set<String> keys = new TreeSet<>(PARAM_OPTIONS.keySet());
    keys.addAll(TOP_OPTIONS.keySet());
    return keys;
  }

  /** The worker flags every body carries, by configuration key (the Horde's field has {@code _}), with their defaults. */
  private static final Map<String, Boolean> FLAG_DEFAULTS = Map.of("nsfw", false, "censor-nsfw", true, "trusted-workers", false,
      "validated-backends", true, "slow-workers", true, "r2", true);

  /**
   * A submit body ready to send, except for a mask given as a URL, which the provider fetches first
   * (the Horde takes masks only as base64).
   *
   * @param body the JSON body
   * @param model the Horde model asked for
   * @param images how many images were asked for ({@code params.n})
   * @param maskUrl a mask to fetch and put in {@code source_mask}, or null
   */
  record Prepared(ObjectNode body, String model, int images, @Nullable URI maskUrl) {}

  private final String providerId;
  private final Map<String, Alias> aliases;
  private final String defaultModel;
  /** The worker flags as configured, by the Horde's field name. */
  private final Map<String, Boolean> flags = new TreeMap<>();

  /**
   * Reads the mapping's settings: {@code default-model}, {@code model-<alias>}, {@code nsfw},
   * {@code censor-nsfw}, {@code trusted-workers}, {@code validated-backends}, {@code slow-workers},
   * {@code r2}.
   *
   * @param config the provider's configuration
   */
  HordeRequests(ProviderConfig config) {
    this.providerId = config.providerId();
    Map<String, Alias> a = new LinkedHashMap<>(BUILT_IN);
    config.values().forEach((k, v) -> {
      if (k.startsWith("model-") && k.length() > "model-".length() && !v.isBlank()) {
        String alias = k.substring("model-".length());
        Alias builtIn = BUILT_IN.get(alias);
        a.put(alias, builtIn != null && builtIn.model().equals(v.strip()) ? builtIn : Alias.of(v.strip()));
      }
    });
    this.aliases = Collections.unmodifiableMap(a);
    this.defaultModel = config.string("default-model", "sdxl");
    FLAG_DEFAULTS.forEach((key, byDefault) -> flags.put(key.replace('-', '_'), config.bool(key, byDefault)));
  }

  /** The aliases this provider knows (built-in and configured), alias to Horde model. */
  Map<String, Alias> aliases() {
    return aliases;
  }

  /**
   * The Horde model a request's model stands for.
   *
   * @param model an alias, a Horde model name, or null for the default
   */
  String modelName(@Nullable String model) {
    String m = model == null || model.isBlank() ? defaultModel : model.strip();
    Alias a = aliases.get(m);
    return a != null ? a.model() : m;
  }

  /**
   * Builds the submit body.
   *
   * @param request the request
   * @param json the shared mapper
   * @return the body and what it asked for
   * @throws InvalidRequestException listing every problem (unknown sampler, bad provider option...)
   * @throws ProviderUnavailableException when the model is an imagegen alias the Horde has no model for
   */
  Prepared prepare(ImageGenerationRequest request, ObjectMapper json) {
    List<String> problems = new ArrayList<>();
    String requested = request.model() == null || request.model().isBlank() ? defaultModel : request.model().strip();
    if (UNMAPPED_ALIASES.contains(requested) && !aliases.containsKey(requested)) {
      throw ProviderUnavailableException.failOver("AI Horde has no model for the alias '" + requested + "' (map one with "
          + "imagegen." + providerId + ".model-" + requested + ")", providerId, null);
    }
    Alias alias = aliases.getOrDefault(requested, Alias.of(requested));
    String model = alias.model();

    String prompt = request.prompt();
    String negative = request.effectiveNegativePrompt();
    if (negative != null && prompt.contains("###")) {
      problems.add("the prompt contains '###', which AI Horde reads as the start of the negative prompt");
    }
    String wirePrompt = negative == null ? prompt : prompt + "###" + negative;

    String sampler = alias.sampler();
    Boolean karras = alias.karras();
    if (request.sampler() != null && !request.sampler().isBlank()) {
      String[] mapped = sampler(request.sampler());
      if (mapped == null) {
        problems.add("sampler '" + request.sampler() + "' is not one of AI Horde's: "
            + String.join(", ", new TreeSet<>(SAMPLERS)));
      } else {
        sampler = mapped[0];
        if (mapped[1] != null) {
          karras = Boolean.TRUE;
        }
      }
    }
    Integer width = request.width();
    Integer height = request.height();
    if (width == null && alias.size() != null) {
      width = alias.size();
      height = alias.size();
    }
    Integer steps = request.steps() != null ? request.steps() : alias.steps();
    Double cfg = request.guidanceScale() != null ? request.guidanceScale() : alias.cfg() != null ? alias.cfg() : 5.0;

    if (request.loras().size() > MAX_LORAS) {
      problems.add("AI Horde takes at most " + MAX_LORAS + " LoRAs, " + request.loras().size() + " given");
    }
    List<HordeWire.LoraParam> loras = request.loras().isEmpty() ? null : request.loras().stream()
        .map(l -> new HordeWire.LoraParam(l.name(), round2(l.weight()), round2(l.weight()))).toList();

    InputImage init = request.initImage();
    InputImage mask = init == null ? null : request.mask();
    String sourceImage = init == null ? null : init.isLocal() ? base64(init, "init image", problems) : String.valueOf(init.url());
    String sourceMask = mask != null && mask.isLocal() ? base64(mask, "mask", problems) : null;
    URI maskUrl = mask != null && !mask.isLocal() ? mask.url() : null;
    String sourceProcessing = init == null ? null : mask != null ? "inpainting" : "img2img";
    Double denoise = init != null && request.strength() != null ? Math.max(0.01, round2(request.strength())) : null;

    HordeWire.Params params = new HordeWire.Params(sampler == null ? "k_euler_a" : sampler, round2(cfg), denoise,
        request.seed() == null ? null : Long.toString(request.seed()), width, height, steps, request.numImages(),
        karras == null ? Boolean.TRUE : karras, loras);
    HordeWire.Submit submit = new HordeWire.Submit(wirePrompt, params, List.of(model), sourceImage, sourceProcessing, sourceMask);
    ObjectNode body = ProviderSupport.mergeOptions(json.valueToTree(submit), flags, json);
    applyOptions(request.providerOptions(providerId), body, json, problems);
    if (!problems.isEmpty()) {
      throw new InvalidRequestException(problems, providerId, null);
    }
    JsonNode models = body.path("models");
    String asked = models.isArray() && models.size() == 1 ? models.get(0).asText() : models.isArray() && models.isEmpty()
        ? "any" : model;
    return new Prepared(body, asked, request.numImages(), maskUrl);
  }

  private static void applyOptions(Map<String, Object> options, ObjectNode body, ObjectMapper json, List<String> problems) {
    ObjectNode params = (ObjectNode) body.get("params");
    options.forEach((key, value) -> {
      Kind kind = PARAM_OPTIONS.get(key);
      ObjectNode target = params;
      if (kind == null) {
        kind = TOP_OPTIONS.get(key);
        target = body;
      }
      if (kind == null) {
        TreeSet<String> known = new TreeSet<>(PARAM_OPTIONS.keySet());
        known.addAll(TOP_OPTIONS.keySet());
        problems.add("unknown horde option '" + key + "' (known: " + String.join(", ", known) + ")");
        return;
      }
      String bad = check(kind, value);
      if (bad != null) {
        problems.add("horde option '" + key + "' " + bad);
        return;
      }
      Object v = value;
      if (kind == Kind.SAMPLER) {
        String[] mapped = sampler(String.valueOf(value));
        v = mapped == null ? value : mapped[0];
      }
      target.set(key, json.valueToTree(v));
    });
  }

  private static @Nullable String check(Kind kind, Object value) {
    String must = switch (kind) {
      case BOOLEAN -> value instanceof Boolean ? null : "true or false";
      case NUMBER -> value instanceof Number ? null : "a number";
      case STRING -> value instanceof String ? null : "a string";
      case STRINGS -> value instanceof List<?> l && l.stream().allMatch(x -> x instanceof String) ? null : "a list of strings";
      case LIST -> value instanceof List<?> ? null : "a list";
      case CLIP_SKIP -> value instanceof Integer i && i >= 1 && i <= 12 ? null : "an integer from 1 to 12";
      case SAMPLER -> value instanceof String s && sampler(s) != null ? null
          : "one of " + String.join(", ", new TreeSet<>(SAMPLERS));
      case SOURCE_PROCESSING -> value instanceof String s && SOURCE_PROCESSING.contains(s) ? null
          : "one of " + String.join(", ", new TreeSet<>(SOURCE_PROCESSING));
    };
    return must == null ? null : "must be " + must + ", was " + value;
  }

  /**
   * Maps a sampler name (the Horde's own, A1111's "DPM++ 2M Karras", diffusers-style "euler_a") to
   * the Horde's.
   *
   * @param name the name
   * @return {horde name, "karras" or null}, or null when unknown
   */
  static String @Nullable [] sampler(String name) {
    String s = name.strip();
    if (SAMPLERS.contains(s)) {
      return new String[] {s, null};
    }
    String n = s.toLowerCase(Locale.ROOT).replace("++", "pp").replace("+", "p").replaceAll("[\\s\\-.]+", "_");
    String karras = null;
    if (n.endsWith("_karras")) {
      karras = "karras";
      n = n.substring(0, n.length() - "_karras".length());
    }
    if (n.startsWith("k_")) {
      n = n.substring(2);
    }
    String mapped = SAMPLER_NAMES.get(n);
    return mapped == null ? null : new String[] {mapped, karras};
  }

  private static Map<String, String> samplerNames() {
    Map<String, String> m = new HashMap<>();
    for (String sampler : SAMPLERS) {
      String n = sampler.toLowerCase(Locale.ROOT);
      m.put(n.startsWith("k_") ? n.substring(2) : n, sampler);
      SAMPLER_ALIASES.getOrDefault(sampler, List.of()).forEach(alias -> m.put(alias, sampler));
    }
    return Map.copyOf(m);
  }

  private static @Nullable String base64(InputImage image, String what, List<String> problems) {
    try {
      return Base64.getEncoder().encodeToString(image.bytes());
    } catch (UncheckedIOException e) {
      problems.add("cannot read the " + what + ": " + e.getMessage());
      return null;
    }
  }

  private static double round2(double v) {
    return BigDecimal.valueOf(v).setScale(2, RoundingMode.HALF_UP).doubleValue();
  }
}
