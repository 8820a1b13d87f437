package dev.imagegen.examples;

import dev.imagegen.ImageGenerationService;
import dev.imagegen.ProviderHealth;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.function.UnaryOperator;

/**
 * What every example shares: {@code --sandbox} (or no reachable provider) runs it against the
 * sandbox; otherwise the service comes from the environment.
 */
final class Examples {
  private Examples() {}

  /** A body run with a service. */
  interface Body {
    void run(ImageGenerationService service, Console console) throws Exception;
  }

  static boolean sandboxRequested(String[] args) {
    return Arrays.asList(args).contains("--sandbox");
  }

  static String[] withoutFlags(String[] args) {
    return Arrays.stream(args).filter(a -> !a.startsWith("--")).toArray(String[]::new);
  }

  /**
   * Runs an example.
   *
   * @param args the program's arguments
   * @param customise changes to the service builder (budgets, routing...)
   * @param body the example
   * @return 0 on success, 1 on failure
   */
  static int run(String[] args, Console console, UnaryOperator<ImageGenerationService.Builder> customise, Body body) {
    return run(args, console, Set.of("fal"), customise, body);
  }

  /**
   * Runs an example.
   *
   * @param failing the sandbox providers that refuse their key
   */
  static int run(String[] args, Console console, Set<String> failing,
      UnaryOperator<ImageGenerationService.Builder> customise, Body body) {
    boolean sandbox = sandboxRequested(args);
    if (!sandbox) {
      try (ImageGenerationService service = customise.apply(ImageGenerationService.builder()
          .configureFrom(System.getenv(), System.getProperties())).build()) {
        Map<String, ProviderHealth> health = service.health();
        boolean usable = health.values().stream().anyMatch(ProviderHealth::isUsable);
        if (usable) {
          console.line("providers: " + String.join(", ", service.providers()));
          return body(service, console, body);
        }
        // with nothing configured, health() holds one entry, NO_PROVIDER, whose message says what to set
        ProviderHealth none = health.get(ImageGenerationService.NO_PROVIDER);
        console.line("no provider is reachable (" + (none != null ? "none configured: " + none.message() : health.values().stream()
            .map(h -> h.provider() + " " + h.state()).reduce((a, b) -> a + ", " + b).orElse("")) + "): switching to the sandbox");
      }
    }
    console.sandbox();
    try (Sandbox s = Sandbox.start(console, failing); ImageGenerationService service = customise.apply(s.builder()).build()) {
      return body(service, console, body);
    }
  }

  private static int body(ImageGenerationService service, Console console, Body body) {
    try {
      body.run(service, console);
      return 0;
    } catch (Exception e) {
      Throwable t = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      console.line("failed: " + t.getMessage());
      return 1;
    }
  }
}
