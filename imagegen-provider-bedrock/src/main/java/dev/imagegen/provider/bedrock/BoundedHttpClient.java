package dev.imagegen.provider.bedrock;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import software.amazon.awssdk.http.SdkHttpResponse;
import software.amazon.awssdk.http.async.AsyncExecuteRequest;
import software.amazon.awssdk.http.async.SdkAsyncHttpClient;
import software.amazon.awssdk.http.async.SdkAsyncHttpResponseHandler;

/**
 * An SDK HTTP client that refuses answer bodies longer than a limit while they stream in, so that
 * an answer carrying base64 images far past {@code max-image-bytes} is stopped after the limit
 * instead of being held whole in memory (the SDK reads InvokeModel's body into one byte array).
 * Wraps the Netty client; everything else passes through. Thread-safe.
 */
final class BoundedHttpClient implements SdkAsyncHttpClient {
  private final SdkAsyncHttpClient delegate;
  private final long maxBodyBytes;

  BoundedHttpClient(SdkAsyncHttpClient delegate, long maxBodyBytes) {
    this.delegate = delegate;
    this.maxBodyBytes = maxBodyBytes;
  }

  @Override
  public CompletableFuture<Void> execute(AsyncExecuteRequest request) {
    SdkAsyncHttpResponseHandler handler = request.responseHandler();
    AsyncExecuteRequest.Builder b = AsyncExecuteRequest.builder()
        .request(request.request())
        .requestContentPublisher(request.requestContentPublisher())
        .fullDuplex(request.fullDuplex())
        .httpExecutionAttributes(request.httpExecutionAttributes())
        .responseHandler(new SdkAsyncHttpResponseHandler() {
          @Override
          public void onHeaders(SdkHttpResponse headers) {
            handler.onHeaders(headers);
          }

          @Override
          public void onStream(Publisher<ByteBuffer> stream) {
            handler.onStream(new Bounded(stream, maxBodyBytes));
          }

          @Override
          public void onError(Throwable error) {
            handler.onError(error);
          }
        });
    request.metricCollector().ifPresent(b::metricCollector);
    return delegate.execute(b.build());
  }

  @Override
  public String clientName() {
    return delegate.clientName();
  }

  @Override
  public void close() {
    delegate.close();
  }

  /** Thrown into the SDK when an answer's body passes the limit. */
  static final class BodyTooLargeException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final long limit;

    BodyTooLargeException(long limit) {
      super("answer body longer than " + limit + " bytes");
      this.limit = limit;
    }
  }

  /** A body publisher that fails its subscriber, and cancels upstream, once more than the limit has passed. */
  private static final class Bounded implements Publisher<ByteBuffer> {
    private final Publisher<ByteBuffer> upstream;
    private final long limit;

    Bounded(Publisher<ByteBuffer> upstream, long limit) {
      this.upstream = upstream;
      this.limit = limit;
    }

    @Override
    public void subscribe(Subscriber<? super ByteBuffer> downstream) {
      upstream.subscribe(new Subscriber<ByteBuffer>() {
        private final AtomicBoolean done = new AtomicBoolean();
        private volatile @org.jspecify.annotations.Nullable Subscription subscription;
        private long seen;

        @Override
        public void onSubscribe(Subscription s) {
          subscription = s;
          downstream.onSubscribe(s);
        }

        @Override
        public void onNext(ByteBuffer item) {
          if (done.get()) {
            return;
          }
          seen += item.remaining();
          if (seen > limit) {
            Subscription s = subscription;
            if (s != null) {
              s.cancel();
            }
            if (done.compareAndSet(false, true)) {
              downstream.onError(new BodyTooLargeException(limit));
            }
            return;
          }
          downstream.onNext(item);
        }

        @Override
        public void onError(Throwable t) {
          if (done.compareAndSet(false, true)) {
            downstream.onError(t);
          }
        }

        @Override
        public void onComplete() {
          if (done.compareAndSet(false, true)) {
            downstream.onComplete();
          }
        }
      });
    }
  }
}
