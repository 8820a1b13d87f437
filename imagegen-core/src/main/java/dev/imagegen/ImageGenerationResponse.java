package dev.imagegen;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The result of a successful generation: the images (bytes kept), which provider served, every
 * attempt made on the way (failed and skipped providers included), timings and cost.
 *
 * <p>{@link #metadata()} holds at least {@code prompt} (the final prompt sent, after presets and
 * styles) and, when one was sent, {@code negative_prompt}; providers add their own keys (the
 * Horde's worker, Replicate's prediction id...).
 *
 * @param id imagegen's id for this generation
 * @param status how the response was produced
 * @param images the images, at least one
 * @param provider the provider that served
 * @param model the model that served, as the provider named it
 * @param generationTime wall time of the whole call
 * @param timings where the time went
 * @param cost what it cost (or the estimate, or unknown)
 * @param attempts every attempt in order, the successful one last
 * @param metadata final prompt and provider details
 * @param warnings things the caller should know (a size rounded, a field a provider ignored)
 */
public record ImageGenerationResponse(
    String id,
    Status status,
    List<GeneratedImage> images,
    String provider,
    String model,
    Duration generationTime,
    Timings timings,
    Cost cost,
    List<Attempt> attempts,
    Map<String, String> metadata,
    List<String> warnings) {

  /** How a response was produced. */
  public enum Status {
    /** A provider generated the images for this call. */
    COMPLETED,
    /** The images came from imagegen's cache; nothing was spent. */
    CACHED
  }

  /** Copies the collections. */
  public ImageGenerationResponse {
    Objects.requireNonNull(id, "id");
    images = List.copyOf(images);
    attempts = List.copyOf(attempts);
    metadata = Map.copyOf(metadata);
    warnings = List.copyOf(warnings);
  }

  /** The first image. */
  public GeneratedImage image() {
    return images.get(0);
  }

  /** Whether the images came from the cache. */
  public boolean cached() {
    return status == Status.CACHED;
  }

  @Override
  public String toString() {
    return "ImageGenerationResponse[id=" + id + ", status=" + status + ", provider=" + provider + ", model=" + model
        + ", images=" + images.size() + ", time=" + generationTime.toMillis() + " ms, cost=" + cost + ", attempts="
        + attempts + "]";
  }
}
