package dev.imagegen.local.djl;

import ai.djl.Device;
import ai.djl.engine.Engine;
import java.io.IOException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses the device once (configured, or GPU when ONNX Runtime sees one) and loads graphs on it;
 * a GPU load that fails (no CUDA provider in the ONNX Runtime jar, missing CUDA 12 / cuDNN 9
 * libraries) is retried on CPU with a warning, and CPU is used from then on. Turns DJL's offline
 * mode on (unless the application set it) so that nothing is downloaded at run time.
 * Thread-safe.
 */
final class OnnxLoader implements GraphsLoader {
  private static final Logger LOG = LoggerFactory.getLogger(OnnxLoader.class);

  static {
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
  }

  private final LocalSdxlSettings settings;
  private @Nullable Device device;
  private String reason = "not chosen yet";

  OnnxLoader(LocalSdxlSettings settings) {
    this.settings = settings;
  }

  private synchronized Device chosen() throws IOException {
    if (device != null) {
      return device;
    }
    if (settings.device().equals("cpu")) {
      return use(Device.cpu(), "configured device=cpu");
    }
    int gpus;
    try {
      gpus = Engine.getEngine(OnnxGraphs.ENGINE).getGpuCount();
    } catch (RuntimeException | LinkageError e) {
      throw new IOException("the ONNX Runtime engine cannot start: " + OnnxGraphs.rootMessage(e), e);
    }
    if (settings.device().equals("gpu")) {
      if (gpus == 0) {
        LOG.warn("local-sdxl: device=gpu is configured but no CUDA device is visible; trying the GPU anyway");
      }
      return use(Device.gpu(), "configured device=gpu");
    }
    return gpus > 0 ? use(Device.gpu(), "auto: " + gpus + " CUDA device(s) visible")
        : use(Device.cpu(), "auto: no CUDA device visible (GPU needs the onnxruntime_gpu jar, CUDA 12 and cuDNN 9)");
  }

  private Device use(Device d, String why) {
    device = d;
    reason = why;
    LOG.info("local-sdxl: running on {} ({})", d.isGpu() ? "GPU" : "CPU", why);
    return d;
  }

  @Override
  public Graphs load(ModelDirectory.Spec spec) throws IOException {
    Device d = chosen();
    try {
      return OnnxGraphs.load(spec, d, settings.sessionOptions());
    } catch (IOException e) {
      if (!d.isGpu()) {
        throw e;
      }
      LOG.warn("local-sdxl: loading on the GPU failed ({}); falling back to CPU", e.getMessage());
      synchronized (this) {
        device = Device.cpu();
        reason = "GPU load failed, fell back: " + e.getMessage();
      }
      return OnnxGraphs.load(spec, Device.cpu(), settings.sessionOptions());
    }
  }

  @Override
  public synchronized String device() {
    return device == null ? "undecided" : (device.isGpu() ? "gpu" : "cpu") + " (" + reason + ")";
  }
}
