package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.CapturedLogs;
import dev.imagegen.testing.MutableClock;
import dev.imagegen.testing.ScriptedProvider;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

/**
 * Each attempt's outcome is logged on the provider's own logger, with the generation's id in the
 * line and in the MDC, and never with a secret.
 */
class AttemptLogsTest {
  private static final String KEY_A = "sk-live-AAAA-0123456789abcdef";
  private static final String KEY_B = "sk-live-BBBB-0123456789abcdef";
  private long mark;

  @BeforeEach
  void mark() {
    assertThat(CapturedLogs.active()).as("the build selects the capturing SLF4J provider").isTrue();
    mark = CapturedLogs.mark();
  }

  private List<CapturedLogs.Event> events(String providerId) {
    return CapturedLogs.since(mark, e -> e.logger().equals("dev.imagegen.provider." + providerId));
  }

  private List<CapturedLogs.Event> all() {
    return CapturedLogs.since(mark, e -> true);
  }

  private static ProviderConfig config(String id, String key, String priority) {
    return ProviderConfig.builder(id).apiKey(key).set("priority", priority).build();
  }

  private static void assertCarriesId(List<CapturedLogs.Event> events, String generationId) {
    assertThat(events).isNotEmpty().allSatisfy(e -> {
      assertThat(e.message()).contains(generationId);
      assertThat(e.mdc()).containsEntry("imagegen.generation", generationId);
    });
  }

  private void assertNoSecret() {
    assertThat(all()).allSatisfy(e -> assertThat(e.message()).doesNotContain(KEY_A).doesNotContain(KEY_B));
  }

  @Test
  void aRefusedKeyThatFailsOverIsAWarningOnTheProvidersLoggerWithTheCoolDownAndTheCircuit() {
    ScriptedProvider a = new ScriptedProvider("a")
        .then(ScriptedProvider.fail(new AuthenticationException("HTTP 401: key " + KEY_A + " is invalid", "a")));
    ScriptedProvider b = new ScriptedProvider("b");
    try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a", KEY_A, "1"))
        .provider(b, config("b", KEY_B, "2")).authCooldown(Duration.ofMinutes(5)).build()) {
      ImageGenerationResponse r = s.generateImageWithFailover(ImageGenerationRequest.of("fox"));
      assertThat(r.provider()).isEqualTo("b");
      List<CapturedLogs.Event> logA = events("a");
      assertCarriesId(logA, r.id());
      assertThat(logA).filteredOn(e -> e.level() == Level.WARN).extracting(CapturedLogs.Event::message)
          .anySatisfy(m -> assertThat(m).contains("AUTHENTICATION").contains("HTTP 401").contains("trying b next"))
          .anySatisfy(m -> assertThat(m).contains("cooling down for 5 min").contains("credentials refused"))
          .anySatisfy(m -> assertThat(m).contains("circuit opened"));
      assertCarriesId(events("b"), r.id());
      assertThat(events("b")).filteredOn(e -> e.level() == Level.DEBUG).extracting(CapturedLogs.Event::message)
          .anySatisfy(m -> assertThat(m).contains("succeeded in").contains("ms"));

      // the next generation skips a while it cools down: a DEBUG line with that generation's id
      mark = CapturedLogs.mark();
      ImageGenerationResponse second = s.generateImageWithFailover(ImageGenerationRequest.of("fox 2"));
      assertThat(events("a")).filteredOn(e -> e.level() == Level.DEBUG).extracting(CapturedLogs.Event::message)
          .anySatisfy(m -> assertThat(m).contains(second.id()).contains("skipped").contains("cooling down"));
      assertCarriesId(events("a"), second.id());
    }
    assertNoSecret();
  }

  @Test
  void aSubmitWhoseOutcomeIsUnknownSaysWhyTheGenerationStopsInsteadOfFailingOver() {
    ScriptedProvider a = new ScriptedProvider("a")
        .then(ScriptedProvider.fail(ProviderUnavailableException.outcomeUnknown("connection reset after the body was sent", "a", null)));
    ScriptedProvider b = new ScriptedProvider("b");
    try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a", KEY_A, "1"))
        .provider(b, config("b", KEY_B, "2")).build()) {
      GenerationJob job = s.submit(ImageGenerationRequest.of("fox"));
      assertThatThrownBy(() -> job.result().join()).hasCauseInstanceOf(ProviderUnavailableException.class);
      assertThat(b.calls).hasValue(0);
      assertThat(events("a")).filteredOn(e -> e.level() == Level.WARN).extracting(CapturedLogs.Event::message)
          .anySatisfy(m -> assertThat(m).contains("connection reset after the body was sent")
              .contains("the generation ends (the submit's outcome is unknown and it may be billed; "
                  + "failoverOnUnknownOutcome is off)"));
    }
    assertNoSecret();
  }

  @Test
  void theLastProviderFailingSaysNoProviderIsLeft() {
    ScriptedProvider a = new ScriptedProvider("a")
        .then(ScriptedProvider.fail(new InsufficientCreditsException("HTTP 402: out of credit", "a")));
    try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a", KEY_A, "1"))
        .creditsCooldown(Duration.ofHours(1)).build()) {
      GenerationJob job = s.submit(ImageGenerationRequest.of("fox"));
      assertThatThrownBy(() -> job.result().join()).hasCauseInstanceOf(AllProvidersFailedException.class);
      List<CapturedLogs.Event> logA = events("a");
      assertCarriesId(logA, job.id());
      assertThat(logA).filteredOn(e -> e.level() == Level.WARN).extracting(CapturedLogs.Event::message)
          .anySatisfy(m -> assertThat(m).contains("INSUFFICIENT_CREDITS").contains("HTTP 402").contains("no provider left"))
          .anySatisfy(m -> assertThat(m).contains("cooling down for 1 h"));
    }
    assertNoSecret();
  }

  @Test
  void aRetryOnTheSameProviderIsADebugLineWithTheAttemptNumberAndTheDelay() {
    ProviderUnavailableException busy = new ProviderUnavailableException("HTTP 503", "a", null);
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.fail(busy), ScriptedProvider.ok());
    try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a", KEY_A, "1"))
        .retryBackoff(Duration.ofMillis(1), Duration.ofMillis(5)).build()) {
      ImageGenerationResponse r = s.generateImageWithFailover(ImageGenerationRequest.of("fox"));
      List<CapturedLogs.Event> logA = events("a");
      assertCarriesId(logA, r.id());
      assertThat(logA).filteredOn(e -> e.level() == Level.DEBUG).extracting(CapturedLogs.Event::message)
          .anySatisfy(m -> assertThat(m).contains("retrying").contains("call 2").contains(" ms").contains("HTTP 503"));
      assertThat(logA).noneMatch(e -> e.level() == Level.WARN);
    }
  }

  @Test
  void aSuccessIsADebugLineWithTimeAndCost() {
    ScriptedProvider a = new ScriptedProvider("a", ProviderCapabilities.builder().build(),
        CostModel.perImage(new BigDecimal("0.003")));
    try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a", KEY_A, "1")).build()) {
      ImageGenerationResponse r = s.generateImageWithFailover(ImageGenerationRequest.of("fox"));
      assertThat(events("a")).filteredOn(e -> e.level() == Level.DEBUG).extracting(CapturedLogs.Event::message)
          .anySatisfy(m -> assertThat(m).contains(r.id()).contains("succeeded in").contains("cost 0.003 USD"));
      assertCarriesId(events("a"), r.id());
    }
  }

  @Test
  void aProvidersOwnLinesWhileItStartsItsCallCarryTheGenerationIdInTheMdc() {
    ScriptedProvider a = new ScriptedProvider("a").then((r, ctx) -> {
      ctx.log().info("submitting with key {}", KEY_A);
      return ScriptedProvider.ok().apply(r, ctx);
    });
    try (ImageGenerationService s = ImageGenerationService.builder().provider(a, config("a", KEY_A, "1")).build()) {
      ImageGenerationResponse r = s.generateImageWithFailover(ImageGenerationRequest.of("fox"));
      assertThat(events("a")).filteredOn(e -> e.message().startsWith("submitting")).singleElement()
          .satisfies(e -> assertThat(e.mdc()).containsEntry("imagegen.generation", r.id()));
    }
    assertThat(org.slf4j.MDC.get("imagegen.generation")).isNull();
    assertNoSecret();
  }

  @Test
  void aCircuitThatOpensIsAWarningAndOneThatClosesAgainIsInfo() {
    MutableClock clock = new MutableClock();
    ScriptedProvider a = new ScriptedProvider("a")
        .then(ScriptedProvider.fail(new ProviderUnavailableException("HTTP 503", "a", false, false, null, null)),
            ScriptedProvider.ok());
    ScriptedProvider b = new ScriptedProvider("b");
    try (ImageGenerationService s = ImageGenerationService.builder().clock(clock).provider(a, config("a", KEY_A, "1"))
        .provider(b, config("b", KEY_B, "2")).circuitBreaker(1, Duration.ofSeconds(30)).build()) {
      ImageGenerationResponse first = s.generateImageWithFailover(ImageGenerationRequest.of("1"));
      assertThat(events("a")).filteredOn(e -> e.level() == Level.WARN).extracting(CapturedLogs.Event::message)
          .anySatisfy(m -> assertThat(m).contains(first.id()).contains("circuit opened"));
      mark = CapturedLogs.mark();
      ImageGenerationResponse skipped = s.generateImageWithFailover(ImageGenerationRequest.of("2"));
      assertThat(events("a")).filteredOn(e -> e.level() == Level.DEBUG).extracting(CapturedLogs.Event::message)
          .anySatisfy(m -> assertThat(m).contains(skipped.id()).contains("skipped").contains("circuit open"));
      clock.advance(Duration.ofSeconds(31));
      mark = CapturedLogs.mark();
      ImageGenerationResponse trial = s.generateImageWithFailover(ImageGenerationRequest.of("3"));
      assertThat(trial.provider()).isEqualTo("a");
      assertThat(events("a")).filteredOn(e -> e.level() == Level.INFO).extracting(CapturedLogs.Event::message)
          .anySatisfy(m -> assertThat(m).contains(trial.id()).contains("circuit closed"));
      assertCarriesId(events("a"), trial.id());
    }
    assertNoSecret();
  }
}
