package dev.imagegen;

import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.WireMock;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.ScriptedProvider;
import java.math.BigDecimal;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The failover matrix: which failure on the first provider leads to retry, failover or stop. */
class FailoverTest {
  private final ScriptedProvider a = new ScriptedProvider("a");
  private final ScriptedProvider b = new ScriptedProvider("b");
  private ImageGenerationService service;

  private ImageGenerationService service(ImageGenerationService.Builder builder) {
    service = builder.provider(a, ProviderConfig.builder("a").set("priority", "1").build())
        .provider(b, ProviderConfig.builder("b").set("priority", "2").build())
        .retryBackoff(Duration.ofMillis(1), Duration.ofMillis(5))
        .build();
    return service;
  }

  private ImageGenerationService service() {
    return service(ImageGenerationService.builder());
  }

  @AfterEach
  void close() {
    if (service != null) {
      service.close();
    }
  }

  private static ImageGenerationRequest request() {
    return ImageGenerationRequest.builder().prompt("a red fox").seed(1L).build();
  }

  static Stream<Arguments> failoverMatrix() {
    return Stream.of(
        // failure on a, calls made to a, expected outcome
        Arguments.of("5xx every time: retried, then failover",
            (Supplier<ImageGenerationException>) () -> new ProviderUnavailableException("HTTP 503", "a", null), 3, "b"),
        Arguments.of("auth refused: no retry, failover",
            (Supplier<ImageGenerationException>) () -> new AuthenticationException("HTTP 401", "a"), 1, "b"),
        Arguments.of("out of credits: no retry, failover",
            (Supplier<ImageGenerationException>) () -> new InsufficientCreditsException("HTTP 402", "a"), 1, "b"),
        Arguments.of("429 with Retry-After: 0 every time: retried at once, then failover (never a cancellation)",
            (Supplier<ImageGenerationException>) () -> new RateLimitedException("429", "a", Duration.ZERO, null), 3, "b"),
        Arguments.of("429 with a long Retry-After: no wait, failover",
            (Supplier<ImageGenerationException>) () -> new RateLimitedException("429", "a", Duration.ofSeconds(120), null), 1, "b"),
        Arguments.of("outcome unknown after submit, provider cannot look it up: no resubmit, stop",
            (Supplier<ImageGenerationException>) () -> new ProviderUnavailableException("reset", "a", true, true, null, null), 1, null),
        Arguments.of("invalid request: stop",
            (Supplier<ImageGenerationException>) () -> new InvalidRequestException("HTTP 422: bad width", "a"), 1, null),
        Arguments.of("model retired or unknown at this provider: next, as a capability skip",
            (Supplier<ImageGenerationException>) () -> InvalidRequestException.notServedHere(
                "model 'gpt-image-1' is shut down; set imagegen.a.model", "a"), 1, "b"),
        Arguments.of("content policy: stop",
            (Supplier<ImageGenerationException>) () -> new ContentPolicyException("NSFW", "a"), 1, null));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("failoverMatrix")
  void failoverMatrix(String name, Supplier<ImageGenerationException> failure, int callsToA, String servedBy) {
    a.then(ScriptedProvider.fail(failure.get()));
    ImageGenerationService s = service();
    if (servedBy == null) {
      assertThatThrownBy(() -> s.generateImageWithFailover(request())).isInstanceOf(failure.get().getClass());
      assertThat(b.calls).hasValue(0);
    } else {
      ImageGenerationResponse r = s.generateImageWithFailover(request());
      assertThat(r.provider()).isEqualTo(servedBy);
      assertThat(r.attempts()).extracting(Attempt::provider, Attempt::outcome)
          .containsExactly(org.assertj.core.groups.Tuple.tuple("a", Attempt.Outcome.FAILED),
              org.assertj.core.groups.Tuple.tuple("b", Attempt.Outcome.SUCCEEDED));
      assertThat(r.attempts().get(0).errorKind()).isEqualTo(failure.get().kind());
      assertThat(r.attempts().get(0).calls()).isEqualTo(callsToA);
    }
    assertThat(a.calls).hasValue(callsToA);
  }

  @Test
  void aRetryAfterOfZeroOnAnHttpAnswerIsRetriedAtOnceNotReportedAsACancellation() {
    WireMockServer server = new WireMockServer(options().dynamicPort());
    server.start();
    try {
      server.stubFor(WireMock.post("/generate").inScenario("429").whenScenarioStateIs(Scenario.STARTED)
          .willReturn(WireMock.aResponse().withStatus(429).withHeader("Retry-After", "0").withBody("{\"error\":\"slow down\"}"))
          .willSetStateTo("ok"));
      server.stubFor(WireMock.post("/generate").inScenario("429").whenScenarioStateIs("ok")
          .willReturn(WireMock.aResponse().withStatus(200).withBody("{}")));
      ScriptedProvider.Step overHttp = (req, ctx) -> ctx.http().call(ctx.http().request(URI.create(server.baseUrl() + "/generate"))
          .POST(HttpRequest.BodyPublishers.ofString("{}")).build()).thenCompose(r -> r.status() == 200
              ? ScriptedProvider.ok().apply(req, ctx) : CompletableFuture.failedFuture(ctx.http().mapError(r)));
      a.then(overHttp, overHttp);
      ImageGenerationResponse r = service().generateImageWithFailover(request());
      assertThat(r.provider()).isEqualTo("a");
      assertThat(server.findAll(WireMock.postRequestedFor(WireMock.urlEqualTo("/generate")))).hasSize(2);
      assertThat(b.calls).hasValue(0);
    } finally {
      server.stop();
    }
  }

  @Test
  void transientFailureThenSuccessStaysOnTheSameProvider() {
    a.then(ScriptedProvider.fail(new ProviderUnavailableException("HTTP 502", "a", null)),
        ScriptedProvider.fail(new RateLimitedException("429", "a", Duration.ofMillis(20), null)), ScriptedProvider.ok());
    ImageGenerationResponse r = service().generateImageWithFailover(request());
    assertThat(r.provider()).isEqualTo("a");
    assertThat(a.calls).hasValue(3);
    assertThat(b.calls).hasValue(0);
    assertThat(r.attempts()).singleElement().satisfies(at -> assertThat(at.calls()).isEqualTo(3));
  }

  @Test
  void unknownOutcomeStopsWithAnExceptionSayingTheJobMayBeBilled() {
    a.then(ScriptedProvider.fail(new ProviderUnavailableException("reset after send", "a", true, true, null, null)));
    assertThatThrownBy(() -> service().generateImageWithFailover(request()))
        .isInstanceOfSatisfying(ProviderUnavailableException.class, e -> {
          assertThat(e.outcomeUnknown()).isTrue();
          assertThat(e.getMessage()).contains("may be billed").contains("failoverOnUnknownOutcome");
        });
    assertThat(a.calls).hasValue(1);
    assertThat(b.calls).hasValue(0);
  }

  @Test
  void unknownOutcomeFailsOverWhenTheOperatorOptsInAndIsReportedAsMayBeBilled() {
    a.then(ScriptedProvider.fail(new ProviderUnavailableException("reset after send", "a", true, true, null, null)));
    ImageGenerationResponse r = service(ImageGenerationService.builder().failoverOnUnknownOutcome(true))
        .generateImageWithFailover(request());
    assertThat(r.provider()).isEqualTo("b");
    assertThat(a.calls).hasValue(1);
    assertThat(r.attempts().get(0).mayBeBilled()).isTrue();
    assertThat(r.attempts().get(0).summary()).contains("[may be billed]");
  }

  @Test
  void contentPolicyFailsOverWhenConfigured() {
    a.then(ScriptedProvider.fail(new ContentPolicyException("NSFW", "a")));
    ImageGenerationResponse r = service(ImageGenerationService.builder().failoverOnContentPolicy(true))
        .generateImageWithFailover(request());
    assertThat(r.provider()).isEqualTo("b");
  }

  @Test
  void censoredOrEmptyResultsAreFailuresNotSuccesses() {
    a.then(ScriptedProvider.censored());
    assertThatThrownBy(() -> service().generateImageWithFailover(request())).isInstanceOf(ContentPolicyException.class);
    a.then(ScriptedProvider.empty());
    ImageGenerationResponse r = service.generateImageWithFailover(request());
    assertThat(r.provider()).isEqualTo("b");
    assertThat(r.attempts().get(0).message()).contains("returned no images");
  }

  @Test
  void aProviderThatThrowsIsAFaultNamingIt() {
    a.then(ScriptedProvider.crash(new NullPointerException("boom")));
    ImageGenerationResponse r = service().generateImageWithFailover(request());
    assertThat(r.provider()).isEqualTo("b");
    assertThat(r.attempts().get(0).message()).startsWith("a: provider fault: NullPointerException: boom");
    assertThat(a.calls).hasValue(1);
  }

  @Test
  void allFailingCarriesEveryAttempt() {
    a.then(ScriptedProvider.fail(new AuthenticationException("HTTP 401", "a")));
    b.then(ScriptedProvider.fail(new InsufficientCreditsException("HTTP 402", "b")));
    assertThatThrownBy(() -> service().generateImageWithFailover(request()))
        .isInstanceOfSatisfying(AllProvidersFailedException.class, e -> {
          assertThat(e.attempts()).extracting(Attempt::provider, Attempt::errorKind).containsExactly(
              org.assertj.core.groups.Tuple.tuple("a", ErrorKind.AUTHENTICATION),
              org.assertj.core.groups.Tuple.tuple("b", ErrorKind.INSUFFICIENT_CREDITS));
          assertThat(e.getCause()).isInstanceOf(InsufficientCreditsException.class);
          assertThat(e.getMessage()).contains("a failed (AUTHENTICATION)").contains("b failed (INSUFFICIENT_CREDITS)");
        });
  }

  @Test
  void singleProviderCallDoesNotFailOver() {
    a.then(ScriptedProvider.fail(new AuthenticationException("HTTP 401", "a")));
    assertThatThrownBy(() -> service().generateImage(request(), "a")).isInstanceOf(AuthenticationException.class);
    assertThat(b.calls).hasValue(0);
    assertThatThrownBy(() -> service.generateImage(request(), "nope"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unknown provider 'nope' (configured: a, b)");
  }

  @Test
  void longRetryAfterCoolsTheProviderDownForLaterRequests() {
    a.then(ScriptedProvider.fail(new RateLimitedException("429", "a", Duration.ofSeconds(120), null)), ScriptedProvider.ok());
    ImageGenerationService s = service();
    s.generateImageWithFailover(request());
    ImageGenerationResponse second = s.generateImageWithFailover(request());
    assertThat(second.provider()).isEqualTo("b");
    assertThat(second.attempts().get(0).outcome()).isEqualTo(Attempt.Outcome.SKIPPED);
    assertThat(second.attempts().get(0).message()).contains("cooling down").contains("Retry-After 120 s");
    assertThat(a.calls).hasValue(1);
  }

  @Test
  void circuitOpensAfterRepeatedFailures() {
    a.then(ScriptedProvider.fail(new ProviderUnavailableException("HTTP 500", "a", null)));
    ImageGenerationService s = service(ImageGenerationService.builder().maxRetries(0).circuitBreaker(3, Duration.ofMinutes(1)));
    for (int i = 0; i < 3; i++) {
      assertThat(s.generateImageWithFailover(request()).provider()).isEqualTo("b");
    }
    ImageGenerationResponse r = s.generateImageWithFailover(request());
    assertThat(r.attempts().get(0).outcome()).isEqualTo(Attempt.Outcome.SKIPPED);
    assertThat(r.attempts().get(0).message()).contains("circuit open");
    assertThat(a.calls).hasValue(3);
  }

  @Test
  void anOpenCircuitLetsATrialCallThroughOnceItsDelayHasPassed() throws Exception {
    a.then(ScriptedProvider.fail(new ProviderUnavailableException("HTTP 500", "a", null)),
        ScriptedProvider.fail(new ProviderUnavailableException("HTTP 500", "a", null)), ScriptedProvider.ok());
    ImageGenerationService s = service(ImageGenerationService.builder().maxRetries(0).circuitBreaker(2, Duration.ofMillis(200)));
    s.generateImageWithFailover(request());
    s.generateImageWithFailover(request());
    assertThat(s.generateImageWithFailover(request()).attempts().get(0).message()).contains("circuit open");
    Thread.sleep(300);
    ImageGenerationResponse r = s.generateImageWithFailover(request());
    assertThat(r.provider()).isEqualTo("a");
    assertThat(a.calls).hasValue(3);
    assertThat(s.generateImageWithFailover(request()).provider()).isEqualTo("a"); // closed again
  }

  @Test
  void providersThatCannotHonourAnInputAreSkippedNeverSentWithoutIt() {
    ScriptedProvider inpainter = new ScriptedProvider("inpainter",
        ProviderCapabilities.builder().img2img(true).mask(true).build(), CostModel.free());
    service = ImageGenerationService.builder()
        .provider(a, ProviderConfig.builder("a").set("priority", "1").build())
        .provider(inpainter, ProviderConfig.builder("inpainter").set("priority", "2").build())
        .build();
    ImageGenerationRequest masked = ImageGenerationRequest.builder().prompt("fix the sky")
        .inputImage(InputImage.ofUrl(InputImage.Role.INIT, URI.create("https://example.com/i.png")))
        .inputImage(InputImage.ofUrl(InputImage.Role.MASK, URI.create("https://example.com/m.png"))).build();
    ImageGenerationResponse r = service.generateImageWithFailover(masked);
    assertThat(r.provider()).isEqualTo("inpainter");
    assertThat(r.attempts().get(0).outcome()).isEqualTo(Attempt.Outcome.SKIPPED);
    assertThat(r.attempts().get(0).message()).contains("no img2img").contains("mask would be dropped");
    assertThat(a.calls).hasValue(0);

    ImageGenerationRequest refs = ImageGenerationRequest.builder().prompt("try on")
        .inputImage(InputImage.ofBytes(InputImage.Role.REFERENCE, ScriptedProvider.png())).build();
    assertThatThrownBy(() -> service.generateImageWithFailover(refs))
        .isInstanceOf(NoCapableProviderException.class)
        .hasMessageContaining("a: no reference images (1 would be dropped)")
        .hasMessageContaining("inpainter: no reference images");
  }

  @Test
  void aNegativePromptTheProviderIgnoresIsSoftTheProviderServesTheRequest() {
    ScriptedProvider flux = new ScriptedProvider("flux", ProviderCapabilities.builder().negativePrompt(false).build(),
        CostModel.free());
    service = ImageGenerationService.builder().provider(flux, ProviderConfig.builder("flux").build()).build();
    ImageGenerationRequest r = ImageGenerationRequest.builder().prompt("a red fox").negativePrompt("blurry").build();

    assertThat(service.generateImage(r, "flux").provider()).isEqualTo("flux");
    assertThat(service.generateImageWithFailover(r).provider()).isEqualTo("flux");
    assertThat(flux.calls).hasValue(2);
  }

  @Test
  void cheapestRoutingPrefersTheCheaperProviderAndUnknownPricesLast() {
    ProviderCapabilities caps = ProviderCapabilities.builder().maxImagesPerRequest(4).build();
    ScriptedProvider pricey = new ScriptedProvider("pricey", caps, CostModel.perImage(new BigDecimal("0.05")));
    ScriptedProvider cheap = new ScriptedProvider("cheap", caps, CostModel.perImage(new BigDecimal("0.003")));
    ScriptedProvider unknown = new ScriptedProvider("mystery", caps, CostModel.unknown());
    service = ImageGenerationService.builder().routing(RoutingStrategy.CHEAPEST)
        .provider(unknown, ProviderConfig.builder("mystery").build())
        .provider(pricey, ProviderConfig.builder("pricey").build())
        .provider(cheap, ProviderConfig.builder("cheap").build()).build();
    assertThat(service.selectOptimalProvider(request())).hasValue("cheap");
    assertThat(service.estimateCosts(request()).keySet()).containsExactly("cheap", "pricey", "mystery");
    ImageGenerationResponse r = service.generateImageWithFailover(ImageGenerationRequest.builder().prompt("x").numImages(2).build());
    assertThat(r.provider()).isEqualTo("cheap");
    assertThat(r.cost()).isEqualTo(Cost.estimated(new BigDecimal("0.006")));
  }

  @Test
  void fastestRoutingUsesObservedLatency() throws Exception {
    ScriptedProvider slow = new ScriptedProvider("slow").then(ScriptedProvider.okAfter(Duration.ofMillis(120)));
    ScriptedProvider fast = new ScriptedProvider("fast").then(ScriptedProvider.okAfter(Duration.ofMillis(5)));
    service = ImageGenerationService.builder().routing(RoutingStrategy.FASTEST)
        .provider(slow, ProviderConfig.builder("slow").build())
        .provider(fast, ProviderConfig.builder("fast").build()).build();
    service.generateImage(request(), "slow");
    service.generateImage(request(), "fast");
    assertThat(service.generateImageWithFailover(request()).provider()).isEqualTo("fast");
  }

  @Test
  void providerReportedUsageWinsOverTheEstimate() {
    ScriptedProvider gpu = new ScriptedProvider("gpu", ProviderCapabilities.builder().build(),
        CostModel.perGpuSecond(new BigDecimal("0.001"), 5)).then(ScriptedProvider.okWithGpuSeconds(2.5));
    service = ImageGenerationService.builder().provider(gpu, ProviderConfig.builder("gpu").build()).build();
    assertThat(service.estimateCost(request())).isEqualTo(Cost.estimated(new BigDecimal("0.005000")));
    ImageGenerationResponse r = service.generateImageWithFailover(request());
    assertThat(r.cost()).isEqualTo(Cost.providerReported(new BigDecimal("0.002500")));
    assertThat(service.calculateGenerationCost(r)).isEqualTo(r.cost());
  }

  @Test
  void configuredPricesOverrideTheProvidersListAndUnknownIsNeverZero() {
    ScriptedProvider x = new ScriptedProvider("x", ProviderCapabilities.builder().build(), CostModel.unknown());
    service = ImageGenerationService.builder().provider(x, ProviderConfig.builder("x").build()).build();
    ImageGenerationResponse r = service.generateImageWithFailover(request());
    assertThat(r.cost().source()).isEqualTo(Cost.Source.UNKNOWN);
    assertThat(r.cost().amount()).isNull();
    assertThat(service.getMetrics().unknownCostCount()).isEqualTo(1);
    service.close();
    service = ImageGenerationService.builder().provider(x, ProviderConfig.builder("x").set("price-per-image", "0.02").build()).build();
    assertThat(service.generateImageWithFailover(request()).cost()).isEqualTo(Cost.estimated(new BigDecimal("0.02")));
  }

  @Test
  void responseReportsFinalPromptAndTimings() {
    ImageGenerationResponse r = service().generateImageWithFailover(
        ImageGenerationRequest.builder().prompt("a fox").style("sketch").qualityEnhancers("high_detail").build());
    assertThat(r.metadata()).containsEntry("prompt",
        "a fox, pencil sketch, graphite, hand-drawn lines, monochrome, highly detailed, intricate details");
    assertThat(r.metadata()).containsEntry("negative_prompt", PromptStyles.DEFAULT_NEGATIVE_PROMPT);
    assertThat(a.requests.get(0).prompt()).isEqualTo(r.metadata().get("prompt"));
    assertThat(r.generationTime()).isPositive();
    assertThat(r.timings().total()).isEqualTo(r.generationTime());
    assertThat(r.images()).hasSize(1);
    assertThat(List.of(r.status())).containsExactly(ImageGenerationResponse.Status.COMPLETED);
  }
}
