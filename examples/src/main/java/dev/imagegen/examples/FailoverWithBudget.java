package dev.imagegen.examples;

import dev.imagegen.BudgetPolicy;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.RoutingStrategy;

/**
 * Failover with a budget: priority routing over every configured provider, a total budget of
 * $0.007; each response names the provider, the attempts (a refused key fails over at once) and
 * the cost. Once a paid provider would take spending past the budget it is skipped and a cheaper
 * one (AI Horde is free) serves.
 */
public final class FailoverWithBudget {
  private FailoverWithBudget() {}

  /**
   * Runs the example.
   *
   * @param args {@code --sandbox} to run against the sandbox
   */
  public static void main(String[] args) {
    System.exit(run(args, new Console(System.out)));
  }

  static int run(String[] args, Console console) {
    return Examples.run(args, console, b -> b.routing(RoutingStrategy.PRIORITY)
        .budget(BudgetPolicy.builder().total("0.007").build()), (service, out) -> {
          for (int i = 1; i <= 3; i++) {
            ImageGenerationResponse r = service.generateImageWithFailover(
                ImageGenerationRequest.builder().prompt("a lighthouse at dusk, variant " + i).size(512, 512).seed((long) i).build());
            out.line("request " + i + ": served by " + r.provider() + ", cost " + r.cost());
            r.attempts().forEach(a -> out.line("    " + a.summary()));
          }
          out.line("spent: " + service.getMetrics().totalCost().toPlainString() + " USD of a 0.007 USD budget");
        });
  }
}
