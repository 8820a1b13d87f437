package dev.imagegen.provider.horde;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.testkit.ProviderKit;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.stubs.HordeStubs;

/** The provider contract suite against a WireMock AI Horde. */
class HordeProviderKitTest extends ProviderKit {
  @Override
  protected ImageProviderFactory factory() {
    return new HordeProviderFactory();
  }

  @Override
  protected ProviderStubs stubs(WireMockServer server) {
    return new HordeStubs(server);
  }
}
