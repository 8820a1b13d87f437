package dev.imagegen.micrometer;

import static dev.imagegen.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.ContentPolicyException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.ScriptedProvider;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import io.micrometer.tracing.handler.DefaultTracingObservationHandler;
import io.micrometer.tracing.otel.bridge.OtelBaggageManager;
import io.micrometer.tracing.otel.bridge.OtelCurrentTraceContext;
import io.micrometer.tracing.otel.bridge.OtelTracer;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Spans through a real bridge: Micrometer Tracing on the OpenTelemetry SDK, exported in memory. */
class OtelTracingTest {
  private static final Duration WITHIN = Duration.ofSeconds(20);
  private static final String PROMPT = "a red fox in the snow at dawn";
  private static final String API_KEY = "sk-live-4f9a2c7e1b";
  private final InMemorySpanExporter exporter = InMemorySpanExporter.create();
  private SdkTracerProvider tracerProvider;
  private ObservationRegistry registry;
  private ImageGenerationService service;

  @BeforeEach
  void tracing() {
    tracerProvider = SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(exporter)).build();
    OtelCurrentTraceContext current = new OtelCurrentTraceContext();
    OtelTracer tracer = new OtelTracer(tracerProvider.get("imagegen-test"), current, event -> {},
        new OtelBaggageManager(current, List.of(), List.of()));
    registry = ObservationRegistry.create();
    registry.observationConfig().observationHandler(new DefaultTracingObservationHandler(tracer));
  }

  @AfterEach
  void close() {
    if (service != null) {
      service.close();
    }
    tracerProvider.close();
  }

  private static ProviderConfig config(String id, int priority) {
    return ProviderConfig.builder(id).set("priority", Integer.toString(priority)).set("api-key", API_KEY).build();
  }

  private static SpanData named(List<SpanData> spans, String name) {
    return spans.stream().filter(s -> s.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no span " + name + " in " + spans.stream().map(SpanData::getName).toList()));
  }

  /** Everything a span exports as text: name, attributes, events and their attributes, status. */
  private static String exported(SpanData s) {
    return s.getName() + " " + s.getAttributes() + " " + s.getEvents() + " " + s.getStatus();
  }

  @Test
  void aGenerationInsideAParentSpanIsItsChildWithOneChildSpanPerAttempt() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(
        ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", null)),
        ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", null)));
    service = ImageGenerationService.builder().provider(a, config("a", 1)).provider(new ScriptedProvider("b"), config("b", 2))
        .retryBackoff(Duration.ofMillis(1), Duration.ofMillis(2)).maxRetries(1)
        .listener(ImagegenObservations.create(registry)).build();

    ImageGenerationResponse resp = Observation.createNotStarted("checkout", registry)
        .observe(() -> service.generateImageWithFailover(ImageGenerationRequest.builder().prompt(PROMPT).build()));

    eventually(WITHIN, () -> assertThat(exporter.getFinishedSpanItems()).hasSize(4));
    List<SpanData> spans = exporter.getFinishedSpanItems();
    SpanData parent = named(spans, "checkout");
    SpanData generation = named(spans, "generate_image b");
    SpanData attemptA = named(spans, "attempt a");
    SpanData attemptB = named(spans, "attempt b");
    assertThat(spans).extracting(SpanData::getTraceId).containsOnly(parent.getTraceId());
    assertThat(generation.getParentSpanId()).isEqualTo(parent.getSpanId());
    assertThat(attemptA.getParentSpanId()).isEqualTo(generation.getSpanId());
    assertThat(attemptB.getParentSpanId()).isEqualTo(generation.getSpanId());

    assertThat(attemptA.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
    assertThat(attemptA.getAttributes().get(AttributeKey.stringKey("error.type"))).isEqualTo("unavailable");
    assertThat(attemptA.getEvents()).extracting(e -> e.getName()).contains("retry a call 2 (unavailable)");
    assertThat(attemptB.getStatus().getStatusCode()).isNotEqualTo(StatusCode.ERROR);
    assertThat(generation.getStatus().getStatusCode()).isNotEqualTo(StatusCode.ERROR);
    assertThat(generation.getAttributes().get(AttributeKey.stringKey("gen_ai.provider.name"))).isEqualTo("b");
    assertThat(generation.getAttributes().get(AttributeKey.stringKey("gen_ai.operation.name"))).isEqualTo("generate_image");
    assertThat(generation.getAttributes().get(AttributeKey.stringKey("imagegen.generation.id"))).isEqualTo(resp.id());
    assertThat(generation.getEvents()).extracting(e -> e.getName()).containsExactly("failover a (unavailable) -> b");

    assertThat(spans).allSatisfy(s -> assertThat(exported(s)).doesNotContain("fox").doesNotContain(API_KEY));
  }

  @Test
  void aFailedGenerationIsAnErrorSpanWithoutThePromptItsProviderEchoed() throws Exception {
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.fail(
        new ContentPolicyException("the prompt '" + PROMPT + "' was refused", "a")));
    service = ImageGenerationService.builder().provider(a, config("a", 1))
        .listener(ImagegenObservations.create(registry)).build();

    assertThatThrownBy(() -> service.generateImageWithFailover(ImageGenerationRequest.builder().prompt(PROMPT).build()))
        .isInstanceOf(ContentPolicyException.class);

    eventually(WITHIN, () -> assertThat(exporter.getFinishedSpanItems()).hasSize(2));
    List<SpanData> spans = exporter.getFinishedSpanItems();
    SpanData generation = named(spans, "generate_image a");
    assertThat(generation.getParentSpanId()).isEqualTo(io.opentelemetry.api.trace.SpanId.getInvalid());
    assertThat(generation.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
    assertThat(generation.getAttributes().get(AttributeKey.stringKey("error.type"))).isEqualTo("content_policy");
    assertThat(named(spans, "attempt a").getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
    // the exception events say what failed, with the prompt masked
    assertThat(exported(generation)).contains("ContentPolicyException").contains("[prompt]");
    assertThat(spans).allSatisfy(s -> assertThat(exported(s)).doesNotContain("fox").doesNotContain(API_KEY));
  }
}
