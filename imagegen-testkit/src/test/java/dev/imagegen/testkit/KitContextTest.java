package dev.imagegen.testkit;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.imagegen.AuthenticationException;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ProgressEvent;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testkit.ProviderStubs.StubImage;
import dev.imagegen.testkit.example.AcmeProviderFactory;
import dev.imagegen.testkit.example.AcmeStubs;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class KitContextTest {
  private static final String KEY = "kit-context-SECRET-0123";
  private static WireMockServer server;

  @BeforeAll
  static void start() {
    server = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    server.start();
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  @BeforeEach
  void reset() {
    server.resetAll();
  }

  private static ProviderConfig config(String id, String basePath) {
    return ProviderConfig.builder(id).baseUrl(server.baseUrl() + basePath).apiKey(KEY).set("poll-interval", "50ms").build();
  }

  @Test
  void drivesAProviderWithoutTheServiceAndRecordsItsProgressAndRemoteJob() throws Exception {
    AcmeStubs stubs = new AcmeStubs(server);
    ProviderConfig config = config("acme", stubs.basePath());
    ImageProvider provider = new AcmeProviderFactory().create(config);
    StubImage image = StubImages.png(64, 64, 7);
    stubs.queuedThenRunningThenDone(image);
    List<ProgressEvent> seen = new CopyOnWriteArrayList<>();
    try (KitContext ctx = KitContext.of(provider, config).onProgress(seen::add)) {
      ProviderResult r = provider.generate(ImageGenerationRequest.builder().prompt("fox").size(64, 64).build(), ctx)
          .get(20, TimeUnit.SECONDS);
      assertThat(r.images().get(0).bytes()).isEqualTo(image.bytes());
      assertThat(ctx.events()).isNotEmpty().isEqualTo(seen);
      assertThat(ctx.remoteJobId()).isNotBlank();
      assertThat(ctx.remoteCancel()).isDone();
    }
  }

  @Test
  void theProvidersErrorMappingAndTheDefaultsApply() {
    server.stubFor(get("/me").willReturn(aResponse().withStatus(401).withBody("{\"error\":\"bad key " + KEY + "\"}")));
    try (KitContext ctx = KitContext.of(config("plain", ""))) {
      Throwable t = catchThrowable(() -> ctx.http().json(ctx.http().request(ProviderHttp.join(ctx.config().baseUrl("x"), "/me"))
          .GET().build()).get(5, TimeUnit.SECONDS));
      assertThat(t).isInstanceOf(ExecutionException.class).cause().isInstanceOf(AuthenticationException.class)
          .hasMessageContaining("plain").hasMessageNotContaining(KEY);
    }
  }

  @Test
  void downloadsInlineImagesWithTheRealDownloader() throws Exception {
    StubImage image = StubImages.png(32, 32, 3);
    try (KitContext ctx = KitContext.of(config("plain", ""))) {
      GeneratedImage got = ctx.downloader().image(image.base64(), 3L, false).get(5, TimeUnit.SECONDS);
      assertThat(got.bytes()).isEqualTo(image.bytes());
      assertThat(got.seed()).isEqualTo(3L);
      assertThat(got.width()).isEqualTo(32);
    }
  }

  @Test
  void deadlineCancellationAndRemoteCancel() {
    try (KitContext ctx = KitContext.of(config("plain", ""))) {
      assertThat(ctx.deadline()).isAfter(Instant.now().plusSeconds(20));
      ctx.deadline(Duration.ofSeconds(2));
      assertThat(ctx.remaining()).isLessThanOrEqualTo(Duration.ofSeconds(2)).isPositive();

      AtomicInteger hooks = new AtomicInteger();
      AtomicInteger remoteCancels = new AtomicInteger();
      ctx.onCancel(hooks::incrementAndGet);
      ctx.cancelRemoteJob(); // nothing registered yet: nothing happens
      ctx.remoteJobStarted("job-1", () -> {
        remoteCancels.incrementAndGet();
        return CompletableFuture.completedFuture(null);
      });
      ctx.cancelRemoteJob();
      assertThat(remoteCancels).hasValue(1);
      assertThat(ctx.isCancelled()).isFalse();
      ctx.cancel();
      assertThat(ctx.isCancelled()).isTrue();
      assertThat(hooks).hasValue(1);
      ctx.onCancel(hooks::incrementAndGet); // after cancel: runs at once
      assertThat(hooks).hasValue(2);
    }
  }

  @Test
  void secretsAreRedactedAndNeverShown() {
    try (KitContext ctx = KitContext.of(config("plain", ""))) {
      assertThat(ctx.redactor().redact("key is " + KEY)).doesNotContain(KEY);
      assertThat(ctx.toString()).doesNotContain(KEY).contains("plain");
      assertThat(ctx.providerId()).isEqualTo("plain");
    }
  }
}
