package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.groups.Tuple.tuple;

import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.ScriptedProvider;
import java.math.BigDecimal;
import org.junit.jupiter.api.Test;

/**
 * A failed generation says what stopped each provider (a refused key, its cool-down, a budget),
 * and ends with the budget's exception when the budget stopped the last provider.
 */
class FailureReasonsTest {

  private static ScriptedProvider paid(String id, String price) {
    return new ScriptedProvider(id, ProviderCapabilities.builder().build(), CostModel.perImage(new BigDecimal(price)));
  }

  private static ProviderConfig priority(String id, String p) {
    return ProviderConfig.builder(id).set("priority", p).build();
  }

  @Test
  void aRefusedKeyThenAnExhaustedBudgetEndsWithTheBudgetAndKeepsTheRefusal() {
    ScriptedProvider a = paid("a", "0.01").then(ScriptedProvider.fail(new AuthenticationException("HTTP 401", "a")));
    ScriptedProvider b = paid("b", "0.10");
    try (ImageGenerationService s = ImageGenerationService.builder().provider(a, priority("a", "1"))
        .provider(b, priority("b", "2"))
        .budget(BudgetPolicy.builder().perProvider("b", new BigDecimal("0.05")).build()).build()) {
      assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.of("fox")))
          .isInstanceOfSatisfying(BudgetExceededException.class, e -> {
            assertThat(e.providerId()).isEqualTo("b");
            assertThat(e.attempts()).extracting(Attempt::provider, Attempt::outcome, Attempt::errorKind).containsExactly(
                tuple("a", Attempt.Outcome.FAILED, ErrorKind.AUTHENTICATION),
                tuple("b", Attempt.Outcome.SKIPPED, ErrorKind.BUDGET_EXCEEDED));
            assertThat(e.getMessage()).contains("budget of 0.05 USD for provider b").contains("a failed (AUTHENTICATION)");
          });
      // the next generation skips a while its key cools down: the skip says why, not "unavailable"
      assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.of("fox 2")))
          .isInstanceOfSatisfying(BudgetExceededException.class, e -> {
            assertThat(e.attempts()).extracting(Attempt::provider, Attempt::outcome, Attempt::errorKind).containsExactly(
                tuple("a", Attempt.Outcome.SKIPPED, ErrorKind.AUTHENTICATION),
                tuple("b", Attempt.Outcome.SKIPPED, ErrorKind.BUDGET_EXCEEDED));
            assertThat(e.attempts().get(0).message()).contains("cooling down").contains("credentials refused");
          });
      assertThat(a.calls).hasValue(1);
      assertThat(b.calls).hasValue(0);
    }
  }

  @Test
  void anExhaustedBudgetThenARefusedKeyEndsWithAllProvidersFailedNamingBoth() {
    ScriptedProvider a = paid("a", "0.10");
    ScriptedProvider b = paid("b", "0.01").then(ScriptedProvider.fail(new AuthenticationException("HTTP 401", "b")));
    try (ImageGenerationService s = ImageGenerationService.builder().provider(a, priority("a", "1"))
        .provider(b, priority("b", "2"))
        .budget(BudgetPolicy.builder().perProvider("a", new BigDecimal("0.05")).build()).build()) {
      assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.of("fox")))
          .isInstanceOfSatisfying(AllProvidersFailedException.class, e -> {
            assertThat(e.attempts()).extracting(Attempt::provider, Attempt::outcome, Attempt::errorKind).containsExactly(
                tuple("a", Attempt.Outcome.SKIPPED, ErrorKind.BUDGET_EXCEEDED),
                tuple("b", Attempt.Outcome.FAILED, ErrorKind.AUTHENTICATION));
            assertThat(e.attempts().get(0).message()).contains("budget of 0.05 USD for provider a");
            assertThat(e.getCause()).isInstanceOf(AuthenticationException.class);
          });
      assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.of("fox 2")))
          .isInstanceOfSatisfying(AllProvidersFailedException.class, e -> {
            assertThat(e.attempts()).extracting(Attempt::provider, Attempt::outcome, Attempt::errorKind).containsExactly(
                tuple("a", Attempt.Outcome.SKIPPED, ErrorKind.BUDGET_EXCEEDED),
                tuple("b", Attempt.Outcome.SKIPPED, ErrorKind.AUTHENTICATION));
            assertThat(e.getCause()).isInstanceOf(AuthenticationException.class);
          });
      assertThat(b.calls).hasValue(1);
    }
  }

  @Test
  void aProviderOutOfCreditIsSkippedAsOutOfCreditWhileItCoolsDown() {
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.fail(new InsufficientCreditsException("HTTP 402", "a")),
        ScriptedProvider.ok());
    ScriptedProvider b = new ScriptedProvider("b");
    try (ImageGenerationService s = ImageGenerationService.builder().provider(a, priority("a", "1"))
        .provider(b, priority("b", "2")).build()) {
      s.generateImageWithFailover(ImageGenerationRequest.of("1"));
      ImageGenerationResponse r = s.generateImageWithFailover(ImageGenerationRequest.of("2"));
      assertThat(r.attempts().get(0)).extracting(Attempt::outcome, Attempt::errorKind)
          .containsExactly(Attempt.Outcome.SKIPPED, ErrorKind.INSUFFICIENT_CREDITS);
    }
  }

  @Test
  void aSingleProviderCoolingDownAfterARefusedKeyFailsAsARefusedKey() {
    ScriptedProvider a = new ScriptedProvider("a").then(ScriptedProvider.fail(new AuthenticationException("HTTP 401", "a")));
    try (ImageGenerationService s = ImageGenerationService.builder().provider(a, priority("a", "1")).build()) {
      assertThatThrownBy(() -> s.generateImage(ImageGenerationRequest.of("1"), "a")).isInstanceOf(AuthenticationException.class);
      assertThatThrownBy(() -> s.generateImage(ImageGenerationRequest.of("2"), "a"))
          .isInstanceOf(AuthenticationException.class).hasMessageContaining("cooling down");
      assertThat(a.calls).hasValue(1);
    }
  }
}
