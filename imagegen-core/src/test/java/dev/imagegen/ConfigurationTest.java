package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.MutableClock;
import dev.imagegen.testing.ScriptedProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HttpImageProvider;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How {@code fromEnvironment} reads configuration and reports its mistakes. */
public class ConfigurationTest {

  /** A provider like fal: {@code FAL_KEY}, a declared key and a family; create reads a bounded number. */
  public static final class FalFactory implements ImageProviderFactory {
    @Override public String id() { return "fal"; }
    @Override public Map<String, List<String>> customaryEnvironment() { return Map.of("api-key", List.of("FAL_KEY")); }
    @Override public Set<String> settings() { return Set.of("storage-url", "max-reference-images", "model.*"); }
    @Override public boolean isConfigured(ProviderConfig config) { return config.apiKey().isPresent(); }
    @Override public ImageProvider create(ProviderConfig config) {
      config.intValue("max-reference-images", 4, 0, 10);
      return new ScriptedProvider("fal");
    }
  }

  /** A provider like Replicate. */
  public static final class ReplicateFactory implements ImageProviderFactory {
    @Override public String id() { return "replicate"; }
    @Override public Map<String, List<String>> customaryEnvironment() { return Map.of("api-key", List.of("REPLICATE_API_TOKEN")); }
    @Override public Set<String> settings() { return Set.of("wait-seconds"); }
    @Override public boolean isConfigured(ProviderConfig config) { return config.apiKey().isPresent(); }
    @Override public ImageProvider create(ProviderConfig config) {
      config.intValue("wait-seconds", 60, 1, 60);
      return new HttpReplicate(config);
    }
  }

  /** An HTTP provider with a public default base URL, which the INFO line names. */
  static final class HttpReplicate extends HttpImageProvider {
    private final ScriptedProvider scripted = new ScriptedProvider("replicate");

    HttpReplicate(ProviderConfig config) {
      super(config, "https://api.replicate.com/v1");
      declare(scripted.capabilities(), scripted.costModel());
    }

    @Override
    public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context) {
      return scripted.generate(request, context);
    }

    @Override
    public CompletableFuture<ProviderHealth> health(ProviderContext context) {
      return scripted.health(context);
    }
  }

  private static final String SERVICES = "META-INF/services/" + ImageProviderFactory.class.getName();

  /** Runs {@code body} with exactly these factories on the class path that ServiceLoader reads. */
  static <T> T withFactories(List<Class<? extends ImageProviderFactory>> factories, Supplier<T> body) {
    Thread t = Thread.currentThread();
    ClassLoader parent = t.getContextClassLoader();
    try {
      Path services = Files.createTempFile("services", ".txt");
      List<String> names = new ArrayList<>();
      factories.forEach(f -> names.add(f.getName()));
      Files.write(services, names);
      URL url = services.toUri().toURL();
      ClassLoader loader = new ClassLoader(parent) {
        @Override public Enumeration<URL> getResources(String name) throws IOException {
          return name.equals(SERVICES) ? Collections.enumeration(List.of(url)) : super.getResources(name);
        }
      };
      t.setContextClassLoader(loader);
      return body.get();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } finally {
      t.setContextClassLoader(parent);
    }
  }

  static ImageGenerationService build(Map<String, String> env, Properties props) {
    return withFactories(List.of(FalFactory.class, ReplicateFactory.class), () -> ImageGenerationService.fromEnvironment(env, props));
  }

  static ConfigurationException failure(Map<String, String> env, Properties props) {
    return catchThrowableOfType(ConfigurationException.class, () -> build(env, props).close());
  }

  static Properties props(String... kv) {
    Properties p = new Properties();
    for (int i = 0; i < kv.length; i += 2) {
      p.setProperty(kv[i], kv[i + 1]);
    }
    return p;
  }

  /** What slf4j-simple writes (to System.err) while {@code body} runs. */
  static String logsOf(Runnable body) {
    PrintStream old = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setErr(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      body.run();
    } finally {
      System.setErr(old);
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  // ------------------------------------------------------------------------------ unknown settings

  @Test
  void misspeltSettingsAreReportedWithTheNearestKnownNameInTheSameForm() {
    Map<String, String> env = Map.of("FAL_KEY", "k-1", "IMAGEGEN_FALL_API_KEY", "k-2", "IMAGEGEN_FAL_APIKEY", "k-3",
        "IMAGEGEN_FAL_PRIORTY", "1");
    Properties p = props("imagegen.replicte.api-key", "r-1", "imagegen.rounting", "cheapest",
        "imagegen.fal.baseurl", "http://proxy.example");
    try (ImageGenerationService s = build(env, p)) {
      assertThat(s.providers()).containsExactly("fal");
      assertThat(s.configurationWarnings()).containsExactlyInAnyOrder(
          "imagegen.fal.baseurl (system property): no such setting; did you mean imagegen.fal.base-url?",
          "imagegen.replicte.api-key (system property): no such setting; did you mean imagegen.replicate.api-key?",
          "imagegen.rounting (system property): no such setting; did you mean imagegen.routing?",
          "IMAGEGEN_FALL_API_KEY (environment variable): no such setting; did you mean IMAGEGEN_FAL_API_KEY?",
          "IMAGEGEN_FAL_APIKEY (environment variable): no such setting; did you mean IMAGEGEN_FAL_API_KEY?",
          "IMAGEGEN_FAL_PRIORTY (environment variable): no such setting; did you mean IMAGEGEN_FAL_PRIORITY?");
    }
  }

  @Test
  void aProviderIdNotOnTheClassPathIsNamedWithTheIdsFound() {
    try (ImageGenerationService s = build(Map.of("FAL_KEY", "k-1", "IMAGEGEN_MIDJOURNEY_API_KEY", "m-2"),
        props("imagegen.midjourney.api-key", "m-1"))) {
      assertThat(s.configurationWarnings()).containsExactly(
          "imagegen.midjourney.api-key (system property): no provider 'midjourney' is on the class path (providers found: fal, "
              + "replicate)",
          "IMAGEGEN_MIDJOURNEY_API_KEY (environment variable): no provider 'midjourney' is on the class path (providers found: "
              + "fal, replicate)");
    }
  }

  @Test
  void aSettingFarFromEveryKnownNameIsReportedWithoutAGuess() {
    try (ImageGenerationService s = build(Map.of("FAL_KEY", "k-1", "IMAGEGEN_FAL_SOMETHING_ELSE_ENTIRELY", "x"), new Properties())) {
      assertThat(s.configurationWarnings()).containsExactly(
          "IMAGEGEN_FAL_SOMETHING_ELSE_ENTIRELY (environment variable): no such setting (providers found: fal, replicate)");
    }
  }

  @Test
  void declaredKeysFamiliesStandardKeysAndServiceSettingsRaiseNoWarning(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("imagegen.properties");
    Files.writeString(file, "imagegen.fal.price.fal-ai/flux-schnell=0.003\nimagegen.fal.model.fast=fal-ai/flux/schnell\n");
    Map<String, String> env = Map.of("FAL_KEY", "k-1", "IMAGEGEN_CONFIG", file.toString(), "IMAGEGEN_FAL_STORAGE_URL",
        "https://storage.example", "IMAGEGEN_FAL_PRICE_FAL_AI_FLUX_DEV", "0.025", "IMAGEGEN_FAL_PRICE_PER_IMAGE", "0.01",
        "IMAGEGEN_HEALTH_TIMEOUT", "2s", "IMAGEGEN_REPLICATE_ENABLED", "false", "PATH", "/usr/bin");
    Properties p = props("imagegen.budget.total", "5", "imagegen.budget.window", "1h", "imagegen.health.cache-ttl", "0",
        "imagegen.fal.max-reference-images", "2", "imagegen.fal.requests-per-minute", "60", "java.version", "17");
    try (ImageGenerationService s = build(env, p)) {
      assertThat(s.configurationWarnings()).isEmpty();
      assertThat(s.providers()).containsExactly("fal");
    }
  }

  @Test
  void eachWarningIsOneWarnLineOnTheConfigLogger() {
    String logs = logsOf(() -> build(Map.of("FAL_KEY", "k-1"), props("imagegen.fal.baseurl", "http://proxy.example")).close());
    List<String> warns = logs.lines().filter(l -> l.contains("WARN") && l.contains(ImageGenerationService.CONFIG_LOGGER)).toList();
    assertThat(warns).singleElement().asString()
        .endsWith("imagegen.fal.baseurl (system property): no such setting; did you mean imagegen.fal.base-url?");
  }

  @Test
  void strictModeMakesUnknownSettingsErrorsSetByPropertyVariableOrCode() {
    String typo = "imagegen.rounting (system property): no such setting; did you mean imagegen.routing?";
    assertThat(failure(Map.of("FAL_KEY", "k-1"), props("imagegen.rounting", "cheapest", "imagegen.strict", "true")).problems())
        .containsExactly(typo);
    assertThat(failure(Map.of("FAL_KEY", "k-1", "IMAGEGEN_STRICT", "yes"), props("imagegen.rounting", "cheapest")).problems())
        .containsExactly(typo);
    ConfigurationException e = withFactories(List.of(FalFactory.class), () -> catchThrowableOfType(ConfigurationException.class,
        () -> ImageGenerationService.builder().configureFrom(Map.of("FAL_KEY", "k-1"), props("imagegen.rounting", "cheapest"))
            .strictConfiguration(true).build()));
    assertThat(e.problems()).containsExactly(typo);
    assertThat(e).hasMessageContaining(typo);
  }

  @Test
  void theRedisModulesSettingsAreKnownEvenInStrictModeAndTheirTyposAreWarned() {
    try (ImageGenerationService s = build(Map.of("FAL_KEY", "k-1", "IMAGEGEN_REDIS_URL", "redis://127.0.0.1:6379",
        "IMAGEGEN_STRICT", "true"), props("imagegen.redis.journal.lease", "10s", "imagegen.redis.timeout", "2s",
        "imagegen.redis.rate-limit.key-prefix", "app:rl:", "imagegen.redis.cooldown.key-prefix", "app:cd:"))) {
      assertThat(s.configurationWarnings()).isEmpty();
    }
    try (ImageGenerationService s = build(Map.of("FAL_KEY", "k-1"), props("imagegen.redis.ulr", "redis://127.0.0.1:6379"))) {
      assertThat(s.configurationWarnings()).containsExactly(
          "imagegen.redis.ulr (system property): no such setting; did you mean imagegen.redis.url?");
    }
  }

  // ------------------------------------------------------------------------------ booleans

  @Test
  void booleansAcceptTrueFalseYesNoOnOffOneZeroInAnyCase() {
    for (String yes : List.of("true", "YES", "On", "1")) {
      try (ImageGenerationService s = build(Map.of("FAL_KEY", "k-1", "IMAGEGEN_FAL_ENABLED", yes), new Properties())) {
        assertThat(s.providers()).as(yes).containsExactly("fal");
      }
      assertThat(ProviderConfig.builder("x").set("enabled", yes).build().bool("enabled", false)).as(yes).isTrue();
    }
    for (String no : List.of("false", "No", "OFF", "0")) {
      try (ImageGenerationService s = build(Map.of("FAL_KEY", "k-1", "REPLICATE_API_TOKEN", "r-1", "IMAGEGEN_FAL_ENABLED", no),
          new Properties())) {
        assertThat(s.providers()).as(no).containsExactly("replicate");
      }
      assertThat(ProviderConfig.builder("x").set("enabled", no).build().bool("enabled", true)).as(no).isFalse();
    }
  }

  @Test
  void anythingElseIsRejectedNamingTheSetting() {
    assertThat(failure(Map.of("FAL_KEY", "k-1", "IMAGEGEN_FAL_ENABLED", "maybe"), new Properties()).problems()).containsExactly(
        "fal: 'enabled' (environment variable IMAGEGEN_FAL_ENABLED) must be true or false (also yes/no, on/off, 1/0), was 'maybe'");
    assertThat(failure(Map.of("FAL_KEY", "k-1"), props("imagegen.budget.total", "5", "imagegen.budget.allow-unknown-prices", "ja"))
        .problems()).containsExactly("imagegen.budget.allow-unknown-prices (system property): 'ja' is not accepted; expected true or "
            + "false (also yes/no, on/off, 1/0)");
  }

  // ------------------------------------------------------------------------------ bad values

  @Test
  void everyBadValueIsReportedAtOnceWithNameOriginValueAndWhatIsAccepted(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("app.properties");
    Files.writeString(file, "imagegen.max-retries=two\nimagegen.replicate.priority=high\n");
    Map<String, String> env = Map.of("IMAGEGEN_CONFIG", file.toString(), "IMAGEGEN_BUDGET_TOTAL", "$5", "FAL_KEY", "k-1",
        "IMAGEGEN_FAL_MAX_REFERENCE_IMAGES", "99", "REPLICATE_API_TOKEN", "r-1");
    ConfigurationException e = failure(env, props("imagegen.routing", "cheapst"));
    assertThat(e.problems()).containsExactlyInAnyOrder(
        "imagegen.routing (system property): 'cheapst' is not accepted; expected one of priority, cheapest, fastest",
        "imagegen.max-retries (in file " + file + "): 'two' is not accepted; expected a whole number of at least 0",
        "IMAGEGEN_BUDGET_TOTAL (environment variable): '$5' is not accepted; expected an amount in USD of at least 0, such as 5 "
            + "or 12.50",
        "fal: 'max-reference-images' (environment variable IMAGEGEN_FAL_MAX_REFERENCE_IMAGES) must be a whole number from 0 to 10, "
            + "was 99",
        "replicate: 'priority' (imagegen.replicate.priority in file " + file + ") is not an integer: high");
    assertThat(e).isInstanceOf(IllegalStateException.class);
    assertThat(e.getMessage().lines().skip(1).map(String::strip).toList()).containsExactlyElementsOf(e.problems());
  }

  @Test
  void theFileNamedBySystemPropertyIsReadAndSystemPropertiesWinOverIt(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("app.properties");
    Files.writeString(file, "imagegen.fal.api-key=from-file-1\nimagegen.fal.priority=2\nimagegen.fal.timeout=soon\n");
    ConfigurationException e = failure(Map.of(), props("imagegen.config", file.toString(), "imagegen.fal.priority", "x"));
    assertThat(e.problems()).containsExactly("fal: 'priority' (system property imagegen.fal.priority) is not an integer: x",
        "fal: 'timeout' (imagegen.fal.timeout in file " + file + ") is not a duration such as 30s, 500ms, 5m, 1h or PT30S: soon");
  }

  @Test
  void anUnreadableConfigFileIsAProblem(@TempDir Path dir) {
    Path missing = dir.resolve("missing.properties");
    assertThat(failure(Map.of("IMAGEGEN_CONFIG", missing.toString(), "FAL_KEY", "k-1"), new Properties()).problems())
        .singleElement().asString().startsWith("IMAGEGEN_CONFIG (environment variable): cannot read the properties file '"
            + missing + "'");
  }

  @Test
  void aSecretsBadValueIsMaskedInTheProblem() {
    ProviderConfig c = ProviderConfig.from("fal", Map.of("IMAGEGEN_FAL_KEY_COUNT", "hunter2-secret"), new Properties(), Map.of());
    assertThatThrownBy(() -> c.intValue("key-count", 1)).hasMessageContaining("environment variable IMAGEGEN_FAL_KEY_COUNT")
        .hasMessageContaining("****").hasMessageNotContaining("hunter2");
  }

  @Test
  void aProviderConfigNeverShowsTheUserInfoOfAUrl() {
    ProviderConfig c = ProviderConfig.from("fal", Map.of("IMAGEGEN_FAL_BASE_URL", "https://admin:s3cret-pass@proxy.example/fal"),
        new Properties(), Map.of());
    assertThat(c.toString()).contains("https://****@proxy.example/fal").doesNotContain("s3cret-pass").doesNotContain("admin");
  }

  @Test
  void warningsAreLoggedEvenWhenABadValueStopsTheBuild() {
    // the misspelt key explains the failure next to it: an operator must see both
    String logs = logsOf(() -> failure(Map.of("FAL_KEY", "k-1", "IMAGEGEN_MAX_RETRIES", "two"),
        props("imagegen.fal.baseurl", "http://proxy.example")));
    assertThat(logs.lines().filter(l -> l.contains("WARN") && l.contains(ImageGenerationService.CONFIG_LOGGER)))
        .singleElement().asString().endsWith("imagegen.fal.baseurl (system property): no such setting; did you mean "
            + "imagegen.fal.base-url?");
  }

  @Test
  void providerConfigRemembersWhereEachValueCameFrom() {
    Properties p = props("imagegen.fal.timeout", "30s");
    ProviderConfig c = ProviderConfig.from("fal", Map.of("FAL_KEY", "k-1", "IMAGEGEN_FAL_PRIORITY", "2"), p,
        Map.of("api-key", List.of("FAL_KEY")), n -> n + " in file x.properties").withDefaults(Map.of("max-concurrent", "1"));
    assertThat(c.origin("api-key")).hasValue("environment variable FAL_KEY");
    assertThat(c.origin("priority")).hasValue("environment variable IMAGEGEN_FAL_PRIORITY");
    assertThat(c.origin("timeout")).hasValue("imagegen.fal.timeout in file x.properties");
    assertThat(c.origin("max-concurrent")).hasValue("default");
    assertThat(c.origin("base-url")).isEmpty();
    assertThat(ProviderConfig.from("fal", Map.of(), p, Map.of()).origin("timeout")).hasValue("property imagegen.fal.timeout");
    assertThat(ProviderConfig.builder("fal").set("timeout", "x").build().origin("timeout")).hasValue("set in code");
    assertThatThrownBy(() -> c.withDefaults(Map.of("timeout", "1m")).duration("timeout", Duration.ZERO, Duration.ZERO,
        Duration.ofSeconds(10))).hasMessageContaining("'timeout' (imagegen.fal.timeout in file x.properties)");
  }

  // ------------------------------------------------------------------------------ nothing configured

  @Test
  void nothingConfiguredWarnsWhatEnablesEachProviderFoundAndTheFirstUseAndHealthSayTheSame() {
    String expected = "no provider is configured; found on the class path: fal: set FAL_KEY or IMAGEGEN_FAL_API_KEY; "
        + "replicate: set REPLICATE_API_TOKEN or IMAGEGEN_REPLICATE_API_KEY";
    String[] logs = new String[1];
    try (ImageGenerationService s = withFactories(List.of(FalFactory.class, ReplicateFactory.class), () -> {
      ImageGenerationService[] out = new ImageGenerationService[1];
      logs[0] = logsOf(() -> out[0] = ImageGenerationService.fromEnvironment(Map.of(), new Properties()));
      return out[0];
    })) {
      assertThat(s.configurationWarnings()).containsExactly(expected);
      assertThat(logs[0]).contains("WARN " + ImageGenerationService.CONFIG_LOGGER + " - " + expected);
      assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.of("a fox")))
          .isInstanceOf(NoCapableProviderException.class).hasMessageContaining(expected);
      Map<String, ProviderHealth> health = s.health();
      assertThat(health).containsOnlyKeys(ImageGenerationService.NO_PROVIDER);
      assertThat(health.get(ImageGenerationService.NO_PROVIDER).state()).isEqualTo(ProviderHealth.State.DOWN);
      assertThat(health.get(ImageGenerationService.NO_PROVIDER).message()).isEqualTo(expected);
    }
  }

  @Test
  void noProviderModuleOnTheClassPathSaysWhichModuleToAdd() {
    try (ImageGenerationService s = withFactories(List.of(), () -> ImageGenerationService.fromEnvironment(Map.of(), new Properties()))) {
      assertThat(s.configurationWarnings()).singleElement().asString()
          .startsWith("no provider is configured, and no provider module is on the class path: add one such as "
              + "dev.imagegen:imagegen-provider-fal");
      assertThat(s.health().get(ImageGenerationService.NO_PROVIDER).isUsable()).isFalse();
    }
  }

  // ------------------------------------------------------------------------------ the INFO line

  @Test
  void oneInfoLineNamesEachProvidersKeyOriginAndBaseUrlButNeverTheKey() {
    Map<String, String> env = Map.of("FAL_KEY", "fal-secret-key-42", "IMAGEGEN_REPLICATE_API_KEY", "r8-secret-token-7",
        "IMAGEGEN_FAL_APIKEY", "misspelt-key-9");
    Properties p = props("imagegen.fal.base-url", "https://user:hunter2pw@proxy.example/fal");
    String logs = logsOf(() -> build(env, p).close());
    List<String> info = logs.lines().filter(l -> l.contains("INFO " + ImageGenerationService.CONFIG_LOGGER)).toList();
    assertThat(info).singleElement().asString().endsWith("enabled providers: "
        + "fal (api-key from environment variable FAL_KEY; base URL https://****@proxy.example/fal (system property "
        + "imagegen.fal.base-url)); replicate (api-key from environment variable IMAGEGEN_REPLICATE_API_KEY; base URL "
        + "https://api.replicate.com/v1 (default))");
    assertThat(logs).contains("IMAGEGEN_FAL_APIKEY (environment variable): no such setting; did you mean IMAGEGEN_FAL_API_KEY?");
    assertThat(logs).doesNotContain("misspelt-key-9").doesNotContain("fal-secret-key-42").doesNotContain("r8-secret-token-7").doesNotContain("hunter2pw");
  }

  // ------------------------------------------------------------------------------ health checks

  private static ImageGenerationService withProvider(ScriptedProvider p, MutableClock clock, Duration timeout, Duration ttl) {
    return ImageGenerationService.builder().provider(p, ProviderConfig.builder(p.id()).build()).clock(clock)
        .healthCheck(timeout, ttl).build();
  }

  @Test
  void healthIsCachedForItsTimeToLiveAndTestConnectionAlwaysChecksAfresh() {
    ScriptedProvider p = new ScriptedProvider("a");
    MutableClock clock = new MutableClock();
    try (ImageGenerationService s = withProvider(p, clock, Duration.ofSeconds(5), Duration.ofSeconds(10))) {
      assertThat(s.health().get("a").state()).isEqualTo(ProviderHealth.State.UP);
      s.health();
      clock.advance(Duration.ofSeconds(9));
      s.health();
      assertThat(p.healthCalls).hasValue(1);
      clock.advance(Duration.ofSeconds(2));
      s.health();
      assertThat(p.healthCalls).hasValue(2);
      s.testConnection("a");
      s.testConnection("a");
      assertThat(p.healthCalls).hasValue(4);
    }
  }

  @Test
  void concurrentCallersShareOneCheckInFlight() throws Exception {
    ScriptedProvider p = new ScriptedProvider("a");
    CompletableFuture<ProviderHealth> answer = new CompletableFuture<>();
    p.healthAnswer = () -> answer;
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try (ImageGenerationService s = withProvider(p, new MutableClock(), Duration.ofSeconds(5), Duration.ofSeconds(10))) {
      CountDownLatch started = new CountDownLatch(8);
      List<Future<Map<String, ProviderHealth>>> calls = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        calls.add(pool.submit(() -> {
          started.countDown();
          return s.health();
        }));
      }
      started.await(5, TimeUnit.SECONDS);
      Thread.sleep(200);
      answer.complete(ProviderHealth.up("a", Duration.ofMillis(3)));
      for (Future<Map<String, ProviderHealth>> c : calls) {
        assertThat(c.get(5, TimeUnit.SECONDS).get("a").state()).isEqualTo(ProviderHealth.State.UP);
      }
      assertThat(p.healthCalls).hasValue(1);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aHangingCheckIsReportedDownAfterTheHealthTimeoutSetByProperty() {
    ScriptedProvider p = new ScriptedProvider("a");
    p.healthAnswer = CompletableFuture::new;
    try (ImageGenerationService s = ImageGenerationService.builder().provider(p, ProviderConfig.builder("a").build())
        .configureFrom(Map.of(), props("imagegen.health.timeout", "200ms", "imagegen.health.cache-ttl", "0")).build()) {
      long t0 = System.nanoTime();
      assertThat(s.health().get("a").state()).isEqualTo(ProviderHealth.State.DOWN);
      assertThat(s.testConnection("a").state()).isEqualTo(ProviderHealth.State.DOWN);
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(3));
      s.health();
      assertThat(p.healthCalls).hasValue(3);
    }
  }

  @Test
  void healthSettingsThatAreNotDurationsAreProblems() {
    assertThat(failure(Map.of("FAL_KEY", "k-1", "IMAGEGEN_HEALTH_TIMEOUT", "soon"), new Properties()).problems()).containsExactly(
        "IMAGEGEN_HEALTH_TIMEOUT (environment variable): 'soon' is not accepted; expected a positive duration such as 30s, 500ms, "
            + "5m, 1h or PT30S");
  }
}
