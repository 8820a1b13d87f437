/**
 * imagegen provider for Hugging Face Inference: text to image on HF's serverless fleet through the
 * router ({@code POST https://router.huggingface.co/hf-inference/models/{model}}) or on a dedicated
 * Inference Endpoint. The answer is the raw image bytes. Only
 * {@link dev.imagegen.provider.huggingface.HuggingFaceProviderFactory} is public.
 *
 * @see <a href="https://huggingface.co/docs/inference-providers/tasks/text-to-image">Hugging Face
 *     Inference Providers: text to image</a>
 * @see <a href="https://huggingface.co/docs/inference-providers/providers/hf-inference">HF Inference</a>
 */
@NullMarked
package dev.imagegen.provider.huggingface;

import org.jspecify.annotations.NullMarked;
