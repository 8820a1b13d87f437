package dev.imagegen.local.djl;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import org.jspecify.annotations.Nullable;

/**
 * The SDXL text-to-image and img2img loop over {@link Graphs}, as diffusers'
 * {@code StableDiffusionXLPipeline} computes it: both CLIP tokenizers and text encoders
 * (penultimate hidden states concatenated, pooled embedding of the second), zeros for an absent
 * negative prompt when {@code force_zeros_for_empty_prompt}, time ids
 * {@code (H, W, 0, 0, H, W)}, classifier-free guidance only when guidance &gt; 1 (negative half
 * first), one seeded generator per image (diffusers' list-of-generators form), VAE decode at
 * {@code latents / scaling_factor}, pixels rounded half to even.
 *
 * <p>Holds the loaded graphs; {@link #run} is called by one thread at a time.
 */
final class Pipeline implements AutoCloseable {
  static final int SEQ = ClipTokenizer.MAX_LENGTH;

  final String model;
  final ClipTokenizer tokenizer1;
  final ClipTokenizer tokenizer2;
  final Graphs graphs;
  final SchedulerConfig scheduler;
  final boolean forceZerosForEmptyPrompt;
  final double vaeScaling;

  Pipeline(String model, ClipTokenizer tokenizer1, ClipTokenizer tokenizer2, Graphs graphs, SchedulerConfig scheduler,
      boolean forceZerosForEmptyPrompt, double vaeScaling) {
    this.model = model;
    this.tokenizer1 = tokenizer1;
    this.tokenizer2 = tokenizer2;
    this.graphs = graphs;
    this.scheduler = scheduler;
    this.forceZerosForEmptyPrompt = forceZerosForEmptyPrompt;
    this.vaeScaling = vaeScaling;
  }

  /**
   * One generation.
   *
   * @param prompt the prompt
   * @param negative the negative prompt, or null for none
   * @param width width in pixels, a multiple of 8
   * @param height height in pixels, a multiple of 8
   * @param steps inference steps
   * @param guidance guidance scale; CFG runs only above 1
   * @param sampler the sampler
   * @param seeds one seed per image
   * @param initPixels the init image for img2img, [3, height, width] in [-1, 1], or null
   * @param strength img2img strength in (0, 1]
   */
  record Job(String prompt, @Nullable String negative, int width, int height, int steps, double guidance,
      Sampler sampler, long[] seeds, float @Nullable [] initPixels, double strength) {

    /** Steps actually run: all of them, or {@code min(floor(steps*strength), steps)} for img2img. */
    int stepsRun() {
      return initPixels == null ? steps : Math.min((int) Math.floor(steps * strength), steps);
    }
  }

  /** Progress and cancellation hooks of a run. */
  interface Listener {
    /** Checked before each step and before decoding; true stops the run with a {@link CancellationException}. */
    boolean cancelled();

    /** Called after each step. */
    void step(int done, int total);

    /** Called after the UNet call of each step with its time, for the overhead benchmark. */
    default void unetTime(long nanos) {}
  }

  /**
   * What a run produced.
   *
   * @param latents the final latents per image, [4, h, w] each
   * @param rgb 8-bit RGB pixels per image, row-major, 3 bytes a pixel
   * @param stepsRun the denoising steps run
   * @param warnings things worth telling the caller
   */
  record Result(List<float[]> latents, List<byte[]> rgb, int stepsRun, List<String> warnings) {}

  private record Text(float[] hidden, int dim, float[] pooled, int pooledDim) {}

  /**
   * Runs a generation.
   *
   * @throws CancellationException when the listener cancels between steps
   * @throws IllegalStateException when the VAE returns NaN or a graph returns an unexpected size
   */
  Result run(Job job, Listener listener) {
    return run(job, listener, true);
  }

  /** Runs a generation; {@code decode} false stops after the loop (tests, benchmark). */
  Result run(Job job, Listener listener, boolean decode) {
    int batch = job.seeds().length;
    int h = job.height() / 8;
    int w = job.width() / 8;
    int per = 4 * h * w;
    boolean cfg = job.guidance() > 1;
    List<String> warnings = new ArrayList<>();

    Text pos = encode(job.prompt(), warnings, "prompt");
    Text neg = null;
    if (cfg) {
      String n = job.negative();
      if ((n == null || n.isBlank()) && forceZerosForEmptyPrompt) {
        neg = new Text(new float[pos.hidden.length], pos.dim, new float[pos.pooled.length], pos.pooledDim);
      } else {
        neg = encode(n == null ? "" : n, warnings, "negative prompt");
      }
    }
    if (listener.cancelled()) {
      throw new CancellationException("cancelled before the first step");
    }

    Scheduler s = Scheduler.create(scheduler, job.sampler(), job.steps());
    TorchRandom[] gens = new TorchRandom[batch];
    for (int b = 0; b < batch; b++) {
      gens[b] = new TorchRandom(job.seeds()[b]);
    }
    float[] x = new float[batch * per];
    int tStart = 0;
    if (job.initPixels() == null) {
      for (int b = 0; b < batch; b++) {
        float[] noise = gens[b].randn(per);
        for (int k = 0; k < per; k++) {
          x[b * per + k] = (float) (noise[k] * s.initNoiseSigma);
        }
      }
    } else {
      int run = job.stepsRun();
      if (run < 1) {
        throw new IllegalArgumentException("steps x strength must be at least 1");
      }
      tStart = job.steps() - run;
      float[] enc = graphs.encode(job.initPixels(), 1, job.height(), job.width());
      boolean params = graphs.encoderReturnsParameters();
      check(enc, (params ? 2 : 1) * per, "vae_encoder");
      for (int b = 0; b < batch; b++) {
        float[] lat = new float[per];
        if (params) {
          float[] n1 = gens[b].randn(per);
          for (int k = 0; k < per; k++) {
            double logvar = Math.max(-30, Math.min(20, enc[per + k]));
            lat[k] = (float) (vaeScaling * (enc[k] + Math.exp(0.5 * logvar) * n1[k]));
          }
        } else {
          for (int k = 0; k < per; k++) {
            lat[k] = (float) (vaeScaling * enc[k]);
          }
        }
        s.addNoise(lat, gens[b].randn(per), tStart);
        System.arraycopy(lat, 0, x, b * per, per);
      }
    }

    int unetBatch = cfg ? 2 * batch : batch;
    int dim = pos.dim;
    float[] ehs = new float[unetBatch * SEQ * dim];
    float[] pooled = new float[unetBatch * pos.pooledDim];
    float[] timeIds = new float[unetBatch * 6];
    for (int b = 0; b < unetBatch; b++) {
      Text t = cfg && b < batch ? Objects.requireNonNull(neg) : pos;
      System.arraycopy(t.hidden, 0, ehs, b * SEQ * dim, SEQ * dim);
      System.arraycopy(t.pooled, 0, pooled, b * pos.pooledDim, pos.pooledDim);
      float[] ids = {job.height(), job.width(), 0, 0, job.height(), job.width()};
      System.arraycopy(ids, 0, timeIds, b * 6, 6);
    }

    int total = job.steps() - tStart;
    float[] input = new float[unetBatch * per];
    float[] eps = new float[batch * per];
    for (int i = tStart; i < job.steps(); i++) {
      if (listener.cancelled()) {
        throw new CancellationException("cancelled after " + (i - tStart) + " of " + total + " steps");
      }
      float scale = (float) s.inputScale(i);
      for (int k = 0; k < x.length; k++) {
        float v = x[k] * scale;
        input[k] = v;
        if (cfg) {
          input[x.length + k] = v;
        }
      }
      long t0 = System.nanoTime();
      float[] out = graphs.unet(input, unetBatch, h, w, s.timesteps[i], ehs, dim, pooled, pos.pooledDim, timeIds);
      listener.unetTime(System.nanoTime() - t0);
      check(out, unetBatch * per, "unet");
      if (cfg) {
        float g = (float) job.guidance();
        int half = batch * per;
        for (int k = 0; k < half; k++) {
          float u = out[k];
          eps[k] = u + g * (out[half + k] - u);
        }
      } else {
        System.arraycopy(out, 0, eps, 0, eps.length);
      }
      s.step(i, eps, x, () -> {
        float[] noise = new float[batch * per];
        for (int b = 0; b < batch; b++) {
          System.arraycopy(gens[b].randn(per), 0, noise, b * per, per);
        }
        return noise;
      });
      listener.step(i - tStart + 1, total);
    }

    List<float[]> latents = new ArrayList<>();
    List<byte[]> images = new ArrayList<>();
    for (int b = 0; b < batch; b++) {
      float[] lat = new float[per];
      System.arraycopy(x, b * per, lat, 0, per);
      latents.add(lat);
    }
    if (decode) {
      for (int b = 0; b < batch; b++) {
        if (listener.cancelled()) {
          throw new CancellationException("cancelled before decoding");
        }
        float[] scaled = new float[per];
        float[] lat = latents.get(b);
        for (int k = 0; k < per; k++) {
          scaled[k] = (float) (lat[k] / vaeScaling);
        }
        float[] pixels = graphs.decode(scaled, 1, h, w);
        check(pixels, 3 * job.width() * job.height(), "vae_decoder");
        images.add(toRgb(pixels, job.width(), job.height()));
      }
    }
    return new Result(latents, images, total, warnings);
  }

  private Text encode(String prompt, List<String> warnings, String what) {
    ClipTokenizer.Encoding e1 = tokenizer1.encode(prompt);
    ClipTokenizer.Encoding e2 = tokenizer2.encode(prompt);
    if (e1.truncated() || e2.truncated()) {
      warnings.add("the " + what + " is " + Math.max(e1.contentTokens(), e2.contentTokens())
          + " CLIP tokens long; only the first 75 were used");
    }
    Graphs.TextOutput t1 = graphs.encodeText(1, e1.ids(), 1);
    Graphs.TextOutput t2 = graphs.encodeText(2, e2.ids(), 1);
    check(t1.hidden(), SEQ * t1.dim(), "text_encoder");
    check(t2.hidden(), SEQ * t2.dim(), "text_encoder_2");
    if (t2.pooled() == null || t2.pooled().length != t2.pooledDim()) {
      throw new IllegalStateException("text_encoder_2 returned no pooled text_embeds");
    }
    int dim = t1.dim() + t2.dim();
    float[] hidden = new float[SEQ * dim];
    for (int p = 0; p < SEQ; p++) {
      System.arraycopy(t1.hidden(), p * t1.dim(), hidden, p * dim, t1.dim());
      System.arraycopy(t2.hidden(), p * t2.dim(), hidden, p * dim + t1.dim(), t2.dim());
    }
    return new Text(hidden, dim, t2.pooled(), t2.pooledDim());
  }

  private static void check(float[] out, int expected, String graph) {
    if (out.length != expected) {
      throw new IllegalStateException(graph + " returned " + out.length + " values, expected " + expected);
    }
  }

  /**
   * NCHW pixels in [-1, 1] to 8-bit RGB: {@code round_half_even(255 * clamp(v/2 + 0.5, 0, 1))}.
   *
   * @throws IllegalStateException when a value is NaN (an fp16 VAE overflowing)
   */
  static byte[] toRgb(float[] pixels, int width, int height) {
    int plane = width * height;
    byte[] rgb = new byte[plane * 3];
    for (int c = 0; c < 3; c++) {
      for (int p = 0; p < plane; p++) {
        float v = pixels[c * plane + p];
        if (Float.isNaN(v)) {
          throw new IllegalStateException("the VAE decoder returned NaN (an fp16 VAE overflows: use the fp32 VAE,"
              + " or an fp16-fixed one)");
        }
        double u = Math.max(0, Math.min(1, v / 2.0 + 0.5));
        rgb[p * 3 + c] = (byte) (int) Math.rint(255 * (float) u);
      }
    }
    return rgb;
  }

  @Override
  public void close() {
    graphs.close();
  }
}
