package dev.imagegen.testkit.stubs;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.testkit.KitLogs;
import dev.imagegen.testkit.ProviderStubs;
import java.util.List;
import java.util.Locale;

/**
 * Finds the stubs of a provider by its id, for code that runs several providers against local
 * servers (the examples' sandbox, fault soak tests):
 *
 * <pre>{@code
 * for (String id : Stubs.providerIds()) {
 *   WireMockServer server = new WireMockServer(options().dynamicPort());
 *   server.start();
 *   ProviderStubs stubs = Stubs.forProvider(id, server);
 *   stubs.success(StubImages.png(64, 64, 1));
 *   // configure provider `id` with base-url = server.baseUrl() + stubs.basePath(),
 *   // poll-interval >= stubs.minPollInterval(), and stubs.extraConfig()
 * }
 * }</pre>
 *
 * <p>Stateless; thread-safe.
 */
public final class Stubs {
  private static final List<String> IDS = List.of("horde", "replicate", "fal", "runpod", "huggingface", "sdwebui", "openai",
      "stability", "google", "bfl", "bedrock");

  static {
    KitLogs.install(); // the kit's log capture, unless the class path has its own SLF4J binding
  }

  private Stubs() {}

  /**
   * The stubs of a provider, on a server.
   *
   * @param providerId the provider's id: {@code horde}, {@code replicate}, {@code fal},
   *     {@code runpod}, {@code huggingface}, {@code sdwebui}, {@code openai}, {@code stability}, {@code google},
   *     {@code bfl} or {@code bedrock} (case-insensitive)
   * @param server the WireMock server the stubs register on
   * @return new stubs for that provider (nothing is registered yet)
   * @throws IllegalArgumentException when no stubs exist for the id, naming the ids that do
   */
  public static ProviderStubs forProvider(String providerId, WireMockServer server) {
    return switch (providerId.strip().toLowerCase(Locale.ROOT)) {
      case "horde" -> new HordeStubs(server);
      case "replicate" -> new ReplicateStubs(server);
      case "fal" -> new FalStubs(server);
      case "runpod" -> new RunPodStubs(server);
      case "huggingface" -> new HuggingFaceStubs(server);
      case "sdwebui" -> new SdWebUiStubs(server);
      case "openai" -> new OpenAIStubs(server);
      case "stability" -> new StabilityStubs(server);
      case "google" -> new GoogleStubs(server);
      case "bfl" -> new BflStubs(server);
      case "bedrock" -> new BedrockStubs(server);
      default -> throw new IllegalArgumentException("no stubs for provider '" + providerId + "' (stubs exist for " + IDS + ")");
    };
  }

  /**
   * The provider ids {@link #forProvider} knows.
   *
   * @return an immutable list: horde, replicate, fal, runpod, huggingface, sdwebui, openai, stability, google, bfl,
   *     bedrock
   */
  public static List<String> providerIds() {
    return IDS;
  }
}
