/**
 * Micrometer meters ({@link dev.imagegen.micrometer.ImagegenMetrics}) and observations
 * ({@link dev.imagegen.micrometer.ImagegenObservations}) for an
 * {@link dev.imagegen.ImageGenerationService}, built on {@link dev.imagegen.GenerationListener}.
 */
@NullMarked
package dev.imagegen.micrometer;

import org.jspecify.annotations.NullMarked;
