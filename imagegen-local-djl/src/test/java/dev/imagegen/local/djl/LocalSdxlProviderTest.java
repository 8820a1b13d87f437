package dev.imagegen.local.djl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.GenerationTimeoutException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderHealth;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testkit.KitContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The provider around the pipeline: validation, the device queue, progress, cancellation, the LRU
 * and purge, broken directories, health. Uses the Java stand-in graphs (fast) behind a gate that
 * lets a test hold a generation inside its UNet call.
 */
class LocalSdxlProviderTest {
  @TempDir static Path tmp;
  final List<AutoCloseable> toClose = new ArrayList<>();
  final List<StandInGraphs> loaded = new ArrayList<>();
  volatile CountDownLatch gate;
  final CountDownLatch inUnet = new CountDownLatch(1);

  /** Stand-in graphs whose UNet waits at the gate when one is set. */
  final class Gated extends StandInGraphs {
    Gated() {
      super(0.5f, 0, 0, 0, 0);
    }

    @Override
    public float[] unet(float[] sample, int batch, int h, int w, double t, float[] ehs, int dim, float[] te, int pd,
        float[] ids) {
      inUnet.countDown();
      CountDownLatch g = gate;
      if (g != null) {
        try {
          g.await(20, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return super.unet(sample, batch, h, w, t, ehs, dim, te, pd, ids);
    }
  }

  static Path model(String name) throws IOException {
    Path dir = tmp.resolve(name);
    if (!Files.exists(dir.resolve("model_index.json"))) {
      TestOnnxModels.write(dir, TestOnnxModels.Options.half());
    }
    return dir;
  }

  LocalSdxlProvider provider(ProviderConfig.Builder b) {
    ProviderConfig config = b.build();
    LocalSdxlProvider p = new LocalSdxlProvider(config, LocalSdxlSettings.from(config), s -> new GraphsLoader() {
      @Override
      public Graphs load(ModelDirectory.Spec spec) {
        Gated g = new Gated();
        synchronized (loaded) {
          loaded.add(g);
        }
        return g;
      }

      @Override
      public String device() {
        return "cpu (test)";
      }
    });
    toClose.add(p);
    return p;
  }

  ProviderConfig.Builder config() throws IOException {
    return ProviderConfig.builder(LocalSdxlProviderFactory.ID).set("model.sdxl-turbo", model("turbo").toString());
  }

  KitContext ctx(ImageProvider p) {
    KitContext c = KitContext.of(ProviderConfig.builder(LocalSdxlProviderFactory.ID).build()).deadline(Duration.ofSeconds(60));
    toClose.add(c);
    return c;
  }

  /** The queue positions the provider reported. */
  static List<Integer> queuePositions(KitContext c) {
    return c.events().stream().filter(e -> e.stage() == ProgressEvent.Stage.QUEUED).map(ProgressEvent::queuePosition).toList();
  }

  /** The step percentages the provider reported, above zero. */
  static List<Double> percents(KitContext c) {
    return c.events().stream().filter(e -> e.stage() == ProgressEvent.Stage.RUNNING && e.percent() != null
        && e.percent() > 0).map(ProgressEvent::percent).toList();
  }

  static ImageGenerationRequest.Builder request() {
    return ImageGenerationRequest.builder().prompt("a cat").size(64, 64).seed(1L);
  }

  @AfterEach
  void closeAll() throws Exception {
    CountDownLatch g = gate;
    if (g != null) {
      g.countDown();
    }
    for (AutoCloseable c : toClose) {
      c.close();
    }
  }

  @Test
  void generatesReportsTheSeedAndProgressPerStep() throws Exception {
    LocalSdxlProvider p = provider(config());
    KitContext c = ctx(p);
    ProviderResult r = p.generate(request().steps(4).build(), c).get(20, TimeUnit.SECONDS);
    GeneratedImage img = r.images().get(0);
    assertThat(img.mediaType()).isEqualTo("image/png");
    assertThat(img.width()).isEqualTo(64);
    assertThat(img.seed()).isEqualTo(1L);
    assertThat(r.model()).isEqualTo("sdxl-turbo");
    assertThat(r.metadata()).containsEntry("steps", "4").containsEntry("sampler", "euler_a").containsEntry("guidance", "0.0");
    assertThat(percents(c)).containsExactly(25.0, 50.0, 75.0, 100.0);

    ProviderResult again = p.generate(request().steps(4).build(), ctx(p)).get(20, TimeUnit.SECONDS);
    assertThat(again.images().get(0).bytes()).isEqualTo(img.bytes());
    ProviderResult other = p.generate(request().steps(4).seed(2L).build(), ctx(p)).get(20, TimeUnit.SECONDS);
    assertThat(other.images().get(0).bytes()).isNotEqualTo(img.bytes());
  }

  @Test
  void aRequestWithoutSeedGetsOneAndTurboDefaults() throws Exception {
    LocalSdxlProvider p = provider(config());
    ProviderResult r = p.generate(ImageGenerationRequest.builder().prompt("a cat").numImages(2).build(), ctx(p))
        .get(20, TimeUnit.SECONDS);
    assertThat(r.images()).hasSize(2);
    long seed = r.images().get(0).seed();
    assertThat(seed).isBetween(0L, 0xffffffffL);
    assertThat(r.images().get(1).seed()).isEqualTo(seed + 1);
    assertThat(r.images().get(0).width()).isEqualTo(64); // the stand-in's sample_size 8 x 8
    assertThat(r.metadata()).containsEntry("steps", "1");
    assertThat(loaded.get(0).unetBatches).containsExactly(2); // guidance 0: no CFG doubling
  }

  @Test
  void validationListsEveryViolation() throws Exception {
    LocalSdxlProvider p = provider(config());
    ImageGenerationRequest bad = ImageGenerationRequest.builder().prompt("a cat").size(2560, 2112).steps(101)
        .guidanceScale(31.0).sampler("heun").model("sdxl").build();
    Throwable t = catchThrowable(() -> p.generate(bad, ctx(p)).join());
    assertThat(t).isInstanceOf(CompletionException.class).cause().isInstanceOf(InvalidRequestException.class);
    InvalidRequestException e = (InvalidRequestException) t.getCause();
    assertThat(e.violations()).containsExactly(
        "model 'sdxl' is not configured here (configured: sdxl-turbo)",
        "width 2560 is outside 64..2048",
        "height 2112 is outside 64..2048",
        "steps 101 is outside 1..100",
        "guidance scale 31.0 is outside 0..30.0",
        "sampler 'heun' is not one of euler, euler_a, euler_karras, dpmpp_2m, dpmpp_2m_karras");
    assertThat(e.providerId()).isEqualTo("local-sdxl");
    assertThat(loaded).isEmpty();

    InvalidRequestException img = (InvalidRequestException) catchThrowable(() -> p.generate(request().steps(1)
        .inputImage(InputImage.ofBytes(InputImage.Role.INIT, new byte[] {1, 2, 3})).strength(0.5).build(), ctx(p))
        .join()).getCause();
    assertThat(img.violations()).containsExactly(
        "the init image cannot be decoded (PNG or JPEG; WebP is not supported here)",
        "steps x strength must be at least 1 (1 x 0.5 runs no step; e.g. 2 steps at 0.5)");
  }

  @Test
  void oneAtATimeWithQueuePositionsAndABoundedQueue() throws Exception {
    LocalSdxlProvider p = provider(config().set("queue-size", "1"));
    gate = new CountDownLatch(1);
    KitContext c1 = ctx(p);
    KitContext c2 = ctx(p);
    CompletableFuture<ProviderResult> first = p.generate(request().build(), c1);
    assertThat(inUnet.await(20, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<ProviderResult> second = p.generate(request().seed(2L).build(), c2);
    assertThat(queuePositions(c2)).containsExactly(1);
    CompletableFuture<ProviderResult> third = p.generate(request().seed(3L).build(), ctx(p));
    assertThat(third).isCompletedExceptionally();
    assertThatThrownBy(third::join).cause().isInstanceOf(ProviderUnavailableException.class).hasMessageContaining("busy")
        .satisfies(e -> assertThat(((ProviderUnavailableException) e).retryMayHelp()).isTrue());
    assertThat(second).isNotDone();
    gate.countDown();
    assertThat(first.get(20, TimeUnit.SECONDS).images()).hasSize(1);
    assertThat(second.get(20, TimeUnit.SECONDS).images().get(0).seed()).isEqualTo(2L);
    assertThat(loaded).hasSize(1); // loaded once, reused
  }

  @Test
  void cancellationStopsBetweenStepsAndWhileQueued() throws Exception {
    LocalSdxlProvider p = provider(config());
    KitContext running = ctx(p);
    running.onProgress(e -> {
      if (e.percent() != null && e.percent() >= 20.0) {
        running.cancel();
      }
    });
    CompletableFuture<ProviderResult> f = p.generate(request().steps(10).build(), running);
    assertThatThrownBy(() -> f.get(20, TimeUnit.SECONDS)).cause().isInstanceOf(GenerationCancelledException.class)
        .hasMessageContaining("2 of 10 steps");
    assertThat(loaded.get(0).unetBatches).hasSize(2);

    gate = new CountDownLatch(1);
    CountDownLatch entered = new CountDownLatch(1);
    KitContext holder = ctx(p);
    holder.onProgress(e -> entered.countDown());
    CompletableFuture<ProviderResult> busy = p.generate(request().steps(1).build(), holder);
    assertThat(entered.await(20, TimeUnit.SECONDS)).isTrue();
    KitContext waiting = ctx(p);
    CompletableFuture<ProviderResult> queued = p.generate(request().steps(1).build(), waiting);
    waiting.cancel();
    assertThatThrownBy(queued::join).cause().isInstanceOf(GenerationCancelledException.class)
        .hasMessageContaining("queued");
    gate.countDown();
    busy.get(20, TimeUnit.SECONDS);
    assertThat(loaded.get(0).unetBatches).hasSize(3); // the queued one never ran
  }

  @Test
  void aPassedDeadlineIsATimeout() throws Exception {
    LocalSdxlProvider p = provider(config());
    KitContext c = ctx(p);
    c.onProgress(e -> {
      if (e.percent() != null && e.percent() > 0) {
        c.deadline(Duration.ofSeconds(-1));
      }
    });
    assertThatThrownBy(() -> p.generate(request().steps(5).build(), c).get(20, TimeUnit.SECONDS)).cause()
        .isInstanceOf(GenerationTimeoutException.class);
    assertThat(loaded.get(0).unetBatches).hasSize(1);
  }

  @Test
  void leastRecentlyUsedPipelineIsEvictedAndPurgeUnloadsAll() throws Exception {
    LocalSdxlProvider p = provider(config().set("model.sdxl", model("base").toString()));
    p.generate(request().model("sdxl-turbo").build(), ctx(p)).get(20, TimeUnit.SECONDS);
    assertThat(p.loadedModels()).containsExactly("sdxl-turbo");
    p.generate(request().model("sdxl").build(), ctx(p)).get(20, TimeUnit.SECONDS);
    assertThat(p.loadedModels()).containsExactly("sdxl");
    assertThat(loaded).hasSize(2);
    assertThat(loaded.get(0).closed).isTrue();
    assertThat(loaded.get(1).closed).isFalse();
    assertThat(p.purge()).isEqualTo(1);
    assertThat(p.loadedModels()).isEmpty();
    assertThat(loaded.get(1).closed).isTrue();

    LocalSdxlProvider two = provider(config().set("model.sdxl", model("base").toString()).set("max-loaded", "2"));
    two.generate(request().model("sdxl-turbo").build(), ctx(two)).get(20, TimeUnit.SECONDS);
    two.generate(request().model("sdxl").build(), ctx(two)).get(20, TimeUnit.SECONDS);
    two.generate(request().model("sdxl-turbo").build(), ctx(two)).get(20, TimeUnit.SECONDS);
    assertThat(two.loadedModels()).containsExactly("sdxl", "sdxl-turbo");
    assertThat(loaded).hasSize(4);
  }

  @Test
  void aBrokenDirectoryFailsWithEveryProblemAndHealthSaysSo() throws Exception {
    Path broken = tmp.resolve("broken");
    TestOnnxModels.write(broken, TestOnnxModels.Options.half());
    Files.delete(broken.resolve("unet/model.onnx"));
    Files.delete(broken.resolve("tokenizer/vocab.json"));
    LocalSdxlProvider p = provider(config().set("model.sdxl", broken.toString()));
    Throwable t = catchThrowable(() -> p.generate(request().model("sdxl").build(), ctx(p)).join());
    assertThat(t.getCause()).isInstanceOf(ProviderUnavailableException.class)
        .hasMessageContaining("2 problems").hasMessageContaining("unet/model.onnx is missing")
        .hasMessageContaining("tokenizer/vocab.json is missing");
    assertThat(((ProviderUnavailableException) t.getCause()).failoverMayHelp()).isTrue();
    assertThat(loaded).isEmpty();
    ProviderHealth h = p.health(ctx(p)).join();
    assertThat(h.state()).isEqualTo(ProviderHealth.State.DEGRADED);
    assertThat(h.message()).contains("1 of 2 model directories valid").contains("unet/model.onnx is missing");
  }

  @Test
  void capabilitiesCostAndConfiguration() throws Exception {
    LocalSdxlProvider p = provider(config());
    assertThat(p.capabilities().models()).containsExactly("sdxl-turbo");
    assertThat(p.capabilities().img2img()).isTrue();
    assertThat(p.capabilities().free()).isTrue();
    assertThat(p.capabilities().queued()).isTrue();
    assertThat(p.capabilities().maxSize()).isEqualTo(2048);
    assertThat(p.costModel().estimate(request().build())).isEqualTo(Cost.free());
    assertThat(p.health(ctx(p)).join().state()).isEqualTo(ProviderHealth.State.UP);

    LocalSdxlProviderFactory f = new LocalSdxlProviderFactory();
    assertThat(f.isConfigured(ProviderConfig.builder("local-sdxl").build())).isFalse();
    // environment and properties forms
    Properties props = new Properties();
    props.setProperty("imagegen.local-sdxl.model.sdxl", model("base").toString());
    ProviderConfig fromEnv = ProviderConfig.from("local-sdxl",
        Map.of("IMAGEGEN_LOCAL_SDXL_MODEL_SDXL_TURBO", model("turbo").toString()), props, f.customaryEnvironment());
    assertThat(f.isConfigured(fromEnv)).isTrue();
    LocalSdxlSettings s = LocalSdxlSettings.from(fromEnv);
    assertThat(s.models()).containsOnlyKeys("sdxl", "sdxl-turbo");
    assertThat(s.defaultModel()).isEqualTo("sdxl-turbo");
    LocalSdxlSettings dir = LocalSdxlSettings.from(ProviderConfig.builder("local-sdxl").set("models-dir", tmp.toString())
        .build());
    assertThat(dir.models()).containsKeys("turbo", "base");
    assertThatThrownBy(() -> LocalSdxlSettings.from(ProviderConfig.builder("local-sdxl").set("device", "tpu").build()))
        .hasMessageContaining("device");
    assertThat(s.timeout()).isEqualTo(Duration.ofMinutes(10));
  }
}
