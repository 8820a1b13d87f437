package dev.imagegen.provider.runpod;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.Secret;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The RunPod provider's configuration, read once: the endpoints per model alias, their input
 * mappings and prices, the job policy and the health thresholds. Immutable and thread-safe.
 */
final class RunPodSettings {
  /** RunPod's serverless API. */
  static final String DEFAULT_BASE_URL = "https://api.runpod.ai/v2";
  /** The default endpoint id; {@code endpoint.<alias>} names one per model alias. */
  static final String ENDPOINT = "endpoint";
  /** A JSON template of the job's input; {@code input-template.<alias>} per model alias. */
  static final String INPUT_TEMPLATE = "input-template";
  /** No worker ready and at least this many jobs queued: the endpoint is DEGRADED. */
  static final String DEGRADED_QUEUE_DEPTH = "degraded-queue-depth";
  /** Less time than this left: a degraded (cold, queued) endpoint is skipped before submitting. */
  static final String COLD_START_ALLOWANCE = "cold-start-allowance";
  /** How long a health reading is reused by that check. */
  static final String HEALTH_CACHE = "health-cache";
  /** Most images per job. */
  static final String MAX_IMAGES = "max-images";
  /** {@code policy.executionTimeout} of each job. */
  static final String EXECUTION_TIMEOUT = "execution-timeout";
  /** {@code policy.ttl} of each job. */
  static final String TTL = "ttl";
  /** {@code policy.lowPriority} of each job. */
  static final String LOW_PRIORITY = "low-priority";
  /** {@code webhook} of each job. */
  static final String WEBHOOK = "webhook";

  private static final Pattern ENDPOINT_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]*");
  private static final Duration SEVEN_DAYS = Duration.ofDays(7);

  /**
   * Where one model's jobs go.
   *
   * @param alias the model alias ({@code endpoint.<alias>}), or null for the default endpoint
   * @param endpointId the RunPod endpoint id
   * @param input how a request becomes the job's input
   * @param prices the endpoint's price list
   */
  record Target(@Nullable String alias, String endpointId, RunPodInput input, CostModel prices) {
    /** The model name reported in results: the alias, else the endpoint id. */
    String model() {
      return alias != null ? alias : endpointId;
    }
  }

  final String providerId;
  final URI baseUrl;
  final Secret apiKey;
  final @Nullable Target defaultTarget;
  final Map<String, Target> byAlias;
  final RunPodWire.@Nullable Policy policy;
  final @Nullable String webhook;
  final int degradedQueueDepth;
  final Duration coldStartAllowance;
  final Duration healthCache;
  final @Nullable Integer maxImages;

  /**
   * Reads the configuration.
   *
   * @param config the provider's configuration
   * @param mapper JSON mapper for the templates
   * @throws IllegalStateException naming the key when something is missing or invalid
   */
  RunPodSettings(ProviderConfig config, ObjectMapper mapper) {
    providerId = config.providerId();
    apiKey = Secret.of(config.require(ProviderConfig.API_KEY));
    baseUrl = config.baseUrl(DEFAULT_BASE_URL);
    Map<String, String> endpoints = aliased(config, ENDPOINT);
    Map<String, String> templates = aliased(config, INPUT_TEMPLATE);
    Map<String, String> prices = aliased(config, ProviderConfig.PRICE_PER_GPU_SECOND);
    Map<String, String> gpus = aliased(config, RunPodPrices.GPU);
    String defaultEndpoint = config.get(ENDPOINT).map(String::strip).filter(s -> !s.isEmpty()).orElse(null);
    if (defaultEndpoint == null && endpoints.isEmpty()) {
      throw new IllegalStateException(providerId + ": no endpoint is configured (set imagegen." + providerId
          + ".endpoint to an endpoint id, or imagegen." + providerId + ".endpoint.<model-alias> per model)");
    }
    for (Map<String, String> m : List.of(templates, prices, gpus)) {
      for (String alias : m.keySet()) {
        if (!endpoints.containsKey(alias)) {
          throw new IllegalStateException(providerId + ": a setting names model '" + alias + "' but '" + ENDPOINT + "." + alias
              + "' is not configured");
        }
      }
    }
    RunPodInput defaultInput = config.get(INPUT_TEMPLATE)
        .map(t -> RunPodInput.template(providerId, INPUT_TEMPLATE, read(INPUT_TEMPLATE, t), mapper))
        .orElse(RunPodInput.sdxl());
    defaultTarget = defaultEndpoint == null ? null
        : new Target(null, endpointId(ENDPOINT, defaultEndpoint), defaultInput, RunPodPrices.forTarget(config, null, null, null));
    Map<String, Target> targets = new TreeMap<>();
    endpoints.forEach((alias, id) -> {
      String tKey = INPUT_TEMPLATE + "." + alias;
      RunPodInput input = templates.containsKey(alias)
          ? RunPodInput.template(providerId, tKey, read(tKey, templates.get(alias)), mapper) : defaultInput;
      targets.put(alias, new Target(alias, endpointId(ENDPOINT + "." + alias, id), input,
          RunPodPrices.forTarget(config, alias, prices.get(alias), gpus.get(alias))));
    });
    byAlias = java.util.Collections.unmodifiableMap(targets);

    Long execution = millis(config, EXECUTION_TIMEOUT, Duration.ofSeconds(5));
    Long ttl = millis(config, TTL, Duration.ofSeconds(10));
    Boolean low = config.get(LOW_PRIORITY).isPresent() ? config.bool(LOW_PRIORITY, false) : null;
    policy = execution == null && ttl == null && low == null ? null : new RunPodWire.Policy(execution, ttl, low);
    webhook = config.get(WEBHOOK).orElse(null);
    degradedQueueDepth = Math.max(1, config.intValue(DEGRADED_QUEUE_DEPTH, 5));
    coldStartAllowance = config.duration(COLD_START_ALLOWANCE, Duration.ofSeconds(60));
    healthCache = config.duration(HEALTH_CACHE, Duration.ofSeconds(10));
    maxImages = config.get(MAX_IMAGES).isPresent() ? Math.max(1, config.intValue(MAX_IMAGES, 1)) : null;
  }

  /**
   * Whether the configuration names a key and at least one endpoint.
   *
   * @param config the configuration
   */
  static boolean isConfigured(ProviderConfig config) {
    boolean key = config.get(ProviderConfig.API_KEY).filter(s -> !s.isBlank()).isPresent();
    boolean endpoint = config.get(ENDPOINT).filter(s -> !s.isBlank()).isPresent()
        || aliased(config, ENDPOINT).values().stream().anyMatch(s -> !s.isBlank());
    return key && endpoint;
  }

  /**
   * The values of {@code <prefix>.<alias>} keys ({@code <prefix>-<alias>} once the environment or a
   * properties file has flattened the dot), by alias.
   */
  static Map<String, String> aliased(ProviderConfig config, String prefix) {
    Map<String, String> out = new TreeMap<>();
    config.values().forEach((k, v) -> {
      if (k.length() > prefix.length() + 1 && k.startsWith(prefix)
          && (k.charAt(prefix.length()) == '.' || k.charAt(prefix.length()) == '-')) {
        out.put(k.substring(prefix.length() + 1), v.strip());
      }
    });
    return out;
  }

  /** The model aliases configured. */
  Set<String> aliases() {
    return byAlias.keySet();
  }

  /** Every target, the default first. */
  List<Target> targets() {
    List<Target> all = new ArrayList<>();
    if (defaultTarget != null) {
      all.add(defaultTarget);
    }
    all.addAll(byAlias.values());
    return all;
  }

  /** The distinct endpoint ids, the default first. */
  Collection<String> endpointIds() {
    Set<String> ids = new LinkedHashSet<>();
    targets().forEach(t -> ids.add(t.endpointId()));
    return ids;
  }

  /**
   * Where a request's jobs go: {@code endpoint.<model>} for a model alias; for no model the default
   * {@code endpoint}, else the first alias in alphabetical order.
   *
   * @param model the request's model, or null
   * @return the target, or null when the model is not configured
   */
  @Nullable Target targetOrNull(@Nullable String model) {
    if (model == null) {
      if (defaultTarget != null) {
        return defaultTarget;
      }
      return byAlias.isEmpty() ? null : byAlias.values().iterator().next();
    }
    return byAlias.get(model);
  }

  /**
   * Like {@link #targetOrNull}, failing for a model no endpoint serves.
   *
   * @param model the request's model, or null
   * @throws InvalidRequestException naming the configured aliases
   */
  Target target(@Nullable String model) {
    Target t = targetOrNull(model);
    if (t == null) {
      throw new InvalidRequestException("no endpoint is configured for model '" + model + "' (configured: "
          + String.join(", ", aliases()) + "; set imagegen." + providerId + ".endpoint." + model + ")", providerId);
    }
    return t;
  }

  /** What the configured endpoints can do together: a feature counts only if every endpoint's mapping carries it. */
  ProviderCapabilities capabilities() {
    List<Target> all = targets();
    boolean seed = all.stream().allMatch(t -> t.input().seed());
    boolean img2img = all.stream().allMatch(t -> t.input().img2img());
    boolean mask = all.stream().allMatch(t -> t.input().mask());
    int images = all.stream().mapToInt(t -> t.input().maxImages(maxImages)).min().orElse(1);
    return ProviderCapabilities.builder()
        .models(aliases())
        .anyModel(false)
        // a template without {{negative_prompt}}, {{sampler}}, {{guidance}} or {{steps}} drops that
        // soft input: served without it, with a warning, unless the request is strict
        .negativePrompt(true)
        .modelInputs(r -> {
          Target t = targetOrNull(r.model());
          return t == null ? Set.of() : t.input().ignoredInputs();
        })
        .seed(seed)
        .img2img(img2img)
        .mask(mask)
        .maxImagesPerRequest(images)
        .queued(true)
        .cancellable(true)
        .free(false)
        .build();
  }

  private String endpointId(String key, String id) {
    if (!ENDPOINT_ID.matcher(id).matches()) {
      throw new IllegalStateException(providerId + ": '" + key + "' is not an endpoint id (like vsrx8zdokf21gz): " + id);
    }
    return id;
  }

  /** A template's text, or the file named after an {@code @}. */
  private String read(String key, String value) {
    if (!value.startsWith("@")) {
      return value;
    }
    try {
      return Files.readString(Path.of(value.substring(1).strip()));
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException(providerId + ": '" + key + "' names a file that cannot be read: " + value.substring(1));
    }
  }

  private @Nullable Long millis(ProviderConfig config, String key, Duration min) {
    if (config.get(key).isEmpty()) {
      return null;
    }
    Duration d = config.duration(key, min);
    if (d.compareTo(min) < 0 || d.compareTo(SEVEN_DAYS) > 0) {
      throw new IllegalStateException(providerId + ": '" + key + "' must be between " + min.toSeconds() + " s and 7 days: "
          + config.get(key).orElse(""));
    }
    return d.toMillis();
  }
}
