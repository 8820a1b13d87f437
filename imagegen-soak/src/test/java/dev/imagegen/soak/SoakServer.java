package dev.imagegen.soak;

import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.stubbing.ServeEvent;
import com.github.tomakehurst.wiremock.stubbing.StubMapping;
import dev.imagegen.testkit.ProviderStubs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One provider's soak server: a WireMock server on the loopback interface with the testkit's stubs
 * for that provider and a {@link FaultInjector}. It can go down for a stretch (connections refused)
 * and come back on the same port with the same stubs; the request journals of every incarnation
 * are kept. Not thread-safe: start, stop and outages are driven from one thread.
 */
final class SoakServer implements AutoCloseable {
  final String provider;
  final Ledger ledger;
  final Protocol protocol;
  final FaultInjector injector;
  private final int port;
  private final List<WireMockServer> incarnations = new CopyOnWriteArrayList<>();
  private volatile WireMockServer current;
  private volatile long downNanos;
  /** When the server came back after its outage (System.nanoTime), or 0. */
  volatile long backNanos;
  /** How many submits hang to their deadline once the server is back. */
  static final int TRIAL_HANGS = 3;

  SoakServer(String provider, FaultPlan plan, Duration delayPastDeadline, long retryAfterShort, long retryAfterLong) {
    this.provider = provider;
    this.ledger = new Ledger(provider);
    this.port = freePort();
    Holder holder = new Holder();
    WireMockServer first = newServer(holder);
    this.protocol = Protocol.of(provider, first);
    this.injector = new FaultInjector(protocol, ledger, plan, delayPastDeadline.toMillis(), retryAfterShort, retryAfterLong);
    holder.injector = injector;
    first.start();
    protocol.install(first, new ProviderStubs.StubImage(Images.MARKER, "image/png", 16, 16, 0x5eed));
    incarnations.add(first);
    current = first;
  }

  /** The extensions are created after the first server (the stubs need a server): a late-bound holder. */
  private static final class Holder {
    volatile FaultInjector injector;
  }

  private WireMockServer newServer(Holder holder) {
    com.github.tomakehurst.wiremock.extension.requestfilter.StubRequestFilterV2 filter =
        new com.github.tomakehurst.wiremock.extension.requestfilter.StubRequestFilterV2() {
          @Override public String getName() { return "soak-filter"; }
          @Override public com.github.tomakehurst.wiremock.extension.requestfilter.RequestFilterAction filter(
              com.github.tomakehurst.wiremock.http.Request r, ServeEvent e) {
            return holder.injector.filter.filter(r, e);
          }
        };
    com.github.tomakehurst.wiremock.extension.ResponseTransformerV2 transformer =
        new com.github.tomakehurst.wiremock.extension.ResponseTransformerV2() {
          @Override public String getName() { return "soak-faults"; }
          @Override public boolean applyGlobally() { return true; }
          @Override public com.github.tomakehurst.wiremock.http.Response transform(
              com.github.tomakehurst.wiremock.http.Response r, ServeEvent e) {
            return holder.injector.transformer.transform(r, e);
          }
        };
    return new WireMockServer(options()
        .bindAddress("127.0.0.1")
        .port(port)
        .containerThreads(10)
        .jettyAcceptors(1)
        .jettyAcceptQueueSize(1024)
        .asynchronousResponseEnabled(true)
        .asynchronousResponseThreads(2)
        .stubRequestLoggingDisabled(true)
        .extensions(filter, transformer));
  }

  /** Adds a stub to the running server (one that no outage follows: the webhook phase's key set). */
  void stub(com.github.tomakehurst.wiremock.client.MappingBuilder mapping) {
    current.stubFor(mapping);
  }

  /** The server's base URL. */
  String baseUrl() {
    return "http://localhost:" + port;
  }

  /**
   * Takes the server down for a stretch: first {@code drain} of 503 answers to everything (so that
   * no submit is half-answered when the port closes), then the port closed (connections refused)
   * for {@code down}, then a new server on the same port with the same stubs.
   *
   * @param timer runs the steps; nothing waits in between
   * @param whileDown runs once the port is closed
   * @return completes when the server is back
   */
  CompletableFuture<Void> outage(ScheduledExecutorService timer, Duration drain, Duration down, Runnable whileDown) {
    ledger.draining = true;
    CompletableFuture<Void> back = new CompletableFuture<>();
    timer.schedule(() -> {
      WireMockServer old = current;
      List<StubMapping> mappings = new ArrayList<>(old.getStubMappings());
      old.stop();
      long t0 = System.nanoTime();
      timer.execute(whileDown);
      timer.schedule(() -> {
        try {
          Holder holder = new Holder();
          holder.injector = injector;
          WireMockServer next = newServer(holder);
          next.start();
          for (StubMapping m : mappings) {
            next.addStubMapping(m);
          }
          protocol.rebind(next);
          incarnations.add(next);
          current = next;
          downNanos += System.nanoTime() - t0;
          // the first submits after the outage (the breakers' half-open trials) hang to their deadline
          ledger.trialHangs.set(TRIAL_HANGS);
          backNanos = System.nanoTime();
          ledger.draining = false;
          back.complete(null);
        } catch (RuntimeException e) {
          ledger.errors.add(e);
          back.completeExceptionally(e);
        }
      }, down.toMillis(), TimeUnit.MILLISECONDS);
    }, drain.toMillis(), TimeUnit.MILLISECONDS);
    return back;
  }

  /** How long the port was closed, in all. */
  Duration downtime() {
    return Duration.ofNanos(downNanos);
  }

  /** Every request every incarnation received, oldest first (by the soak's sequence number). */
  List<ServeEvent> journal() {
    List<ServeEvent> all = new ArrayList<>();
    for (WireMockServer s : incarnations) {
      all.addAll(s.getAllServeEvents());
    }
    all.sort((a, b) -> Long.compare(seq(a), seq(b)));
    return all;
  }

  static long seq(ServeEvent e) {
    String s = e.getRequest().getHeader(FaultInjector.SEQ);
    return s == null ? Long.MAX_VALUE : Long.parseLong(s);
  }

  /**
   * Waits until the servers have seen no new request for a second (at most 8 s): the clean-up the
   * SDK does after the callers were answered (remote cancels, journal writes) has ended.
   *
   * @return the requests the servers saw in all
   */
  static int settle(java.util.Collection<SoakServer> servers) throws InterruptedException {
    int last = -1;
    long stableSince = System.nanoTime();
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
    while (System.nanoTime() < until) {
      int n = 0;
      for (SoakServer s : servers) {
        n += s.requestCount();
      }
      if (n != last) {
        last = n;
        stableSince = System.nanoTime();
      } else if (System.nanoTime() - stableSince > TimeUnit.MILLISECONDS.toNanos(1000)) {
        break;
      }
      Thread.sleep(100);
    }
    return last;
  }

  /** Requests received so far by every incarnation. */
  int requestCount() {
    int n = 0;
    for (WireMockServer s : incarnations) {
      n += s.getAllServeEvents().size();
    }
    return n;
  }

  @Override
  public void close() {
    WireMockServer s = current;
    if (s.isRunning()) {
      s.stop();
    }
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
