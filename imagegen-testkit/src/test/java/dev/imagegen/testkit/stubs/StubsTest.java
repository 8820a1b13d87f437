package dev.imagegen.testkit.stubs;

import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.testkit.ProviderStubs;
import dev.imagegen.testkit.StubImages;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class StubsTest {
  private WireMockServer server;

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop();
  }

  @Test
  void findsEachProvidersStubsById() {
    Map<String, Class<?>> expected = Map.ofEntries(Map.entry("horde", HordeStubs.class),
        Map.entry("replicate", ReplicateStubs.class), Map.entry("fal", FalStubs.class), Map.entry("runpod", RunPodStubs.class),
        Map.entry("huggingface", HuggingFaceStubs.class), Map.entry("sdwebui", SdWebUiStubs.class),
        Map.entry("openai", OpenAIStubs.class), Map.entry("stability", StabilityStubs.class),
        Map.entry("google", GoogleStubs.class), Map.entry("bfl", BflStubs.class), Map.entry("bedrock", BedrockStubs.class));
    assertThat(Stubs.providerIds()).containsExactlyInAnyOrderElementsOf(expected.keySet());
    for (String id : Stubs.providerIds()) {
      assertThat(Stubs.forProvider(id, server)).as(id).isExactlyInstanceOf(expected.get(id));
    }
    assertThat(Stubs.forProvider(" HuggingFace ", server)).isInstanceOf(HuggingFaceStubs.class);
  }

  @Test
  void unknownIdNamesTheKnownOnes() {
    assertThatThrownBy(() -> Stubs.forProvider("midjourney", server))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("midjourney")
        .hasMessageContaining("replicate");
  }

  @Test
  void everyProvidersSuccessAnswersAtItsSubmitPath() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    Map<String, String> submitPaths = Map.ofEntries(
        Map.entry("horde", "/api/v2/generate/async"),
        Map.entry("replicate", "/v1/models/black-forest-labs/flux-schnell/predictions"),
        Map.entry("fal", "/fal-ai/flux/schnell"),
        Map.entry("runpod", "/v2/" + RunPodStubs.ENDPOINT + "/run"),
        Map.entry("huggingface", "/hf-inference/models/black-forest-labs/FLUX.1-schnell"),
        Map.entry("sdwebui", "/sdapi/v1/txt2img"),
        Map.entry("openai", "/v1/images/generations"),
        Map.entry("stability", "/v2beta/stable-image/generate/core"),
        Map.entry("google", "/v1beta/models/gemini-2.5-flash-image:generateContent"),
        Map.entry("bfl", "/v1/flux-2-pro"),
        Map.entry("bedrock", "/model/amazon.nova-canvas-v1:0/invoke"));
    for (String id : Stubs.providerIds()) {
      server.resetAll();
      ProviderStubs stubs = Stubs.forProvider(id, server);
      stubs.success(StubImages.png(64, 64, 1));
      HttpRequest.Builder post = HttpRequest.newBuilder(URI.create(server.baseUrl() + submitPaths.get(id)));
      if (id.equals("stability")) { // multipart only, even for a prompt alone
        post.header("Content-Type", "multipart/form-data; boundary=b").header("authorization", "Bearer k")
            .header("accept", "image/*").POST(HttpRequest.BodyPublishers.ofString(
                "--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\np\r\n--b--\r\n"));
      } else {
        post.header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{}"));
      }
      HttpResponse<byte[]> r = http.send(post.build(), HttpResponse.BodyHandlers.ofByteArray());
      assertThat(r.statusCode()).as(id + " submit status").isBetween(200, 202);
      assertThat(server.findAll(stubs.submitRequests())).as(id + " submitRequests() finds the submit").hasSize(1);
    }
  }

  // The checks below re-express each provider's wire values from its protocol document; each
  // must be able to fail, so each is run once with a right submit and once with a wrong one.

  @Test
  void replicateWantsTheClosestDocumentedAspectRatioForFluxSchnell() throws Exception {
    ReplicateStubs stubs = new ReplicateStubs(server);
    ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("p").size(1024, 576).seed(42L).steps(4).build();
    String path = "/v1/models/black-forest-labs/flux-schnell/predictions";
    String body = "{\"input\":{\"prompt\":\"p\",\"aspect_ratio\":\"%s\",\"num_outputs\":1,\"seed\":42,"
        + "\"num_inference_steps\":4}}";
    stubs.assertSubmitted(req, send(path, String.format(body, "16:9"), "Bearer k", stubs), "k");
    LoggedRequest wrong = send(path, String.format(body, "1:1"), "Bearer k", stubs);
    assertThatThrownBy(() -> stubs.assertSubmitted(req, wrong, "k")).isInstanceOf(AssertionError.class)
        .hasMessageContaining("aspect_ratio");
  }

  @Test
  void huggingFaceSendsNoGuidanceToFluxSchnell() throws Exception {
    HuggingFaceStubs stubs = new HuggingFaceStubs(server);
    ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("p").size(512, 512).seed(42L).steps(8)
        .guidanceScale(3.5).build();
    String path = "/hf-inference/models/black-forest-labs/FLUX.1-schnell";
    String right = "{\"inputs\":\"p\",\"parameters\":{\"width\":512,\"height\":512,\"num_inference_steps\":4,\"seed\":42}}";
    stubs.assertSubmitted(req, send(path, right, "Bearer k", stubs), "k");
    LoggedRequest wrong = send(path, right.replace("\"seed\":42", "\"seed\":42,\"guidance_scale\":3.5"), "Bearer k", stubs);
    assertThatThrownBy(() -> stubs.assertSubmitted(req, wrong, "k")).isInstanceOf(AssertionError.class)
        .hasMessageContaining("guidance_scale");
  }

  @Test
  void sdWebUiWantsEachLoraTagWithItsWeight() throws Exception {
    SdWebUiStubs stubs = new SdWebUiStubs(server);
    ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("p").size(512, 512).seed(42L).steps(4)
        .lora("film-grain", 0.8).build();
    String negative = req.effectiveNegativePrompt();
    String body = "{\"prompt\":\"p <lora:film-grain:%s>\",\"seed\":42,\"batch_size\":1,\"width\":512,\"height\":512,"
        + "\"steps\":4" + (negative == null ? "" : ",\"negative_prompt\":" + new ObjectMapper().writeValueAsString(negative))
        + "}";
    stubs.assertSubmitted(req, send("/sdapi/v1/txt2img", String.format(body, "0.80"), "Bearer k", stubs), "k");
    LoggedRequest wrong = send("/sdapi/v1/txt2img", String.format(body, "0.5"), "Bearer k", stubs);
    assertThatThrownBy(() -> stubs.assertSubmitted(req, wrong, "k")).isInstanceOf(AssertionError.class)
        .hasMessageContaining("lora");
  }

  @Test
  void openAiWantsTheModelAndNoResponseFormatForGptImage() throws Exception {
    OpenAIStubs stubs = new OpenAIStubs(server);
    ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("p").size(1024, 1024).seed(42L).build();
    String right = "{\"model\":\"gpt-image-2\",\"prompt\":\"p\",\"n\":1,\"size\":\"1024x1024\"}";
    stubs.assertSubmitted(req, send("/v1/images/generations", right, "Bearer k", stubs), "k");
    LoggedRequest wrong = send("/v1/images/generations", right.replace("}", ",\"response_format\":\"b64_json\"}"),
        "Bearer k", stubs);
    assertThatThrownBy(() -> stubs.assertSubmitted(req, wrong, "k")).isInstanceOf(AssertionError.class)
        .hasMessageContaining("response_format");
    LoggedRequest noModel = send("/v1/images/generations", right.replace("\"model\":\"gpt-image-2\",", ""), "Bearer k", stubs);
    assertThatThrownBy(() -> stubs.assertSubmitted(req, noModel, "k")).isInstanceOf(AssertionError.class)
        .hasMessageContaining("model");
  }

  @Test
  void googleWantsTheKeyInItsHeaderAndTheNearestAspectRatio() throws Exception {
    GoogleStubs stubs = new GoogleStubs(server);
    ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("p").size(1024, 576).build();
    String path = "/v1beta/models/gemini-2.5-flash-image:generateContent";
    String body = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"p\"}]}],\"generationConfig\":"
        + "{\"responseModalities\":[\"TEXT\",\"IMAGE\"],\"imageConfig\":{\"aspectRatio\":\"%s\"}}}";
    stubs.assertSubmitted(req, sendGoogle(path, String.format(body, "16:9"), "k", stubs), "k");
    LoggedRequest wrongRatio = sendGoogle(path, String.format(body, "4:3"), "k", stubs);
    assertThatThrownBy(() -> stubs.assertSubmitted(req, wrongRatio, "k")).isInstanceOf(AssertionError.class)
        .hasMessageContaining("aspectRatio");
    LoggedRequest keyInUrl = sendGoogle(path + "?key=k", String.format(body, "16:9"), "k", stubs);
    assertThatThrownBy(() -> stubs.assertSubmitted(req, keyInUrl, "k")).isInstanceOf(AssertionError.class)
        .hasMessageContaining("URL");
  }

  private LoggedRequest sendGoogle(String path, String body, String key, ProviderStubs stubs) throws Exception {
    server.resetRequests();
    HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
        .header("Content-Type", "application/json").header("x-goog-api-key", key)
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.discarding());
    return server.findAll(stubs.submitRequests()).get(0);
  }

  /** POSTs a body to the server and returns the submit as WireMock logged it. */
  private LoggedRequest send(String path, String body, String authorization, ProviderStubs stubs) throws Exception {
    server.resetRequests();
    HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
        .header("Content-Type", "application/json").header("Accept", "image/png").header("Authorization", authorization)
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.discarding());
    return server.findAll(stubs.submitRequests()).get(0);
  }
}
