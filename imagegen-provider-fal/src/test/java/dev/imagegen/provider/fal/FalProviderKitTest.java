package dev.imagegen.provider.fal;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.testkit.ProviderKit;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.stubs.FalStubs;

/** The imagegen provider contract, run against fal's queue API on WireMock. */
class FalProviderKitTest extends ProviderKit {
  @Override
  protected ImageProviderFactory factory() {
    return new FalProviderFactory();
  }

  @Override
  protected ProviderStubs stubs(WireMockServer server) {
    return new FalStubs(server);
  }
}
