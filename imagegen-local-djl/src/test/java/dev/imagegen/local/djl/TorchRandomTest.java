package dev.imagegen.local.djl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** The seeded noise against values PyTorch prints for {@code torch.manual_seed(0)}. */
class TorchRandomTest {

  @Test
  void mt19937MatchesTheReferenceSequence() {
    // std::mt19937 default seed 5489: the 10000th output is 4123659995 (C++ standard, [rand.predef])
    TorchRandom r = new TorchRandom(5489);
    long v = 0;
    for (int i = 0; i < 10000; i++) {
      v = r.nextUint32();
    }
    assertThat(v).isEqualTo(4123659995L);
  }

  @Test
  void shortTensorsUseTheDoublePath() {
    // torch.manual_seed(0); torch.randn(5)
    float[] v = new TorchRandom(0).randn(5);
    float[] expected = {1.5410f, -0.2934f, -2.1788f, 0.5684f, -1.0845f};
    for (int i = 0; i < 5; i++) {
      assertThat(v[i]).isCloseTo(expected[i], within(1e-4f));
    }
  }

  @Test
  void tensorsOfSixteenOrMoreUseTheFloatPath() {
    // torch.manual_seed(0); torch.randn(4, 4)
    float[] v = new TorchRandom(0).randn(16);
    float[] expected = {-1.1258f, -1.1524f, -0.2506f, -0.4339f, 0.8487f, 0.6920f, -0.3160f, -2.1152f,
        0.3223f, -1.2633f, 0.3500f, 0.3081f, 0.1198f, 1.2377f, 1.1168f, -0.2473f};
    for (int i = 0; i < 16; i++) {
      assertThat(v[i]).as("index %d", i).isCloseTo(expected[i], within(1e-4f));
    }
  }

  @Test
  void sameSeedSameNoiseOtherSeedOtherNoise() {
    assertThat(new TorchRandom(42).randn(1000)).containsExactly(new TorchRandom(42).randn(1000));
    assertThat(new TorchRandom(42).randn(1000)).isNotEqualTo(new TorchRandom(43).randn(1000));
  }

  @Test
  void raggedTailRecomputesTheLastSixteen() {
    float[] v = new TorchRandom(7).randn(20);
    // the first 16 are the 16-element tensor's values except where the tail overwrote them (indices 4..19)
    float[] head = new TorchRandom(7).randn(16);
    assertThat(v[0]).isEqualTo(head[0]);
    assertThat(v[3]).isEqualTo(head[3]);
    double mean = 0;
    for (float f : new TorchRandom(1).randn(100_000)) {
      mean += f;
    }
    assertThat(mean / 100_000).isCloseTo(0.0, within(0.02));
  }
}
