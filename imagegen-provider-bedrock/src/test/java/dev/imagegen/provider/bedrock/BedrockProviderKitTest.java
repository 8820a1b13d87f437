package dev.imagegen.provider.bedrock;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.testkit.ProviderKit;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.stubs.BedrockStubs;

/** The provider contract suite against Bedrock InvokeModel's wire protocol (Nova Canvas, the default model). */
class BedrockProviderKitTest extends ProviderKit {

  @Override
  protected ImageProviderFactory factory() {
    return new BedrockProviderFactory();
  }

  @Override
  protected ProviderStubs stubs(WireMockServer server) {
    return new BedrockStubs(server);
  }
}
