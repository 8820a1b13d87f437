package dev.imagegen.spi;

import java.net.URI;
import java.net.http.HttpRequest;
import org.jspecify.annotations.Nullable;

/**
 * A base for providers that speak HTTP to one base URL, so that a provider holds only its wire
 * protocol: it keeps the configuration, the base URL ({@code base-url} or the provider's public
 * API), the id, the capabilities and the price list ({@link #declare}); it builds requests under
 * the base URL with imagegen's defaults and the provider's credentials ({@link #authorize}), and
 * names itself in {@link #toString()} without secrets. The
 * request helpers are public so that a provider's package-private job and lookup classes can use
 * them; the provider itself is never handed out.
 *
 * <pre>{@code
 * final class AcmeProvider extends HttpImageProvider {
 *   private final Secret key;
 *   AcmeProvider(ProviderConfig config) {
 *     super(config, "https://api.acme.example/v1");
 *     this.key = config.requireApiKey();
 *     declare(ProviderCapabilities.builder().seed(true).build(), CostModel.perImage(new BigDecimal("0.01")));
 *   }
 *   protected HttpRequest.Builder authorize(HttpRequest.Builder request) {
 *     return request.header("Authorization", "Bearer " + key.reveal());
 *   }
 *   ...
 * }
 * }</pre>
 *
 * Subclasses must be thread-safe, like every {@link ImageProvider}.
 */
public abstract class HttpImageProvider implements ImageProvider {
  /** The provider's configuration. */
  protected final ProviderConfig config;
  /** The base URL, without a trailing slash. */
  protected final URI baseUrl;
  private @Nullable ProviderCapabilities capabilities;
  private @Nullable CostModel costModel;

  /**
   * Reads the base URL.
   *
   * @param config the provider's configuration
   * @param defaultBaseUrl the provider's public API, used when {@code base-url} is unset
   * @throws IllegalStateException when {@code base-url} is not a URL
   */
  protected HttpImageProvider(ProviderConfig config, String defaultBaseUrl) {
    this.config = config;
    this.baseUrl = config.baseUrl(defaultBaseUrl);
  }

  /** The provider id, from its configuration. */
  @Override
  public String id() {
    return config.providerId();
  }

  /**
   * Declares what the provider can do and its price list, at the end of the subclass's
   * constructor; {@link #capabilities()} and {@link #costModel()} return them. A provider whose
   * capabilities change while it runs overrides {@link #capabilities()} instead.
   *
   * @param offered what the provider can do
   * @param prices its price list
   */
  protected final void declare(ProviderCapabilities offered, CostModel prices) {
    this.capabilities = offered;
    this.costModel = prices;
  }

  /**
   * What the provider declared it can do.
   *
   * @throws IllegalStateException when the subclass declared nothing ({@link #declare})
   */
  @Override
  public ProviderCapabilities capabilities() {
    ProviderCapabilities c = capabilities;
    if (c == null) {
      throw new IllegalStateException(getClass().getSimpleName() + " declared no capabilities: call declare(...) in its "
          + "constructor");
    }
    return c;
  }

  /**
   * The price list the provider declared.
   *
   * @throws IllegalStateException when the subclass declared nothing ({@link #declare})
   */
  @Override
  public CostModel costModel() {
    CostModel c = costModel;
    if (c == null) {
      throw new IllegalStateException(getClass().getSimpleName() + " declared no price list: call declare(...) in its "
          + "constructor");
    }
    return c;
  }

  /**
   * Adds the provider's credentials to a request to its own base URL. The default adds none.
   *
   * @param request the request
   * @return the request, with the credentials
   */
  protected HttpRequest.Builder authorize(HttpRequest.Builder request) {
    return request;
  }

  /**
   * A request to a path under the base URL, with imagegen's defaults ({@link ProviderHttp#request})
   * and the provider's credentials.
   *
   * @param ctx the context whose HTTP support sends it
   * @param path the path, e.g. {@code /predictions}
   * @return the request builder
   */
  public HttpRequest.Builder request(ProviderContext ctx, String path) {
    return request(ctx, url(path));
  }

  /**
   * A request to a URL of the provider's own (a status or cancel link it returned), with
   * imagegen's defaults and the provider's credentials. Check first that the URL is the
   * provider's ({@link ProviderSupport#underBase}): credentials never go to another host.
   *
   * @param ctx the context whose HTTP support sends it
   * @param url the URL
   * @return the request builder
   */
  public HttpRequest.Builder request(ProviderContext ctx, URI url) {
    return authorize(ctx.http().request(url));
  }

  /** The base URL calls go to: {@code base-url}, or the provider's public API. */
  public URI baseUrl() {
    return baseUrl;
  }

  /**
   * A URL under the base URL.
   *
   * @param path the path, e.g. {@code /predictions}
   * @return the URL
   */
  public URI url(String path) {
    return ProviderHttp.join(baseUrl, path);
  }

  /**
   * A JSON {@code POST} to a path under the base URL, with the provider's credentials.
   *
   * @param ctx the context whose HTTP support sends it
   * @param path the path
   * @param body a record, map or JsonNode
   * @return the request
   */
  public HttpRequest postJson(ProviderContext ctx, String path, Object body) {
    return request(ctx, path).header("Content-Type", "application/json").POST(ctx.http().jsonBody(body)).build();
  }

  /**
   * A {@code multipart/form-data} {@code POST} to a path under the base URL, with the provider's
   * credentials.
   *
   * @param ctx the context whose HTTP support sends it
   * @param path the path
   * @param form the fields and files
   * @return the request
   */
  public HttpRequest postMultipart(ProviderContext ctx, String path, Multipart form) {
    return request(ctx, path).header("Content-Type", form.contentType()).POST(form.body()).build();
  }

  /** The class, the id and the base URL without any user info; never a credential. */
  @Override
  public String toString() {
    return getClass().getSimpleName() + "[" + id() + ", " + ProviderConfig.maskUserInfo(baseUrl.toString()) + "]";
  }
}
