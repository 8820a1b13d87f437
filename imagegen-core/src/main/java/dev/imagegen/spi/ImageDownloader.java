package dev.imagegen.spi;

import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderUnavailableException;
import java.io.UncheckedIOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * Fetches result images at once (provider URLs expire) and keeps their bytes: GET with redirects
 * followed (to any host, never with credentials), a size limit ({@code max-image-bytes}, default
 * 50 MB), a timeout that bounds the whole download including a body that stalls mid-transfer, up
 * to two retries on transient faults, and a check of the magic bytes. Inline base64 and
 * {@code data:} URIs are checked against the size limit before they are decoded, then checked the
 * same way.
 *
 * <p>Addresses: the host of a result URL, and of every redirect, is resolved before it is
 * contacted. Link-local addresses ({@code 169.254.0.0/16}, {@code fe80::/10}) and cloud metadata
 * addresses ({@code 169.254.169.254}, {@code fd00:ec2::254}, {@code 100.100.100.200}) are always
 * refused; loopback, private and unspecified addresses ({@code 127.0.0.0/8}, {@code ::1},
 * {@code 10/8}, {@code 172.16/12}, {@code 192.168/16}, {@code fc00::/7}, {@code 0.0.0.0}) are
 * refused unless the provider's own {@code base-url} is such an address (a self-hosted server, a
 * test stub) or {@value ProviderConfig#ALLOW_PRIVATE_DOWNLOADS} is true. A refusal is permanent.
 * The JDK client resolves the host again when it connects; a DNS answer that changes in between
 * is not caught.
 *
 * <p>Created by the service; thread-safe.
 */
public final class ImageDownloader {
  /** Default largest image accepted, in bytes. */
  public static final long DEFAULT_MAX_BYTES = 50L * 1024 * 1024;
  private static final int RETRIES = 2;
  /** Host lookups block: they run here, never on the HTTP client's or the scheduler's threads. */
  private static final Executor RESOLVER = resolver();

  private final ProviderContext context;
  private final ProviderHttp http;
  private final long maxBytes;
  private final Duration timeout;
  private final boolean allowPrivateConfigured;
  private volatile @Nullable Boolean baseUrlPrivate;

  /**
   * Created by the service; providers get theirs from {@link ProviderContext#downloader()}.
   *
   * @param context the provider's context
   * @param http the exchange to download with
   */
  public ImageDownloader(ProviderContext context, ProviderHttp http) {
    this.context = context;
    this.http = http;
    this.maxBytes = context.config().get(ProviderConfig.MAX_IMAGE_BYTES).map(String::strip).map(Long::parseLong)
        .orElse(DEFAULT_MAX_BYTES);
    this.timeout = context.config().duration("download-timeout", Duration.ofSeconds(60));
    this.allowPrivateConfigured = context.config().bool(ProviderConfig.ALLOW_PRIVATE_DOWNLOADS, false);
  }

  private ImageDownloader(ImageDownloader from, ProviderContext context, ProviderHttp http) {
    this.context = context;
    this.http = http;
    this.maxBytes = from.maxBytes;
    this.timeout = from.timeout;
    this.allowPrivateConfigured = from.allowPrivateConfigured;
    this.baseUrlPrivate = from.baseUrlPrivate;
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
      return CompletableFuture.completedFuture(check(ImageBytes.decode(urlOrBase64, maxBytes), null, seed, nsfw));
    } catch (ImageBytes.TooLargeException e) {
      return CompletableFuture.failedFuture(tooLarge("inline image of about " + e.decodedLength() + " bytes"));
    } catch (IllegalArgumentException e) {
      return CompletableFuture.failedFuture(new ProviderUnavailableException("inline image is not valid base64",
          context.providerId(), false, false, null, null));
    } catch (ImageGenerationException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * One result image to fetch.
   *
   * @param urlOrBase64 the provider's value (a URL, base64 or a {@code data:} URI), or null when the
   *     provider gave none (the download then fails, naming the image)
   * @param seed the seed the provider reported, or null
   * @param nsfw whether the provider flagged the image
   */
  public record Source(@Nullable String urlOrBase64, @Nullable Long seed, boolean nsfw) {}

  /**
   * Images fetched together, in the order asked, with the time it took.
   *
   * @param images the images
   * @param took from the start of the first download to the end of the last
   */
  public record Downloaded(List<GeneratedImage> images, Duration took) {}

  /**
   * Fetches several result images at once (see {@link #image}); fails with the first failure.
   *
   * @param urlsOrBase64 the provider's values
   * @param seed the seed the provider reported for all of them, or null
   * @return the images with the time taken
   */
  public CompletableFuture<Downloaded> all(List<String> urlsOrBase64, @Nullable Long seed) {
    return allOf(urlsOrBase64.stream().map(u -> new Source(u, seed, false)).toList());
  }

  /**
   * Fetches several result images at once (see {@link #image}); fails with the first failure. An
   * image without a value fails as the provider's fault, naming its place.
   *
   * @param sources the images
   * @return the images with the time taken
   */
  public CompletableFuture<Downloaded> allOf(List<Source> sources) {
    long t0 = System.nanoTime();
    List<CompletableFuture<GeneratedImage>> all = new ArrayList<>();
    for (int i = 0; i < sources.size(); i++) {
      Source src = sources.get(i);
      String v = src.urlOrBase64();
      if (v == null || v.isBlank()) {
        all.add(CompletableFuture.failedFuture(ProviderUnavailableException.failOver("result image " + (i + 1) + " of "
            + sources.size() + " has no URL or data", context.providerId(), null)));
      } else {
        all.add(image(v.strip(), src.seed(), src.nsfw()));
      }
    }
    return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0]))
        .thenApply(x -> new Downloaded(all.stream().map(CompletableFuture::join).toList(),
            Duration.ofNanos(System.nanoTime() - t0)));
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
   * The bytes of an input image a request carries (an init image, a mask, a reference): given,
   * read from its file, or fetched from its URL like a result (no credentials, within
   * {@code max-image-bytes}, the same address checks), for a provider whose API takes the bytes.
   *
   * @param image the input image
   * @return its bytes; fails with an {@link InvalidRequestException} naming the image when its
   *     file cannot be read, or as {@link #download} fails for a URL
   */
  public CompletableFuture<byte[]> input(InputImage image) {
    URI url = image.url();
    if (url != null) {
      return download(url, null, false).thenApply(GeneratedImage::bytes);
    }
    try {
      return CompletableFuture.completedFuture(image.bytes());
    } catch (UncheckedIOException | IllegalStateException e) {
      return CompletableFuture.failedFuture(new InvalidRequestException("cannot read the "
          + image.role().name().toLowerCase(Locale.ROOT) + " image " + image + ": " + e.getMessage(), context.providerId()));
    }
  }

  /**
   * An input image as bare base64 (see {@link #input}), or null for none.
   *
   * @param image the input image, or null
   * @return its bytes in base64, or null when the image is null
   */
  public CompletableFuture<@Nullable String> inputBase64(@Nullable InputImage image) {
    return image == null ? CompletableFuture.completedFuture(null)
        : input(image).thenApply(b -> java.util.Base64.getEncoder().encodeToString(b));
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
    HttpRequest req;
    try {
      req = HttpRequest.newBuilder(url).timeout(timeout).header("User-Agent", http.userAgent())
          .header("Accept", "image/*").GET().build();
    } catch (IllegalArgumentException e) {
      return CompletableFuture.failedFuture(new ProviderUnavailableException("result image URL " + shown(url)
          + " cannot be fetched: " + e.getMessage(), context.providerId(), false, false, null, null));
    }
    CompletableFuture<GeneratedImage> out = http.download(req, maxBytes, this::checkAddress).thenApply(r -> {
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

  /** Resolves a download target's host and refuses addresses a result image must not come from. */
  private CompletableFuture<Void> checkAddress(URI target) {
    String host = target.getHost();
    if (host == null) {
      return CompletableFuture.failedFuture(refused(target, "has no host"));
    }
    if (isLiteral(host)) {
      try {
        return checkResolved(target, InetAddress.getAllByName(host));
      } catch (UnknownHostException e) {
        return CompletableFuture.failedFuture(refused(target, "is not a valid address"));
      }
    }
    InetAddress[] known = RecentLookups.get(host);
    if (known != null) { // looked up moments ago: no blocking lookup, no thread hop
      return checkResolved(target, known);
    }
    return CompletableFuture.supplyAsync(() -> {
      try {
        return RecentLookups.put(host, InetAddress.getAllByName(host));
      } catch (UnknownHostException e) {
        throw new CompletionException(new ProviderUnavailableException("result image " + shown(target)
            + ": host " + host + " could not be resolved", context.providerId(), true, false, null, null));
      }
    }, RESOLVER).thenCompose(addresses -> checkResolved(target, addresses));
  }

  private CompletableFuture<Void> checkResolved(URI target, InetAddress[] addresses) {
    for (InetAddress a : addresses) {
      String why = alwaysRefused(a);
      if (why != null) {
        return CompletableFuture.failedFuture(refused(target, "resolves to " + a.getHostAddress() + ", " + why
            + "; such addresses are always refused"));
      }
    }
    for (InetAddress a : addresses) {
      String why = privateAddress(a);
      if (why != null && !privateAllowed()) {
        return CompletableFuture.failedFuture(refused(target, "resolves to " + a.getHostAddress() + ", " + why
            + "; refused because " + ProviderConfig.BASE_URL + " is not itself such an address (set "
            + ProviderConfig.ALLOW_PRIVATE_DOWNLOADS + "=true, imagegen." + context.providerId() + "."
            + ProviderConfig.ALLOW_PRIVATE_DOWNLOADS + ", to allow it)"));
      }
    }
    return CompletableFuture.completedFuture(null);
  }

  private ProviderUnavailableException refused(URI target, String why) {
    return new ProviderUnavailableException("refused to download result image " + shown(target) + ": host "
        + target.getHost() + " " + why, context.providerId(), false, false, null, null);
  }

  private boolean privateAllowed() {
    if (allowPrivateConfigured) {
      return true;
    }
    Boolean b = baseUrlPrivate;
    if (b == null) {
      b = computeBaseUrlPrivate();
      baseUrlPrivate = b;
    }
    return b;
  }

  /** Whether the configured base URL itself is a loopback or private address (a local server, a test stub). */
  private boolean computeBaseUrlPrivate() {
    String base = context.config().get(ProviderConfig.BASE_URL).orElse(null);
    if (base == null) {
      return false;
    }
    try {
      String host = URI.create(base.strip()).getHost();
      if (host == null) {
        return false;
      }
      if (host.equalsIgnoreCase("localhost") || host.toLowerCase(Locale.ROOT).endsWith(".localhost")) {
        return true;
      }
      for (InetAddress a : InetAddress.getAllByName(host)) {
        if (privateAddress(a) == null) {
          return false;
        }
      }
      return true;
    } catch (IllegalArgumentException | UnknownHostException e) {
      return false;
    }
  }

  private static boolean isLiteral(String host) {
    if (host.startsWith("[") || host.indexOf(':') >= 0) {
      return true;
    }
    for (int i = 0; i < host.length(); i++) {
      char c = host.charAt(i);
      if (!(c == '.' || (c >= '0' && c <= '9'))) {
        return false;
      }
    }
    return true;
  }

  /** Why an address is never a result image's source (link-local, cloud metadata), or null. */
  static @Nullable String alwaysRefused(InetAddress a) {
    byte[] b = a.getAddress();
    if (b.length == 4 && (b[0] & 0xff) == 100 && (b[1] & 0xff) == 100 && (b[2] & 0xff) == 100 && (b[3] & 0xff) == 200) {
      return "a cloud metadata address";
    }
    if (b.length == 4 && (b[0] & 0xff) == 169 && (b[1] & 0xff) == 254 && (b[2] & 0xff) == 169 && (b[3] & 0xff) == 254) {
      return "a cloud metadata address";
    }
    if (a instanceof Inet6Address && b.length == 16 && (b[0] & 0xff) == 0xfd && b[1] == 0 && (b[2] & 0xff) == 0x0e
        && (b[3] & 0xff) == 0xc2 && isZero(b, 4, 14) && b[14] == 0x02 && (b[15] & 0xff) == 0x54) {
      return "a cloud metadata address";
    }
    if (a.isLinkLocalAddress()) {
      return "a link-local address";
    }
    return null;
  }

  /** Why an address is loopback, private or unspecified, or null when it is none of these. */
  static @Nullable String privateAddress(InetAddress a) {
    if (a.isLoopbackAddress()) {
      return "a loopback address";
    }
    if (a.isAnyLocalAddress()) {
      return "an unspecified address";
    }
    byte[] b = a.getAddress();
    if (b.length == 4 && (b[0] & 0xff) == 0) {
      return "an unspecified address";
    }
    if (a.isSiteLocalAddress() || (b.length == 16 && (b[0] & 0xfe) == 0xfc)) {
      return "a private address";
    }
    return null;
  }

  private static boolean isZero(byte[] b, int from, int to) {
    for (int i = from; i < to; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }

  private ProviderUnavailableException tooLarge(String what) {
    return new ProviderUnavailableException(what + " exceeds the limit of " + maxBytes + " bytes ("
        + ProviderConfig.MAX_IMAGE_BYTES + "; raise imagegen." + context.providerId() + "." + ProviderConfig.MAX_IMAGE_BYTES
        + " if images this large are expected)", context.providerId(), false, false, null, null);
  }

  /**
   * Host lookups of the last few seconds, so that a provider's download host (the same one for
   * every image) is checked on the calling thread instead of a lookup on the resolver pool each
   * time. Kept shorter than the JVM's own positive cache (30 s), so a name is never trusted longer
   * than the JVM would trust it.
   */
  private static final class RecentLookups {
    private static final long TTL_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final int MAX = 1024;
    private record Entry(InetAddress[] addresses, long until) {}
    private static final ConcurrentHashMap<String, Entry> MAP = new ConcurrentHashMap<>();

    static InetAddress @Nullable [] get(String host) {
      Entry e = MAP.get(host);
      if (e == null) {
        return null;
      }
      if (System.nanoTime() - e.until() > 0) {
        MAP.remove(host, e);
        return null;
      }
      return e.addresses();
    }

    static InetAddress[] put(String host, InetAddress[] addresses) {
      if (MAP.size() >= MAX) {
        MAP.clear();
      }
      MAP.put(host, new Entry(addresses.clone(), System.nanoTime() + TTL_NANOS));
      return addresses;
    }
  }

  private static Executor resolver() {
    AtomicInteger n = new AtomicInteger();
    ThreadPoolExecutor e = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(r, "imagegen-resolver-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    e.allowCoreThreadTimeOut(true);
    return e;
  }

  private GeneratedImage check(byte[] bytes, @Nullable String url, @Nullable Long seed, boolean nsfw) {
    if (bytes.length > maxBytes) {
      throw tooLarge("image of " + bytes.length + " bytes");
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
