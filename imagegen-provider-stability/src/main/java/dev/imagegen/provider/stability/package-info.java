/**
 * imagegen provider for Stability AI's REST API v2beta: the Stable Image generate endpoints
 * ({@code POST https://api.stability.ai/v2beta/stable-image/generate/ultra}, {@code /core},
 * {@code /sd3}) and inpainting ({@code /v2beta/stable-image/edit/inpaint}). Every call is
 * {@code multipart/form-data} and answers the image's raw bytes. Only
 * {@link dev.imagegen.provider.stability.StabilityProviderFactory} is public.
 *
 * @see <a href="https://platform.stability.ai/docs/api-reference">Stability AI REST API reference</a>
 */
@NullMarked
package dev.imagegen.provider.stability;

import org.jspecify.annotations.NullMarked;
