package dev.imagegen.provider.runpod;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.Cost;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.spi.PriceTable;
import dev.imagegen.spi.PriceTable.Price;
import dev.imagegen.spi.PriceTable.Unit;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.Webhooks;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.net.URI;
import java.time.Duration;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Stream;
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

  /**
   * Where one model's jobs go.
   *
   * @param alias the model alias ({@code endpoint.<alias>}), or null for the default endpoint
   * @param endpointId the RunPod endpoint id
   * @param input how a request becomes the job's input
   */
  record Target(@Nullable String alias, String endpointId, RunPodInput input) {
    /** The model name reported in results and priced by {@code price.<model>}: the alias, else the endpoint id. */
    String model() {
      return alias != null ? alias : endpointId;
    }
  }

  final String providerId;
  final @Nullable Target defaultTarget;
  final Map<String, Target> byAlias;
  final PriceTable prices;
  final RunPodWire.@Nullable Policy policy;
  final @Nullable String webhook;
  /** {@code webhook-url}: where RunPod posts each job's end for {@code service.webhooks()} to receive, or null. */
  final @Nullable URI webhookUrl;
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
    Map<String, String> endpoints = new TreeMap<>(config.withPrefix(ENDPOINT));
    Map<String, String> templates = config.withPrefix(INPUT_TEMPLATE);
    String defaultEndpoint = config.string(ENDPOINT, "");
    if (defaultEndpoint.isEmpty() && endpoints.isEmpty()) {
      throw new IllegalStateException(providerId + ": no endpoint is configured (set imagegen." + providerId
          + ".endpoint to an endpoint id, or imagegen." + providerId + ".endpoint.<model-alias> per model)");
    }
    Set<String> priced = new TreeSet<>(config.withPrefix("price").keySet());
    priced.removeIf(k -> k.startsWith("per-") || k.equals(ProviderConfig.normalizeKeyPart(defaultEndpoint)));
    Stream.of(templates.keySet(), config.withPrefix(GPU).keySet(), priced).flatMap(Set::stream)
        .filter(alias -> !endpoints.containsKey(alias)).findFirst().ifPresent(alias -> {
          throw new IllegalStateException(providerId + ": a setting names model '" + alias + "' but '" + ENDPOINT + "." + alias
              + "' is not configured");
        });
    RunPodInput defaultInput = config.get(INPUT_TEMPLATE)
        .map(t -> RunPodInput.template(providerId, INPUT_TEMPLATE, read(INPUT_TEMPLATE, t), mapper))
        .orElse(RunPodInput.sdxl(mapper));
    defaultTarget = defaultEndpoint.isEmpty() ? null : new Target(null, endpointId(ENDPOINT, defaultEndpoint), defaultInput);
    Map<String, Target> targets = new TreeMap<>();
    endpoints.forEach((alias, id) -> {
      String tKey = INPUT_TEMPLATE + "." + alias;
      RunPodInput input = templates.containsKey(alias)
          ? RunPodInput.template(providerId, tKey, read(tKey, templates.get(alias).strip()), mapper) : defaultInput;
      targets.put(alias, new Target(alias, endpointId(ENDPOINT + "." + alias, id.strip()), input));
    });
    byAlias = Collections.unmodifiableMap(targets);
    prices = table(config, targets(), r -> {
      Target t = targetOrNull(r.model());
      return t == null ? null : t.model();
    });

    Long execution = millis(config, EXECUTION_TIMEOUT, RunPodProvider.MIN_EXECUTION_TIMEOUT);
    Long ttl = millis(config, TTL, RunPodProvider.MIN_TTL);
    Boolean low = config.get(LOW_PRIORITY).isPresent() ? config.bool(LOW_PRIORITY, false) : null;
    policy = execution == null && ttl == null && low == null ? null : new RunPodWire.Policy(execution, ttl, low);
    webhook = config.get(WEBHOOK).orElse(null);
    webhookUrl = Webhooks.url(config).orElse(null);
    if (webhookUrl != null && webhook != null) {
      throw new IllegalStateException(providerId + ": set either '" + WEBHOOK + "' (a URL RunPod posts to, not received here) or '"
          + Webhooks.URL + "' (RunPod's deliveries received by ImageGenerationService.webhooks()), not both");
    }
    degradedQueueDepth = config.intValue(DEGRADED_QUEUE_DEPTH, 5, 1, Integer.MAX_VALUE);
    coldStartAllowance = config.duration(COLD_START_ALLOWANCE, Duration.ofSeconds(60));
    healthCache = config.duration(HEALTH_CACHE, Duration.ofSeconds(10));
    maxImages = config.get(MAX_IMAGES).isPresent() ? config.intValue(MAX_IMAGES, 1, 1, Integer.MAX_VALUE) : null;
  }

  /** Every target, the default first. */
  List<Target> targets() {
    return Stream.concat(Stream.ofNullable(defaultTarget), byAlias.values().stream()).toList();
  }

  /** The distinct endpoint ids, the default first. */
  Collection<String> endpointIds() {
    return targets().stream().map(Target::endpointId).distinct().toList();
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
      return defaultTarget != null ? defaultTarget : byAlias.values().stream().findFirst().orElse(null);
    }
    return byAlias.get(ProviderConfig.normalizeKeyPart(model));
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
          + String.join(", ", byAlias.keySet()) + "; set imagegen." + providerId + ".endpoint." + model + ")", providerId);
    }
    return t;
  }

  /** What the configured endpoints can do together: a feature counts only if every endpoint's mapping carries it. */
  ProviderCapabilities capabilities() {
    List<RunPodInput> all = targets().stream().map(Target::input).toList();
    return ProviderCapabilities.builder()
        .models(byAlias.keySet())
        .anyModel(false)
        // RunPod bounds only the body (10 MB); the workers' SDXL and FLUX encoders read 77 CLIP and
        // 256-512 T5 tokens: 10,000 characters keeps every prompt they can use, refuses a runaway one
        .maxPromptLength(10_000)
        // the request's runpod options are merged into the worker's input: any field of the worker
        .anyOption(true)
        // a template without {{negative_prompt}}, {{sampler}}, {{guidance}} or {{steps}} drops that
        // soft input: served without it, with a warning, unless the request is strict
        .negativePrompt(true)
        .modelInputs(r -> {
          Target t = targetOrNull(r.model());
          return t == null ? Set.of() : t.input().ignoredInputs();
        })
        .seed(all.stream().allMatch(RunPodInput::seed))
        .img2img(all.stream().allMatch(RunPodInput::img2img))
        .mask(all.stream().allMatch(RunPodInput::mask))
        .maxImagesPerRequest(all.stream().mapToInt(i -> i.maxImages(maxImages)).min().orElse(1))
        .queued(true)
        .cancellable(true)
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

  private static @Nullable Long millis(ProviderConfig config, String key, Duration min) {
    return config.get(key).isEmpty() ? null : config.duration(key, min, min, RunPodProvider.MAX_POLICY).toMillis();
  }

  // ------------------------------------------------------------------ prices

  /** Standard key for the GPU class or model of an endpoint, e.g. {@code A100}, {@code 24gb}, {@code 80gb-pro}. */
  static final String GPU = "gpu";
  /** {@code flex} (default) or {@code active}. */
  static final String WORKER_TYPE = "worker-type";

  /** Flex and active $/s per class; active null where RunPod lists none. */
  private static final Map<String, String[]> CLASSES = new LinkedHashMap<>();
  private static final Map<String, String> NAMES = new LinkedHashMap<>();

  static {
    cls("16gb", "0.00016", "0.00011", "a4000", "a4500", "4000", "4000ada");
    cls("24gb", "0.00019", "0.00013", "l4", "a5000", "3090");
    cls("24gbpro", "0.00031", "0.00021", "4090");
    cls("48gb", "0.00034", "0.00024", "a6000", "a40");
    cls("48gbpro", "0.00053", "0.00037", "l40", "l40s", "6000ada");
    cls("80gb", "0.00076", "0.00060", "a100");
    cls("80gbpro", "0.00116", "0.00093", "h100");
    cls("96gbpro", "0.00111", null, "6000s", "pro6000");
    cls("141gbpro", "0.00155", "0.00124", "h200");
    cls("180gb", "0.00240", "0.00190", "b200");
  }

  private static void cls(String name, String flex, @Nullable String active, String... gpus) {
    CLASSES.put(name, new String[] {flex, active});
    for (String g : gpus) {
      NAMES.put(g, name);
    }
  }

  /**
   * The price list of the configured targets.
   *
   * <p>RunPod bills serverless workers per GPU-second, so the actual cost of a job is
   * the {@code executionTime} RunPod reports times the per-second price of the endpoint, and the
   * estimate is {@code typical-gpu-seconds} (default 5) per image times that price. Each target
   * (model alias, or the default endpoint under its endpoint id) has a built-in per-second price when
   * its GPU is named ({@code gpu.<alias>}, else {@code gpu}); core's {@link PriceTable} scheme goes
   * over it: {@code price.<alias>} (a bare number is per second), then {@code price-per-image},
   * {@code price-per-megapixel}, {@code price-per-gpu-second}. Nothing configured:
   * {@link Cost#unknown()}, never zero.
   *
   * <p>The {@code gpu} table is RunPod's serverless price list (runpod/docs, 2026-07), flex workers
   * by default, active workers with {@code worker-type=active} (last listed 2026-05-13).
   *
   * @param config the provider's configuration
   * @param targets every target, the default first
   * @param modelOf the price key of the target a request runs on ({@link Target#model()}), or null
   * @throws IllegalStateException for a GPU name not in the table, a price that cannot be read, or
   *     the old {@code price-per-gpu-second.<alias>} key
   */
  static PriceTable table(ProviderConfig config, List<Target> targets,
      Function<ImageGenerationRequest, @Nullable String> modelOf) {
    String id = config.providerId();
    config.withPrefix(ProviderConfig.PRICE_PER_GPU_SECOND).keySet().stream().findFirst().ifPresent(alias -> {
      throw new IllegalStateException(id + ": '" + ProviderConfig.PRICE_PER_GPU_SECOND + "." + alias + "' is no longer read;"
          + " set 'price." + alias + "' instead (USD per GPU-second, e.g. 0.00076)");
    });
    boolean active = "active".equals(config.choice(WORKER_TYPE, "flex", "flex", "active"));
    Map<String, String> gpus = config.withPrefix(GPU);
    PriceTable.Builder b = PriceTable.builder(id).bareUnit(Unit.SECOND).modelOf(modelOf);
    for (Target t : targets) {
      String own = t.alias() == null ? null : gpus.get(t.alias());
      String gpu = own != null ? own : config.get(GPU).orElse(null);
      BigDecimal p = gpu == null ? null : perSecond(id, own != null ? GPU + "." + t.alias() : GPU, gpu, active);
      if (p != null) {
        b.price(t.model(), new Price(p, Unit.SECOND));
      }
    }
    return b.build(config);
  }

  /**
   * The per-second price of a GPU class or model.
   *
   * @param providerId for messages
   * @param key the configuration key, for messages
   * @param gpu e.g. {@code A100}, {@code RTX 4090}, {@code 24GB}, {@code 80gb-pro}
   * @param active active rather than flex workers
   * @return the price, or null when RunPod lists none for that class and worker type
   * @throws IllegalStateException for a name not in the table
   */
  static @Nullable BigDecimal perSecond(String providerId, String key, String gpu, boolean active) {
    String k = gpu.toLowerCase(Locale.ROOT).replace("nvidia", "").replace("geforce", "").replace("rtx", "")
        .replaceAll("[\\s_\\-]", "");
    String cls = CLASSES.containsKey(k) ? k : NAMES.get(k);
    if (cls == null && k.endsWith("pro")) {
      String bare = k.substring(0, k.length() - 3);
      cls = CLASSES.containsKey(bare) ? bare : NAMES.get(bare);
    }
    if (cls == null) {
      throw new IllegalStateException(providerId + ": '" + key + "' names an unknown GPU '" + gpu + "' (known: "
          + new TreeSet<>(CLASSES.keySet()) + " or " + new TreeSet<>(NAMES.keySet()) + "); or set price.<alias>"
          + " or price-per-gpu-second");
    }
    String p = Objects.requireNonNull(CLASSES.get(cls))[active ? 1 : 0];
    return p == null ? null : new BigDecimal(p);
  }
}
