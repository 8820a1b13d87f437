package dev.imagegen.soak;

import com.github.tomakehurst.wiremock.stubbing.ServeEvent;
import dev.imagegen.AllProvidersFailedException;
import dev.imagegen.Attempt;
import dev.imagegen.ErrorKind;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationJob;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.MetricsSnapshot;
import dev.imagegen.ProgressEvent;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CancellationException;
import org.jspecify.annotations.Nullable;

/**
 * Checks a finished {@link SoakRun}: the eight invariants, each from the servers' request journals
 * (and what the injector decided for each request) and the SDK's results, and the report table.
 */
final class Verdict {
  /** The invariants, numbered as in the issue. */
  static final Map<Integer, String> INVARIANTS = Map.of(
      1, "every generation ends exactly once, within its deadline plus slack",
      2, "no second paid submit after a submit whose outcome was unknown",
      3, "every acknowledged remote job ends completed, failed, or cancelled by us",
      4, "spend never exceeds the budget",
      5, "every returned image decodes and is the image the server served for it",
      6, "metrics agree with the results",
      7, "no API key in any captured log line or exception message",
      8, "threads stay bounded while thousands are in flight");
  /** Live threads in the JVM (servers, callers and SDK together) must stay below this. */
  static final int MAX_THREADS = 200;

  private final SoakRun run;
  private final Map<Integer, List<String>> violations = new TreeMap<>();
  private final Map<String, Long> outcomes = new TreeMap<>();
  private final Map<String, Long> errorKinds = new TreeMap<>();
  private final Map<String, String> examples = new TreeMap<>();
  private final Map<String, Long> attemptFailures = new TreeMap<>();
  private long circuitSkips;
  private final Map<String, Double> firstOpen = new TreeMap<>();
  private final Map<String, Double> lastCalled = new TreeMap<>();
  private long responses;
  private long errors;
  private long lost;
  private long lateMaxMillis;
  private long failovers;
  private long retries;
  private long refusedConnections;
  private final Map<String, Long> remoteCancels = new TreeMap<>();
  private final Map<String, Long> submits = new TreeMap<>();
  private long duplicates;
  private long regeneratedAfterCompletedJob;
  private final List<String> regenerationExamples = new ArrayList<>();
  private long jobs;
  private long jobsCompleted;
  private long jobsFailed;
  private long jobsCancelledRemotely;
  private long jobsCancelledByUs;
  private long jobsOrphanedUnknown;
  private long jobsLeftRunning;
  private long cancelsFaulted;
  private long imagesChecked;
  private BigDecimal responseCost = BigDecimal.ZERO;
  private BigDecimal billedKnown = BigDecimal.ZERO;
  private BigDecimal billedMaybe = BigDecimal.ZERO;
  private long completedUndelivered;
  private BigDecimal completedUndeliveredCost = BigDecimal.ZERO;
  private final Map<String, Long> servedBy = new TreeMap<>();
  private final Map<String, BigDecimal> costBy = new TreeMap<>();

  Verdict(SoakRun run) {
    this.run = run;
    for (int i = 1; i <= 8; i++) {
      violations.put(i, new ArrayList<>());
    }
    results();
    duplicateSubmits();
    orphanJobs();
    budget();
    images();
    metrics();
    secrets();
    threads();
  }

  /** The violations of an invariant (empty when it holds). */
  List<String> violations(int invariant) {
    return violations.get(invariant);
  }

  /** Throws an AssertionError naming the invariant and its first violations, if it does not hold. */
  void check(int invariant) {
    List<String> v = violations(invariant);
    if (!v.isEmpty()) {
      StringBuilder sb = new StringBuilder("invariant " + invariant + " (" + INVARIANTS.get(invariant) + ") does not hold: "
          + v.size() + " violation(s) in " + run.options.label() + " (seed " + run.options.seed() + ", "
          + run.options.generations() + " generations)");
      v.stream().limit(15).forEach(x -> sb.append("\n  - ").append(x));
      if (v.size() > 15) {
        sb.append("\n  ... ").append(v.size() - 15).append(" more");
      }
      throw new AssertionError(sb.toString());
    }
  }

  // ------------------------------------------------------------------------------ 1

  private void results() {
    List<String> v = violations.get(1);
    long slack = SoakRun.SLACK.toMillis();
    for (Gen g : run.gens) {
      if (!g.ended()) {
        lost++;
        v.add(g + " never ended (lost)");
        continue;
      }
      if (g.completions.get() != 1) {
        v.add(g + " ended " + g.completions.get() + " times");
      }
      ImageGenerationResponse r = g.response;
      Throwable e = g.error;
      if ((r == null) == (e == null)) {
        v.add(g + " ended with " + (r == null ? "neither a response nor an exception" : "both a response and an exception"));
      }
      if (e != null && !(e instanceof ImageGenerationException) && !(e instanceof CancellationException)) {
        v.add(g + " ended with an exception outside imagegen's hierarchy: " + e);
      }
      long late = g.elapsed().toMillis() - g.deadline.toMillis();
      lateMaxMillis = Math.max(lateMaxMillis, late);
      if (late > slack) {
        v.add(g + " ended " + late + " ms after its deadline (slack " + slack + " ms): " + outcome(g));
      }
      if (g.cancelNanos > 0 && g.endNanos > g.cancelNanos && (g.endNanos - g.cancelNanos) / 1_000_000 > slack) {
        v.add(g + " ended " + (g.endNanos - g.cancelNanos) / 1_000_000 + " ms after its caller cancelled it");
      }
      if (g.mode == Gen.Mode.SUBMIT && g.job != null) {
        GenerationJob.Status st = g.job.status();
        boolean ok = r != null ? st == GenerationJob.Status.SUCCEEDED
            : st == GenerationJob.Status.FAILED || st == GenerationJob.Status.CANCELLED;
        if (!ok) {
          v.add(g + ": job status " + st + " after " + outcome(g));
        }
        boolean doneEvent = g.progress.stream().anyMatch(p -> p.stage() == ProgressEvent.Stage.DONE);
        if (doneEvent && r == null) {
          v.add(g + ": reported progress DONE and also failed with " + outcome(g));
        }
      }
      String o = outcome(g);
      outcomes.merge(o, 1L, Long::sum);
      if (r != null) {
        responses++;
        servedBy.merge(r.provider(), 1L, Long::sum);
        if (r.cost().isKnown()) {
          responseCost = responseCost.add(r.cost().amountOrZero());
          costBy.merge(r.provider(), r.cost().amountOrZero(), BigDecimal::add);
        }
      } else if (e != null) {
        errors++;
        errorKinds.merge(kind(e), 1L, Long::sum);
        examples.putIfAbsent(kind(e), clip(e.getMessage()));
      }
      List<Attempt> attempts = attempts(g);
      List<String> called = new ArrayList<>();
      for (Attempt a : attempts) {
        if (a.outcome() != Attempt.Outcome.SKIPPED) {
          called.add(a.provider());
          retries += Math.max(0, a.calls() - 1);
        }
        if (a.message() != null && a.message().contains("could not connect")) {
          refusedConnections++;
        }
      }
      failovers += Math.max(0, called.size() - 1);
      double at = (g.startNanos - run.startNanos) / 1e9;
      for (Attempt a : attempts) {
        String key = a.provider() + "@service" + g.service;
        if (a.outcome() == Attempt.Outcome.SKIPPED && a.message() != null && a.message().contains("circuit open")) {
          circuitSkips++;
          firstOpen.merge(key, at, Math::min);
        } else if (a.outcome() != Attempt.Outcome.SKIPPED) {
          lastCalled.merge(key, at, Math::max);
        }
        if (a.outcome() == Attempt.Outcome.FAILED && a.message() != null) {
          String m = a.message().replaceAll("[0-9a-f]{8}-[0-9a-f-]{20,}(-u1)?|[0-9a-z]{26}", "<id>").replaceAll("\\d+", "#");
          attemptFailures.merge(m.length() > 120 ? m.substring(0, 120) : m, 1L, Long::sum);
        }
      }
    }
  }

  private static List<Attempt> attempts(Gen g) {
    if (g.response != null) {
      return g.response.attempts();
    }
    if (g.error instanceof AllProvidersFailedException a) {
      return a.attempts();
    }
    return List.of();
  }

  static String kind(Throwable e) {
    if (e instanceof ImageGenerationException ige) {
      return ige.kind().name();
    }
    if (e instanceof CancellationException) {
      return ErrorKind.CANCELLED.name();
    }
    return "UNEXPECTED " + e.getClass().getSimpleName();
  }

  private static String outcome(Gen g) {
    if (g.response != null) {
      return "succeeded";
    }
    return g.error == null ? "nothing" : kind(g.error);
  }

  // ------------------------------------------------------------------------------ 2

  private void duplicateSubmits() {
    List<String> v = violations.get(2);
    for (SoakServer s : run.servers.values()) {
      Map<Integer, List<ServeEvent>> byGen = new TreeMap<>();
      for (ServeEvent e : s.journal()) {
        if ("SUBMIT".equals(e.getRequest().getHeader(FaultInjector.CALL))) {
          int gen = Integer.parseInt(e.getRequest().getHeader(FaultInjector.GEN));
          byGen.computeIfAbsent(gen, k -> new ArrayList<>()).add(e);
          submits.merge(s.provider, 1L, Long::sum);
        }
      }
      for (Map.Entry<Integer, List<ServeEvent>> en : byGen.entrySet()) {
        List<ServeEvent> list = en.getValue();
        for (int i = 0; i < list.size() - 1; i++) {
          String id = list.get(i).getId().toString();
          FaultKind f = s.ledger.fault(id);
          Job created = s.ledger.jobBySubmitEvent.get(id);
          boolean lostAnswer = f == null && created != null && !knownToClient(s, created);
          if (f != null && f.unknownOutcome || lostAnswer) {
            duplicates += list.size() - 1 - i;
            v.add(s.provider + ", gen " + en.getKey() + ": submit " + (i + 1) + " of " + list.size() + " was answered with '"
                + (f != null ? f.label : "an intact answer the SDK never took in") + "' (outcome unknown, a paid job may "
                + "exist), yet " + (list.size() - 1 - i) + " more submit(s) followed");
            break;
          }
          Job job = s.ledger.jobBySubmitEvent.get(id);
          if (job != null && job.end == Job.End.COMPLETED) {
            regeneratedAfterCompletedJob++;
            if (regenerationExamples.size() < 5) {
              regenerationExamples.add(s.provider + " gen " + en.getKey() + ": job " + job.id
                  + " completed (billed), then submitted again");
            }
          }
        }
      }
    }
  }

  // ------------------------------------------------------------------------------ 3

  private void orphanJobs() {
    List<String> v = violations.get(3);
    for (SoakServer s : run.servers.values()) {
      Set<String> cancelled = new java.util.HashSet<>();
      Map<String, FaultKind> lastCancelFault = new java.util.HashMap<>();
      for (ServeEvent e : s.journal()) {
        if ("CANCEL".equals(e.getRequest().getHeader(FaultInjector.CALL))) {
          remoteCancels.merge(s.provider, 1L, Long::sum);
          String job = e.getRequest().getHeader(FaultInjector.JOB);
          if (job != null) {
            cancelled.add(job);
            FaultKind f = s.ledger.fault(e.getId().toString());
            if (f == null) {
              lastCancelFault.remove(job);
            } else {
              lastCancelFault.put(job, f);
            }
          }
        }
      }
      cancelsFaulted += lastCancelFault.size();
      for (Job j : s.ledger.jobs()) {
        jobs++;
        if (!knownToClient(s, j)) {
          jobsOrphanedUnknown++;
          continue;
        }
        if (j.end == Job.End.COMPLETED) {
          jobsCompleted++;
        } else if (j.end == Job.End.FAILED) {
          jobsFailed++;
        } else if (j.end == Job.End.CANCELLED_REMOTELY) {
          jobsCancelledRemotely++;
        } else if (cancelled.contains(j.id)) {
          jobsCancelledByUs++;
        } else {
          jobsLeftRunning++;
          v.add(j + " was acknowledged, never reported ended to the client, and never cancelled: left running for nobody"
              + genOutcome(j.gen));
        }
      }
    }
  }

  /**
   * Whether the client learned of a job: the SDK recorded it in its job journal, or named it in a
   * later request (a poll, a result read, a cancel).
   */
  private boolean knownToClient(SoakServer s, Job j) {
    return j.referenced || run.journal.knows(s.provider, j.id);
  }

  private String genOutcome(int n) {
    if (n < 0 || n >= run.gens.size()) {
      return "";
    }
    Gen g = run.gens.get(n);
    return "; " + g + " ended " + outcome(g) + (g.error == null ? "" : " (" + clip(g.error.getMessage()) + ")");
  }

  // ------------------------------------------------------------------------------ 4

  private void budget() {
    List<String> v = violations.get(4);
    BigDecimal total = run.policy.total();
    BigDecimal peak = run.budget.peak("total");
    if (total != null && peak.compareTo(total) > 0) {
      v.add("the budget store's total stood at " + peak.toPlainString() + " USD, above the limit of " + total.toPlainString());
    }
    if (run.budget.overLimitMoments() > 0) {
      v.add(run.budget.overLimitMoments() + " moment(s) with a scope above its limit");
    }
    if (total != null && responseCost.compareTo(total) > 0) {
      v.add("responses cost " + responseCost.toPlainString() + " USD in all, above the limit of " + total.toPlainString());
    }
    run.policy.perProvider().forEach((p, limit) -> {
      BigDecimal pk = run.budget.peak("provider:" + p);
      if (pk.compareTo(limit) > 0) {
        v.add("the budget store's " + p + " scope stood at " + pk.toPlainString() + " USD, above its limit of "
            + limit.toPlainString());
      }
      BigDecimal spent = costBy.getOrDefault(p, BigDecimal.ZERO);
      if (spent.compareTo(limit) > 0) {
        v.add(p + " responses cost " + spent.toPlainString() + " USD, above its limit of " + limit.toPlainString());
      }
    });
    // the providers' view: what they would bill for the jobs they finished and the images they sent
    for (SoakServer s : run.servers.values()) {
      BigDecimal price = SoakRun.PRICES.get(s.provider);
      long billed = 0;
      long maybe = 0;
      for (Job j : s.ledger.jobs()) {
        if (j.end == Job.End.COMPLETED) {
          billed++;
          if (!deliveredBy(j)) {
            completedUndelivered++;
            completedUndeliveredCost = completedUndeliveredCost.add(price);
          }
        } else if (!knownToClient(s, j) && j.fate == Job.Fate.DONE) {
          maybe++;
        }
      }
      long sync = s.ledger.syncImages.size() + s.ledger.counts.get(FaultKind.IMAGE_CORRUPT).sum() * (s.protocol.async() ? 0 : 1)
          + s.ledger.counts.get(FaultKind.IMAGE_OVERSIZED).sum() * (s.protocol.async() ? 0 : 1);
      billedKnown = billedKnown.add(price.multiply(BigDecimal.valueOf(billed + sync)));
      billedMaybe = billedMaybe.add(price.multiply(BigDecimal.valueOf(maybe)));
    }
  }

  /** Whether the job's own image reached its generation's caller. */
  private boolean deliveredBy(Job j) {
    if (j.gen < 0 || j.gen >= run.gens.size()) {
      return false;
    }
    ImageGenerationResponse r = run.gens.get(j.gen).response;
    return r != null && r.provider().equals(j.provider)
        && r.attempts().stream().anyMatch(a -> a.outcome() == Attempt.Outcome.SUCCEEDED && j.id.equals(a.remoteJobId()));
  }

  // ------------------------------------------------------------------------------ 5

  private void images() {
    List<String> v = violations.get(5);
    for (Gen g : run.gens) {
      ImageGenerationResponse r = g.response;
      if (r == null) {
        continue;
      }
      if (r.images().isEmpty()) {
        v.add(g + ": a response without images");
        continue;
      }
      SoakServer s = run.servers.get(r.provider());
      Attempt won = null;
      for (Attempt a : r.attempts()) {
        if (a.outcome() == Attempt.Outcome.SUCCEEDED) {
          won = a;
        }
      }
      for (GeneratedImage img : r.images()) {
        imagesChecked++;
        if (!Images.decodes(img.bytes())) {
          v.add(g + ": an image from " + r.provider() + " does not decode (" + img.bytes().length + " bytes)");
          continue;
        }
        if (s == null) {
          v.add(g + ": served by an unknown provider " + r.provider());
          continue;
        }
        if (s.protocol.async()) {
          Job job = won == null || won.remoteJobId() == null ? null : s.ledger.jobById.get(won.remoteJobId());
          if (job == null) {
            v.add(g + ": " + r.provider() + " response names job " + (won == null ? "none" : won.remoteJobId())
                + ", which its server never created");
          } else if (job.gen != g.n) {
            v.add(g + ": the image is job " + job.id + "'s, which belongs to gen " + job.gen);
          } else if (!Arrays.equals(img.bytes(), job.image())) {
            v.add(g + ": the image differs from what " + r.provider() + " served for job " + job.id);
          } else if (!job.imageServed) {
            v.add(g + ": job " + job.id + "'s image was never served intact, yet it was returned");
          }
        } else {
          boolean served = s.ledger.syncImages.stream().anyMatch(x -> x.gen() == g.n && Arrays.equals(x.bytes(), img.bytes()));
          if (!served) {
            v.add(g + ": the image differs from every image " + r.provider() + " served to this generation");
          }
        }
      }
    }
  }

  // ------------------------------------------------------------------------------ 6

  private void metrics() {
    List<String> v = violations.get(6);
    long requests = 0;
    long successes = 0;
    long failures = 0;
    long cacheHits = 0;
    long unknownCost = 0;
    BigDecimal cost = BigDecimal.ZERO;
    Map<String, Long> byKind = new TreeMap<>();
    Map<String, Long> providerSuccesses = new TreeMap<>();
    Map<String, BigDecimal> providerCost = new TreeMap<>();
    for (MetricsSnapshot m : run.metrics) {
      requests += m.requests();
      successes += m.successes();
      failures += m.failures();
      cacheHits += m.cacheHits();
      unknownCost += m.unknownCostCount();
      cost = cost.add(m.totalCost());
      m.failuresByKind().forEach((k, n) -> byKind.merge(k.name(), n, Long::sum));
      m.providers().forEach((p, st) -> {
        providerSuccesses.merge(p, st.successes(), Long::sum);
        providerCost.merge(p, st.cost(), BigDecimal::add);
      });
    }
    long unknownCostResponses = run.gens.stream().filter(g -> g.response != null && !g.response.cost().isKnown()).count();
    expect(v, "requests", requests, run.gens.size());
    expect(v, "successes", successes, responses);
    expect(v, "failures", failures, errors);
    expect(v, "requests = successes + failures", successes + failures, requests);
    expect(v, "cache hits", cacheHits, 0);
    expect(v, "successes of unknown cost", unknownCost, unknownCostResponses);
    if (cost.compareTo(responseCost) != 0) {
      v.add("metrics total cost " + cost.toPlainString() + " USD, the responses cost " + responseCost.toPlainString() + " USD");
    }
    if (!byKind.equals(errorKinds)) {
      v.add("failures by kind: metrics " + byKind + ", results " + errorKinds);
    }
    servedBy.forEach((p, n) -> {
      long calls = providerSuccesses.getOrDefault(p, 0L);
      if (calls < n) {
        v.add(p + ": metrics count " + calls + " successful calls, yet " + n + " responses came from it");
      }
    });
    costBy.forEach((p, c) -> {
      BigDecimal m = providerCost.getOrDefault(p, BigDecimal.ZERO);
      if (m.compareTo(c) < 0) {
        v.add(p + ": metrics cost " + m.toPlainString() + " USD, yet its responses cost " + c.toPlainString() + " USD");
      }
    });
  }

  private static void expect(List<String> v, String what, long actual, long expected) {
    if (actual != expected) {
      v.add("metrics " + what + ": " + actual + ", the results say " + expected);
    }
  }

  // ------------------------------------------------------------------------------ 7

  private void secrets() {
    List<String> v = violations.get(7);
    if (!run.logCapturing) {
      v.add("the testkit's log capture is not the SLF4J provider in use; log lines cannot be checked");
    }
    if (run.logLinesLost > 0) {
      v.add(run.logLinesLost + " log line(s) left the capture buffer before they were checked");
    }
    v.addAll(run.logLeaks);
    for (Gen g : run.gens) {
      List<String> texts = new ArrayList<>();
      Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
      collect(g.error, texts, seen);
      for (Attempt a : attempts(g)) {
        texts.add(a.message());
        texts.add(a.summary());
        collect(a.cause(), texts, seen);
      }
      if (g.response != null) {
        texts.addAll(g.response.warnings());
        texts.addAll(g.response.metadata().values());
        texts.add(g.response.toString());
      }
      for (String t : texts) {
        if (t == null) {
          continue;
        }
        for (Map.Entry<String, String> k : run.keys.entrySet()) {
          String core = k.getValue().substring(k.getValue().lastIndexOf('-') + 1);
          if (t.contains(k.getValue()) || t.contains(core)) {
            v.add(g + ": the " + k.getKey() + " key appears in: " + clip(t));
          }
        }
      }
    }
  }

  private static void collect(@Nullable Throwable t, List<String> out, Set<Throwable> seen) {
    if (t == null || !seen.add(t)) {
      return;
    }
    out.add(t.getMessage());
    out.add(t.toString());
    collect(t.getCause(), out, seen);
    for (Throwable s : t.getSuppressed()) {
      collect(s, out, seen);
    }
  }

  // ------------------------------------------------------------------------------ 8

  private void threads() {
    List<String> v = violations.get(8);
    if (run.peakThreads >= MAX_THREADS) {
      v.add("peak live threads " + run.peakThreads + " (limit " + MAX_THREADS + "); at the sampled peak "
          + run.threadGroupsAtPeak + ", the SDK's by name: " + run.threadPatternsAtPeak.entrySet().stream()
              .filter(e -> e.getKey().startsWith("sdk")).map(e -> e.getKey().substring(5) + "=" + e.getValue()).toList());
    }

    int wanted = Math.min(1000, run.options.maxInFlight());
    if (run.peakInFlight < wanted) {
      v.add("only " + run.peakInFlight + " generations were in flight at once (the check needs " + wanted + ")");
    }
  }

  // ------------------------------------------------------------------------------ report

  /** The report table. */
  String table() {
    StringBuilder sb = new StringBuilder();
    SoakRun.Options o = run.options;
    line(sb, "soak", o.label() + ", seed " + o.seed() + ", fault scale " + o.faultScale());
    line(sb, "providers", String.join(", ", o.providers()) + " (" + run.services.size() + " services, routing "
        + run.routing.stream().map(r -> r.get(0) + " first").reduce((a, b) -> a + " / " + b).orElse("") + ")");
    long blocking = run.gens.stream().filter(g -> g.mode == Gen.Mode.BLOCKING).count();
    long async = run.gens.stream().filter(g -> g.mode == Gen.Mode.ASYNC).count();
    long submit = run.gens.stream().filter(g -> g.mode == Gen.Mode.SUBMIT).count();
    long shortDl = run.gens.stream().filter(g -> g.deadline.toMillis() < 4000).count();
    long cancelled = run.gens.stream().filter(g -> g.cancelAfter != null).count();
    line(sb, "generations", run.gens.size() + "  (generateImageWithFailover " + blocking + ", generateAsync " + async
        + ", submit " + submit + "; short deadlines " + shortDl + "; callers cancelling " + cancelled + ")");
    sb.append("outcomes\n");
    outcomes.forEach((k, n) -> line(sb, "  " + k.toLowerCase(Locale.ROOT), pct(n, run.gens.size())
        + (examples.containsKey(k) ? "  e.g. " + clip80(examples.get(k)) : "")));
    line(sb, "  served by", servedBy.toString());
    sb.append("failed attempts       most frequent reasons\n");
    attemptFailures.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).limit(8)
        .forEach(e -> line(sb, "  " + e.getValue(), e.getKey()));
    Map<FaultKind, Long> faults = new LinkedHashMap<>();
    for (SoakServer s : run.servers.values()) {
      FaultInjector.counts(s.ledger).forEach((k, n) -> faults.merge(k, n, Long::sum));
    }
    faults.put(FaultKind.CONNECTION_REFUSED, refusedConnections);
    long totalFaults = faults.values().stream().mapToLong(Long::longValue).sum();
    long requests = run.servers.values().stream().mapToLong(s -> s.journal().size()).sum();
    sb.append("faults injected       ").append(totalFaults).append(" in ").append(requests).append(" requests\n");
    faults.forEach((k, n) -> {
      if (n > 0 || k != FaultKind.CONNECTION_REFUSED) {
        line(sb, "  " + k.label, Long.toString(n) + (k == FaultKind.CONNECTION_REFUSED && run.outageProvider != null
            ? "  (attempts that saw it; " + run.outageProvider + " down " + run.servers.get(run.outageProvider).downtime()
                .toMillis() + " ms, from " + String.format("%.1f s", (run.outageAtNanos - run.startNanos) / 1e9) + "; "
                + run.outageCancels + " callers gave up meanwhile)" : ""));
      }
    });
    for (SoakServer s : run.servers.values()) {
      Map<String, Long> calls = new TreeMap<>();
      for (ServeEvent e : s.journal()) {
        String c = e.getRequest().getHeader(FaultInjector.CALL);
        calls.merge((c == null ? "?" : c.toLowerCase(Locale.ROOT)) + " " + e.getResponse().getStatus(), 1L, Long::sum);
      }
      line(sb, "  " + s.provider + " calls", calls.toString());
    }
    List<String> stuck = new ArrayList<>();
    firstOpen.forEach((k, t) -> {
      double last = lastCalled.getOrDefault(k, -1.0);
      if (last < t) {
        stuck.add(String.format("%s since %.1f s", k, t));
      }
    });
    line(sb, "circuit breakers", circuitSkips + " attempt(s) skipped as 'circuit open'; never called again after their first"
        + " 'circuit open' skip: " + (stuck.isEmpty() ? "none" : stuck.size() + " " + stuck));
    line(sb, "submits", submits.toString());
    line(sb, "failovers", Long.toString(failovers));
    line(sb, "retries", Long.toString(retries));
    line(sb, "remote cancels", remoteCancels.values().stream().mapToLong(Long::longValue).sum() + "  " + remoteCancels
        + "; " + cancelsFaulted + " job(s) whose last cancel was answered with a fault");
    line(sb, "remote jobs", jobs + "  (completed " + jobsCompleted + ", failed " + jobsFailed + ", cancelled remotely "
        + jobsCancelledRemotely + ", cancelled by us " + jobsCancelledByUs + ", outcome lost by a fault " + jobsOrphanedUnknown
        + ", left running " + jobsLeftRunning + ")");
    line(sb, "duplicates (must be 0)", Long.toString(duplicates));
    line(sb, "lost (must be 0)", (lost + jobsLeftRunning) + "  (generations never ended " + lost + ", jobs left running "
        + jobsLeftRunning + ")");
    line(sb, "re-generated", regeneratedAfterCompletedJob + " submit(s) after a job of the same generation completed on"
        + " the same provider (a second charge)" + (regenerationExamples.isEmpty() ? "" : ", e.g. " + regenerationExamples.get(0)));
    BigDecimal limit = run.policy.total();
    BigDecimal spent = run.budget.spent("total");
    line(sb, "budget", "limit " + plain(limit) + " USD, spent " + plain(spent) + ", headroom "
        + plain(limit == null ? null : limit.subtract(spent)) + ", peak " + plain(run.budget.peak("total"))
        + "; responses cost " + plain(responseCost) + "; refused " + errorKinds.getOrDefault("BUDGET_EXCEEDED", 0L)
        + " generation(s)");
    line(sb, "billed (server view)", plain(billedKnown) + " USD for jobs completed and images sent, + up to "
        + plain(billedMaybe) + " for jobs whose submit answer was lost; " + completedUndelivered + " job(s) completed "
        + "remotely without their image reaching the caller (" + plain(completedUndeliveredCost) + " USD)");
    line(sb, "images checked", Long.toString(imagesChecked));
    line(sb, "latest end", lateMaxMillis + " ms past a deadline (slack " + SoakRun.SLACK.toMillis() + " ms)");
    line(sb, "wall time", String.format("%.1f s", run.wallNanos / 1e9));
    line(sb, "in flight", "peak " + run.peakInFlight + " generations (at most " + o.maxInFlight() + "; the first "
        + Math.min(o.maxInFlight(), o.generations()) + " started in " + String.format("%.1f s", run.firstWaveNanos / 1e9)
        + ", all in " + String.format("%.1f s", run.launchNanos / 1e9) + ")");
    line(sb, "threads", "peak " + run.peakThreads + " live (" + run.threadsAtStart + " at start; limit " + MAX_THREADS
        + "); the SDK's at most " + run.peakSdkThreads + "; at the sampled peak " + run.threadGroupsAtPeak);
    line(sb, "  SDK threads", run.threadPatternsAtPeak.entrySet().stream().filter(e -> e.getKey().startsWith("sdk"))
        .map(e -> e.getKey().substring(5) + "=" + e.getValue()).toList().toString());
    line(sb, "heap", "peak " + run.peakHeap / (1024 * 1024) + " MiB used");
    line(sb, "log lines checked", run.logLinesScanned + (run.logLinesLost > 0 ? " (" + run.logLinesLost + " lost)" : ""));
    sb.append("invariants\n");
    for (int i = 1; i <= 8; i++) {
      List<String> v = violations(i);
      line(sb, "  " + i + " " + (v.isEmpty() ? "holds" : "FAILS (" + v.size() + ")"), INVARIANTS.get(i));
    }
    return sb.toString();
  }

  private static void line(StringBuilder sb, String k, String v) {
    sb.append(String.format("%-22s %s%n", k, v));
  }

  private static String pct(long n, long of) {
    return String.format("%d  (%.1f%%)", n, of == 0 ? 0.0 : 100.0 * n / of);
  }

  private static String plain(@Nullable BigDecimal d) {
    return d == null ? "-" : d.stripTrailingZeros().toPlainString();
  }

  private static String clip80(String s) {
    return s.length() > 110 ? s.substring(0, 110) + "..." : s;
  }

  private static String clip(@Nullable String s) {
    if (s == null) {
      return "null";
    }
    return s.length() > 300 ? s.substring(0, 300) + "..." : s;
  }
}
