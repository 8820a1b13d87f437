package dev.imagegen.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.ConfigurationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.ProviderHealth;
import dev.imagegen.RoutingStrategy;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.CapturedLogs;
import dev.imagegen.testing.Eventually;
import dev.imagegen.testing.MutableClock;
import java.io.IOException;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.core.annotation.Order;
import org.springframework.core.io.ClassPathResource;

/**
 * The auto-configuration in an application context: the scripted provider of core's test-jar
 * (id {@code scripted}, configured by an api-key) is found through ServiceLoader, like any provider module.
 */
class ImageGenerationAutoConfigurationTest {

  private final ApplicationContextRunner runner = new ApplicationContextRunner()
      .withInitializer(FakeEnvironmentVariables.none())
      .withConfiguration(AutoConfigurations.of(ImageGenerationAutoConfiguration.class, ImageGenerationHealthAutoConfiguration.class))
      // AI Horde (on the test class path for the metadata test) is enabled when nothing else is: never here
      .withPropertyValues("imagegen.horde.enabled=false");

  @Test
  void environmentVariablesAreReadByCoreAsWithoutSpringAndAnImagegenPropertyWinsOverThem() {
    new ApplicationContextRunner()
        .withInitializer(FakeEnvironmentVariables.of(Map.of("SCRIPTED_TOKEN", "k-env", "IMAGEGEN_ROUTING", "cheapest",
            "IMAGEGEN_SCRIPTED_PRIORTY", "1", "IMAGEGEN_SCRIPTED_MAX_CONCURRENT", "2")))
        .withConfiguration(AutoConfigurations.of(ImageGenerationAutoConfiguration.class))
        .withPropertyValues("imagegen.scripted.max-concurrent=many")
        .run(context -> {
          assertThat(context).hasFailed();
          ConfigurationException e = rootCause(context.getStartupFailure(), ConfigurationException.class);
          // the property (many) was used over IMAGEGEN_SCRIPTED_MAX_CONCURRENT (2)
          assertThat(e.getMessage()).contains("imagegen.scripted.max-concurrent) is not an integer: many");
        });
    new ApplicationContextRunner()
        .withInitializer(FakeEnvironmentVariables.of(Map.of("SCRIPTED_TOKEN", "k-env", "IMAGEGEN_ROUTING", "cheapest",
            "IMAGEGEN_SCRIPTED_PRIORTY", "1")))
        .withConfiguration(AutoConfigurations.of(ImageGenerationAutoConfiguration.class))
        .run(context -> {
          assertThat(context).hasNotFailed();
          ImageGenerationService service = context.getBean(ImageGenerationService.class);
          assertThat(service.providers()).containsExactly("scripted");
          assertThat(service.configurationWarnings()).containsExactly("IMAGEGEN_SCRIPTED_PRIORTY (environment variable): "
              + "no such setting; did you mean IMAGEGEN_SCRIPTED_PRIORITY?");
        });
  }

  @Test
  void theServiceIsBuiltFromImagegenProperties() {
    long mark = CapturedLogs.mark();
    runner.withPropertyValues("imagegen.scripted.api-key=k-secret-4711", "imagegen.routing=cheapest", "imagegen.budget.total=5")
        .run(context -> {
          assertThat(context).hasNotFailed().hasSingleBean(ImageGenerationService.class);
          ImageGenerationService service = context.getBean(ImageGenerationService.class);
          assertThat(service.providers()).contains("scripted");
          assertThat(service.configurationWarnings()).isEmpty();
          assertThat(service.generateImage(ImageGenerationRequest.of("a lighthouse"), "scripted").images()).hasSize(1);
        });
    assertThat(CapturedLogs.since(mark, e -> true)).isNotEmpty()
        .noneMatch(e -> e.toString().contains("k-secret-4711") || e.toString().contains("lighthouse"));
  }

  @Test
  void nestedYamlKeysAndRelaxedSpellingsAreTheFlatDottedNames() {
    runner.withInitializer(context -> context.getEnvironment().getPropertySources().addFirst(yaml("imagegen-nested.yml")))
        .withPropertyValues("imagegen.max_retries=1", "imagegen.health.cacheTtl=30s")
        .run(context -> {
          assertThat(context).hasNotFailed();
          ImageGenerationService service = context.getBean(ImageGenerationService.class);
          // apiKey (camel case) configured the provider; nothing was "no such setting"
          assertThat(service.providers()).containsExactly("scripted");
          assertThat(service.configurationWarnings()).isEmpty();
        });
  }

  @Test
  void aMisspelledKeyIsAWarningThatIsLoggedWithTheNearestName() {
    long mark = CapturedLogs.mark();
    runner.withPropertyValues("imagegen.scripted.api-key=k-1", "imagegen.scripted.prioritty=3").run(context -> {
      assertThat(context).hasNotFailed();
      String expected = "imagegen.scripted.prioritty (system property): no such setting; did you mean imagegen.scripted.priority?";
      assertThat(context.getBean(ImageGenerationService.class).configurationWarnings()).containsExactly(expected);
      assertThat(CapturedLogs.since(mark, e -> e.logger().equals(ImageGenerationService.CONFIG_LOGGER)))
          .extracting(CapturedLogs.Event::message).contains(expected);
    });
  }

  @Test
  void strictModeFailsTheContextWithCoresMessage() {
    runner.withPropertyValues("imagegen.strict=true", "imagegen.scripted.api-key=k-1", "imagegen.scripted.prioritty=3")
        .run(context -> {
          assertThat(context).hasFailed();
          ConfigurationException e = rootCause(context.getStartupFailure(), ConfigurationException.class);
          assertThat(e.problems()).containsExactly(
              "imagegen.scripted.prioritty (system property): no such setting; did you mean imagegen.scripted.priority?");
        });
  }

  @Test
  void aValueThatCannotBeReadFailsTheContextNamingIt() {
    runner.withPropertyValues("imagegen.scripted.api-key=k-1", "imagegen.timeout=soon", "imagegen.routing=random").run(context -> {
      assertThat(context).hasFailed();
      ConfigurationException e = rootCause(context.getStartupFailure(), ConfigurationException.class);
      assertThat(e.getMessage()).contains("imagegen.timeout", "'soon'", "imagegen.routing", "'random'");
    });
  }

  @Test
  void anUnresolvablePlaceholderIsAConfigurationProblemNamingTheKey() {
    runner.withPropertyValues("imagegen.scripted.api-key=${NO_SUCH_VARIABLE_FOR_IMAGEGEN}").run(context -> {
      assertThat(context).hasFailed();
      ConfigurationException e = rootCause(context.getStartupFailure(), ConfigurationException.class);
      assertThat(e.getMessage()).contains("imagegen.scripted.api-key", "NO_SUCH_VARIABLE_FOR_IMAGEGEN");
    });
  }

  @Test
  void withoutAnyProviderConfiguredTheWarningSaysHowToEnableOne() {
    // the test-jar's "fallback" provider is enabled when nothing is configured (like AI Horde): turned off here
    runner.withPropertyValues("imagegen.fallback.enabled=false").run(context -> {
      assertThat(context).hasNotFailed();
      ImageGenerationService service = context.getBean(ImageGenerationService.class);
      assertThat(service.providers()).isEmpty();
      assertThat(service.configurationWarnings()).singleElement().asString()
          .startsWith("no provider is configured; found on the class path:").contains("scripted: set SCRIPTED_TOKEN");
      assertThat(service.health().get(ImageGenerationService.NO_PROVIDER).state()).isEqualTo(ProviderHealth.State.DOWN);
    });
  }

  @Test
  void theApplicationsOwnServiceBeanWins() {
    ClosingProvider mine = new ClosingProvider("mine");
    runner.withPropertyValues("imagegen.scripted.api-key=k-1")
        .withBean(ImageGenerationService.class, () -> ImageGenerationService.builder()
            .provider(mine, ProviderConfig.builder("mine").build()).build())
        .run(context -> {
          assertThat(context).hasSingleBean(ImageGenerationService.class).hasBean("imagegenHealthIndicator");
          assertThat(context.getBean(ImageGenerationService.class).providers()).containsExactly("mine");
        });
  }

  @Test
  void customizersAreAppliedInOrderAfterTheProperties() {
    List<String> applied = new CopyOnWriteArrayList<>();
    ClosingProvider custom = new ClosingProvider("custom", CostModel.perImage(new BigDecimal("0.05")));
    runner.withPropertyValues("imagegen.scripted.api-key=k-1", "imagegen.routing=cheapest")
        .withBean("second", ImageGenerationServiceBuilderCustomizer.class, () -> new Second(applied))
        .withBean("first", ImageGenerationServiceBuilderCustomizer.class, () -> new First(applied, custom))
        .run(context -> {
          assertThat(context).hasNotFailed();
          assertThat(applied).containsExactly("first", "second");
          ImageGenerationService service = context.getBean(ImageGenerationService.class);
          assertThat(service.providers()).containsExactlyInAnyOrder("scripted", "custom");
          // the customizer's routing wins over imagegen.routing=cheapest: cheapest would take the free
          // scripted provider, priority takes the customizer's (priority 1, 0.05 USD an image)
          assertThat(service.selectOptimalProvider(ImageGenerationRequest.of("x"))).hasValue("custom");
        });
  }

  @Order(1)
  static final class First implements ImageGenerationServiceBuilderCustomizer {
    private final List<String> applied;
    private final ClosingProvider provider;

    First(List<String> applied, ClosingProvider provider) {
      this.applied = applied;
      this.provider = provider;
    }

    @Override
    public void customize(ImageGenerationService.Builder builder) {
      applied.add("first");
      builder.provider(provider, ProviderConfig.builder(provider.id()).set(ProviderConfig.PRIORITY, "1").build());
    }
  }

  @Order(2)
  static final class Second implements ImageGenerationServiceBuilderCustomizer {
    private final List<String> applied;

    Second(List<String> applied) {
      this.applied = applied;
    }

    @Override
    public void customize(ImageGenerationService.Builder builder) {
      applied.add("second");
      builder.routing(RoutingStrategy.PRIORITY);
    }
  }

  @Test
  void closingTheContextCancelsRemoteJobsInFlightAndClosesTheServiceAndItsProviders() {
    ClosingProvider p = new ClosingProvider("closing");
    p.scripted.then(p.scripted.hang());
    ImageGenerationService[] service = new ImageGenerationService[1];
    List<CompletableFuture<?>> inFlight = new CopyOnWriteArrayList<>();
    runner.withPropertyValues("imagegen.fallback.enabled=false")
        .withBean(ImageGenerationServiceBuilderCustomizer.class, () -> b -> b.provider(p, ProviderConfig.builder("closing").build()))
        .run(context -> {
          service[0] = context.getBean(ImageGenerationService.class);
          inFlight.add(service[0].generateAsync(ImageGenerationRequest.of("a slow one")));
          Eventually.eventually(Duration.ofSeconds(5), () -> assertThat(p.scripted.calls).hasValue(1));
          assertThat(p.closed).hasValue(0);
        });
    assertThat(p.closed).hasValue(1);
    assertThat(p.scripted.cancelledJobs).hasSize(1); // the remote job was cancelled at the provider
    assertThat(inFlight.get(0)).isCompletedExceptionally();
    assertThatThrownBy(() -> service[0].generateAsync(ImageGenerationRequest.of("after close")))
        .hasMessageContaining("closed");
  }

  @Test
  void healthReportsEachProviderFromCachedChecksAtMostOnceInTheTimeToLive() {
    ClosingProvider a = new ClosingProvider("a");
    ClosingProvider b = new ClosingProvider("b");
    CompletableFuture<ProviderHealth> bAnswer = new CompletableFuture<>();
    b.scripted.healthAnswer = () -> bAnswer;
    MutableClock clock = new MutableClock();
    runner.withPropertyValues("imagegen.fallback.enabled=false", "imagegen.health.cache-ttl=10s")
        .withBean(ImageGenerationServiceBuilderCustomizer.class, () -> builder -> builder.clock(clock)
            .provider(a, ProviderConfig.builder("a").build()).provider(b, ProviderConfig.builder("b").build()))
        .run(context -> {
          HealthIndicator indicator = context.getBean("imagegenHealthIndicator", HealthIndicator.class);
          Health first = indicator.health();
          assertThat(first.getStatus()).isEqualTo(Status.UP); // a answered at once; b's check still runs
          assertThat(detail(first, "a")).containsEntry("state", "UP");
          assertThat(detail(first, "b")).containsEntry("state", "UNKNOWN");
          for (int i = 0; i < 20; i++) {
            indicator.health();
          }
          assertThat(a.scripted.healthCalls).hasValue(1);
          assertThat(b.scripted.healthCalls).hasValue(1); // in flight: not started again

          bAnswer.complete(ProviderHealth.of("b", ProviderHealth.State.AUTH_FAILED, Duration.ofMillis(7), "b: key refused"));
          Health later = indicator.health();
          assertThat(detail(later, "b")).containsEntry("state", "AUTH_FAILED").containsEntry("message", "b: key refused")
              .containsEntry("latencyMs", 7L);
          assertThat(later.getStatus()).isEqualTo(Status.UP); // a can still serve

          clock.advance(Duration.ofSeconds(11));
          a.scripted.healthAnswer = () -> CompletableFuture.completedFuture(
              ProviderHealth.of("a", ProviderHealth.State.DOWN, Duration.ZERO, "a: unreachable"));
          for (int i = 0; i < 20; i++) {
            indicator.health();
          }
          assertThat(a.scripted.healthCalls).hasValue(2);
          assertThat(b.scripted.healthCalls).hasValue(2);
          assertThat(indicator.health().getStatus()).isEqualTo(Status.DOWN); // none can serve
        });
  }

  @Test
  void noHealthIndicatorWithoutSpringBootHealthOnTheClassPathOrWhenTurnedOff() {
    runner.withPropertyValues("imagegen.scripted.api-key=k-1").withClassLoader(new FilteredClassLoader(HealthIndicator.class))
        .run(context -> assertThat(context).hasNotFailed().hasSingleBean(ImageGenerationService.class)
            .doesNotHaveBean("imagegenHealthIndicator"));
    runner.withPropertyValues("imagegen.scripted.api-key=k-1", "management.health.imagegen.enabled=false")
        .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean("imagegenHealthIndicator"));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> detail(Health health, String provider) {
    return (Map<String, Object>) health.getDetails().get(provider);
  }

  private static <T extends Throwable> T rootCause(Throwable t, Class<T> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return type.cast(c);
      }
    }
    throw new AssertionError("no " + type.getSimpleName() + " in " + t, t);
  }

  private static org.springframework.core.env.PropertySource<?> yaml(String resource) {
    try {
      return new YamlPropertySourceLoader().load(resource, new ClassPathResource(resource)).get(0);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

}
