package dev.imagegen.examples.plugin;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.testkit.ProviderKit;
import dev.imagegen.testkit.ProviderStubs;

/** The plugin example passes the same contract as imagegen's own providers. */
class PixelForgeProviderKitTest extends ProviderKit {
  @Override
  protected ImageProviderFactory factory() {
    return new PixelForgeProviderFactory();
  }

  @Override
  protected ProviderStubs stubs(WireMockServer server) {
    return new PixelForgeStubs(server);
  }
}
