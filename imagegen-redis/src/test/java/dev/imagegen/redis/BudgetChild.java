package dev.imagegen.redis;

import dev.imagegen.BudgetExceededException;
import dev.imagegen.BudgetPolicy;
import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.ProviderHealth;
import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testing.TestImages;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One instance of an application for {@link MultiJvmBudgetTest}: a service with a 1.00 USD total
 * budget kept in Redis and one provider priced 0.01 USD per image whose results report that cost.
 * It prints {@code ready}, waits for a line on its standard input, fires its generations at once,
 * and prints one line {@code served=.. spend=.. refused=.. unavailable=.. failed=.. calls=.. ms=..}.
 * Arguments: Redis URL, number of generations.
 */
public final class BudgetChild {
  static final BigDecimal PRICE = new BigDecimal("0.01");

  private BudgetChild() {}

  /** A provider priced per image that answers after 20 ms with the cost it reports; counts its calls. */
  static final class PricedProvider implements ImageProvider {
    final AtomicInteger calls = new AtomicInteger();

    @Override public String id() { return "priced"; }
    @Override public ProviderCapabilities capabilities() { return ProviderCapabilities.builder().build(); }
    @Override public CostModel costModel() { return CostModel.perImage(PRICE); }

    @Override
    public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context) {
      calls.incrementAndGet();
      CompletableFuture<ProviderResult> f = new CompletableFuture<>();
      context.scheduler().schedule(() -> f.complete(ProviderResult.builder("priced-model")
          .image(GeneratedImage.of(TestImages.png(8, 8), 1L, null, false))
          .reportedCost(Cost.providerReported(PRICE)).build()), 20, TimeUnit.MILLISECONDS);
      return f;
    }

    @Override public CompletableFuture<ProviderHealth> health(ProviderContext context) {
      return CompletableFuture.completedFuture(ProviderHealth.up(id(), Duration.ZERO));
    }
  }

  /**
   * Runs the generations and prints the tally.
   *
   * @param args Redis URL, number of generations
   * @throws Exception on a broken pipe or a failed start
   */
  public static void main(String[] args) throws Exception {
    int n = Integer.parseInt(args[1]);
    PricedProvider p = new PricedProvider();
    // a 10 s command timeout instead of 2 s: on a loaded machine 3,000 reservations at once must not be
    // refused for a slow answer (that would be BudgetStoreUnavailableException, counted apart below)
    try (RedisBudgetStore store = RedisBudgetStore.builder().url(args[0]).commandTimeout(Duration.ofSeconds(10)).build();
        ImageGenerationService s = ImageGenerationService.builder()
            .provider(p, ProviderConfig.builder("priced").set("max-concurrent", Integer.toString(n)).build())
            .budget(BudgetPolicy.builder().total("1.00").build()).budgetStore(store)
            .defaultMaxConcurrent(n).maxRetries(0).build()) {
      System.out.println("ready");
      System.out.flush();
      new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
      long start = System.nanoTime();
      List<CompletableFuture<ImageGenerationResponse>> all = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        all.add(s.generateAsync(ImageGenerationRequest.builder().prompt("fox " + i).timeout(Duration.ofSeconds(30)).build()));
      }
      int served = 0;
      int refused = 0;
      int unavailable = 0;
      int failed = 0;
      BigDecimal spend = BigDecimal.ZERO;
      String firstFailure = "";
      for (CompletableFuture<ImageGenerationResponse> f : all) {
        try {
          ImageGenerationResponse r = f.join();
          served++;
          spend = spend.add(r.cost().amountOrZero());
        } catch (CompletionException e) {
          if (e.getCause() instanceof BudgetStoreUnavailableException) {
            unavailable++;
          } else if (e.getCause() instanceof BudgetExceededException) {
            refused++;
          } else {
            failed++;
            firstFailure = firstFailure.isEmpty() ? String.valueOf(e.getCause()) : firstFailure;
          }
        }
      }
      long ms = (System.nanoTime() - start) / 1_000_000;
      System.out.println("served=" + served + " spend=" + spend.toPlainString() + " refused=" + refused
          + " unavailable=" + unavailable + " failed=" + failed
          + " calls=" + p.calls.get() + " ms=" + ms + (firstFailure.isEmpty() ? "" : " first-failure=" + firstFailure));
      System.out.flush();
    }
  }
}
