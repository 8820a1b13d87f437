package dev.imagegen.provider.bfl;

import dev.imagegen.spi.ProviderSupport;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The hosts BFL's own {@code polling_url} may name, to which the key may go: the configured base
 * URL's origin, and hosts matching {@code polling-hosts} (default {@value #DEFAULT}: the global
 * endpoint and every {@code api.<cluster>.bfl.ai}, such as {@code api.eu.bfl.ai},
 * {@code api.eu2.bfl.ai}, {@code api.us1.bfl.ai}) reached with the base URL's scheme and port. A
 * {@code *} stands for exactly one DNS label. Immutable and thread-safe.
 */
final class BflHosts {
  /** The default allow-list: BFL's global endpoint and its regional and cluster hosts. */
  static final String DEFAULT = "api.bfl.ai,api.*.bfl.ai";

  private static final Pattern ENTRY = Pattern.compile("(?:\\*|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)"
      + "(?:\\.(?:\\*|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))*");

  private final URI base;
  private final List<Pattern> allowed;
  private final String shown;

  private BflHosts(URI base, List<Pattern> allowed, String shown) {
    this.base = base;
    this.allowed = List.copyOf(allowed);
    this.shown = shown;
  }

  /**
   * Reads an allow-list.
   *
   * @param providerId the provider id, for messages
   * @param base the base URL (always trusted)
   * @param list comma-separated host patterns, e.g. {@code api.bfl.ai,api.*.bfl.ai}
   * @return the allow-list
   * @throws IllegalStateException naming {@code polling-hosts} when an entry is not a host name
   *     pattern, or its last two labels hold a {@code *} (that would trust a whole top-level domain)
   */
  static BflHosts of(String providerId, URI base, String list) {
    List<Pattern> out = new ArrayList<>();
    for (String raw : list.split(",")) {
      String e = raw.strip().toLowerCase(Locale.ROOT);
      if (e.isEmpty()) {
        continue;
      }
      String[] labels = e.split("\\.");
      boolean wildTop = labels[labels.length - 1].equals("*") || (labels.length > 1 && labels[labels.length - 2].equals("*"));
      if (!ENTRY.matcher(e).matches() || wildTop) {
        throw new IllegalStateException(providerId + ": '" + BflProvider.POLLING_HOSTS + "' must list host names such as "
            + "api.bfl.ai or api.*.bfl.ai (a * is one label, never in the last two), was '" + raw.strip() + "'");
      }
      out.add(Pattern.compile(Pattern.quote(e).replace("*", "\\E[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\Q")));
    }
    return new BflHosts(base, out, list.strip());
  }

  /**
   * A {@code polling_url} BFL returned, when the key may go there: the base URL's origin, or an
   * allowed host with the base URL's scheme and port.
   *
   * @param returned the value, or null
   * @return the URL, or null when it is absent, not http(s), or on a host not allowed
   */
  @Nullable URI trusted(@Nullable String returned) {
    URI u = ProviderSupport.httpUrl(returned);
    if (u == null) {
      return null;
    }
    if (ProviderSupport.sameOrigin(u, base)) {
      return u;
    }
    String host = u.getHost().toLowerCase(Locale.ROOT);
    boolean sameSchemeAndPort = u.getScheme().equalsIgnoreCase(String.valueOf(base.getScheme())) && port(u) == port(base);
    return sameSchemeAndPort && allowed.stream().anyMatch(p -> p.matcher(host).matches()) ? u : null;
  }

  private static int port(URI u) {
    if (u.getPort() >= 0) {
      return u.getPort();
    }
    return "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
  }

  @Override
  public String toString() {
    return "BflHosts[" + shown + "]";
  }
}
