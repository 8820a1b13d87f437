package dev.imagegen.spi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ProviderUnavailableException;
import java.net.URI;
import java.util.Collection;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.jspecify.annotations.Nullable;

/**
 * Small helpers every provider needs, written once: shortening a provider's text for a message,
 * unwrapping a future's failure, choosing the nearest aspect ratio, and comparing URL origins.
 * All methods are static and thread-safe.
 */
public final class ProviderSupport {
  /** The longest provider text {@link #clip(String)} keeps. */
  public static final int MAX_TEXT = 500;

  private ProviderSupport() {}

  /**
   * A provider's text made fit for a message: white space folded to single spaces, stripped, and
   * cut at {@value #MAX_TEXT} characters with {@code ...} appended. Null gives an empty string.
   * Scrub secrets before ({@link Redactor}); this does not.
   *
   * @param text the text, or null
   * @return the clipped text
   */
  public static String clip(@Nullable String text) {
    return clip(text, MAX_TEXT);
  }

  /**
   * Like {@link #clip(String)} with another limit.
   *
   * @param text the text, or null
   * @param max the most characters kept
   * @return the clipped text
   */
  public static String clip(@Nullable String text, int max) {
    if (text == null) {
      return "";
    }
    String t = text.replaceAll("\\s+", " ").strip();
    return t.length() > max ? t.substring(0, max) + "..." : t;
  }

  /**
   * The real failure behind a future's: {@link CompletionException} and {@link ExecutionException}
   * wrappers peeled off.
   *
   * @param e the failure a future completed with
   * @return the cause that is not a wrapper
   */
  public static Throwable unwrap(Throwable e) {
    Throwable t = e;
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  /**
   * A future's failure as imagegen's exception: an {@link ImageGenerationException} as it is,
   * anything else as a {@link ProviderUnavailableException} naming the provider and the fault.
   *
   * @param providerId the provider
   * @param e the failure a future completed with
   * @return the exception
   */
  public static ImageGenerationException failure(String providerId, Throwable e) {
    Throwable t = unwrap(e);
    if (t instanceof ImageGenerationException ige) {
      return ige;
    }
    String what = t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + clip(t.getMessage()));
    return ProviderUnavailableException.failOver(what, providerId, t);
  }

  /**
   * The aspect ratio, of those offered, nearest to a size (by the ratio's logarithm, so 2:1 and 1:2
   * are as far from 1:1).
   *
   * @param width the width
   * @param height the height
   * @param ratios ratios such as {@code 16:9}; at least one
   * @return the nearest ratio
   * @throws IllegalArgumentException when {@code ratios} is empty or holds one that is not {@code w:h}
   */
  public static String nearestAspectRatio(int width, int height, Collection<String> ratios) {
    if (ratios.isEmpty()) {
      throw new IllegalArgumentException("no aspect ratios to choose from");
    }
    double target = Math.log(width / (double) height);
    String best = ratios.iterator().next();
    double bestDistance = Double.MAX_VALUE;
    for (String ar : ratios) {
      String[] p = ar.split(":");
      if (p.length != 2) {
        throw new IllegalArgumentException("not an aspect ratio: " + ar);
      }
      double d = Math.abs(Math.log(Double.parseDouble(p[0]) / Double.parseDouble(p[1])) - target);
      if (d < bestDistance) {
        bestDistance = d;
        best = ar;
      }
    }
    return best;
  }

  /**
   * Whether two URLs have the same origin: scheme, host (ignoring case) and port (the scheme's
   * default when absent). A provider sends its credentials only to its own origin.
   *
   * @param a one URL
   * @param b the other
   * @return true when the origins are the same
   */
  public static boolean sameOrigin(URI a, URI b) {
    return a.getScheme() != null && a.getHost() != null && a.getScheme().equalsIgnoreCase(String.valueOf(b.getScheme()))
        && a.getHost().equalsIgnoreCase(String.valueOf(b.getHost())) && port(a) == port(b);
  }

  /**
   * A provider's value read as an http(s) URL with a host.
   *
   * @param value the provider's value, or null
   * @return the URL, or null when it is absent, unreadable, not http(s) or without a host
   */
  public static @Nullable URI httpUrl(@Nullable String value) {
    if (value == null || value.isBlank()) {
      return null;
    }
    try {
      URI u = URI.create(value.strip());
      String scheme = u.getScheme();
      return scheme != null && scheme.toLowerCase(Locale.ROOT).matches("https?") && u.getHost() != null ? u : null;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /**
   * A URL a provider returned (a status or result link), when it lies under the provider's base
   * URL: the same origin and, where the base has a path, under that path. Anything else gives null,
   * so that credentials are never sent to another host.
   *
   * @param returned the provider's value, or null
   * @param base the provider's base URL
   * @return the URL, or null when it is absent, not http(s), or not under the base
   */
  public static @Nullable URI underBase(@Nullable String returned, URI base) {
    URI u = httpUrl(returned);
    if (u == null || !sameOrigin(u, base)) {
      return null;
    }
    String basePath = base.getRawPath() == null ? "" : base.getRawPath().replaceAll("/+$", "");
    String path = u.getRawPath() == null ? "" : u.getRawPath();
    return basePath.isEmpty() || path.equals(basePath) || path.startsWith(basePath + "/") ? u : null;
  }

  /**
   * Merges a request's provider options into a JSON body, deeply: an object option merges into an
   * object already there, any other value replaces it, and a null value removes the field. The
   * common way a provider lets callers set fields imagegen does not model.
   *
   * @param body the body to change
   * @param options the options, e.g. {@code request.providerOptions(providerId)}
   * @param mapper the mapper that turns option values into JSON
   * @return the body
   */
  public static ObjectNode mergeOptions(ObjectNode body, Map<String, ?> options, ObjectMapper mapper) {
    options.forEach((key, value) -> {
      if (value == null || value instanceof NullNode) {
        body.remove(key);
        return;
      }
      JsonNode v = value instanceof JsonNode n ? n : mapper.valueToTree(value);
      JsonNode old = body.get(key);
      if (old instanceof ObjectNode o && v instanceof ObjectNode add) {
        merge(o, add);
      } else {
        body.set(key, v);
      }
    });
    return body;
  }

  private static void merge(ObjectNode into, ObjectNode add) {
    add.fields().forEachRemaining(e -> {
      JsonNode old = into.get(e.getKey());
      if (e.getValue().isNull()) {
        into.remove(e.getKey());
      } else if (old instanceof ObjectNode o && e.getValue() instanceof ObjectNode a) {
        merge(o, a);
      } else {
        into.set(e.getKey(), e.getValue());
      }
    });
  }

  private static int port(URI u) {
    if (u.getPort() >= 0) {
      return u.getPort();
    }
    return "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
  }
}
