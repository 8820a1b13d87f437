package dev.imagegen.provider.bfl;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.testkit.ProviderKit;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.stubs.BflStubs;

/** The imagegen provider contract, run against BFL's API on WireMock. */
class BflProviderKitTest extends ProviderKit {
  @Override
  protected ImageProviderFactory factory() {
    return new BflProviderFactory();
  }

  @Override
  protected ProviderStubs stubs(WireMockServer server) {
    return new BflStubs(server);
  }
}
