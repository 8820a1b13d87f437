package dev.imagegen.provider.fal;

import java.net.URI;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * fal app ids: aliases, the kind of input each model takes, and the queue URLs built from an id.
 *
 * <p>An app id is {@code owner/alias[/path]}; a leading {@code workflows/} or {@code comfy/} adds a
 * namespace segment. A submit goes to the full id; status, result and cancel use only the
 * {@code [namespace/]owner/alias} part: {@code fal-ai/flux/schnell} is submitted to
 * {@code …/fal-ai/flux/schnell} and polled at {@code …/fal-ai/flux/requests/{id}/status}.
 */
final class FalModels {
  /** FLUX.1 [schnell]: text to image, priced per megapixel. */
  static final String FLUX_SCHNELL = "fal-ai/flux/schnell";
  /** Nano Banana Pro edit: prompt plus {@code image_urls}, priced per image. */
  static final String NANO_BANANA_PRO_EDIT = "fal-ai/nano-banana-pro/edit";
  /** Nano Banana edit: like the Pro edit, without {@code resolution}. */
  static final String NANO_BANANA_EDIT = "fal-ai/nano-banana/edit";
  /** Nano Banana 2 edit: like the Pro edit. */
  static final String NANO_BANANA_2_EDIT = "fal-ai/nano-banana-2/edit";

  /** Short names users may write instead of a fal id. */
  static final Map<String, String> ALIASES;

  static {
    Map<String, String> a = new LinkedHashMap<>();
    a.put("flux-schnell", FLUX_SCHNELL);
    a.put("flux/schnell", FLUX_SCHNELL);
    a.put("nano-banana-pro/edit", NANO_BANANA_PRO_EDIT);
    a.put("nano-banana/edit", NANO_BANANA_EDIT);
    a.put("nano-banana-2/edit", NANO_BANANA_2_EDIT);
    ALIASES = java.util.Collections.unmodifiableMap(a);
  }

  /** Every model name this provider lists (aliases and the ids they stand for). */
  static final List<String> LISTED = List.of("flux-schnell", FLUX_SCHNELL, NANO_BANANA_PRO_EDIT, NANO_BANANA_EDIT,
      NANO_BANANA_2_EDIT, "nano-banana-pro/edit", "nano-banana/edit", "nano-banana-2/edit");

  private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");
  private static final Pattern REQUEST_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,127}");

  /** What a model takes besides the prompt. */
  enum Kind {
    /** Text to image ({@code image_size}, steps, guidance...): no input image. */
    TEXT,
    /** Editing with several input images in {@code image_urls} (init first, then references). */
    EDIT,
    /** Image to image with one {@code image_url} and a {@code strength}. */
    IMAGE_TO_IMAGE
  }

  private FalModels() {}

  /**
   * Resolves a model name to a fal app id.
   *
   * @param name an alias or a fal id
   * @return the id, or null when the name is neither an alias nor a well-formed id
   */
  static @Nullable String resolve(String name) {
    String n = name.strip();
    String alias = ALIASES.get(n.toLowerCase(Locale.ROOT));
    if (alias != null) {
      return alias;
    }
    List<String> segments = Arrays.asList(n.split("/", -1));
    int min = hasNamespace(segments) ? 3 : 2;
    if (segments.size() < min) {
      return null;
    }
    for (String s : segments) {
      if (!SEGMENT.matcher(s).matches() || s.equals("..") || s.equals("requests")) {
        return null;
      }
    }
    return n;
  }

  /**
   * The part of an app id that status, result and cancel URLs use: {@code [namespace/]owner/alias}.
   *
   * @param appId a resolved app id
   */
  static String rootId(String appId) {
    List<String> segments = Arrays.asList(appId.split("/"));
    int keep = hasNamespace(segments) ? 3 : 2;
    return String.join("/", segments.subList(0, Math.min(keep, segments.size())));
  }

  private static boolean hasNamespace(List<String> segments) {
    return !segments.isEmpty() && (segments.get(0).equals("workflows") || segments.get(0).equals("comfy"));
  }

  /**
   * What a model takes: the known editing models and ids ending in {@code /edit} take
   * {@code image_urls}; ids ending in {@code /image-to-image} take one {@code image_url}; the rest
   * are text to image.
   *
   * @param appId a resolved app id
   */
  static Kind kind(String appId) {
    String last = appId.substring(appId.lastIndexOf('/') + 1).toLowerCase(Locale.ROOT);
    if (last.equals("edit") || last.endsWith("-edit")) {
      return Kind.EDIT;
    }
    if (last.equals("image-to-image") || last.equals("img2img")) {
      return Kind.IMAGE_TO_IMAGE;
    }
    return Kind.TEXT;
  }

  /** Whether a model is one of the Nano Banana editing models (aspect_ratio, resolution, no image_size). */
  static boolean isNanoBanana(String appId) {
    return appId.equals(NANO_BANANA_PRO_EDIT) || appId.equals(NANO_BANANA_EDIT) || appId.equals(NANO_BANANA_2_EDIT);
  }

  /** Whether a Nano Banana model takes {@code resolution} (the plain Nano Banana does not). */
  static boolean takesResolution(String appId) {
    return appId.equals(NANO_BANANA_PRO_EDIT) || appId.equals(NANO_BANANA_2_EDIT);
  }

  /**
   * Whether a request id from fal is safe to put in a URL path.
   *
   * @param id the id
   */
  static boolean isSafeRequestId(String id) {
    return REQUEST_ID.matcher(id).matches();
  }

  /**
   * The submit URL: the queue base plus the full app id.
   *
   * @param base the queue base URL
   * @param appId the app id
   */
  static URI submitUrl(URI base, String appId) {
    return URI.create(trim(base) + "/" + appId);
  }

  /**
   * A request's URL built from the app id: {@code base/[namespace/]owner/alias/requests/{id}} plus
   * a suffix ({@code ""}, {@code "/status"}, {@code "/cancel"}).
   *
   * @param base the queue base URL
   * @param appId the app id (any sub-path is dropped)
   * @param requestId the request id
   * @param suffix what follows the id
   */
  static URI requestUrl(URI base, String appId, String requestId, String suffix) {
    return URI.create(trim(base) + "/" + rootId(appId) + "/requests/" + requestId + suffix);
  }

  /**
   * A URL fal returned ({@code status_url}, {@code response_url}, {@code cancel_url}), made safe to
   * call with the key: kept as it is when it lies on the configured queue host; otherwise its path
   * is moved onto the configured base (a proxy or a sandbox stands in for fal's host), so the key
   * never goes to a host nobody configured. Null when the value is missing or not an http(s) URL.
   *
   * @param base the queue base URL
   * @param returned what fal returned, or null
   */
  static @Nullable URI onBase(URI base, @Nullable String returned) {
    if (returned == null || returned.isBlank()) {
      return null;
    }
    URI u;
    try {
      u = URI.create(returned.strip());
    } catch (IllegalArgumentException e) {
      return null;
    }
    String scheme = u.getScheme();
    if (scheme == null || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https")) || u.getRawPath() == null
        || u.getHost() == null) {
      return null;
    }
    if (sameOrigin(u, base)) {
      return u;
    }
    String path = u.getRawPath();
    String basePath = base.getRawPath() == null ? "" : base.getRawPath();
    while (basePath.endsWith("/")) {
      basePath = basePath.substring(0, basePath.length() - 1);
    }
    if (!basePath.isEmpty() && path.startsWith(basePath + "/")) {
      path = path.substring(basePath.length()); // already carries the base's path
    }
    return URI.create(trim(base) + path + (u.getRawQuery() == null ? "" : "?" + u.getRawQuery()));
  }

  private static boolean sameOrigin(URI a, URI b) {
    return a.getScheme().equalsIgnoreCase(String.valueOf(b.getScheme())) && a.getHost().equalsIgnoreCase(String.valueOf(b.getHost()))
        && port(a) == port(b);
  }

  private static int port(URI u) {
    if (u.getPort() >= 0) {
      return u.getPort();
    }
    return "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
  }

  private static String trim(URI base) {
    String s = base.toString();
    while (s.endsWith("/")) {
      s = s.substring(0, s.length() - 1);
    }
    return s;
  }
}
