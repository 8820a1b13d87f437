/**
 * The <a href="https://bfl.ai">Black Forest Labs</a> provider: FLUX.2 and FLUX.1 text to image and
 * FLUX.1 Kontext / FLUX.2 editing through BFL's submit-and-poll API
 * (<a href="https://docs.bfl.ai">docs.bfl.ai</a>). Only
 * {@link dev.imagegen.provider.bfl.BflProviderFactory} is public; it is found through
 * {@code META-INF/services}.
 */
@NullMarked
package dev.imagegen.provider.bfl;

import org.jspecify.annotations.NullMarked;
