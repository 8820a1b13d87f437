package dev.imagegen.provider.sdwebui;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.testkit.ProviderKit;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.stubs.SdWebUiStubs;

/** The provider contract suite against the WebUI's API as {@link SdWebUiStubs} serves it. */
class SdWebUiProviderKitTest extends ProviderKit {
  @Override
  protected ImageProviderFactory factory() {
    return new SdWebUiProviderFactory();
  }

  @Override
  protected ProviderStubs stubs(WireMockServer server) {
    return new SdWebUiStubs(server);
  }
}
