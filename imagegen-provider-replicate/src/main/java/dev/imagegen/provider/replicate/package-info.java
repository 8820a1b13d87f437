/**
 * The Replicate provider for imagegen: predictions on Replicate's HTTP API
 * (<a href="https://replicate.com/docs/reference/http">https://replicate.com/docs/reference/http</a>).
 * Only {@link dev.imagegen.provider.replicate.ReplicateProviderFactory} is public; the wire
 * protocol lives in package-private classes.
 */
@NullMarked
package dev.imagegen.provider.replicate;

import org.jspecify.annotations.NullMarked;
