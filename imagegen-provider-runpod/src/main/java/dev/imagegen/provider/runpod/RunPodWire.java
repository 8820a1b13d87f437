package dev.imagegen.provider.runpod;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.spi.ImageBytes;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The JSON RunPod's serverless queue API sends and receives. Unknown fields are ignored (the shared
 * mapper does that); {@code output} and {@code error} stay as trees because their shape is the
 * worker's, not RunPod's.
 */
final class RunPodWire {
  private RunPodWire() {}

  /**
   * The body of {@code POST /{endpoint}/run}.
   *
   * <pre>{"input":{"prompt":"a red fox","width":1024,"height":1024},"policy":{"ttl":600000}}</pre>
   *
   * @param input passed to the worker's handler unchanged
   * @param policy per-job overrides, or null
   * @param webhook a URL RunPod posts the final job object to, or null
   */
  record Submit(ObjectNode input, @Nullable Policy policy, @Nullable String webhook) {}

  /**
   * Per-job execution policy; every field optional, times in milliseconds.
   *
   * @param executionTimeout longest run, 5 s to 7 days (default 600000)
   * @param ttl whole life from submit, queue and run, 10 s to 7 days (default 86400000)
   * @param lowPriority whether the job may not trigger scale-up
   */
  record Policy(@Nullable Long executionTimeout, @Nullable Long ttl, @Nullable Boolean lowPriority) {}

  /**
   * A job as {@code /run}, {@code /status} and {@code /cancel} return it.
   *
   * <pre>{"delayTime":11449,"executionTime":6120,"id":"447f10b8-c745-4c3b-8fad-b1d4ebb7a65b-e1",
   *  "output":{"image_url":"data:image/png;base64,iVBORw0KGgo...","images":["data:image/png;base64,iVBORw0KGgo..."],"seed":42},
   *  "status":"COMPLETED","workerId":"462u6mrq9s28h6"}</pre>
   *
   * @param id the job id
   * @param status IN_QUEUE, IN_PROGRESS (RUNNING in some docs), COMPLETED, FAILED, CANCELLED, TIMED_OUT
   * @param delayTime time queued, in milliseconds
   * @param executionTime time run, in milliseconds (what the worker is billed for)
   * @param workerId the worker that ran it
   * @param output the handler's result
   * @param error the handler's error: a string (often JSON text), or what the handler returned as {@code error}
   */
  record Job(@Nullable String id, @Nullable String status, @Nullable Long delayTime, @Nullable Long executionTime,
      @Nullable String workerId, @Nullable JsonNode output, @Nullable JsonNode error) {}

  /**
   * The answer of {@code GET /{endpoint}/health}.
   *
   * <pre>{"jobs":{"completed":72,"failed":1,"inProgress":6,"inQueue":0,"retried":1},
   *  "workers":{"idle":4,"initializing":0,"ready":4,"running":1,"throttled":0}}</pre>
   *
   * @param jobs job counts
   * @param workers worker counts
   */
  record Health(@Nullable Jobs jobs, @Nullable Workers workers) {}

  /**
   * Job counts of an endpoint (the others are not read).
   *
   * @param inQueue waiting jobs
   */
  record Jobs(@Nullable Integer inQueue) {}

  /**
   * Worker counts of an endpoint (newer docs show only {@code idle} and {@code running}).
   *
   * @param idle workers waiting for a job
   * @param initializing workers starting up
   * @param ready workers able to take a job
   * @param running workers running a job
   * @param throttled workers held back for lack of capacity
   */
  record Workers(@Nullable Integer idle, @Nullable Integer initializing, @Nullable Integer ready, @Nullable Integer running,
      @Nullable Integer throttled) {}

  /**
   * The images in a finished job's {@code output}, in the shapes RunPod's image workers return:
   *
   * <ul>
   * <li>worker-sdxl: {@code {"images":["data:image/png;base64,..."],"image_url":"data:...","seed":42}}, or
   *     presigned S3 URLs in {@code images} when the worker has a bucket ({@code image_url} repeats the
   *     first image and is used only when {@code images} is absent);
   * <li>worker-comfyui 5+: {@code {"images":[{"filename":"ComfyUI_00001_.png","type":"base64","data":"iVBOR..."}],
   *     "errors":["..."]}}, {@code type} {@code base64} (no {@code data:} prefix) or {@code s3_url};
   * <li>worker-comfyui before 5: {@code {"message":"<URL or base64>"}};
   * <li>a handler that returns the image itself, or a list of them, as {@code output}.
   * </ul>
   *
   * Each value is an http(s) URL, a {@code data:} URI or raw base64; the downloader takes all three.
   *
   * @param images the images' URLs or base64 text, in order
   * @param seed the seed the worker reported, or null
   * @param nsfw per image, whether the worker flagged it (missing entries: not flagged)
   * @param errors errors the worker listed next to its output
   */
  record Output(List<String> images, @Nullable Long seed, List<Boolean> nsfw, List<String> errors) {

    /**
     * Reads an output.
     *
     * @param output the job's {@code output}, or null
     */
    static Output of(@Nullable JsonNode output) {
      List<String> images = new ArrayList<>();
      List<Boolean> nsfw = new ArrayList<>();
      List<String> errors = new ArrayList<>();
      Long seed = null;
      if (output == null || output.isNull() || output.isMissingNode()) {
        return new Output(images, null, nsfw, errors);
      }
      if (output.isTextual() || output.isArray()) {
        addAll(images, output);
        return new Output(images, null, nsfw, errors);
      }
      if (output.isObject()) {
        JsonNode list = output.get("images");
        if (list != null && !list.isNull()) {
          addAll(images, list);
        }
        for (String single : new String[] {"image_url", "image", "url", "message"}) {
          if (!images.isEmpty()) {
            break;
          }
          JsonNode v = output.get(single);
          if (v != null && v.isTextual() && looksLikeImage(v.asText())) {
            images.add(v.asText());
          }
        }
        JsonNode s = output.get("seed");
        if (s != null && s.canConvertToLong()) {
          seed = s.asLong();
        } else if (s != null && s.isArray() && !s.isEmpty() && s.get(0).canConvertToLong()) {
          seed = s.get(0).asLong();
        }
        for (String flag : new String[] {"nsfw_content_detected", "has_nsfw_concepts", "nsfw"}) {
          JsonNode f = output.get(flag);
          if (f != null && f.isArray()) {
            f.forEach(x -> nsfw.add(x.asBoolean(false)));
            break;
          }
          if (f != null && f.isBoolean()) {
            nsfw.add(f.asBoolean());
            break;
          }
        }
        JsonNode errs = output.get("errors");
        if (errs != null && errs.isArray()) {
          errs.forEach(e -> errors.add(e.isTextual() ? e.asText() : e.toString()));
        }
        JsonNode err = output.get("error");
        if (err != null && err.isTextual() && !err.asText().isBlank()) {
          errors.add(err.asText());
        }
      }
      return new Output(images, seed, nsfw, errors);
    }

    /**
     * Whether image {@code i} was flagged.
     *
     * @param i the index
     */
    boolean nsfw(int i) {
      if (nsfw.size() == 1 && images.size() > 1) {
        return nsfw.get(0);
      }
      return i < nsfw.size() && nsfw.get(i);
    }

    private static void addAll(List<String> images, JsonNode node) {
      if (node.isTextual()) {
        if (!node.asText().isBlank()) {
          images.add(node.asText());
        }
        return;
      }
      if (node.isArray()) {
        node.forEach(e -> addAll(images, e));
        return;
      }
      if (node.isObject()) {
        for (String k : new String[] {"data", "image", "url", "image_url", "base64", "b64_json"}) {
          JsonNode v = node.get(k);
          if (v != null && v.isTextual() && !v.asText().isBlank()) {
            images.add(v.asText());
            return;
          }
        }
      }
    }

    private static boolean looksLikeImage(String s) {
      if (ImageBytes.isHttpUrl(s) || ImageBytes.isDataUri(s)) {
        return true;
      }
      // raw base64 of a PNG, JPEG or WebP
      return s.length() > 32 && (s.startsWith("iVBOR") || s.startsWith("/9j/") || s.startsWith("UklGR"));
    }
  }
}
