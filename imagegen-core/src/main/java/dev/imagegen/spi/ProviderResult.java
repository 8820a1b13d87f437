package dev.imagegen.spi;

import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * What a provider hands back from {@link ImageProvider#generate}: the images (bytes already
 * downloaded), the model that served, and whatever usage and timing the provider reported.
 * The service adds attempts, the id, the final cost and total time.
 *
 * @param images the images, at least one
 * @param model the model as the provider names it
 * @param remoteJobId the provider's job id, or null for synchronous APIs
 * @param reportedCost a cost the provider stated outright, or null
 * @param gpuSeconds GPU time the provider reported (Replicate {@code predict_time}, RunPod {@code executionTime}), or null
 * @param queueTime time spent queued, or null when unknown
 * @param runTime time spent generating, or null when unknown
 * @param downloadTime time spent downloading images, or null
 * @param metadata provider details worth keeping (worker, prediction id...)
 * @param warnings things the caller should know
 */
public record ProviderResult(
    List<GeneratedImage> images,
    String model,
    @Nullable String remoteJobId,
    @Nullable Cost reportedCost,
    @Nullable Double gpuSeconds,
    @Nullable Duration queueTime,
    @Nullable Duration runTime,
    @Nullable Duration downloadTime,
    Map<String, String> metadata,
    List<String> warnings) {

  /** Copies the collections. */
  public ProviderResult {
    images = List.copyOf(images);
    metadata = Map.copyOf(metadata);
    warnings = List.copyOf(warnings);
  }

  /**
   * A builder.
   *
   * @param model the model that served
   */
  public static Builder builder(String model) {
    return new Builder(model);
  }

  /** Builds {@link ProviderResult}s. Not thread-safe. */
  public static final class Builder {
    private final List<GeneratedImage> images = new ArrayList<>();
    private final String model;
    private @Nullable String remoteJobId;
    private @Nullable Cost reportedCost;
    private @Nullable Double gpuSeconds;
    private @Nullable Duration queueTime;
    private @Nullable Duration runTime;
    private @Nullable Duration downloadTime;
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final List<String> warnings = new ArrayList<>();

    private Builder(String model) {
      this.model = model;
    }

    /** @param image an image @return this */
    public Builder image(GeneratedImage image) { images.add(image); return this; }
    /** @param all images @return this */
    public Builder images(List<GeneratedImage> all) { images.addAll(all); return this; }
    /** @param id remote job id @return this */
    public Builder remoteJobId(@Nullable String id) { remoteJobId = id; return this; }
    /** @param cost cost stated by the provider @return this */
    public Builder reportedCost(@Nullable Cost cost) { reportedCost = cost; return this; }
    /** @param seconds reported GPU seconds @return this */
    public Builder gpuSeconds(@Nullable Double seconds) { gpuSeconds = seconds; return this; }
    /** @param d queue time @return this */
    public Builder queueTime(@Nullable Duration d) { queueTime = d; return this; }
    /** @param d run time @return this */
    public Builder runTime(@Nullable Duration d) { runTime = d; return this; }
    /** @param d download time @return this */
    public Builder downloadTime(@Nullable Duration d) { downloadTime = d; return this; }
    /** @param key key @param value value (null ignored) @return this */
    public Builder metadata(String key, @Nullable Object value) { if (value != null) metadata.put(key, String.valueOf(value)); return this; }
    /** @param warning a warning @return this */
    public Builder warning(String warning) { warnings.add(warning); return this; }

    /** Builds the result. */
    public ProviderResult build() {
      return new ProviderResult(images, model, remoteJobId, reportedCost, gpuSeconds, queueTime, runTime, downloadTime,
          metadata, warnings);
    }
  }
}
