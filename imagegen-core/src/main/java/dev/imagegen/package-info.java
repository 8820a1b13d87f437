/**
 * The imagegen public API: build an {@link dev.imagegen.ImageGenerationService}, send {@link dev.imagegen.ImageGenerationRequest}s, read {@link dev.imagegen.ImageGenerationResponse}s. Every type here is immutable or thread-safe unless its Javadoc says otherwise.
 */
@NullMarked
package dev.imagegen;

import org.jspecify.annotations.NullMarked;
