package dev.imagegen.examples;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.core.Options;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.provider.fal.FalProviderFactory;
import dev.imagegen.provider.horde.HordeProviderFactory;
import dev.imagegen.provider.replicate.ReplicateProviderFactory;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.FalStubs;
import dev.imagegen.testkit.stubs.Stubs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The sandbox: local HTTP servers on loopback that speak the real wire protocols of fal, Replicate
 * and AI Horde (the testkit's stubs), so the examples show failover, cost and saved images on a
 * machine with no network. fal refuses its key (to show failover), Replicate serves a paid image,
 * AI Horde serves a free one. Nothing here is a real provider, and everything printed in sandbox
 * mode says so.
 */
public final class Sandbox implements AutoCloseable {
  private final List<WireMockServer> servers = new ArrayList<>();
  private final List<Entry> entries = new ArrayList<>();

  private record Entry(ImageProviderFactory factory, ProviderConfig config) {}

  private Sandbox() {}

  /**
   * Starts the sandbox servers.
   *
   * @param console where to announce it
   * @param failing provider ids whose stand-in refuses its key
   * @return the running sandbox
   */
  public static Sandbox start(Console console, Set<String> failing) {
    Sandbox s = new Sandbox();
    console.line("SANDBOX: local stand-ins on 127.0.0.1 speaking the fal, Replicate and AI Horde wire protocols;"
        + " no real provider is called and no image is paid for");
    if (failing.contains("fal")) {
      s.add(console, new FalProviderFactory(), 1, stubs -> stubs.authenticationRefused(), "refuses the key (to show failover)");
    } else {
      s.add(console, new FalProviderFactory(), 1, stubs -> {
        stubs.success(StubImages.png(512, 512, 5));
        ((FalStubs) stubs).stubUpload("sandbox-input"); // fal storage for input images
      }, "serves an edited image");
    }
    s.add(console, new ReplicateProviderFactory(), 2, stubs -> stubs.success(StubImages.png(512, 512, 42)),
        "serves a priced image");
    s.add(console, new HordeProviderFactory(), 3, stubs -> stubs.success(StubImages.png(512, 512, 7)), "serves a free image");
    return s;
  }

  private void add(Console console, ImageProviderFactory factory, int priority,
      Consumer<ProviderStubs> scenario, String what) {
    WireMockServer server = new WireMockServer(WireMockConfiguration.options().bindAddress("127.0.0.1").dynamicPort()
        .useChunkedTransferEncoding(Options.ChunkedEncodingPolicy.NEVER)
        .gzipDisabled(true));
    server.start();
    servers.add(server);
    ProviderStubs stubs = Stubs.forProvider(factory.id(), server);
    scenario.accept(stubs);
    long poll = Math.max(stubs.minPollInterval().toMillis(), 50);
    ProviderConfig.Builder b = ProviderConfig.builder(factory.id())
        .baseUrl(server.baseUrl() + stubs.basePath())
        .apiKey("sandbox-" + factory.id() + "-key")
        .set("priority", String.valueOf(priority))
        .set("poll-interval", poll + "ms")
        .set("timeout", "20s");
    stubs.extraConfig().forEach(b::set);
    entries.add(new Entry(factory, b.build()));
    console.line("SANDBOX: " + factory.id() + " stand-in at " + server.baseUrl() + " " + what);
  }

  /** A service builder with the sandbox providers configured, fast retries. */
  public ImageGenerationService.Builder builder() {
    ImageGenerationService.Builder b = ImageGenerationService.builder().retryBackoff(Duration.ofMillis(20), Duration.ofMillis(200));
    entries.forEach(e -> b.provider(e.factory(), e.config()));
    return b;
  }

  @Override
  public void close() {
    servers.forEach(WireMockServer::stop);
  }
}
