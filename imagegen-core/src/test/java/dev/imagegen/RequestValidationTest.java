package dev.imagegen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.imagegen.spi.CostModel;
import dev.imagegen.spi.ProviderCapabilities;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.testing.ScriptedProvider;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What cannot be served is told before any provider call, every problem at once. */
class RequestValidationTest {
  private ImageGenerationService service;

  @AfterEach
  void close() {
    if (service != null) {
      service.close();
    }
  }

  /** Like fal: aliases, and native ids shaped owner/name passed through. */
  private static ScriptedProvider falLike() {
    return new ScriptedProvider("fal", ProviderCapabilities.builder().models("flux-schnell", "fal-ai/flux/schnell")
        .modelNames(n -> n.contains("/")).maxImagesPerRequest(4).maxPromptLength(2_000).build(), CostModel.free());
  }

  /** Like Horde: any model name, at most 4 images here, its own samplers and options. */
  private static ScriptedProvider hordeLike() {
    return new ScriptedProvider("horde", ProviderCapabilities.builder().anyModel(true).maxImagesPerRequest(4)
        .samplers(List.of("k_euler", "k_euler_a"), n -> n.equalsIgnoreCase("euler a")).optionKeys("nsfw", "workers")
        .maxPromptLength(15_000).build(), CostModel.free());
  }

  private ImageGenerationService serviceOf(ScriptedProvider... providers) {
    ImageGenerationService.Builder b = ImageGenerationService.builder();
    int priority = 1;
    for (ScriptedProvider p : providers) {
      b.provider(p, ProviderConfig.builder(p.id()).set("priority", String.valueOf(priority++)).build());
    }
    service = b.build();
    return service;
  }

  @Test
  void anUnknownModelAndTooManyImagesAreBothNoCapableProviderListingEachProvider() {
    ScriptedProvider fal = falLike();
    ScriptedProvider runpod = new ScriptedProvider("runpod", ProviderCapabilities.builder().models("sdxl").build(),
        CostModel.free());
    serviceOf(fal, runpod);

    NoCapableProviderException model = catchThrowableOfType(NoCapableProviderException.class,
        () -> service.generateImageWithFailover(ImageGenerationRequest.builder().prompt("fox").model("flux-foo").build()));
    NoCapableProviderException images = catchThrowableOfType(NoCapableProviderException.class,
        () -> service.generateImageWithFailover(ImageGenerationRequest.builder().prompt("fox").numImages(8).build()));

    assertThat(model.kind()).isEqualTo(ErrorKind.NO_CAPABLE_PROVIDER).isEqualTo(images.kind());
    assertThat(model).hasMessageContaining("fal: no model 'flux-foo' (known: fal-ai/flux/schnell, flux-schnell)")
        .hasMessageContaining("runpod: no model 'flux-foo' (known: sdxl)");
    assertThat(images).hasMessageContaining("fal: 8 images requested, serves at most 4")
        .hasMessageContaining("runpod: 8 images requested, serves at most 1");
    assertThatThrownBy(() -> service.generateImage(ImageGenerationRequest.builder().prompt("fox").model("flux-foo").build(),
        "fal")).isInstanceOf(NoCapableProviderException.class).hasMessageContaining("fal: no model 'flux-foo'");
    assertThat(fal.calls).hasValue(0);
    assertThat(runpod.calls).hasValue(0);
  }

  @Test
  void aNativeIdTheProviderPassesThroughIsServedAndAnyModelStillTakesEveryName() {
    ScriptedProvider fal = falLike();
    ScriptedProvider horde = hordeLike();
    serviceOf(fal, horde);

    assertThat(service.generateImage(ImageGenerationRequest.builder().prompt("fox").model("fal-ai/flux/dev").build(), "fal")
        .provider()).isEqualTo("fal");
    ImageGenerationResponse r = service.generateImageWithFailover(
        ImageGenerationRequest.builder().prompt("fox").model("AlbedoBase XL (SDXL)").build());
    assertThat(r.provider()).isEqualTo("horde");
    assertThat(r.attempts().get(0).message()).contains("no model 'AlbedoBase XL (SDXL)'");
  }

  @Test
  void everyProblemTheServiceCanFindIsListedInOneExceptionBeforeAnyCall() {
    ScriptedProvider horde = hordeLike();
    serviceOf(horde);
    ImageGenerationRequest r = ImageGenerationRequest.builder().prompt("fox").preset("no_such_preset").sampler("euler_x")
        .providerOption("horde", "nfsw", true).providerOption("hrode", "nsfw", true).build();

    InvalidRequestException e = catchThrowableOfType(InvalidRequestException.class, () -> service.generateImageWithFailover(r));
    InvalidRequestException checked = catchThrowableOfType(InvalidRequestException.class, () -> service.validate(r));

    assertThat(e.violations()).containsExactly(
        "unknown preset 'no_such_preset' (known: scatter_flowers, hero_background)",
        "providerOptions for 'horde': unknown key 'nfsw' (horde reads: nsfw, workers)",
        "providerOptions names provider 'hrode', which is not configured (configured: horde)",
        "sampler 'euler_x' is not one of horde's samplers (known: k_euler, k_euler_a)");
    assertThat(checked.violations()).isEqualTo(e.violations());
    assertThatThrownBy(() -> service.generateAsync(r)).isInstanceOf(InvalidRequestException.class);
    assertThat(horde.calls).hasValue(0);
    service.validate(ImageGenerationRequest.builder().prompt("fox").preset("hero_background").sampler("Euler A")
        .providerOption("horde", "nsfw", true).build());
  }

  @Test
  void anUnknownSamplerSkipsTheProviderThatKnowsItsSamplersInFailoverAndIsAnErrorWhenNamed() {
    ScriptedProvider horde = hordeLike();
    ScriptedProvider other = new ScriptedProvider("other");
    serviceOf(horde, other);
    ImageGenerationRequest r = ImageGenerationRequest.builder().prompt("fox").sampler("euler_x").build();

    ImageGenerationResponse served = service.generateImageWithFailover(r);
    assertThat(served.provider()).isEqualTo("other");
    assertThat(served.attempts().get(0).provider()).isEqualTo("horde");
    assertThat(served.attempts().get(0).outcome()).isEqualTo(Attempt.Outcome.SKIPPED);
    assertThat(served.attempts().get(0).message()).contains("sampler 'euler_x' is not one of horde's samplers");
    assertThatThrownBy(() -> service.generateImage(r, "horde")).isInstanceOf(InvalidRequestException.class)
        .hasMessageContaining("sampler 'euler_x' is not one of horde's samplers");
    assertThat(service.generateImage(r.toBuilder().sampler("Euler a").build(), "horde").provider()).isEqualTo("horde");
    assertThat(horde.calls).hasValue(1);
  }

  @Test
  void aPromptLongerThanAProvidersLimitSkipsItIsInvalidWhenNamedAndNoCapableWhenNoneTakesIt() {
    ScriptedProvider fal = falLike();
    ScriptedProvider horde = hordeLike();
    serviceOf(fal, horde);
    ImageGenerationRequest mid = ImageGenerationRequest.builder().prompt("a".repeat(5_000)).build();
    ImageGenerationRequest huge = ImageGenerationRequest.builder().prompt("a".repeat(1 << 20)).build();

    ImageGenerationResponse r = service.generateImageWithFailover(mid);
    assertThat(r.provider()).isEqualTo("horde");
    assertThat(r.attempts().get(0).message()).contains("prompt is 5000 characters; fal accepts at most 2000");
    InvalidRequestException named = catchThrowableOfType(InvalidRequestException.class,
        () -> service.generateImage(mid, "fal"));
    assertThat(named.violations()).containsExactly("prompt is 5000 characters; fal accepts at most 2000");
    assertThat(named.providerId()).isEqualTo("fal");
    assertThatThrownBy(() -> service.generateImageWithFailover(huge)).isInstanceOf(NoCapableProviderException.class)
        .hasMessageContaining("fal: prompt is 1048576 characters; fal accepts at most 2000")
        .hasMessageContaining("horde: prompt is 1048576 characters; horde accepts at most 15000");
    assertThat(fal.calls).hasValue(0);
  }

  @Test
  void aProviderThatDeclaresNoPromptLimitGetsTheDocumentedDefault() {
    ScriptedProvider plain = new ScriptedProvider("plain");
    serviceOf(plain);
    int limit = ProviderCapabilities.DEFAULT_MAX_PROMPT_LENGTH;

    assertThat(service.generateImageWithFailover(ImageGenerationRequest.of("a".repeat(limit))).provider()).isEqualTo("plain");
    assertThatThrownBy(() -> service.generateImageWithFailover(ImageGenerationRequest.of("a".repeat(limit + 1))))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageContaining("prompt is " + (limit + 1) + " characters; plain accepts at most " + limit);
    assertThat(plain.calls).hasValue(1);
  }
}
