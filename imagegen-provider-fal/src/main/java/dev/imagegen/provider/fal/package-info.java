/**
 * The <a href="https://fal.ai">fal.ai</a> provider: text to image and multi-image editing through
 * fal's queue API (<a href="https://docs.fal.ai/model-endpoints/queue">docs.fal.ai/model-endpoints/queue</a>),
 * with input images uploaded to fal's storage. Only {@link dev.imagegen.provider.fal.FalProviderFactory}
 * is public; it is found through {@code META-INF/services}.
 */
@NullMarked
package dev.imagegen.provider.fal;

import org.jspecify.annotations.NullMarked;
