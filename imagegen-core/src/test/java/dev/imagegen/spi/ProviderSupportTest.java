package dev.imagegen.spi;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.Fault;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderHealth.State;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.testing.TestImages;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The shared support a provider is built on: what each provider used to write again. */
class ProviderSupportTest {
  private static final String KEY = "sk-health-SECRET-42";
  private static WireMockServer server;
  private TestContext ctx;

  @BeforeAll
  static void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  @BeforeEach
  void reset() {
    server.resetAll();
    ctx = new TestContext(ProviderConfig.builder("acme").apiKey(KEY).baseUrl(server.baseUrl()).build());
  }

  private HttpRequest probe() {
    return ctx.http().request(URI.create(server.baseUrl() + "/account")).GET().build();
  }

  private ProviderHealth check() {
    return HealthCheck.get(ctx, probe(), (r, latency) -> ProviderHealth.of("acme", State.UP, latency, "ok " + r.status()))
        .join();
  }

  @Test
  void healthIsUpOnTwoHundredAndAuthFailedOnARefusedKeyWithTheKeyScrubbed() {
    server.stubFor(get("/account").willReturn(aResponse().withStatus(200).withBody("{}")));
    assertThat(check().state()).isEqualTo(State.UP);
    assertThat(check().message()).isEqualTo("ok 200");

    server.stubFor(get("/account").willReturn(aResponse().withStatus(401)
        .withBody("{\"detail\":\"token " + KEY + " is not valid\"}")));
    ProviderHealth refused = check();
    assertThat(refused.state()).isEqualTo(State.AUTH_FAILED);
    assertThat(refused.message()).contains("not valid").doesNotContain(KEY);
    assertThat(refused.provider()).isEqualTo("acme");
  }

  @Test
  void healthIsDegradedWhenRateLimitedAndDownOnServerErrorsDroppedConnectionsAndThrowingMappers() {
    server.stubFor(get("/account").willReturn(aResponse().withStatus(429).withHeader("Retry-After", "3")));
    assertThat(check().state()).isEqualTo(State.DEGRADED);
    server.stubFor(get("/account").willReturn(aResponse().withStatus(503).withBody("maintenance")));
    assertThat(check().state()).isEqualTo(State.DOWN);
    assertThat(check().message()).contains("503");
    server.stubFor(get("/account").willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
    assertThat(check().state()).isEqualTo(State.DOWN);

    server.stubFor(get("/account").willReturn(aResponse().withStatus(200).withBody("{}")));
    ProviderHealth thrown = HealthCheck.get(ctx, probe(), (r, latency) -> {
      throw new IllegalStateException("unreadable answer with " + KEY);
    }).join();
    assertThat(thrown.state()).isEqualTo(State.DOWN);
    assertThat(thrown.message()).contains("unreadable answer").doesNotContain(KEY);
  }

  @Test
  void aProbeThatThrowsBeforeSendingIsDownNotAnException() {
    ProviderHealth h = HealthCheck.timed(ctx, () -> {
      throw new IllegalArgumentException("bad URL");
    }, (v, latency) -> ProviderHealth.up("acme", latency)).join();
    assertThat(h.state()).isEqualTo(State.DOWN);
    assertThat(h.message()).contains("bad URL");
  }

  @Test
  void requireApiKeyNamesWhereToSetItAndBlankCountsAsUnset() {
    assertThat(ProviderConfig.builder("acme").apiKey(" k ").build().requireApiKey().reveal()).isEqualTo("k");
    assertThatThrownBy(() -> ProviderConfig.builder("my-acme").set("api-key", "  ").build().requireApiKey())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("my-acme")
        .hasMessageContaining("imagegen.my-acme.api-key")
        .hasMessageContaining("IMAGEGEN_MY_ACME_API_KEY");
  }

  @Test
  void typedGettersReportTheKeyTheValueAndWhatIsAllowed() {
    ProviderConfig c = ProviderConfig.builder("acme").set("mode", "FAST").set("workers", "99").set("model-sdxl", "a/b")
        .set("model.flux", "c/d").build();
    assertThat(c.choice("mode", "slow", "slow", "fast")).isEqualTo("fast");
    assertThat(c.string("missing", "dflt")).isEqualTo("dflt");
    assertThatThrownBy(() -> c.choice("mode", "slow", "slow", "careful")).hasMessageContaining("'mode'")
        .hasMessageContaining("slow, careful").hasMessageContaining("FAST");
    assertThatThrownBy(() -> c.intValue("workers", 1, 1, 16)).hasMessageContaining("'workers'")
        .hasMessageContaining("1 to 16").hasMessageContaining("99");
    assertThat(c.withPrefix("model")).containsEntry("sdxl", "a/b").containsEntry("flux", "c/d").hasSize(2);
  }

  @Test
  void clipFoldsWhiteSpaceAndCutsLongText() {
    assertThat(ProviderSupport.clip(" a \n\t b ")).isEqualTo("a b");
    assertThat(ProviderSupport.clip(null)).isEmpty();
    String longText = "x".repeat(ProviderSupport.MAX_TEXT + 10);
    assertThat(ProviderSupport.clip(longText)).hasSize(ProviderSupport.MAX_TEXT + 3).endsWith("...");
  }

  @Test
  void failureUnwrapsFutureWrappersAndNamesTheProviderForForeignExceptions() {
    ProviderUnavailableException own = ProviderUnavailableException.failOver("down", "acme", null);
    assertThat(ProviderSupport.failure("acme", new CompletionException(new ExecutionException(own)))).isSameAs(own);
    ImageGenerationException foreign = ProviderSupport.failure("acme", new CompletionException(new ArithmeticException("/ 0")));
    assertThat(foreign).isInstanceOf(ProviderUnavailableException.class);
    assertThat(foreign.providerId()).isEqualTo("acme");
    assertThat(foreign.getMessage()).contains("ArithmeticException").contains("/ 0");
    assertThat(foreign.getCause()).isInstanceOf(ArithmeticException.class);
  }

  @Test
  void nearestAspectRatioComparesRatiosNotDifferences() {
    List<String> ratios = List.of("1:1", "16:9", "9:16", "4:3", "21:9");
    assertThat(ProviderSupport.nearestAspectRatio(1920, 1080, ratios)).isEqualTo("16:9");
    assertThat(ProviderSupport.nearestAspectRatio(1080, 1920, ratios)).isEqualTo("9:16");
    assertThat(ProviderSupport.nearestAspectRatio(1000, 1000, ratios)).isEqualTo("1:1");
    assertThat(ProviderSupport.nearestAspectRatio(2560, 1080, ratios)).isEqualTo("21:9");
    assertThatThrownBy(() -> ProviderSupport.nearestAspectRatio(1, 1, List.of())).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void onlyUrlsUnderTheBaseAreTrustedWithCredentials() {
    URI base = URI.create("https://api.acme.example/v1");
    assertThat(ProviderSupport.underBase("https://api.acme.example/v1/jobs/1", base)).isNotNull();
    assertThat(ProviderSupport.underBase("https://API.ACME.example:443/v1/jobs/1", base)).isNotNull();
    assertThat(ProviderSupport.underBase("https://api.acme.example/v10/jobs", base)).isNull();
    assertThat(ProviderSupport.underBase("https://api.acme.example:8443/v1/jobs", base)).isNull();
    assertThat(ProviderSupport.underBase("http://api.acme.example/v1/jobs", base)).isNull();
    assertThat(ProviderSupport.underBase("https://evil.example/v1/jobs", base)).isNull();
    assertThat(ProviderSupport.underBase("https://api.acme.example.evil.example/v1/jobs", base)).isNull();
    assertThat(ProviderSupport.underBase("ftp://api.acme.example/v1/jobs", base)).isNull();
    assertThat(ProviderSupport.underBase("not a url", base)).isNull();
    assertThat(ProviderSupport.underBase(null, base)).isNull();
  }

  @Test
  void downloadingSeveralImagesKeepsTheirOrderAndNamesAMissingOne() {
    byte[] a = TestImages.png(8, 8);
    byte[] b = TestImages.png(16, 16);
    server.stubFor(get("/a.png").willReturn(aResponse().withBody(a).withFixedDelay(150)));
    server.stubFor(get("/b.png").willReturn(aResponse().withBody(b)));
    ImageDownloader.Downloaded d = ctx.downloader().all(List.of(server.baseUrl() + "/a.png", server.baseUrl() + "/b.png"), 7L)
        .join();
    assertThat(d.images()).extracting(GeneratedImage::width).containsExactly(8, 16);
    assertThat(d.images()).allMatch(i -> Long.valueOf(7).equals(i.seed()));
    assertThat(d.took()).isGreaterThanOrEqualTo(Duration.ofMillis(150));
    assertThat(Arrays.equals(d.images().get(1).bytes(), b)).isTrue();

    assertThatThrownBy(() -> ctx.downloader().allOf(List.of(new ImageDownloader.Source(server.baseUrl() + "/a.png", null, false),
        new ImageDownloader.Source(" ", null, false))).join())
        .hasCauseInstanceOf(ProviderUnavailableException.class).hasMessageContaining("result image 2 of 2");
  }

  @Test
  void anInputImageIsGivenReadOrFetchedWithoutTheKeyAndAnUnreadableFileIsAnInvalidRequest() {
    byte[] init = TestImages.png(8, 8);
    assertThat(ctx.downloader().input(dev.imagegen.InputImage.ofBytes(dev.imagegen.InputImage.Role.INIT, init)).join())
        .isEqualTo(init);
    server.stubFor(get("/ref.png").willReturn(aResponse().withBody(init)));
    dev.imagegen.InputImage byUrl = dev.imagegen.InputImage.ofUrl(dev.imagegen.InputImage.Role.REFERENCE,
        URI.create(server.baseUrl() + "/ref.png"));
    assertThat(ctx.downloader().inputBase64(byUrl).join()).isEqualTo(java.util.Base64.getEncoder().encodeToString(init));
    assertThat(server.findAll(com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor(
        com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo("/ref.png")))).singleElement()
        .satisfies(r -> assertThat(r.containsHeader("Authorization")).isFalse());
    assertThat(ctx.downloader().inputBase64(null).join()).isNull();

    dev.imagegen.InputImage missing = dev.imagegen.InputImage.ofPath(dev.imagegen.InputImage.Role.MASK,
        java.nio.file.Path.of("/nonexistent/mask.png"));
    assertThatThrownBy(() -> ctx.downloader().input(missing).join()).hasCauseInstanceOf(InvalidRequestException.class)
        .hasMessageContaining("acme").hasMessageContaining("mask image");
  }

  @Test
  void pollPolicyByNameDefaultsTheFirstDelayAndTheLargestIntervalToTheInterval() {
    PollPolicy p = PollPolicy.builder().interval(Duration.ofSeconds(3)).floor(Duration.ofMillis(500)).build();
    assertThat(p.initialDelay()).isEqualTo(Duration.ofSeconds(3));
    assertThat(p.maxInterval()).isEqualTo(Duration.ofSeconds(3));
    assertThat(p.multiplier()).isEqualTo(1.0);
    assertThat(p.maxConsecutiveErrors()).isEqualTo(8);
    PollPolicy growing = PollPolicy.builder().initialDelay(Duration.ofMillis(200)).interval(Duration.ofSeconds(1))
        .maxInterval(Duration.ofSeconds(10)).multiplier(1.5).maxConsecutiveErrors(3).build();
    assertThat(growing).isEqualTo(new PollPolicy(Duration.ofMillis(200), Duration.ofSeconds(1), Duration.ofSeconds(10), 1.5,
        Duration.ofSeconds(1), 3));
    assertThatThrownBy(() -> PollPolicy.builder().multiplier(0.5).build()).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void providerUnavailableBuilderSetsEachPropertyByName() {
    ProviderUnavailableException e = ProviderUnavailableException.builder("gone", "acme").retryable(true)
        .retryAfter(Duration.ofSeconds(9)).build();
    assertThat(e.retryMayHelp()).isTrue();
    assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(9));
    assertThat(e.outcomeUnknown()).isFalse();
    ProviderUnavailableException unknown = ProviderUnavailableException.builder("lost", "acme").retryable(true)
        .outcomeUnknown(true).failoverAllowed(false).build();
    assertThat(unknown.retryMayHelp()).as("an unknown outcome is never retried blindly").isFalse();
    assertThat(unknown.failoverMayHelp()).isFalse();
    assertThat(ProviderUnavailableException.builder("aborted", "acme").notBilled().build().notBilled()).isTrue();
  }

  @Test
  void boundedNumbersDurationsAndUrlsNameTheKeyAndTheBounds() {
    ProviderConfig c = ProviderConfig.builder("acme").set("max-bytes", "5000000000").set("wait", "2m").set("hub-url", "ftp://x")
        .set("other-url", "https://hub.example/api/").build();
    assertThat(c.longValue("max-bytes", 1, 1, Long.MAX_VALUE)).isEqualTo(5_000_000_000L);
    assertThatThrownBy(() -> c.longValue("max-bytes", 1, 1, 1000)).hasMessageContaining("'max-bytes'")
        .hasMessageContaining("1 to 1000").hasMessageContaining("5000000000");
    assertThatThrownBy(() -> ProviderConfig.builder("acme").set("n", "many").build().longValue("n", 1, 1, 9))
        .hasMessageContaining("'n'").hasMessageContaining("many");
    assertThat(c.duration("wait", Duration.ofSeconds(1), Duration.ZERO, Duration.ofMinutes(5))).isEqualTo(Duration.ofMinutes(2));
    assertThatThrownBy(() -> c.duration("wait", Duration.ofSeconds(1), Duration.ZERO, Duration.ofSeconds(30)))
        .hasMessageContaining("'wait'").hasMessageContaining("30s").hasMessageContaining("2m");
    assertThatThrownBy(() -> c.url("hub-url", "https://h.example")).hasMessageContaining("'hub-url'").hasMessageContaining("ftp://x");
    assertThat(c.url("other-url", "https://h.example")).hasToString("https://hub.example/api");
    assertThat(c.url("unset-url", "https://h.example/")).hasToString("https://h.example");
  }

  @Test
  void providerOptionsMergeDeeplyAndANullRemovesAField() throws Exception {
    ObjectMapper m = ctx.json();
    ObjectNode body = (ObjectNode) m.readTree(
        "{\"prompt\":\"a\",\"params\":{\"steps\":20,\"sampler\":\"euler\"},\"seed\":1}");
    Map<String, Object> options = new LinkedHashMap<>();
    options.put("params", Map.of("steps", 30, "cfg", 7));
    options.put("seed", null);
    options.put("extra", List.of(1, 2));
    ProviderSupport.mergeOptions(body, options, m);
    assertThat(body.toString()).isEqualTo("{\"prompt\":\"a\",\"params\":{\"steps\":30,\"sampler\":\"euler\",\"cfg\":7},"
        + "\"extra\":[1,2]}");
  }

  @Test
  void anHttpProviderThatDeclaredNothingSaysSoInsteadOfReturningNull() {
    HttpImageProvider undeclared = new HttpImageProvider(ProviderConfig.builder("acme").build(), "https://acme.example") {
      @Override
      public CompletableFuture<ProviderResult> generate(ImageGenerationRequest r, GenerationContext c) {
        return new CompletableFuture<>();
      }

      @Override
      public CompletableFuture<ProviderHealth> health(ProviderContext c) {
        return new CompletableFuture<>();
      }
    };
    assertThatThrownBy(undeclared::capabilities).isInstanceOf(IllegalStateException.class).hasMessageContaining("declare(");
    assertThatThrownBy(undeclared::costModel).isInstanceOf(IllegalStateException.class).hasMessageContaining("declare(");
    assertThat(undeclared.url("/v1/jobs")).hasToString("https://acme.example/v1/jobs");
    HttpImageProvider withUserInfo = new HttpImageProvider(ProviderConfig.builder("acme")
        .baseUrl("https://admin:s3cret-pass@webui.example:7860").build(), "https://acme.example") {
      @Override
      public CompletableFuture<ProviderResult> generate(ImageGenerationRequest r, GenerationContext c) {
        return new CompletableFuture<>();
      }

      @Override
      public CompletableFuture<ProviderHealth> health(ProviderContext c) {
        return new CompletableFuture<>();
      }
    };
    assertThat(withUserInfo.toString()).doesNotContain("s3cret-pass").doesNotContain("admin").contains(Redactor.MASK + "@webui.example:7860");
  }
}
