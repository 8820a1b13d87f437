package dev.imagegen.local.djl;

import org.jspecify.annotations.Nullable;

/**
 * The five networks of an SDXL pipeline as the denoising loop sees them: float arrays in, float
 * arrays out, row-major (NCHW). {@link OnnxGraphs} runs them on ONNX Runtime through DJL; tests
 * substitute Java stand-ins. Implementations convert to each graph's own dtypes (float16, int64
 * timesteps). Called from one thread at a time per instance.
 */
interface Graphs extends AutoCloseable {

  /**
   * What a text encoder gives the pipeline.
   *
   * @param hidden the penultimate hidden states, [batch, 77, dim]
   * @param dim the hidden width (768 or 1280)
   * @param pooled the pooled, projected embedding [batch, pooledDim] (second encoder only), or null
   * @param pooledDim its width (1280), or 0
   */
  record TextOutput(float[] hidden, int dim, float @Nullable [] pooled, int pooledDim) {}

  /**
   * Runs a text encoder.
   *
   * @param encoder 1 for {@code text_encoder}, 2 for {@code text_encoder_2}
   * @param ids token ids, [batch, 77]
   * @param batch the batch size
   */
  TextOutput encodeText(int encoder, long[] ids, int batch);

  /**
   * Runs the UNet once.
   *
   * @param sample scaled latents [batch, 4, h, w]
   * @param batch the batch size
   * @param h latent height
   * @param w latent width
   * @param timestep the timestep (fractional for some spacings)
   * @param encoderHiddenStates [batch, 77, dim]
   * @param dim the text width (2048)
   * @param textEmbeds pooled embeddings [batch, pooledDim]
   * @param pooledDim their width (1280)
   * @param timeIds [batch, 6]
   * @return {@code out_sample} [batch, 4, h, w]
   */
  float[] unet(float[] sample, int batch, int h, int w, double timestep, float[] encoderHiddenStates, int dim,
      float[] textEmbeds, int pooledDim, float[] timeIds);

  /**
   * Decodes latents (already divided by the scaling factor).
   *
   * @return pixels [batch, 3, 8h, 8w] in about [-1, 1]
   */
  float[] decode(float[] latents, int batch, int h, int w);

  /** Whether a VAE encoder is present (img2img). */
  boolean canEncode();

  /** Whether the encoder returns mean and log-variance (8 channels) rather than a sample (4). */
  boolean encoderReturnsParameters();

  /**
   * Encodes pixels in [-1, 1], [batch, 3, height, width].
   *
   * @return [batch, 8 or 4, height/8, width/8]
   */
  float[] encode(float[] pixels, int batch, int height, int width);

  /** Releases the sessions. */
  @Override
  void close();
}
