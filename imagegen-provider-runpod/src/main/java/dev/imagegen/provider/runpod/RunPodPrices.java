package dev.imagegen.provider.runpod;

import dev.imagegen.Cost;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * RunPod's price list: serverless workers are billed per GPU-second, so the actual cost of a job is
 * the {@code executionTime} RunPod reports times the per-second price of the endpoint's GPU class,
 * and the estimate is {@code typical-gpu-seconds} (default 5) per image times that price. The price
 * comes from the configuration, per model alias first: {@code price-per-gpu-second.<alias>},
 * {@code gpu.<alias>}, then {@code price-per-image}, {@code price-per-megapixel},
 * {@code price-per-gpu-second}, {@code gpu}. Nothing configured: {@link Cost#unknown()}, never zero.
 * Immutable and thread-safe.
 *
 * <p>The {@code gpu} table is RunPod's serverless price list (runpod/docs, 2026-07), flex workers
 * by default, active workers with {@code worker-type=active} (last listed 2026-05-13).
 */
final class RunPodPrices implements CostModel {
  /** Standard key for the GPU class or model of an endpoint, e.g. {@code A100}, {@code 24gb}, {@code 80gb-pro}. */
  static final String GPU = "gpu";
  /** {@code flex} (default) or {@code active}. */
  static final String WORKER_TYPE = "worker-type";

  /** Flex and active $/s per class; active null where RunPod lists none. */
  private static final Map<String, BigDecimal[]> CLASSES = new LinkedHashMap<>();
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
    CLASSES.put(name, new BigDecimal[] {new BigDecimal(flex), active == null ? null : new BigDecimal(active)});
    for (String g : gpus) {
      NAMES.put(g, name);
    }
  }

  private final Function<@Nullable String, @Nullable CostModel> byModel;

  /**
   * @param byModel the price list of the target a request's model resolves to, or null when none does
   */
  RunPodPrices(Function<@Nullable String, @Nullable CostModel> byModel) {
    this.byModel = byModel;
  }

  @Override
  public Cost estimate(ImageGenerationRequest request) {
    CostModel m = byModel.apply(request.model());
    return m == null ? Cost.unknown() : m.estimate(request);
  }

  @Override
  public Cost maximum(ImageGenerationRequest request, java.time.Duration maxRunTime) {
    CostModel m = byModel.apply(request.model());
    return m == null ? Cost.unknown() : m.maximum(request, maxRunTime);
  }

  @Override
  public Cost actual(ImageGenerationRequest request, ProviderResult result) {
    CostModel m = byModel.apply(request.model());
    return m == null ? Cost.unknown() : m.actual(request, result);
  }

  /**
   * The price list of one target.
   *
   * @param config the provider's configuration
   * @param alias the target's model alias, or null for the default endpoint
   * @param aliasPrice the configured {@code price-per-gpu-second.<alias>}, or null
   * @param aliasGpu the configured {@code gpu.<alias>}, or null
   * @throws IllegalStateException for a GPU name not in the table
   */
  static CostModel forTarget(ProviderConfig config, @Nullable String alias, @Nullable String aliasPrice,
      @Nullable String aliasGpu) {
    double typical = config.decimal("typical-gpu-seconds").map(BigDecimal::doubleValue).orElse(5.0);
    boolean active = "active".equalsIgnoreCase(config.get(WORKER_TYPE).orElse("flex").strip());
    if (alias != null && aliasPrice != null) {
      BigDecimal p = parse(config.providerId(), ProviderConfig.PRICE_PER_GPU_SECOND + "." + alias, aliasPrice);
      return p.signum() == 0 ? CostModel.free() : CostModel.perGpuSecond(p, typical);
    }
    if (alias != null && aliasGpu != null) {
      return gpuModel(config.providerId(), GPU + "." + alias, aliasGpu, active, typical);
    }
    CostModel gpuDefault = config.get(GPU)
        .map(g -> gpuModel(config.providerId(), GPU, g, active, typical))
        .orElse(CostModel.unknown());
    return CostModel.fromConfig(config, gpuDefault);
  }

  private static CostModel gpuModel(String providerId, String key, String gpu, boolean active, double typical) {
    BigDecimal p = perSecond(providerId, key, gpu, active);
    return p == null ? CostModel.unknown() : CostModel.perGpuSecond(p, typical);
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
          + new TreeSet<>(CLASSES.keySet()) + " or " + new TreeSet<>(NAMES.keySet()) + "); or set price-per-gpu-second");
    }
    BigDecimal[] p = CLASSES.get(cls);
    return active ? p[1] : p[0];
  }

  private static BigDecimal parse(String providerId, String key, String value) {
    try {
      BigDecimal d = new BigDecimal(value.strip());
      if (d.signum() < 0) {
        throw new NumberFormatException();
      }
      return d;
    } catch (NumberFormatException e) {
      throw new IllegalStateException(providerId + ": '" + key + "' is not a price: " + value);
    }
  }
}
