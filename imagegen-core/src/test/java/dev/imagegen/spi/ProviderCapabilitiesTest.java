package dev.imagegen.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.ImageGenerationService;
import dev.imagegen.InputImage;
import dev.imagegen.NoCapableProviderException;
import dev.imagegen.testing.ScriptedProvider;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The one rule for soft and hard inputs, as every provider gets it from its capabilities. */
class ProviderCapabilitiesTest {

  /** A provider with a FLUX model (no negative prompt, guidance or sampler) and an SDXL model (everything). */
  private static ProviderCapabilities fluxAndSdxl() {
    return ProviderCapabilities.builder()
        .models("flux-schnell", "sdxl")
        .negativePrompt(true)
        .maxSteps(50)
        .modelInputs(r -> "sdxl".equals(r.model()) ? Set.of()
            : EnumSet.of(SoftInput.NEGATIVE_PROMPT, SoftInput.GUIDANCE, SoftInput.SAMPLER))
        .build();
  }

  private static ImageGenerationRequest.Builder flux() {
    return ImageGenerationRequest.builder().prompt("a red fox").model("flux-schnell");
  }

  @Test
  void softInputsTheModelIgnoresAreDroppedWithAWarningNotAReasonToSkip() {
    ProviderCapabilities caps = fluxAndSdxl();
    ImageGenerationRequest r = flux().negativePrompt("blurry").guidanceScale(3.5).sampler("euler").steps(4).build();

    assertThat(caps.whyNot(r)).isEmpty();
    assertThat(caps.softDrops(r)).containsExactly(SoftInput.NEGATIVE_PROMPT, SoftInput.SAMPLER, SoftInput.GUIDANCE);
    assertThat(caps.drops(r, SoftInput.NEGATIVE_PROMPT)).isTrue();
    assertThat(caps.drops(r, SoftInput.STEPS)).isFalse();
    assertThat(caps.warnings(r)).containsExactly(
        "negative prompt not sent: model 'flux-schnell' does not take it",
        "sampler 'euler' not sent: model 'flux-schnell' does not take it",
        "guidance scale 3.5 not sent: model 'flux-schnell' does not take it");
  }

  @Test
  void strictRequestMakesSoftInputsHardAndListsThem() {
    ProviderCapabilities caps = fluxAndSdxl();
    ImageGenerationRequest r = flux().negativePrompt("blurry").guidanceScale(3.5).strict(true).build();

    assertThat(caps.whyNot(r)).containsExactly(
        "negative prompt would be dropped: model 'flux-schnell' does not take it (strict request)",
        "guidance scale 3.5 would be dropped: model 'flux-schnell' does not take it (strict request)");
    assertThat(caps.whyNot(r.toBuilder().model("sdxl").build())).as("SDXL honours both").isEmpty();
    assertThat(caps.whyNot(flux().strict(true).build())).as("nothing soft is set").isEmpty();
  }

  @Test
  void providerWideIgnoredInputsComeFromNegativePromptFalseAndIgnores() {
    ProviderCapabilities caps = ProviderCapabilities.builder().negativePrompt(false).ignores(SoftInput.SAMPLER).build();
    ImageGenerationRequest r = ImageGenerationRequest.builder().prompt("x").negativePrompt("rain").sampler("ddim").build();

    assertThat(caps.ignoredInputs()).containsExactlyInAnyOrder(SoftInput.NEGATIVE_PROMPT, SoftInput.SAMPLER);
    assertThat(caps.negativePrompt()).isFalse();
    assertThat(caps.whyNot(r)).isEmpty();
    assertThat(caps.warnings(r)).containsExactly("negative prompt not sent: the default model does not take it",
        "sampler 'ddim' not sent: the default model does not take it");
    assertThat(ProviderCapabilities.builder().negativePrompt(true).ignores(SoftInput.NEGATIVE_PROMPT).build().negativePrompt())
        .isFalse();
  }

  @Test
  void theDefaultNegativePromptAndBlankValuesAreNotInputsTheCallerSet() {
    ProviderCapabilities caps = ProviderCapabilities.builder().negativePrompt(false).ignores(SoftInput.SAMPLER).build();
    ImageGenerationRequest r = ImageGenerationRequest.builder().prompt("x").negativePrompt(" ").sampler("").strict(true).build();

    assertThat(ImageGenerationRequest.of("x").effectiveNegativePrompt()).isNotNull();
    assertThat(caps.softDrops(ImageGenerationRequest.of("x"))).isEmpty();
    assertThat(caps.softDrops(r)).isEmpty();
    assertThat(caps.whyNot(r)).isEmpty();
  }

  @Test
  void hardInputsAreReasonsWhetherStrictOrNot() {
    ProviderCapabilities caps = fluxAndSdxl();
    ImageGenerationRequest r = flux().size(4096, 4096).lora("detail", 0.5).steps(80)
        .inputImage(InputImage.ofBytes(InputImage.Role.INIT, ScriptedProvider.png())).build();

    assertThat(caps.whyNot(r)).containsExactly("size 4096x4096 outside 64..2048", "steps 80 above 50",
        "no img2img (init image would be dropped)", "no LoRA support (LoRAs would be dropped)");
    assertThat(caps.whyNot(r.toBuilder().strict(true).build())).isEqualTo(caps.whyNot(r));
  }

  @Test
  void aModelLookupThatThrowsLeavesOnlyTheProviderWideRule() {
    ProviderCapabilities caps = ProviderCapabilities.builder().negativePrompt(true).modelInputs(r -> {
      throw new IllegalArgumentException("unknown model");
    }).build();
    ImageGenerationRequest r = flux().negativePrompt("blurry").strict(true).build();

    assertThat(caps.whyNot(r)).isEmpty();
    assertThat(caps.softDrops(r)).isEmpty();
  }

  @Test
  void routingServesASoftDropAndSkipsItWhenStrict() {
    ScriptedProvider flux = new ScriptedProvider("flux", fluxAndSdxl(), CostModel.free());
    try (ImageGenerationService s = ImageGenerationService.builder()
        .provider(flux, ProviderConfig.builder("flux").build()).build()) {
      ImageGenerationResponse r = s.generateImage(flux().negativePrompt("blurry").build(), "flux");
      assertThat(r.provider()).isEqualTo("flux");

      assertThatThrownBy(() -> s.generateImageWithFailover(flux().negativePrompt("blurry").strict(true).build()))
          .isInstanceOf(NoCapableProviderException.class)
          .hasMessageContaining("flux: negative prompt would be dropped: model 'flux-schnell' does not take it (strict request)");
      assertThat(flux.calls).hasValue(1);
    }
  }
}
