package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.testing.ScriptedProvider;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** {@code listModels()} gives one entry per model of each provider. */
class ModelListTest {

  /** A provider that lists what it is given, however repetitive. */
  private static final class Listing implements ImageProvider {
    private final String id;
    private final List<ModelInfo> models;
    private final ScriptedProvider delegate;

    Listing(String id, ModelInfo... models) {
      this.id = id;
      this.models = List.of(models);
      this.delegate = new ScriptedProvider(id);
    }

    @Override public String id() { return id; }
    @Override public ProviderCapabilities capabilities() { return delegate.capabilities(); }
    @Override public CostModel costModel() { return CostModel.free(); }
    @Override public List<ModelInfo> models() { return models; }

    @Override
    public CompletableFuture<ProviderResult> generate(ImageGenerationRequest request, GenerationContext context) {
      return delegate.generate(request, context);
    }

    @Override
    public CompletableFuture<ProviderHealth> health(ProviderContext context) {
      return delegate.health(context);
    }
  }

  private static ImageGenerationService service(ImageProvider... providers) {
    ImageGenerationService.Builder b = ImageGenerationService.builder();
    for (ImageProvider p : providers) {
      b.provider(p, ProviderConfig.builder(p.id()).build());
    }
    return b.build();
  }

  @Test
  void anAliasListedAsAModelOfItsOwnFoldsIntoTheModelItNames() {
    Listing p = new Listing("p",
        new ModelInfo("p", "fast", List.of(), ""),
        new ModelInfo("p", "owner/fast-model", List.of("fast"), "a fast model"),
        new ModelInfo("p", "owner/other", List.of(), "another"));
    try (ImageGenerationService s = service(p)) {
      assertThat(s.listModels()).containsExactly(
          new ModelInfo("p", "owner/fast-model", List.of("fast"), "a fast model"),
          new ModelInfo("p", "owner/other", List.of(), "another"));
    }
  }

  @Test
  void aModelListedTwiceIsOneEntryWithBothAliasesAndTheFirstDescription() {
    Listing p = new Listing("p",
        new ModelInfo("p", "owner/m", List.of("m"), ""),
        new ModelInfo("p", "owner/m", List.of("m-alias", "m"), "the model"));
    try (ImageGenerationService s = service(p)) {
      assertThat(s.listModels()).containsExactly(new ModelInfo("p", "owner/m", List.of("m", "m-alias"), "the model"));
    }
  }

  @Test
  void theSameModelAtTwoProvidersIsListedForEach() {
    Listing a = new Listing("a", new ModelInfo("a", "sdxl", List.of(), "at a"));
    Listing b = new Listing("b", new ModelInfo("b", "sdxl", List.of(), "at b"));
    try (ImageGenerationService s = service(a, b)) {
      assertThat(s.listModels()).extracting(ModelInfo::provider, ModelInfo::id)
          .containsExactly(org.assertj.core.groups.Tuple.tuple("a", "sdxl"), org.assertj.core.groups.Tuple.tuple("b", "sdxl"));
    }
  }

  @Test
  void aProviderWhoseListFailsIsLeftOutAndTheOthersAreListed() {
    Listing ok = new Listing("ok", new ModelInfo("ok", "m", List.of(), "fine"));
    ImageProvider failing = new ImageProvider() {
      @Override public String id() { return "failing"; }
      @Override public ProviderCapabilities capabilities() { return ok.capabilities(); }
      @Override public CostModel costModel() { return CostModel.free(); }
      @Override public List<ModelInfo> models() { throw new IllegalStateException("catalogue not loaded"); }
      @Override public CompletableFuture<ProviderResult> generate(ImageGenerationRequest r, GenerationContext c) { return ok.generate(r, c); }
      @Override public CompletableFuture<ProviderHealth> health(ProviderContext c) { return ok.health(c); }
    };
    try (ImageGenerationService s = service(failing, ok)) {
      assertThat(s.listModels()).extracting(ModelInfo::id).containsExactly("m");
    }
  }
}
