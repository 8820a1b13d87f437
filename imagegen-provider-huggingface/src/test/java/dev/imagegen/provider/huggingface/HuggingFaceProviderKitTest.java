package dev.imagegen.provider.huggingface;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.testkit.ProviderKit;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.stubs.HuggingFaceStubs;

/** The provider contract suite against Hugging Face Inference's wire protocol. */
class HuggingFaceProviderKitTest extends ProviderKit {

  @Override
  protected ImageProviderFactory factory() {
    return new HuggingFaceProviderFactory();
  }

  @Override
  protected ProviderStubs stubs(WireMockServer server) {
    return new HuggingFaceStubs(server);
  }
}
