package dev.imagegen.examples;

import dev.imagegen.BatchOptions;
import dev.imagegen.BatchResult;
import dev.imagegen.ImageGenerationRequest;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

/**
 * A batch of ten prompts with presets: the flower shop's product shots ({@code scatter_flowers})
 * and two banners ({@code hero_background}), three at a time, with a budget for the batch and
 * progress across it; results come back in input order, each with its response or error.
 */
public final class FlowerShopBatch {
  private FlowerShopBatch() {}

  static final List<String> FLOWERS = List.of("red roses", "white lilies", "sunflowers", "pink peonies", "blue hydrangeas",
      "tulips in mixed colours", "lavender sprigs", "orchids");

  /**
   * Runs the example.
   *
   * @param args {@code --sandbox} to run against the sandbox
   */
  public static void main(String[] args) {
    System.exit(run(args, new Console(System.out)));
  }

  static int run(String[] args, Console console) {
    return Examples.run(args, console, b -> b, (service, out) -> {
      List<ImageGenerationRequest> requests = new ArrayList<>();
      long seed = 100;
      for (String f : FLOWERS) {
        requests.add(ImageGenerationRequest.builder().prompt(f).preset("scatter_flowers").size(512, 512).seed(seed++).build());
      }
      requests.add(ImageGenerationRequest.builder().prompt("a florist's workbench").preset("hero_background").size(1024, 512)
          .seed(seed++).build());
      requests.add(ImageGenerationRequest.builder().prompt("a spring window display").preset("hero_background").size(1024, 512)
          .seed(seed).build());
      BatchResult result = service.generateBatch(requests, BatchOptions.DEFAULTS.concurrency(3).budget(new BigDecimal("0.50"))
          .onProgress(p -> out.line(String.format("  batch %d/%d done (%d failed), spent %s USD", p.done(), p.total(),
              p.failed(), p.spent().toPlainString()))));
      for (BatchResult.Item item : result.items()) {
        out.line(String.format("#%d %-26s %s", item.index(), item.request().prompt().split(",")[0],
            item.succeeded() ? item.response().provider() + " " + item.response().cost() : "failed: " + item.error().getMessage()));
      }
      out.line(result.succeeded() + " succeeded, " + result.failed() + " failed, total " + result.totalCost().toPlainString() + " USD");
    });
  }
}
