package dev.imagegen.provider.fal;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.matching;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.put;
import static com.github.tomakehurst.wiremock.client.WireMock.putRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.imagegen.AuthenticationException;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.Cost;
import dev.imagegen.ErrorKind;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.GenerationJob;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.InputImage;
import dev.imagegen.InsufficientCreditsException;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ModelInfo;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.RateLimitedException;
import dev.imagegen.spi.ImageBytes;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testkit.KitContext;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.StubImages;
import dev.imagegen.testkit.stubs.FalStubs;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** fal-specific behaviour on WireMock: URLs, uploads, the edit body, NSFW flags, errors, cancel, prices. */
class FalProviderTest {
  static final String KEY = "fal-key-id-0042:fal-key-secret-9f8e7d";
  static final String ID = FalStubs.REQUEST_ID;
  static final String NANO_ROOT = "fal-ai/nano-banana-pro";
  static final String NANO = FalModels.NANO_BANANA_PRO_EDIT;
  static final ObjectMapper JSON = new ObjectMapper();

  WireMockServer server;
  FalStubs stubs;
  final List<ImageGenerationService> services = new ArrayList<>();

  @BeforeEach
  void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
    stubs = new FalStubs(server);
  }

  @AfterEach
  void stop() {
    services.forEach(ImageGenerationService::close);
    server.stop();
  }

  ProviderConfig.Builder config() {
    return ProviderConfig.builder("fal").apiKey(KEY).baseUrl(server.baseUrl()).set("storage-url", server.baseUrl())
        .set("poll-interval", "100ms").set("timeout", "5s");
  }

  ImageGenerationService service(ProviderConfig config) {
    ImageGenerationService s = ImageGenerationService.builder().provider(new FalProviderFactory(), config)
        .maxRetries(0).defaultTimeout(Duration.ofSeconds(15)).build();
    services.add(s);
    return s;
  }

  ImageGenerationService service() {
    return service(config().build());
  }

  static JsonNode body(LoggedRequest r) {
    try {
      return JSON.readTree(r.getBodyAsString());
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  static List<String> texts(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }

  LoggedRequest onlySubmit(String appId) {
    List<LoggedRequest> submits = server.findAll(postRequestedFor(urlPathEqualTo("/" + appId)));
    assertThat(submits).hasSize(1);
    return submits.get(0);
  }

  /** Stubs a nano-banana-pro/edit run answering one PNG. */
  StubImage stubNanoSuccess() {
    StubImage out = StubImages.png(96, 128, 11);
    String path = FalStubs.imagePath(out, "k9Rr");
    stubs.stubSubmit(NANO, NANO_ROOT, ID);
    stubs.stubStatus(NANO_ROOT, ID, stubs.completed(NANO_ROOT, ID));
    stubs.stubImage(path, out);
    stubs.stubResult(NANO_ROOT, ID, 200, stubs.editResult(out, path, "Here is the scene with the jacket changed to red."));
    return out;
  }

  /** Upload initiate answers a distinct file URL per file name; the presigned PUT answers 200. */
  void stubUploads() {
    for (int i = 1; i <= 5; i++) {
      server.stubFor(post(urlPathEqualTo("/storage/upload/initiate"))
          .withRequestBody(matchingJsonPath("$.file_name", matching("input-" + i + "\\.(png|jpg|webp)")))
          .willReturn(FalStubs.json(200, "{\"upload_url\":\"" + server.baseUrl() + "/upload/presigned/f" + i
              + "?X-Goog-Signature=abc\",\"file_url\":\"https://v3b.fal.media/files/b/f" + i + "/input.png\"}")));
    }
    server.stubFor(put(urlPathMatching("/upload/presigned/.*")).willReturn(aResponse().withStatus(200)));
  }

  // ------------------------------------------------------------------ text to image

  @Nested
  class TextToImage {
    @Test
    void fluxSchnellAliasMapsFieldsAndPollsOwnerAlias() {
      StubImage img = StubImages.jpeg(1024, 768, 1984632751L);
      stubs.stubFluxSuccess(List.of(img), List.of(false));

      ImageGenerationResponse r = service().generateImage(ImageGenerationRequest.builder().prompt("a red fox in snow")
          .model("flux-schnell").size(1024, 768).seed(1984632751L).steps(4).guidanceScale(3.5).numImages(1)
          .outputFormat("png").build(), "fal");

      assertThat(r.provider()).isEqualTo("fal");
      assertThat(r.model()).isEqualTo("fal-ai/flux/schnell");
      assertThat(r.images()).hasSize(1);
      assertThat(r.images().get(0).bytes()).isEqualTo(img.bytes());
      assertThat(r.images().get(0).seed()).isEqualTo(1984632751L);
      assertThat(r.images().get(0).nsfw()).isFalse();
      assertThat(r.metadata()).containsEntry("request_id", ID).containsEntry("inference_time", "0.41");
      assertThat(r.cost().amount()).isEqualByComparingTo("0.003");

      LoggedRequest submit = onlySubmit("fal-ai/flux/schnell");
      assertThat(submit.getHeader("Authorization")).isEqualTo("Key " + KEY);
      JsonNode b = body(submit);
      assertThat(b.path("prompt").asText()).isEqualTo("a red fox in snow");
      assertThat(b.path("image_size").path("width").asInt()).isEqualTo(1024);
      assertThat(b.path("image_size").path("height").asInt()).isEqualTo(768);
      assertThat(b.path("seed").asLong()).isEqualTo(1984632751L);
      assertThat(b.path("num_inference_steps").asInt()).isEqualTo(4);
      assertThat(b.path("guidance_scale").asDouble()).isEqualTo(3.5);
      assertThat(b.path("num_images").asInt()).isEqualTo(1);
      assertThat(b.path("enable_safety_checker").asBoolean()).isTrue();
      assertThat(b.path("output_format").asText()).isEqualTo("png");
      assertThat(b.has("negative_prompt")).isFalse();

      // status and result use owner/alias only, never the sub-path
      List<LoggedRequest> polls = server.findAll(getRequestedFor(urlPathEqualTo("/fal-ai/flux/requests/" + ID + "/status")));
      assertThat(polls).isNotEmpty();
      assertThat(polls.get(0).queryParameter("logs").firstValue()).as("a queued job has no logs to send").isEqualTo("0");
      assertThat(polls.get(0).getHeader("Authorization")).isEqualTo("Key " + KEY);
      server.verify(1, getRequestedFor(urlPathEqualTo("/fal-ai/flux/requests/" + ID)));
      server.verify(0, getRequestedFor(urlPathMatching("/fal-ai/flux/schnell/requests/.*")));
    }

    @Test
    void namedImageSizeOptionAndWebpFallback() {
      StubImage img = StubImages.png(1024, 576, 5);
      stubs.stubFluxSuccess(List.of(img), List.of(false));

      ImageGenerationResponse r = service().generateImage(ImageGenerationRequest.builder().prompt("wide")
          .providerOption("fal", "image_size", "landscape_16_9").providerOption("fal", "acceleration", "high")
          .outputFormat("webp").build(), "fal");

      JsonNode b = body(onlySubmit("fal-ai/flux/schnell"));
      assertThat(b.path("image_size").asText()).isEqualTo("landscape_16_9");
      assertThat(b.path("acceleration").asText()).isEqualTo("high");
      assertThat(b.path("output_format").asText()).isEqualTo("png");
      assertThat(r.warnings()).anyMatch(w -> w.contains("webp"));
    }

    @Test
    void badImageSizeOptionIsRefusedBeforeSubmit() {
      ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("x")
          .providerOption("fal", "image_size", "huge").build();
      assertThatThrownBy(() -> service().generateImage(req, "fal")).isInstanceOf(InvalidRequestException.class)
          .hasMessageContaining("image_size");
      server.verify(0, postRequestedFor(urlPathMatching("/.*")));
    }

    @Test
    void nsfwFlagsMarkEachImage() {
      StubImage a = new StubImage(FalStubs.blackJpeg(64, 64), "image/jpeg", 64, 64, 9);
      StubImage b = StubImages.jpeg(64, 64, 9);
      stubs.stubFluxSuccess(List.of(a, b), List.of(true, false));

      ImageGenerationResponse r = service().generateImage(ImageGenerationRequest.builder().prompt("two")
          .numImages(2).build(), "fal");

      assertThat(r.images()).extracting(g -> g.nsfw()).containsExactly(true, false);
      assertThat(r.images().get(1).bytes()).isEqualTo(b.bytes());
      assertThat(r.warnings()).anyMatch(w -> w.contains("1 of 2") && w.contains("has_nsfw_concepts"));
      assertThat(body(onlySubmit("fal-ai/flux/schnell")).path("num_images").asInt()).isEqualTo(2);
    }

    @Test
    void everyImageFlaggedIsAContentPolicyFailure() {
      StubImage a = new StubImage(FalStubs.blackJpeg(64, 64), "image/jpeg", 64, 64, 9);
      stubs.stubFluxSuccess(List.of(a), List.of(true));
      assertThatThrownBy(() -> service().generateImage(ImageGenerationRequest.of("x"), "fal"))
          .isInstanceOf(ContentPolicyException.class);
    }

    @Test
    void progressReportsQueuePositionAndLogs() throws Exception {
      stubs.queuedThenRunningThenDone(StubImages.png(64, 64, 1));
      List<ProgressEvent> events = new CopyOnWriteArrayList<>();
      GenerationJob job = service().submit(ImageGenerationRequest.of("a red fox in snow")).onProgress(events::add);

      ImageGenerationResponse r = job.result().get(10, TimeUnit.SECONDS);

      assertThat(r.images()).hasSize(1);
      assertThat(events).anyMatch(e -> e.stage() == ProgressEvent.Stage.QUEUED && Integer.valueOf(3).equals(e.queuePosition()));
      assertThat(events).anyMatch(e -> e.stage() == ProgressEvent.Stage.QUEUED && Integer.valueOf(1).equals(e.queuePosition()));
      assertThat(events).anyMatch(e -> e.stage() == ProgressEvent.Stage.RUNNING && "step 2/4".equals(e.message())
          && e.percent() != null && e.percent() == 50.0);
      // logs only once it runs: queued, queued, first seen running, running with logs, completed
      List<String> logs = server.findAll(getRequestedFor(urlPathEqualTo("/fal-ai/flux/requests/" + ID + "/status"))).stream()
          .map(p -> p.queryParameter("logs").firstValue()).toList();
      assertThat(logs).containsExactly("0", "0", "0", "1", "1");
      server.verify(1, postRequestedFor(urlPathEqualTo("/fal-ai/flux/schnell")));
    }
  }

  // ------------------------------------------------------------------ URLs

  @Nested
  class QueueUrls {
    @Test
    void rootIdKeepsOwnerAliasAndNamespace() {
      assertThat(FalModels.rootId("fal-ai/flux/schnell")).isEqualTo("fal-ai/flux");
      assertThat(FalModels.rootId("fal-ai/nano-banana-pro/edit")).isEqualTo("fal-ai/nano-banana-pro");
      assertThat(FalModels.rootId("fal-ai/fast-sdxl")).isEqualTo("fal-ai/fast-sdxl");
      assertThat(FalModels.rootId("owner/app/a/b/c")).isEqualTo("owner/app");
      assertThat(FalModels.rootId("workflows/owner/app/path")).isEqualTo("workflows/owner/app");
      assertThat(FalModels.rootId("comfy/owner/app")).isEqualTo("comfy/owner/app");
      URI base = URI.create("https://queue.fal.run/");
      assertThat(FalJob.submitUrl(base, "fal-ai/flux/schnell")).hasToString("https://queue.fal.run/fal-ai/flux/schnell");
      assertThat(FalJob.requestUrl(base, "fal-ai/flux/schnell", "r1", "/status"))
          .hasToString("https://queue.fal.run/fal-ai/flux/requests/r1/status");
      assertThat(FalJob.requestUrl(base, "workflows/me/wf/run", "r1", "/cancel"))
          .hasToString("https://queue.fal.run/workflows/me/wf/requests/r1/cancel");
      assertThat(FalJob.requestUrl(base, "fal-ai/nano-banana-pro/edit", "r1", ""))
          .hasToString("https://queue.fal.run/fal-ai/nano-banana-pro/requests/r1");
    }

    @Test
    void modelNamesResolve() {
      assertThat(FalModels.resolve("flux-schnell")).isEqualTo("fal-ai/flux/schnell");
      assertThat(FalModels.resolve("nano-banana-pro/edit")).isEqualTo(NANO);
      assertThat(FalModels.resolve("fal-ai/flux/dev")).isEqualTo("fal-ai/flux/dev");
      assertThat(FalModels.resolve("sdxl")).isNull();
      assertThat(FalModels.resolve("workflows/x")).isNull();
      assertThat(FalModels.resolve("fal-ai/../admin")).isNull();
      assertThat(FalModels.resolve("fal-ai/flux?x=1")).isNull();
    }

    @Test
    void foreignHostUrlsAreMovedOntoTheBase() {
      URI base = URI.create("http://localhost:8080/proxy");
      assertThat(FalJob.onBase(base, "https://queue.fal.run/fal-ai/flux/requests/r1/status"))
          .hasToString("http://localhost:8080/proxy/fal-ai/flux/requests/r1/status");
      assertThat(FalJob.onBase(base, "http://localhost:8080/fal-ai/flux/requests/r1"))
          .hasToString("http://localhost:8080/fal-ai/flux/requests/r1");
      assertThat(FalJob.onBase(base, "ftp://x/y")).isNull();
      assertThat(FalJob.onBase(base, null)).isNull();
    }

    @Test
    void subPathModelWithoutReturnedUrlsPollsOwnerAlias() {
      StubImage out = StubImages.png(64, 64, 2);
      String path = FalStubs.imagePath(out, "k9Rr");
      server.stubFor(post(urlPathEqualTo("/" + NANO)).willReturn(FalStubs.json(200,
          "{\"status\":\"IN_QUEUE\",\"request_id\":\"" + ID + "\"}")));
      stubs.stubStatus(NANO_ROOT, ID, "{\"status\":\"COMPLETED\",\"logs\":null}");
      stubs.stubImage(path, out);
      stubs.stubResult(NANO_ROOT, ID, 200, stubs.editResult(out, path, "done"));

      ImageGenerationResponse r = service().generateImage(ImageGenerationRequest.builder().prompt("edit")
          .model("nano-banana-pro/edit").inputImage(InputImage.ofUrl(InputImage.Role.INIT,
              URI.create("https://example.com/person.png"))).build(), "fal");

      assertThat(r.images().get(0).bytes()).isEqualTo(out.bytes());
      server.verify(getRequestedFor(urlPathEqualTo("/fal-ai/nano-banana-pro/requests/" + ID + "/status")));
      server.verify(getRequestedFor(urlPathEqualTo("/fal-ai/nano-banana-pro/requests/" + ID)));
      server.verify(0, getRequestedFor(urlPathMatching("/fal-ai/nano-banana-pro/edit/requests/.*")));
    }

    @Test
    void returnedUrlsOnFalsHostAreFollowedOnTheConfiguredBase() {
      StubImage img = StubImages.png(64, 64, 4);
      String path = FalStubs.imagePath(img, "x");
      // the protocol's sample answer, naming queue.fal.run itself
      server.stubFor(post(urlPathEqualTo("/fal-ai/flux/schnell")).willReturn(FalStubs.json(200,
          "{\"status\":\"IN_QUEUE\",\"request_id\":\"" + ID + "\",\"response_url\":\"https://queue.fal.run/fal-ai/flux/requests/"
              + ID + "\",\"status_url\":\"https://queue.fal.run/fal-ai/flux/requests/" + ID + "/status\",\"cancel_url\":"
              + "\"https://queue.fal.run/fal-ai/flux/requests/" + ID + "/cancel\",\"queue_position\":0}")));
      stubs.stubStatus("fal-ai/flux", ID, stubs.completed("fal-ai/flux", ID));
      stubs.stubImage(path, img);
      stubs.stubResult("fal-ai/flux", ID, 200, stubs.fluxResult(List.of(img), List.of(path), List.of(false), 1, "p"));

      ImageGenerationResponse r = service().generateImage(ImageGenerationRequest.of("p"), "fal");

      assertThat(r.images()).hasSize(1);
      server.verify(getRequestedFor(urlPathEqualTo("/fal-ai/flux/requests/" + ID + "/status")));
    }
  }

  // ------------------------------------------------------------------ soft and hard inputs

  @Nested
  class SoftInputs {
    @Test
    void fluxWithANegativePromptIsServedWithoutItAndWarns() {
      StubImage img = StubImages.jpeg(1024, 768, 3L);
      stubs.stubFluxSuccess(List.of(img), List.of(false));
      ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("a red fox in snow").model("flux-schnell")
          .negativePrompt("blurry, watermark").sampler("euler").steps(4).build();

      ImageGenerationResponse r = service().generateImage(req, "fal");

      assertThat(r.provider()).isEqualTo("fal");
      assertThat(r.images().get(0).bytes()).isEqualTo(img.bytes());
      JsonNode b = body(onlySubmit("fal-ai/flux/schnell"));
      assertThat(b.has("negative_prompt")).isFalse();
      assertThat(b.toString()).doesNotContain("blurry").doesNotContain("euler");
      assertThat(b.path("num_inference_steps").asInt()).as("FLUX takes steps").isEqualTo(4);
      assertThat(r.warnings()).contains("negative prompt not sent: model 'flux-schnell' does not take it",
          "sampler 'euler' not sent: model 'flux-schnell' does not take it");
    }

    @Test
    void fluxWithANegativePromptIsServedByFailoverToo() {
      stubs.stubFluxSuccess(List.of(StubImages.jpeg(1024, 768, 3L)), List.of(false));

      ImageGenerationResponse r = service().generateImageWithFailover(ImageGenerationRequest.builder().prompt("a red fox")
          .negativePrompt("blurry").build());

      assertThat(r.provider()).isEqualTo("fal");
      assertThat(r.attempts()).singleElement().satisfies(a -> assertThat(a.outcome()).isEqualTo(dev.imagegen.Attempt.Outcome.SUCCEEDED));
      assertThat(r.warnings()).contains("negative prompt not sent: the default model does not take it");
    }

    @Test
    void strictRequestWithANegativePromptSkipsFalWithTheReason() {
      ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("a red fox").model("flux-schnell")
          .negativePrompt("blurry").strict(true).build();

      assertThatThrownBy(() -> service().generateImageWithFailover(req))
          .isInstanceOf(dev.imagegen.NoCapableProviderException.class)
          .hasMessageContaining("fal: negative prompt would be dropped: model 'flux-schnell' does not take it (strict request)");
      server.verify(0, postRequestedFor(urlPathMatching("/.*")));
    }

    @Test
    void nanoBananaDropsStepsAndGuidanceWithCoreWarningsAndSkipsThemWhenStrict() {
      stubUploads();
      stubNanoSuccess();
      ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("make the jacket red").model(NANO)
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, StubImages.png(64, 96, 1).bytes()))
          .steps(30).guidanceScale(6.0).build();

      ImageGenerationResponse r = service().generateImage(req, "fal");

      JsonNode b = body(onlySubmit(NANO));
      assertThat(b.has("num_inference_steps")).isFalse();
      assertThat(b.has("guidance_scale")).isFalse();
      assertThat(r.warnings()).contains("steps 30 not sent: model '" + NANO + "' does not take it",
          "guidance scale 6.0 not sent: model '" + NANO + "' does not take it");
      assertThat(new FalProviderFactory().create(config().build()).capabilities().whyNot(req.toBuilder().strict(true).build()))
          .containsExactly("guidance scale 6.0 would be dropped: model '" + NANO + "' does not take it (strict request)",
              "steps 30 would be dropped: model '" + NANO + "' does not take it (strict request)");
    }
  }

  // ------------------------------------------------------------------ editing and uploads

  @Nested
  class Editing {
    @Test
    void multiImageEditSendsInitFirstThenReferencesInOrder() {
      stubUploads();
      StubImage out = stubNanoSuccess();
      byte[] person = StubImages.png(64, 96, 1).bytes();
      byte[] jacket = StubImages.png(48, 48, 2).bytes();
      URI trousers = URI.create("https://cdn.example.com/garments/trousers.png");

      ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("put the garments on the person")
          .model("fal-ai/nano-banana-pro/edit")
          .inputImage(InputImage.ofUrl(InputImage.Role.REFERENCE, trousers))
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, person))
          .inputImage(InputImage.ofBytes(InputImage.Role.REFERENCE, jacket))
          .size(768, 1024).seed(7L).outputFormat("png")
          .build();
      ImageGenerationResponse r = service().generateImage(req, "fal");

      assertThat(r.model()).isEqualTo(NANO);
      assertThat(r.images().get(0).bytes()).isEqualTo(out.bytes());
      assertThat(r.metadata()).containsEntry("description", "Here is the scene with the jacket changed to red.")
          .containsEntry("uploads", "2").containsKey("upload_time_ms");
      assertThat(r.cost().amount()).isEqualByComparingTo("0.15");

      JsonNode b = body(onlySubmit(NANO));
      assertThat(texts(b.path("image_urls"))).containsExactly(
          "https://v3b.fal.media/files/b/f1/input.png", trousers.toString(), "https://v3b.fal.media/files/b/f3/input.png");
      assertThat(b.path("prompt").asText()).isEqualTo("put the garments on the person");
      assertThat(b.path("num_images").asInt()).isEqualTo(1);
      assertThat(b.path("seed").asLong()).isEqualTo(7L);
      assertThat(b.path("aspect_ratio").asText()).isEqualTo("3:4");
      assertThat(b.path("resolution").asText()).isEqualTo("1K");
      assertThat(b.path("output_format").asText()).isEqualTo("png");
      assertThat(b.has("image_size")).isFalse();
      assertThat(b.has("num_inference_steps")).isFalse();

      // the person photo was uploaded as input 1, the jacket as input 3: the bytes went to the presigned URLs
      assertThat(server.findAll(putRequestedFor(urlPathEqualTo("/upload/presigned/f1"))).get(0).getBody()).isEqualTo(person);
      assertThat(server.findAll(putRequestedFor(urlPathEqualTo("/upload/presigned/f3"))).get(0).getBody()).isEqualTo(jacket);
    }

    @Test
    void uploadGoesThroughInitiateThenPresignedPutAndIsReused() {
      stubUploads();
      stubNanoSuccess();
      byte[] person = StubImages.png(64, 96, 1).bytes();
      ImageGenerationService service = service();
      ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("edit")
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, person)).build();

      ImageGenerationResponse first = service.generateImage(req, "fal");
      ImageGenerationResponse second = service.generateImage(ImageGenerationRequest.builder().prompt("edit again")
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, person.clone())).build(), "fal");

      assertThat(first.model()).isEqualTo(NANO); // input images without a model go to edit-model
      assertThat(first.metadata()).containsEntry("uploads", "1").containsEntry("uploads_reused", "0");
      assertThat(second.metadata()).containsEntry("uploads", "0").containsEntry("uploads_reused", "1");

      List<LoggedRequest> initiates = server.findAll(postRequestedFor(urlPathEqualTo("/storage/upload/initiate")));
      assertThat(initiates).hasSize(1);
      LoggedRequest initiate = initiates.get(0);
      assertThat(initiate.queryParameter("storage_type").firstValue()).isEqualTo("fal-cdn-v3");
      assertThat(initiate.getHeader("Authorization")).isEqualTo("Key " + KEY);
      assertThat(body(initiate).path("content_type").asText()).isEqualTo("image/png");
      assertThat(body(initiate).path("file_name").asText()).isEqualTo("input-1.png");

      List<LoggedRequest> puts = server.findAll(putRequestedFor(urlPathMatching("/upload/presigned/.*")));
      assertThat(puts).hasSize(1);
      assertThat(puts.get(0).getHeader("Content-Type")).isEqualTo("image/png");
      assertThat(puts.get(0).containsHeader("Authorization")).isFalse();
      assertThat(puts.get(0).queryParameter("X-Goog-Signature").firstValue()).isEqualTo("abc");
      assertThat(puts.get(0).getBody()).isEqualTo(person);

      List<LoggedRequest> submits = server.findAll(postRequestedFor(urlPathEqualTo("/" + NANO)));
      assertThat(submits).hasSize(2);
      for (LoggedRequest s : submits) {
        assertThat(texts(body(s).path("image_urls"))).containsExactly("https://v3b.fal.media/files/b/f1/input.png");
      }
    }

    @Test
    void filesAreUploadedLikeBytes(@TempDir Path dir) throws IOException {
      stubUploads();
      stubNanoSuccess();
      Path file = dir.resolve("person.png");
      Files.write(file, StubImages.png(40, 40, 8).bytes());

      service().generateImage(ImageGenerationRequest.builder().prompt("edit").model(NANO)
          .inputImage(InputImage.ofPath(InputImage.Role.INIT, file)).build(), "fal");

      assertThat(server.findAll(putRequestedFor(urlPathMatching("/upload/presigned/.*"))).get(0).getBody())
          .isEqualTo(Files.readAllBytes(file));
    }

    @Test
    void imagesUpToTheThresholdGoInlineAsDataUris() {
      stubUploads();
      stubNanoSuccess();
      byte[] small = StubImages.png(16, 16, 1).bytes();
      byte[] large = StubImages.jpeg(256, 256, 2).bytes();
      assertThat(large.length).isGreaterThan(small.length);

      service(config().set("data-uri-max-bytes", String.valueOf(small.length)).build()).generateImage(
          ImageGenerationRequest.builder().prompt("edit").model(NANO)
              .inputImage(InputImage.ofBytes(InputImage.Role.INIT, small))
              .inputImage(InputImage.ofBytes(InputImage.Role.REFERENCE, large)).build(), "fal");

      List<String> urls = texts(body(onlySubmit(NANO)).path("image_urls"));
      assertThat(urls.get(0)).isEqualTo(ImageBytes.dataUri(small, "image/png"));
      assertThat(urls.get(0)).startsWith("data:image/png;base64,");
      assertThat(urls.get(1)).startsWith("https://v3b.fal.media/files/");
      List<LoggedRequest> initiates = server.findAll(postRequestedFor(urlPathEqualTo("/storage/upload/initiate")));
      assertThat(initiates).hasSize(1);
      assertThat(body(initiates.get(0)).path("content_type").asText()).isEqualTo("image/jpeg");
      assertThat(server.findAll(putRequestedFor(urlPathMatching("/upload/presigned/.*"))).get(0).getBody()).isEqualTo(large);
    }

    @Test
    void failedUploadIsNotCachedAndNothingIsSubmitted() {
      stubNanoSuccess();
      server.stubFor(post(urlPathEqualTo("/storage/upload/initiate")).willReturn(FalStubs.json(200,
          "{\"upload_url\":\"" + server.baseUrl() + "/upload/presigned/x\",\"file_url\":\"https://v3b.fal.media/files/x.png\"}")));
      server.stubFor(put(urlPathMatching("/upload/presigned/.*")).willReturn(aResponse().withStatus(403)
          .withBody("<Error><Code>SignatureDoesNotMatch</Code></Error>")));
      ImageGenerationService service = service();
      ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("edit")
          .inputImage(InputImage.ofBytes(InputImage.Role.INIT, StubImages.png(32, 32, 1).bytes())).build();

      ProviderUnavailableException e = catchThrowableOfType(ProviderUnavailableException.class,
          () -> service.generateImage(req, "fal"));
      assertThat(e).hasMessageContaining("upload").hasMessageContaining("403");
      server.verify(0, postRequestedFor(urlPathEqualTo("/" + NANO)));

      server.stubFor(put(urlPathMatching("/upload/presigned/.*")).willReturn(aResponse().withStatus(200)));
      service.generateImage(req, "fal");
      server.verify(2, postRequestedFor(urlPathEqualTo("/storage/upload/initiate")));
    }

    @Test
    void textModelWithInputImagesIsNotCapableAndFailsOver() {
      ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("x").model("flux-schnell")
          .inputImage(InputImage.ofUrl(InputImage.Role.INIT, URI.create("https://example.com/a.png"))).build();
      ImageGenerationException e = catchThrowableOfType(ImageGenerationException.class,
          () -> service().generateImage(req, "fal"));
      assertThat(e.kind()).isEqualTo(ErrorKind.NO_CAPABLE_PROVIDER);
      assertThat(e.failoverMayHelp()).isTrue();
      assertThat(e).hasMessageContaining("nano-banana-pro/edit");
      server.verify(0, postRequestedFor(urlPathMatching("/.*")));
    }

    @Test
    void anUnknownModelIsNoCapableProviderBeforeAnythingIsSentWithFailoverOrNamed() {
      ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("x").model("flux-foo").build();

      assertThatThrownBy(() -> service().generateImageWithFailover(req))
          .isInstanceOf(dev.imagegen.NoCapableProviderException.class)
          .hasMessageContaining("fal: no model 'flux-foo' (known: ")
          .hasMessageContaining("flux-schnell");
      assertThatThrownBy(() -> service().generateImage(req, "fal"))
          .isInstanceOf(dev.imagegen.NoCapableProviderException.class).hasMessageContaining("fal: no model 'flux-foo'");
      server.verify(0, postRequestedFor(urlPathMatching("/.*")));
    }

    @Test
    void aPromptOverFalsLimitIsRefusedBeforeAnythingIsSent() {
      ImageGenerationRequest req = ImageGenerationRequest.builder().prompt("a".repeat(1 << 20)).build();

      InvalidRequestException named = catchThrowableOfType(InvalidRequestException.class,
          () -> service().generateImage(req, "fal"));
      assertThat(named.violations()).containsExactly("prompt is 1048576 characters; fal accepts at most 10000");
      ImageGenerationService two = ImageGenerationService.builder().provider(new FalProviderFactory(), config().build())
          .provider(shortPrompts(), ProviderConfig.builder("short").build()).build();
      services.add(two);
      assertThatThrownBy(() -> two.generateImageWithFailover(req)).isInstanceOf(dev.imagegen.NoCapableProviderException.class)
          .hasMessageContaining("fal: prompt is 1048576 characters; fal accepts at most 10000")
          .hasMessageContaining("short: prompt is 1048576 characters; short accepts at most 100");
      server.verify(0, postRequestedFor(urlPathMatching("/.*")));
    }

    /** A second provider that takes no long prompt either and is never called. */
    dev.imagegen.spi.ImageProvider shortPrompts() {
      return new dev.imagegen.spi.ImageProvider() {
        @Override public String id() { return "short"; }
        @Override public dev.imagegen.spi.ProviderCapabilities capabilities() {
          return dev.imagegen.spi.ProviderCapabilities.builder().maxPromptLength(100).build();
        }
        @Override public java.util.concurrent.CompletableFuture<dev.imagegen.spi.ProviderResult> generate(
            ImageGenerationRequest request, dev.imagegen.spi.GenerationContext context) {
          throw new AssertionError("never called");
        }
        @Override public java.util.concurrent.CompletableFuture<dev.imagegen.ProviderHealth> health(
            dev.imagegen.spi.ProviderContext context) {
          throw new AssertionError("never called");
        }
        @Override public dev.imagegen.spi.CostModel costModel() { return dev.imagegen.spi.CostModel.free(); }
      };
    }

    @Test
    void unknownNonFalModelIsNotCapable() {
      ImageGenerationException e = catchThrowableOfType(ImageGenerationException.class,
          () -> service().generateImage(ImageGenerationRequest.builder()
          .prompt("x").model("sdxl").build(), "fal"));
      assertThat(e).isInstanceOf(dev.imagegen.NoCapableProviderException.class).hasMessageContaining("no model 'sdxl'");
      assertThat(e.kind()).isEqualTo(ErrorKind.NO_CAPABLE_PROVIDER);
    }
  }

  // ------------------------------------------------------------------ errors

  @Nested
  class Errors {
    @Test
    void validationDetailListBecomesViolationsAndIsNotRetried() {
      server.stubFor(FalStubs.anySubmit().willReturn(FalStubs.json(422, "{\"detail\":[{\"loc\":[\"body\",\"prompt\"],"
          + "\"msg\":\"field required\",\"type\":\"value_error.missing\"},{\"loc\":[\"body\",\"num_images\"],\"msg\":"
          + "\"ensure this value is less than or equal to 4\",\"type\":\"value_error.number.not_le\",\"ctx\":{\"limit_value\":4},"
          + "\"url\":\"https://errors.pydantic.dev/2/v/less_than_equal\"}]}")));
      ImageGenerationService service = ImageGenerationService.builder().provider(new FalProviderFactory(), config().build())
          .maxRetries(2).retryBackoff(Duration.ofMillis(10), Duration.ofMillis(20)).build();
      services.add(service);

      InvalidRequestException e = catchThrowableOfType(InvalidRequestException.class,
          () -> service.generateImage(ImageGenerationRequest.of("x"), "fal"));

      assertThat(e.providerId()).isEqualTo("fal");
      assertThat(e.violations()).containsExactly("prompt: field required",
          "num_images: ensure this value is less than or equal to 4");
      assertThat(e).hasMessageContaining("prompt: field required; num_images: ensure this value is less than or equal to 4");
      server.verify(1, postRequestedFor(urlPathEqualTo("/fal-ai/flux/schnell")));
    }

    @Test
    void validationDetailAsString() {
      server.stubFor(FalStubs.anySubmit().willReturn(FalStubs.json(422, "{\"detail\":\"Image too large\"}")));
      InvalidRequestException e = catchThrowableOfType(InvalidRequestException.class,
          () -> service().generateImage(ImageGenerationRequest.of("x"), "fal"));
      assertThat(e.violations()).containsExactly("Image too large");
    }

    @Test
    void contentPolicyViolationIsAContentPolicyException() {
      server.stubFor(FalStubs.anySubmit().willReturn(FalStubs.json(422, "{\"detail\":[{\"loc\":[\"body\"],\"msg\":"
          + "\"The content could not be processed because it contained material flagged by a content checker.\","
          + "\"type\":\"content_policy_violation\"}]}")));
      assertThatThrownBy(() -> service().generateImage(ImageGenerationRequest.of("x"), "fal"))
          .isInstanceOf(ContentPolicyException.class).hasMessageContaining("content checker");
    }

    @Test
    void badKeyIsAnAuthenticationFailureWithoutTheKey() {
      stubs.authenticationRefused();
      AuthenticationException e = catchThrowableOfType(AuthenticationException.class,
          () -> service().generateImage(ImageGenerationRequest.of("x"), "fal"));
      assertThat(e).hasMessageContaining("No user found for Key ID and Secret");
      assertThat(e.getMessage()).doesNotContain("fal-key-secret-9f8e7d").doesNotContain("fal-key-id-0042");
      assertThat(e.failoverMayHelp()).isTrue();
    }

    @Test
    void exhaustedBalanceIsOutOfCredit() {
      stubs.outOfCredits();
      assertThatThrownBy(() -> service().generateImage(ImageGenerationRequest.of("x"), "fal"))
          .isInstanceOf(InsufficientCreditsException.class).hasMessageContaining("Exhausted balance");
    }

    @Test
    void rateLimitCarriesRetryAfter() {
      stubs.rateLimited(Duration.ofSeconds(120));
      RateLimitedException e = catchThrowableOfType(RateLimitedException.class,
          () -> service().generateImage(ImageGenerationRequest.of("x"), "fal"));
      assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(120));
    }

    @Test
    void completedWithErrorThenResultGet422IsInvalidRequest() {
      stubs.stubSubmit(FalStubs.FLUX_ROOT, ID);
      stubs.stubStatus(FalStubs.FLUX_ROOT, ID, stubs.completedWithError(FalStubs.FLUX_ROOT, ID, "Validation error",
          "validation_error"));
      stubs.stubResult(FalStubs.FLUX_ROOT, ID, 422, "{\"detail\":[{\"loc\":[\"body\",\"image_size\"],\"msg\":"
          + "\"width must be a multiple of 8\",\"type\":\"value_error\"}]}");

      InvalidRequestException e = catchThrowableOfType(InvalidRequestException.class,
          () -> service().generateImage(ImageGenerationRequest.of("x"), "fal"));
      assertThat(e.violations()).containsExactly("image_size: width must be a multiple of 8");
      server.verify(1, getRequestedFor(urlPathEqualTo("/fal-ai/flux/requests/" + ID)));
      server.verify(1, postRequestedFor(urlPathEqualTo("/fal-ai/flux/schnell")));
    }

    @Test
    void runnerFailureIsTransientAndNeverAStatusWait() {
      stubs.stubSubmit(FalStubs.FLUX_ROOT, ID);
      stubs.stubStatus(FalStubs.FLUX_ROOT, ID, stubs.completedWithError(FalStubs.FLUX_ROOT, ID, "Runner disconnected",
          "runner_disconnected"));
      server.stubFor(get(urlPathEqualTo("/fal-ai/flux/requests/" + ID)).willReturn(FalStubs.json(503,
          "{\"detail\":\"Runner disconnected\",\"error_type\":\"runner_disconnected\"}").withHeader("X-Fal-Error-Type",
          "runner_disconnected")));

      ProviderUnavailableException e = catchThrowableOfType(ProviderUnavailableException.class,
          () -> service().generateImage(ImageGenerationRequest.of("x"),
          "fal"));
      assertThat(e).hasMessageContaining("runner_disconnected");
      assertThat(e.retryMayHelp()).isTrue();
      assertThat(e.outcomeUnknown()).isFalse();
      server.verify(1, getRequestedFor(urlPathEqualTo("/fal-ai/flux/requests/" + ID)));
    }

    @Test
    void userTimeout504ToTheSubmitIsAnUnknownOutcomeNeitherRetriedNorFailedOverByDefault() {
      server.stubFor(FalStubs.anySubmit().willReturn(FalStubs.json(504, "{\"detail\":\"Request timed out\","
          + "\"error_type\":\"request_timeout\"}").withHeader("X-Fal-Request-Timeout-Type", "user")));
      ProviderUnavailableException e = catchThrowableOfType(ProviderUnavailableException.class,
          () -> service().generateImage(ImageGenerationRequest.of("x"),
          "fal"));
      assertThat(e.retryMayHelp()).isFalse();
      assertThat(e.outcomeUnknown()).isTrue();
      assertThat(e.failoverMayHelp()).as("failover may pay twice: only with failoverOnUnknownOutcome").isFalse();
    }

    @Test
    void submitWithoutRequestIdIsAnUnknownOutcome() {
      server.stubFor(FalStubs.anySubmit().willReturn(FalStubs.json(200, "{\"status\":\"IN_QUEUE\"}")));
      ProviderUnavailableException e = catchThrowableOfType(ProviderUnavailableException.class,
          () -> service().generateImage(ImageGenerationRequest.of("x"),
          "fal"));
      assertThat(e.outcomeUnknown()).isTrue();
      server.verify(1, postRequestedFor(urlPathEqualTo("/fal-ai/flux/schnell")));
    }
  }

  // ------------------------------------------------------------------ cancel

  @Nested
  class Cancel {
    @Test
    void cancelPutsToTheCancelUrlWithTheKey() throws Exception {
      stubs.stubSubmit(NANO, NANO_ROOT, ID);
      stubs.stubStatus(NANO_ROOT, ID, stubs.inQueue(NANO_ROOT, ID, 4));
      stubs.stubCancel(NANO_ROOT, ID);
      ProviderConfig config = config().build();
      ImageProvider provider = new FalProviderFactory().create(config);
      try (KitContext ctx = KitContext.of(provider, config)) {
        CompletableFuture<ProviderResult> result = provider.generate(ImageGenerationRequest.builder().prompt("x").model(NANO)
            .inputImage(InputImage.ofUrl(InputImage.Role.INIT, URI.create("https://example.com/p.png"))).build(), ctx);
        Supplier<CompletableFuture<?>> cancel = ctx.remoteCancel().get(5, TimeUnit.SECONDS);
        assertThat(ctx.remoteJobId()).isEqualTo(ID);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (ctx.events().stream().noneMatch(e -> Integer.valueOf(4).equals(e.queuePosition())) && System.nanoTime() < until) {
          Thread.sleep(20);
        }

        assertThat(cancel.get().get(5, TimeUnit.SECONDS)).isEqualTo("CANCELLATION_REQUESTED");
        ctx.cancel();

        assertThatThrownBy(() -> result.get(5, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
            .hasCauseInstanceOf(GenerationCancelledException.class);
        List<LoggedRequest> cancels = server.findAll(putRequestedFor(urlPathEqualTo("/" + NANO_ROOT + "/requests/" + ID
            + "/cancel")));
        assertThat(cancels).hasSize(1);
        assertThat(cancels.get(0).getHeader("Authorization")).isEqualTo("Key " + KEY);
        assertThat(ctx.events()).anyMatch(e -> Integer.valueOf(4).equals(e.queuePosition()));
      }
    }

    @Test
    void alreadyCompletedCancelIsNotAFailure() throws Exception {
      stubs.stubSubmit(FalStubs.FLUX_ROOT, ID);
      stubs.stubStatus(FalStubs.FLUX_ROOT, ID, stubs.inQueue(FalStubs.FLUX_ROOT, ID, 1));
      server.stubFor(put(urlPathEqualTo("/fal-ai/flux/requests/" + ID + "/cancel"))
          .willReturn(FalStubs.json(400, "{\"status\":\"ALREADY_COMPLETED\"}")));
      ProviderConfig config = config().build();
      ImageProvider provider = new FalProviderFactory().create(config);
      try (KitContext ctx = KitContext.of(provider, config)) {
        provider.generate(ImageGenerationRequest.of("x"), ctx);
        assertThat(ctx.remoteCancel().get(5, TimeUnit.SECONDS).get().get(5, TimeUnit.SECONDS)).isEqualTo("ALREADY_COMPLETED");
      }
    }

    @Test
    void callerCancelReachesFal() throws Exception {
      stubs.neverFinishes();
      GenerationJob job = service().submit(ImageGenerationRequest.of("x"));
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (server.findAll(stubs.pollRequests()).isEmpty() && System.nanoTime() < until) {
        Thread.sleep(20);
      }
      job.cancel();
      until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
      while (server.findAll(stubs.cancelRequests()).isEmpty() && System.nanoTime() < until) {
        Thread.sleep(20);
      }
      server.verify(1, putRequestedFor(urlPathEqualTo("/fal-ai/flux/requests/" + ID + "/cancel")));
      server.verify(1, postRequestedFor(urlPathEqualTo("/fal-ai/flux/schnell")));
    }
  }

  // ------------------------------------------------------------------ prices, health, factory

  @Nested
  class PricesAndConfig {
    ImageProvider provider(ProviderConfig config) {
      return new FalProviderFactory().create(config);
    }

    @Test
    void fluxIsBilledPerMegapixelRoundedUp() {
      ImageProvider p = provider(config().build());
      assertThat(p.costModel().estimate(ImageGenerationRequest.of("x")).amount()).isEqualByComparingTo("0.003"); // 1024x768
      assertThat(p.costModel().estimate(ImageGenerationRequest.builder().prompt("x").size(1024, 1024).numImages(2).build())
          .amount()).isEqualByComparingTo("0.012"); // 1.05 MP -> 2 MP, twice
      assertThat(p.costModel().estimate(ImageGenerationRequest.builder().prompt("x")
          .providerOption("fal", "image_size", "square").build()).amount()).isEqualByComparingTo("0.003");
    }

    @Test
    void actualCostUsesTheImagesReturned() {
      ImageProvider p = provider(config().build());
      ProviderResult r = ProviderResult.builder("fal-ai/flux/schnell")
          .image(dev.imagegen.GeneratedImage.of(StubImages.webp(1024, 1024, 1, 64).bytes(), 1L, null, false)).build();
      assertThat(p.costModel().actual(ImageGenerationRequest.builder().prompt("x").numImages(2).build(), r).amount())
          .isEqualByComparingTo("0.006");
    }

    @Test
    void nanoBananaIsBilledPerImageWithResolution() {
      ImageProvider p = provider(config().build());
      ImageGenerationRequest.Builder edit = ImageGenerationRequest.builder().prompt("x").model(NANO)
          .inputImage(InputImage.ofUrl(InputImage.Role.INIT, URI.create("https://example.com/a.png")));
      assertThat(p.costModel().estimate(edit.build()).amount()).isEqualByComparingTo("0.15");
      assertThat(p.costModel().estimate(edit.size(4096, 4096).build()).amount()).isEqualByComparingTo("0.30");
      assertThat(p.costModel().estimate(ImageGenerationRequest.builder().prompt("x").model("fal-ai/nano-banana-2/edit")
          .size(2048, 2048).numImages(2).build()).amount()).isEqualByComparingTo("0.24");
    }

    @Test
    void unknownModelHasUnknownCostUnlessPriced() {
      ImageGenerationRequest dev = ImageGenerationRequest.builder().prompt("x").model("fal-ai/flux/dev").build();
      assertThat(provider(config().build()).costModel().estimate(dev).isKnown()).isFalse();
      assertThat(provider(config().set("price.fal-ai/flux/dev", "0.025/megapixel").build()).costModel().estimate(dev)
          .amount()).isEqualByComparingTo("0.025");
      // as an environment variable: IMAGEGEN_FAL_PRICE_FAL_AI_FLUX_DEV -> price-fal-ai-flux-dev
      assertThat(provider(config().set("price-fal-ai-flux-dev", "0.03").build()).costModel().estimate(dev)
          .amount()).isEqualByComparingTo("0.03");
    }

    @Test
    void operatorOverridesTheTable() {
      ImageProvider p = provider(config().set("price.fal-ai/flux/schnell", "0.004").set("price.nano-banana-pro/edit",
          "0.2/image").build());
      assertThat(p.costModel().estimate(ImageGenerationRequest.of("x")).amount()).isEqualByComparingTo("0.004");
      assertThat(p.costModel().estimate(ImageGenerationRequest.builder().prompt("x").model(NANO).build()).amount())
          .isEqualByComparingTo("0.2");
      assertThat(provider(config().set("price-per-image", "0.05").build()).costModel()
          .estimate(ImageGenerationRequest.of("x")).amount()).isEqualByComparingTo("0.05");
      assertThatThrownBy(() -> provider(config().set("price.fal-ai/flux/schnell", "cheap").build()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("price.fal-ai/flux/schnell")
          .hasMessageContaining("cheap");
    }

    @Test
    void serviceReportsTheEstimate() {
      Cost c = service().estimateCost(ImageGenerationRequest.builder().prompt("x").size(512, 512).build());
      assertThat(c.amount()).isEqualByComparingTo("0.003");
      assertThat(c.source()).isEqualTo(Cost.Source.ESTIMATED);
    }

    @Test
    void serviceKeepsOneKeySchemeOverFlatPrices() {
      ImageGenerationService s = service(config().set("price-per-image", "0.05").set("price.fal-ai/flux/schnell", "0.004")
          .build());
      // price.<model> wins over price-per-image, which prices every other model (the table is not replaced wholesale)
      assertThat(s.estimateCost(ImageGenerationRequest.of("x")).amount()).isEqualByComparingTo("0.004");
      assertThat(s.estimateCost(ImageGenerationRequest.builder().prompt("x").model("fal-ai/flux/dev").build()).amount())
          .isEqualByComparingTo("0.05");
    }

    @Test
    void keyFromFalKeyOrKeyIdAndSecret() {
      FalProviderFactory f = new FalProviderFactory();
      assertThat(f.customaryEnvironment()).containsEntry("api-key", List.of("FAL_KEY"));
      ProviderConfig fromPair = ProviderConfig.from("fal", Map.of("FAL_KEY_ID", "id-123", "FAL_KEY_SECRET", "sec-456"),
          new Properties(), f.customaryEnvironment());
      assertThat(f.isConfigured(fromPair)).isTrue();
      assertThat(f.isConfigured(ProviderConfig.from("fal", Map.of("FAL_KEY_ID", "id-123"), new Properties(),
          f.customaryEnvironment()))).isFalse();
      assertThat(fromPair.toString()).doesNotContain("sec-456");

      stubs.healthy();
      ProviderConfig config = ProviderConfig.builder("fal").baseUrl(server.baseUrl()).set("key-id", "id-123")
          .set("key-secret", "sec-456").build();
      ProviderHealth h = service(config).testConnection("fal");
      assertThat(h.state()).isEqualTo(ProviderHealth.State.UP);
      assertThat(server.findAll(getRequestedFor(urlPathMatching("/.*"))).get(0).getHeader("Authorization"))
          .isEqualTo("Key id-123:sec-456");
    }

    @Test
    void healthReportsARefusedKey() {
      stubs.healthAuthRefused();
      ProviderHealth h = service().testConnection("fal");
      assertThat(h.state()).isEqualTo(ProviderHealth.State.AUTH_FAILED);
      assertThat(h.message()).doesNotContain("fal-key-secret-9f8e7d");
    }

    @Test
    void storageFollowsACustomBaseUrlUnlessSet() {
      URI custom = URI.create("http://localhost:9999/fal");
      assertThat(FalProvider.storageUrl(ProviderConfig.builder("fal").build(), URI.create(FalProvider.DEFAULT_BASE_URL)))
          .hasToString("https://rest.fal.ai");
      assertThat(FalProvider.storageUrl(ProviderConfig.builder("fal").build(), custom)).isEqualTo(custom);
      assertThat(FalProvider.storageUrl(ProviderConfig.builder("fal").set("storage-url", "http://s:1/").build(), custom))
          .hasToString("http://s:1");
    }

    @Test
    void modelsListEachFalModelOnceWithItsAliasesAndADescription() {
      List<ModelInfo> models = provider(config().build()).models();
      assertThat(models).extracting(ModelInfo::id).doesNotHaveDuplicates()
          .containsExactly(FalModels.FLUX_SCHNELL, FalModels.NANO_BANANA_PRO_EDIT, FalModels.NANO_BANANA_EDIT,
              FalModels.NANO_BANANA_2_EDIT);
      assertThat(models).allSatisfy(m -> {
        assertThat(m.provider()).isEqualTo("fal");
        assertThat(m.description()).isNotBlank();
      });
      ModelInfo flux = models.get(0);
      assertThat(flux.aliases()).containsExactly("flux-schnell", "flux/schnell");
      assertThat(flux.description()).contains("$0.003 per megapixel");
      assertThat(models.get(1).aliases()).containsExactly("nano-banana-pro/edit");
      assertThat(models.get(1).description()).contains("$0.15 per image");
      // every name the provider accepts by name is a model or an alias of one
      List<String> named = models.stream().flatMap(m -> java.util.stream.Stream.concat(java.util.stream.Stream.of(m.id()),
          m.aliases().stream())).toList();
      assertThat(named).containsAll(provider(config().build()).capabilities().models());
    }

    @Test
    void aConfiguredDefaultModelOutsideTheListIsListedToo() {
      List<ModelInfo> models = provider(config().set("model", "fal-ai/flux-pro/v1.1").build()).models();
      assertThat(models).extracting(ModelInfo::id).doesNotHaveDuplicates().contains("fal-ai/flux-pro/v1.1");
      assertThat(models).filteredOn(m -> m.id().equals("fal-ai/flux-pro/v1.1")).singleElement()
          .satisfies(m -> assertThat(m.description()).contains("model"));
    }

    @Test
    void capabilitiesClaimEditing() {
      var caps = provider(config().build()).capabilities();
      assertThat(caps.img2img()).isTrue();
      assertThat(caps.maxReferenceImages()).isEqualTo(4);
      assertThat(caps.mask()).isFalse();
      assertThat(caps.negativePrompt()).isFalse();
      assertThat(caps.cancellable()).isTrue();
      assertThat(caps.models()).contains("flux-schnell", NANO);
      assertThat(new FalProviderFactory().id()).isEqualTo("fal");
      assertThat(java.util.ServiceLoader.load(dev.imagegen.spi.ImageProviderFactory.class).stream()
          .anyMatch(p -> p.type() == FalProviderFactory.class)).isTrue();
    }
  }
}
