package dev.imagegen;

import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * Reads the service's and every provider's settings from environment variables, system properties
 * and a properties file, and finds the mistakes in them: values that cannot be read (problems) and
 * names nothing reads (warnings, with the nearest known name).
 */
final class EnvironmentConfiguration {

  /** Every service setting, as the part after {@code imagegen.}; the one list of them. */
  static final List<String> SERVICE_SETTINGS = List.of("config", "strict", "routing", "timeout", "max-retries", "max-pending",
      "failover-on-unknown-outcome", "budget.total", "budget.window", "budget.allow-unknown-prices", "health.timeout",
      "health.cache-ttl", "journal", "instance-id", "journal.recover",
      "journal.lease");

  /**
   * Settings that optional modules read themselves ({@code imagegen-redis}'s stores, the Spring Boot
   * starter's webhook endpoint), as the part after {@code imagegen.}: known names, so that setting them is no
   * "no such setting" warning.
   */
  static final List<String> MODULE_SETTINGS = List.of("redis.url", "redis.key-prefix", "redis.timeout",
      "redis.journal.key-prefix", "redis.journal.lease", "redis.rate-limit.key-prefix",
      "redis.cooldown.key-prefix", "webhooks.endpoint.enabled", "webhooks.endpoint.path");

  private static final String DURATION_FORMS = "duration such as 30s, 500ms, 5m, 1h or PT30S";

  private final Map<String, String> env;
  private final Properties system;
  private final Properties props = new Properties();
  private @Nullable String file;
  private final List<ImageProviderFactory> factories;
  final List<String> problems = new ArrayList<>();
  final List<String> warnings = new ArrayList<>();
  @Nullable Boolean strict;

  EnvironmentConfiguration(Map<String, String> env, Properties system, List<ImageProviderFactory> factories) {
    this.env = env;
    this.system = system;
    this.factories = factories;
    for (String name : system.stringPropertyNames()) {
      props.setProperty(name, system.getProperty(name));
    }
    Setting config = setting("config");
    if (config != null) {
      Properties fromFile = new Properties();
      try (InputStream in = Files.newInputStream(Path.of(config.value))) {
        fromFile.load(in);
        file = config.value;
        for (String name : fromFile.stringPropertyNames()) {
          if (props.getProperty(name) == null) {
            props.setProperty(name, fromFile.getProperty(name));
          }
        }
      } catch (IOException | RuntimeException e) {
        problems.add(config.label() + ": cannot read the properties file '" + config.value + "': " + e);
      }
    }
  }

  /** The merged properties: the file's, then the system properties over them. */
  Properties properties() {
    return props;
  }

  /** Where a property came from: {@code system property NAME} or {@code NAME in file PATH}. */
  String originOf(String property) {
    return system.getProperty(property) != null || file == null ? "system property " + property
        : property + " in file " + file;
  }

  private String kindOf(String property) {
    return system.getProperty(property) != null || file == null ? "system property" : "in file " + file;
  }

  /** A service setting as read, with the name the operator used and where it came from. */
  final class Setting {
    final String name;
    final String value;
    final String kind;

    Setting(String name, String value, String kind) {
      this.name = name;
      this.value = value;
      this.kind = kind;
    }

    String label() {
      return name + " (" + kind + ")";
    }

    void problem(String accepted) {
      problems.add(label() + ": '" + value + "' is not accepted; expected " + accepted);
    }
  }

  static String envName(String setting) {
    return "IMAGEGEN_" + setting.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
  }

  /** A service setting: a property (file or system) first, then the environment variable. */
  @Nullable Setting setting(String key) {
    String property = "imagegen." + key;
    String v = props.getProperty(property);
    if (v != null && !v.isBlank()) {
      return new Setting(property, v.strip(), kindOf(property));
    }
    String name = envName(key);
    v = env.get(name);
    if (v != null && !v.isBlank()) {
      return new Setting(name, v.strip(), "environment variable");
    }
    return null;
  }

  // ------------------------------------------------------------------------------ typed readers

  void bool(String key, Consumer<Boolean> then) {
    Setting s = setting(key);
    if (s != null) {
      Boolean b = ProviderConfig.parseBoolean(s.value);
      if (b == null) {
        s.problem(ProviderConfig.BOOLEAN_FORMS);
      } else {
        then.accept(b);
      }
    }
  }

  void duration(String key, boolean zeroAllowed, Consumer<Duration> then) {
    Setting s = setting(key);
    if (s != null) {
      Duration d = ProviderConfig.parseDuration(s.value);
      if (d == null || d.isNegative() || (!zeroAllowed && d.isZero())) {
        s.problem(zeroAllowed ? "a duration of zero or more, " + DURATION_FORMS : "a positive " + DURATION_FORMS);
      } else {
        then.accept(d);
      }
    }
  }

  void durationAtLeast(String key, Duration min, Consumer<Duration> then) {
    Setting s = setting(key);
    if (s != null) {
      Duration d = ProviderConfig.parseDuration(s.value);
      if (d == null || d.compareTo(min) < 0) {
        s.problem("a duration of at least " + min.toMillis() + " ms, " + DURATION_FORMS);
      } else {
        then.accept(d);
      }
    }
  }

  void wholeNumber(String key, int min, Consumer<Integer> then) {
    Setting s = setting(key);
    if (s != null) {
      Integer n = null;
      try {
        n = Integer.parseInt(s.value);
      } catch (NumberFormatException e) {
        // reported below
      }
      if (n == null || n < min) {
        s.problem("a whole number of at least " + min);
      } else {
        then.accept(n);
      }
    }
  }

  <T> void choice(String key, Function<String, @Nullable T> parse, String accepted, Consumer<T> then) {
    Setting s = setting(key);
    if (s != null) {
      T t = parse.apply(s.value);
      if (t == null) {
        s.problem(accepted);
      } else {
        then.accept(t);
      }
    }
  }

  static @Nullable RoutingStrategy routing(String v) {
    for (RoutingStrategy r : RoutingStrategy.values()) {
      if (r.name().equalsIgnoreCase(v)) {
        return r;
      }
    }
    return null;
  }

  static String routings() {
    return Arrays.stream(RoutingStrategy.values()).map(r -> r.name().toLowerCase(Locale.ROOT)).collect(Collectors.joining(", "));
  }

  static @Nullable BigDecimal usd(String v) {
    try {
      BigDecimal d = new BigDecimal(v);
      return d.signum() < 0 ? null : d;
    } catch (NumberFormatException e) {
      return null;
    }
  }

  // ------------------------------------------------------------------------------ unknown names

  /** Reports every {@code imagegen.*} property and {@code IMAGEGEN_*} variable that nothing reads. */
  void findUnknownSettings() {
    Set<String> knownProps = new HashSet<>();
    Set<String> knownEnv = new HashSet<>();
    for (String s : java.util.stream.Stream.concat(SERVICE_SETTINGS.stream(), MODULE_SETTINGS.stream()).toList()) {
      knownProps.add("imagegen." + s);
      knownEnv.add(envName(s));
    }
    List<String> propCandidates = new ArrayList<>(knownProps);
    List<String> envCandidates = new ArrayList<>(knownEnv);
    for (ImageProviderFactory f : factories) {
      for (String key : keysOf(f)) {
        if (!key.endsWith(".*")) {
          propCandidates.add("imagegen." + f.id() + "." + key);
          envCandidates.add(ProviderConfig.envPrefix(f.id()) + key.toUpperCase(Locale.ROOT).replace('-', '_').replace('.', '_'));
        }
      }
    }
    for (String name : new TreeSet<>(props.stringPropertyNames())) {
      if (!name.startsWith("imagegen.") || knownProps.contains(name)) {
        continue;
      }
      ImageProviderFactory f = owner(name, x -> "imagegen." + x.id() + ".");
      if (f != null && isKnown(f, ProviderConfig.propertyKey(f.id(), name))) {
        continue;
      }
      String rest = name.substring("imagegen.".length());
      String id = rest.contains(".") ? rest.substring(0, rest.indexOf('.')) : null;
      warnings.add(name + " (" + kindOf(name) + "): " + unknown(name, propCandidates, f == null ? id : null));
    }
    for (String name : new TreeSet<>(env.keySet())) {
      if (!name.startsWith("IMAGEGEN_") || knownEnv.contains(name)) {
        continue;
      }
      ImageProviderFactory f = owner(name, x -> ProviderConfig.envPrefix(x.id()));
      if (f != null && isKnown(f, ProviderConfig.envKey(f.id(), name))) {
        continue;
      }
      warnings.add(name + " (environment variable): " + unknown(name, envCandidates, f == null ? envProviderId(name) : null));
    }
  }

  /** The provider id in {@code IMAGEGEN_<ID>_<standard key>}, e.g. {@code midjourney} in {@code IMAGEGEN_MIDJOURNEY_API_KEY}. */
  private static @Nullable String envProviderId(String name) {
    String longest = null; // the longest standard key that ends the name (DOWNLOAD_TIMEOUT rather than TIMEOUT)
    for (String key : ProviderConfig.STANDARD_SETTINGS) {
      String suffix = "_" + key.toUpperCase(Locale.ROOT).replace('-', '_');
      if (!key.endsWith(".*") && name.endsWith(suffix) && name.length() > "IMAGEGEN_".length() + suffix.length()
          && (longest == null || suffix.length() > longest.length())) {
        longest = suffix;
      }
    }
    return longest == null ? null
        : name.substring("IMAGEGEN_".length(), name.length() - longest.length()).toLowerCase(Locale.ROOT).replace('_', '-');
  }

  private String unknown(String name, List<String> candidates, @Nullable String providerId) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String c : candidates) {
      int d = levenshtein(name, c);
      if (d < bestDistance || (d == bestDistance && best != null && c.compareTo(best) < 0)) {
        best = c;
        bestDistance = d;
      }
    }
    if (best != null && bestDistance <= Math.max(1, Math.min(3, name.length() / 6))) {
      return "no such setting; did you mean " + best + "?";
    }
    if (providerId != null && !SERVICE_SETTINGS.stream().anyMatch(s -> s.startsWith(providerId + "."))) {
      return "no provider '" + providerId + "' is on the class path (" + found() + ")";
    }
    return "no such setting (" + found() + ")";
  }

  private String found() {
    return factories.isEmpty() ? "no provider module is on the class path"
        : "providers found: " + factories.stream().map(ImageProviderFactory::id).sorted().collect(Collectors.joining(", "));
  }

  /** The factory whose prefix the name starts with, the longest such when ids overlap ({@code a}, {@code a-b}). */
  private @Nullable ImageProviderFactory owner(String name, Function<ImageProviderFactory, String> prefix) {
    return factories.stream().filter(f -> name.startsWith(prefix.apply(f)))
        .max(Comparator.comparingInt(f -> prefix.apply(f).length())).orElse(null);
  }

  private static Set<String> keysOf(ImageProviderFactory f) {
    Set<String> keys = new LinkedHashSet<>(ProviderConfig.STANDARD_SETTINGS);
    keys.addAll(f.settings());
    keys.addAll(f.customaryEnvironment().keySet());
    keys.addAll(f.defaults().keySet());
    return keys;
  }

  /** Whether a key (in the form {@link ProviderConfig#from} gives it) is one the provider or core reads. */
  static boolean isKnown(ImageProviderFactory f, String key) {
    return ProviderConfig.isDeclared(keysOf(f), key);
  }

  static int levenshtein(String a, String b) {
    String x = a.toLowerCase(Locale.ROOT);
    String y = b.toLowerCase(Locale.ROOT);
    int[] prev = new int[y.length() + 1];
    int[] cur = new int[y.length() + 1];
    for (int j = 0; j <= y.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= x.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= y.length(); j++) {
        int cost = x.charAt(i - 1) == y.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[y.length()];
  }

  // ------------------------------------------------------------------------------ nothing configured

  /** What to tell an operator whose configuration enables no provider. */
  String noProviderMessage() {
    if (factories.isEmpty()) {
      return "no provider is configured, and no provider module is on the class path: add one such as "
          + "dev.imagegen:imagegen-provider-fal or dev.imagegen:imagegen-provider-horde (AI Horde works without an account)";
    }
    List<String> each = new ArrayList<>();
    for (ImageProviderFactory f : factories) {
      each.add(f.id() + ": " + howToEnable(f));
    }
    return "no provider is configured; found on the class path: " + String.join("; ", each);
  }

  private static String howToEnable(ImageProviderFactory f) {
    List<String> vars = f.customaryEnvironment().get(ProviderConfig.API_KEY);
    if (vars == null) {
      return "configure it with " + ProviderConfig.envPrefix(f.id()) + "* variables or imagegen." + f.id()
          + ".* properties (see its README)";
    }
    List<String> names = new ArrayList<>(vars);
    names.add(ProviderConfig.envPrefix(f.id()) + "API_KEY");
    return "set " + String.join(" or ", names);
  }
}
