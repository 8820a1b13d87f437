/**
 * SDXL and SDXL-Turbo in process: the optimum ONNX export of each component run on DJL's ONNX
 * Runtime engine, with the CLIP tokenizers, the schedulers (Euler, Euler ancestral, DPM++ 2M
 * Karras), classifier-free guidance and PyTorch-compatible seeded noise in Java. Enabled by
 * configuring a model directory; see {@link dev.imagegen.local.djl.LocalSdxlProviderFactory}.
 *
 * @see <a href="https://docs.djl.ai/master/engines/onnxruntime/onnxruntime-engine/index.html">DJL's ONNX Runtime engine</a>
 * @see <a href="https://huggingface.co/docs/optimum/main/en/exporters/onnx/usage_guides/export_a_model">optimum's ONNX export</a>
 */
@NullMarked
package dev.imagegen.local.djl;

import org.jspecify.annotations.NullMarked;
