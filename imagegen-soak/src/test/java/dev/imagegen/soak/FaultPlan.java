package dev.imagegen.soak;

import static dev.imagegen.soak.FaultKind.CLOSED_WITHOUT_ANSWER;
import static dev.imagegen.soak.FaultKind.DELAY_PAST_DEADLINE;
import static dev.imagegen.soak.FaultKind.EMPTY_BODY;
import static dev.imagegen.soak.FaultKind.HTTP_500;
import static dev.imagegen.soak.FaultKind.HTTP_502;
import static dev.imagegen.soak.FaultKind.HTTP_503;
import static dev.imagegen.soak.FaultKind.IMAGE_404;
import static dev.imagegen.soak.FaultKind.IMAGE_CORRUPT;
import static dev.imagegen.soak.FaultKind.IMAGE_OVERSIZED;
import static dev.imagegen.soak.FaultKind.MALFORMED_JSON;
import static dev.imagegen.soak.FaultKind.RATE_LIMITED_LONG;
import static dev.imagegen.soak.FaultKind.RATE_LIMITED_SHORT;
import static dev.imagegen.soak.FaultKind.RESET_AFTER_REQUEST;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.jspecify.annotations.Nullable;

/**
 * Which fault a request gets, and how a job ends: a pure function of the seed, the provider, the
 * kind of call, its subject (the generation, or the job) and how often that call was made before.
 * The same client behaviour therefore meets the same faults in every run, whatever the thread
 * timing. Rates are per request; {@code scale} multiplies them all (0 = no faults).
 */
final class FaultPlan {
  private final long seed;
  private final double scale;
  private final Map<Protocol.Call, Map<FaultKind, Double>> rates = new LinkedHashMap<>();

  FaultPlan(long seed, double scale) {
    this.seed = seed;
    this.scale = scale;
    rates.put(Protocol.Call.SUBMIT, ordered(
        RESET_AFTER_REQUEST, 0.025, CLOSED_WITHOUT_ANSWER, 0.008, EMPTY_BODY, 0.01, MALFORMED_JSON, 0.012,
        DELAY_PAST_DEADLINE, 0.008, HTTP_500, 0.02, HTTP_502, 0.01, HTTP_503, 0.02, RATE_LIMITED_SHORT, 0.03,
        RATE_LIMITED_LONG, 0.003, IMAGE_CORRUPT, 0.012, IMAGE_OVERSIZED, 0.008,
        FaultKind.CREATED_THEN_5XX, 0.02, FaultKind.REDIRECT_OFF_HOST, 0.008, FaultKind.HUGE_INLINE_IMAGE, 0.004));
    rates.put(Protocol.Call.POLL, ordered(
        RESET_AFTER_REQUEST, 0.015, CLOSED_WITHOUT_ANSWER, 0.005, EMPTY_BODY, 0.008, MALFORMED_JSON, 0.01,
        DELAY_PAST_DEADLINE, 0.006, HTTP_500, 0.02, HTTP_503, 0.015, RATE_LIMITED_SHORT, 0.015,
        IMAGE_CORRUPT, 0.012, IMAGE_OVERSIZED, 0.008, FaultKind.REDIRECT_OFF_HOST, 0.006,
        FaultKind.HUGE_INLINE_IMAGE, 0.004));
    rates.put(Protocol.Call.RESULT, ordered(
        RESET_AFTER_REQUEST, 0.01, MALFORMED_JSON, 0.01, HTTP_500, 0.02, DELAY_PAST_DEADLINE, 0.005));
    rates.put(Protocol.Call.DOWNLOAD, ordered(
        IMAGE_404, 0.025, IMAGE_CORRUPT, 0.015, IMAGE_OVERSIZED, 0.01, HTTP_500, 0.02, RESET_AFTER_REQUEST, 0.01,
        DELAY_PAST_DEADLINE, 0.005));
    rates.put(Protocol.Call.CANCEL, ordered(HTTP_500, 0.03, RESET_AFTER_REQUEST, 0.01));
  }

  private static Map<FaultKind, Double> ordered(Object... kv) {
    Map<FaultKind, Double> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((FaultKind) kv[i], (Double) kv[i + 1]);
    }
    return m;
  }

  /** A random source for one decision. */
  SplittableRandom random(String provider, String what, String subject, int occurrence) {
    long h = seed ^ 0xcbf29ce484222325L;
    for (byte b : (provider + '|' + what + '|' + subject + '|' + occurrence).getBytes(StandardCharsets.UTF_8)) {
      h ^= b;
      h *= 0x100000001b3L;
    }
    return new SplittableRandom(h);
  }

  /**
   * The fault for a call, or null for none.
   *
   * @param call the call
   * @param rnd the decision's random source
   * @param imageInAnswer whether the answer carries the image inline (image faults apply)
   */
  @Nullable FaultKind pick(Protocol.Call call, SplittableRandom rnd, boolean imageInAnswer) {
    Map<FaultKind, Double> r = rates.get(call);
    double u = rnd.nextDouble();
    if (r == null || scale <= 0) {
      return null;
    }
    double acc = 0;
    for (Map.Entry<FaultKind, Double> e : r.entrySet()) {
      acc += e.getValue() * scale;
      if (u < acc) {
        FaultKind k = e.getKey();
        boolean imageFault = k == IMAGE_CORRUPT || k == IMAGE_OVERSIZED || k == FaultKind.HUGE_INLINE_IMAGE;
        if (imageFault && !imageInAnswer && call != Protocol.Call.DOWNLOAD) {
          return null;
        }
        return k;
      }
    }
    return null;
  }

  /** How a new job will end, and after how many pending status answers. */
  Job.Fate fate(SplittableRandom rnd, boolean remoteCancel) {
    double u = rnd.nextDouble();
    if (scale <= 0) {
      return Job.Fate.DONE;
    }
    if (u < 0.03 * scale) {
      return Job.Fate.NEVER;
    }
    if (u < 0.07 * scale) {
      return Job.Fate.FAILED;
    }
    if (u < 0.09 * scale) {
      return remoteCancel ? Job.Fate.CANCELLED_REMOTELY : Job.Fate.FAILED;
    }
    return Job.Fate.DONE;
  }

  /**
   * Whether a job reports far more GPU time than the typical run the estimate assumes (it runs
   * longer: more pending polls, and its reported execution time is all the time it existed).
   */
  boolean gpuOverrun(SplittableRandom rnd) {
    return scale > 0 && rnd.nextDouble() < 0.15 * Math.min(1, scale);
  }

  int pendingPolls(SplittableRandom rnd, boolean slowPolls) {
    return slowPolls ? rnd.nextInt(2) : 1 + rnd.nextInt(5);
  }
}
