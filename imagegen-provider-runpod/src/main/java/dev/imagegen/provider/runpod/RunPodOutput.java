package dev.imagegen.provider.runpod;

import com.fasterxml.jackson.databind.JsonNode;
import dev.imagegen.spi.ImageBytes;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

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
record RunPodOutput(List<String> images, @Nullable Long seed, List<Boolean> nsfw, List<String> errors) {

  /**
   * Reads an output.
   *
   * @param output the job's {@code output}, or null
   */
  static RunPodOutput of(@Nullable JsonNode output) {
    List<String> images = new ArrayList<>();
    List<Boolean> nsfw = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    Long seed = null;
    if (output == null || output.isNull() || output.isMissingNode()) {
      return new RunPodOutput(images, null, nsfw, errors);
    }
    if (output.isTextual() || output.isArray()) {
      addAll(images, output);
      return new RunPodOutput(images, null, nsfw, errors);
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
    return new RunPodOutput(images, seed, nsfw, errors);
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
