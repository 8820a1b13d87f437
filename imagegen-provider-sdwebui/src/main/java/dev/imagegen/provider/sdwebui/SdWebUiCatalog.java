package dev.imagegen.provider.sdwebui;

import com.fasterxml.jackson.databind.JavaType;
import dev.imagegen.spi.HttpResult;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.UnaryOperator;
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

  private final SdWebUiSettings settings;
  private final UnaryOperator<HttpRequest.Builder> authorize;
  private final Entry<SdWebUiWire.SdModel> models = new Entry<>(SD_MODELS, SdWebUiWire.SdModel.class);
  private final Entry<SdWebUiWire.Sampler> samplers = new Entry<>(SAMPLERS, SdWebUiWire.Sampler.class);
  private final Entry<SdWebUiWire.Scheduler> schedulers = new Entry<>(SCHEDULERS, SdWebUiWire.Scheduler.class);
  private final Entry<SdWebUiWire.Lora> loras = new Entry<>(LORAS, SdWebUiWire.Lora.class);

  SdWebUiCatalog(SdWebUiSettings settings, UnaryOperator<HttpRequest.Builder> authorize) {
    this.settings = settings;
    this.authorize = authorize;
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
    private final Class<T> type;
    private volatile @Nullable List<T> value;
    private volatile long readAt;

    Entry(String path, Class<T> type) {
      this.path = path;
      this.type = type;
    }

    @Nullable List<T> cached(boolean stale) {
      List<T> v = value;
      if (v == null) {
        return null;
      }
      return stale || System.nanoTime() - readAt < settings.catalogTtl.toNanos() ? v : null;
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
      ProviderHttp http = ctx.http();
      Duration t = http.timeout().compareTo(LIST_TIMEOUT) < 0 ? http.timeout() : LIST_TIMEOUT;
      HttpRequest req = authorize.apply(http.request(ProviderHttp.join(settings.baseUrl, path))).timeout(t).GET().build();
      CompletableFuture<HttpResult> sent;
      try {
        sent = http.send(req, ProviderHttp.MAX_API_BODY_BYTES);
      } catch (RuntimeException e) {
        return CompletableFuture.completedFuture(null);
      }
      return sent.handle((r, e) -> {
        if (e != null || r == null || !r.isSuccess()) {
          ctx.log().debug("{} not available ({}); not checking against it", path, e != null ? e.toString() : r);
          return null;
        }
        try {
          JavaType listType = ctx.json().getTypeFactory().constructCollectionType(List.class, type);
          List<T> list = ctx.json().readValue(r.body(), listType);
          if (list == null) {
            return null;
          }
          List<T> clean = list.stream().filter(x -> x != null).toList();
          put(clean);
          return clean;
        } catch (IOException | RuntimeException x) {
          ctx.log().debug("{} answered something unreadable ({}); not checking against it", path, x.getClass().getSimpleName());
          return null;
        }
      });
    }
  }
}
