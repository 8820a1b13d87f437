package dev.imagegen.provider.replicate;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.testkit.ProviderKit;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.stubs.ReplicateStubs;

/** The provider contract suite against Replicate's protocol. */
class ReplicateProviderKitTest extends ProviderKit {

  @Override
  protected ImageProviderFactory factory() {
    return new ReplicateProviderFactory();
  }

  @Override
  protected ProviderStubs stubs(WireMockServer server) {
    return new ReplicateStubs(server);
  }
}
