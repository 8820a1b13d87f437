package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.ScriptedProvider;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

class BudgetTest {

  private static ScriptedProvider paid(String id, String price, ScriptedProvider.Step step) {
    return new ScriptedProvider(id, ProviderCapabilities.builder().build(), CostModel.perImage(new BigDecimal(price))).then(step);
  }

  @Test
  void hundredConcurrentRequestsNeverSpendPastABudgetForTen() {
    ScriptedProvider p = paid("p", "0.10", ScriptedProvider.okAfter(Duration.ofMillis(30)));
    try (ImageGenerationService s = ImageGenerationService.builder()
        .provider(p, ProviderConfig.builder("p").set("max-concurrent", "200").build())
        .budget(BudgetPolicy.builder().total("1.00").build()).build()) {
      List<CompletableFuture<ImageGenerationResponse>> fs = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        fs.add(s.generateAsync(ImageGenerationRequest.of("fox " + i)));
      }
      int ok = 0;
      int refused = 0;
      BigDecimal spent = BigDecimal.ZERO;
      for (CompletableFuture<ImageGenerationResponse> f : fs) {
        try {
          spent = spent.add(f.join().cost().amountOrZero());
          ok++;
        } catch (CompletionException e) {
          assertThat(e.getCause()).isInstanceOf(BudgetExceededException.class);
          refused++;
        }
      }
      assertThat(ok).isEqualTo(10);
      assertThat(refused).isEqualTo(90);
      assertThat(spent).isEqualByComparingTo("1.00");
      assertThat(p.calls).hasValue(10);
      assertThat(s.getMetrics().totalCost()).isEqualByComparingTo("1.00");
      assertThat(s.getMetrics().failuresByKind()).containsEntry(ErrorKind.BUDGET_EXCEEDED, 90L);
    }
  }

  @Test
  void whatIsLeftOfEachLimitIsReportedAfterSpending() {
    ScriptedProvider p = paid("p", "0.10", ScriptedProvider.ok());
    ScriptedProvider q = paid("q", "0.25", ScriptedProvider.ok());
    try (ImageGenerationService s = ImageGenerationService.builder()
        .provider(p, ProviderConfig.builder("p").set("priority", "1").build())
        .provider(q, ProviderConfig.builder("q").set("priority", "2").build())
        .budget(BudgetPolicy.builder().total("1.00").perProvider("p", new BigDecimal("0.15")).build()).build()) {
      assertThat(s.budgetRemaining().total()).isEqualByComparingTo("1.00");
      s.generateImageWithFailover(ImageGenerationRequest.of("fox"));
      s.generateImageWithFailover(ImageGenerationRequest.of("fox")); // p would pass its 0.15: q serves
      BudgetPolicy.Remaining left = s.budgetRemaining();
      assertThat(left.total()).isEqualByComparingTo("0.65");
      assertThat(left.perProvider()).containsOnlyKeys("p");
      assertThat(left.perProvider().get("p")).isEqualByComparingTo("0.05");
    }
    try (ImageGenerationService s = ImageGenerationService.builder().provider(paid("p", "0.10", ScriptedProvider.ok()),
        ProviderConfig.builder("p").build()).build()) {
      assertThat(s.budgetRemaining().total()).isNull();
      assertThat(s.budgetRemaining().perProvider()).isEmpty();
    }
  }

  @Test
  void aRefusalTheProviderChargedForSpendsTheBudgetAndIsReportedAsBilled() {
    ContentPolicyException filtered = new ContentPolicyException("finish-reason CONTENT_FILTERED: the image was blurred", "p");
    filtered.setCharged(Cost.providerReported(new BigDecimal("0.08")));
    ScriptedProvider p = new ScriptedProvider("p", ProviderCapabilities.builder().build(), CostModel.perImage(new BigDecimal("0.08")))
        .then(ScriptedProvider.fail(filtered), ScriptedProvider.ok());
    ScriptedProvider q = new ScriptedProvider("q");
    try (ImageGenerationService s = ImageGenerationService.builder()
        .provider(p, ProviderConfig.builder("p").set("priority", "1").build())
        .provider(q, ProviderConfig.builder("q").set("priority", "2").build()).failoverOnContentPolicy(true)
        .budget(BudgetPolicy.builder().perProvider("p", new BigDecimal("0.10")).build()).build()) {
      ImageGenerationResponse first = s.generateImageWithFailover(ImageGenerationRequest.of("x"));
      assertThat(first.provider()).isEqualTo("q");
      assertThat(first.attempts().get(0)).satisfies(at -> {
        assertThat(at.errorKind()).isEqualTo(ErrorKind.CONTENT_POLICY);
        assertThat(at.mayBeBilled()).isTrue();
      });
      // 0.08 of p's 0.10 is spent: p, which may cost 0.08 again, is skipped and nothing is sent to it
      ImageGenerationResponse second = s.generateImageWithFailover(ImageGenerationRequest.of("y"));
      assertThat(second.provider()).isEqualTo("q");
      assertThat(second.attempts().get(0).errorKind()).isEqualTo(ErrorKind.BUDGET_EXCEEDED);
      assertThat(second.attempts().get(0).message()).contains("0.08 USD spent or reserved");
      assertThat(p.calls).hasValue(1);
    }
  }

  @Test
  void aBudgetStoreThatFailsRefusesEveryPaidCallAtOnceInsteadOfHangingOrLeakingItsException() throws Exception {
    BudgetStore broken = new BudgetStore() {
      @Override public boolean reserve(List<Scope> scopes, BigDecimal amount) { throw new IllegalStateException("store down"); }
      @Override public void settle(List<Scope> scopes, BigDecimal reserved, BigDecimal actual) {}
      @Override public BigDecimal spent(String scope) { throw new IllegalStateException("store down"); }
    };
    ScriptedProvider a = paid("a", "0.10", ScriptedProvider.ok());
    ScriptedProvider b = paid("b", "0.20", ScriptedProvider.ok());
    try (ImageGenerationService s = ImageGenerationService.builder()
        .provider(a, ProviderConfig.builder("a").set("priority", "1").build())
        .provider(b, ProviderConfig.builder("b").set("priority", "2").build())
        .budget(BudgetPolicy.builder().total("1.00").build()).budgetStore(broken).build()) {
      CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.builder().prompt("x")
          .timeout(Duration.ofSeconds(30)).build());
      // both providers are refused at once (fail closed); the generation does not wait for its deadline
      assertThatThrownBy(() -> f.get(5, java.util.concurrent.TimeUnit.SECONDS)).hasCauseInstanceOf(BudgetExceededException.class)
          .hasMessageContaining("budget store failed").hasMessageContaining("store down");
      assertThat(a.calls).hasValue(0);
      assertThat(b.calls).hasValue(0);
    }
  }

  @Test
  void perProviderBudgetFailsOverToTheNextProvider() {
    ScriptedProvider a = paid("a", "0.50", ScriptedProvider.ok());
    ScriptedProvider b = paid("b", "0.60", ScriptedProvider.ok());
    try (ImageGenerationService s = ImageGenerationService.builder()
        .provider(a, ProviderConfig.builder("a").set("priority", "1").build())
        .provider(b, ProviderConfig.builder("b").set("priority", "2").build())
        .budget(BudgetPolicy.builder().perProvider("a", new BigDecimal("0.50")).build()).build()) {
      assertThat(s.generateImageWithFailover(ImageGenerationRequest.of("x")).provider()).isEqualTo("a");
      ImageGenerationResponse second = s.generateImageWithFailover(ImageGenerationRequest.of("y"));
      assertThat(second.provider()).isEqualTo("b");
      assertThat(second.attempts().get(0).errorKind()).isEqualTo(ErrorKind.BUDGET_EXCEEDED);
      assertThat(second.attempts().get(0).message())
          .contains("the budget of 0.5 USD for provider a (no window) would be exceeded: 0.5 USD spent or reserved, 0 USD left")
          .contains("this generation may cost up to 0.5 USD").doesNotContain("provider:a");
    }
  }

  @Test
  void aRefusalNamesTheBudgetItsWindowWhatIsLeftAndWhatTheGenerationMayCost() {
    ScriptedProvider p = paid("p", "0.40", ScriptedProvider.ok());
    try (ImageGenerationService s = ImageGenerationService.builder().provider(p, ProviderConfig.builder("p").build())
        .budget(BudgetPolicy.builder().total("1.00").window(Duration.ofDays(1)).build()).build()) {
      s.generateImageWithFailover(ImageGenerationRequest.of("x"));
      s.generateImageWithFailover(ImageGenerationRequest.of("y"));
      String reset = LocalDate.now(ZoneOffset.UTC).plusDays(1) + "T00:00Z";
      assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.of("z")))
          .isInstanceOf(BudgetExceededException.class)
          .hasMessageContaining("the total budget of 1 USD per day (resets " + reset + ") would be exceeded: "
              + "0.8 USD spent or reserved, 0.2 USD left, and this generation may cost up to 0.4 USD")
          .hasMessageNotContaining("total@");
    }
  }

  @Test
  void anUnknownPriceRefusedAtALimitAlreadyReachedNamesThatBudget() {
    ScriptedProvider p = paid("p", "0.50", ScriptedProvider.ok());
    ScriptedProvider u = new ScriptedProvider("u", ProviderCapabilities.builder().build(), CostModel.unknown());
    try (ImageGenerationService s = ImageGenerationService.builder()
        .provider(p, ProviderConfig.builder("p").set("priority", "1").build())
        .provider(u, ProviderConfig.builder("u").set("priority", "2").build())
        .budget(BudgetPolicy.builder().total("0.50").window(Duration.ofHours(1)).allowUnknownPrices(true).build()).build()) {
      s.generateImage(ImageGenerationRequest.of("x"), "p");
      assertThatThrownBy(() -> s.generateImage(ImageGenerationRequest.of("y"), "u"))
          .isInstanceOf(BudgetExceededException.class)
          .hasMessageContaining("price unknown and the total budget of 0.5 USD per hour (resets ")
          .hasMessageContaining("is already reached (0.5 USD spent or reserved)")
          .hasMessageNotContaining("total@");
    }
  }

  @Test
  void unknownPriceIsRefusedUnderABudgetUnlessAllowed() {
    ScriptedProvider u = new ScriptedProvider("u", ProviderCapabilities.builder().build(), CostModel.unknown());
    try (ImageGenerationService s = ImageGenerationService.builder().provider(u, ProviderConfig.builder("u").build())
        .budget(BudgetPolicy.builder().total("5").build()).build()) {
      assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.of("x")))
          .isInstanceOf(BudgetExceededException.class).hasMessageContaining("price unknown");
      assertThat(u.calls).hasValue(0);
    }
    try (ImageGenerationService s = ImageGenerationService.builder().provider(u, ProviderConfig.builder("u").build())
        .budget(BudgetPolicy.builder().total("5").allowUnknownPrices(true).build()).build()) {
      assertThat(s.generateImageWithFailover(ImageGenerationRequest.of("x")).cost().isKnown()).isFalse();
    }
  }

  @Test
  void failedCallsReleaseTheirReservation() {
    ScriptedProvider p = paid("p", "0.40", ScriptedProvider.fail(new ProviderUnavailableException("HTTP 500", "p", false, false, null, null)));
    try (ImageGenerationService s = ImageGenerationService.builder().provider(p, ProviderConfig.builder("p").build())
        .budget(BudgetPolicy.builder().total("0.50").build()).build()) {
      for (int i = 0; i < 3; i++) {
        assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.of("x")))
            .isInstanceOf(AllProvidersFailedException.class);
      }
      p.then(ScriptedProvider.ok());
      assertThat(s.generateImageWithFailover(ImageGenerationRequest.of("x")).cost().amount()).isEqualByComparingTo("0.40");
    }
  }
}
