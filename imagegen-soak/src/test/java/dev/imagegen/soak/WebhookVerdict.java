package dev.imagegen.soak;

import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.soak.WebhookPhase.Delivery;
import dev.imagegen.soak.WebhookPhase.Fate;
import dev.imagegen.soak.WebhookPhase.Kind;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * The webhook phase's invariants (17 to 22 of the soak), checked from the servers' request
 * journals (every status poll with the job it names and when it arrived), what the webhook sender
 * sent and was answered, and the service's results.
 */
final class WebhookVerdict {
  static final Map<Integer, String> INVARIANTS = Map.of(
      17, "every webhook-phase generation ends with the image of its own job, never before the job is done",
      18, "a forged or stale delivery is answered 401 and makes no poll; one for a job not pending here makes none either",
      19, "a duplicate delivery id is answered as a duplicate; a job delivered twice gets at most one extra poll",
      20, "a job with no timely delivery still ends by the safety-net poll; a late delivery makes no poll",
      21, "an on-time delivery ends the wait at once: p90 of delivery to completion below 1 s",
      22, "no remote job of the phase is left running; no secret in any log line or receiver answer");
  /** The bound on p90 of delivery to completion. */
  static final long P90_BOUND_MS = 1000;
  /** How much later than the safety-net interval after the job was done a job with no delivery may end. */
  static final long SAFETY_NET_SLACK_MS = 1000;
  private static final Set<Fate> NO_TIMELY_DELIVERY = EnumSet.of(Fate.NEVER, Fate.LATE);

  final WebhookPhase phase;
  private final Map<String, List<Long>> polls;
  private final Map<Integer, Job> jobByGen = new TreeMap<>();
  private final Map<Integer, List<Job>> jobsByGen = new TreeMap<>();
  private final Map<Integer, List<Delivery>> deliveriesByGen = new TreeMap<>();

  WebhookVerdict(WebhookPhase phase) {
    this.phase = phase;
    this.polls = phase.pollsByJob();
    for (Job j : phase.jobs()) {
      jobsByGen.computeIfAbsent(j.gen, k -> new ArrayList<>()).add(j);
      jobByGen.putIfAbsent(j.gen, j);
    }
    for (Delivery d : phase.deliveries) {
      deliveriesByGen.computeIfAbsent(d.gen(), k -> new ArrayList<>()).add(d);
    }
    deliveriesByGen.values().forEach(l -> l.sort((a, b) -> Long.compare(a.sentNanos(), b.sentNanos())));
  }

  /** Throws an AssertionError naming the invariant and its first violations, if it does not hold. */
  void check(int invariant) {
    List<String> v = violations(invariant);
    if (!v.isEmpty()) {
      StringBuilder sb = new StringBuilder("invariant " + invariant + " (" + INVARIANTS.get(invariant) + ") does not hold: "
          + v.size() + " violation(s) in " + phase.label + " (seed " + phase.seed + ", " + phase.fates.size() + " generations)");
      v.stream().limit(15).forEach(x -> sb.append("\n  - ").append(x));
      if (v.size() > 15) {
        sb.append("\n  ... ").append(v.size() - 15).append(" more");
      }
      throw new AssertionError(sb.toString());
    }
  }

  List<String> violations(int invariant) {
    return switch (invariant) {
      case 17 -> ownImages();
      case 18 -> refusedMakeNoPoll();
      case 19 -> duplicates();
      case 20 -> safetyNet();
      case 21 -> latency();
      case 22 -> nothingLeft();
      default -> throw new IllegalArgumentException("no invariant " + invariant);
    };
  }

  private String what(int gen) {
    return phase.providerOf.get(gen) + " gen " + gen + " (" + phase.fates.get(gen) + ")";
  }

  private List<Long> pollsOf(Job j) {
    return polls.getOrDefault(j.id, List.of());
  }

  private long pollsIn(Job j, long from, long to) {
    return pollsOf(j).stream().filter(t -> t > from && t < to).count();
  }

  /**
   * The polls in a window that the safety net does not explain: each comes sooner after the
   * job's previous poll than the safety net's interval allows (less its 10% jitter, less 100 ms).
   * A timer of the sender's that runs late cannot turn a safety-net poll into a violation.
   */
  private long unpacedPollsIn(Job j, long from, long to) {
    long pace = TimeUnit.MILLISECONDS.toNanos((long) (WebhookPhase.SAFETY_NET_MS * 0.9) - 100);
    List<Long> all = pollsOf(j);
    long n = 0;
    for (int i = 0; i < all.size(); i++) {
      long t = all.get(i);
      if (t > from && t < to && (i == 0 || t - all.get(i - 1) < pace)) {
        n++;
      }
    }
    return n;
  }

  private static long ms(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  private List<Delivery> of(int gen, Kind kind) {
    return deliveriesByGen.getOrDefault(gen, List.of()).stream().filter(d -> d.kind() == kind).toList();
  }

  /** The first correctly signed, timely delivery for the job itself (a repeat of one counts: it may go out first). */
  private @Nullable Delivery firstGood(int gen) {
    for (Delivery d : deliveriesByGen.getOrDefault(gen, List.of())) {
      if (d.kind() == Kind.GOOD || d.kind() == Kind.DUPLICATE) {
        return d;
      }
    }
    return null;
  }

  // ------------------------------------------------------------------------------ 17

  private List<String> ownImages() {
    List<String> v = new ArrayList<>();
    for (int gen : phase.fates.keySet()) {
      List<Job> jobs = jobsByGen.getOrDefault(gen, List.of());
      if (jobs.size() != 1) {
        v.add(what(gen) + ": " + jobs.size() + " remote job(s), expected exactly one (no fault was injected)");
        continue;
      }
      Job j = jobs.get(0);
      ImageGenerationResponse r = phase.responses.get(gen);
      Throwable e = phase.errors.get(gen);
      if (r == null) {
        v.add(what(gen) + ": no image: " + (e == null ? "never ended" : e.toString()));
        continue;
      }
      if (r.images().size() != 1 || !Arrays.equals(r.images().get(0).bytes(), j.image())) {
        v.add(what(gen) + ": the image returned is not the one its job " + j.id + " served");
      }
      Long end = phase.endNanos.get(gen);
      if (j.releasedNanos == 0 || end == null || end < j.releasedNanos) {
        v.add(what(gen) + ": ended " + (end == null || j.releasedNanos == 0 ? "without its job being done"
            : ms(j.releasedNanos - end) + " ms before its job was done"));
      }
      if (phase.fates.get(gen) == Fate.EARLY_THEN_GOOD) {
        for (Delivery d : of(gen, Kind.EARLY)) {
          if (d.answer().status() != 200) {
            v.add(what(gen) + ": the early delivery was answered " + d.answer() + ", expected 200");
          }
          if (d.sentNanos() > j.releasedNanos) {
            v.add(what(gen) + ": the early delivery went out after the job was done (the phase's timing failed)");
          } else if (pollsIn(j, d.sentNanos(), j.releasedNanos) == 0) {
            v.add(what(gen) + ": the early delivery made no poll before the job was done ("
                + ms(j.releasedNanos - d.sentNanos()) + " ms later): a verified delivery must poll at once");
          }
        }
      }
    }
    return v;
  }

  // ------------------------------------------------------------------------------ 18

  private List<String> refusedMakeNoPoll() {
    List<String> v = new ArrayList<>();
    for (Delivery d : phase.deliveries) {
      if (d.kind() != Kind.FORGED && d.kind() != Kind.STALE && d.kind() != Kind.NOT_PENDING) {
        continue;
      }
      Job j = jobByGen.get(d.gen());
      String kind = d.kind().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
      if (d.kind() == Kind.NOT_PENDING) {
        if (d.answer().status() != 200 || !d.answer().message().contains("no such job is pending")) {
          v.add(what(d.gen()) + ": a delivery for a job not pending here was answered " + d.answer()
              + ", expected 200 'no such job is pending here'");
        }
      } else if (d.answer().status() != 401) {
        v.add(what(d.gen()) + ": a " + kind + " delivery was answered " + d.answer() + ", expected 401");
      }
      if (d.answer().message().contains("not-your-image") || d.answer().message().contains(d.jobId())) {
        v.add(what(d.gen()) + ": the answer to a " + kind + " delivery repeats the body: " + d.answer().message());
      }
      Delivery next = firstGood(d.gen());
      long until = next != null && next.sentNanos() > d.sentNanos() ? next.sentNanos() : d.sentNanos()
          + TimeUnit.MILLISECONDS.toNanos(WebhookPhase.REFUSED_GAP_MS);
      if (j != null) {
        long n = unpacedPollsIn(j, d.sentNanos(), until);
        if (n > 0) {
          v.add(what(d.gen()) + ": a " + kind + " delivery (answered " + d.answer().status() + ") was followed by " + n
              + " poll(s) of job " + j.id + " within " + ms(until - d.sentNanos()) + " ms, before any good delivery"
              + " (sooner than the safety net polls)");
        }
      }
    }
    return v;
  }

  // ------------------------------------------------------------------------------ 19

  private List<String> duplicates() {
    List<String> v = new ArrayList<>();
    for (Map.Entry<Integer, Fate> e : phase.fates.entrySet()) {
      int gen = e.getKey();
      if (e.getValue() != Fate.TWICE_SAME_ID && e.getValue() != Fate.TWICE_NEW_ID) {
        continue;
      }
      if (e.getValue() == Fate.TWICE_SAME_ID) {
        // the two go out at about the same moment: whichever the receiver took second is the duplicate
        List<Delivery> same = deliveriesByGen.getOrDefault(gen, List.of()).stream()
            .filter(d -> d.kind() == Kind.GOOD || d.kind() == Kind.DUPLICATE).toList();
        // (the first is "accepted", or "accepted; no such job is pending here" should the safety net have won the race)
        long dup = same.stream().filter(d -> d.answer().status() == 200 && d.answer().message().contains("duplicate")).count();
        long accepted = same.stream().filter(d -> d.answer().status() == 200 && d.answer().message().startsWith("accepted"))
            .count();
        if (same.size() != 2 || dup != 1 || accepted != 1) {
          v.add(what(gen) + ": the same delivery id sent twice was answered " + same.stream().map(d -> d.answer().toString())
              .toList() + ", expected one accepted and one 'duplicate'");
        }
      }
      Job j = jobByGen.get(gen);
      Delivery first = firstGood(gen);
      if (j == null || first == null) {
        v.add(what(gen) + ": no job or no delivery sent");
        continue;
      }
      long n = pollsIn(j, first.sentNanos(), Long.MAX_VALUE);
      if (n > 2) {
        v.add(what(gen) + ": delivered twice, then polled " + n + " times (at most one poll for the delivery and one extra)");
      }
    }
    return v;
  }

  // ------------------------------------------------------------------------------ 20

  private List<String> safetyNet() {
    List<String> v = new ArrayList<>();
    long bound = (long) (WebhookPhase.SAFETY_NET_MS * 1.1) + SAFETY_NET_SLACK_MS;
    for (Map.Entry<Integer, Fate> e : phase.fates.entrySet()) {
      int gen = e.getKey();
      if (!NO_TIMELY_DELIVERY.contains(e.getValue())) {
        continue;
      }
      Job j = jobByGen.get(gen);
      Long end = phase.endNanos.get(gen);
      if (j == null || end == null || phase.responses.get(gen) == null) {
        v.add(what(gen) + ": with no timely delivery the job never ended with its image: "
            + phase.errors.getOrDefault(gen, new IllegalStateException("no answer")));
        continue;
      }
      if (j.releasedNanos > 0 && ms(end - j.releasedNanos) > bound) {
        v.add(what(gen) + ": ended " + ms(end - j.releasedNanos) + " ms after its job was done; the safety net polls every "
            + WebhookPhase.SAFETY_NET_MS + " ms (bound " + bound + " ms)");
      }
      for (Delivery d : of(gen, Kind.LATE)) {
        if (d.answer().status() != 200 || !d.answer().message().contains("no such job is pending")) {
          v.add(what(gen) + ": the late delivery was answered " + d.answer() + ", expected 200 'no such job is pending here'");
        }
        long n = pollsIn(j, d.sentNanos(), Long.MAX_VALUE);
        if (n > 0) {
          v.add(what(gen) + ": the late delivery, after the generation ended, made " + n + " poll(s)");
        }
      }
      if (e.getValue() == Fate.LATE && of(gen, Kind.LATE).isEmpty()) {
        v.add(what(gen) + ": its late delivery was never sent (the phase's sender failed)");
      }
    }
    return v;
  }

  // ------------------------------------------------------------------------------ 21

  /** Delivery to completion (ms) of every first good delivery of a job whose fate sends one in time, sorted. */
  List<Long> latencies() {
    return latencies(f -> !NO_TIMELY_DELIVERY.contains(f) && f != Fate.ON_TIME_POLL_FAILS);
  }

  /** Delivery to completion (ms) of the first good delivery of each job whose fate is accepted, sorted. */
  List<Long> latencies(java.util.function.Predicate<Fate> fates) {
    List<Long> out = new ArrayList<>();
    for (Map.Entry<Integer, Fate> e : phase.fates.entrySet()) {
      if (!fates.test(e.getValue())) {
        continue;
      }
      Delivery d = firstGood(e.getKey());
      Long end = phase.endNanos.get(e.getKey());
      if (d != null && end != null) {
        out.add(Math.max(0, ms(end - d.sentNanos())));
      }
    }
    out.sort(null);
    return out;
  }

  static long percentile(List<Long> sorted, double p) {
    if (sorted.isEmpty()) {
      return -1;
    }
    int i = (int) Math.ceil(p * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
  }

  private List<String> latency() {
    List<String> v = new ArrayList<>();
    List<Long> l = latencies();
    long expected = phase.fates.values().stream().filter(f -> !NO_TIMELY_DELIVERY.contains(f) && f != Fate.ON_TIME_POLL_FAILS)
        .count();
    if (l.size() != expected) {
      v.add(l.size() + " on-time deliveries measured, expected " + expected + " (a delivery or an end is missing)");
    }
    long p90 = percentile(l, 0.9);
    if (p90 > P90_BOUND_MS || p90 < 0) {
      v.add("p90 of delivery to completion is " + p90 + " ms (bound " + P90_BOUND_MS + " ms; safety net "
          + WebhookPhase.SAFETY_NET_MS + " ms): " + l);
    }
    return v;
  }

  /**
   * Finding K, not an invariant yet: a job whose delivery's poll met one transient 503 should end
   * no later than a job with no delivery at all (the safety-net interval plus its jitter and slack
   * after the delivery). Core backs the failed poll off by twice the safety-net interval.
   */
  List<String> failedPollWaits() {
    List<String> v = new ArrayList<>();
    long bound = (long) (WebhookPhase.SAFETY_NET_MS * 1.1) + SAFETY_NET_SLACK_MS;
    for (Map.Entry<Integer, Fate> e : phase.fates.entrySet()) {
      if (e.getValue() != Fate.ON_TIME_POLL_FAILS) {
        continue;
      }
      Delivery d = firstGood(e.getKey());
      Long end = phase.endNanos.get(e.getKey());
      if (d == null || end == null) {
        v.add(what(e.getKey()) + ": no delivery or no end");
      } else if (ms(end - d.sentNanos()) > bound) {
        v.add(what(e.getKey()) + ": its delivery's poll was answered 503 once, and the generation ended "
            + ms(end - d.sentNanos()) + " ms after the delivery; a job with no delivery ends within " + bound + " ms");
      }
    }
    return v;
  }

  // ------------------------------------------------------------------------------ 22

  private List<String> nothingLeft() {
    List<String> v = new ArrayList<>();
    for (Job j : phase.jobs()) {
      if (j.end == null && !j.cancelReceived) {
        v.add(j + ": left running (never reported ended, never cancelled)");
      }
    }
    if (!phase.logCapturing) {
      v.add("the log capture is not active: the log lines cannot be checked");
    }
    if (phase.logLines.isEmpty()) {
      v.add("no log line was captured during the phase: the check proves nothing");
    }
    for (Map.Entry<String, String> s : phase.secrets().entrySet()) {
      for (String line : phase.logLines) {
        if (line.contains(s.getValue())) {
          v.add(s.getKey() + " in a log line: " + (line.length() > 300 ? line.substring(0, 300) + "..." : line));
        }
      }
      for (Delivery d : phase.deliveries) {
        if (d.answer().message().contains(s.getValue())) {
          v.add(s.getKey() + " in a receiver answer: " + d.answer().message());
        }
      }
    }
    return v;
  }

  // ------------------------------------------------------------------------------ the table

  /** The phase's lines of the soak's table. */
  String table() {
    StringBuilder b = new StringBuilder();
    Map<Fate, Long> byFate = phase.fates.values().stream().collect(Collectors.groupingBy(f -> f, TreeMap::new,
        Collectors.counting()));
    Map<String, Long> answers = phase.deliveries.stream().collect(Collectors.groupingBy(
        d -> d.kind().name().toLowerCase(java.util.Locale.ROOT) + " " + d.answer().status(), TreeMap::new, Collectors.counting()));
    List<Long> l = latencies();
    long safetyMax = 0;
    for (Map.Entry<Integer, Fate> e : phase.fates.entrySet()) {
      Job j = jobByGen.get(e.getKey());
      Long end = phase.endNanos.get(e.getKey());
      if (NO_TIMELY_DELIVERY.contains(e.getValue()) && j != null && end != null && j.releasedNanos > 0) {
        safetyMax = Math.max(safetyMax, ms(end - j.releasedNanos));
      }
    }
    int pollCount = polls.values().stream().mapToInt(List::size).sum();
    long keySetReads = phase.servers.get("fal").journal().stream()
        .filter(e -> e.getRequest().getUrl().startsWith(WebhookPhase.JWKS_PATH)).count();
    b.append(String.format("%-22s %s%n", "webhooks", phase.fates.size() + " generations (" + WebhookPhase.PER_PROVIDER
        + " per provider: " + String.join(", ", WebhookPhase.PROVIDERS) + ") with webhook-url, safety net "
        + WebhookPhase.SAFETY_NET_MS + " ms; " + phase.responses.size() + " succeeded; fates " + byFate));
    b.append(String.format("%-22s %s%n", "", phase.deliveries.size() + " deliveries, by kind and answer " + answers));
    b.append(String.format("%-22s %s%n", "", "delivery to completion p50 " + percentile(l, 0.5) + " ms, p90 "
        + percentile(l, 0.9) + " ms, max " + percentile(l, 1.0) + " ms (" + l.size() + " on time); with no timely delivery "
        + "ended at most " + safetyMax + " ms after done; " + pollCount + " status polls for " + jobByGen.size()
        + " jobs; fal's key set read " + keySetReads + " time(s); phase " + ms(phase.wallNanos) + " ms"));
    List<Long> failed = latencies(f -> f == Fate.ON_TIME_POLL_FAILS);
    b.append(String.format("%-22s %s%n", "", "a delivery whose poll was answered 503 once: delivery to completion min "
        + percentile(failed, 0.0) + " ms, p50 " + percentile(failed, 0.5) + " ms, max " + percentile(failed, 1.0) + " ms ("
        + failed.size() + " jobs; not an invariant)"));
    for (int i = 17; i <= 22; i++) {
      b.append(String.format("  %-20s %s%n", i + (violations(i).isEmpty() ? " holds" : " FAILS (" + violations(i).size() + ")"),
          INVARIANTS.get(i)));
    }
    return b.toString();
  }
}
