package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.ScriptedProvider;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JobsCacheAndPresetsTest {

  private static ImageGenerationService service(ScriptedProvider p, CacheConfig cache) {
    ImageGenerationService.Builder b = ImageGenerationService.builder().provider(p, ProviderConfig.builder(p.id()).build());
    if (cache != null) {
      b.cache(cache);
    }
    return b.build();
  }

  // ------------------------------------------------------------------ batches

  @Test
  void batchKeepsInputOrderAndOneFailureDoesNotSinkTheRest() {
    ScriptedProvider p = new ScriptedProvider("p").then(ScriptedProvider.okAfter(Duration.ofMillis(40)),
        ScriptedProvider.fail(new InvalidRequestException("HTTP 422: prompt refused", "p")),
        ScriptedProvider.okAfter(Duration.ofMillis(1)), ScriptedProvider.ok(), ScriptedProvider.ok());
    List<ImageGenerationRequest> reqs = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      reqs.add(ImageGenerationRequest.builder().prompt("flower " + i).seed((long) i).build());
    }
    List<BatchOptions.BatchProgress> progress = new CopyOnWriteArrayList<>();
    try (ImageGenerationService s = service(p, null)) {
      BatchResult r = s.generateBatch(reqs, BatchOptions.DEFAULTS.concurrency(1).onProgress(progress::add));
      assertThat(r.items()).extracting(BatchResult.Item::index).containsExactly(0, 1, 2, 3, 4);
      assertThat(r.items()).extracting(i -> i.request().prompt()).containsExactly("flower 0", "flower 1", "flower 2", "flower 3", "flower 4");
      assertThat(r.items().get(1).error()).isInstanceOf(InvalidRequestException.class);
      assertThat(r.succeeded()).isEqualTo(4);
      assertThat(r.failed()).isEqualTo(1);
      assertThat(progress).hasSize(5);
      assertThat(progress.get(4).done()).isEqualTo(5);
      assertThat(progress.get(4).failed()).isEqualTo(1);
    }
  }

  @Test
  void batchRespectsConcurrencyAndItsBudget() {
    ScriptedProvider p = new ScriptedProvider("p", ProviderCapabilities.builder().build(), CostModel.perImage(new BigDecimal("0.25")))
        .then(ScriptedProvider.okAfter(Duration.ofMillis(20)));
    List<ImageGenerationRequest> reqs = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      reqs.add(ImageGenerationRequest.of("p" + i));
    }
    try (ImageGenerationService s = service(p, null)) {
      BatchResult r = s.generateBatch(reqs, BatchOptions.DEFAULTS.concurrency(3).budget(new BigDecimal("1.00")));
      assertThat(r.succeeded()).isEqualTo(4);
      assertThat(r.totalCost()).isEqualByComparingTo("1.00");
      assertThat(r.items().stream().filter(i -> !i.succeeded()))
          .allSatisfy(i -> assertThat(i.error()).isInstanceOf(BudgetExceededException.class));
      assertThat(p.calls).hasValue(4);
    }
  }

  @Test
  void anUnknownPresetIsOneFailedItemNotAnException() {
    try (ImageGenerationService s = service(new ScriptedProvider("p"), null)) {
      BatchResult r = s.generateBatch(List.of(ImageGenerationRequest.of("a"),
          ImageGenerationRequest.builder().prompt("b").preset("nope").build()));
      assertThat(r.items().get(0).succeeded()).isTrue();
      assertThat(r.items().get(1).error()).isInstanceOf(InvalidRequestException.class)
          .hasMessageContaining("unknown preset 'nope' (known: scatter_flowers, hero_background)");
    }
  }

  // ------------------------------------------------------------------ cache

  @Test
  void seededRequestsHitTheCacheForFreeAndUnseededOnlyWhenOptedIn() {
    ScriptedProvider p = new ScriptedProvider("p", ProviderCapabilities.builder().build(), CostModel.perImage(new BigDecimal("0.03")));
    try (ImageGenerationService s = service(p, CacheConfig.inMemory(10))) {
      ImageGenerationRequest seeded = ImageGenerationRequest.builder().prompt("fox").seed(11L).build();
      ImageGenerationResponse first = s.generateImageWithFailover(seeded);
      ImageGenerationResponse second = s.generateImageWithFailover(seeded);
      assertThat(first.cached()).isFalse();
      assertThat(second.cached()).isTrue();
      assertThat(second.cost()).isEqualTo(Cost.cached());
      assertThat(second.image().bytes()).isEqualTo(first.image().bytes());
      assertThat(second.attempts()).isEmpty();
      assertThat(p.calls).hasValue(1);
      assertThat(s.getMetrics().cacheHits()).isEqualTo(1);
      assertThat(s.getMetrics().totalCost()).isEqualByComparingTo("0.03");
      // any change to the canonical request is another entry
      s.generateImageWithFailover(seeded.toBuilder().steps(20).build());
      assertThat(p.calls).hasValue(2);
      ImageGenerationRequest unseeded = ImageGenerationRequest.of("fox");
      s.generateImageWithFailover(unseeded);
      s.generateImageWithFailover(unseeded);
      assertThat(p.calls).hasValue(4);
    }
    try (ImageGenerationService s = service(p, CacheConfig.inMemory(10).cacheUnseeded(true))) {
      s.generateImageWithFailover(ImageGenerationRequest.of("owl"));
      assertThat(s.generateImageWithFailover(ImageGenerationRequest.of("owl")).cached()).isTrue();
    }
  }

  @Test
  void failuresAndCensoredImagesAreNeverCached() {
    ScriptedProvider p = new ScriptedProvider("p").then(ScriptedProvider.censored(), ScriptedProvider.ok());
    try (ImageGenerationService s = service(p, CacheConfig.inMemory(10))) {
      ImageGenerationRequest r = ImageGenerationRequest.builder().prompt("x").seed(1L).build();
      assertThatThrownBy(() -> s.generateImageWithFailover(r)).isInstanceOf(ContentPolicyException.class);
      assertThat(s.generateImageWithFailover(r).cached()).isFalse();
      assertThat(s.generateImageWithFailover(r).cached()).isTrue();
    }
  }

  @Test
  void directoryStoreSurvivesARestartAndIgnoresHalfWrittenEntries(@TempDir Path dir) throws Exception {
    ImageGenerationRequest r = ImageGenerationRequest.builder().prompt("fox").seed(3L).build();
    ScriptedProvider p = new ScriptedProvider("p");
    try (ImageGenerationService s = service(p, CacheConfig.directory(dir, 10_000_000))) {
      s.generateImageWithFailover(r);
    }
    // a crash mid-write leaves only a temporary directory behind: it is never read, and removed by the
    // next store that indexes the directory once it is an hour old (a younger one may be another writer's)
    Path crashed = Files.createDirectory(dir.resolve(".tmp-crashed"));
    Files.write(crashed.resolve("image-0.png"), new byte[] {1, 2, 3});
    Files.setLastModifiedTime(crashed, java.nio.file.attribute.FileTime.from(java.time.Instant.now().minus(Duration.ofHours(2))));
    try (ImageGenerationService s = service(p, CacheConfig.directory(dir, 10_000_000))) {
      assertThat(s.generateImageWithFailover(r).cached()).isTrue();
      assertThat(p.calls).hasValue(1);
      s.generateImageWithFailover(r.toBuilder().seed(4L).build());
      assertThat(crashed).doesNotExist();
    }
    // an entry whose image no longer matches its hash is a miss, and is replaced
    List<Path> entries;
    try (Stream<Path> s = Files.list(dir)) {
      entries = s.filter(Files::isDirectory).toList();
    }
    for (Path entry : entries) {
      Files.write(entry.resolve("image-0.png"), new byte[] {9, 9, 9});
    }
    try (ImageGenerationService s = service(p, CacheConfig.directory(dir, 10_000_000))) {
      assertThat(s.generateImageWithFailover(r).cached()).isFalse();
      assertThat(s.generateImageWithFailover(r).cached()).isTrue();
      assertThat(p.calls).hasValue(3);
    }
  }

  @Test
  void directoryStoreEvictsOldestPastItsSizeBound(@TempDir Path dir) throws Exception {
    ScriptedProvider p = new ScriptedProvider("p");
    long oneEntry;
    try (ImageGenerationService s = service(p, CacheConfig.directory(dir, 1_000_000))) {
      s.generateImageWithFailover(ImageGenerationRequest.builder().prompt("a").seed(1L).build());
      try (Stream<Path> w = Files.walk(dir)) {
        oneEntry = w.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
      }
    }
    try (ImageGenerationService s = service(p, CacheConfig.directory(dir, oneEntry * 2 + oneEntry / 2))) {
      for (int i = 2; i <= 5; i++) {
        s.generateImageWithFailover(ImageGenerationRequest.builder().prompt("a").seed((long) i).build());
        Thread.sleep(20);
      }
    }
    try (Stream<Path> entries = Files.list(dir)) {
      assertThat(entries.filter(Files::isDirectory).count()).isEqualTo(2);
    }
  }

  @Test
  void aServiceWhoseCacheDirectoryIsUnusableStillBuildsAndEveryGenerationSucceeds(@TempDir Path root) throws Exception {
    Path notADirectory = Files.writeString(root.resolve("cache"), "a file where the cache directory should be");
    ScriptedProvider p = new ScriptedProvider("p");
    ImageGenerationRequest r = ImageGenerationRequest.builder().prompt("fox").seed(3L).build();
    try (ImageGenerationService s = service(p, CacheConfig.directory(notADirectory, 10_000_000))) {
      assertThat(s.generateImageWithFailover(r).cached()).isFalse();
      assertThat(s.generateImageWithFailover(r).cached()).isFalse();
      assertThat(p.calls).hasValue(2);
    }
    assertThat(Files.readString(notADirectory)).isEqualTo("a file where the cache directory should be");
  }

  @Test
  void theInMemoryCacheIsBoundedByBytesOfImageData() {
    ScriptedProvider p = new ScriptedProvider("p");
    long oneImage = ScriptedProvider.png().length;
    try (ImageGenerationService s = service(p, CacheConfig.inMemory(100).maxMemoryBytes(oneImage))) {
      ImageGenerationRequest a = ImageGenerationRequest.builder().prompt("a").seed(1L).build();
      ImageGenerationRequest b = ImageGenerationRequest.builder().prompt("b").seed(1L).build();
      s.generateImageWithFailover(a);
      assertThat(s.generateImageWithFailover(a).cached()).isTrue();
      s.generateImageWithFailover(b); // evicts a: both do not fit in the bound
      assertThat(s.generateImageWithFailover(b).cached()).isTrue();
      assertThat(s.generateImageWithFailover(a).cached()).isFalse();
      assertThat(p.calls).hasValue(3);
    }
  }

  @Test
  void cacheConfigNamesTheLimitItRejects() {
    assertThatThrownBy(() -> CacheConfig.inMemory(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("cache maxEntries must be at least 1, was 0");
    assertThatThrownBy(() -> CacheConfig.directory(Path.of("c"), 0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("cache maxBytes (the directory bound) must be at least 1, was 0");
    assertThatThrownBy(() -> CacheConfig.inMemory(10).maxMemoryBytes(-1)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("cache maxMemoryBytes must be at least 1, was -1");
    // the five-value constructor still compiles and takes the default memory bound
    CacheConfig c = new CacheConfig(null, 5, 1, "ns", true);
    assertThat(c.maxMemoryBytes()).isEqualTo(CacheConfig.DEFAULT_MAX_MEMORY_BYTES);
    assertThat(c.maxMemoryBytes(1024).maxMemoryBytes()).isEqualTo(1024);
    assertThat(c.maxMemoryBytes(1024).namespace("x").cacheUnseeded(false).maxMemoryBytes()).isEqualTo(1024);
  }

  // ------------------------------------------------------------------ presets

  @Test
  void presetFillsOnlyWhatTheRequestLeavesUnset() {
    ScriptedProvider p = new ScriptedProvider("p", ProviderCapabilities.builder().negativePrompt(true).build(), CostModel.free());
    try (ImageGenerationService s = service(p, null)) {
      ImageGenerationResponse r = s.generateImageWithFailover(
          ImageGenerationRequest.builder().prompt("pink peonies").preset("scatter_flowers").negativePrompt("leaves").build());
      ImageGenerationRequest sent = p.requests.get(0);
      assertThat(sent.prompt()).isEqualTo("pink peonies, flowers scattered loosely across a clean flat surface, top-down view, "
          + "soft natural light, pastel tones, highly detailed, intricate details");
      assertThat(sent.negativePrompt()).isEqualTo("leaves");
      assertThat(sent.width()).isEqualTo(1024);
      assertThat(r.metadata().get("prompt")).isEqualTo(sent.prompt());
      assertThat(r.metadata().get("negative_prompt")).isEqualTo("leaves");

      s.generateImageWithFailover(ImageGenerationRequest.builder().prompt("a coast").preset("hero_background").size(1024, 512)
          .qualityEnhancers("sharp_focus").build());
      ImageGenerationRequest hero = p.requests.get(1);
      assertThat(hero.width()).isEqualTo(1024);
      assertThat(hero.height()).isEqualTo(512);
      assertThat(hero.prompt()).endsWith("uncluttered composition, sharp focus, crisp details");
      assertThat(hero.negativePrompt()).isEqualTo("text, watermark, logo, busy background, people, blurry");
      assertThat(s.presets()).extracting(Preset::name).containsExactly("scatter_flowers", "hero_background");
    }
  }

  @Test
  void userPresetsLoadFromJsonAndPropertiesWithEveryProblemListed(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("presets.json");
    Files.writeString(json, "{\"product_shot\":{\"prompt\":\"{prompt} on a white table\",\"width\":768,\"height\":768,"
        + "\"style\":\"realistic\",\"enhancers\":[\"sharp_focus\"]}}");
    Path props = dir.resolve("presets.properties");
    Files.writeString(props, "sticker.prompt=die-cut sticker\nsticker.steps=12\n");
    ScriptedProvider p = new ScriptedProvider("p");
    try (ImageGenerationService s = ImageGenerationService.builder().provider(p, ProviderConfig.builder("p").build())
        .presets(json).presets(props).build()) {
      assertThat(s.presets()).extracting(Preset::name).containsExactly("scatter_flowers", "hero_background", "product_shot", "sticker");
      s.generateImageWithFailover(ImageGenerationRequest.builder().prompt("a mug").preset("product_shot").build());
      assertThat(p.requests.get(0).prompt()).isEqualTo("a mug on a white table, photorealistic, realistic lighting, natural colors, "
          + "photograph, sharp focus, crisp details");
      s.generateImageWithFailover(ImageGenerationRequest.builder().prompt("a cat").preset("sticker").build());
      assertThat(p.requests.get(1).prompt()).isEqualTo("a cat, die-cut sticker");
      assertThat(p.requests.get(1).steps()).isEqualTo(12);
    }
    Path bad = dir.resolve("bad.json");
    Files.writeString(bad, "{\"a\":{\"style\":\"x\"},\"b\":{\"prompt\":\"p\",\"enhancers\":[\"shiny\"]}}");
    assertThatThrownBy(() -> Preset.load(bad)).isInstanceOfSatisfying(InvalidRequestException.class,
        e -> assertThat(e.violations()).containsExactly("preset 'a': needs a prompt template",
            "preset 'b': unknown quality enhancer 'shiny'"));
  }
}
