package dev.imagegen.spi;

import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ProviderUnavailableException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * Fetches result images at once (provider URLs expire) and keeps their bytes: GET with redirects
 * followed, a size limit ({@code max-image-bytes}, default 50 MB), a timeout that also catches a
 * body that stalls mid-transfer, up to two retries on transient faults, and a check of the magic
 * bytes. Inline base64 and {@code data:} URIs are decoded and checked the same way.
 *
 * <p>Created by the service; thread-safe.
 */
public final class ImageDownloader {
  /** Default largest image accepted, in bytes. */
  public static final long DEFAULT_MAX_BYTES = 50L * 1024 * 1024;
  private static final int RETRIES = 2;

  private final ProviderContext context;
  private final ProviderHttp http;
  private final long maxBytes;
  private final Duration timeout;

  /**
   * Created by the service; providers get theirs from {@link ProviderContext#downloader()}.
   *
   * @param context the provider's context
   * @param http the exchange to download with
   */
  public ImageDownloader(ProviderContext context, ProviderHttp http) {
    this.context = context;
    this.http = http;
    this.maxBytes = context.config().get(ProviderConfig.MAX_IMAGE_BYTES).map(Long::parseLong).orElse(DEFAULT_MAX_BYTES);
    this.timeout = context.config().duration("download-timeout", Duration.ofSeconds(60));
  }

  private ImageDownloader(ImageDownloader from, ProviderContext context, ProviderHttp http) {
    this.context = context;
    this.http = http;
    this.maxBytes = from.maxBytes;
    this.timeout = from.timeout;
  }

  /**
   * This downloader working through another exchange (an attempt's), with the same limits.
   * Called by the service for each attempt.
   *
   * @param context the attempt's context
   * @param http the attempt's exchange
   * @return the bound downloader
   */
  public ImageDownloader bind(ProviderContext context, ProviderHttp http) {
    return new ImageDownloader(this, context, http);
  }

  /** The largest image accepted, in bytes. */
  public long maxBytes() {
    return maxBytes;
  }

  /**
   * Turns what a provider returned into an image: downloads an http(s) URL, decodes a
   * {@code data:} URI or raw base64.
   *
   * @param urlOrBase64 the provider's value
   * @param seed the seed the provider reported, or null
   * @param nsfw whether the provider flagged the image
   */
  public CompletableFuture<GeneratedImage> image(String urlOrBase64, @Nullable Long seed, boolean nsfw) {
    if (ImageBytes.isHttpUrl(urlOrBase64)) {
      return download(URI.create(urlOrBase64), seed, nsfw);
    }
    try {
      return CompletableFuture.completedFuture(check(ImageBytes.decode(urlOrBase64), null, seed, nsfw));
    } catch (IllegalArgumentException e) {
      return CompletableFuture.failedFuture(new ProviderUnavailableException("inline image is not valid base64",
          context.providerId(), false, false, null, null));
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Checks image bytes a provider returned as the body itself (size limit, magic bytes).
   *
   * @param bytes the body
   * @param seed the seed the provider reported, or null
   * @param nsfw whether the provider flagged the image
   * @return the image
   * @throws ProviderUnavailableException when the bytes are too large or not an image
   */
  public GeneratedImage inline(byte[] bytes, @Nullable Long seed, boolean nsfw) {
    return check(bytes, null, seed, nsfw);
  }

  /**
   * Downloads an image.
   *
   * @param url the image URL
   * @param seed the seed the provider reported, or null
   * @param nsfw whether the provider flagged the image
   */
  public CompletableFuture<GeneratedImage> download(URI url, @Nullable Long seed, boolean nsfw) {
    return attempt(url, seed, nsfw, 0);
  }

  private CompletableFuture<GeneratedImage> attempt(URI url, @Nullable Long seed, boolean nsfw, int n) {
    HttpRequest req = HttpRequest.newBuilder(url).timeout(timeout).header("User-Agent", http.userAgent())
        .header("Accept", "image/*").GET().build();
    CompletableFuture<HttpResult> sent = http.send(req, maxBytes);
    CompletableFuture<GeneratedImage> out = sent.orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS).thenApply(r -> {
      if (r.status() != 200) {
        boolean transientFault = r.status() == 408 || r.status() == 429 || r.status() >= 500;
        throw new CompletionException(new ProviderUnavailableException("result image " + shown(url) + " answered HTTP "
            + r.status() + (r.status() == 404 || r.status() == 403 || r.status() == 410 ? " (gone or expired)" : ""),
            context.providerId(), transientFault, false, null, null));
      }
      return check(r.body(), url.toString(), seed, nsfw);
    });
    return out.handle((img, e) -> {
      if (e == null) {
        return CompletableFuture.completedFuture(img);
      }
      Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      if (c instanceof TimeoutException) {
        sent.cancel(true);
        c = new ProviderUnavailableException("result image " + shown(url) + " not received within " + timeout,
            context.providerId(), true, false, null, null);
      }
      if (c instanceof ImageGenerationException ige && ige.retryMayHelp() && n < RETRIES) {
        CompletableFuture<GeneratedImage> next = new CompletableFuture<>();
        context.scheduler().schedule(() -> attempt(url, seed, nsfw, n + 1).whenComplete((v, x) -> {
          if (x != null) next.completeExceptionally(x); else next.complete(v);
        }), 250L << (2 * n), TimeUnit.MILLISECONDS);
        return next;
      }
      return CompletableFuture.<GeneratedImage>failedFuture(c);
    }).thenCompose(f -> f);
  }

  private GeneratedImage check(byte[] bytes, @Nullable String url, @Nullable Long seed, boolean nsfw) {
    if (bytes.length > maxBytes) {
      throw new ProviderUnavailableException("image of " + bytes.length + " bytes exceeds the limit of " + maxBytes + " bytes",
          context.providerId(), false, false, null, null);
    }
    if (ImageFormat.sniff(bytes) == null) {
      throw new ProviderUnavailableException("result " + (url == null ? "image" : shown(URI.create(url)))
          + " is not a PNG, JPEG or WebP image (" + bytes.length + " bytes)", context.providerId(), false, false, null, null);
    }
    return GeneratedImage.of(bytes, seed, url, nsfw);
  }

  private static String shown(URI url) {
    return url.getScheme() + "://" + url.getHost() + (url.getPort() > 0 ? ":" + url.getPort() : "") + url.getPath();
  }
}
