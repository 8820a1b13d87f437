package dev.imagegen.testkit.example;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.testkit.ProviderKit;

/** The kit against the intact example provider: every scenario passes. */
class AcmeProviderKitTest extends ProviderKit {
  @Override
  protected ImageProviderFactory factory() {
    return new AcmeProviderFactory();
  }

  @Override
  protected AcmeStubs stubs(WireMockServer server) {
    return new AcmeStubs(server);
  }
}
