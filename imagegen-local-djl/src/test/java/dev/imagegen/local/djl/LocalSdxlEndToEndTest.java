package dev.imagegen.local.djl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.imagegen.Cost;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.InputImage;
import dev.imagegen.ProviderHealth;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testkit.KitContext;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole engine as a user gets it from the factory: ONNX stand-ins written from Java, DJL's ONNX
 * Runtime engine on CPU, tokenizers, loop, VAE decode, PNG.
 */
class LocalSdxlEndToEndTest {
  @TempDir static Path tmp;
  static Path turboDir;
  static Path baseDir;
  static LocalSdxlEngine engine;
  static ProviderConfig config;

  @BeforeAll
  static void create() throws IOException {
    turboDir = TestOnnxModels.write(tmp.resolve("sdxl-turbo"), TestOnnxModels.Options.half());
    baseDir = TestOnnxModels.write(tmp.resolve("sdxl"),
        TestOnnxModels.Options.half().weights(0.5f, 0.01f, 0.002f, 0.003f, 1e-4f).int64().external().base());
    config = ProviderConfig.builder("local-sdxl").set("model.sdxl-turbo", turboDir.toString())
        .set("model.sdxl", baseDir.toString()).set("max-loaded", "2").build();
    engine = new LocalSdxlProviderFactory().create(config);
  }

  @AfterAll
  static void close() {
    if (engine != null) {
      engine.close();
    }
  }

  static ProviderResult generate(ImageGenerationRequest r) throws Exception {
    try (KitContext c = KitContext.of(config).deadline(Duration.ofSeconds(60))) {
      return engine.generate(r, c).get(60, TimeUnit.SECONDS);
    }
  }

  @Test
  void turboTextToImageToPngOnCpu() throws Exception {
    ImageGenerationRequest r = ImageGenerationRequest.builder().prompt("a cat").seed(0L).build();
    ProviderResult res = generate(r);
    byte[] png = res.images().get(0).bytes();
    BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
    assertThat(img.getWidth()).isEqualTo(64);
    assertThat(img.getHeight()).isEqualTo(64);
    assertThat(res.metadata().get("device")).startsWith("cpu (auto: no CUDA device visible");
    assertThat(engine.loadedModels()).contains("sdxl-turbo");

    // pixel (x, y) = channel c of latent (y/8, x/8): 7.324367 x noise / 0.13025, mapped to a byte
    float[] noise = new TorchRandom(0).randn(4 * 8 * 8);
    for (int y = 0; y < 64; y += 9) {
      for (int x = 0; x < 64; x += 7) {
        int rgb = img.getRGB(x, y);
        int[] got = {(rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff};
        for (int c = 0; c < 3; c++) {
          double v = 7.324367 * noise[(c * 8 + y / 8) * 8 + x / 8] / 0.13025;
          int expected = (int) Math.rint(255 * Math.max(0, Math.min(1, v / 2 + 0.5)));
          assertThat(got[c]).as("pixel %d,%d channel %d", x, y, c).isCloseTo(expected, within(1));
        }
      }
    }
    assertThat(generate(r).images().get(0).bytes()).isEqualTo(png); // same seed, same bytes
  }

  @Test
  void baseWithGuidanceOnTheInt64TimestepExportMatchesTheJavaPipeline() throws Exception {
    ImageGenerationRequest r = ImageGenerationRequest.builder().prompt("a cat, dog!").model("sdxl").size(64, 64)
        .steps(3).guidanceScale(3.0).seed(5L).negativePrompt("dog").build();
    ProviderResult res = generate(r);
    assertThat(res.metadata()).containsEntry("sampler", "euler").containsEntry("steps", "3");
    Pipeline java = TestModels.pipeline(tmp.resolve("java"), new StandInGraphs(0.5f, 0.01f, 0.002f, 0.003f, 1e-4f),
        SchedulerConfig.sdxlBase());
    byte[] expected = java.run(new Pipeline.Job("a cat, dog!", "dog", 64, 64, 3, 3.0, Sampler.EULER,
        new long[] {5L}, null, 1), new TestModels.Counting()).rgb().get(0);
    BufferedImage img = ImageIO.read(new ByteArrayInputStream(res.images().get(0).bytes()));
    int off = 0;
    for (int i = 0; i < 64 * 64; i++) {
      int rgb = img.getRGB(i % 64, i / 64);
      int[] got = {(rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff};
      for (int c = 0; c < 3; c++) {
        off = Math.max(off, Math.abs(got[c] - (expected[i * 3 + c] & 0xff)));
      }
    }
    assertThat(off).isLessThanOrEqualTo(1);
  }

  @Test
  void img2imgFromAPng() throws Exception {
    BufferedImage gray = new BufferedImage(100, 70, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 70; y++) {
      for (int x = 0; x < 100; x++) {
        gray.setRGB(x, y, 0x9f9f9f);
      }
    }
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    ImageIO.write(gray, "png", out);
    ProviderResult res = generate(ImageGenerationRequest.builder().prompt("a cat").seed(3L).steps(2).strength(0.5)
        .inputImage(InputImage.ofBytes(InputImage.Role.INIT, out.toByteArray())).build());
    assertThat(res.metadata()).containsEntry("steps", "1").containsEntry("size", "64x64"); // 100x70 -> 64x64
    assertThat(res.images().get(0).width()).isEqualTo(64);
  }

  @Test
  void throughTheServiceItIsFreeAndHealthy() {
    LocalSdxlEngine own = new LocalSdxlProviderFactory().create(config);
    try (ImageGenerationService service = ImageGenerationService.builder().provider(own, config)
        .defaultTimeout(Duration.ofSeconds(60)).build()) {
      ImageGenerationResponse r = service.generateImage(ImageGenerationRequest.builder().prompt("a cat").seed(9L)
          .build(), "local-sdxl");
      assertThat(r.provider()).isEqualTo("local-sdxl");
      assertThat(r.images().get(0).seed()).isEqualTo(9L);
      assertThat(r.cost().source()).isEqualTo(Cost.Source.FREE);
      assertThat(service.health().get("local-sdxl").state()).isEqualTo(ProviderHealth.State.UP);
      assertThat(own.loadedModels()).containsExactly("sdxl-turbo");
      assertThat(own.purge()).isEqualTo(1);
      assertThat(own.loadedModels()).isEmpty();
    }
  }

  @Test
  void discoveredByServiceLoader() {
    assertThat(java.util.ServiceLoader.load(dev.imagegen.spi.ImageProviderFactory.class).stream()
        .map(p -> p.type().getName())).contains(LocalSdxlProviderFactory.class.getName());
    assertThat(java.lang.reflect.Modifier.isPublic(LocalSdxlProviderFactory.class.getModifiers())).isTrue();
    assertThat(java.lang.reflect.Modifier.isPublic(LocalSdxlProvider.class.getModifiers())).isFalse();
  }
}
