package dev.imagegen.testkit.example;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testkit.ProviderKit;

/**
 * The kit against the example provider broken in the way {@link #breakage} says. Not named
 * {@code *Test}: only {@link BrokenVariantsTest} runs it, through the JUnit Platform Launcher.
 */
class BrokenAcmeKit extends ProviderKit {
  /** The breakage the next run uses. */
  static volatile Breakage breakage = Breakage.WRONG_FIELD_NAMES;

  @Override
  protected ImageProviderFactory factory() {
    Breakage b = breakage;
    return new ImageProviderFactory() {
      @Override public String id() { return AcmeProvider.ID; }
      @Override public boolean isConfigured(ProviderConfig config) { return true; }
      @Override public ImageProvider create(ProviderConfig config) { return b.create(config); }
    };
  }

  @Override
  protected AcmeStubs stubs(WireMockServer server) {
    return new AcmeStubs(server);
  }
}
