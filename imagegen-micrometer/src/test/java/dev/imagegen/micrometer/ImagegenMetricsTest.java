package dev.imagegen.micrometer;

import static dev.imagegen.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.imagegen.AuthenticationException;
import dev.imagegen.BudgetPolicy;
import dev.imagegen.BudgetStore;
import dev.imagegen.CacheConfig;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.GenerationJob;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.InputImage;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.MutableClock;
import dev.imagegen.testing.ScriptedProvider;
import dev.imagegen.testing.TestImages;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The meters a generation leaves, with exact counts and tags. */
class ImagegenMetricsTest {
  private static final Duration WITHIN = Duration.ofSeconds(10);
  private static final String PROMPT = "a red fox in the snow at dawn";
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private ImageGenerationService service;

  @AfterEach
  void close() {
    if (service != null) {
      service.close();
    }
  }

  private static ImageGenerationRequest request() {
    return ImageGenerationRequest.builder().prompt(PROMPT).seed(1L).build();
  }

  private static ProviderConfig config(String id, int priority) {
    return ProviderConfig.builder(id).set("priority", Integer.toString(priority)).set("api-key", "sk-" + id + "-secret").build();
  }

  /** Waits until {@code n} generations have been timed: every event before their ends is then counted. */
  private void awaitGenerations(long n) throws InterruptedException {
    eventually(WITHIN, () -> assertThat(registry.find("gen_ai.client.operation.duration").timers().stream()
        .mapToLong(Timer::count).sum()).isEqualTo(n));
  }

  /** Every meter as "name{k=v,...}" with its count or value, sorted. */
  private Map<String, Double> meters(String... names) {
    Map<String, Double> out = new TreeMap<>();
    for (Meter m : registry.getMeters()) {
      if (names.length > 0 && !List.of(names).contains(m.getId().getName())) {
        continue;
      }
      String tags = m.getId().getTags().stream().map(t -> t.getKey() + "=" + t.getValue()).collect(Collectors.joining(","));
      double v = m instanceof Timer t ? t.count() : m.measure().iterator().next().getValue();
      out.put(m.getId().getName() + "{" + tags + "}", v);
    }
    return out;
  }

  @Test
  void aFailoverCountsEachAttemptRetryFailoverAndTheCostWithExactTags() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(
        ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", null)),
        ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", null)));
    ScriptedProvider b = new ScriptedProvider("b", ProviderCapabilities.builder().build(),
        CostModel.perImage(new BigDecimal("0.04")));
    ImagegenMetrics metrics = ImagegenMetrics.create(registry);
    service = ImageGenerationService.builder()
        .provider(a, config("a", 1)).provider(b, config("b", 2))
        .retryBackoff(Duration.ofMillis(1), Duration.ofMillis(2)).maxRetries(1)
        .listener(metrics).build();

    ImageGenerationResponse resp = service.generateImageWithFailover(request());
    assertThat(resp.provider()).isEqualTo("b");
    awaitGenerations(1);

    assertThat(meters("gen_ai.client.operation.duration", "imagegen.attempts", "imagegen.attempt.duration",
        "imagegen.retries", "imagegen.failovers", "imagegen.cost", "imagegen.cost.unknown", "imagegen.queue.wait",
        "imagegen.cache.hits")).containsExactlyEntriesOf(new TreeMap<>(Map.of(
        "gen_ai.client.operation.duration{error.type=none,gen_ai.operation.name=generate_image,gen_ai.provider.name=b,gen_ai.request.model=default}", 1.0,
        "imagegen.attempt.duration{gen_ai.provider.name=a,imagegen.attempt.outcome=failed}", 1.0,
        "imagegen.attempt.duration{gen_ai.provider.name=b,imagegen.attempt.outcome=succeeded}", 1.0,
        "imagegen.attempts{error.type=unavailable,gen_ai.provider.name=a,imagegen.attempt.outcome=failed}", 1.0,
        "imagegen.attempts{error.type=none,gen_ai.provider.name=b,imagegen.attempt.outcome=succeeded}", 1.0,
        "imagegen.cost{gen_ai.provider.name=b,imagegen.cost.source=estimated}", 0.04,
        "imagegen.failovers{error.type=unavailable,gen_ai.provider.name=a}", 1.0,
        "imagegen.queue.wait{gen_ai.provider.name=a}", 1.0,
        "imagegen.queue.wait{gen_ai.provider.name=b}", 1.0,
        "imagegen.retries{error.type=unavailable,gen_ai.provider.name=a}", 1.0)));
    Timer duration = registry.get("gen_ai.client.operation.duration").timer();
    assertThat(duration.totalTime(java.util.concurrent.TimeUnit.NANOSECONDS)).isPositive();
    assertThat(metrics.openGenerations()).isZero();
  }

  @Test
  void noTagCarriesThePromptTheGenerationIdTheApiKeyOrAnErrorMessage() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(
        ScriptedProvider.fail(new ContentPolicyException("refused: " + PROMPT, "a")));
    service = ImageGenerationService.builder().provider(a, config("a", 1))
        .listener(ImagegenMetrics.create(registry)).build();
    assertThatThrownBy(() -> service.generateImageWithFailover(
        ImageGenerationRequest.builder().prompt(PROMPT).model("my-private-finetune-8812").build()))
        .isInstanceOf(ContentPolicyException.class);
    ImageGenerationResponse ok = null;
    a.then(ScriptedProvider.ok());
    ok = service.generateImageWithFailover(request());
    awaitGenerations(2);

    TreeSet<String> values = registry.getMeters().stream().flatMap(m -> m.getId().getTags().stream())
        .map(Tag::getValue).collect(Collectors.toCollection(TreeSet::new));
    assertThat(values).noneMatch(v -> v.contains("fox") || v.contains("refused") || v.contains("secret")
        || v.contains("finetune"));
    assertThat(values).doesNotContain(ok.id());
    // the request's model is user input: an unknown name is "other"
    assertThat(meters("gen_ai.client.operation.duration")).containsOnlyKeys(
        "gen_ai.client.operation.duration{error.type=content_policy,gen_ai.operation.name=generate_image,gen_ai.provider.name=a,gen_ai.request.model=other}",
        "gen_ai.client.operation.duration{error.type=none,gen_ai.operation.name=generate_image,gen_ai.provider.name=a,gen_ai.request.model=default}");
  }

  @Test
  void aKnownModelIsItsOwnTagAndAnEditIsEditImage() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a", ProviderCapabilities.builder().img2img(true).build(), CostModel.free());
    service = ImageGenerationService.builder().provider(a, config("a", 1))
        .listener(ImagegenMetrics.builder(registry).models("sdxl").tags(List.of(Tag.of("app", "shop"))).build()).build();
    service.generateImageWithFailover(ImageGenerationRequest.builder().prompt(PROMPT).model("sdxl").build());
    service.generateImageWithFailover(ImageGenerationRequest.builder().prompt(PROMPT)
        .inputImage(InputImage.ofBytes(InputImage.Role.INIT, TestImages.png(8, 8))).strength(0.5).build());
    awaitGenerations(2);

    assertThat(meters("gen_ai.client.operation.duration")).containsOnlyKeys(
        "gen_ai.client.operation.duration{app=shop,error.type=none,gen_ai.operation.name=generate_image,gen_ai.provider.name=a,gen_ai.request.model=sdxl}",
        "gen_ai.client.operation.duration{app=shop,error.type=none,gen_ai.operation.name=edit_image,gen_ai.provider.name=a,gen_ai.request.model=default}");
    // a free provider settles a free cost
    assertThat(meters("imagegen.cost")).containsOnlyKeys("imagegen.cost{app=shop,gen_ai.provider.name=a,imagegen.cost.source=free}");
  }

  @Test
  void whenNoProviderCanServeTheProviderIsNoneAndTheErrorTypeIsTheKind() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", null)));
    ScriptedProvider b = new ScriptedProvider("b").then(ScriptedProvider.fail(new ProviderUnavailableException("HTTP 502", "b", null)));
    service = ImageGenerationService.builder().provider(a, config("a", 1)).provider(b, config("b", 2)).maxRetries(0)
        .listener(ImagegenMetrics.create(registry)).build();
    assertThatThrownBy(() -> service.generateImageWithFailover(request())).isInstanceOf(ImageGenerationException.class)
        .satisfies(e -> assertThat(((ImageGenerationException) e).providerId()).isNull());
    awaitGenerations(1);

    assertThat(meters("gen_ai.client.operation.duration")).containsOnlyKeys(
        "gen_ai.client.operation.duration{error.type=all_failed,gen_ai.operation.name=generate_image,gen_ai.provider.name=none,gen_ai.request.model=default}");
    // a failed over to b; b's failure, the last, is no failover
    assertThat(meters("imagegen.failovers")).containsOnlyKeys("imagegen.failovers{error.type=unavailable,gen_ai.provider.name=a}");
  }

  @Test
  void aCacheHitIsCountedAndTimed() throws Exception {
    service = ImageGenerationService.builder().provider(new ScriptedProvider("a"), config("a", 1))
        .cache(CacheConfig.inMemory(10)).listener(ImagegenMetrics.create(registry)).build();
    service.generateImageWithFailover(request());
    assertThat(service.generateImageWithFailover(request()).status()).isEqualTo(ImageGenerationResponse.Status.CACHED);
    awaitGenerations(2);

    assertThat(meters("imagegen.cache.hits", "imagegen.attempts")).containsExactlyEntriesOf(new TreeMap<>(Map.of(
        "imagegen.cache.hits{gen_ai.operation.name=generate_image}", 1.0,
        "imagegen.attempts{error.type=none,gen_ai.provider.name=a,imagegen.attempt.outcome=succeeded}", 1.0)));
  }

  @Test
  void aSubmitWhoseOutcomeIsUnknownCountsAnUnknownCost() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a", ProviderCapabilities.builder().build(), CostModel.perImage(new BigDecimal("0.05")))
        .then(ScriptedProvider.fail(new ProviderUnavailableException("connection reset after the submit", "a", true, true, null, null)));
    service = ImageGenerationService.builder().provider(a, config("a", 1)).listener(ImagegenMetrics.create(registry)).build();
    assertThatThrownBy(() -> service.generateImageWithFailover(request())).isInstanceOf(ImageGenerationException.class);
    awaitGenerations(1);

    assertThat(meters("imagegen.cost.unknown", "imagegen.cost")).containsExactlyEntriesOf(
        Map.of("imagegen.cost.unknown{gen_ai.provider.name=a}", 1.0));
  }

  @Test
  void theCircuitGaugeIsOneWhileTheProviderIsSkippedAndZeroOnceItIsUsedAgain() throws Exception {
    MutableClock clock = new MutableClock();
    ScriptedProvider a = new ScriptedProvider("a").then(
        ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", null)),
        ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", null)),
        ScriptedProvider.ok());
    ImagegenMetrics metrics = ImagegenMetrics.builder(registry).clock(clock).build();
    service = ImageGenerationService.builder()
        .provider(a, config("a", 1)).provider(new ScriptedProvider("b"), config("b", 200))
        .maxRetries(0).circuitBreaker(2, Duration.ofSeconds(30)).clock(clock)
        .listener(metrics).build();
    metrics.bindTo(service);
    assertThat(circuit("a")).isZero();
    assertThat(circuit("b")).isZero();

    service.generateImageWithFailover(request());
    service.generateImageWithFailover(request());
    awaitGenerations(2);
    assertThat(circuit("a")).isEqualTo(1.0);
    assertThat(circuit("b")).isZero();

    clock.advance(Duration.ofSeconds(31));
    assertThat(service.generateImageWithFailover(request()).provider()).isEqualTo("a");
    awaitGenerations(3);
    assertThat(circuit("a")).isZero();
  }

  @Test
  void aCoolDownReadsOneUntilItsDurationHasPassed() throws Exception {
    MutableClock clock = new MutableClock();
    ScriptedProvider a = new ScriptedProvider("a").then(
        ScriptedProvider.fail(new RateLimitedException("HTTP 429", "a", Duration.ofMinutes(10), null)));
    ImagegenMetrics metrics = ImagegenMetrics.builder(registry).clock(clock).build();
    service = ImageGenerationService.builder()
        .provider(a, config("a", 1)).provider(new ScriptedProvider("b"), config("b", 2)).clock(clock)
        .listener(metrics).build();
    assertThat(service.generateImageWithFailover(request()).provider()).isEqualTo("b");
    awaitGenerations(1);
    assertThat(circuit("a")).isEqualTo(1.0);

    clock.advance(Duration.ofMinutes(10).plusSeconds(1));
    assertThat(circuit("a")).isZero();
  }

  @Test
  void refusedCredentialsOpenTheCircuit() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.fail(new AuthenticationException("HTTP 401", "a")));
    service = ImageGenerationService.builder().provider(a, config("a", 1)).provider(new ScriptedProvider("b"), config("b", 2))
        .listener(ImagegenMetrics.create(registry)).build();
    service.generateImageWithFailover(request());
    service.generateImageWithFailover(request());
    awaitGenerations(2);
    assertThat(circuit("a")).isEqualTo(1.0);
    // the second generation skipped a without a call: counted, not timed
    assertThat(meters("imagegen.attempts")).containsEntry(
        "imagegen.attempts{error.type=authentication,gen_ai.provider.name=a,imagegen.attempt.outcome=skipped}", 1.0);
    assertThat(meters("imagegen.attempt.duration")).containsOnlyKeys(
        "imagegen.attempt.duration{gen_ai.provider.name=a,imagegen.attempt.outcome=failed}",
        "imagegen.attempt.duration{gen_ai.provider.name=b,imagegen.attempt.outcome=succeeded}");
  }

  private double circuit(String provider) {
    return registry.get("imagegen.circuit.state").tag("gen_ai.provider.name", provider).gauge().value();
  }

  /** An in-memory budget store that can be taken down. */
  static final class FlakyStore implements BudgetStore {
    final BudgetStore delegate = BudgetStore.inMemory();
    volatile boolean down;

    private void check() {
      if (down) {
        throw new IllegalStateException("connection refused: redis://:hunter2@localhost");
      }
    }

    @Override public boolean reserve(List<Scope> scopes, BigDecimal amount) { check(); return delegate.reserve(scopes, amount); }
    @Override public void settle(List<Scope> scopes, BigDecimal reserved, BigDecimal actual) { check(); delegate.settle(scopes, reserved, actual); }
    @Override public BigDecimal spent(String scope) { check(); return delegate.spent(scope); }
  }

  @Test
  void budgetGaugesReadWhatIsLeftAndNaNWhileTheStoreIsDown() throws Exception {
    MutableClock clock = new MutableClock();
    FlakyStore store = new FlakyStore();
    ScriptedProvider b = new ScriptedProvider("b", ProviderCapabilities.builder().build(), CostModel.perImage(new BigDecimal("0.04")));
    ImagegenMetrics metrics = ImagegenMetrics.builder(registry).clock(clock).build();
    service = ImageGenerationService.builder().provider(b, config("b", 1)).provider(new ScriptedProvider("c"), config("c", 2))
        .budget(BudgetPolicy.builder().total("1.00").perProvider("b", new BigDecimal("0.50")).build())
        .budgetStore(store).listener(metrics).build();
    ImagegenMetrics.ServiceGauges gauges = metrics.bindTo(service);
    service.generateImageWithFailover(request());
    clock.advance(Duration.ofSeconds(2));

    assertThat(budget("total", "all")).isCloseTo(0.96, within(1e-9));
    assertThat(budget("provider", "b")).isCloseTo(0.46, within(1e-9));
    // c has no limit of its own: no gauge
    assertThat(registry.find("imagegen.budget.remaining").tag("gen_ai.provider.name", "c").gauge()).isNull();

    store.down = true;
    clock.advance(Duration.ofSeconds(2));
    assertThat(budget("total", "all")).isNaN();
    assertThat(budget("provider", "b")).isNaN();
    store.down = false;
    clock.advance(Duration.ofSeconds(2));
    assertThat(budget("provider", "b")).isCloseTo(0.46, within(1e-9));

    gauges.close();
    assertThat(registry.find("imagegen.budget.remaining").gauges()).isEmpty();
    assertThat(registry.find("imagegen.generations.pending").gauges()).isEmpty();
  }

  @Test
  void bindingWhileTheStoreIsDownRegistersEveryScopeAsNaN() {
    FlakyStore store = new FlakyStore();
    store.down = true;
    ImagegenMetrics metrics = ImagegenMetrics.create(registry);
    service = ImageGenerationService.builder().provider(new ScriptedProvider("b"), config("b", 1))
        .budget(BudgetPolicy.builder().total("1.00").build()).budgetStore(store).listener(metrics).build();
    metrics.bindTo(service);
    assertThat(budget("total", "all")).isNaN();
    assertThat(budget("provider", "b")).isNaN();
    store.down = false;
  }

  private double budget(String scope, String provider) {
    return registry.get("imagegen.budget.remaining").tag("imagegen.budget.scope", scope)
        .tag("gen_ai.provider.name", provider).gauge().value();
  }

  @Test
  void thePendingGaugeCountsGenerationsNotYetFinished() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a");
    a.then(a.hang());
    ImagegenMetrics metrics = ImagegenMetrics.create(registry);
    service = ImageGenerationService.builder().provider(a, config("a", 1)).listener(metrics).build();
    metrics.bindTo(service);
    assertThat(registry.get("imagegen.generations.pending").gauge().value()).isZero();

    GenerationJob job = service.submit(request());
    eventually(WITHIN, () -> assertThat(a.calls.get()).isEqualTo(1));
    assertThat(registry.get("imagegen.generations.pending").gauge().value()).isEqualTo(1.0);
    job.cancel();
    awaitGenerations(1);
    eventually(WITHIN, () -> assertThat(registry.get("imagegen.generations.pending").gauge().value()).isZero());
    assertThat(meters("gen_ai.client.operation.duration")).containsOnlyKeys(
        "gen_ai.client.operation.duration{error.type=cancelled,gen_ai.operation.name=generate_image,gen_ai.provider.name=a,gen_ai.request.model=default}");
  }

  @Test
  void theGaugesDoNotKeepAnUnreachableServiceAlive() throws Exception {
    ImagegenMetrics metrics = ImagegenMetrics.create(registry);
    ImageGenerationService local = ImageGenerationService.builder().provider(new ScriptedProvider("a"), config("a", 1))
        .budget(BudgetPolicy.builder().total("1.00").build()).listener(metrics).build();
    metrics.bindTo(local);
    assertThat(budget("total", "all")).isEqualTo(1.0);
    java.lang.ref.WeakReference<ImageGenerationService> ref = new java.lang.ref.WeakReference<>(local);
    local.close();
    local = null;
    eventually(WITHIN, () -> {
      System.gc();
      assertThat(ref.get()).isNull();
    });
    assertThat(budget("total", "all")).isNaN();
    assertThat(registry.get("imagegen.generations.pending").gauge().value()).isNaN();
  }

  @Test
  void errorTypeOnlyOnFailureLeavesItOffSuccessesAsTheSemanticConventionsHaveIt() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.ok(), ScriptedProvider.fail(new ContentPolicyException("NSFW", "a")));
    service = ImageGenerationService.builder().provider(a, config("a", 1))
        .listener(ImagegenMetrics.builder(registry).errorTypeOnlyOnFailure(true).build()).build();
    service.generateImageWithFailover(request());
    assertThatThrownBy(() -> service.generateImageWithFailover(request())).isInstanceOf(ContentPolicyException.class);
    awaitGenerations(2);

    assertThat(meters("gen_ai.client.operation.duration", "imagegen.attempts")).containsOnlyKeys(
        "gen_ai.client.operation.duration{gen_ai.operation.name=generate_image,gen_ai.provider.name=a,gen_ai.request.model=default}",
        "gen_ai.client.operation.duration{error.type=content_policy,gen_ai.operation.name=generate_image,gen_ai.provider.name=a,gen_ai.request.model=default}",
        "imagegen.attempts{gen_ai.provider.name=a,imagegen.attempt.outcome=succeeded}",
        "imagegen.attempts{error.type=content_policy,gen_ai.provider.name=a,imagegen.attempt.outcome=failed}");
  }

  @Test
  void bindingASecondServiceIsRefusedUntilTheFirstsGaugesAreClosed() {
    ImagegenMetrics metrics = ImagegenMetrics.create(registry);
    service = ImageGenerationService.builder().provider(new ScriptedProvider("a"), config("a", 1)).listener(metrics).build();
    ImagegenMetrics.ServiceGauges first = metrics.bindTo(service);
    // no budget limits: no budget gauges
    assertThat(registry.find("imagegen.budget.remaining").gauges()).isEmpty();
    assertThat(first.meters()).extracting(m -> m.getId().getName()).containsExactly("imagegen.generations.pending");
    try (ImageGenerationService other = ImageGenerationService.builder().provider(new ScriptedProvider("b"), config("b", 1))
        .listener(metrics).build()) {
      assertThatThrownBy(() -> metrics.bindTo(other)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("already bound").hasMessageContaining("distinct tags()");
      first.close();
      metrics.bindTo(other);
      assertThat(registry.get("imagegen.generations.pending").gauge().value()).isZero();
    }
  }
}
