/**
 * Spring AI's {@code ImageModel} backed by imagegen: {@link dev.imagegen.springai.ImagegenImageModel}
 * maps an {@code ImagePrompt} to an {@code ImageGenerationRequest}, generates with failover and
 * returns the images with the provider, model, cost and attempts in the response metadata.
 */
@NullMarked
package dev.imagegen.springai;

import org.jspecify.annotations.NullMarked;
