package dev.imagegen.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.BudgetExceededException;
import dev.imagegen.BudgetPolicy;
import dev.imagegen.ErrorKind;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.ScriptedProvider;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Redis store wired into ImageGenerationService, as an application does: shared budgets, fail closed. */
class RedisBudgetServiceTest {
  private RedisServer redis;

  @BeforeEach
  void startRedis() {
    redis = RedisServer.start();
  }

  @AfterEach
  void stopRedis() {
    redis.close();
  }

  private static ScriptedProvider paid(String id, String price) {
    return new ScriptedProvider(id, ProviderCapabilities.builder().build(), CostModel.perImage(new BigDecimal(price)))
        .then(ScriptedProvider.ok());
  }

  private static ImageGenerationService service(ScriptedProvider p, BudgetPolicy policy, RedisBudgetStore store) {
    return ImageGenerationService.builder().provider(p, ProviderConfig.builder(p.id()).build()).budget(policy)
        .budgetStore(store).build();
  }

  @Test
  void twoInstancesOfAnApplicationShareOneWindowedBudget() {
    BudgetPolicy policy = BudgetPolicy.builder().total("0.10").window(Duration.ofHours(1)).build();
    ScriptedProvider pa = paid("p", "0.04");
    ScriptedProvider pb = paid("p", "0.04");
    try (RedisBudgetStore sa = RedisBudgetStore.builder().url(redis.url()).window(policy.window()).build();
        RedisBudgetStore sb = RedisBudgetStore.builder().url(redis.url()).window(policy.window()).build();
        ImageGenerationService a = service(pa, policy, sa);
        ImageGenerationService b = service(pb, policy, sb)) {
      assertThat(a.generateImageWithFailover(ImageGenerationRequest.of("fox")).cost().amountOrZero()).isEqualByComparingTo("0.04");
      assertThat(b.generateImageWithFailover(ImageGenerationRequest.of("owl")).cost().amountOrZero()).isEqualByComparingTo("0.04");
      // 0.08 of 0.10 is spent, by the two instances together: neither may spend 0.04 more
      assertThatThrownBy(() -> a.generateImageWithFailover(ImageGenerationRequest.of("cat")))
          .isInstanceOf(BudgetExceededException.class).hasMessageContaining("0.08 USD spent or reserved");
      assertThatThrownBy(() -> b.generateImageWithFailover(ImageGenerationRequest.of("elk")))
          .isInstanceOf(BudgetExceededException.class);
      assertThat(pa.calls.get() + pb.calls.get()).isEqualTo(2);
      long start = System.currentTimeMillis() / 3_600_000L * 3_600_000L;
      assertThat(redis.command("GET", "imagegen:budget:total@" + start)).isEqualTo("80000000");
    }
  }

  @Test
  void withRedisStoppedNoProviderIsCalledAndTheGenerationEndsAtOnce() throws Exception {
    BudgetPolicy policy = BudgetPolicy.builder().total("1.00").perProvider("q", new BigDecimal("1.00")).build();
    ScriptedProvider p = paid("p", "0.04");
    ScriptedProvider q = paid("q", "0.02");
    try (RedisBudgetStore store = RedisBudgetStore.builder().url(redis.url()).commandTimeout(Duration.ofMillis(500)).build();
        ImageGenerationService s = ImageGenerationService.builder()
            .provider(p, ProviderConfig.builder("p").set("priority", "1").build())
            .provider(q, ProviderConfig.builder("q").set("priority", "2").build())
            .budget(policy).budgetStore(store).build()) {
      ImageGenerationResponse first = s.generateImageWithFailover(ImageGenerationRequest.of("fox"));
      assertThat(first.provider()).isEqualTo("p");
      redis.stop();

      assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.of("owl")))
          .isInstanceOf(BudgetExceededException.class)
          .satisfies(e -> assertThat(((BudgetExceededException) e).attempts()).allSatisfy(at -> {
            assertThat(at.errorKind()).isEqualTo(ErrorKind.BUDGET_EXCEEDED);
            assertThat(at.message()).contains("Redis budget store").contains("no paid call is made");
            assertThat(at.calls()).isZero();
          }).hasSize(2));
      // asynchronously too: the future ends, refused, without waiting for a deadline
      CompletableFuture<ImageGenerationResponse> f = s.generateAsync(ImageGenerationRequest.of("elk"));
      assertThatThrownBy(() -> f.get(5, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
          .hasCauseInstanceOf(BudgetExceededException.class);
      assertThat(p.calls).hasValue(1);
      assertThat(q.calls).hasValue(0);
    }
  }

  @Test
  void withRedisStoppedAProviderOfUnknownPriceIsNotCalledEither() {
    // unknown prices allowed: nothing is reserved, but core reads what is spent first; that read fails closed
    BudgetPolicy policy = BudgetPolicy.builder().total("1.00").allowUnknownPrices(true).build();
    ScriptedProvider u = new ScriptedProvider("u", ProviderCapabilities.builder().build(), CostModel.unknown())
        .then(ScriptedProvider.ok());
    try (RedisBudgetStore store = RedisBudgetStore.builder().url(redis.url()).commandTimeout(Duration.ofMillis(500)).build();
        ImageGenerationService s = service(u, policy, store)) {
      s.generateImageWithFailover(ImageGenerationRequest.of("fox"));
      redis.stop();
      assertThatThrownBy(() -> s.generateImageWithFailover(ImageGenerationRequest.of("owl")))
          .isInstanceOf(BudgetExceededException.class).hasMessageContaining("Redis budget store");
      assertThat(u.calls).hasValue(1);
    }
  }
}
