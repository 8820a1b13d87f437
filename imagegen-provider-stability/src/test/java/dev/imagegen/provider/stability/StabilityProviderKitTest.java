package dev.imagegen.provider.stability;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.testkit.ProviderKit;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.stubs.StabilityStubs;

/** The provider contract suite against Stability AI's v2beta wire protocol. */
class StabilityProviderKitTest extends ProviderKit {

  @Override
  protected ImageProviderFactory factory() {
    return new StabilityProviderFactory();
  }

  @Override
  protected ProviderStubs stubs(WireMockServer server) {
    return new StabilityStubs(server);
  }
}
