/**
 * imagegen's provider for <a href="https://docs.runpod.io/serverless/endpoints/operation-reference">RunPod
 * serverless endpoints</a>: jobs are submitted with {@code POST /{endpoint}/run}, polled with
 * {@code GET /{endpoint}/status/{id}}, cancelled with {@code POST /{endpoint}/cancel/{id}}, and the
 * endpoint's workers and queue are read with {@code GET /{endpoint}/health}. The only public type is
 * {@link dev.imagegen.provider.runpod.RunPodProviderFactory}; see the module's README for its
 * configuration keys.
 */
@NullMarked
package dev.imagegen.provider.runpod;

import org.jspecify.annotations.NullMarked;
