package dev.imagegen.provider.runpod;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
   * Job counts of an endpoint.
   *
   * @param completed finished jobs
   * @param failed failed jobs
   * @param inProgress running jobs
   * @param inQueue waiting jobs
   * @param retried retried jobs
   */
  record Jobs(@Nullable Integer completed, @Nullable Integer failed, @Nullable Integer inProgress, @Nullable Integer inQueue,
      @Nullable Integer retried) {}

  /**
   * Worker counts of an endpoint (newer docs show only {@code idle} and {@code running}).
   *
   * @param idle workers waiting for a job
   * @param initializing workers starting up
   * @param ready workers able to take a job
   * @param running workers running a job
   * @param throttled workers held back for lack of capacity
   * @param unhealthy workers marked unhealthy
   */
  record Workers(@Nullable Integer idle, @Nullable Integer initializing, @Nullable Integer ready, @Nullable Integer running,
      @Nullable Integer throttled, @Nullable Integer unhealthy) {}
}
