package dev.imagegen.provider.fal;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The JSON fal sends and receives on its queue and storage APIs, as records. Unknown fields are
 * ignored (the shared mapper does that); every field may be missing, so every component is nullable
 * and checked where it is used.
 */
final class FalWire {
  private FalWire() {}

  /**
   * The answer to a submit ({@code POST queue.fal.run/{app id}}).
   *
   * <pre>{@code
   * {"status":"IN_QUEUE","request_id":"5b9d1c2e-7f3a-4c1e-9a55-0d6f2b8e41aa",
   *  "response_url":"https://queue.fal.run/fal-ai/flux/requests/5b9d1c2e-7f3a-4c1e-9a55-0d6f2b8e41aa",
   *  "status_url":"https://queue.fal.run/fal-ai/flux/requests/5b9d1c2e-7f3a-4c1e-9a55-0d6f2b8e41aa/status",
   *  "cancel_url":"https://queue.fal.run/fal-ai/flux/requests/5b9d1c2e-7f3a-4c1e-9a55-0d6f2b8e41aa/cancel",
   *  "queue_position":0}
   * }</pre>
   */
  record Submit(
      @JsonProperty("status") @Nullable String status,
      @JsonProperty("request_id") @Nullable String requestId,
      @JsonProperty("response_url") @Nullable String responseUrl,
      @JsonProperty("status_url") @Nullable String statusUrl,
      @JsonProperty("cancel_url") @Nullable String cancelUrl,
      @JsonProperty("queue_position") @Nullable Integer queuePosition) {}

  /**
   * The answer to a status read ({@code GET …/requests/{id}/status?logs=1}); the three URLs and
   * {@code request_id} are repeated in each.
   *
   * <pre>{@code
   * {"status":"IN_QUEUE","queue_position":3}
   * {"status":"IN_PROGRESS","logs":[{"message":"step 2/4","level":"INFO","source":"USER","timestamp":"2026-11-20T10:15:02.311Z"}]}
   * {"status":"COMPLETED","logs":null,"metrics":{"inference_time":0.41}}
   * {"status":"COMPLETED","logs":null,"metrics":{},"error":"Runner disconnected","error_type":"runner_disconnected"}
   * }</pre>
   */
  record Status(
      @JsonProperty("status") @Nullable String status,
      @JsonProperty("queue_position") @Nullable Integer queuePosition,
      @JsonProperty("logs") @Nullable List<Log> logs,
      @JsonProperty("metrics") @Nullable Metrics metrics,
      @JsonProperty("error") @Nullable String error,
      @JsonProperty("error_type") @Nullable String errorType,
      @JsonProperty("request_id") @Nullable String requestId,
      @JsonProperty("response_url") @Nullable String responseUrl) {

    /** The message of the newest log line, or null. */
    @Nullable String lastLog() {
      List<Log> l = logs;
      if (l == null) {
        return null;
      }
      for (int i = l.size() - 1; i >= 0; i--) {
        Log log = l.get(i);
        if (log != null && log.message() != null && !log.message().isBlank()) {
          return log.message();
        }
      }
      return null;
    }
  }

  /**
   * One log line of a running request.
   *
   * <pre>{@code {"message":"step 2/4","level":"INFO","source":"USER","timestamp":"2026-11-20T10:15:02.311Z"}}</pre>
   */
  record Log(
      @JsonProperty("message") @Nullable String message,
      @JsonProperty("level") @Nullable String level,
      @JsonProperty("timestamp") @Nullable String timestamp) {}

  /**
   * Run metrics of a completed request; may be empty or missing on old apps.
   *
   * <pre>{@code {"inference_time":0.41}}</pre>
   */
  record Metrics(@JsonProperty("inference_time") @Nullable Double inferenceTime) {}

  /**
   * The result of an image app ({@code GET …/requests/{id}}).
   *
   * <pre>{@code
   * {"images":[{"url":"https://v3.fal.media/files/tiger/Qm3xV0aZ.jpeg","width":1024,"height":768,"content_type":"image/jpeg"}],
   *  "timings":{"inference":0.38},"seed":1984632751,"has_nsfw_concepts":[false],"prompt":"a red fox in snow"}
   * {"images":[{"url":"https://v3b.fal.media/files/b/penguin/k9Rr.png","content_type":"image/png","file_name":"output.png"}],
   *  "description":"Here is the scene with the jacket changed to red."}
   * }</pre>
   */
  record Result(
      @JsonProperty("images") @Nullable List<Image> images,
      @JsonProperty("seed") @Nullable Long seed,
      @JsonProperty("has_nsfw_concepts") @Nullable List<Boolean> hasNsfwConcepts,
      @JsonProperty("timings") @Nullable Timings timings,
      @JsonProperty("description") @Nullable String description) {

    /** Whether fal flagged the image at an index. */
    boolean nsfw(int index) {
      List<Boolean> flags = hasNsfwConcepts;
      return flags != null && index < flags.size() && Boolean.TRUE.equals(flags.get(index));
    }
  }

  /**
   * Timings a result reports, in seconds.
   *
   * <pre>{@code {"inference":0.38}}</pre>
   */
  record Timings(@JsonProperty("inference") @Nullable Double inference) {}

  /**
   * One output image: a CDN URL (or a data URI with {@code sync_mode}).
   *
   * <pre>{@code {"url":"https://v3.fal.media/files/tiger/Qm3xV0aZ.jpeg","width":1024,"height":768,"content_type":"image/jpeg"}}</pre>
   */
  record Image(
      @JsonProperty("url") @Nullable String url,
      @JsonProperty("width") @Nullable Integer width,
      @JsonProperty("height") @Nullable Integer height,
      @JsonProperty("content_type") @Nullable String contentType,
      @JsonProperty("file_name") @Nullable String fileName) {}

  /**
   * The body that starts an upload ({@code POST rest.fal.ai/storage/upload/initiate?storage_type=fal-cdn-v3}).
   *
   * <pre>{@code {"content_type":"image/png","file_name":"in.png"}}</pre>
   */
  record InitiateUpload(
      @JsonProperty("content_type") String contentType,
      @JsonProperty("file_name") String fileName) {}

  /**
   * The answer to an upload initiate: PUT the bytes to {@code upload_url} (no auth), then send
   * {@code file_url} to the model.
   *
   * <pre>{@code {"upload_url":"…","file_url":"https://v3b.fal.media/files/…"}}</pre>
   */
  record UploadTarget(
      @JsonProperty("upload_url") @Nullable String uploadUrl,
      @JsonProperty("file_url") @Nullable String fileUrl) {}

  /**
   * The answer to a cancel ({@code PUT …/requests/{id}/cancel}): {@code OK},
   * {@code CANCELLATION_REQUESTED}, {@code ALREADY_COMPLETED} or {@code NOT_FOUND}.
   *
   * <pre>{@code {"status":"CANCELLATION_REQUESTED"}}</pre>
   */
  record Cancel(@JsonProperty("status") @Nullable String status) {}
}
