package dev.imagegen.soak;

import dev.imagegen.JobJournal;
import java.io.IOException;
import java.net.Authenticator;
import java.net.CookieHandler;
import java.net.ProxySelector;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

/**
 * A process crash inside one JVM: the services of the crash phase reach the world only through
 * an {@link Http} client and a {@link Journal}, and {@link #now()} cuts both at once. After it no
 * request leaves (a send never answers, as for a frozen or dead process) and the journal writes
 * nothing more, so the directory keeps exactly what a killed process would have left; the
 * services' own threads may run on, but nothing they do is seen outside.
 */
final class Crash {
  private volatile boolean crashed;
  /** Requests and journal writes the dead services tried after the crash (and that never happened). */
  final AtomicInteger refusedRequests = new AtomicInteger();
  final AtomicInteger refusedWrites = new AtomicInteger();

  /** The crash: from now on nothing leaves. */
  void now() {
    crashed = true;
  }

  boolean happened() {
    return crashed;
  }

  /** An HTTP client that stops sending at the crash. */
  final class Http extends HttpClient {
    private final HttpClient delegate;

    Http(HttpClient delegate) {
      this.delegate = delegate;
    }

    @Override public Optional<CookieHandler> cookieHandler() { return delegate.cookieHandler(); }
    @Override public Optional<Duration> connectTimeout() { return delegate.connectTimeout(); }
    @Override public Redirect followRedirects() { return delegate.followRedirects(); }
    @Override public Optional<ProxySelector> proxy() { return delegate.proxy(); }
    @Override public SSLContext sslContext() { return delegate.sslContext(); }
    @Override public SSLParameters sslParameters() { return delegate.sslParameters(); }
    @Override public Optional<Authenticator> authenticator() { return delegate.authenticator(); }
    @Override public Version version() { return delegate.version(); }
    @Override public Optional<Executor> executor() { return delegate.executor(); }

    @Override
    public <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler)
        throws IOException, InterruptedException {
      if (crashed) {
        refusedRequests.incrementAndGet();
        throw new IOException("the process is gone");
      }
      return delegate.send(request, handler);
    }

    @Override
    public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
      if (crashed) {
        refusedRequests.incrementAndGet();
        return new CompletableFuture<>(); // nothing leaves, nothing answers
      }
      return delegate.sendAsync(request, handler);
    }

    @Override
    public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest request, HttpResponse.BodyHandler<T> handler,
        HttpResponse.PushPromiseHandler<T> push) {
      if (crashed) {
        refusedRequests.incrementAndGet();
        return new CompletableFuture<>();
      }
      return delegate.sendAsync(request, handler, push);
    }
  }

  /** A job journal that writes nothing after the crash (reads still work: the files are on disk). */
  final class Journal implements JobJournal {
    private final JobJournal delegate;

    Journal(JobJournal delegate) {
      this.delegate = delegate;
    }

    @Override
    public void started(Entry entry) {
      if (crashed) {
        refusedWrites.incrementAndGet();
        return;
      }
      delegate.started(entry);
    }

    @Override
    public void ended(String generationId, String remoteJobId, String status) {
      if (crashed) {
        refusedWrites.incrementAndGet();
        return;
      }
      delegate.ended(generationId, remoteJobId, status);
    }

    @Override
    public List<Entry> open() {
      return delegate.open();
    }

    @Override
    public void join(String instanceId) {
      if (!crashed) {
        delegate.join(instanceId);
      }
    }

    @Override
    public void leave(String instanceId) {
      if (!crashed) { // a dead process removes no lease: it expires
        delegate.leave(instanceId);
      }
    }

    @Override
    public boolean leaseLive(String instanceId) {
      return delegate.leaseLive(instanceId);
    }

    /** Stops the dead instance's lease heartbeat (its JVM thread outlives it here), removing its lease. */
    void bury(String instanceId) {
      delegate.leave(instanceId);
    }
  }
}
