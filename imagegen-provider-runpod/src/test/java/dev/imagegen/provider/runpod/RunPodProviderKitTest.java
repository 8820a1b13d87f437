package dev.imagegen.provider.runpod;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.testkit.ProviderKit;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.stubs.RunPodStubs;

/** The provider contract suite against RunPod's serverless API on WireMock. */
class RunPodProviderKitTest extends ProviderKit {
  @Override
  protected ImageProviderFactory factory() {
    return new RunPodProviderFactory();
  }

  @Override
  protected ProviderStubs stubs(WireMockServer server) {
    return new RunPodStubs(server);
  }
}
