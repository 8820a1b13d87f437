package dev.imagegen.provider.sdwebui;

import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.ProviderContext;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * What one WebUI offers, read from its lists and cached for {@code catalog-ttl} (default 5 min):
 * checkpoints ({@code /sdapi/v1/sd-models}), samplers, schedulers (1.9+) and LoRAs. A list that
 * cannot be read (older WebUI, extension missing, server down) is simply unknown: checks that need
 * it are skipped, and the generation call reports the real problem. Thread-safe.
 */
final class SdWebUiCatalog {
  static final String SD_MODELS = "/sdapi/v1/sd-models";
  static final String SAMPLERS = "/sdapi/v1/samplers";
  static final String SCHEDULERS = "/sdapi/v1/schedulers";
  static final String LORAS = "/sdapi/v1/loras";
  private static final Duration LIST_TIMEOUT = Duration.ofSeconds(15);

  private final Duration ttl;
  private final HttpImageProvider provider;
  private final Entry<SdWebUiWire.SdModel> models = new Entry<>(SD_MODELS, SdWebUiWire.SdModel[].class);
  private final Entry<SdWebUiWire.Sampler> samplers = new Entry<>(SAMPLERS, SdWebUiWire.Sampler[].class);
  private final Entry<SdWebUiWire.Scheduler> schedulers = new Entry<>(SCHEDULERS, SdWebUiWire.Scheduler[].class);
  private final Entry<SdWebUiWire.Lora> loras = new Entry<>(LORAS, SdWebUiWire.Lora[].class);

  /**
   * @param ttl how long a list read is fresh ({@code catalog-ttl})
   * @param provider the provider whose requests (base URL, credentials) read the lists
   */
  SdWebUiCatalog(Duration ttl, HttpImageProvider provider) {
    this.ttl = ttl;
    this.provider = provider;
  }

  /** The lists one generation needs, each null when unknown. */
  record Snapshot(@Nullable List<SdWebUiWire.SdModel> models, @Nullable List<SdWebUiWire.Sampler> samplers,
      @Nullable List<SdWebUiWire.Scheduler> schedulers, @Nullable List<SdWebUiWire.Lora> loras) {}

  /**
   * Reads the lists asked for (fresh ones from the cache), in parallel; never fails.
   *
   * @param ctx the context to call with
   * @param wantModels checkpoints
   * @param wantSamplers samplers and schedulers
   * @param wantLoras LoRAs
   */
  CompletableFuture<Snapshot> load(ProviderContext ctx, boolean wantModels, boolean wantSamplers, boolean wantLoras) {
    var m = wantModels ? models.get(ctx) : CompletableFuture.<@Nullable List<SdWebUiWire.SdModel>>completedFuture(null);
    var s = wantSamplers ? samplers.get(ctx) : CompletableFuture.<@Nullable List<SdWebUiWire.Sampler>>completedFuture(null);
    var sc = wantSamplers ? schedulers.get(ctx) : CompletableFuture.<@Nullable List<SdWebUiWire.Scheduler>>completedFuture(null);
    var l = wantLoras ? loras.get(ctx) : CompletableFuture.<@Nullable List<SdWebUiWire.Lora>>completedFuture(null);
    return CompletableFuture.allOf(m, s, sc, l).thenApply(v -> new Snapshot(m.join(), s.join(), sc.join(), l.join()));
  }

  /** The checkpoints last read, or null when never read. */
  @Nullable List<SdWebUiWire.SdModel> knownModels() {
    return models.cached(true);
  }

  /** Records a checkpoint list read elsewhere (the health check reads the same endpoint). */
  void models(List<SdWebUiWire.SdModel> list) {
    models.put(list);
  }

  /** One cached list. */
  private final class Entry<T> {
    private final String path;
    private final Class<T[]> type;
    private volatile @Nullable List<T> value;
    private volatile long readAt;

    Entry(String path, Class<T[]> type) {
      this.path = path;
      this.type = type;
    }

    @Nullable List<T> cached(boolean stale) {
      List<T> v = value;
      if (v == null) {
        return null;
      }
      return stale || System.nanoTime() - readAt < ttl.toNanos() ? v : null;
    }

    void put(List<T> list) {
      value = List.copyOf(list);
      readAt = System.nanoTime();
    }

    CompletableFuture<@Nullable List<T>> get(ProviderContext ctx) {
      List<T> fresh = cached(false);
      if (fresh != null) {
        return CompletableFuture.completedFuture(fresh);
      }
      CompletableFuture<T[]> read;
      try {
        Duration timeout = SdWebUiProvider.capped(ctx, LIST_TIMEOUT);
        read = ctx.http().json(provider.request(ctx, path).timeout(timeout).GET().build(), type);
      } catch (RuntimeException e) {
        read = CompletableFuture.failedFuture(e);
      }
      return read.handle((list, e) -> {
        if (e != null) {
          ctx.log().debug("{} not available or unreadable ({}); not checking against it", path, e.toString());
          return null;
        }
        put(Arrays.stream(list).filter(Objects::nonNull).toList());
        return value;
      });
    }
  }
}
