package dev.imagegen.local.djl;

import java.util.ArrayList;
import java.util.List;

/**
 * The stand-in networks of protocols/local-sdxl.md §4 in plain Java (the same formulas the ONNX
 * stand-ins compute): text encoders whose {@code hidden_states.i} = id + i, pooled = mean over the
 * sequence of the last layer; a UNet {@code k*sample + we*mean(ehs) + wt*mean(text_embeds) +
 * wi*mean(time_ids) + ws*timestep}; a VAE decoder taking channels 0-2 upsampled x8 (nearest); a
 * VAE encoder averaging each 8x8 patch over the 3 channels into the 4 mean channels, log-variance -30.
 * Records what the UNet was given.
 */
class StandInGraphs implements Graphs {
  static final int D1 = 768;
  static final int D2 = 1280;
  static final int LAYERS1 = 12;
  static final int LAYERS2 = 32;

  final float k;
  final float we;
  final float wt;
  final float wi;
  final float ws;
  final List<Integer> unetBatches = new ArrayList<>();
  final List<Double> timesteps = new ArrayList<>();
  float[] firstEhs;
  float[] firstTextEmbeds;
  float[] firstTimeIds;
  boolean closed;

  StandInGraphs(float k, float we, float wt, float wi, float ws) {
    this.k = k;
    this.we = we;
    this.wt = wt;
    this.wi = wi;
    this.ws = ws;
  }

  /** The UNet returning 0.5 x its input, nothing else. */
  static StandInGraphs half() {
    return new StandInGraphs(0.5f, 0, 0, 0, 0);
  }

  @Override
  public TextOutput encodeText(int encoder, long[] ids, int batch) {
    int dim = encoder == 1 ? D1 : D2;
    int layers = encoder == 1 ? LAYERS1 : LAYERS2;
    int seq = ids.length / batch;
    float[] hidden = new float[ids.length * dim];
    for (int t = 0; t < ids.length; t++) {
      for (int d = 0; d < dim; d++) {
        hidden[t * dim + d] = ids[t] + (layers - 1);
      }
    }
    float[] pooled = null;
    if (encoder == 2) {
      pooled = new float[batch * D2];
      for (int b = 0; b < batch; b++) {
        double sum = 0;
        for (int t = 0; t < seq; t++) {
          sum += ids[b * seq + t] + layers;
        }
        for (int d = 0; d < D2; d++) {
          pooled[b * D2 + d] = (float) (sum / seq);
        }
      }
    }
    return new TextOutput(hidden, dim, pooled, encoder == 2 ? D2 : 0);
  }

  @Override
  public float[] unet(float[] sample, int batch, int h, int w, double timestep, float[] ehs, int dim,
      float[] textEmbeds, int pooledDim, float[] timeIds) {
    unetBatches.add(batch);
    timesteps.add(timestep);
    if (firstEhs == null) {
      firstEhs = ehs.clone();
      firstTextEmbeds = textEmbeds.clone();
      firstTimeIds = timeIds.clone();
    }
    int per = sample.length / batch;
    float[] out = new float[sample.length];
    for (int b = 0; b < batch; b++) {
      float add = (float) (we * mean(ehs, b, ehs.length / batch) + wt * mean(textEmbeds, b, pooledDim)
          + wi * mean(timeIds, b, 6) + ws * timestep);
      for (int i = 0; i < per; i++) {
        out[b * per + i] = k * sample[b * per + i] + add;
      }
    }
    return out;
  }

  static double mean(float[] a, int row, int len) {
    double s = 0;
    for (int i = 0; i < len; i++) {
      s += a[row * len + i];
    }
    return s / len;
  }

  @Override
  public float[] decode(float[] latents, int batch, int h, int w) {
    int H = h * 8;
    int W = w * 8;
    float[] out = new float[batch * 3 * H * W];
    for (int b = 0; b < batch; b++) {
      for (int c = 0; c < 3; c++) {
        for (int y = 0; y < H; y++) {
          for (int x = 0; x < W; x++) {
            out[((b * 3 + c) * H + y) * W + x] = latents[((b * 4 + c) * h + y / 8) * w + x / 8];
          }
        }
      }
    }
    return out;
  }

  @Override
  public boolean canEncode() {
    return true;
  }

  @Override
  public boolean encoderReturnsParameters() {
    return true;
  }

  @Override
  public float[] encode(float[] pixels, int batch, int height, int width) {
    int h = height / 8;
    int w = width / 8;
    float[] out = new float[batch * 8 * h * w];
    for (int b = 0; b < batch; b++) {
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          double sum = 0;
          for (int c = 0; c < 3; c++) {
            for (int dy = 0; dy < 8; dy++) {
              for (int dx = 0; dx < 8; dx++) {
                sum += pixels[((b * 3 + c) * height + y * 8 + dy) * width + x * 8 + dx];
              }
            }
          }
          for (int c = 0; c < 8; c++) {
            out[((b * 8 + c) * h + y) * w + x] = c < 4 ? (float) (sum / 192) : -30f;
          }
        }
      }
    }
    return out;
  }

  @Override
  public void close() {
    closed = true;
  }
}
