package dev.imagegen.micrometer;

import static dev.imagegen.testing.Eventually.eventually;
import static io.micrometer.observation.tck.TestObservationRegistryAssert.assertThat;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.AuthenticationException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.ScriptedProvider;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationHandler;
import io.micrometer.observation.tck.TestObservationRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Observations a generation makes, checked with Micrometer's test registry. */
class ImagegenObservationsTest {
  private static final Duration WITHIN = Duration.ofSeconds(20);
  private static final String PROMPT = "a red fox in the snow at dawn";
  private final TestObservationRegistry registry = TestObservationRegistry.create();
  /** "observation name: event name: event contextual name", as handlers see them. */
  private final List<String> events = new CopyOnWriteArrayList<>();
  /** The names of the Observations stopped. */
  private final List<String> stopped = new CopyOnWriteArrayList<>();
  private ImageGenerationService service;

  @BeforeEach
  void recordEvents() {
    registry.observationConfig().observationHandler(new ObservationHandler<>() {
      @Override public void onEvent(Observation.Event event, Observation.Context context) {
        events.add(context.getName() + ": " + event.getName() + ": " + event.getContextualName());
      }

      @Override public void onStop(Observation.Context context) {
        stopped.add(context.getName());
      }

      @Override public boolean supportsContext(Observation.Context context) {
        return true;
      }
    });
  }

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

  private List<Observation.Context> contexts(String name) {
    List<Observation.Context> out = new ArrayList<>();
    assertThat(registry).hasHandledContextsThatSatisfy(all -> all.stream()
        .filter(c -> c.getName().equals(name)).forEach(out::add));
    return out;
  }

  private static void awaitIdle(ImagegenObservations o, int started, TestObservationRegistry registry) throws InterruptedException {
    eventually(WITHIN, () -> {
      assertThat(registry).hasNumberOfObservationsWithNameEqualTo(ImagegenObservations.GENERATION, started);
      assertThat(o.openGenerations()).isZero();
    });
  }

  @Test
  void aFailoverIsAGenerationObservationUnderTheCallersWithOneChildPerAttempt() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(
        ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", null)),
        ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", null)));
    ImagegenObservations observations = ImagegenObservations.create(registry);
    service = ImageGenerationService.builder().provider(a, config("a", 1)).provider(new ScriptedProvider("b"), config("b", 2))
        .retryBackoff(Duration.ofMillis(1), Duration.ofMillis(2)).maxRetries(1)
        .listener(observations).build();

    Observation parent = Observation.createNotStarted("checkout", registry);
    ImageGenerationResponse resp = parent.observe(() -> service.generateImageWithFailover(request()));
    awaitIdle(observations, 1, registry);

    assertThat(registry).hasObservationWithNameEqualTo(ImagegenObservations.GENERATION).that()
        .hasBeenStarted().hasBeenStopped()
        .hasParentObservationEqualTo(parent)
        .hasContextualNameEqualTo("generate_image b")
        .hasLowCardinalityKeyValue("gen_ai.operation.name", "generate_image")
        .hasLowCardinalityKeyValue("gen_ai.provider.name", "b")
        .hasLowCardinalityKeyValue("gen_ai.request.model", "default")
        .hasLowCardinalityKeyValue("imagegen.cached", "false")
        .hasLowCardinalityKeyValue("error.type", "none")
        .hasHighCardinalityKeyValue("imagegen.generation.id", resp.id())
        .hasHighCardinalityKeyValue("gen_ai.response.model", "scripted-model")
        .doesNotHaveHighCardinalityKeyValueWithKey("imagegen.prompt")
        .doesNotHaveError();
    Observation.Context generation = contexts(ImagegenObservations.GENERATION).get(0);
    List<Observation.Context> attempts = contexts(ImagegenObservations.ATTEMPT);
    assertThat(attempts).hasSize(2);
    assertThat(attempts).allSatisfy(c -> assertThat(c.getParentObservation().getContextView()).isSameAs(generation));
    Observation.Context failed = attempts.get(0);
    io.micrometer.observation.tck.ObservationContextAssert.assertThat(failed)
        .hasContextualNameEqualTo("attempt a")
        .hasLowCardinalityKeyValue("gen_ai.provider.name", "a")
        .hasLowCardinalityKeyValue("imagegen.attempt.outcome", "failed")
        .hasLowCardinalityKeyValue("error.type", "unavailable")
        .hasHighCardinalityKeyValue("imagegen.attempt.number", "1")
        .hasError();
    assertThat(failed.getError()).isInstanceOf(ProviderUnavailableException.class);
    io.micrometer.observation.tck.ObservationContextAssert.assertThat(attempts.get(1))
        .hasContextualNameEqualTo("attempt b")
        .hasLowCardinalityKeyValue("imagegen.attempt.outcome", "succeeded")
        .hasHighCardinalityKeyValue("imagegen.attempt.number", "2")
        .hasLowCardinalityKeyValue("error.type", "none")
        .doesNotHaveError();
    assertThat(events).containsExactly(
        "imagegen.attempt: imagegen.retry: retry a call 2 (unavailable)",
        "imagegen.generation: imagegen.failover: failover a (unavailable) -> b");
  }

  @Test
  void aFailedGenerationCarriesTheErrorTheCallerGot() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.fail(new ContentPolicyException("NSFW", "a")));
    ImagegenObservations observations = ImagegenObservations.create(registry);
    service = ImageGenerationService.builder().provider(a, config("a", 1)).listener(observations).build();
    assertThatThrownBy(() -> service.generateImageWithFailover(request())).isInstanceOf(ContentPolicyException.class);
    awaitIdle(observations, 1, registry);

    assertThat(registry).hasObservationWithNameEqualTo(ImagegenObservations.GENERATION).that()
        .doesNotHaveParentObservation()
        .hasContextualNameEqualTo("generate_image a")
        .hasLowCardinalityKeyValue("error.type", "content_policy")
        .hasLowCardinalityKeyValue("gen_ai.provider.name", "a")
        .hasError()
        .assertThatError().isInstanceOf(ContentPolicyException.class);
  }

  @Test
  void aProviderSkippedWithoutACallIsAnEventNotAChild() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.fail(new AuthenticationException("HTTP 401", "a")));
    ImagegenObservations observations = ImagegenObservations.create(registry);
    service = ImageGenerationService.builder().provider(a, config("a", 1)).provider(new ScriptedProvider("b"), config("b", 2))
        .listener(observations).build();
    service.generateImageWithFailover(request());
    awaitIdle(observations, 1, registry);
    events.clear();
    service.generateImageWithFailover(request());
    awaitIdle(observations, 2, registry);

    // 2 attempts in the first generation (a failed, b), 1 in the second (b)
    assertThat(registry).hasNumberOfObservationsWithNameEqualTo(ImagegenObservations.ATTEMPT, 3);
    assertThat(events).containsExactly("imagegen.generation: imagegen.attempt.skipped: skipped a (authentication)");
  }

  @Test
  void theCircuitOpenedByAGenerationIsAnEventOnIt() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.fail(new AuthenticationException("HTTP 401", "a")));
    ImagegenObservations observations = ImagegenObservations.create(registry);
    service = ImageGenerationService.builder().provider(a, config("a", 1)).provider(new ScriptedProvider("b"), config("b", 2))
        .listener(observations).build();
    service.generateImageWithFailover(request());
    awaitIdle(observations, 1, registry);
    assertThat(events).containsExactly(
        "imagegen.generation: imagegen.circuit.opened: circuit a opened",
        "imagegen.generation: imagegen.circuit.cooling_down: circuit a cooling_down",
        "imagegen.generation: imagegen.failover: failover a (authentication) -> b");
  }

  @Test
  void thePromptIsRecordedOnlyWhenAskedFor() throws Exception {
    ImagegenObservations observations = ImagegenObservations.builder(registry).includePrompt(true).build();
    service = ImageGenerationService.builder().provider(new ScriptedProvider("a"), config("a", 1)).listener(observations).build();
    service.generateImageWithFailover(request());
    awaitIdle(observations, 1, registry);
    assertThat(registry).hasObservationWithNameEqualTo(ImagegenObservations.GENERATION).that()
        .hasHighCardinalityKeyValue("imagegen.prompt", PROMPT);
  }

  @Test
  void aFailureThatQuotesThePromptIsRecordedWithThePromptMasked() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.fail(
        new ContentPolicyException("the prompt '" + PROMPT + "' was refused", "a")));
    ImagegenObservations observations = ImagegenObservations.create(registry);
    service = ImageGenerationService.builder().provider(a, config("a", 1)).listener(observations).build();
    assertThatThrownBy(() -> service.generateImageWithFailover(request())).isInstanceOf(ContentPolicyException.class);
    awaitIdle(observations, 1, registry);

    for (String name : List.of(ImagegenObservations.GENERATION, ImagegenObservations.ATTEMPT)) {
      Throwable error = contexts(name).get(0).getError();
      assertThat(error).isNotNull();
      assertThat(error.getMessage()).doesNotContain("fox").contains("[prompt]").contains("ContentPolicyException");
      assertThat(error.getCause()).isNull();
    }
  }

  @Test
  void aThousandGenerationsLeaveNothingOpen() throws Exception {
    ImagegenObservations observations = ImagegenObservations.create(registry);
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.ok(),
        ScriptedProvider.fail(new ContentPolicyException("NSFW", "a")), ScriptedProvider.ok());
    service = ImageGenerationService.builder().provider(a, config("a", 1)).maxPendingGenerations(2_000).listener(observations).build();
    List<CompletableFuture<ImageGenerationResponse>> all = new ArrayList<>();
    for (int i = 0; i < 1_000; i++) {
      all.add(service.generateAsync(request()));
    }
    for (CompletableFuture<ImageGenerationResponse> f : all) {
      f.handle((r, e) -> null).get(30, TimeUnit.SECONDS);
    }
    awaitIdle(observations, 1_000, registry);
    assertThat(registry).hasNumberOfObservationsWithNameEqualTo(ImagegenObservations.ATTEMPT, 1_000);
    assertThat(stopped.stream().filter(ImagegenObservations.GENERATION::equals)).hasSize(1_000);
    assertThat(stopped.stream().filter(ImagegenObservations.ATTEMPT::equals)).hasSize(1_000);
  }

  @Test
  void aNoopRegistryKeepsNothing() throws Exception {
    ImagegenObservations observations = ImagegenObservations.create(io.micrometer.observation.ObservationRegistry.NOOP);
    service = ImageGenerationService.builder().provider(new ScriptedProvider("a"), config("a", 1)).listener(observations).build();
    service.generateImageWithFailover(request());
    assertThat(observations.captureContext()).isNull();
    assertThat(observations.openGenerations()).isZero();
  }

  @Test
  void errorTypeOnlyOnFailureLeavesItOffASuccess() throws Exception {
    ImagegenObservations observations = ImagegenObservations.builder(registry).errorTypeOnlyOnFailure(true).build();
    service = ImageGenerationService.builder().provider(new ScriptedProvider("a"), config("a", 1)).listener(observations).build();
    service.generateImageWithFailover(request());
    awaitIdle(observations, 1, registry);
    assertThat(registry).hasObservationWithNameEqualTo(ImagegenObservations.GENERATION).that()
        .doesNotHaveLowCardinalityKeyValueWithKey("error.type");
    assertThat(registry).hasObservationWithNameEqualTo(ImagegenObservations.ATTEMPT).that()
        .doesNotHaveLowCardinalityKeyValueWithKey("error.type");
  }
}
