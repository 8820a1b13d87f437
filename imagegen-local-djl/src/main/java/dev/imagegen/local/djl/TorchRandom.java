package dev.imagegen.local.djl;

/**
 * PyTorch's CPU generator, re-implemented: {@code torch.Generator("cpu").manual_seed(seed)} is an
 * mt19937 seeded with the low 32 bits of the seed, and {@link #randn(int)} follows ATen's
 * {@code normal_kernel} for a contiguous float32 tensor of that many elements:
 * <ul>
 *   <li>fewer than 16 elements: {@code normal_distribution<double>}: two 53-bit uniforms (each
 *       from two 32-bit draws), Box-Muller, the sine kept for the next call;</li>
 *   <li>16 or more: every element gets a 24-bit float uniform, then each block of 16 is turned into
 *       normals pairwise ({@code j}, {@code j+8}); a ragged tail redraws and recomputes the last 16.</li>
 * </ul>
 * The float path's log/sin/cos are computed here in double and rounded to float, where ATen uses
 * float (and, on AVX2 builds, a vectorised approximation): values agree to about one float ulp,
 * not bit for bit. Not thread-safe.
 */
final class TorchRandom {
  private static final int N = 624;
  private static final int M = 397;
  private final int[] mt = new int[N];
  private int index;
  private double nextDoubleNormal = Double.NaN;

  /**
   * Seeds the generator as {@code torch.manual_seed(seed)} does.
   *
   * @param seed the seed (its low 32 bits are used, as by PyTorch's mt19937)
   */
  TorchRandom(long seed) {
    mt[0] = (int) seed;
    for (int j = 1; j < N; j++) {
      mt[j] = 1812433253 * (mt[j - 1] ^ (mt[j - 1] >>> 30)) + j;
    }
    index = N;
  }

  /** The next 32-bit output of mt19937, unsigned in a long. */
  long nextUint32() {
    if (index >= N) {
      twist();
    }
    int y = mt[index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y & 0xffffffffL;
  }

  private void twist() {
    for (int i = 0; i < N; i++) {
      int y = (mt[i] & 0x80000000) | (mt[(i + 1) % N] & 0x7fffffff);
      int v = mt[(i + M) % N] ^ (y >>> 1);
      if ((y & 1) != 0) {
        v ^= 0x9908b0df;
      }
      mt[i] = v;
    }
    index = 0;
  }

  /** ATen {@code uniform_real_distribution<float>(0, 1)}: 24 random bits over 2^24. */
  float uniformFloat() {
    return (nextUint32() & 0xffffff) * (1.0f / (1 << 24));
  }

  /** ATen {@code uniform_real_distribution<double>(0, 1)}: 53 bits of {@code random64()}. */
  double uniformDouble() {
    long hi = nextUint32();
    long lo = nextUint32();
    long v = (hi << 32) | lo;
    return (v & ((1L << 53) - 1)) * (1.0 / (1L << 53));
  }

  /** ATen {@code normal_distribution<double>}, with the cached second sample. */
  double normalDouble() {
    if (!Double.isNaN(nextDoubleNormal)) {
      double v = nextDoubleNormal;
      nextDoubleNormal = Double.NaN;
      return v;
    }
    double u1 = uniformDouble();
    double u2 = uniformDouble();
    double r = Math.sqrt(-2.0 * Math.log1p(-u2));
    double theta = 2.0 * Math.PI * u1;
    nextDoubleNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /**
   * {@code torch.randn(n, generator=this, dtype=torch.float32)} on CPU.
   *
   * @param n the number of elements of the (contiguous) tensor
   * @return the samples
   */
  float[] randn(int n) {
    float[] data = new float[n];
    if (n < 16) {
      for (int i = 0; i < n; i++) {
        data[i] = (float) normalDouble();
      }
      return data;
    }
    for (int i = 0; i < n; i++) {
      data[i] = uniformFloat();
    }
    for (int i = 0; i < n - 15; i += 16) {
      boxMuller16(data, i);
    }
    if (n % 16 != 0) {
      int start = n - 16;
      for (int i = 0; i < 16; i++) {
        data[start + i] = uniformFloat();
      }
      boxMuller16(data, start);
    }
    return data;
  }

  private static void boxMuller16(float[] data, int off) {
    for (int j = 0; j < 8; j++) {
      float u1 = 1 - data[off + j];
      float u2 = data[off + j + 8];
      float radius = (float) Math.sqrt(-2 * (float) Math.log(u1));
      float theta = (float) (2.0 * Math.PI * u2);
      data[off + j] = radius * (float) Math.cos(theta);
      data[off + j + 8] = radius * (float) Math.sin(theta);
    }
  }
}
