package dev.imagegen.local.djl;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;
import ai.djl.translate.TranslateException;
import dev.imagegen.local.djl.OnnxHeader.ValueInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ShortBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/**
 * The five graphs of an optimum export run on DJL's ONNX Runtime engine (named explicitly, so a
 * tokenizers or PyTorch jar on the class path cannot become the default). Each graph is loaded by
 * path, so weights kept in {@code model.onnx_data} load beside it. Inputs are bound by name and
 * converted to each graph's declared dtype (float32 or float16; the timestep also int64/int32,
 * rank 0 or 1). ORT arrays have no math: all math stays in Java arrays.
 *
 * <p>Thread-safe: ORT sessions allow concurrent runs, and each call makes its own predictor and
 * array manager.
 */
final class OnnxGraphs implements Graphs {
  static final String ENGINE = "OnnxRuntime";

  private final ModelDirectory.Spec spec;
  final Device device;
  private final List<ZooModel<NDList, NDList>> models;
  private final ZooModel<NDList, NDList> te1;
  private final ZooModel<NDList, NDList> te2;
  private final ZooModel<NDList, NDList> unet;
  private final ZooModel<NDList, NDList> decoder;
  private final @Nullable ZooModel<NDList, NDList> encoder;
  /** Time spent inside the UNet's {@code predict} alone (ONNX Runtime plus DJL's binding), for the benchmark. */
  final LongAdder unetPredictNanos = new LongAdder();

  private OnnxGraphs(ModelDirectory.Spec spec, Device device, List<ZooModel<NDList, NDList>> models) {
    this.spec = spec;
    this.device = device;
    this.models = models;
    this.te1 = models.get(0);
    this.te2 = models.get(1);
    this.unet = models.get(2);
    this.decoder = models.get(3);
    this.encoder = models.size() > 4 ? models.get(4) : null;
  }

  /**
   * Creates an ONNX Runtime session for each graph of a checked directory.
   *
   * @param spec the directory, already checked by {@link ModelDirectory#inspect}
   * @param device CPU or GPU (CUDA execution provider)
   * @param options ORT session options as DJL names them ({@code intraOpNumThreads}, {@code optLevel}...)
   * @throws IOException when a graph cannot be loaded (the message names it)
   */
  static OnnxGraphs load(ModelDirectory.Spec spec, Device device, Map<String, String> options) throws IOException {
    List<ZooModel<NDList, NDList>> loaded = new ArrayList<>();
    List<String> components = new ArrayList<>(List.of(ModelDirectory.TEXT_ENCODER, ModelDirectory.TEXT_ENCODER_2,
        ModelDirectory.UNET, ModelDirectory.VAE_DECODER));
    if (spec.vaeEncoder() != null) {
      components.add(ModelDirectory.VAE_ENCODER);
    }
    try {
      for (String c : components) {
        Criteria.Builder<NDList, NDList> b = Criteria.builder().setTypes(NDList.class, NDList.class)
            .optModelPath(spec.graph(c)).optEngine(ENGINE).optDevice(device).optTranslator(new NoopTranslator());
        options.forEach(b::optOption);
        try {
          loaded.add(b.build().loadModel());
        } catch (ModelNotFoundException | MalformedModelException | RuntimeException e) {
          throw new IOException(c + "/model.onnx could not be loaded on " + device + ": " + rootMessage(e), e);
        }
      }
      return new OnnxGraphs(spec, device, loaded);
    } catch (IOException | RuntimeException e) {
      loaded.forEach(ZooModel::close);
      throw e;
    }
  }

  static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    String m = t.getMessage();
    return m == null ? t.getClass().getSimpleName() : m;
  }

  @Override
  public TextOutput encodeText(int encoder, long[] ids, int batch) {
    ZooModel<NDList, NDList> model = encoder == 1 ? te1 : te2;
    OnnxHeader h = encoder == 1 ? spec.textEncoder() : spec.textEncoder2();
    String penultimate = encoder == 1 ? spec.penultimate1() : spec.penultimate2();
    ValueInfo in = h.input("input_ids");
    try (NDManager m = model.getNDManager().newSubManager(); Predictor<NDList, NDList> p = model.newPredictor()) {
      Shape shape = new Shape(batch, ids.length / batch);
      NDArray arr;
      if (in != null && in.elemType() == OnnxHeader.INT32) {
        int[] i32 = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
          i32[i] = (int) ids[i];
        }
        arr = m.create(i32, shape);
      } else {
        arr = m.create(ids, shape);
      }
      arr.setName("input_ids");
      NDList out = p.predict(new NDList(arr));
      try {
        NDArray hidden = named(out, penultimate, encoder == 1 ? "text_encoder" : "text_encoder_2");
        long[] hs = hidden.getShape().getShape();
        float[] pooled = null;
        int pooledDim = 0;
        if (encoder == 2) {
          NDArray pe = named(out, "text_embeds", "text_encoder_2");
          pooled = floats(pe);
          pooledDim = (int) pe.getShape().get(pe.getShape().dimension() - 1);
        }
        return new TextOutput(floats(hidden), (int) hs[hs.length - 1], pooled, pooledDim);
      } finally {
        out.close();
      }
    } catch (TranslateException e) {
      throw new IllegalStateException((encoder == 1 ? "text_encoder" : "text_encoder_2") + " failed: " + rootMessage(e), e);
    }
  }

  /**
   * The conditioning of the current run on this thread, kept as engine arrays between steps: the
   * same Java arrays arrive at every step of a run, so they are copied to the engine once per run,
   * not once per step (the text states are 1.2 MB per CFG pair).
   */
  private static final class Conditioning {
    float @Nullable [] ehs;
    float @Nullable [] textEmbeds;
    float @Nullable [] timeIds;
    int batch;
    @Nullable NDManager manager;
    NDArray @Nullable [] arrays;

    void close() {
      if (manager != null) {
        manager.close();
        manager = null;
      }
    }
  }

  private final ThreadLocal<Conditioning> conditioning = ThreadLocal.withInitial(Conditioning::new);
  private final Set<Conditioning> allConditioning = ConcurrentHashMap.newKeySet();

  private NDArray[] conditioning(int batch, float[] ehs, int dim, float[] textEmbeds, int pooledDim, float[] timeIds) {
    Conditioning c = conditioning.get();
    if (c.manager == null || c.ehs != ehs || c.textEmbeds != textEmbeds || c.timeIds != timeIds || c.batch != batch) {
      c.close();
      OnnxHeader hdr = spec.unet();
      NDManager m = unet.getNDManager().newSubManager();
      c.manager = m;
      c.ehs = ehs;
      c.textEmbeds = textEmbeds;
      c.timeIds = timeIds;
      c.batch = batch;
      c.arrays = new NDArray[] {
          input(m, hdr, "encoder_hidden_states", ehs, new Shape(batch, Pipeline.SEQ, dim)),
          input(m, hdr, "text_embeds", textEmbeds, new Shape(batch, pooledDim)),
          input(m, hdr, "time_ids", timeIds, new Shape(batch, 6))};
      allConditioning.add(c);
    }
    return Objects.requireNonNull(c.arrays);
  }

  @Override
  public float[] unet(float[] sample, int batch, int h, int w, double timestep, float[] encoderHiddenStates, int dim,
      float[] textEmbeds, int pooledDim, float[] timeIds) {
    OnnxHeader hdr = spec.unet();
    NDArray[] cond = conditioning(batch, encoderHiddenStates, dim, textEmbeds, pooledDim, timeIds);
    try (NDManager m = unet.getNDManager().newSubManager(); Predictor<NDList, NDList> p = unet.newPredictor()) {
      NDList in = new NDList(
          input(m, hdr, "sample", sample, new Shape(batch, 4, h, w)),
          timestep(m, hdr.input("timestep"), timestep, batch),
          cond[0], cond[1], cond[2]);
      long t0 = System.nanoTime();
      NDList out = p.predict(in);
      unetPredictNanos.add(System.nanoTime() - t0);
      try {
        return floats(named(out, "out_sample", "unet"));
      } finally {
        out.close();
      }
    } catch (TranslateException e) {
      throw new IllegalStateException("unet failed: " + rootMessage(e), e);
    }
  }

  @Override
  public float[] decode(float[] latents, int batch, int h, int w) {
    try (NDManager m = decoder.getNDManager().newSubManager(); Predictor<NDList, NDList> p = decoder.newPredictor()) {
      NDList out = p.predict(new NDList(input(m, spec.vaeDecoder(), "latent_sample", latents, new Shape(batch, 4, h, w))));
      try {
        return floats(named(out, "sample", "vae_decoder"));
      } finally {
        out.close();
      }
    } catch (TranslateException e) {
      throw new IllegalStateException("vae_decoder failed: " + rootMessage(e), e);
    }
  }

  @Override
  public boolean canEncode() {
    return encoder != null;
  }

  @Override
  public boolean encoderReturnsParameters() {
    return spec.encoderOutput() == ModelDirectory.EncoderOutput.PARAMETERS;
  }

  @Override
  public float[] encode(float[] pixels, int batch, int height, int width) {
    ZooModel<NDList, NDList> enc = encoder;
    OnnxHeader hdr = spec.vaeEncoder();
    if (enc == null || hdr == null) {
      throw new IllegalStateException("this model has no vae_encoder: img2img is not available");
    }
    String output = encoderReturnsParameters() ? "latent_parameters" : "latent_sample";
    try (NDManager m = enc.getNDManager().newSubManager(); Predictor<NDList, NDList> p = enc.newPredictor()) {
      NDList out = p.predict(new NDList(input(m, hdr, "sample", pixels, new Shape(batch, 3, height, width))));
      try {
        return floats(named(out, output, "vae_encoder"));
      } finally {
        out.close();
      }
    } catch (TranslateException e) {
      throw new IllegalStateException("vae_encoder failed: " + rootMessage(e), e);
    }
  }

  private static NDArray named(NDList out, String name, String graph) {
    NDArray a = out.get(name);
    if (a == null) {
      throw new IllegalStateException(graph + " returned no '" + name + "'");
    }
    return a;
  }

  /** A float input in the dtype the graph declares for it. */
  private static NDArray input(NDManager m, OnnxHeader h, String name, float[] data, Shape shape) {
    ValueInfo v = h.input(name);
    NDArray a = v != null && v.elemType() == OnnxHeader.FLOAT16 ? half(m, data, shape) : m.create(data, shape);
    a.setName(name);
    return a;
  }

  private static NDArray timestep(NDManager m, @Nullable ValueInfo v, double t, int batch) {
    int type = v == null ? OnnxHeader.FLOAT : v.elemType();
    Shape shape;
    int n;
    if (v == null || v.rank() == 0) {
      shape = new Shape();
      n = 1;
    } else {
      long d = v.dim(0);
      n = d > 0 ? (int) d : batch;
      shape = new Shape(n);
    }
    NDArray a;
    switch (type) {
      case OnnxHeader.INT64 -> {
        long[] l = new long[n];
        Arrays.fill(l, (long) t);
        a = m.create(l, shape);
      }
      case OnnxHeader.INT32 -> {
        int[] i = new int[n];
        Arrays.fill(i, (int) t);
        a = m.create(i, shape);
      }
      case OnnxHeader.FLOAT16 -> {
        float[] f = new float[n];
        Arrays.fill(f, (float) t);
        a = half(m, f, shape);
      }
      default -> {
        float[] f = new float[n];
        Arrays.fill(f, (float) t);
        a = m.create(f, shape);
      }
    }
    a.setName("timestep");
    return a;
  }

  private static NDArray half(NDManager m, float[] data, Shape shape) {
    ByteBuffer bb = ByteBuffer.allocateDirect(data.length * 2).order(ByteOrder.nativeOrder());
    ShortBuffer sb = bb.asShortBuffer();
    for (float f : data) {
      sb.put(Half.fromFloat(f));
    }
    return m.create(bb, shape, DataType.FLOAT16);
  }

  /** An output as float32, whatever its dtype. */
  static float[] floats(NDArray a) {
    DataType t = a.getDataType();
    if (t == DataType.FLOAT32) {
      return a.toFloatArray();
    }
    if (t == DataType.FLOAT16) {
      ByteBuffer bb = a.toByteBuffer();
      bb.order(ByteOrder.nativeOrder());
      ShortBuffer sb = bb.asShortBuffer();
      float[] f = new float[sb.remaining()];
      for (int i = 0; i < f.length; i++) {
        f[i] = Half.toFloat(sb.get(i));
      }
      return f;
    }
    if (t == DataType.FLOAT64) {
      double[] d = a.toDoubleArray();
      float[] f = new float[d.length];
      for (int i = 0; i < d.length; i++) {
        f[i] = (float) d[i];
      }
      return f;
    }
    throw new IllegalStateException("output '" + a.getName() + "' is " + t + ", expected a float type");
  }

  @Override
  public void close() {
    allConditioning.forEach(Conditioning::close);
    models.forEach(ZooModel::close);
  }
}
