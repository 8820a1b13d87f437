package dev.imagegen.provider.fal;

import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageBytes;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderSupport;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.jspecify.annotations.Nullable;

/**
 * Turns input images into what fal's models take in {@code image_urls}: URLs pass as they are;
 * bytes and files up to {@code data-uri-max-bytes} become {@code data:} URIs; larger ones are
 * uploaded to fal's storage (POST {@code /storage/upload/initiate?storage_type=fal-cdn-v3} with the
 * key, then PUT the bytes to the presigned {@code upload_url} without it) and sent as the
 * {@code file_url}.
 *
 * <p>Uploads are remembered by the image's SHA-256 for {@code upload-cache-ttl}, so the same bytes
 * sent again through the same provider are not uploaded twice; concurrent requests for the same
 * bytes share one upload. A failed upload is forgotten. Thread-safe.
 */
final class FalStorage {
  private static final int MAX_ENTRIES = 1024;

  private final FalProvider provider;
  private final String providerId;
  private final URI storageUrl;
  private final long dataUriMaxBytes;
  private final Duration ttl;
  private final Map<String, Entry> cache = new LinkedHashMap<>(16, 0.75f, true);

  private record Entry(CompletableFuture<String> fileUrl, long expiresAtNanos) {}

  /**
   * An input image as sent to fal, and how it got there.
   *
   * @param url the URL, data URI or fal file URL
   * @param uploaded whether this call uploaded it
   * @param reused whether an earlier upload of the same bytes was reused
   */
  record Sent(String url, boolean uploaded, boolean reused) {}

  FalStorage(FalProvider provider, URI storageUrl, long dataUriMaxBytes, Duration ttl) {
    this.provider = provider;
    this.providerId = provider.id();
    this.storageUrl = storageUrl;
    this.dataUriMaxBytes = dataUriMaxBytes;
    this.ttl = ttl;
  }

  /**
   * The value fal gets for an input image.
   *
   * @param image the image
   * @param index its position in {@code image_urls}, for messages
   * @param ctx the attempt
   */
  CompletableFuture<Sent> send(InputImage image, int index, GenerationContext ctx) {
    URI url = image.url();
    if (url != null) {
      return CompletableFuture.completedFuture(new Sent(url.toString(), false, false));
    }
    byte[] bytes;
    try {
      bytes = image.bytes();
    } catch (UncheckedIOException e) {
      Throwable cause = e.getCause();
      return CompletableFuture.failedFuture(new InvalidRequestException("input image " + (index + 1) + " (" + image.role()
          + ") cannot be read: " + (cause == null ? e.getMessage() : cause.getMessage()), providerId));
    }
    ImageFormat format = ImageFormat.sniff(bytes);
    if (format == null) {
      return CompletableFuture.failedFuture(new InvalidRequestException("input image " + (index + 1) + " (" + image.role()
          + ", " + bytes.length + " bytes) is not a PNG, JPEG or WebP image", providerId));
    }
    if (bytes.length <= dataUriMaxBytes) {
      return CompletableFuture.completedFuture(new Sent(ImageBytes.dataUri(bytes, format.mediaType()), false, false));
    }
    String hash = image.sha256();
    CompletableFuture<String> mine = new CompletableFuture<>();
    CompletableFuture<String> shared;
    synchronized (cache) {
      Entry e = cache.get(hash);
      long now = System.nanoTime();
      if (e != null && (now - e.expiresAtNanos() < 0) && !e.fileUrl().isCompletedExceptionally()) {
        shared = e.fileUrl();
      } else {
        shared = null;
        cache.put(hash, new Entry(mine, now + ttl.toNanos()));
        if (cache.size() > MAX_ENTRIES) {
          var it = cache.entrySet().iterator();
          it.next();
          it.remove();
        }
      }
    }
    if (shared != null) {
      // another request's upload of the same bytes: reuse it; if it failed for that request's own
      // reasons (its cancellation), upload again for this one
      return shared.thenApply(u -> new Sent(u, false, true)).exceptionallyCompose(err -> {
        Throwable c = ProviderSupport.unwrap(err);
        forget(hash, shared);
        return c instanceof GenerationCancelledException && !ctx.isCancelled() ? send(image, index, ctx)
            : CompletableFuture.failedFuture(c);
      });
    }
    upload(bytes, format, index, ctx).whenComplete((u, err) -> {
      if (err != null) {
        forget(hash, mine);
        mine.completeExceptionally(err);
      } else {
        mine.complete(u);
      }
    });
    return mine.thenApply(u -> new Sent(u, true, false));
  }

  private void forget(String hash, CompletableFuture<String> f) {
    synchronized (cache) {
      cache.computeIfPresent(hash, (h, e) -> e.fileUrl() == f ? null : e);
    }
  }

  private CompletableFuture<String> upload(byte[] bytes, ImageFormat format, int index, GenerationContext ctx) {
    ProviderHttp http = ctx.http();
    URI initiate = ProviderHttp.join(storageUrl, "/storage/upload/initiate?storage_type=fal-cdn-v3");
    String fileName = "input-" + (index + 1) + "." + (format == ImageFormat.JPEG ? "jpg" : format.extension());
    // an upload target is no paid job: a lost answer may be retried
    HttpRequest start = ProviderHttp.retrySafe(provider.request(ctx, initiate))
        .header("Content-Type", "application/json")
        .POST(http.jsonBody(ctx.json().createObjectNode().put("content_type", format.mediaType()).put("file_name", fileName)))
        .build();
    // the answer: {"upload_url":"…","file_url":"https://v3b.fal.media/files/…"}
    return http.json(start).thenCompose(target -> {
      URI put = httpUrl(target.path("upload_url").asText(null));
      String fileUrl = target.path("file_url").asText("");
      if (put == null || fileUrl.isBlank()) {
        throw new CompletionException(ProviderUnavailableException.transientFailure("upload initiate answered without "
            + "upload_url or file_url", providerId, null));
      }
      // a presigned URL: no key goes there
      HttpRequest req = http.request(put)
          .header("Content-Type", format.mediaType())
          .PUT(HttpRequest.BodyPublishers.ofByteArray(bytes))
          .build();
      return http.send(req, 1024 * 1024).thenApply(r -> {
        if (!r.isSuccess()) {
          // the PUT goes to a storage bucket, not to fal's API: its 403 is an expired signature, not a bad key
          boolean transientFault = r.status() == 408 || r.status() == 429 || r.status() >= 500;
          throw new CompletionException(ProviderUnavailableException.builder("upload of an input image to fal storage "
              + "answered HTTP " + r.status(), providerId).retryable(transientFault).retryAfter(r.retryAfter()).build());
        }
        return fileUrl;
      });
    }).exceptionally(e -> {
      // both calls are safe to repeat (the initiate is marked so, the PUT is idempotent): core never
      // reports their lost answers as an unknown outcome, they stay ordinary transient faults
      Throwable c = ProviderSupport.unwrap(e);
      String what = "upload of input image " + (index + 1);
      throw new CompletionException(c instanceof ImageGenerationException ? c : c instanceof CancellationException
          ? new GenerationCancelledException(what + " cancelled", providerId, null)
          : ProviderUnavailableException.failOver(what + " failed: " + c.getClass().getSimpleName(), providerId, null));
    });
  }

  private static @Nullable URI httpUrl(@Nullable String s) {
    try {
      return s != null && ImageBytes.isHttpUrl(s.strip()) ? URI.create(s.strip()) : null;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}
