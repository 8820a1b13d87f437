package dev.imagegen.provider.google;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.testkit.ProviderKit;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.stubs.GoogleStubs;

/** The provider contract suite against the Gemini API's generateContent wire protocol. */
class GoogleProviderKitTest extends ProviderKit {

  @Override
  protected ImageProviderFactory factory() {
    return new GoogleProviderFactory();
  }

  @Override
  protected ProviderStubs stubs(WireMockServer server) {
    return new GoogleStubs(server);
  }
}
