package dev.imagegen.provider.openai;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.testkit.ProviderKit;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.stubs.OpenAIStubs;

/** The provider contract suite against the OpenAI Images API's wire protocol. */
class OpenAIProviderKitTest extends ProviderKit {

  @Override
  protected ImageProviderFactory factory() {
    return new OpenAIProviderFactory();
  }

  @Override
  protected ProviderStubs stubs(WireMockServer server) {
    return new OpenAIStubs(server);
  }

  /** The kit's request at 1024x1024: gpt-image-2 makes no image under 655,360 pixels (512x512 is refused before sending). */
  @Override
  protected ImageGenerationRequest.Builder request() {
    return super.request().size(1024, 1024);
  }
}
