package dev.imagegen.soak;

import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/**
 * What one provider's soak server decided and created: the fault injected into each serve event
 * (by WireMock's serve-event id), the jobs, and the images served for synchronous calls. Shared by
 * every incarnation of the server (it is restarted after its down window). Thread-safe.
 */
final class Ledger {
  /** An image a synchronous call answered with. */
  record SyncImage(int gen, String serveEvent, byte[] bytes) {}

  final String provider;
  final Map<String, FaultKind> faultByEvent = new ConcurrentHashMap<>();
  final Map<String, Job> jobById = new ConcurrentHashMap<>();
  final Map<String, Job> jobByPrefix = new ConcurrentHashMap<>();
  final Map<String, Job> jobBySubmitEvent = new ConcurrentHashMap<>();
  final List<SyncImage> syncImages = new CopyOnWriteArrayList<>();
  final Map<String, AtomicInteger> occurrences = new ConcurrentHashMap<>();
  final Map<FaultKind, LongAdder> counts = new EnumMap<>(FaultKind.class);
  final AtomicInteger jobSeq = new AtomicInteger();
  /** Failures of the soak's own extensions (a broken soak, not a broken SDK). */
  final List<Throwable> errors = new CopyOnWriteArrayList<>();
  /** Set while the server answers 503 to everything before it goes down. */
  volatile boolean draining;
  /** Submits still to hold past every deadline (the first ones after the server came back). */
  final AtomicInteger trialHangs = new AtomicInteger();
  /** Where off-host redirects point (another server that records what reaches it), or null for none. */
  volatile @Nullable String redirectBase;
  /** Submits of generations from this number on are answered late (the service closes meanwhile). */
  volatile int holdSubmitsFromGen = Integer.MAX_VALUE;
  volatile int holdSubmitsToGen = Integer.MAX_VALUE;
  /** How long such a submit is held, in milliseconds: odd generations' past the closing service's grace. */
  volatile long holdMillis;
  volatile long holdLongMillis;
  /** Submits of generations from this number on get no fault (the crash phase: the crash is its fault). */
  volatile int cleanSubmitsFromGen = Integer.MAX_VALUE;
  /** Whether new jobs are gated: pending until the test releases them (the webhook phase). */
  volatile boolean gateJobs;
  /** Told of every status poll of a job (after its answer was decided), or null. */
  volatile java.util.function.@Nullable Consumer<Job> onPoll;

  long hold(int gen) {
    return gen % 2 == 0 ? holdMillis : holdLongMillis;
  }
  /** Synchronous calls that ran (billed) but were answered with a 5xx: generation by serve event. */
  final Map<String, Integer> syncBilledUnanswered = new ConcurrentHashMap<>();

  Ledger(String provider) {
    this.provider = provider;
    for (FaultKind k : FaultKind.values()) {
      counts.put(k, new LongAdder());
    }
  }

  void count(FaultKind k) {
    counts.get(k).increment();
  }

  /** How often this (call, subject) pair was seen before, counting this one from 0. */
  int occurrence(String key) {
    return occurrences.computeIfAbsent(key, k -> new AtomicInteger()).getAndIncrement();
  }

  @Nullable FaultKind fault(String serveEventId) {
    return faultByEvent.get(serveEventId);
  }

  Collection<Job> jobs() {
    return new ArrayList<>(jobById.values());
  }
}
