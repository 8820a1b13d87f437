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
 * Checks a finished {@link SoakRun}: the fifteen invariants, each from the servers' request journals
 * (and what the injector decided for each request) and the SDK's results, and the report table.
 */
final class Verdict {
  /** The invariants, numbered as in the issue. */
  static final Map<Integer, String> INVARIANTS = new TreeMap<>(Map.ofEntries(
      Map.entry(1, "every generation ends exactly once, within its deadline plus slack"),
      Map.entry(2, "no second paid submit after a submit whose outcome was unknown"),
      Map.entry(3, "every acknowledged remote job ends completed, failed, or cancelled by us (or is listed by close)"),
      Map.entry(4, "spend never exceeds the budget, provider-reported cost included"),
      Map.entry(5, "every returned image decodes and is the image the server served for it"),
      Map.entry(6, "metrics agree with the results"),
      Map.entry(7, "no API key in any captured log line or exception message"),
      Map.entry(8, "threads stay bounded while thousands are in flight"),
      Map.entry(9, "no credential and no request body reaches the host an API answer redirects to"),
      Map.entry(10, "every provider is called again after its breaker's delay once it is healthy"),
      Map.entry(11, "close: no submit after close returned; every remote job created ends or is listed by close"),
      Map.entry(12, "no generation has two billed jobs after a submit that created a job and answered 5xx"),
      Map.entry(13, "inline images far past max-image-bytes are refused as permanent; heap stays bounded"),
      Map.entry(14, "listeners that throw an Error or block delay no generation past its deadline"),
      Map.entry(15, "a shared cache directory never fails a generation and never serves a half-written entry"),
      Map.entry(16, "crash and recover: every remote job created ends (polled to its end or cancelled); none is submitted twice")));
  /**
   * Heap in use after the run (after a GC) must stay below this: 256 MiB plus 60 KiB a generation
   * for what the servers' journals hold (every request and answer, the huge inline images included).
   */
  private long maxHeapAfterRun() {
    return 256L * 1024 * 1024 + 60L * 1024 * run.options.generations();
  }
  /** How long after its breaker's delay a provider must be called again. */
  static final long BREAKER_SLACK_MS = 2000;
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
  private long jobsListedByClose;
  private long gpuPricedResponses;
  private long gpuOverrunResponses;
  private BigDecimal gpuOverrunMax = BigDecimal.ZERO;
  private long attackerRequests;
  private long redirectsInjected;
  private final List<String> breakerNotes = new ArrayList<>();
  private long closingSubmitsAfterCloseStart;
  private long closingJobs;
  private long closingJobsCancelled;
  private long billedTwiceChecked;
  private long repeating;
  private final Map<String, Long> cacheHits = new TreeMap<>();
  private long hugeAnswers;
  private long hugeRepeats;
  private final Map<String, Long> hostileLateMax = new TreeMap<>();
  private final Map<String, Long> hostileCounts = new TreeMap<>();
  private long cancelsFaulted;
  private long imagesChecked;
  private String crashLine = "no crash phase";
  private BigDecimal responseCost = BigDecimal.ZERO;
  private BigDecimal billedKnown = BigDecimal.ZERO;
  private BigDecimal billedMaybe = BigDecimal.ZERO;
  private long completedUndelivered;
  private BigDecimal completedUndeliveredCost = BigDecimal.ZERO;
  private final Map<String, Long> servedBy = new TreeMap<>();
  private final Map<String, BigDecimal> costBy = new TreeMap<>();

  Verdict(SoakRun run) {
    this.run = run;
    for (int i : INVARIANTS.keySet()) {
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
    redirects();
    breakers();
    closing();
    billedTwice();
    hugeInline();
    listeners();
    cache();
    crash();
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
        if (!r.cached()) {
          servedBy.merge(r.provider(), 1L, Long::sum);
        }
        if (r.cost().isKnown() && !r.cached()) {
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
        if (en.getKey() >= SoakRun.CACHE_LABEL_BASE) {
          continue; // a repeating request: several callers submit it (invariant 15 checks them)
        }
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
        } else if (run.closeListed.contains(j.id)) {
          jobsListedByClose++;
        } else {
          jobsLeftRunning++;
          v.add(j + " was acknowledged, never reported ended to the client, and never cancelled: left running for nobody"
              + genOutcome(j.gen) + "; its requests: " + requestsOf(s, j));
        }
      }
    }
  }

  /** The calls a job's server received for it, with their answers and faults (for a violation's report). */
  private static String requestsOf(SoakServer s, Job j) {
    List<String> out = new ArrayList<>();
    for (ServeEvent e : s.journal()) {
      if (j.id.equals(e.getRequest().getHeader(FaultInjector.JOB)) || e.getId().toString().equals(j.submitEvent)) {
        FaultKind f = s.ledger.fault(e.getId().toString());
        out.add(e.getRequest().getHeader(FaultInjector.CALL) + " " + e.getResponse().getStatus() + (f == null ? "" : " (" + f.label + ")"));
      }
    }
    return out.toString();
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
    // spend counts the provider-reported cost: a response priced per GPU-second costs what its job reported
    for (Gen g : run.gens) {
      ImageGenerationResponse r = g.response;
      SoakServer s = r == null ? null : run.servers.get(r.provider());
      if (s == null || !s.protocol.reportsGpuTime() || r.cached()) {
        continue;
      }
      Job job = r.attempts().stream().filter(a -> a.outcome() == Attempt.Outcome.SUCCEEDED && a.remoteJobId() != null)
          .map(a -> s.ledger.jobById.get(a.remoteJobId())).filter(java.util.Objects::nonNull).findFirst().orElse(null);
      if (job == null || job.reportedExecMs < 0) {
        continue;
      }
      gpuPricedResponses++;
      BigDecimal expected = gpuCost(job);
      BigDecimal estimate = SoakRun.RUNPOD_USD_PER_GPU_SECOND.multiply(new BigDecimal(SoakRun.RUNPOD_TYPICAL_GPU_SECONDS));
      if (expected.compareTo(estimate.multiply(BigDecimal.valueOf(2))) > 0) {
        gpuOverrunResponses++;
        gpuOverrunMax = gpuOverrunMax.max(expected);
      }
      if (!r.cost().isKnown() || r.cost().amountOrZero().compareTo(expected) != 0) {
        v.add(g + ": " + r.provider() + " job " + job.id + " reported " + job.reportedExecMs + " ms of GPU time ("
            + expected.toPlainString() + " USD), yet the response costs " + r.cost());
      }
    }
    // the providers' view: what they would bill for the jobs they finished and the images they sent
    for (SoakServer s : run.servers.values()) {
      BigDecimal price = SoakRun.PRICES.get(s.provider);
      long billed = 0;
      long maybe = 0;
      for (Job j : s.ledger.jobs()) {
        if (j.end == Job.End.COMPLETED && s.protocol.reportsGpuTime()) {
          BigDecimal c = gpuCost(j);
          billedKnown = billedKnown.add(c);
          if (!deliveredBy(j)) {
            completedUndelivered++;
            completedUndeliveredCost = completedUndeliveredCost.add(c);
          }
        } else if (j.end == Job.End.COMPLETED) {
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

  /** What a job priced per GPU-second costs for the time it reported (the estimate when it reported none). */
  private static BigDecimal gpuCost(Job j) {
    double seconds = j.reportedExecMs >= 0 ? j.reportedExecMs / 1000.0 : Double.parseDouble(SoakRun.RUNPOD_TYPICAL_GPU_SECONDS);
    return SoakRun.RUNPOD_USD_PER_GPU_SECOND.multiply(BigDecimal.valueOf(seconds)).setScale(6, java.math.RoundingMode.HALF_UP);
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
      if (r.cached()) {
        continue; // invariant 15 checks cached images
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
          } else if (job.gen != g.label) {
            v.add(g + ": the image is job " + job.id + "'s, which belongs to gen " + job.gen);
          } else if (!Arrays.equals(img.bytes(), job.image())) {
            v.add(g + ": the image differs from what " + r.provider() + " served for job " + job.id);
          } else if (!job.imageServed) {
            v.add(g + ": job " + job.id + "'s image was never served intact, yet it was returned");
          }
        } else {
          boolean served = s.ledger.syncImages.stream().anyMatch(x -> x.gen() == g.label && Arrays.equals(x.bytes(), img.bytes()));
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
    expect(v, "cache hits", cacheHits, run.gens.stream().filter(g -> g.response != null && g.response.cached()).count());
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
      // how many are in flight at once depends on how fast this machine launches them against how
      // fast the stubs answer, not on the SDK: on a loaded 2-core machine the first wave's early
      // generations finish before its last ones start. The thread bound above still held at the
      // peak that was reached; the 10,000-pending thread count is CoreBench's scale check.
      System.out.println("invariant 8: only " + run.peakInFlight + " generations were in flight at once on this machine "
          + "(the full check wants " + wanted + "); the thread bound was checked at that peak");
    }
  }

  // ------------------------------------------------------------------------------ 9

  /** Nothing that authenticates or pays reaches the host an answer redirected to. */
  private void redirects() {
    List<String> v = violations.get(9);
    for (SoakServer s : run.servers.values()) {
      redirectsInjected += s.ledger.counts.get(FaultKind.REDIRECT_OFF_HOST).sum();
    }
    if (run.attacker == null) {
      return;
    }
    java.util.regex.Pattern credential = java.util.regex.Pattern.compile("(?i).*(authorization|api[-_]?key|x-key|key|token"
        + "|credential|secret|cookie).*");
    for (ServeEvent e : run.attacker.getAllServeEvents()) {
      attackerRequests++;
      var req = e.getRequest();
      String what = req.getMethod() + " " + req.getUrl();
      for (var h : req.getHeaders().all()) {
        if (credential.matcher(h.key()).matches()) {
          v.add("the other host received " + what + " with a " + h.key() + " header");
        }
        for (Map.Entry<String, String> k : run.keys.entrySet()) {
          String core = k.getValue().substring(k.getValue().lastIndexOf('-') + 1);
          if (h.values().stream().anyMatch(x -> x.contains(core))) {
            v.add("the other host received the " + k.getKey() + " key in " + h.key() + " of " + what);
          }
        }
      }
      byte[] body = req.getBody();
      if (body != null && body.length > 0) {
        v.add("the other host received " + what + " with a body of " + body.length + " bytes: "
            + clip(new String(body, java.nio.charset.StandardCharsets.UTF_8)));
      }
      for (Map.Entry<String, String> k : run.keys.entrySet()) {
        String core = k.getValue().substring(k.getValue().lastIndexOf('-') + 1);
        if (req.getUrl().contains(core)) {
          v.add("the other host received the " + k.getKey() + " key in the URL of " + what);
        }
      }
    }
  }

  // ------------------------------------------------------------------------------ 10

  /**
   * Breakers close again: every "circuit open" skip of a provider (in one service) comes within
   * the breaker's delay (plus slack) of a call that was let through (the one that opened it, or a
   * trial that failed or is still running); and the provider that went down receives calls again
   * after it came back (plus the breaker's delay and slack) whenever generations still tried it.
   */
  private void breakers() {
    List<String> v = violations.get(10);
    long window = (SoakRun.BREAKER_DELAY.toMillis() + BREAKER_SLACK_MS) * 1_000_000L;
    Map<String, List<long[]>> calls = new TreeMap<>();
    Map<String, List<Long>> skips = new TreeMap<>();
    for (Gen g : run.gens) {
      // attempts run back to back and the generation ends right after the last: time them from its end
      // (a generation may have waited before its first attempt)
      List<Attempt> as = attempts(g);
      long at = g.endNanos;
      for (int i = as.size() - 1; i >= 0; i--) {
        Attempt a = as.get(i);
        String key = a.provider() + "@service" + g.service;
        long start = Math.max(g.startNanos, at - a.duration().toNanos());
        if (a.outcome() == Attempt.Outcome.SKIPPED) {
          if (a.message() != null && a.message().contains("circuit open")) {
            skips.computeIfAbsent(key, k -> new ArrayList<>()).add(at);
          }
        } else {
          calls.computeIfAbsent(key, k -> new ArrayList<>()).add(new long[] {start, at});
        }
        at = start;
      }
    }
    // a breaker lets a trial through within its delay of opening, and again within its delay of a
    // failed trial; a trial lasts at most a deadline. Only attempts the results name are seen (a
    // generation that failed on one provider names none), so this allows a deadline in between.
    long stuckAfter = window + SoakRun.MAX_DEADLINE.toNanos();
    skips.forEach((key, list) -> {
      long lastCall = calls.getOrDefault(key, List.of()).stream().mapToLong(x -> x[1]).max().orElse(run.startNanos);
      long lastSkip = list.stream().mapToLong(Long::longValue).max().orElse(0);
      long after = list.stream().filter(x -> x > lastCall).count();
      if (after > 0 && lastSkip - lastCall > stuckAfter) {
        v.add(key + ": " + after + " 'circuit open' skip(s) over " + (lastSkip - lastCall) / 1_000_000 + " ms after its last "
            + "call let through (at " + String.format("%.1f s", (lastCall - run.startNanos) / 1e9) + "): the breaker did not "
            + "let a trial through after its delay");
      }
    });
    SoakServer down = run.outageProvider == null ? null : run.servers.get(run.outageProvider);
    if (down != null && down.backNanos > 0) {
      long after = down.backNanos + window;
      // generations still arriving after that: the provider must be reached again (its breaker closed)
      long tried = run.gens.stream().mapToLong(g -> g.startNanos).max().orElse(0);
      long reached = down.journal().stream().filter(e -> nanos(e) > after).count();
      breakerNotes.add(down.provider + " back at " + String.format("%.1f s", (down.backNanos - run.startNanos) / 1e9)
          + "; " + reached + " request(s) reached it more than " + window / 1_000_000 + " ms later");
      if (tried > after && reached == 0) {
        v.add(down.provider + " came back at " + String.format("%.1f s", (down.backNanos - run.startNanos) / 1e9)
            + " and generations arrived until " + String.format("%.1f s", (tried - run.startNanos) / 1e9)
            + ", yet no request reached it after the breaker's delay and slack");
      }
    }
  }

  private static long nanos(ServeEvent e) {
    String s = e.getRequest().getHeader(FaultInjector.NANOS);
    return s == null ? Long.MIN_VALUE : Long.parseLong(s);
  }

  // ------------------------------------------------------------------------------ 11

  /** A service closed under submits in flight and queued generations. */
  private void closing() {
    List<String> v = violations.get(11);
    if (run.closingGens.isEmpty()) {
      return;
    }
    int from = run.closingGens.get(0).n;
    int to = from + run.closingGens.size();
    if (run.closingUnanswered > 0) {
      v.add(run.closingUnanswered + " generation(s) of the closed service had no answer when close() returned");
    }
    for (SoakServer s : run.servers.values()) {
      for (ServeEvent e : s.journal()) {
        if (!"SUBMIT".equals(e.getRequest().getHeader(FaultInjector.CALL))) {
          continue;
        }
        long t = nanos(e);
        int gen = Integer.parseInt(e.getRequest().getHeader(FaultInjector.GEN));
        if (gen >= from && gen < to && t > run.closeStartNanos) {
          closingSubmitsAfterCloseStart++;
        }
        if (t > run.closeReturnedNanos && !run.isCrashGen(gen)) { // the crash phase's services start after it
          v.add(s.provider + ": a submit of gen " + gen + " arrived " + (t - run.closeReturnedNanos) / 1_000_000
              + " ms after close() returned");
        }
      }
      for (Job j : s.ledger.jobs()) {
        if (j.gen < from || j.gen >= to) {
          continue;
        }
        closingJobs++;
        if (j.end != null) {
          continue;
        }
        if (j.cancelReceived) {
          closingJobsCancelled++;
          continue;
        }
        if (run.closeListed.contains(j.id)) {
          continue;
        }
        if (!knownToClient(s, j) && run.closeCallsInFlight > 0) {
          continue; // its submit was still on the wire: counted among the calls in flight
        }
        v.add(j + " was created for the closed service and neither ended, nor was cancelled, nor was listed by close"
            + (run.closeWarnings.isEmpty() ? " (no close warning)" : " (" + clip(run.closeWarnings.get(0)) + ")"));
      }
    }
  }

  // ------------------------------------------------------------------------------ 12

  /**
   * A submit that created a job and was answered 5xx leaves a job that runs and is billed: the
   * generation must not pay for another (no blind resubmit, no failover by default).
   */
  private void billedTwice() {
    List<String> v = violations.get(12);
    record Billed(long seq, String what, boolean createdUnder5xx) {}
    Map<Integer, List<Billed>> billed = new TreeMap<>();
    for (SoakServer s : run.servers.values()) {
      Map<String, Long> seqs = new java.util.HashMap<>();
      for (ServeEvent e : s.journal()) {
        seqs.put(e.getId().toString(), SoakServer.seq(e));
      }
      for (Job j : s.ledger.jobs()) {
        long seq = seqs.getOrDefault(j.submitEvent, Long.MAX_VALUE);
        if (s.ledger.fault(j.submitEvent) == FaultKind.CREATED_THEN_5XX) {
          boolean runsOn = j.fate == Job.Fate.DONE && !j.cancelReceived && (j.end == null || j.end == Job.End.COMPLETED);
          billed.computeIfAbsent(j.gen, k -> new ArrayList<>()).add(new Billed(seq, s.provider + " job " + j.id
              + " (created, answered 5xx" + (runsOn ? ", runs on" : ", cancelled or failed") + ")", true));
        } else if (j.end == Job.End.COMPLETED) {
          billed.computeIfAbsent(j.gen, k -> new ArrayList<>()).add(new Billed(seq, s.provider + " job " + j.id
              + " (completed)", false));
        }
      }
      s.ledger.syncBilledUnanswered.forEach((event, g) -> billed.computeIfAbsent(g, k -> new ArrayList<>())
          .add(new Billed(seqs.getOrDefault(event, Long.MAX_VALUE), s.provider + " call (ran, answered 5xx)", true)));
      for (Ledger.SyncImage img : s.ledger.syncImages) {
        billed.computeIfAbsent(img.gen(), k -> new ArrayList<>())
            .add(new Billed(seqs.getOrDefault(img.serveEvent(), Long.MAX_VALUE), s.provider + " call (image served)", false));
      }
    }
    billed.forEach((g, list) -> {
      if (g >= SoakRun.CACHE_LABEL_BASE) {
        return; // a repeating request: several callers may each pay once
      }
      long first5xx = list.stream().filter(Billed::createdUnder5xx).mapToLong(Billed::seq).min().orElse(Long.MAX_VALUE);
      if (first5xx == Long.MAX_VALUE) {
        return;
      }
      billedTwiceChecked++;
      List<String> after = list.stream().filter(b -> b.seq() > first5xx).map(Billed::what).toList();
      if (!after.isEmpty()) {
        v.add("gen " + g + ": after a submit that created a job and was answered 5xx, " + after.size()
            + " more billed job(s): " + after + genOutcome(g));
      }
    });
  }

  // ------------------------------------------------------------------------------ 13

  /** An answer with a huge inline image is refused as permanent: its job is polled at most once more. */
  private void hugeInline() {
    List<String> v = violations.get(13);
    for (SoakServer s : run.servers.values()) {
      List<ServeEvent> journal = s.journal();
      for (int i = 0; i < journal.size(); i++) {
        ServeEvent e = journal.get(i);
        if (s.ledger.fault(e.getId().toString()) != FaultKind.HUGE_INLINE_IMAGE) {
          continue;
        }
        hugeAnswers++;
        String job = e.getRequest().getHeader(FaultInjector.JOB);
        String gen = e.getRequest().getHeader(FaultInjector.GEN);
        String call = e.getRequest().getHeader(FaultInjector.CALL);
        long again = 0;
        for (int k = i + 1; k < journal.size(); k++) {
          var r = journal.get(k).getRequest();
          if (job != null ? job.equals(r.getHeader(FaultInjector.JOB)) && "POLL".equals(r.getHeader(FaultInjector.CALL))
              : gen.equals(r.getHeader(FaultInjector.GEN)) && call.equals(r.getHeader(FaultInjector.CALL))) {
            again++;
          }
        }
        hugeRepeats += again;
        if (again > 1) {
          v.add(s.provider + (job != null ? " job " + job : " gen " + gen) + ": answered with a "
              + Images.HUGE.length / 1024 + " KiB inline image, then asked again " + again + " times (not refused as permanent)");
        }
      }
    }
    if (run.heapAfterRun > maxHeapAfterRun()) {
      v.add("heap in use after the run " + run.heapAfterRun / (1024 * 1024) + " MiB (bound " + maxHeapAfterRun() / (1024 * 1024)
          + " MiB)");
    }
  }

  // ------------------------------------------------------------------------------ 14

  /** Generations with a listener that throws or blocks end on time and are not failed by it; the others are not delayed. */
  private void listeners() {
    List<String> v = violations.get(14);
    long slack = SoakRun.SLACK.toMillis();
    for (Gen g : run.gens) {
      if (g.mode != Gen.Mode.SUBMIT || !g.ended()) {
        continue;
      }
      String group = g.hostile == Gen.Hostile.NONE ? "none" : g.hostile.name().toLowerCase(Locale.ROOT);
      long late = g.elapsed().toMillis() - g.deadline.toMillis();
      hostileCounts.merge(group, 1L, Long::sum);
      hostileLateMax.merge(group, late, Math::max);
      if (late > slack) {
        v.add(g + " with listener " + group + " ended " + late + " ms after its deadline");
      }
      Throwable e = g.error;
      for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
        if (t instanceof AssertionError || t instanceof StackOverflowError) {
          v.add(g + " failed because of its listener's " + t.getClass().getSimpleName() + ": " + clip(String.valueOf(e)));
          break;
        }
      }
    }
  }

  // ------------------------------------------------------------------------------ 15

  /**
   * Two services share a cache directory that another process vandalises: no generation fails
   * because of the cache, and every cached image decodes and is an image a server sent intact for
   * that request.
   */
  private void cache() {
    List<String> v = violations.get(15);
    if (run.cacheDir == null) {
      return;
    }
    for (Gen g : run.gens) {
      if (g.seed != null) {
        repeating++;
      }
      ImageGenerationResponse r = g.response;
      if (r != null && r.cached()) {
        cacheHits.merge("service" + g.service, 1L, Long::sum);
        for (GeneratedImage img : r.images()) {
          if (!Images.decodes(img.bytes())) {
            v.add(g + ": a cached image does not decode (" + img.bytes().length + " bytes): a half-written entry was served");
          } else if (!servedFor(g.label, img.bytes())) {
            v.add(g + ": a cached image is no image any server sent intact for its request");
          }
        }
      }
      List<String> texts = new ArrayList<>();
      collect(g.error, texts, Collections.newSetFromMap(new IdentityHashMap<>()));
      for (Attempt a : attempts(g)) {
        texts.add(a.message());
      }
      for (String t : texts) {
        if (t != null && t.toLowerCase(Locale.ROOT).contains("cache")) {
          v.add(g + " failed with a cache-related cause: " + clip(t));
          break;
        }
      }
    }
  }

  private boolean servedFor(int label, byte[] bytes) {
    for (SoakServer s : run.servers.values()) {
      for (Job j : s.ledger.jobs()) {
        if (j.gen == label && j.imageServed && Arrays.equals(j.image(), bytes)) {
          return true;
        }
      }
      for (Ledger.SyncImage x : s.ledger.syncImages) {
        if (x.gen() == label && Arrays.equals(x.bytes(), bytes)) {
          return true;
        }
      }
    }
    return false;
  }

  // ------------------------------------------------------------------------------ report

  /** The report table. */
  // ------------------------------------------------------------------------------ 16

  /** The crash phase: the services died with jobs in flight, a new one on the same journal recovered them. */
  private void crash() {
    List<String> v = violations.get(16);
    if (run.crashFrom < 0) {
      return;
    }
    if (run.crashProblem != null) {
      v.add("the crash phase failed: " + run.crashProblem);
    }
    List<Job> jobs = run.crashJobs();
    if (jobs.isEmpty()) {
      v.add("the crash phase created no remote job");
    }
    java.util.Set<String> left = new java.util.HashSet<>();
    run.crashLeft.forEach(e -> left.add(e.provider() + " " + e.remoteJobId()));
    Map<Integer, Long> perGen = new TreeMap<>();
    long endedBefore = 0;
    long ended = 0;
    long cancelled = 0;
    for (Job j : jobs) {
      perGen.merge(j.gen, 1L, Long::sum);
      if (j.end != null) {
        ended++;
        if (!left.contains(j.provider + " " + j.id)) {
          endedBefore++;
        }
        continue;
      }
      if (j.cancelReceived) {
        cancelled++;
        continue;
      }
      v.add(j + " was created before the crash and neither ended nor was cancelled"
          + (left.contains(j.provider + " " + j.id) ? " (the dead service journalled it)" : " (not in the journal it left)"));
    }
    perGen.forEach((gen, n) -> {
      if (n > 1) {
        v.add("generation " + gen + " of the crash phase has " + n + " remote jobs: submitted twice");
      }
    });
    long submitsAfter = 0;
    long pollsAfter = 0;
    for (SoakServer s : run.servers.values()) {
      for (ServeEvent e : s.journal()) {
        String call = e.getRequest().getHeader(FaultInjector.CALL);
        String g = e.getRequest().getHeader(FaultInjector.GEN);
        if (nanos(e) <= run.crashNanos || g == null) {
          continue;
        }
        int gen = Integer.parseInt(g);
        if ("SUBMIT".equals(call) && run.isCrashGen(gen)) {
          submitsAfter++;
          v.add(s.provider + ": a submit of crash-phase generation " + gen + " arrived after the crash");
        } else if ("POLL".equals(call) && run.isCrashGen(gen)) {
          pollsAfter++;
        }
      }
    }
    Map<String, Long> actions = new TreeMap<>();
    run.crashReports.forEach(r -> r.items().forEach(i -> actions.merge(i.action().name().toLowerCase(Locale.ROOT), 1L,
        Long::sum)));
    Crash c = run.crash;
    crashLine = jobs.size() + " remote job(s) for " + (run.crashTo - run.crashFrom) + " generations on 4 services killed "
        + "mid-flight (" + endedBefore + " ended before the crash, " + run.crashLeft.size() + " left in the journal); "
        + run.crashReports.size() + " recover() run(s) in " + (run.crashRecoveredNanos - run.crashNanos) / 1_000_000 + " ms: "
        + actions + "; after the crash " + pollsAfter + " poll(s), " + submitsAfter + " submit(s); ended " + ended
        + ", cancelled " + cancelled + "; " + run.crashStillOpen.size() + " entr(ies) still open; the dead services tried "
        + (c == null ? 0 : c.refusedRequests.get()) + " request(s) and " + (c == null ? 0 : c.refusedWrites.get())
        + " journal write(s) after the crash, none went out";
  }

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
    line(sb, "  listed by close", jobsListedByClose + " job(s) not confirmed cancelled, named in the close warning");
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
    line(sb, "gpu-second pricing", gpuPricedResponses + " runpod response(s) costed from reported GPU time; " + gpuOverrunResponses
        + " reported more than twice the estimate (up to " + plain(gpuOverrunMax) + " USD, estimate "
        + plain(SoakRun.RUNPOD_USD_PER_GPU_SECOND.multiply(new BigDecimal(SoakRun.RUNPOD_TYPICAL_GPU_SECONDS))) + ")");
    line(sb, "redirects", redirectsInjected + " answer(s) redirected to another host; it received " + attackerRequests
        + " request(s)");
    line(sb, "breakers back", breakerNotes.isEmpty() ? "no outage" : String.join("; ", breakerNotes));
    line(sb, "close", run.closingGens.isEmpty() ? "no closing phase" : run.closingGens.size() + " generations on a service "
        + "closed after " + (run.closeStartNanos - run.closingGens.get(0).startNanos) / 1_000_000 + " ms (close took "
        + (run.closeReturnedNanos - run.closeStartNanos) / 1_000_000 + " ms); " + closingJobs + " remote job(s) created ("
        + closingJobsCancelled + " cancelled), " + closingSubmitsAfterCloseStart + " submit(s) arrived after close began; "
        + "warning: " + (run.closeWarnings.isEmpty() ? "none" : run.closeCallsInFlight + " call(s) in flight, "
            + run.closeListed.size() + " job(s) listed"));
    line(sb, "created then 5xx", billedTwiceChecked + " generation(s) with a job created under a 5xx answer, checked for a "
        + "second billed job");
    line(sb, "huge inline images", hugeAnswers + " answer(s) of " + Images.HUGE.length / (1024 * 1024) + " MiB, " + hugeRepeats
        + " repeat(s) of the same call after them");
    line(sb, "listeners", "latest end past a deadline, by listener: " + hostileLateMax + " ms; generations " + hostileCounts);
    line(sb, "shared cache", run.cacheDir == null ? "none" : repeating + " repeating seeded request(s) through 2 services "
        + "sharing one directory; hits " + cacheHits + "; another process meanwhile: " + run.vandalism);
    line(sb, "crash", crashLine);
    line(sb, "images checked", Long.toString(imagesChecked));
    line(sb, "latest end", lateMaxMillis + " ms past a deadline (slack " + SoakRun.SLACK.toMillis() + " ms)");
    line(sb, "wall time", String.format("%.1f s", run.wallNanos / 1e9));
    line(sb, "in flight", "peak " + run.peakInFlight + " generations (at most " + o.maxInFlight() + "; the first "
        + Math.min(o.maxInFlight(), o.generations()) + " started in " + String.format("%.1f s", run.firstWaveNanos / 1e9)
        + ", all in " + String.format("%.1f s", run.launchNanos / 1e9) + "; " + String.format("%.1f s", run.callerNanos.sum() / 1e9)
        + " of it inside generateAsync and submit)");
    line(sb, "threads", "peak " + run.peakThreads + " live (" + run.threadsAtStart + " at start; limit " + MAX_THREADS
        + "); the SDK's at most " + run.peakSdkThreads + "; at the sampled peak " + run.threadGroupsAtPeak);
    line(sb, "  SDK threads", run.threadPatternsAtPeak.entrySet().stream().filter(e -> e.getKey().startsWith("sdk"))
        .map(e -> e.getKey().substring(5) + "=" + e.getValue()).toList().toString());
    line(sb, "heap", "peak " + run.peakHeap / (1024 * 1024) + " MiB used; " + run.heapAfterRun / (1024 * 1024)
        + " MiB after the run (bound " + maxHeapAfterRun() / (1024 * 1024) + " MiB)");
    line(sb, "log lines checked", run.logLinesScanned + (run.logLinesLost > 0 ? " (" + run.logLinesLost + " lost)" : ""));
    sb.append("invariants\n");
    for (int i : INVARIANTS.keySet()) {
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
