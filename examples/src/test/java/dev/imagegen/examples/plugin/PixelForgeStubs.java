package dev.imagegen.examples.plugin;

import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.SubmittedJson;
import java.util.Map;

/**
 * The PixelForge API on WireMock, for the kit: what a plugin author writes for their own service.
 * The kit's defaults build the refusals and faults from the submit, its success answer and the
 * health request ({@code {"error": "..."}}, PixelForge's error shape, is the default one).
 */
record PixelForgeStubs(WireMockServer wireMock) implements ProviderStubs {
  @Override public MappingBuilder submitStub() { return post("/v1/render"); }
  @Override public MappingBuilder healthStub() { return get("/v1/me"); }
  @Override public ResponseDefinitionBuilder successAnswer(StubImage image) {
    return okJson("{\"image_base64\":\"" + image.base64() + "\",\"seed\":" + image.seed() + "}");
  }

  @Override public Map<Scenario, String> unsupported() {
    return Map.of(Scenario.QUEUED_PROGRESS, "synchronous API: no queue",
        Scenario.REMOTE_CANCEL, "synchronous API: no job to cancel",
        Scenario.CONTENT_POLICY, "PixelForge has no content filter",
        Scenario.RESULT_URL_NOT_FOUND, "images come back inline");
  }

  @Override public void assertSubmitted(ImageGenerationRequest request, LoggedRequest submit, String apiKey) {
    SubmittedJson.of(submit).header("Authorization", "Bearer " + apiKey).field("prompt", request.prompt())
        .field("negative_prompt", request.effectiveNegativePrompt()).field("width", request.width())
        .field("height", request.height()).field("seed", request.seed());
  }
}
