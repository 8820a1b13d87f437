package dev.imagegen.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.KnownSettings;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The IDE's completion (META-INF/spring-configuration-metadata.json) names every key core reads:
 * each service and module setting of core's one list, and each key of every provider module on the
 * test class path (fal, replicate): the standard keys, its own settings, its customary variables'
 * keys. The file is generated from those lists by {@link #expected()}: when a key is added to
 * core or a provider, this test fails and writes the new file to
 * {@code target/spring-configuration-metadata.json}, to copy over
 * {@code src/main/resources/META-INF/spring-configuration-metadata.json}.
 */
class ConfigurationMetadataTest {

  private static final String FILE = "META-INF/spring-configuration-metadata.json";
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** Type and description of each service and module setting; a new setting in core must be described here. */
  private static final Map<String, String[]> SERVICE = Map.ofEntries(
      entry("config", "java.lang.String", "A properties file read for imagegen.* settings (these properties win over it)."),
      entry("strict", "java.lang.Boolean", "true makes unknown settings errors, failing the start (default false)."),
      entry("routing", "java.lang.String", "How a provider is chosen for a request: priority (default), cheapest or fastest."),
      entry("timeout", "java.time.Duration", "Deadline of a request that sets none (default 5 minutes)."),
      entry("max-retries", "java.lang.Integer", "Retries per provider (default 2)."),
      entry("max-pending", "java.lang.Integer", "Generations accepted and not yet finished before new ones are refused (default 10000)."),
      entry("failover-on-unknown-outcome", "java.lang.Boolean",
          "true fails over after a lost submit that cannot be looked up (may pay twice; default false)."),
      entry("budget.total", "java.math.BigDecimal", "A spending limit in USD, optionally per window (imagegen.budget.window)."),
      entry("budget.window", "java.time.Duration", "The window of the spending limit, such as 24h."),
      entry("budget.allow-unknown-prices", "java.lang.Boolean", "Whether calls of unknown price may run under the limit (default false)."),
      entry("health.timeout", "java.time.Duration", "How long a provider health check may take (default 5s)."),
      entry("health.cache-ttl", "java.time.Duration",
          "How long a provider health result is reused (default 10s; 0 checks every time); Actuator's probe reads it."),
      entry("journal", "java.lang.String", "dir:/path keeps the job journal in that directory, so a process started after a crash resumes or cancels the paid jobs still running (default: in memory)."),
      entry("instance-id", "java.lang.String", "This service's id in the journal; a restart with the same id adopts its own open jobs at once (default: a random id)."),
      entry("journal.recover", "java.lang.Boolean", "true runs recover() in the background when the service is built (default false)."),
      entry("journal.lease", "java.time.Duration", "How long this instance's lease in a directory journal lasts without a heartbeat; other instances adopt its open jobs once it expired (default 10s, at least 100ms)."),
      entry("redis.url", "java.lang.String", "imagegen-redis: the Redis URL of the shared budget store and job journal."),
      entry("redis.key-prefix", "java.lang.String", "imagegen-redis: prefix of the budget store's keys."),
      entry("redis.timeout", "java.time.Duration", "imagegen-redis: Redis command timeout."),
      entry("redis.journal.key-prefix", "java.lang.String", "imagegen-redis: prefix of the job journal's keys."),
      entry("redis.journal.lease", "java.time.Duration", "imagegen-redis: how long an instance's lease on its jobs lasts."),
      entry("redis.rate-limit.key-prefix", "java.lang.String", "imagegen-redis: prefix of the shared rate limit's keys."),
      entry("redis.cooldown.key-prefix", "java.lang.String", "imagegen-redis: prefix of the shared cool-downs' keys."),
      entry("webhooks.endpoint.enabled", "java.lang.Boolean",
          "Spring Boot starter: mounts the webhook receiver at imagegen.webhooks.endpoint.path (default false)."),
      entry("webhooks.endpoint.path", "java.lang.String",
          "Spring Boot starter: where POST <path>/<provider-id> receives webhook deliveries (default /imagegen/webhooks)."));

  /** Type and description of each standard provider key (ProviderConfig.STANDARD_SETTINGS). */
  private static final Map<String, String[]> STANDARD = Map.ofEntries(
      entry(ProviderConfig.API_KEY, "java.lang.String", "API key or token."),
      entry(ProviderConfig.BASE_URL, "java.lang.String", "Base URL of the API (a proxy, a self-hosted server)."),
      entry(ProviderConfig.TIMEOUT, "java.time.Duration", "Deadline of one generation at this provider."),
      entry(ProviderConfig.REQUESTS_PER_MINUTE, "java.lang.Integer", "Client-side rate limit (0: none)."),
      entry(ProviderConfig.MAX_CONNECTIONS, "java.lang.Integer",
          "Most HTTP exchanges in flight to this provider at once, so its connections (default 64); more wait in a queue."),
      entry(ProviderConfig.POLLS_PER_SECOND, "java.lang.Integer",
          "Poll budget: most status polls per second for all this provider's jobs (0: none; default from its published limits)."),
      entry(ProviderConfig.MAX_CONCURRENT, "java.lang.Integer", "Most calls in flight at once; more wait in a queue."),
      entry(ProviderConfig.PRIORITY, "java.lang.Integer", "Routing priority, lower first (default 100)."),
      entry(ProviderConfig.ENABLED, "java.lang.Boolean", "Whether the provider is used when configured (default true)."),
      entry(ProviderConfig.PRICE_PER_IMAGE, "java.math.BigDecimal", "Price in USD of one image, over the built-in price."),
      entry(ProviderConfig.PRICE_PER_MEGAPIXEL, "java.math.BigDecimal", "Price in USD of one megapixel, over the built-in price."),
      entry(ProviderConfig.PRICE_PER_GPU_SECOND, "java.math.BigDecimal", "Price in USD of one GPU second, over the built-in price."),
      entry("price.*", "java.util.Map<java.lang.String,java.math.BigDecimal>",
          "Price in USD of one image per model, the model in brackets: price.[black-forest-labs/flux-schnell]."),
      entry(ProviderConfig.TYPICAL_GPU_SECONDS, "java.lang.Double", "GPU seconds an image typically takes, for estimates."),
      entry(ProviderConfig.MAX_IMAGE_BYTES, "java.lang.Long", "Largest image accepted from the provider, in bytes."),
      entry(ProviderConfig.ALLOW_PRIVATE_DOWNLOADS, "java.lang.Boolean",
          "Whether images may be downloaded from private or loopback addresses (default false)."),
      entry(ProviderConfig.DOWNLOAD_TIMEOUT, "java.time.Duration", "Deadline of one image download."));

  private static Map.Entry<String, String[]> entry(String key, String type, String description) {
    return Map.entry(key, new String[] {type, description});
  }

  /** The provider modules on the class path, without core's test providers. */
  private static List<ImageProviderFactory> providers() {
    List<ImageProviderFactory> out = new ArrayList<>();
    for (ImageProviderFactory f : ServiceLoader.load(ImageProviderFactory.class)) {
      if (!f.getClass().getName().startsWith("dev.imagegen.testing.")) {
        out.add(f);
      }
    }
    out.sort((a, b) -> a.id().compareTo(b.id()));
    return out;
  }

  /** Every key core reads for a provider, as {@code fromEnvironment()} knows them. */
  private static Set<String> keysOf(ImageProviderFactory f) {
    Set<String> keys = new TreeSet<>(ProviderConfig.STANDARD_SETTINGS);
    keys.addAll(f.settings());
    keys.addAll(f.customaryEnvironment().keySet());
    keys.addAll(f.defaults().keySet());
    return keys;
  }

  /** The property name in the metadata: a wildcard key is a map ({@code price.*} is {@code price}). */
  private static String metadataName(String prefix, String key) {
    return "imagegen." + prefix + (key.endsWith(".*") ? key.substring(0, key.length() - 2) : key);
  }

  /** Every name the metadata must have. */
  private static Set<String> requiredNames() {
    Set<String> names = new TreeSet<>();
    KnownSettings.service().forEach(s -> names.add(metadataName("", s)));
    KnownSettings.modules().forEach(s -> names.add(metadataName("", s)));
    for (ImageProviderFactory f : providers()) {
      keysOf(f).forEach(k -> names.add(metadataName(f.id() + ".", k)));
    }
    return names;
  }

  static ObjectNode expected() {
    ObjectNode root = JSON.createObjectNode();
    ArrayNode groups = root.putArray("groups");
    group(groups, "imagegen", "imagegen: the service's settings, the keys ImageGenerationService.fromEnvironment() reads.");
    Map<String, ObjectNode> properties = new TreeMap<>();
    List<String> undescribed = new ArrayList<>();
    for (String s : concat(KnownSettings.service(), KnownSettings.modules())) {
      String[] d = SERVICE.get(s);
      if (d == null) {
        undescribed.add(s);
        continue;
      }
      properties.put(metadataName("", s), property(metadataName("", s), d[0], d[1]));
    }
    assertThat(undescribed).as("service settings with no type and description in ConfigurationMetadataTest.SERVICE").isEmpty();
    for (ImageProviderFactory f : providers()) {
      group(groups, "imagegen." + f.id(), "imagegen-provider-" + f.id() + ": the provider's settings (see its README).");
      for (String k : keysOf(f)) {
        String[] d = STANDARD.get(k);
        String name = metadataName(f.id() + ".", k);
        List<String> vars = f.customaryEnvironment().get(k);
        String also = vars == null ? "" : " Also read from " + String.join(" or ", vars) + ".";
        String def = f.defaults().get(k);
        ObjectNode p;
        if (d != null) {
          p = property(name, d[0], f.id() + ": " + d[1] + also);
        } else if (k.endsWith(".*")) {
          // model.* is a map of model.<name>; beside a plain key of the same name (endpoint and endpoint.*) that key's entry stays
          String plain = k.substring(0, k.length() - 2);
          if (keysOf(f).contains(plain)) {
            continue;
          }
          p = property(name, "java.util.Map<java.lang.String,java.lang.String>",
              f.id() + ": " + plain + ".<name> (see imagegen-provider-" + f.id() + "'s README)." + also);
        } else {
          String wildcard = keysOf(f).contains(k + ".*") ? ", or " + k + ".<name>" : "";
          p = property(name, "java.lang.String", f.id() + ": " + k + wildcard + " (see imagegen-provider-" + f.id() + "'s README)." + also);
        }
        if (def != null) {
          p.put("defaultValue", def);
        }
        properties.put(name, p);
      }
    }
    ArrayNode props = root.putArray("properties");
    properties.values().forEach(props::add);
    ArrayNode hints = root.putArray("hints");
    ObjectNode routing = hints.addObject();
    routing.put("name", "imagegen.routing");
    ArrayNode values = routing.putArray("values");
    for (String v : List.of("priority", "cheapest", "fastest")) {
      values.addObject().put("value", v);
    }
    return root;
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  private static void group(ArrayNode groups, String name, String description) {
    ObjectNode g = groups.addObject();
    g.put("name", name);
    g.put("description", description);
  }

  private static ObjectNode property(String name, String type, String description) {
    ObjectNode p = JSON.createObjectNode();
    p.put("name", name);
    p.put("type", type);
    p.put("description", description);
    return p;
  }

  private static JsonNode shipped() throws IOException {
    try (InputStream in = ConfigurationMetadataTest.class.getClassLoader().getResourceAsStream(FILE)) {
      assertThat(in).as(FILE + " in the jar").isNotNull();
      return JSON.readTree(in);
    }
  }

  @Test
  void theMetadataNamesEveryKeyCoreAndTheProvidersRead() throws IOException {
    assertThat(providers()).extracting(ImageProviderFactory::id).contains("fal", "replicate");
    Set<String> shippedNames = new TreeSet<>();
    shipped().path("properties").forEach(p -> shippedNames.add(p.path("name").asText()));
    assertThat(shippedNames).as("keys missing from " + FILE).containsAll(requiredNames());
    assertThat(shippedNames).contains("imagegen.budget.total", "imagegen.fal.api-key", "imagegen.replicate.api-key",
        "imagegen.health.cache-ttl", "imagegen.strict");
  }

  @Test
  void theMetadataIsTheOneGeneratedFromThoseLists() throws IOException {
    ObjectNode expected = expected();
    if (!expected.equals(shipped())) {
      Path out = Path.of("target", "spring-configuration-metadata.json");
      Files.createDirectories(out.getParent());
      Files.writeString(out, JSON.writeValueAsString(expected) + "\n", StandardCharsets.UTF_8);
      throw new AssertionError(FILE + " is not what the settings' lists give: copy " + out.toAbsolutePath()
          + " over src/main/resources/" + FILE);
    }
  }
}
