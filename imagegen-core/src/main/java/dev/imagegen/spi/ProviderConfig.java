package dev.imagegen.spi;

import java.math.BigDecimal;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * One provider's configuration: string values under lower-case, dash-separated keys such as
 * {@code api-key}, {@code base-url}, {@code timeout}, {@code requests-per-minute},
 * {@code max-concurrent}, {@code priority}, {@code price-per-image}. Immutable and thread-safe.
 *
 * <p>Operators set it without code: environment variables {@code IMAGEGEN_<PROVIDER>_<KEY>}
 * ({@code IMAGEGEN_FAL_API_KEY}), system or file properties {@code imagegen.<provider>.<key>}
 * ({@code imagegen.fal.api-key}), and each provider's customary variable as a fallback
 * ({@code FAL_KEY}). Properties win over {@code IMAGEGEN_} variables, which win over customary ones.
 *
 * <p>{@link #toString()} masks every value whose key names a credential, and the user info of
 * every URL ({@code https://user:pass@host}).
 */
public final class ProviderConfig {

  /** Standard key: the credential. */
  public static final String API_KEY = "api-key";
  /** Standard key: where the provider's API lives (tests and proxies point it elsewhere). */
  public static final String BASE_URL = "base-url";
  /** Standard key: per-HTTP-call timeout, e.g. {@code 30s} or {@code PT30S}. */
  public static final String TIMEOUT = "timeout";
  /** Standard key: client-side rate limit. */
  public static final String REQUESTS_PER_MINUTE = "requests-per-minute";
  /**
   * Standard key: the provider's poll budget, most status polls per second for all its jobs in the
   * service (0: none); the provider's own default comes from its published limits.
   */
  public static final String POLLS_PER_SECOND = "polls-per-second";
  /** Standard key: most calls in flight at once; more wait in a queue. */
  public static final String MAX_CONCURRENT = "max-concurrent";
  /**
   * Standard key: most HTTP exchanges in flight to this provider at once (its API calls and
   * result downloads; default 64): more wait in a queue, within their timeout. The JDK's client
   * opens one connection per concurrent HTTP/1.1 exchange and has no bound of its own, so this is
   * the bound on the provider's connections. Status streams are not counted.
   */
  public static final String MAX_CONNECTIONS = "max-connections";
  /** The default of {@link #MAX_CONNECTIONS}. */
  public static final int DEFAULT_MAX_CONNECTIONS = 64;
  /** Standard key: routing priority, lower first. */
  public static final String PRIORITY = "priority";
  /** Standard key: whether the provider is enabled (a boolean, see {@link #bool}). */
  public static final String ENABLED = "enabled";
  /** Standard key: price of one image in USD. */
  public static final String PRICE_PER_IMAGE = "price-per-image";
  /** Standard key: price of one megapixel in USD. */
  public static final String PRICE_PER_MEGAPIXEL = "price-per-megapixel";
  /** Standard key: price of one GPU-second in USD. */
  public static final String PRICE_PER_GPU_SECOND = "price-per-gpu-second";
  /** Standard key: largest result image accepted, in bytes. */
  public static final String MAX_IMAGE_BYTES = "max-image-bytes";
  /**
   * Standard key: whether result images may be downloaded from loopback and private addresses
   * ({@code true}/{@code false}, default false unless the provider's own {@value #BASE_URL} is
   * such an address). Link-local and cloud metadata addresses are refused regardless.
   */
  public static final String ALLOW_PRIVATE_DOWNLOADS = "allow-private-downloads";
  /** Standard key: how long a result image download may take, e.g. {@code 60s}. */
  public static final String DOWNLOAD_TIMEOUT = "download-timeout";
  /** Standard key: GPU-seconds a generation is assumed to take when pricing per GPU-second. */
  public static final String TYPICAL_GPU_SECONDS = "typical-gpu-seconds";

  /**
   * The keys core reads for every provider, beyond what a provider declares in
   * {@link ImageProviderFactory#settings()}: an entry ending in {@code .*} is a family (a key that
   * starts with it, e.g. {@code price.fal-ai/flux-schnell}, which arrives from a property or an
   * environment variable as {@code price-fal-ai-flux-schnell}).
   */
  public static final Set<String> STANDARD_SETTINGS = Set.of(API_KEY, BASE_URL, TIMEOUT, REQUESTS_PER_MINUTE, POLLS_PER_SECOND,
      MAX_CONCURRENT, MAX_CONNECTIONS,
      PRIORITY, ENABLED, PRICE_PER_IMAGE, PRICE_PER_MEGAPIXEL, PRICE_PER_GPU_SECOND, "price.*", TYPICAL_GPU_SECONDS,
      MAX_IMAGE_BYTES, ALLOW_PRIVATE_DOWNLOADS, DOWNLOAD_TIMEOUT);

  /** The origin of a value set with {@link Builder#set}. */
  public static final String SET_IN_CODE = "set in code";
  /** The origin of a value that came from {@link #withDefaults}. */
  public static final String DEFAULT = "default";

  private final String providerId;
  private final Map<String, String> values;
  private final Map<String, String> origins;

  private ProviderConfig(String providerId, Map<String, String> values, Map<String, String> origins) {
    this.providerId = providerId;
    this.values = Collections.unmodifiableMap(new TreeMap<>(values));
    this.origins = Map.copyOf(origins);
  }

  /**
   * A builder for code-based configuration (tests, applications that read their own config).
   *
   * @param providerId the provider id, e.g. {@code fal}
   */
  public static Builder builder(String providerId) {
    return new Builder(providerId);
  }

  /**
   * Reads a provider's configuration from the environment and properties.
   *
   * @param providerId the provider id
   * @param env environment variables (usually {@code System.getenv()})
   * @param properties properties (usually {@code System.getProperties()} plus a file)
   * @param customary each key's customary environment variables, in order of preference
   *     (e.g. {@code api-key -> [FAL_KEY]})
   * @return the configuration
   */
  public static ProviderConfig from(String providerId, Map<String, String> env, Properties properties,
      Map<String, List<String>> customary) {
    return from(providerId, env, properties, customary, name -> "property " + name);
  }

  /**
   * Like {@link #from(String, Map, Properties, Map)}, saying where each property came from, so that
   * {@link #origin} and error messages name it.
   *
   * @param providerId the provider id
   * @param env environment variables (usually {@code System.getenv()})
   * @param properties properties (usually {@code System.getProperties()} plus a file)
   * @param customary each key's customary environment variables, in order of preference
   * @param propertyOrigin a property's name to where it came from, e.g.
   *     {@code system property imagegen.fal.timeout} or {@code imagegen.fal.timeout in file app.properties}
   * @return the configuration
   */
  public static ProviderConfig from(String providerId, Map<String, String> env, Properties properties,
      Map<String, List<String>> customary, Function<String, String> propertyOrigin) {
    Builder b = builder(providerId);
    customary.forEach((key, names) -> {
      for (int i = names.size() - 1; i >= 0; i--) {
        String v = env.get(names.get(i));
        if (v != null && !v.isBlank()) {
          b.set(key, v.strip(), "environment variable " + names.get(i));
        }
      }
    });
    String envPrefix = envPrefix(providerId);
    env.forEach((name, v) -> {
      if (name.startsWith(envPrefix) && v != null && !v.isBlank()) {
        b.set(envKey(providerId, name), v.strip(), "environment variable " + name);
      }
    });
    String propPrefix = "imagegen." + providerId + ".";
    for (String name : properties.stringPropertyNames()) {
      if (name.startsWith(propPrefix)) {
        String v = properties.getProperty(name);
        if (v != null && !v.isBlank()) {
          b.set(propertyKey(providerId, name), v.strip(), propertyOrigin.apply(name));
        }
      }
    }
    return b.build();
  }

  /**
   * The prefix of a provider's {@code IMAGEGEN_} environment variables.
   *
   * @param providerId the provider id
   * @return e.g. {@code IMAGEGEN_FAL_}
   */
  public static String envPrefix(String providerId) {
    return "IMAGEGEN_" + providerId.toUpperCase(Locale.ROOT).replace('-', '_') + "_";
  }

  /**
   * The key an environment variable of a provider sets, as {@link #from} reads it.
   *
   * @param providerId the provider id
   * @param name a variable that starts with {@link #envPrefix}, e.g. {@code IMAGEGEN_FAL_BASE_URL}
   * @return the key, e.g. {@code base-url}
   */
  public static String envKey(String providerId, String name) {
    return name.substring(envPrefix(providerId).length()).toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /**
   * The key a property of a provider sets, as {@link #from} reads it.
   *
   * @param providerId the provider id
   * @param name a property that starts with {@code imagegen.<provider>.}, e.g. {@code imagegen.fal.base-url}
   * @return the key, e.g. {@code base-url}
   */
  public static String propertyKey(String providerId, String name) {
    return name.substring(("imagegen." + providerId + ".").length()).toLowerCase(Locale.ROOT).replace('_', '-').replace('.', '-');
  }

  /**
   * This configuration with defaults for the keys it does not set.
   *
   * @param defaults key to default value
   * @return the merged configuration
   */
  public ProviderConfig withDefaults(Map<String, String> defaults) {
    if (defaults.isEmpty()) {
      return this;
    }
    Map<String, String> merged = new LinkedHashMap<>(defaults);
    merged.putAll(values);
    Map<String, String> mergedOrigins = new LinkedHashMap<>();
    defaults.keySet().forEach(k -> mergedOrigins.put(k, DEFAULT));
    mergedOrigins.putAll(origins);
    return new ProviderConfig(providerId, merged, mergedOrigins);
  }

  /**
   * Where a value came from, for messages: {@code environment variable IMAGEGEN_FAL_TIMEOUT},
   * {@code system property imagegen.fal.timeout}, {@code imagegen.fal.timeout in file PATH},
   * {@value #SET_IN_CODE} or {@value #DEFAULT}.
   *
   * @param key the key
   * @return the origin, empty when the key is unset
   */
  public Optional<String> origin(String key) {
    if (!values.containsKey(key)) {
      return Optional.empty();
    }
    return Optional.of(origins.getOrDefault(key, SET_IN_CODE));
  }

  /** The key in quotes and where its value came from, e.g. {@code 'timeout' (environment variable IMAGEGEN_FAL_TIMEOUT)}. */
  private String named(String key) {
    return "'" + key + "'" + origin(key).map(o -> " (" + o + ")").orElse("");
  }

  /** A value as an error message may show it: masked when the key names a credential. */
  private String shown(String key, @Nullable String value) {
    return value != null && isSecretKey(key) ? Redactor.MASK : String.valueOf(value);
  }

  /** The provider id this configuration is for. */
  public String providerId() {
    return providerId;
  }

  /** Every key and value. */
  public Map<String, String> values() {
    return values;
  }

  /** Whether nothing is configured. */
  public boolean isEmpty() {
    return values.isEmpty();
  }

  /**
   * A raw value.
   *
   * @param key the key
   */
  public Optional<String> get(String key) {
    return Optional.ofNullable(values.get(key));
  }

  /**
   * A value that must be present.
   *
   * @param key the key
   * @throws IllegalStateException naming the provider, the key and where to set it
   */
  public String require(String key) {
    String v = values.get(key);
    if (v == null) {
      throw new IllegalStateException(providerId + ": '" + key + "' is not configured (set " + whereToSet(key) + ")");
    }
    return v;
  }

  /**
   * A credential.
   *
   * @param key the key
   */
  public Optional<Secret> secret(String key) {
    return get(key).map(Secret::of);
  }

  /** The {@value #API_KEY} credential, when set (a blank value counts as unset). */
  public Optional<Secret> apiKey() {
    return get(API_KEY).map(String::strip).filter(k -> !k.isEmpty()).map(Secret::of);
  }

  /**
   * The {@value #API_KEY} credential, which the provider cannot work without.
   *
   * @return the key
   * @throws IllegalStateException naming the provider and where to set the key, when it is unset or blank
   */
  public Secret requireApiKey() {
    return apiKey().orElseThrow(() -> new IllegalStateException(providerId + ": no API key: set " + whereToSet(API_KEY)));
  }

  /**
   * A text value, stripped; unset or blank gives the default.
   *
   * @param key the key
   * @param defaultValue used when unset or blank
   * @return the value
   */
  public String string(String key, String defaultValue) {
    return get(key).map(String::strip).filter(v -> !v.isEmpty()).orElse(defaultValue);
  }

  /**
   * An integer within bounds.
   *
   * @param key the key
   * @param defaultValue used when unset
   * @param min the smallest value allowed
   * @param max the largest value allowed
   * @return the value
   * @throws IllegalStateException naming the key, the value and the bounds when it is not a whole number in them
   */
  public int intValue(String key, int defaultValue, int min, int max) {
    int v = intValue(key, defaultValue);
    if (v < min || v > max) {
      throw new IllegalStateException(providerId + ": " + named(key) + " must be a whole number from " + min + " to " + max
          + ", was " + shown(key, values.get(key)));
    }
    return v;
  }

  /**
   * A whole number (a byte size, a count) within bounds.
   *
   * @param key the key
   * @param defaultValue used when unset
   * @param min the smallest value allowed
   * @param max the largest value allowed
   * @return the value
   * @throws IllegalStateException naming the key, the value and the bounds when it is not a whole number in them
   */
  public long longValue(String key, long defaultValue, long min, long max) {
    String s = values.get(key);
    long v;
    try {
      v = s == null ? defaultValue : Long.parseLong(s.strip());
    } catch (NumberFormatException e) {
      v = Long.MIN_VALUE;
    }
    if (v < min || v > max) {
      throw new IllegalStateException(providerId + ": " + named(key) + " must be a whole number from " + min + " to " + max
          + ", was " + shown(key, s));
    }
    return v;
  }

  /**
   * A duration within bounds (see {@link #duration(String, Duration)} for the forms).
   *
   * @param key the key
   * @param defaultValue used when unset
   * @param min the shortest allowed
   * @param max the longest allowed
   * @return the value
   * @throws IllegalStateException naming the key, the value and the bounds when it is not a duration in them
   */
  public Duration duration(String key, Duration defaultValue, Duration min, Duration max) {
    Duration d = duration(key, defaultValue);
    if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
      throw new IllegalStateException(providerId + ": " + named(key) + " must be from " + min.toString().substring(2).toLowerCase(
          Locale.ROOT) + " to " + max.toString().substring(2).toLowerCase(Locale.ROOT) + ", was " + shown(key, values.get(key)));
    }
    return d;
  }

  /**
   * An http(s) URL, without a trailing slash (like {@link #baseUrl} for any key, e.g. a second
   * host the provider talks to).
   *
   * @param key the key
   * @param defaultUrl used when unset
   * @return the URL
   * @throws IllegalStateException naming the key when the value is not an http(s) URL with a host
   */
  public URI url(String key, String defaultUrl) {
    String s = string(key, defaultUrl).replaceAll("/+$", "");
    try {
      URI u = new URI(s);
      if (u.getScheme() == null || !u.getScheme().toLowerCase(Locale.ROOT).matches("https?") || u.getHost() == null) {
        throw new URISyntaxException(s, "not an http(s) URL with a host");
      }
      return u;
    } catch (URISyntaxException e) {
      throw new IllegalStateException(providerId + ": " + named(key) + " is not an http(s) URL: " + maskUserInfo(s), e);
    }
  }

  /**
   * One of a few allowed words, compared ignoring case; the result is the allowed spelling.
   *
   * @param key the key
   * @param defaultValue used when unset or blank
   * @param allowed the allowed values
   * @return the value
   * @throws IllegalStateException naming the key, the value and the allowed ones otherwise
   */
  public String choice(String key, String defaultValue, String... allowed) {
    String v = string(key, defaultValue);
    for (String a : allowed) {
      if (a.equalsIgnoreCase(v)) {
        return a;
      }
    }
    throw new IllegalStateException(providerId + ": " + named(key) + " must be one of " + String.join(", ", allowed) + ", was '"
        + shown(key, v) + "'");
  }

  /**
   * The keys that start with {@code prefix} and a dot or a dash, e.g. {@code model.<alias>} or
   * {@code price.<model>} (a property or variable arrives as {@code price-<model>}), with the
   * prefix taken off and the rest in the form of {@link #normalizeKeyPart}, in configuration order.
   *
   * @param prefix the prefix without its dot, e.g. {@code price}
   * @return the rest of each key to its value
   */
  public Map<String, String> withPrefix(String prefix) {
    Map<String, String> out = new LinkedHashMap<>();
    values.forEach((k, v) -> {
      if (k.length() > prefix.length() + 1 && k.startsWith(prefix) && (k.charAt(prefix.length()) == '.'
          || k.charAt(prefix.length()) == '-')) {
        out.put(normalizeKeyPart(k.substring(prefix.length() + 1)), v);
      }
    });
    return out;
  }

  /**
   * A name (a model id, an alias) as it stands in a key read from a property or an environment
   * variable, where dots, slashes and underscores all become dashes: lower case, with each of
   * {@code . / _} as {@code -}. Compare names against {@link #withPrefix} keys in this form.
   *
   * @param name the name
   * @return the name as a key part
   */
  public static String normalizeKeyPart(String name) {
    return name.strip().toLowerCase(Locale.ROOT).replace('/', '-').replace('.', '-').replace('_', '-');
  }

  /**
   * Where an operator sets a key of this provider, for error messages: the property and the
   * environment variable.
   *
   * @param key the key
   * @return e.g. {@code imagegen.fal.api-key or IMAGEGEN_FAL_API_KEY}
   */
  public String whereToSet(String key) {
    return "imagegen." + providerId + "." + key + " or IMAGEGEN_" + providerId.toUpperCase(Locale.ROOT).replace('-', '_') + "_"
        + key.toUpperCase(Locale.ROOT).replace('-', '_').replace('.', '_');
  }

  /**
   * The {@value #BASE_URL}, without a trailing slash.
   *
   * @param defaultUrl the provider's public API
   */
  public URI baseUrl(String defaultUrl) {
    String s = values.getOrDefault(BASE_URL, defaultUrl);
    while (s.endsWith("/")) {
      s = s.substring(0, s.length() - 1);
    }
    try {
      return URI.create(s);
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException(providerId + ": " + named(BASE_URL) + " is not a URL: " + maskUserInfo(s), e);
    }
  }

  /**
   * A duration: {@code 30s}, {@code 500ms}, {@code 5m}, {@code 1h}, a number of seconds, or ISO-8601.
   *
   * @param key the key
   * @param defaultValue used when unset
   */
  public Duration duration(String key, Duration defaultValue) {
    String s = values.get(key);
    if (s == null) {
      return defaultValue;
    }
    Duration d = parseDuration(s);
    if (d == null) {
      throw new IllegalStateException(providerId + ": " + named(key) + " is not a duration such as 30s, 500ms, 5m, 1h or PT30S: "
          + shown(key, s));
    }
    return d;
  }

  /**
   * Parses {@code 30s}, {@code 500ms}, {@code 5m}, {@code 1h}, a bare number of seconds, or ISO-8601.
   *
   * @param s the text
   * @return the duration, or null when it cannot be parsed
   */
  public static @Nullable Duration parseDuration(String s) {
    String t = s.strip().toLowerCase(Locale.ROOT);
    try {
      if (t.startsWith("p")) {
        return Duration.parse(t.toUpperCase(Locale.ROOT));
      }
      if (t.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2).strip()));
      }
      char unit = t.charAt(t.length() - 1);
      if (Character.isDigit(unit)) {
        return Duration.ofMillis((long) (Double.parseDouble(t) * 1000));
      }
      double n = Double.parseDouble(t.substring(0, t.length() - 1).strip());
      switch (unit) {
        case 's': return Duration.ofMillis((long) (n * 1000));
        case 'm': return Duration.ofMillis((long) (n * 60_000));
        case 'h': return Duration.ofMillis((long) (n * 3_600_000));
        default: return null;
      }
    } catch (NumberFormatException | DateTimeParseException | StringIndexOutOfBoundsException e) {
      return null;
    }
  }

  /**
   * An integer.
   *
   * @param key the key
   * @param defaultValue used when unset
   */
  public int intValue(String key, int defaultValue) {
    String s = values.get(key);
    if (s == null) {
      return defaultValue;
    }
    try {
      return Integer.parseInt(s.strip());
    } catch (NumberFormatException e) {
      throw new IllegalStateException(providerId + ": " + named(key) + " is not an integer: " + shown(key, s));
    }
  }

  /**
   * A decimal number, e.g. a price.
   *
   * @param key the key
   */
  public Optional<BigDecimal> decimal(String key) {
    String s = values.get(key);
    if (s == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(new BigDecimal(s.strip()));
    } catch (NumberFormatException e) {
      throw new IllegalStateException(providerId + ": " + named(key) + " is not a number: " + shown(key, s));
    }
  }

  /**
   * A boolean: {@code true/false}, {@code yes/no}, {@code on/off} or {@code 1/0}, in any case.
   *
   * @param key the key
   * @param defaultValue used when unset
   * @return the value
   * @throws IllegalStateException naming the key, where it was set and the accepted forms for anything else
   */
  public boolean bool(String key, boolean defaultValue) {
    String s = values.get(key);
    if (s == null) {
      return defaultValue;
    }
    Boolean b = parseBoolean(s);
    if (b == null) {
      // a typo ("ture") must not silently mean false
      throw new IllegalStateException(providerId + ": " + named(key) + " must be " + BOOLEAN_FORMS + ", was '" + shown(key, s.strip())
          + "'");
    }
    return b;
  }

  /** The forms {@link #parseBoolean} accepts, for messages. */
  public static final String BOOLEAN_FORMS = "true or false (also yes/no, on/off, 1/0)";

  /**
   * Parses a boolean: {@code true/false}, {@code yes/no}, {@code on/off} or {@code 1/0}, in any case.
   *
   * @param s the text
   * @return the value, or null when it is none of these
   */
  public static @Nullable Boolean parseBoolean(String s) {
    switch (s.strip().toLowerCase(Locale.ROOT)) {
      case "true": case "yes": case "on": case "1": return Boolean.TRUE;
      case "false": case "no": case "off": case "0": return Boolean.FALSE;
      default: return null;
    }
  }

  /**
   * Whether a key is one core reads ({@link #STANDARD_SETTINGS}) or one of a provider's declared
   * settings ({@link ImageProviderFactory#settings()}), a family ({@code model.*}) matching every
   * key under it; compared in the form {@link #from} gives keys ({@code price.fal-ai/flux-schnell}
   * and {@code price-fal-ai-flux-schnell} are the same key).
   *
   * @param settings the provider's declared settings
   * @param key the key, e.g. {@code base-url} or {@code model.fast}
   * @return whether the provider or core reads it
   */
  public static boolean isDeclared(Set<String> settings, String key) {
    String k = normalizeKeyPart(key);
    for (Set<String> set : List.of(STANDARD_SETTINGS, settings)) {
      for (String s : set) {
        if (s.endsWith(".*")) {
          String family = normalizeKeyPart(s.substring(0, s.length() - 2)) + "-";
          if (k.startsWith(family) && k.length() > family.length()) {
            return true;
          }
        } else if (normalizeKeyPart(s).equals(k)) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * A URL as logs and messages may show it: user info ({@code https://user:pass@host}) masked.
   *
   * @param url the URL, or any text
   * @return the text with what stands between {@code ://} and an {@code @} before the path masked
   */
  public static String maskUserInfo(String url) {
    return url.replaceFirst("(?<=://)[^/?#@]*@", Redactor.MASK + "@");
  }

  /** Whether a key names a credential (its value is masked in {@link #toString()} and redacted from logs). */
  public static boolean isSecretKey(String key) {
    String k = key.toLowerCase(Locale.ROOT);
    return k.contains("key") || k.contains("token") || k.contains("secret") || k.contains("password")
        || k.contains("auth");
  }

  /** Every credential in this configuration. */
  public List<Secret> secrets() {
    return values.entrySet().stream().filter(e -> isSecretKey(e.getKey())).map(e -> Secret.of(e.getValue())).toList();
  }

  @Override
  public String toString() {
    Map<String, String> shown = new LinkedHashMap<>();
    values.forEach((k, v) -> shown.put(k, isSecretKey(k) ? Redactor.MASK : maskUserInfo(v)));
    return "ProviderConfig[" + providerId + " " + shown + "]";
  }

  /** Builds a {@link ProviderConfig}. Not thread-safe. */
  public static final class Builder {
    private final String providerId;
    private final Map<String, String> values = new LinkedHashMap<>();
    private final Map<String, String> origins = new LinkedHashMap<>();

    private Builder(String providerId) {
      this.providerId = providerId;
    }

    /**
     * Sets a value.
     *
     * @param key the key, e.g. {@code base-url}
     * @param value the value
     * @return this
     */
    public Builder set(String key, String value) {
      return set(key, value, SET_IN_CODE);
    }

    /**
     * Sets a value and says where it came from (see {@link ProviderConfig#origin}).
     *
     * @param key the key, e.g. {@code base-url}
     * @param value the value
     * @param origin where it came from, e.g. {@code environment variable IMAGEGEN_FAL_BASE_URL}
     * @return this
     */
    public Builder set(String key, String value, String origin) {
      values.put(key, value);
      origins.put(key, origin);
      return this;
    }

    /** @param apiKey the credential @return this */
    public Builder apiKey(String apiKey) {
      return set(API_KEY, apiKey);
    }

    /** @param baseUrl where the API lives @return this */
    public Builder baseUrl(String baseUrl) {
      return set(BASE_URL, baseUrl);
    }

    /** Builds the configuration. */
    public ProviderConfig build() {
      return new ProviderConfig(providerId, values, origins);
    }
  }
}
