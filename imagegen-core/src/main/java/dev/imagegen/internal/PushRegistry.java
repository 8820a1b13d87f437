package dev.imagegen.internal;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The poll loops a webhook delivery can nudge, by provider id and remote job id. A registration
 * lives until its wait ends (or its attempt is cancelled), so a finished job holds no entry.
 */
final class PushRegistry {
  private final Map<String, Runnable> byJob = new ConcurrentHashMap<>();

  /**
   * Registers a nudge; a later registration for the same job replaces it.
   *
   * @return removes this registration (and only this one)
   */
  Runnable register(String providerId, String remoteJobId, Runnable nudge, CompletableFuture<?> until) {
    String key = key(providerId, remoteJobId);
    Runnable own = new Runnable() { // its own identity: removing it never removes a newer registration
      @Override
      public void run() {
        nudge.run();
      }
    };
    byJob.put(key, own);
    Runnable unregister = () -> byJob.remove(key, own);
    until.whenComplete((v, e) -> unregister.run());
    return unregister;
  }

  /**
   * Nudges the job's poll loop.
   *
   * @return whether a job with that id is pending here
   */
  boolean push(String providerId, String remoteJobId) {
    Runnable r = byJob.get(key(providerId, remoteJobId));
    if (r == null) {
      return false;
    }
    r.run();
    return true;
  }

  /** How many jobs can be nudged (for tests). */
  int size() {
    return byJob.size();
  }

  private static String key(String providerId, String remoteJobId) {
    return providerId + '\u0000' + remoteJobId;
  }
}
